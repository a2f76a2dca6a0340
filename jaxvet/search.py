"""A batched box least squares (BLS) search: light curves x trial periods x durations in one program.

:func:`box_search` runs the kernel :func:`jaxvet.core.box_search.box_search_grid` (the binned-phase
BLS of astropy's ``BoxLeastSquares`` fast method, see that module) on one or several light
curves and returns every periodogram and its strongest peak.  Rows and periods are cut into
chunks under the engine's element budget (:func:`jaxvet.engine.chunks.element_budget`), so
memory stays bounded for any grid.  Campaigns use :func:`search_rows` on device batches (the
false-alarm kinds of docs/campaigns.md).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.box_search import OBJECTIVES, box_search_grid, box_search_peak, search_bins
from jaxvet.data import LightCurve, LightCurveBatch, bucket_size
from jaxvet.engine.chunks import element_budget, map_rows, prev_pow2
from jaxvet.errors import JaxvetInputError

__all__ = ["BoxSearchResult", "box_search", "period_grid", "search_rows", "search_chunks"]

#: default trial durations [days] of :func:`box_search` (1, 2, 4 and 8 hours)
DEFAULT_DURATIONS = (1 / 24, 2 / 24, 4 / 24, 8 / 24)
#: fraction of the element budget one (rows x periods x durations x bins) intermediate may use
_SCALE = 0.25


def period_grid(baseline, min_period, max_period, min_duration, *, frequency_factor=1.0, max_periods=None):
    """Trial periods [d] from ``max_period`` down to ``min_period``, uniform in frequency with
    (about) astropy ``autoperiod``'s spacing ``df = frequency_factor * min_duration / baseline**2``
    (rounded so that both ends are on the grid); with ``max_periods`` the grid is coarsened to
    at most that many periods."""
    if not (0 < min_period <= max_period):
        raise JaxvetInputError(f"period range must satisfy 0 < min <= max, got {min_period}, {max_period}")
    if not (baseline > 0 and min_duration > 0 and frequency_factor > 0):
        raise JaxvetInputError(
            f"baseline, min_duration and frequency_factor must be > 0, got {baseline}, {min_duration}, "
            f"{frequency_factor}"
        )
    f_lo, f_hi = 1.0 / max_period, 1.0 / min_period
    df = frequency_factor * min_duration / baseline**2
    nf = 1 + int(round((f_hi - f_lo) / df))
    if max_periods is not None:
        nf = min(nf, max(int(max_periods), 1))
    if nf == 1:
        return np.array([float(max_period)])
    return 1.0 / np.linspace(f_lo, f_hi, nf)


def search_chunks(n_rows: int, n_points: int, n_periods: int, n_bins: int) -> tuple[int, int]:
    """(rows per chunk, periods per chunk), powers of two, under the element budget."""
    per = max(3 * n_points, 8 * n_bins)  # elements of the largest intermediates per (row, period)
    budget = element_budget() * _SCALE
    rows = max(1, min(bucket_size(n_rows, 1), prev_pow2(int(budget // per))))
    pc = max(1, prev_pow2(int(budget // (per * rows))))
    pc = min(pc, 1 << (max(n_periods, 1) - 1).bit_length())
    return rows, pc


def used_points(n_valid_max: int, n: int) -> int:
    """Columns a search reads from rows of ``n`` padded points whose valid points come first:
    the most valid points rounded up to a multiple of 512 (fewer distinct shapes)."""
    return min(int(n), -(-max(int(n_valid_max), 1) // 512) * 512)


def search_rows(
    time, flux, ivar, mask, periods, durations, *, oversample=10, objective="likelihood", n_points=None
):
    """Strongest BLS peak of every row of the device arrays ``(K, N)``: a dict of (K,) arrays
    (``period``, ``t0``, ``duration`` [d], ``depth``, ``depth_err``, ``depth_snr``, ``power``,
    ``log_likelihood``, ``period_index``), computed in chunks under the element budget.
    ``n_points``: only the first ``n_points`` columns hold valid points (padded batches pack
    them first), so only those are searched."""
    periods = np.asarray(periods, np.float64)
    durations = np.asarray(durations, np.float64)
    if n_points is not None:
        time, flux, ivar, mask = (a[:, : int(n_points)] for a in (time, flux, ivar, mask))
    return _search((time, flux, ivar, mask), periods, durations, oversample, objective, peak_only=True)


def _search(arrays, periods, durations, oversample, objective, *, peak_only: bool):
    """The periodograms (or only their peaks) of the rows ``arrays = (time, flux, ivar, mask)``."""
    bw, n_bins, dur_bins = search_bins(periods.max(), durations, oversample)
    k, n = arrays[0].shape
    rows, pc = search_chunks(k, n, periods.size, n_bins + max(dur_bins))
    p_d = jnp.asarray(periods)

    def fn(a):
        g = box_search_grid(
            *a[:3],
            p_d,
            bw,
            where=a[3],
            n_bins=n_bins,
            dur_bins=dur_bins,
            period_chunk=pc,
            objective=objective,
        )
        return box_search_peak(g, p_d) if peak_only else g

    return map_rows(fn, arrays, k, rows)


@dataclasses.dataclass
class BoxSearchResult:
    """Periodograms (``(L, P)`` host arrays, one row per light curve) and their peaks (``(L,)``).

    ``period``, ``t0`` (BTJD), ``duration`` [d], ``depth`` (fraction), ``depth_snr`` and
    ``power`` describe each light curve's strongest peak; ``periods`` is the trial grid.
    """

    periods: np.ndarray
    durations: np.ndarray
    objective: str
    power: np.ndarray
    depth: np.ndarray
    depth_snr: np.ndarray
    peak: dict

    def __getitem__(self, name):
        return self.peak[name]


def _validate(periods, durations, oversample, objective):
    if objective not in OBJECTIVES:
        raise JaxvetInputError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if int(oversample) < 1:
        raise JaxvetInputError(f"oversample must be >= 1, got {oversample!r}")
    for name, a in (("periods", periods), ("durations", durations)):
        if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise JaxvetInputError(f"{name} must be a non-empty 1-D array of positive numbers, got {a!r}")
    if durations.max() >= periods.min():
        raise JaxvetInputError(
            f"the longest duration ({durations.max()} d) must be shorter than the shortest period "
            f"({periods.min()} d)"
        )


def box_search(
    lc,
    periods=None,
    durations=DEFAULT_DURATIONS,
    *,
    min_period=None,
    max_period=None,
    frequency_factor=1.0,
    oversample=10,
    objective="likelihood",
    use_errors=True,
) -> BoxSearchResult:
    """BLS periodograms of one or several light curves in one batched program.

    Parameters
    ----------
    lc : a host :class:`~jaxvet.data.LightCurve` or a list of them (searched as rows of one batch).
    periods : trial periods [d]; default :func:`period_grid` over ``[min_period, max_period]``
        (default ``2 max(durations)`` to half the longest baseline) with astropy's spacing.
    durations : trial box durations [d] (default 1, 2, 4, 8 h).
    oversample : phase bins per shortest duration (astropy's ``oversample``, default 10).
    objective : ``"likelihood"`` (astropy's default) or ``"snr"``.
    use_errors : weight by ``1 / flux_err**2`` (astropy's ``dy``); False weighs points equally.
    """
    lcs = [lc] if isinstance(lc, LightCurve) else list(lc)
    if not lcs or not all(isinstance(x, LightCurve) for x in lcs):
        raise JaxvetInputError(f"lc must be a LightCurve or a list of LightCurves, got {type(lc).__name__}")
    durations = np.atleast_1d(np.asarray(durations, np.float64))
    if periods is None:
        spans = [float(np.ptp(x.time[x.valid])) if x.valid.sum() > 1 else 0.0 for x in lcs]
        base = max(spans)
        lo = 2.0 * float(durations.max()) if min_period is None else float(min_period)
        hi = 0.5 * base if max_period is None else float(max_period)
        periods = period_grid(base, lo, hi, float(durations.min()), frequency_factor=frequency_factor)
    periods = np.atleast_1d(np.asarray(periods, np.float64))
    _validate(periods, durations, oversample, objective)
    lcb = LightCurveBatch.from_lightcurves(lcs)
    m = used_points(int(np.max(np.asarray(lcb.n_valid))), lcb.time.shape[1])
    time, flux, err, mask = (a[:, :m] for a in (lcb.time, lcb.flux, lcb.flux_err, lcb.mask))
    ivar = (
        jnp.where(err > 0, 1.0 / jnp.where(err > 0, err, 1.0) ** 2, 0.0) if use_errors else jnp.ones_like(err)
    )
    grid = _search((time, flux, ivar, mask), periods, durations, oversample, objective, peak_only=False)
    peak = jax.device_get(box_search_peak(grid, jnp.asarray(periods)))
    grid = jax.device_get(grid)
    peak = {k: np.asarray(v) for k, v in peak.items()}
    if not np.all(np.isfinite(peak["power"])):
        bad = [i for i in range(lcb.n_lc) if not math.isfinite(float(peak["power"][i]))]
        raise JaxvetInputError(
            f"box_search: light curve(s) {bad} have no box with points in and out of transit"
        )
    return BoxSearchResult(
        periods=periods,
        durations=durations,
        objective=objective,
        power=np.asarray(grid["power"]),
        depth=np.asarray(grid["depth"]),
        depth_snr=np.asarray(grid["depth_snr"]),
        peak=peak,
    )
