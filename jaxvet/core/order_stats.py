"""Order statistics over padded arrays: the project's one home for medians, MADs and k-th values.

Every reduction runs along the last axis and broadcasts over leading (batch) axes.  The valid
entries are given by a boolean ``where=`` mask (the second positional argument, ``mask``, is
the same thing); padding *values* never leak, an empty selection gives NaN (and a count of 0).

* :func:`order_key` / :func:`from_order_key`: the order-preserving map float -> signed integer
  (IEEE total order).  XLA's CPU sort of float64 uses a NaN-aware comparator and is ~4x slower
  than sorting the same bits as int64, so every sort of floats here goes through these keys.
* :func:`masked_median`, :func:`masked_mad`, :func:`robust_std`, :func:`masked_percentile`,
  :func:`masked_kth`: numpy's definitions (median: mean of the two middle values for an even
  count; percentile: ``method='linear'``).  robust std = :data:`MAD_TO_SIGMA` x MAD
  (Rousseeuw & Croux 1993, JASA 88, 1273).
* :func:`median_excluding`: the exact median of *a sorted array minus a few removed entries* in
  O(M log M) for M removed entries (the out-of-transit median of a whole sector without
  re-sorting it for every candidate).
* :func:`bisect`: several independent batched binary searches in one XLA loop;
  :func:`batched_searchsorted` and :func:`searchsorted_spec` are its two common uses, and
  :func:`mad_select_spec` selects a MAD from a sorted run without a second sort.
* :class:`RankIndex`: k-th entries of masked subsets of one long sorted row through a count
  tree (no prefix sum), and :func:`rank_index_abs_deviation` the k-th ``|v - med|`` of a subset.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.data import bucket_size

__all__ = [
    "masked_median_by_keys",
    "MAD_TO_SIGMA",
    "order_key",
    "from_order_key",
    "masked_count",
    "masked_sorted",
    "sort_by_value",
    "sort_rows_by_flux",
    "masked_order_statistic",
    "sorted_median",
    "masked_median",
    "masked_kth",
    "masked_percentile",
    "sorted_percentile",
    "masked_mad",
    "robust_std",
    "median_excluding",
    "median_excluding_segments",
    "median_of_kth",
    "sorted_subset_median",
    "sorted_bin_medians",
    "ranked_bin_medians",
    "take_rows",
    "bisect",
    "bisect_steps",
    "searchsorted_spec",
    "batched_searchsorted",
    "mad_select_spec",
    "RANK_FANOUT",
    "RankIndex",
    "rank_index_abs_deviation",
]

#: MAD -> Gaussian sigma (1/Phi^-1(3/4) to four digits, the reference's ``_robust_std``)
MAD_TO_SIGMA = 1.4826


def _where(x, mask, where):
    """The valid-entry mask from the positional ``mask`` or the keyword ``where`` (default all)."""
    m = where if mask is None else mask
    return jnp.ones(jnp.shape(x), bool) if m is None else m


def order_key(x):
    """Order-preserving integer view of IEEE floats (total order; -0.0 sorts before +0.0)."""
    it = jnp.int64 if x.dtype == jnp.float64 else jnp.int32
    nbits = 64 if x.dtype == jnp.float64 else 32
    b = jax.lax.bitcast_convert_type(x, it)
    return b ^ ((b >> (nbits - 1)) & jnp.array(jnp.iinfo(it).max, it))


def from_order_key(k, dtype=jnp.float64):
    """Inverse of :func:`order_key`."""
    it = k.dtype
    nbits = 64 if it == jnp.int64 else 32
    b = k ^ ((k >> (nbits - 1)) & jnp.array(jnp.iinfo(it).max, it))
    return jax.lax.bitcast_convert_type(b, dtype)


def masked_count(mask, axis=-1):
    """Number of True entries along ``axis`` (int32)."""
    return jnp.sum(mask, axis=axis, dtype=jnp.int32)


def masked_sorted(x, mask=None, *, where=None):
    """Sort along the last axis with invalid entries (as +inf) moved to the end."""
    x = jnp.where(_where(x, mask, where), x, jnp.inf)
    if x.dtype in (jnp.float64, jnp.float32):
        return from_order_key(jnp.sort(order_key(x), axis=-1), x.dtype)
    return jnp.sort(x, axis=-1)


#: low bits of :func:`sort_by_value`'s packed key that hold the point's index (2^20 points)
_INDEX_BITS = 20


@partial(jax.jit, static_argnames=("exact",))
def sort_by_value(value, mask, other, *, exact: bool = False):
    """Rows of ``value`` in ascending order (invalid entries last, as +inf) and ``other``
    (e.g. the times) in that order: ``(sorted_value, other_by_value)``, shapes ``(..., N)``.

    ``exact=True`` is a stable argsort of the float values.  ``exact=False`` sorts one int64
    key per point that packs the value's order key (its top 44 bits) above the point's index
    (low 20 bits) -- XLA's CPU sort of one int64 array is ~10x faster than a float64 argsort
    or a two-operand sort.  That order is the stable value order except among values equal to
    ~32 significant bits (relative 2e-10), which stay in index order: exact for TESS products
    (float32 fluxes differ by >= 6e-8 relative).  Rows over 2^20 points always sort exactly.
    """
    key = jnp.where(mask, value, jnp.inf)
    n = value.shape[-1]
    if exact or n > (1 << _INDEX_BITS):
        order = jnp.argsort(key, axis=-1, stable=True)
    else:
        packed = (order_key(key) >> _INDEX_BITS << _INDEX_BITS) | jnp.arange(n, dtype=jnp.int64)
        order = (jnp.sort(packed, axis=-1) & ((1 << _INDEX_BITS) - 1)).astype(jnp.int32)
    return jnp.take_along_axis(key, order, -1), jnp.take_along_axis(other, order, -1)


@jax.jit
def sort_rows_by_flux(flux, mask, time, err):
    """Light-curve rows (L, N) in ascending flux order (exact, stable; invalid points last, as
    +inf): ``(flux, time, err)``.  Every statistic that does not depend on the point order can
    run on these rows, and a subset's median is then a prefix count
    (:func:`sorted_subset_median`)."""
    sf, tf = sort_by_value(flux, mask, time, exact=True)
    _, ef = sort_by_value(flux, mask, err, exact=True)
    return sf, tf, ef


def masked_order_statistic(sorted_x, n, k):
    """``k``-th smallest (0-based) of the first ``n`` entries of pre-sorted rows (NaN if n == 0)."""
    k = jnp.clip(k, 0, sorted_x.shape[-1] - 1)
    v = jnp.take_along_axis(sorted_x, k[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return jnp.where(n > 0, v, jnp.nan)


def sorted_median(sorted_x, n):
    """numpy median of the first ``n`` entries of ascending rows (NaN when ``n == 0``)."""
    lo = masked_order_statistic(sorted_x, n, (n - 1) // 2)
    hi = masked_order_statistic(sorted_x, n, n // 2)
    return jnp.where(n > 0, 0.5 * (lo + hi), jnp.nan)


def masked_median(x, mask=None, *, where=None):
    """numpy ``median`` of the valid entries of each row (NaN when a row is empty)."""
    m = _where(x, mask, where)
    return sorted_median(masked_sorted(x, m), masked_count(m))


def masked_median_by_keys(x, mask, offset=0.0):
    """numpy's median of ``x[mask] - offset`` per row of ``x`` (R, W) (NaN for an empty row) and
    the count (``x - offset`` is monotone in ``x``, so its middle values are those of ``x``), by bisection
    on the order-preserving integer keys of the values: a counting pass over the row per key
    bit (at most 64), no sort.  The lower middle value is the smallest key ``v`` with
    ``#{key <= v} >= (n - 1)//2 + 1``; the upper one is the same or the next larger key."""
    n = jnp.sum(mask, axis=1, dtype=jnp.int32)
    key = jax.lax.bitcast_convert_type(order_key(x), jnp.uint64) ^ jnp.uint64(1 << 63)
    top = jnp.uint64(np.iinfo(np.uint64).max)
    key = jnp.where(mask, key, top)
    need = ((n - 1) // 2 + 1)[:, None]
    lo0 = jnp.min(key, axis=1)
    hi0 = jnp.max(jnp.where(mask, key, jnp.uint64(0)), axis=1)

    def body(c):
        lo, hi = c
        mid = lo + (hi - lo) // jnp.uint64(2)
        ok = jnp.sum(key <= mid[:, None], axis=1, dtype=jnp.int32)[:, None] >= need
        return jnp.where(ok[:, 0], lo, mid + jnp.uint64(1)), jnp.where(ok[:, 0], mid, hi)

    lo, _ = jax.lax.while_loop(lambda c: jnp.any(c[0] < c[1]), body, (lo0, jnp.maximum(hi0, lo0)))
    at_or_below = jnp.sum(key <= lo[:, None], axis=1, dtype=jnp.int32)
    nxt = jnp.min(jnp.where(key > lo[:, None], key, top), axis=1)
    upper = jnp.where((n % 2 == 1) | (at_or_below >= n // 2 + 1), lo, nxt)

    def value(k):
        return from_order_key(jax.lax.bitcast_convert_type(k ^ jnp.uint64(1 << 63), jnp.int64), x.dtype)

    mid = 0.5 * ((value(lo) - offset) + (value(upper) - offset))
    return jnp.where(n > 0, mid, jnp.nan), n


def masked_kth(x, k, mask=None, *, where=None):
    """``k``-th smallest (0-based) valid entry of each row (NaN when the row is empty)."""
    m = _where(x, mask, where)
    n = masked_count(m)
    return masked_order_statistic(masked_sorted(x, m), n, jnp.minimum(jnp.asarray(k), jnp.maximum(n - 1, 0)))


def masked_percentile(x, mask=None, q=50.0, *, where=None):
    """numpy ``percentile(..., method='linear')`` of each row; ``q`` in percent (scalar)."""
    m = _where(x, mask, where)
    return sorted_percentile(masked_sorted(x, m), masked_count(m), q)


def sorted_percentile(s, n, q):
    """numpy ``percentile(..., method='linear')`` of rows already sorted by :func:`masked_sorted`
    (``n`` valid entries each); ``q`` in percent (scalar): one sort serves several levels."""
    pos = (q / 100.0) * jnp.maximum(n - 1, 0).astype(s.dtype)
    lo = jnp.floor(pos).astype(jnp.int32)
    hi = jnp.minimum(lo + 1, jnp.maximum(n - 1, 0))
    g = pos - lo
    a = masked_order_statistic(s, n, lo)
    b = masked_order_statistic(s, n, hi)
    # numpy's _lerp: a + (b - a) * g, evaluated from the nearer end for g >= 0.5
    v = jnp.where(g >= 0.5, b - (b - a) * (1.0 - g), a + (b - a) * g)
    return jnp.where(n > 0, v, jnp.nan)


def masked_mad(x, mask=None, *, where=None):
    """Unscaled median absolute deviation about the median."""
    m = _where(x, mask, where)
    med = masked_median(x, m)
    return masked_median(jnp.abs(x - med[..., None]), m)


def robust_std(x, mask=None, *, where=None):
    """:data:`MAD_TO_SIGMA` x MAD; 0 when fewer than 2 valid entries (the reference's
    ``_robust_std``)."""
    m = _where(x, mask, where)
    return jnp.where(masked_count(m) >= 2, MAD_TO_SIGMA * masked_mad(x, m), 0.0)


def _count_removed_at_or_below(excluded_rank, excluded_mask):
    """Sorted removed ranks ``R`` minus their index (``g_i = R_i - i``; padding far above)."""
    big = jnp.iinfo(jnp.int32).max // 2
    r = jnp.sort(jnp.where(excluded_mask, excluded_rank, big).astype(jnp.int32), axis=-1)
    return r - jnp.arange(r.shape[-1], dtype=jnp.int32)


def median_of_kth(kth, n):
    """numpy's median from a k-th order statistic function ``kth(k)`` of ``n`` values."""
    return jnp.where(n > 0, 0.5 * (kth((n - 1) // 2) + kth(n // 2)), jnp.nan)


def sorted_subset_median(sorted_x, sel):
    """numpy median of the entries ``sel`` (bool, same shape) of one ascending row (N,): the
    k-th selected value is the first position where the running count of ``sel`` reaches k+1,
    so a subset's median costs a prefix sum, not a sort.  Returns ``(median, n_selected)``
    (NaN when nothing is selected)."""
    c = jnp.cumsum(sel.astype(jnp.int32))
    n = c[-1]

    def kth(k):
        pos = jnp.searchsorted(c, k + 1, side="left")
        return sorted_x[jnp.clip(pos, 0, sorted_x.shape[-1] - 1)]

    return median_of_kth(kth, n), n


def sorted_bin_medians(sorted_x, bins, n_bins: int):
    """numpy medians of the values of one ascending row (N,) grouped by ``bins`` (N,) int in
    ``[0, n_bins]`` (``n_bins`` = left out): one integer sort of ``bin << bits | position``
    (int32 while both fit) keeps each bin's values ascending.  Returns ``(median, count)``,
    (n_bins,) each (NaN, 0 for an empty bin)."""
    n = sorted_x.shape[-1]
    idx_bits = max(1, (n - 1).bit_length())
    b = jnp.clip(bins, 0, n_bins).astype(jnp.int32)
    if idx_bits + (n_bins + 1).bit_length() <= 31:  # bin and position packed in one int32
        order = jnp.sort((b << idx_bits) | jnp.arange(n, dtype=jnp.int32)) & ((1 << idx_bits) - 1)
    else:
        order = jnp.argsort(b, stable=True)
    v = sorted_x[order]
    count = jnp.zeros(n_bins + 1, jnp.int32).at[b].add(1)[:n_bins]
    start = jnp.cumsum(count) - count
    lo = v[jnp.clip(start + (count - 1) // 2, 0, n - 1)]
    hi = v[jnp.clip(start + count // 2, 0, n - 1)]
    return jnp.where(count > 0, 0.5 * (lo + hi), jnp.nan), count


def ranked_bin_medians(sorted_x, ranks, bins, n_bins: int):
    """numpy medians of a subset of one ascending row (N,) grouped by bins: ``ranks`` (M,)
    are the subset's distinct positions in ``sorted_x`` and ``bins`` (M,) int in ``[0, n_bins]``
    (``n_bins`` = left out).  One integer sort of ``bin << bits | rank`` orders each bin's
    values (the subset is never gathered and sorted by value).  Returns ``(median, count)``,
    (n_bins,) each (NaN, 0 for an empty bin)."""
    n = sorted_x.shape[-1]
    bits = max(1, (n - 1).bit_length())
    b = jnp.clip(bins, 0, n_bins)
    dt = jnp.int32 if bits + (n_bins + 1).bit_length() <= 31 else jnp.int64
    key = jnp.sort((b.astype(dt) << bits) | ranks.astype(dt))
    r = (key & ((1 << bits) - 1)).astype(jnp.int32)
    count = jnp.zeros(n_bins + 1, jnp.int32).at[b].add(1)[:n_bins]
    start = jnp.cumsum(count) - count
    m = r.shape[-1]
    lo = sorted_x[r[jnp.clip(start + (count - 1) // 2, 0, m - 1)]]
    hi = sorted_x[r[jnp.clip(start + count // 2, 0, m - 1)]]
    return jnp.where(count > 0, 0.5 * (lo + hi), jnp.nan), count


def median_excluding(sorted_vals, n_total, excluded_rank, excluded_mask=None, offset=0, *, where=None):
    """Median of ``sorted_vals[:n_total]`` with the entries at ``excluded_rank`` removed.

    ``sorted_vals`` (..., N) is ascending; ``excluded_rank`` (..., M) holds distinct positions
    in it (entries whose mask -- ``excluded_mask`` or ``where`` -- is False are ignored).  With
    ``offset``, the block ``sorted_vals[offset : offset + n_total]`` is used and ranks are
    relative to ``offset`` (one sector of a light curve presorted sector by sector).  The k-th
    remaining value sits at position ``k + j`` where ``j = #{i : R_i - i <= k}`` over the sorted
    removed ranks R, so the cost is a sort of the M removed ranks, not of the N values.
    Returns ``(median, n_remaining)``.
    """
    em = _where(excluded_rank, excluded_mask, where)
    g = _count_removed_at_or_below(excluded_rank, em)
    n_rem = n_total - masked_count(em)

    def kth(k):
        j = jnp.sum(g <= k[..., None], axis=-1, dtype=jnp.int32)
        return masked_order_statistic(sorted_vals, n_total, offset + k + j)

    return median_of_kth(kth, n_rem), n_rem


def median_excluding_segments(read, n_total, g_flat, g_start, n_removed):
    """:func:`median_excluding` for many blocks whose removed ranks are stored flat.

    Block ``s`` (any leading shape) holds ``n_total[s]`` ascending values, read by
    ``read(s_positions)`` (positions inside the block); its ``n_removed[s]`` removed ranks
    ``R`` are sorted and stored as ``g = R_i - i`` in ``g_flat[g_start[s] : g_start[s] +
    n_removed[s]]`` (non-decreasing), so ``j = #{i : g_i <= k}`` is one binary search.
    Returns ``(median, n_remaining)``.
    """
    n_rem = n_total - n_removed

    def kth(k):
        return read(k + batched_searchsorted(g_flat, g_start, n_removed, k, side="right"))

    return median_of_kth(kth, n_rem), n_rem


# ----------------------------------------------------------------------------------------
# batched binary search
# ----------------------------------------------------------------------------------------
def take_rows(a, idx):
    """``a[r, idx[r, ...]]`` for a (R, W) array and (R, ...) integer indices (clipped)."""
    r = a.shape[0]
    flat = idx.reshape(r, -1)
    out = jnp.take_along_axis(a, jnp.clip(flat, 0, a.shape[1] - 1), axis=1)
    return out.reshape(idx.shape)


def bisect_steps(w: int) -> int:
    """Iterations that settle a binary search over ``[0, w]``."""
    return max(1, math.ceil(math.log2(w + 1)) + 1)


def bisect(specs, n_iter: int):
    """Run several independent batched binary searches in one loop (one XLA while loop).

    Each spec is ``(lo, hi, go)``: integer arrays and a predicate ``go(mid)`` that is True
    while the answer lies above ``mid`` (monotone: True...True False...False on [lo, hi)).
    Returns the final ``lo`` of each search, the first index where ``go`` is False.
    """

    def body(_, carry):
        new = []
        for (lo, hi), (_lo0, _hi0, go) in zip(carry, specs, strict=True):
            mid = (lo + hi) // 2
            g = go(mid)
            act = lo < hi
            new.append((jnp.where(act & g, mid + 1, lo), jnp.where(act & ~g, mid, hi)))
        return tuple(new)

    out = jax.lax.fori_loop(0, n_iter, body, tuple((lo, hi) for lo, hi, _ in specs))
    return [lo for lo, _ in out]


def searchsorted_spec(a, q):
    """Spec for :func:`bisect`: per row of ascending ``a`` (R, W), the count of entries < q."""
    lo = jnp.zeros(q.shape, jnp.int32)
    hi = jnp.full(q.shape, a.shape[1], jnp.int32)
    return lo, hi, lambda mid: take_rows(a, mid) < q


def batched_searchsorted(flat, row_start, row_len, query, side: str = "left", n_iter: int = 32):
    """Binary search of ``query`` in ``flat[row_start : row_start + row_len]`` (each row sorted).

    All arguments broadcast; returns positions *relative to* ``row_start`` in
    ``[0, row_len]``.  A fixed number of gathers (``n_iter``), no per-row copies.
    """
    lo = jnp.zeros(jnp.broadcast_shapes(jnp.shape(query), jnp.shape(row_start)), jnp.int32)
    hi = jnp.broadcast_to(row_len, lo.shape).astype(jnp.int32)
    base = jnp.broadcast_to(row_start, lo.shape).astype(jnp.int32)

    def go(mid):
        v = flat[jnp.clip(base + mid, 0, flat.shape[0] - 1)]
        return (v < query) if side == "left" else (v <= query)

    return bisect([(lo, hi, go)], n_iter)[0]


def mad_select_spec(xs, n, center, shift):
    """Spec for :func:`bisect` selecting the median of ``|(xs[r, i] - shift) - center|``.

    ``xs`` (R, W) holds ascending rows with ``n`` (R,) valid entries; for each row ``r`` and
    query ``q`` (``center``/``shift`` are (R, Q)): the deviations of the values below the centre
    (read right-to-left) and of those at or above it (read left-to-right) are two ascending
    sequences; the k-th smallest of their union is found by the classic binary search over how
    many to take from the first one.  A MAD thus costs O(log W) gathers and no second sort, and
    is bit-identical to ``np.median(np.abs(v - c))``.
    Returns ``(spec, finish)``; ``finish(i)`` maps the search result to the medians (R, Q).
    """
    nq = n[:, None]
    v_at = lambda i: take_rows(xs, i) - shift[..., None]  # noqa: E731  i: (R, Q, 2)
    w = jnp.arange(xs.shape[1], dtype=jnp.int32)[None, None, :]
    below = (xs[:, None, :] - shift[..., None]) < center[..., None]
    p = jnp.sum(below & (w < nq[..., None]), axis=-1, dtype=jnp.int32)  # (R, Q): #{v < c}
    cnt = jnp.stack([(nq - 1) // 2, nq // 2], axis=-1) + 1  # (R, 1, 2) elements to take
    pa = p[..., None]
    nb = nq[..., None] - pa
    c = center[..., None]
    lo = jnp.broadcast_to(jnp.maximum(0, cnt - nb), pa.shape[:-1] + (2,))
    hi = jnp.broadcast_to(jnp.minimum(cnt, pa), lo.shape)

    def go(mid):
        return (c - v_at(pa - 1 - mid)) < (v_at(pa + cnt - mid - 1) - c)

    def finish(i):
        a_prev = jnp.where(i > 0, c - v_at(pa - i), -jnp.inf)
        b_prev = jnp.where(cnt - i > 0, v_at(pa + cnt - i - 1) - c, -jnp.inf)
        kth = jnp.maximum(a_prev, b_prev)
        return jnp.where(nq > 0, 0.5 * (kth[..., 0] + kth[..., 1]), jnp.nan)

    return (lo, hi, go), finish


# ----------------------------------------------------------------------------------------
# order statistics of masked subsets of one long sorted row
# ----------------------------------------------------------------------------------------
#: branching factor of the rank index (order statistics of a masked, sorted row)
RANK_FANOUT = 16


class RankIndex:
    """Order statistics of masked subsets of one ascending row, without a prefix sum.

    ``masks`` (T, n) selects T subsets of ``sorted_vals`` (n,).  A count tree with fan-out 16
    (masked entries per 16, 256, 4096, ... positions, built by reshape-sums in O(n)) is
    descended from the top to find the j-th masked entry of subset t in O(16 log16 n).
    A full-length cumsum would instead cost O(n log n) memory passes on CPU backends.
    """

    def __init__(self, sorted_vals, masks):
        n = sorted_vals.shape[-1]
        size = bucket_size(n, RANK_FANOUT)
        if size != n:
            sorted_vals = jnp.concatenate([sorted_vals, jnp.full((size - n,), jnp.inf)])
            masks = jnp.concatenate([masks, jnp.zeros(masks.shape[:-1] + (size - n,), bool)], axis=-1)
        self.vals = sorted_vals
        self.masks = masks
        levels = [masks.astype(jnp.int32)]
        while levels[-1].shape[-1] > RANK_FANOUT:
            lev = levels[-1]
            levels.append(jnp.sum(lev.reshape(lev.shape[0], -1, RANK_FANOUT), axis=-1))
        self.levels = levels  # levels[0]: per entry ... levels[-1]: <= 16 counts per subset
        self.count = jnp.sum(levels[-1], axis=-1)  # (T,)

    @staticmethod
    def _descend(counts, r):
        """Per query: child holding the r-th (0-based) entry, and r relative to that child."""
        m = counts.shape[-1]
        tri = jnp.arange(m)[:, None] >= jnp.arange(m)[None, :]
        cum = jnp.sum(jnp.where(tri[None], counts[:, None, :], 0), axis=-1)  # (q, m)
        child = jnp.minimum(jnp.sum(cum <= r[:, None], axis=-1, dtype=jnp.int32), m - 1)
        prev = jnp.where(child > 0, jnp.take_along_axis(cum, jnp.maximum(child - 1, 0)[:, None], 1)[:, 0], 0)
        return child, r - prev

    def lookup(self, t, j):
        """Values of the j[i]-th (0-based) masked entries of subsets t[i] (j clipped into range)."""
        t = jnp.asarray(t, jnp.int32)
        r = jnp.clip(j, 0, jnp.maximum(self.count[t] - 1, 0)).astype(jnp.int32)
        node, r = self._descend(self.levels[-1][t], r)
        fan = jnp.arange(RANK_FANOUT, dtype=jnp.int32)
        for lev in reversed(self.levels[:-1]):
            kids = lev[t[:, None], node[:, None] * RANK_FANOUT + fan[None, :]]
            child, r = self._descend(kids, r)
            node = node * RANK_FANOUT + child
        return self.vals[node]


def rank_index_abs_deviation(tree: RankIndex, t: int, med, k, n_iter: int):
    """k-th smallest (0-based) ``|v - med|`` over subset ``t`` of ``tree`` (``k``: (m,)).

    Entries below the median give distances ascending as the rank decreases (A), the others
    ascending as it increases (B); the k-th smallest of the union is found by bisecting how many
    of the k+1 smallest come from A (the classic two-sorted-arrays selection).
    """
    n = tree.count[t]
    s = jnp.sum(tree.masks[t] & (tree.vals < med), dtype=jnp.int32)
    n_a, n_b = s, n - s
    m = k.shape[0]
    ts = jnp.full((2 * m,), t, jnp.int32)

    def a_and_b(ja, jb):  # ja-th smallest distance below the median, jb-th above
        v = tree.lookup(ts, jnp.concatenate([s - 1 - ja, s + jb]))
        return med - v[:m], v[m:] - med

    lo = jnp.maximum(0, k + 1 - n_b)
    hi = jnp.minimum(k + 1, n_a)

    def go(mid):
        a, b = a_and_b(mid, k - mid)
        return a < b

    a_cnt = bisect([(lo, hi, go)], n_iter)[0]
    a, b = a_and_b(a_cnt - 1, k - a_cnt)
    left = jnp.where(a_cnt > 0, a, -jnp.inf)
    right = jnp.where(k - a_cnt >= 0, b, -jnp.inf)
    return jnp.maximum(left, right)
