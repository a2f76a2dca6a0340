"""Out-of-transit variability from per-light-curve prefix sums: :func:`oot_variability`'s result
without a pass over the light curve per candidate.

:func:`jaxvet.core.variability.oot_variability` defines the measurement (its module docstring)
with scans over every point of each candidate's row.  Here the light curve is summarised once
(:func:`lightcurve_prefix`: the prefix count ``C`` of valid points and the prefix sum ``S`` of
``x = f / median - 1``; :func:`segment_index_bounds`: each segment's first and one-past-last
point) and each candidate only touches the boundaries of its bins and transit windows:

* its in-transit windows ``|t - t_c| < half_width`` and core windows ``|t - t_c| < D/4`` are
  index ranges found by binary search per epoch (``n_epochs`` slots: the epochs that can touch
  each segment), each boundary corrected by one point with the exact predicate of
  :func:`oot_variability` (``|phase_centered(t) P|`` against the half-width); overlapping
  windows are merged, so their union is the in-transit set;
* the out-of-transit count and sum before point ``i`` are ``OC(i) = C[i] - IT(i)`` and
  ``OS(i) = S[i] - ITS(i)``, with ``IT``/``ITS`` the in-transit count/sum before ``i`` (the
  windows' cumulative counts/sums plus the part of the window holding ``i``);
* bin ``k`` of a segment starting at ``t_s`` is the index range where
  ``floor((t - t_s) / D) = k`` (binary search at ``t_s + k D``, corrected by one point with the
  same floor), so its out-of-transit count and sum are differences of ``OC``/``OS``;
* the bins before and after a core window are those holding the out-of-transit points number
  ``OC(start)`` and ``OC(end) + 1`` (binary search in the bins' cumulative counts).

Per candidate the cost is ``O((nb_max + n_epochs) log N)`` gathers instead of O(N) scans.
Sums are taken in a different order than :func:`oot_variability` (differences of prefix sums),
so values agree to rounding (~1e-13 relative), not bit for bit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.ephemeris import phase_centered
from jaxvet.core.variability import SEGMENT_GAP_DAYS, binned_variability, variability_result
from jaxvet.data import bucket_size

__all__ = [
    "lightcurve_prefix",
    "segment_index_bounds",
    "bin_capacities",
    "max_epochs",
    "oot_variability_prefix",
]


def lightcurve_prefix(flux, valid, med):
    """Per light-curve row (L, N): prefix count of valid points (int32) and prefix sum of
    ``x = f / med - 1`` over them, both (L, N + 1) with a leading 0."""
    x = jnp.where(valid, flux / med[:, None] - 1.0, 0.0)
    zi = jnp.zeros((flux.shape[0], 1), jnp.int32)
    count = jnp.concatenate([zi, jnp.cumsum(valid.astype(jnp.int32), axis=1)], axis=1)
    total = jnp.concatenate([jnp.zeros_like(x[:, :1]), jnp.cumsum(x, axis=1)], axis=1)
    return count, total


def segment_index_bounds(time: np.ndarray, valid: np.ndarray, gap: float = SEGMENT_GAP_DAYS):
    """Host: first and one-past-last index of each data segment of each row (valid points packed
    first, as :class:`~jaxvet.data.LightCurveBatch`), split after steps ``> gap`` days; both
    (L, G) int32, empty segments ``(n_valid, n_valid)`` after the real ones."""
    starts, ends = [], []
    for t, v in zip(np.asarray(time), np.asarray(valid), strict=True):
        m = int(v.sum())
        cut = np.nonzero(np.diff(t[:m]) > gap)[0] + 1 if m else np.zeros(0, np.int64)
        starts.append(np.concatenate([[0], cut]) if m else np.zeros(0, np.int64))
        ends.append(np.concatenate([cut, [m]]) if m else np.zeros(0, np.int64))
    g = bucket_size(max(1, max(len(s) for s in starts)), 4)
    lo = np.zeros((len(starts), g), np.int32)
    hi = np.zeros((len(starts), g), np.int32)
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        m = int(np.asarray(valid)[i].sum())
        lo[i], hi[i] = m, m
        lo[i, : len(s)], hi[i, : len(e)] = s, e
    return lo, hi


def bin_capacities(seg_lo: np.ndarray, seg_hi: np.ndarray, duration_days, levels: int = 3) -> np.ndarray:
    """Host: each candidate's static bin capacity (B,): its bin count (as ``max_bins``) rounded up
    to a power of two, at least the largest capacity / 2**(levels - 1), so a run needs at most
    ``levels`` programs.  ``seg_lo``/``seg_hi`` (B, G) the segments' first/last times."""
    span = np.where(seg_hi >= seg_lo, seg_hi - seg_lo, -1.0)
    per = np.where(span >= 0, np.floor(span / np.asarray(duration_days)[:, None]) + 1, 0).sum(axis=1)
    caps = np.exp2(np.ceil(np.log2(np.maximum(per, 16.0)))).astype(np.int64)
    return np.maximum(caps, caps.max(initial=16) >> (levels - 1))


