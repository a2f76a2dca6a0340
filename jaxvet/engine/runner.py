"""Vet many candidates with many checks: the batched driver behind ``jaxvet vet``.

:func:`vet` validates every option at the boundary, cuts the candidates into fixed-size chunks
(padded to a power of two, so every chunk of a campaign reuses the same compiled programs) and
the chunks into run segments.  Within a segment each check dispatches its batched ``compute``
on every chunk before the host waits (the checks in threads: one check's tracing and host
planning overlap another's device work), each check's results are copied to the host once, and
per-candidate :class:`~jaxvet.results.CheckResult` objects are formatted.  Checks that another
requires (V25 reads V08's and V09's trees) are dispatched first and handed over on the device.
A programmer error propagates; bad input raises :class:`~jaxvet.errors.JaxvetInputError`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet import detrending as dt
from jaxvet.checks import get_check, resolve_checks
from jaxvet.core.depth import sector_transit_depths
from jaxvet.data import Candidate, CandidateBatch, LightCurve, LightCurveBatch, bucket_size
from jaxvet.disposition import dispose_many, resolve_policy
from jaxvet.engine.chunks import ShapeLadder
from jaxvet.engine.context import RunCache, VetContext, to_host
from jaxvet.engine.signal import count_transits, no_transit_messages, signal_records
from jaxvet.errors import JaxvetInputError, NoTransitWarning
from jaxvet.outputs.report import VetReport
from jaxvet.results import CheckResult

__all__ = ["vet", "VetReport", "estimate_depths_ppm", "resolve_options", "resolve_threads", "run_contexts"]


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


def _progress(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="cand", file=sys.stderr, leave=False)


def _with_requirements(ids: list[str]) -> list[str]:
    """``ids`` plus the checks they require, each after its requirements (order kept)."""
    out: list[str] = []

    def add(cid: str, trail: tuple[str, ...]):
        if cid in out:
            return
        if cid in trail:
            raise RuntimeError(f"check requirements form a cycle: {' -> '.join((*trail, cid))}")
        for dep in get_check(cid).requires:
            add(dep, (*trail, cid))
        out.append(cid)

    for cid in ids:
        add(cid, ())
    return out


def resolve_options(ids: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """Every check's validated options, checked at the boundary before anything compiles.

    An options key that is not a check id, or a misspelled option name or a bad value, raises
    :class:`~jaxvet.errors.JaxvetInputError` naming it.
    """
    options = dict(options or {})
    for key in options:
        get_check(key)  # unknown ids raise UnknownCheckError naming the id
        if not isinstance(options[key], Mapping):
            raise JaxvetInputError(
                f"options[{key!r}] must be a mapping of option names, got {options[key]!r}"
            )
    options = {get_check(k).id: v for k, v in options.items()}  # "v11b" -> "V11b"
    return {cid: get_check(cid).resolve_options(options.get(cid)) for cid in ids}


@dataclass
class _Chunk:
    lo: int
    ctx: VetContext


def _chunks(lightcurves, lcb, candidates, li, lo, hi, chunk_size, pad, *, seed, tpfs, options,
            sector_measurements, cache, shapes) -> list[_Chunk]:
    out = []
    starts = range(lo, hi, chunk_size)
    # the segment's candidates, each chunk's rows from its offset on (the last one padded)
    last = starts[-1] - lo + max(pad, hi - starts[-1])
    segment = CandidateBatch.from_candidates(candidates[lo:hi], lc_index=li[lo:hi], pad_to=last)
    for a in starts:
        chunk = candidates[a : min(a + chunk_size, hi)]
        cb = CandidateBatch.from_candidates(
            chunk, lc_index=li[a : a + len(chunk)], pad_to=max(pad, len(chunk))
        )
        sm = None
        if sector_measurements:
            sm = {i - a: v for i, v in sector_measurements.items() if a <= i < a + len(chunk)}
        ctx = VetContext(
            lightcurves=lightcurves, lcb=lcb, candidates=chunk, cb=cb, seed=seed, tpfs=list(tpfs),
            options=options, sector_measurements=sm, candidate_ids=np.arange(a, a + len(chunk)),
            cache=cache, chunk_key=a, shapes=shapes, segment=segment, segment_offset=a - lo,
            segment_key=lo,
        )
        out.append(_Chunk(a, ctx))
    return out


def _run_segment(chunks: list[_Chunk], run_ids: list[str], opts: dict[str, Any], whole, n_threads: int):
    """Dispatch every chunk of every check, then copy each check's results to the host once.

    Returns ``{check_id: [per-chunk host trees]}`` and the per-chunk depth estimates (or None).
    A check's dispatch waits only for the dispatch of the checks it requires (their device
    trees are its ``ctx.products``), never for results on the host.
    """
    dispatched: dict[str, Any] = {}

    def dispatch(cid: str):
        spec = get_check(cid)
        deps = {d: dispatched[d].result() if n_threads > 1 else dispatched[d] for d in spec.requires}
        trees = []
        for k, ch in enumerate(chunks):
            ctx = dataclasses.replace(ch.ctx, products={d: deps[d][k] for d in spec.requires})
            trees.append(spec.dispatch(ctx, opts[cid]))
        return trees

    def depth():  # (B, 3): depth, error, in-transit points of the whole-light-curve estimate
        out = []
        for ch in chunks:
            sd = sector_transit_depths(whole, ch.ctx.cb)
            out.append(jnp.stack([sd.depth[:, 0], sd.err[:, 0], sd.n_in[:, 0].astype(sd.depth.dtype)], -1))
        return out

    if n_threads > 1:
        with ThreadPoolExecutor(min(n_threads, len(run_ids) + 1), thread_name_prefix="jaxvet-check") as pool:
            for cid in run_ids:
                dispatched[cid] = pool.submit(dispatch, cid)
            dep_future = pool.submit(depth) if whole is not None else None
            trees = {cid: f.result() for cid, f in dispatched.items()}
            depths = dep_future.result() if dep_future is not None else None
    else:
        for cid in run_ids:
            dispatched[cid] = dispatch(cid)
        trees = dict(dispatched)
        depths = depth() if whole is not None else None
    # one device -> host copy per check for the whole segment
    host = {cid: [to_host(t) for t in _copy_to_host(trees[cid])] for cid in run_ids}
    return host, (np.asarray(_copy_to_host(depths)) if depths is not None else None)


def run_contexts(contexts: Sequence[VetContext], ids: Sequence[str], opts: Mapping[str, Any],
                 threads: int | None = None) -> dict[str, list]:
    """Checks ``ids`` (with the checks they require) on prepared contexts as one run segment.

    Every context of every check is dispatched before the host waits; each check's trees come
    back in one device-to-host copy.  ``opts`` maps check ids to validated options (those
    missing are resolved from the contexts' options).  Returns ``{check_id: [host tree per
    context]}`` for the formatting step (``spec.finish``).  A campaign whose contexts carry their
    own stamps (``tpf_index``) runs its chunks through this, as :func:`vet` runs its segments.
    """
    run_ids = _with_requirements(list(ids))
    first = contexts[0].options if contexts else {}
    resolved = {**resolve_options(run_ids, first), **{k: v for k, v in opts.items() if k in run_ids}}
    chunks = [_Chunk(i, ctx) for i, ctx in enumerate(contexts)]
    host, _ = _run_segment(chunks, run_ids, resolved, None, resolve_threads(threads, len(run_ids)))
    return host


def _copy_to_host(trees: Any) -> Any:
    """The one device-to-host copy of a check's trees for a run segment."""
    return jax.device_get(trees)


