"""Sliding robust trends of padded light-curve rows: a time-windowed biweight or median.

The trend at point ``i`` of a row is a robust location of the fluxes ``f_j`` of the points in
its time window ``t_i - w/2 <= t_j < t_i + w/2`` (``w`` = ``window`` days, the point itself
included) that lie in the same data segment and are not excluded by ``use`` (the candidate's
transits).  Segments are split wherever two consecutive points are more than
``break_tolerance`` days apart, so a trend never reaches across a gap (wotan's
``break_tolerance``; its default is ``w/2``).  Windows are cut at segment edges (wotan's
``edge_cutoff=0``: every point gets a trend from the points that exist on its side).

* **biweight** -- Tukey's biweight location (Mosteller & Tukey 1977), the sliding filter
  Hippke et al. (2019, AJ 158, 143) found best for transit searches and wotan's default:
  start at the window median ``M`` with ``MAD`` its median absolute deviation, then iterate
  ``c <- c + sum(w_j d_j)/sum(w_j)`` with ``d_j = f_j - c``, ``u_j = d_j/(C MAD)`` and
  ``w_j = (1 - u_j^2)^2`` for ``|u_j| < 1`` (else 0), ``C = cval`` (5), until a step moves
  ``c`` by at most ``ftol * MAD`` (wotan's ``FTOL = 1e-6``; the last step's value is
  returned) or ``max_iter`` steps.  ``MAD = 0`` gives the median.
* **median** -- the window median (numpy's definition: mean of the two middle values).

A window with no usable point gives NaN (as wotan).

Layout: rows ``(R, N)`` sorted by time (padding after the data, e.g.
:class:`~jaxvet.data.LightCurveBatch`).  Each query point gathers a fixed ``width`` (K)
neighbours starting at its window's first index (found by binary search), masked beyond the
window's end; the R x N queries are processed in blocks of ``block`` points by one
``lax.map`` inside the program, so memory is ``block x K`` per intermediate whatever R and N
(the engine's element budget sizes the block: :func:`block_size`).  ``window``,
``break_tolerance``, ``cval``, ``ftol`` and ``max_iter`` are traced arguments: changing them
never recompiles; ``method``, ``width`` and ``block`` are static (``width`` on a ladder of
``2^k`` and ``3 x 2^(k-1)``, ``block`` a power of two).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.order_stats import (
    bisect,
    bisect_steps,
    mad_select_spec,
    masked_count,
    masked_sorted,
    sorted_median,
)
from jaxvet.data import bucket_size

__all__ = [
    "METHODS",
    "BIWEIGHT_C",
    "BIWEIGHT_FTOL",
    "DEFAULT_MAX_ITER",
    "segment_bounds",
    "window_bounds",
    "window_location",
    "sliding_trend",
    "window_width",
    "width_ladder",
    "block_size",
]

#: trend estimators of :func:`sliding_trend`
METHODS = ("biweight", "median")
#: biweight tuning constant (wotan's default ``cval`` for the biweight)
BIWEIGHT_C = 5.0
#: convergence tolerance of the biweight iteration, in units of the window's MAD (wotan's FTOL)
BIWEIGHT_FTOL = 1e-6
#: iteration cap of the biweight (wotan caps at 1000; measured 7-13 steps for 90 % of points, at most 20)
DEFAULT_MAX_ITER = 100


def segment_bounds(time, break_tolerance):
    """First and one-past-last index of each point's segment, both ``(R, N)`` int32.

    ``time`` (R, N) sorted rows; a new segment starts after every step ``> break_tolerance``
    (R,) days.
    """
    r, n = time.shape
    idx = jnp.arange(n, dtype=jnp.int32)[None, :]
    gap = jnp.diff(time, axis=1) > break_tolerance[:, None]
    ones = jnp.ones((r, 1), bool)
    starts = jnp.concatenate([ones, gap], axis=1)
    ends = jnp.concatenate([gap, ones], axis=1)
    lo = jax.lax.cummax(jnp.where(starts, idx, 0), axis=1)
    hi = jax.lax.cummin(jnp.where(ends, idx + 1, n), axis=1, reverse=True)
    return lo, hi


def window_bounds(time, window, break_tolerance):
    """``(lo, hi)`` (R, N): the points ``lo <= j < hi`` of each point's window
    ``[t_i - w/2, t_i + w/2)`` within its segment (``window`` (R,) days)."""
    seg_lo, seg_hi = segment_bounds(time, break_tolerance)
    half = 0.5 * window[:, None]
    search = jax.vmap(lambda a, q: jnp.searchsorted(a, q, side="left", method="sort"))
    lo = search(time, time - half).astype(jnp.int32)
    hi = search(time, time + half).astype(jnp.int32)
    return jnp.maximum(lo, seg_lo), jnp.minimum(hi, seg_hi)


def _biweight(v, inwin, s, n, med, cval, ftol, max_iter):
    """Biweight location of the masked rows ``v`` (Q, K) from their sorted copy ``s``."""
    spec, finish = mad_select_spec(s, n, med[:, None], jnp.zeros_like(med)[:, None])
    mad = finish(bisect([spec], bisect_steps(s.shape[1]))[0])[:, 0]
    ok = (n > 0) & (mad > 0)
    safe_mad = jnp.where(ok, mad, 1.0)
    cmad = 1.0 / (cval * safe_mad)
    tol = ftol * safe_mad

    def step(c):
        d = v - c[:, None]
        u = d * cmad[:, None]
        w = jnp.where(inwin & (jnp.abs(u) < 1.0), (1.0 - u * u) ** 2, 0.0)
        sw = jnp.sum(w, axis=1)
        return c + jnp.where(sw > 0, jnp.sum(w * d, axis=1) / jnp.where(sw > 0, sw, 1.0), 0.0)

    def cond(carry):
        _, done, it = carry
        return (it < max_iter) & ~jnp.all(done)

    def body(carry):
        c, done, it = carry
        c1 = step(c)
        return jnp.where(done, c, c1), done | (jnp.abs(c1 - c) <= tol), it + 1

    start = jnp.where(ok, med, 0.0)
    c, _, _ = jax.lax.while_loop(cond, body, (start, ~ok, jnp.zeros((), jnp.int32)))
    return jnp.where(ok, c, med)


def window_location(v, inwin, cval, ftol, max_iter, *, method: str):
    """Robust location of each row of ``v`` (Q, K) over its ``inwin`` entries: ``(loc, n)``.

    ``method`` "median" or "biweight" (module docstring); NaN where a row has no entry.
    """
    s = masked_sorted(v, inwin)
    n = masked_count(inwin, axis=1)
    med = sorted_median(s, n)
    if method == "median":
        return med, n
    return _biweight(v, inwin, s, n, med, cval, ftol, max_iter), n


@partial(jax.jit, static_argnames=("method", "width", "block"))
def sliding_trend(time, flux, valid, use, window, break_tolerance, cval=BIWEIGHT_C, ftol=BIWEIGHT_FTOL,
                  max_iter=DEFAULT_MAX_ITER, *, method: str, width: int, block: int):
    """Sliding robust trend of each row: ``(trend, n_used)``, both ``(R, N)``.

    ``time``, ``flux`` (R, N) float64 rows sorted by time; ``valid`` (R, N) the points that get
    a trend (NaN elsewhere); ``use`` (R, N) the points that enter the trend (``use & valid``;
    e.g. ``valid`` without the candidate's transits); ``window`` and ``break_tolerance`` (R,)
    days; ``cval``, ``ftol`` and ``max_iter`` the biweight's constants.  ``width`` (static) must
    be at least the largest number of points in one window (:func:`window_width`), ``block``
    the query points per step (:func:`block_size`).  ``n_used`` is the number of points that
    entered each point's trend.
    """
    r, n = time.shape
    use = use & valid
    lo, hi = window_bounds(time, jnp.asarray(window, time.dtype), jnp.asarray(break_tolerance, time.dtype))
    total = r * n
    n_blocks = -(-total // block)
    queries = jnp.minimum(jnp.arange(n_blocks * block, dtype=jnp.int32), total - 1).reshape(n_blocks, block)
    ff, uf = flux.reshape(-1), use.reshape(-1)
    lo_f, hi_f = lo.reshape(-1), hi.reshape(-1)
    k = jnp.arange(width, dtype=jnp.int32)[None, :]

    def one_block(q):
        base = (q // n) * n
        first, count = lo_f[q], hi_f[q] - lo_f[q]
        j = base[:, None] + jnp.clip(first[:, None] + k, 0, n - 1)
        inwin = (k < count[:, None]) & uf[j]
        return window_location(ff[j], inwin, cval, ftol, max_iter, method=method)

    loc, cnt = jax.lax.map(one_block, queries)
    loc = loc.reshape(-1)[:total].reshape(r, n)
    cnt = cnt.reshape(-1)[:total].reshape(r, n)
    return jnp.where(valid & (cnt > 0), loc, jnp.nan), jnp.where(valid, cnt, 0)


def width_ladder(n: int) -> int:
    """Smallest ``2^k`` or ``3 x 2^(k-1)`` (>= 8) that holds ``n``: steps of 1.33-1.5x keep the
    padding of the (block, width) sorts under 50 % with few compiled widths."""
    p = bucket_size(n, 8)
    return 3 * p // 4 if p >= 16 and 3 * p // 4 >= n else p


def window_width(time: np.ndarray, valid: np.ndarray, window: float) -> int:
    """Static ``width`` for :func:`sliding_trend`: :func:`width_ladder` of the largest number of
    valid points of one row (host arrays (N,)) in a ``window``-day window."""
    t = np.asarray(time, np.float64)[np.asarray(valid, bool)]
    if t.size == 0:
        return 8
    lo = np.searchsorted(t, t - 0.5 * window, side="left")
    hi = np.searchsorted(t, t + 0.5 * window, side="left")
    return width_ladder(int(np.max(hi - lo)))


def block_size(width: int, total: int, budget: int) -> int:
    """Query points per block: a power of two with ``block x width`` within ``budget``
    elements (the engine's :func:`~jaxvet.engine.chunks.element_budget` / 4: a block holds
    a handful of (block, width) intermediates), at most ``total`` rounded up to a power of two."""
    b = max(1, budget // max(int(width), 1))
    b = 1 << (b.bit_length() - 1)
    return max(1, min(b, bucket_size(total, 1)))