def _epoch_range(ts, te, nonempty, period, t0, half_width):
    """First and last epoch whose window can touch each segment (one extra on either side)."""
    n_lo = jnp.ceil((ts - half_width - t0) / period) - 1.0
    n_hi = jnp.floor((te + half_width - t0) / period) + 1.0
    return n_lo, jnp.where(nonempty, n_hi - n_lo + 1.0, 0.0)


def max_epochs(ts: np.ndarray, te: np.ndarray, period, t0, half_width) -> int:
    """Host: static epoch capacity, the most epoch slots any candidate needs (``ts``/``te``
    (B, G) each candidate's segment first/last times, empty segments with ``ts > te``)."""
    p, t_0, hw = (np.asarray(a, np.float64)[:, None] for a in (period, t0, half_width))
    n_lo = np.ceil((ts - hw - t_0) / p) - 1.0
    n_hi = np.floor((te + hw - t_0) / p) + 1.0
    per = np.where(te >= ts, n_hi - n_lo + 1.0, 0.0).sum(axis=1)
    return bucket_size(int(per.max()) + 2 if per.size else 1, 16)


def _search(t, n, lo, hi, q):
    """First index in ``[lo, hi)`` of the sorted row ``t(i)`` (``n`` points, ``t`` a gather)
    with ``t >= q`` (``hi`` if none)."""
    steps = int(np.ceil(np.log2(n + 1))) + 1

    def body(_, lh):
        a, b = lh
        mid = (a + b) // 2
        active = a < b
        go = t(jnp.clip(mid, 0, n - 1)) < q
        return jnp.where(active & go, mid + 1, a), jnp.where(active & ~go, mid, b)

    return jax.lax.fori_loop(0, steps, body, (lo, hi))[0]


def _window(t, n, s, e, c, r, inside):
    """Index range ``[a, b)`` of the points with ``inside(i)`` around centres ``c`` (radius
    ``r``) within segments ``[s, e)``; ends corrected by one point with the exact predicate."""
    last = n - 1
    a = _search(t, n, s, e, c - r)
    a = jnp.where(
        (a > s) & inside(jnp.maximum(a - 1, 0)),
        a - 1,
        jnp.where((a < e) & ~inside(jnp.minimum(a, last)) & (t(jnp.minimum(a, last)) < c), a + 1, a),
    )
    b = jnp.maximum(_search(t, n, s, e, c + r), a)
    b = jnp.where(
        (b > a) & ~inside(jnp.maximum(b - 1, 0)) & (t(jnp.maximum(b - 1, 0)) > c),
        b - 1,
        jnp.where((b < e) & inside(jnp.minimum(b, last)), b + 1, b),
    )
    return a, jnp.maximum(b, a)


def _merged(a, b):
    """Sorted, disjoint ranges with the same union (``a`` non-decreasing)."""
    reach = jax.lax.cummax(b)
    prev = jnp.concatenate([jnp.zeros((1,), b.dtype), reach[:-1]])
    a = jnp.maximum(a, prev)
    return a, jnp.maximum(b, a)


def _in_ranges(count, total, a, b, i):
    """Count and sum of the valid points with index < ``i`` inside the ranges ``[a, b)``."""
    w = count(b) - count(a)
    u = total(b) - total(a)
    cw = jnp.concatenate([jnp.zeros((1,), w.dtype), jnp.cumsum(w)])
    cu = jnp.concatenate([jnp.zeros((1,), u.dtype), jnp.cumsum(u)])
    e = jnp.searchsorted(a, i, side="right") - 1
    ec = jnp.clip(e, 0, a.shape[0] - 1)
    j = jnp.clip(i, a[ec], b[ec])
    n = jnp.where(e >= 0, cw[ec] + count(j) - count(a[ec]), 0)
    s = jnp.where(e >= 0, cu[ec] + total(j) - total(a[ec]), 0.0)
    return n, s


