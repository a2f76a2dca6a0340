"""The context a vetting run passes every check, the per-run cache, and the check contract.

A check module ``jaxvet/checks/vNN_<name>.py`` defines a module-level ``SPEC = CheckSpec(...)``:

* ``options``: a :class:`~jaxvet.engine.options.CheckOptions` subclass (typed, validated;
  unknown names rejected).  The engine validates every check's options once, at the boundary,
  before anything is compiled, and passes the instance on.
* ``compute(ctx, opts) -> pytree``: the batched, jitted numerics for *all* candidates of
  ``ctx`` (one chunk) at once.  Every leaf has leading axis B (``len(ctx.candidates)`` or the
  padded chunk size), and the tree holds at least ``status`` (int codes,
  :data:`jaxvet.results.STATUS_CODES`), ``verdict`` (:data:`jaxvet.results.VERDICT_CODES`,
  -1 = none) and every name in ``summary_metrics``.  It returns device arrays without waiting
  for them, so the engine can dispatch every chunk of a run before the host blocks; it runs in
  bounded memory (:mod:`jaxvet.engine.chunks`) and never raises for degenerate data.
* ``format(ctx, opts, arrays) -> list[CheckResult]``: host-side formatting into the
  reference's result contract (rounding, warnings, flags, ``raw``/``plot_data``), one per
  candidate, from the host copy of ``compute``'s tree.
* ``requires``: ids of checks whose ``compute`` trees this check reads from
  ``ctx.products`` (V25 reads V08's and V09's); the engine runs those first.
* ``summary_metrics``: scalar metrics a campaign stores per injection (float columns).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.ephemeris import duration_too_long
from jaxvet.data import Candidate, CandidateBatch, LightCurve, LightCurveBatch
from jaxvet.engine.chunks import ShapeLadder
from jaxvet.engine.options import CheckOptions
from jaxvet.errors import JaxvetInputError
from jaxvet.results import INSUFFICIENT, VERDICT_NONE, CheckResult

__all__ = ["CheckSpec", "VetContext", "RunCache", "to_host", "guard_tree", "guard_results"]


class RunCache:
    """Products shared by the checks of one run (epoch tables, prepared pixel stamps, plans).

    ``get(key, make)`` returns the value stored under ``key``, computing it with ``make()``
    the first time.  Each key has its own lock, so a second thread asking for a product that
    is being built waits for it (V04 waits for the epoch table V01 is building) while other
    keys proceed.  A cache lives exactly as long as its run (one :func:`~jaxvet.vet` call or
    campaign), so nothing is keyed on object identity and nothing outlives the run.
    """

    def __init__(self):
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._guard:
            if key in self._values:
                return self._values[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]
            value = make()
            with self._guard:
                self._values[key] = value
            return value

    def __contains__(self, key: Hashable) -> bool:
        with self._guard:
            return key in self._values

    def __len__(self) -> int:
        return len(self._values)


@dataclass
class VetContext:
    """Everything a check may read: light curves (host and device), candidates, stamps, seed.

    ``lightcurves[i]`` is the stitched host light curve of row ``i`` of ``lcb``; candidate ``b``
    is vetted against row ``candidates_lc_index[b]``.  ``tpfs`` lists pixel stamps
    (:class:`jaxvet.pixels.TPFStamp`) for the single target of a CLI run (V08/V09/V25).
    ``options`` maps a check id to keyword options (e.g. ``{"V05": {"n_bootstrap": 1000}}``).
    ``cache`` holds the run's shared products (:class:`RunCache`; ``ctx.cached``), and
    ``products`` the ``compute`` trees of the checks this one requires.
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
    #: which of ``tpfs`` each candidate is vetted on: (B, S) stamp indices (or (B,): one each);
    #: None pairs every candidate with every stamp (a pixel campaign gives each its own)
    tpf_index: Any = None
    #: per-run products (shared by the chunks and checks of one run)
    cache: RunCache = field(default_factory=RunCache)
    #: this chunk's key in ``cache`` (the engine numbers the chunks of a run)
    chunk_key: Hashable = 0
    #: ``compute`` trees of the checks this one ``requires``, by check id (this chunk)
    products: Mapping[str, Any] = field(default_factory=dict)
    #: static sizes that only grow (:class:`~jaxvet.engine.chunks.ShapeLadder`); share one
    #: between contexts to reuse their compiled programs
    shapes: ShapeLadder = field(default_factory=ShapeLadder)
    #: the candidates of this chunk's run segment (every chunk of it, in order, against the same
    #: ``lcb``) and this chunk's first row in them; None: the chunk is its own segment.  A product
    #: planned once per segment (V01/V04's epoch table, :meth:`segment_cached`) reads it
    segment: CandidateBatch | None = None
    segment_offset: int = 0
    #: the segment's key in ``cache`` (the engine numbers the segments of a run)
    segment_key: Hashable = None

    def cached(self, name: str, make: Callable[[], Any], *, per_chunk: bool = True) -> Any:
        """``make()`` once per run (``per_chunk=False``) or once per chunk of the run."""
        key = (name, self.chunk_key) if per_chunk else (name,)
        return self.cache.get(key, make)

    def segment_cached(self, name: str, make: Callable[[CandidateBatch], Any]) -> tuple[Any, int]:
        """``(make(segment candidates), this chunk's first row in them)``, made once per run
        segment (``make`` sees the whole segment's :class:`CandidateBatch`); without a segment,
        ``make(self.cb)`` once per chunk and row 0."""
        if self.segment is None:
            return self.cached(name, lambda: make(self.cb)), 0
        key = (name, "segment", self.segment_key)
        return self.cache.get(key, lambda: make(self.segment)), int(self.segment_offset)

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

    def ephemeris_columns(self) -> tuple[np.ndarray, list, list, list]:
        """The chunk's real candidates as host columns: light-curve row, period (days), t0
        (BTJD) and duration (hours), the values exactly as the user gave them."""
        cands = self.candidates
        return (
            self.candidates_lc_index,
            [c.period_days for c in cands],
            [c.t0_btjd for c in cands],
            [c.duration_hours for c in cands],
        )

    def flux_order(self):
        """:func:`jaxvet.core.order_stats.sort_rows_by_flux` of the light curves with their
        time and flux error, once per run."""
        from jaxvet.core.order_stats import sort_rows_by_flux

        lcb = self.lcb
        return self.cached(
            "flux_order_time_err",
            lambda: sort_rows_by_flux(lcb.flux, lcb.mask, lcb.time, lcb.flux_err),
            per_chunk=False,
        )

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
    """One check: its id, typed options, batched ``compute`` and host ``format`` (see module)."""

    id: str
    name: str
    compute: Callable[..., Any]
    format: Callable[..., list[CheckResult]]
    options: type[CheckOptions] | None = None
    summary_metrics: tuple[str, ...] = ()
    needs_tpf: bool = False
    requires: tuple[str, ...] = ()
    description: str = ""

    def resolve_options(self, values: Mapping[str, Any] | CheckOptions | None = None):
        """This check's validated options from a user mapping (unknown names are errors);
        None for a check without options."""
        return None if self.options is None else self.options.from_mapping(values)

    def _opts(self, ctx: VetContext, opts):
        return self.resolve_options(ctx.options.get(self.id)) if opts is None else opts

    def dispatch(self, ctx: VetContext, opts=None) -> Any:
        """``compute`` on one chunk: device arrays, not yet waited for, with the duration
        guard applied (:func:`guard_tree`)."""
        return guard_tree(self.compute(ctx, self._opts(ctx, opts)), ctx.cb)

    def finish(self, ctx: VetContext, host: Any, opts=None) -> list[CheckResult]:
        """``format`` on the host copy of one chunk's ``compute`` tree, then the duration
        guard's flag and note on the candidates it marks (:func:`guard_results`)."""
        return guard_results(self.format(ctx, self._opts(ctx, opts), host), host)

    def run(self, ctx: VetContext, opts=None) -> list[CheckResult]:
        """Compute and format one context (one chunk) in one call."""
        opts = self._opts(ctx, opts)
        return self.finish(ctx, to_host(self.dispatch(ctx, opts)), opts)


