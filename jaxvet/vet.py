"""Vet many candidates with many checks: the batched driver behind ``jaxvet vet``.

:func:`vet` splits the candidates into fixed-size chunks (padded to a power of two, so every
chunk of a campaign reuses the same compiled programs), runs each check's batched ``compute``
once per chunk (the checks of a chunk in threads: they are independent programs, so one check's
tracing and compilation overlap another's execution), and formats per-candidate
:class:`~jaxvet.results.CheckResult` objects.  A check
that raises on a chunk gives ``status="error"`` results for that chunk (``ERROR:<Exception>``,
as the reference does) instead of aborting the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import __version__
from .checks import get_check, resolve_checks
from .checks.base import VetContext
from .data import Candidate, CandidateBatch, LightCurve, LightCurveBatch, bucket_size
from .depth import sector_transit_depths
from .errors import JaxvetInputError
from .results import CheckResult, error_result, to_jsonable

__all__ = ["vet", "VetReport", "estimate_depths_ppm"]


@dataclass
class VetReport:
    """Results of a vetting run: ``results[i][check_id]`` for candidate ``i``."""

    candidates: list[Candidate]
    checks: list[str]
    results: list[dict[str, CheckResult]]
    depth_estimates_ppm: list[float | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, i: int) -> dict[str, CheckResult]:
        return self.results[i]

    def to_dict(self, include_raw: bool = True) -> dict[str, Any]:
        out = []
        for i, (c, res) in enumerate(zip(self.candidates, self.results, strict=True)):
            depth = (
                c.depth_ppm
                if c.depth_ppm is not None
                else (self.depth_estimates_ppm[i] if i < len(self.depth_estimates_ppm) else None)
            )
            out.append(
                {
                    "id": c.id if c.id is not None else str(i),
                    "period_days": c.period_days,
                    "t0_btjd": c.t0_btjd,
                    "duration_hours": c.duration_hours,
                    "depth_ppm": depth,
                    "checks": {cid: r.to_dict(include_raw=include_raw) for cid, r in res.items()},
                }
            )
        return to_jsonable({"jaxvet_version": __version__, "checks": self.checks, "candidates": out})

    def to_json(self, include_raw: bool = True, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(include_raw), indent=indent, allow_nan=False)

    def summary_table(self):
        """An astropy Table: one row per candidate, status/verdict per check."""
        from astropy.table import Table

        rows = []
        for c, res in zip(self.candidates, self.results, strict=True):
            row = {"id": c.id or "", "period_days": c.period_days, "duration_hours": c.duration_hours}
            for cid in self.checks:
                r = res.get(cid)
                row[f"{cid}_status"] = r.status if r else ""
                row[f"{cid}_verdict"] = (r.verdict or "") if r else ""
            rows.append(row)
        return Table(rows=rows)


def whole_lightcurve_batch(lightcurves: Sequence[LightCurve], like: LightCurveBatch) -> LightCurveBatch:
    """The light curves as one "sector" each, padded like ``like`` (so kernels are reused)."""
    whole = [dataclasses.replace(lc, sector=np.zeros(len(lc), np.int32)) for lc in lightcurves]
    return LightCurveBatch.from_lightcurves(
        whole, n_points=like.n_points, n_sectors=like.sector_ids.shape[1], n_segments=like.seg_lo.shape[1]
    )


def estimate_depths_ppm(
    lc: LightCurve, candidates: Sequence[Candidate], chunk_size: int = 1024
) -> np.ndarray:
    """The tutorial's depth estimate on the whole light curve (reference estimator, buffers 1/3)."""
    lcb = LightCurveBatch.from_lightcurves([lc])
    whole = whole_lightcurve_batch([lc], lcb)
    out = np.zeros(len(candidates))
    pad = bucket_size(min(chunk_size, len(candidates)), 8)
    for lo in range(0, len(candidates), chunk_size):
        chunk = list(candidates[lo : lo + chunk_size])
        cb = CandidateBatch.from_candidates(chunk, pad_to=max(pad, len(chunk)))
        sd = sector_transit_depths(whole, cb)
        out[lo : lo + len(chunk)] = np.asarray(sd.depth)[: len(chunk), 0] * 1e6
    return out


def resolve_threads(threads: int | None, n_checks: int) -> int:
    """How many checks run at once: ``threads``, else ``$JAXVET_THREADS``, else all of them
    (``n_checks + 1``: the checks and the depth estimate)."""
    if threads is None:
        env = os.environ.get("JAXVET_THREADS", "")
        try:
            threads = int(env) if env else n_checks + 1
        except ValueError:
            raise JaxvetInputError(f"JAXVET_THREADS must be an integer, got {env!r}") from None
    if threads < 1:
        raise JaxvetInputError(f"threads must be >= 1, got {threads}")
    return int(threads)