def _one(
    t,
    count,
    total,
    n,
    s_g,
    e_g,
    sigma_w,
    dt,
    period,
    t0,
    duration,
    half_width,
    depth,
    threshold,
    nb_max,
    n_epochs,
):
    nonempty = e_g > s_g
    ts = t(jnp.minimum(s_g, n - 1))
    te = t(jnp.clip(e_g - 1, 0, n - 1))

    def dist(i):
        return jnp.abs(phase_centered(t(i), t0, period) * period)

    # epoch slots -> in-transit and core windows (index ranges)
    n_lo, n_ep = _epoch_range(ts, te, nonempty, period, t0, half_width)
    e_end = jnp.cumsum(n_ep)
    slot = jnp.arange(n_epochs)
    g = jnp.minimum(jnp.searchsorted(e_end, slot, side="right"), s_g.shape[0] - 1)
    live = slot < e_end[-1]
    c = t0 + (n_lo[g] + (slot - (e_end[g] - n_ep[g]))) * period
    end = jnp.int32(n)
    s, e = jnp.where(live, s_g[g], end), jnp.where(live, e_g[g], end)
    a, b = _merged(*_window(t, n, s, e, c, half_width, lambda i: dist(i) < half_width))
    ca, cb = _merged(*_window(t, n, s, e, c, 0.25 * duration, lambda i: dist(i) < 0.25 * duration))

    def oot_before(i):  # out-of-transit count and sum of the points before index i
        n_in, s_in = _in_ranges(count, total, a, b, i)
        return count(i) - n_in, total(i) - s_in

    # bin slots: segment, bin number, index range
    k_g = jnp.where(nonempty, jnp.floor((te - ts) / duration) + 1.0, 0.0)
    k_end = jnp.cumsum(k_g)
    j = jnp.arange(nb_max)
    gb = jnp.minimum(jnp.searchsorted(k_end, j, side="right"), s_g.shape[0] - 1)
    k = j - (k_end[gb] - k_g[gb])
    live_b = j < k_end[-1]
    t_s, lo_b, hi_b = ts[gb], s_g[gb], e_g[gb]

    def in_bin(i):
        return jnp.floor((t(jnp.clip(i, 0, n - 1)) - t_s) / duration) >= k

    i0 = _search(t, n, lo_b, hi_b, t_s + k * duration)
    i0 = jnp.where((i0 > lo_b) & in_bin(i0 - 1), i0 - 1, jnp.where((i0 < hi_b) & ~in_bin(i0), i0 + 1, i0))
    i0 = jnp.where(live_b, jnp.where(k == 0, lo_b, i0), 0)
    nxt_same = jnp.concatenate([(gb[1:] == gb[:-1]) & live_b[1:], jnp.zeros((1,), bool)])
    # a bin ends where the next one of its segment starts, else at the segment's end
    ocs, oss = oot_before(jnp.concatenate([i0, e_g]))
    oc0, os0 = ocs[:nb_max], oss[:nb_max]
    oc1 = jnp.where(live_b, jnp.where(nxt_same, jnp.roll(oc0, -1), ocs[nb_max + gb]), oc0)
    os1 = jnp.where(live_b, jnp.where(nxt_same, jnp.roll(os0, -1), oss[nb_max + gb]), os0)
    cnt_i = oc1 - oc0
    cnt = cnt_i.astype(sigma_w.dtype)
    every = (os1 - os0) / jnp.maximum(cnt, 1.0)
    n_bins, sigma_var = binned_variability(every, cnt, duration, dt, sigma_w)
    # measured depth: each core window against the bins of the out-of-transit points around it
    cum = jnp.cumsum(cnt_i)
    around, _ = oot_before(jnp.concatenate([ca, cb]))
    before, after = around[:n_epochs], around[n_epochs:]
    has_b, has_a = before > 0, after < cum[-1]
    m_b = jnp.where(has_b, every[jnp.minimum(jnp.searchsorted(cum, before, side="left"), nb_max - 1)], 0.0)
    m_a = jnp.where(has_a, every[jnp.minimum(jnp.searchsorted(cum, after + 1, side="left"), nb_max - 1)], 0.0)
    nside = has_b.astype(sigma_w.dtype) + has_a.astype(sigma_w.dtype)
    n_core = jnp.where(nside > 0, count(cb) - count(ca), 0)
    x_core = jnp.where(nside > 0, total(cb) - total(ca), 0.0)
    num = jnp.sum(n_core * (m_b + m_a) / jnp.maximum(nside, 1.0) - x_core)
    n_c = jnp.sum(n_core)
    measured = jnp.where(n_c > 0, num / jnp.maximum(n_c, 1), jnp.nan)
    return variability_result(sigma_var, sigma_w, n_bins, depth, measured, period, duration, threshold)


def oot_variability_prefix(
    time,
    prefix,
    seg_index,
    lc,
    scales,
    period,
    t0,
    duration,
    half_width,
    depth,
    threshold,
    *,
    nb_max: int,
    n_epochs: int,
):
    """:func:`~jaxvet.core.variability.oot_variability` of each candidate (module docstring):
    a dict of (B,) arrays ``sigma_var``, ``sigma_white``, ``n_bins``, ``depth``, ``ratio``, ``flag``.

    ``time`` (L, N) the light curves (valid points packed first); ``prefix`` their
    :func:`lightcurve_prefix`; ``seg_index`` their :func:`segment_index_bounds` (two (L, G));
    ``lc`` (B,) each candidate's row; ``scales`` the rows' ``lightcurve_scales`` (three (L,));
    ``period``, ``t0``, ``duration``, ``half_width`` (B,) days; ``depth`` (B,) fractional or NaN;
    ``threshold`` a scalar; ``nb_max`` (``max_bins``) and ``n_epochs`` (:func:`max_epochs`)
    static capacities.  Trace it inside a jit.
    """
    _, sigma_w, dt = scales
    count, total = prefix
    lo, hi = seg_index

    n = time.shape[1]

    def one(li, p, t_0, dur, hw, dep):  # gathers from the light-curve rows, no per-candidate copy
        return _one(
            lambda i: time[li, i],
            lambda i: count[li, i],
            lambda i: total[li, i],
            n,
            lo[li],
            hi[li],
            sigma_w[li],
            dt[li],
            p,
            t_0,
            dur,
            hw,
            dep,
            threshold,
            nb_max,
            n_epochs,
        )

    return jax.vmap(one)(lc, period, t0, duration, half_width, depth)
