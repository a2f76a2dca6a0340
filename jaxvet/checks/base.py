"""The contract every check module implements, and the context a vetting run passes it.

A check module ``jaxvet/checks/vNN_<name>.py`` defines a module-level ``SPEC = CheckSpec(...)``:

* ``compute(ctx) -> dict[str, array]``: the batched, jitted numerics for *all* candidates of
  ``ctx`` at once.  Every array has leading axis B (= ``len(ctx.candidates)``) and the dict
  holds at least ``status`` (int codes, :data:`jaxvet.results.STATUS_CODES`), ``verdict``
  (:data:`jaxvet.results.VERDICT_CODES`, -1 = none) and every name in ``summary_metrics``.
  It must run in bounded memory (split candidates into sub-batches when an intermediate would
  exceed ~2**24 elements per array) and must never raise for degenerate data.
* ``format(ctx, arrays) -> list[CheckResult]``: host-side formatting into the reference's
  result contract (rounding, warnings, flags, ``raw``/``plot_data``), one per candidate.
* ``summary_metrics``: scalar metrics a campaign stores per injection (float columns).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import Candidate, CandidateBatch, LightCurve, LightCurveBatch
from ..errors import JaxvetInputError
from ..results import CheckResult

__all__ = ["CheckSpec", "VetContext"]


@dataclass
class VetContext:
    """Everything a check may read: light curves (host and device), candidates, stamps, seed.

    ``lightcurves[i]`` is the stitched host light curve of row ``i`` of ``lcb``; candidate ``b``
    is vetted against row ``candidates_lc_index[b]``.  ``tpfs`` lists pixel stamps
    (:class:`jaxvet.pixels.TPFStamp`) for the single target of a CLI run (V08/V09/V25).
    ``options`` maps a check id to keyword options (e.g. ``{"V05": {"n_bootstrap": 1000}}``).
    ``sector_measurements`` optionally maps a candidate index to user-supplied V21 rows
    (dicts with ``sector``, ``depth_ppm``, ``depth_err_ppm``).  ``candidate_ids`` are the
    candidates' run-wide numbers (their position in the whole run, or injection ids): random
    keys derive from ``(seed, id)``, so a candidate's bootstrap does not depend on the chunk
    it was vetted in (default ``0 .. n-1``).
    """

    lightcurves: Sequence[LightCurve]
    lcb: LightCurveBatch
    candidates: Sequence[Candidate]
    cb: CandidateBatch
    seed: int = 0
    tpfs: Sequence[Any] = ()
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sector_measurements: Mapping[int, list[dict]] | None = None
    candidate_ids: Sequence[int] | None = None

    def key_ids(self, size: int | None = None) -> np.ndarray:
        """Run-wide ids of the first ``size`` (default: all) batch slots, for random keys.

        Slots beyond the real candidates (padding) get ids after the largest real one.
        """
        n = self.n_candidates
        size = n if size is None else int(size)
        ids = (
            np.arange(n, dtype=np.int64)
            if self.candidate_ids is None
            else np.asarray(self.candidate_ids, np.int64)
        )
        if ids.shape != (n,):
            raise JaxvetInputError(
                f"candidate_ids must have one id per candidate ({n}), got shape {ids.shape}"
            )
        extra = np.arange(max(size - n, 0), dtype=np.int64) + (int(ids.max()) + 1 if n else 0)
        return np.concatenate([ids, extra])[:size]

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    @property
    def candidates_lc_index(self) -> np.ndarray:
        return np.asarray(self.cb.lc_index)[: self.n_candidates]

    def opts(self, check_id: str) -> dict[str, Any]:
        return dict(self.options.get(check_id, {}))

    def checked_opts(self, check_id: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """``defaults`` updated with the user's options for ``check_id``; unknown names are rejected."""
        opts = dict(defaults)
        user = self.opts(check_id)
        unknown = set(user) - set(opts)
        if unknown:
            raise JaxvetInputError(f"unknown {check_id} option(s) {sorted(unknown)}; known: {sorted(opts)}")
        opts.update(user)
        return opts

    @classmethod
    def build(
        cls,
        lightcurves: Sequence[LightCurve] | LightCurve,
        candidates: Sequence[Candidate],
        lc_index: Sequence[int] | int = 0,
        **kwargs,
    ) -> VetContext:
        if isinstance(lightcurves, LightCurve):
            lightcurves = [lightcurves]
        lcb = LightCurveBatch.from_lightcurves(lightcurves)
        cb = CandidateBatch.from_candidates(candidates, lc_index=lc_index)
        return cls(lightcurves=list(lightcurves), lcb=lcb, candidates=list(candidates), cb=cb, **kwargs)


@dataclass(frozen=True)
class CheckSpec:
    id: str
    name: str
    compute: Callable[[VetContext], dict[str, Any]]
    format: Callable[[VetContext, dict[str, Any]], list[CheckResult]]
    summary_metrics: tuple[str, ...] = ()
    needs_tpf: bool = False
    description: str = ""

    def run(self, ctx: VetContext) -> list[CheckResult]:
        arrays = self.compute(ctx)
        host = {k: np.asarray(v) if not isinstance(v, (list, dict)) else v for k, v in arrays.items()}
        return self.format(ctx, host)