def _masked_rows(lightcurves, candidates, li, mask, mask_others, mask_pad):
    """The run's light-curve rows with known transits masked (:mod:`jaxvet.masking`), the
    candidates' row indices and the report's ``masking`` record (None when nothing is masked)."""
    if mask is None and not mask_others:
        return lightcurves, li, None
    from jaxvet.masking import DEFAULT_MASK_PAD, mask_lightcurves

    masked = mask_lightcurves(
        lightcurves,
        candidates,
        li,
        mask,
        mask_others=bool(mask_others),
        pad=DEFAULT_MASK_PAD if mask_pad is None else mask_pad,
    )
    masking = {
        **masked.to_dict(),
        "mask_others": bool(mask_others),
        "candidates": [masked.candidate_record(i) for i in range(len(candidates))],
    }
    return masked.lightcurves, masked.lc_index, masking


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
    segment_size: int | None = None,
    progress: bool = False,
    estimate_depth: bool = True,
    threads: int | None = None,
    mask: Any = None,
    mask_others: bool = False,
    mask_pad: float | None = None,
    detrend: Any = None, variability_threshold: float | None = dt.DEFAULT_VARIABILITY_THRESHOLD,
    policy: Any = None,
) -> VetReport:
    """Run ``checks`` on every candidate; candidates are batched ``chunk_size`` at a time.

    ``lightcurves`` is one (stitched) light curve or a list; ``lc_index[b]`` says which one
    candidate ``b`` uses.  ``tpfs`` are pixel stamps for V08/V09/V25.  ``seed`` drives every
    bootstrap (same seed, same numbers).  ``options`` maps a check id to its options (validated
    before anything runs; a misspelled name is an error naming it).

    Execution: the run is cut into segments of ``segment_size`` candidates (default 16
    chunks); within a segment every chunk of every check is dispatched before the host waits,
    and each check's results come back in one device-to-host copy.  ``threads``: how many checks
    dispatch at once (default: every check and the depth estimate together;
    ``$JAXVET_THREADS`` overrides; 1 = one after the other); results do not depend on it.
    A programmer error in a check propagates; degenerate candidates get statuses and flags.

    Signal (:mod:`jaxvet.engine.signal`): with ``estimate_depth`` (default) every candidate's
    depth is measured on its whole light curve (the reference estimator; it fills ``depth_ppm``
    for candidates given without one) and recorded in ``report.signal[i]`` with its SNR and
    the number of transits on the data; flags ``NO_SIGNAL`` (depth <= 0 or SNR < 3) and
    ``NO_TRANSIT_ON_DATA``.  A candidate with no transit on the data also raises a
    :class:`~jaxvet.errors.NoTransitWarning`.

    Masking known transits (:mod:`jaxvet.masking`, docs/masking.md): ``mask`` is a list of
    ephemerides (:class:`~jaxvet.masking.TransitMask`, :class:`Candidate` or
    ``(period_days, t0_btjd, duration_hours)``) whose transits are removed from every light
    curve; ``mask_others=True`` also masks, for each candidate, every *other* candidate on the
    same light curve (its own transits are kept).  ``mask_pad`` (default 0.5) widens each masked
    window to ``(1 + mask_pad)`` durations.  Masked cadences are invalid for every check; the
    report's ``masking`` records the masks and, per candidate, which applied and how many
    valid cadences they removed.  Masks do not apply to pixel stamps (``tpfs``).
    ``detrend`` and ``variability_threshold``: :func:`jaxvet.detrending.detrend_step`.  ``policy``:
    the disposition policy (:func:`jaxvet.disposition.resolve_policy`), ``report.dispositions``.
    """
    if isinstance(lightcurves, LightCurve):
        lightcurves = [lightcurves]
    if isinstance(candidates, Candidate):
        candidates = [candidates]
    lightcurves, candidates = list(lightcurves), list(candidates)
    if not candidates:
        raise JaxvetInputError("no candidates to vet")
    ids = resolve_checks(checks)
    run_ids = _with_requirements(ids)
    opts = resolve_options(run_ids, options)
    policy = resolve_policy(policy)
    n = len(candidates)
    li = np.broadcast_to(np.asarray(lc_index, dtype=np.int64), (n,))
    if np.any(li < 0) or np.any(li >= len(lightcurves)):
        bad = int(li[(li < 0) | (li >= len(lightcurves))][0])
        raise JaxvetInputError(f"lc_index {bad} out of range for {len(lightcurves)} light curve(s)")
    if chunk_size < 1:
        raise JaxvetInputError(f"chunk_size must be >= 1, got {chunk_size}")
    segment_size = 16 * chunk_size if segment_size is None else int(segment_size)
    if segment_size < 1:
        raise JaxvetInputError(f"segment_size must be >= 1, got {segment_size}")
    segment_size = max(chunk_size, segment_size // chunk_size * chunk_size)
    n_threads = resolve_threads(threads, len(run_ids))  # checks + the depth estimate
    lightcurves, li, masking = _masked_rows(lightcurves, candidates, li, mask, mask_others, mask_pad)
    lightcurves, li, step = dt.detrend_step(lightcurves, candidates, li, detrend, variability_threshold)
    lcb = LightCurveBatch.from_lightcurves(lightcurves)
    cache = RunCache()
    shapes = ShapeLadder()  # the chunks of a run share their static sizes (fewer programs)
    depths: list[float | None] = [None] * n
    measured = np.full((n, 3), np.nan)  # whole-light-curve depth, error, in-transit points
    n_transits = count_transits(lightcurves, candidates, li)
    hint = "t0 and its time system" + ("" if masking is None else ", and whether a mask covers its transits")
    for msg in no_transit_messages(lightcurves, candidates, li, n_transits, t0_hint=hint):
        warnings.warn(msg, NoTransitWarning, stacklevel=2)
    results: list[dict[str, CheckResult]] = [dict() for _ in range(n)]
    bar = _progress(progress, n, "vetting")
    pad = bucket_size(min(chunk_size, n), 8)
    for seg_lo in range(0, n, segment_size):
        seg_hi = min(n, seg_lo + segment_size)
        chunks = _chunks(lightcurves, lcb, candidates, li, seg_lo, seg_hi, chunk_size, pad, seed=seed,
                         tpfs=tpfs, options=dict(options or {}), sector_measurements=sector_measurements,
                         cache=cache, shapes=shapes)
        whole = cache.get(("whole_lightcurve_batch",), lambda: whole_lightcurve_batch(lightcurves, lcb)) \
            if estimate_depth else None
        host, est = _run_segment(chunks, run_ids, opts, whole, n_threads)
        for k, ch in enumerate(chunks):
            m = len(ch.ctx.candidates)
            for cid in ids:
                spec = get_check(cid)
                for j, r in enumerate(spec.finish(ch.ctx, host[cid][k], opts[cid])[:m]):
                    results[ch.lo + j][cid] = r
            if est is not None:
                measured[ch.lo : ch.lo + m] = est[k][:m]
                for j, c in enumerate(ch.ctx.candidates):
                    if c.depth_ppm is None:
                        depths[ch.lo + j] = float(est[k][j, 0] * 1e6)
        if bar is not None:
            bar.update(seg_hi - seg_lo)
    if bar is not None:
        bar.close()
    signal = signal_records(*measured.T, n_transits) if estimate_depth else None
    report = VetReport(candidates=candidates, checks=ids, results=results, depth_estimates_ppm=depths,
                       masking=masking, signal=signal, **step.report(lcb, candidates, li, results))
    report.dispositions = dispose_many(results, [report.flags(i) for i in range(n)], policy)
    return report