def _run_check(cid: str, ctx: VetContext) -> list[CheckResult]:
    """One check on one chunk; a failing check gives error results, never aborts the run."""
    spec = get_check(cid)
    try:
        return spec.run(ctx)
    except JaxvetInputError:
        raise
    except Exception as exc:
        name = type(exc).__name__
        return [error_result(spec.id, spec.name, name, notes=[str(exc)]) for _ in ctx.candidates]


def _progress(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="cand", file=sys.stderr, leave=False)


def vet(
    lightcurves: LightCurve | Sequence[LightCurve],
    candidates: Candidate | Sequence[Candidate],
    checks: str | Sequence[str] | None = "all",
    *,
    lc_index: Sequence[int] | int = 0,
    tpfs: Sequence[Any] = (),
    seed: int = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    sector_measurements: Mapping[int, list[dict]] | None = None,
    chunk_size: int = 1024,
    progress: bool = False,
    estimate_depth: bool = True,
    threads: int | None = None,
) -> VetReport:
    """Run ``checks`` on every candidate; candidates are batched ``chunk_size`` at a time.

    ``lightcurves`` is one (stitched) light curve or a list; ``lc_index[b]`` says which one
    candidate ``b`` uses.  ``tpfs`` are pixel stamps for V08/V09/V25.  ``seed`` drives every
    bootstrap (same seed, same numbers).  ``threads``: how many checks of a chunk run at once
    (default: every check and the depth estimate together; ``$JAXVET_THREADS`` overrides;
    1 = one after the other).  Checks are
    independent programs, so running them together overlaps one check's tracing, compilation
    and host work with another's device work; results do not depend on it.
    """
    if isinstance(lightcurves, LightCurve):
        lightcurves = [lightcurves]
    if isinstance(candidates, Candidate):
        candidates = [candidates]
    lightcurves, candidates = list(lightcurves), list(candidates)
    if not candidates:
        raise JaxvetInputError("no candidates to vet")
    ids = resolve_checks(checks)
    n = len(candidates)
    li = np.broadcast_to(np.asarray(lc_index, dtype=np.int64), (n,))
    if np.any(li < 0) or np.any(li >= len(lightcurves)):
        bad = int(li[(li < 0) | (li >= len(lightcurves))][0])
        raise JaxvetInputError(f"lc_index {bad} out of range for {len(lightcurves)} light curve(s)")
    if chunk_size < 1:
        raise JaxvetInputError(f"chunk_size must be >= 1, got {chunk_size}")
    n_threads = resolve_threads(threads, len(ids))  # checks + the depth estimate
    lcb = LightCurveBatch.from_lightcurves(lightcurves)
    whole = whole_lightcurve_batch(lightcurves, lcb) if estimate_depth else None
    depths: list[float | None] = [None] * n
    results: list[dict[str, CheckResult]] = [dict() for _ in range(n)]
    bar = _progress(progress, n, "vetting")
    pad = bucket_size(min(chunk_size, n), 8)
    for lo in range(0, n, chunk_size):
        chunk = candidates[lo : lo + chunk_size]
        cb = CandidateBatch.from_candidates(
            chunk, lc_index=li[lo : lo + len(chunk)], pad_to=max(pad, len(chunk))
        )
        sm = None
        if sector_measurements:
            sm = {i - lo: v for i, v in sector_measurements.items() if lo <= i < lo + len(chunk)}
        ctx = VetContext(
            lightcurves=lightcurves,
            lcb=lcb,
            candidates=chunk,
            cb=cb,
            seed=seed,
            tpfs=list(tpfs),
            options=dict(options or {}),
            sector_measurements=sm,
            candidate_ids=np.arange(lo, lo + len(chunk)),
        )
        # the checks (and the depth estimate) of a chunk are independent programs
        tasks = [lambda cid=cid, ctx=ctx: _run_check(cid, ctx) for cid in ids]
        need_depth = whole is not None and any(c.depth_ppm is None for c in chunk)
        if need_depth:
            tasks.append(lambda cb=cb: np.asarray(sector_transit_depths(whole, cb).depth))
        if n_threads > 1:
            with ThreadPoolExecutor(min(n_threads, len(tasks)), thread_name_prefix="jaxvet-check") as pool:
                done = list(pool.map(lambda task: task(), tasks))
        else:
            done = [task() for task in tasks]
        for cid, chunk_results in zip(ids, done, strict=False):
            for j, r in enumerate(chunk_results[: len(chunk)]):
                results[lo + j][cid] = r
        if need_depth:
            est = done[-1][: len(chunk), 0] * 1e6
            for j, c in enumerate(chunk):
                if c.depth_ppm is None:
                    depths[lo + j] = float(est[j])
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return VetReport(candidates=candidates, checks=ids, results=results, depth_estimates_ppm=depths)