#: flag and note of a candidate whose duration is at least half its period
DURATION_FLAG = "DURATION_TOO_LONG"
DURATION_NOTE = "duration_too_long_relative_to_period"


def guard_tree(tree: Any, cb) -> Any:
    """Mark the candidates with ``D >= P/2`` in a check's ``compute`` tree, on the device.

    Adds the leaf ``duration_too_long`` (bool, same rows as ``status``) and turns every verdict
    of those candidates into ``insufficient`` (a check without a verdict keeps none), so
    campaign rows, which read the tree, and results agree.  The rest of the batch is untouched.
    """
    if not isinstance(tree, Mapping) or "status" not in tree:
        raise TypeError("a check's compute() must return a mapping holding 'status' and 'verdict'")
    rows = np.shape(tree["status"])[0]
    guard = duration_too_long(cb.period, cb.duration)[:rows]
    out = dict(tree, duration_too_long=guard)
    if "verdict" in tree:
        v = jnp.asarray(tree["verdict"])
        out["verdict"] = jnp.where(guard & (v != VERDICT_NONE), INSUFFICIENT, v).astype(v.dtype)
    return out


def guard_results(results: list[CheckResult], host: Mapping[str, Any]) -> list[CheckResult]:
    """The guard's flag ``DURATION_TOO_LONG``, note and verdict on each marked candidate."""
    guard = np.asarray(host.get("duration_too_long", ()), bool)
    for i in np.flatnonzero(guard[: len(results)]):
        r = results[int(i)]
        if r.status != "ok":
            continue
        if DURATION_FLAG not in r.flags:
            r.flags.append(DURATION_FLAG)
        if DURATION_NOTE not in r.notes:
            r.notes.append(DURATION_NOTE)
        if r.verdict is not None:
            r.verdict = "insufficient"
            r.confidence = None if r.confidence is None else min(float(r.confidence), 0.2)
    return results


def to_host(tree: Any) -> Any:
    """One device-to-host copy of a ``compute`` tree.

    Device leaves become numpy arrays; of a top-level dict, scalar entries become 0-d arrays
    and host-side entries (lists, dicts, strings) are kept as they are.
    """
    host = jax.device_get(tree)
    if isinstance(host, dict):
        return {k: v if isinstance(v, (list, dict, str, bytes)) else np.asarray(v) for k, v in host.items()}
    return host
