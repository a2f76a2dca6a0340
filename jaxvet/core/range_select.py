"""Order statistics of contiguous ranges of a fixed row, in O(log n) per query (wavelet matrix).

A check that needs the median of many windows ``[lo, hi)`` of the same light-curve row (one per
candidate and epoch) would otherwise gather and sort every window.  A wavelet matrix
(Claude, Navarro and Ordonez 2015, Information Systems 47, 15) is built once per row over the
values' ranks: for each bit of the rank, from the highest, the prefix count of zero bits and a
stable partition by that bit.  The k-th smallest value of any range is then found by descending
the bits with two prefix-count reads per level -- ``ceil(log2 n)`` levels, no sort per query.

* :func:`build_range_index`: the index of (L, N) rows of values with a validity mask; invalid
  entries rank after every valid one and are never returned.
* :func:`range_kth` / :func:`range_median`: the k-th smallest valid value and numpy's median
  (mean of the two middle values) of the valid entries of ranges ``[lo, hi)`` of given rows.
* :func:`ranges_kth` / :func:`ranges_median`: the same for a *union* of ranges per group (signed:
  ``-1`` removes a range from a larger one, so a light curve minus its transit windows is one
  ``+1`` range and one ``-1`` range per epoch): the zero-bit counts of all of a group's ranges
  are summed at each level, O(R log n) for R ranges.
* :func:`build_prefix_sums` / :func:`range_sums`: sums of several value channels over ranges
  ``[lo, hi)`` as differences of double-double prefix sums (Dekker 1971, Numer. Math. 18, 224;
  Knuth's two-sum), so a window sum carries ~1 ulp of its own size, not of the running total.
* :func:`subset_rank_median` / :func:`complement_rank_median`: numpy's median of a subset of a
  sorted row (or of the row without a subset) from the subset's ranks, by counting passes over
  the subset's points -- rank counting, not wavelet-matrix queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from jaxvet.core.order_stats import from_order_key, median_of_kth, order_key

__all__ = [
    "RangeIndex",
    "build_range_index",
    "range_kth",
    "range_median",
    "ranges_kth",
    "ranges_median",
    "PrefixSums",
    "build_prefix_sums",
    "range_sums",
    "subset_rank_median",
    "complement_rank_median",
]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class RangeIndex:
    """Wavelet matrix of (L, N) rows: ``sorted_vals`` ascending (invalid last, +inf),
    ``zeros`` (L, bits, N + 1) prefix counts of zero bits per level, ``n_zeros`` (L, bits) and
    ``valid_cum`` (L, N + 1) prefix counts of valid entries."""

    sorted_vals: jax.Array
    zeros: jax.Array
    n_zeros: jax.Array
    valid_cum: jax.Array


def _n_bits(n: int) -> int:
    return max(1, int(n - 1).bit_length())


def _levels(rank, bits: int):
    """Per level (highest bit first): prefix counts of zero bits (N + 1,) and their total."""
    n = rank.shape[0]
    zeros, totals = [], []
    v = rank
    for b in range(bits - 1, -1, -1):
        bit = (v >> b) & 1
        z = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(1 - bit, dtype=jnp.int32)])
        nz = z[-1]
        pos = jnp.where(bit == 0, z[:-1], nz + jnp.arange(n, dtype=jnp.int32) - z[:-1])
        v = jnp.zeros_like(v).at[pos].set(v)
        zeros.append(z)
        totals.append(nz)
    return jnp.stack(zeros), jnp.stack(totals)


@jax.jit
def build_range_index(values, valid) -> RangeIndex:
    """The :class:`RangeIndex` of rows ``values`` (L, N) restricted to ``valid`` (L, N).

    Equal values share a rank (the position of the first of them in the sorted row): one sort
    of the integer order keys and a binary search per entry, instead of a float argsort."""
    n = values.shape[1]
    key = order_key(jnp.where(valid, values, jnp.inf))
    skey = jnp.sort(key, axis=1)
    rank = jax.vmap(lambda s, k: jnp.searchsorted(s, k, side="left"))(skey, key).astype(jnp.int32)
    zeros, n_zeros = jax.vmap(lambda r: _levels(r, _n_bits(n)))(rank)
    cum = jnp.concatenate(
        [jnp.zeros((values.shape[0], 1), jnp.int32), jnp.cumsum(valid, axis=1, dtype=jnp.int32)], axis=1
    )
    return RangeIndex(from_order_key(skey, values.dtype), zeros, n_zeros, cum)


def _descend(index: RangeIndex, rrow, lo, hi, k, count, spread):
    """Value index of the ``k``-th smallest entry, descending the wavelet matrix one bit per
    level.  ``rrow``, ``lo``, ``hi``: the ranges' rows and bounds; ``count(z)`` turns the ranges'
    zero-bit counts ``z`` into one count per query (shape of ``k``), ``spread(x)`` a per-query
    boolean back onto the ranges."""
    _, bits, width = index.zeros.shape
    zeros = index.zeros.reshape(-1)  # flat 1-D reads (cheaper gathers on CPU back ends)
    n_zeros = index.n_zeros.reshape(-1)

    def level(lev, carry):  # a loop, not unrolled: XLA would re-fuse (and recompute) the chain
        lo, hi, k, val = carry
        base = (rrow * bits + lev) * width
        zl, zr = zeros[base + lo], zeros[base + hi]
        nz = count(zr - zl)
        go0 = k < nz
        go = spread(go0)
        tot = n_zeros[rrow * bits + lev]
        bit = jnp.left_shift(jnp.int32(1), bits - 1 - lev)
        return (
            jnp.where(go, zl, tot + lo - zl),
            jnp.where(go, zr, tot + hi - zr),
            jnp.where(go0, k, k - nz),
            jnp.where(go0, val, val | bit),
        )

    return jax.lax.fori_loop(0, bits, level, (lo, hi, k, jnp.zeros_like(k)))[3]


def range_kth(index: RangeIndex, row, lo, hi, k):
    """The ``k``-th smallest (0-based) valid value of ``index`` row ``row`` in ``[lo, hi)``
    (all int arrays broadcast together; ``k`` must be below the range's valid count)."""
    row, lo, hi, k = jnp.broadcast_arrays(*(jnp.asarray(x, jnp.int32) for x in (row, lo, hi, k)))
    width = index.zeros.shape[2]
    same = lambda x: x  # noqa: E731
    val = _descend(index, row, lo, hi, k, same, same)
    return index.sorted_vals.reshape(-1)[row * (width - 1) + val]


def range_median(index: RangeIndex, row, lo, hi):
    """numpy's median of the valid values of row ``row`` in ``[lo, hi)`` and their count
    (median NaN when the range holds none); arrays broadcast together."""
    n = index.valid_cum[row, hi] - index.valid_cum[row, lo]
    kth = lambda k: range_kth(index, row, lo, hi, jnp.clip(k, 0, None))  # noqa: E731
    return median_of_kth(kth, n), n


def ranges_kth(index: RangeIndex, row, lo, hi, sign, group, k):
    """The ``k``-th smallest (0-based) valid value of each group's union of ranges.

    ``lo``, ``hi``, ``sign`` (+1 or -1) and ``group`` are (F,) arrays of ranges ``[lo, hi)`` of
    rows ``row[group]``; ``row`` and ``k`` are (G,).  A group's signed ranges must add up to a
    set (each point counted 0 or 1 times); ``k`` must be below its valid count.  Ranges with a
    ``group`` outside ``[0, G)`` are ignored."""
    n_groups = k.shape[0]
    width = index.zeros.shape[2]
    g = jnp.clip(group, 0, n_groups - 1)
    rrow = jnp.asarray(row, jnp.int32)[g]
    live = (group >= 0) & (group < n_groups)
    sgn = jnp.where(live, sign, 0).astype(jnp.int32)

    def count(z):
        return jax.ops.segment_sum(sgn * z, g, num_segments=n_groups)

    lo, hi = jnp.asarray(lo, jnp.int32), jnp.asarray(hi, jnp.int32)
    val = _descend(index, rrow, lo, hi, k.astype(jnp.int32), count, lambda x: x[g])
    return index.sorted_vals.reshape(-1)[jnp.asarray(row, jnp.int32) * (width - 1) + val]


def ranges_median(index: RangeIndex, row, lo, hi, sign, group):
    """numpy's median of each group's union of signed ranges (see :func:`ranges_kth`) and its
    valid count; ``row`` (G,) gives the groups (median NaN for an empty union)."""
    n_groups = row.shape[0]
    g = jnp.clip(group, 0, n_groups - 1)
    live = (group >= 0) & (group < n_groups)
    cum = index.valid_cum[jnp.asarray(row, jnp.int32)[g]]
    cnt = jnp.take_along_axis(cum, hi[:, None], 1)[:, 0] - jnp.take_along_axis(cum, lo[:, None], 1)[:, 0]
    n = jax.ops.segment_sum(jnp.where(live, sign * cnt, 0), g, num_segments=n_groups)
    kth = lambda k: ranges_kth(index, row, lo, hi, sign, group, jnp.clip(k, 0, None))  # noqa: E731
    return median_of_kth(kth, n), n


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PrefixSums:
    """Double-double prefix sums ``hi + lo`` (L, N + 1, C) of C value channels of (L, N) rows
    (entry ``i`` sums points ``0 .. i - 1``)."""

    hi: jax.Array
    lo: jax.Array


def _dd_add(a, b):
    """Double-double addition of ``(hi, lo)`` pairs (two-sum, then a fast renormalisation)."""
    ah, al = a
    bh, bl = b
    s = ah + bh
    bb = s - ah
    err = (ah - (s - bb)) + (bh - bb)
    low = (al + bl) + err
    h = s + low
    return h, low - (h - s)


@jax.jit
def build_prefix_sums(values) -> PrefixSums:
    """:class:`PrefixSums` of ``values`` (L, N, C) along N (mask invalid points to 0 first)."""
    v = jnp.asarray(values, jnp.float64)
    hi, lo = jax.lax.associative_scan(_dd_add, (v, jnp.zeros_like(v)), axis=1)
    pad = jnp.zeros_like(v[:, :1])
    return PrefixSums(jnp.concatenate([pad, hi], 1), jnp.concatenate([pad, lo], 1))


def range_sums(ps: PrefixSums, row, lo, hi):
    """Sums (..., C) of the channels over points ``[lo, hi)`` of rows ``row`` (int arrays
    broadcast together): one ulp of the window's own size."""
    n = ps.hi.shape[1]
    c = ps.hi.shape[2]
    hflat, lflat = ps.hi.reshape(-1, c), ps.lo.reshape(-1, c)
    a = jnp.asarray(row, jnp.int32) * n + jnp.asarray(lo, jnp.int32)
    b = jnp.asarray(row, jnp.int32) * n + jnp.asarray(hi, jnp.int32)
    return (hflat[b] - hflat[a]) + (lflat[b] - lflat[a])


def _first_rank(count_at, n_bits: int, k, n_total):
    """Smallest ``r`` in ``[0, n_total)`` with ``count_at(r) >= k + 1`` (``count_at`` non-decreasing
    in ``r``; (B,) arrays), by bisection on the rank value: ``n_bits`` counting passes."""
    lo = jnp.zeros_like(k)
    hi = jnp.maximum(n_total - 1, 0).astype(k.dtype)

    def step(_, lh):
        lo, hi = lh
        mid = (lo + hi) // 2
        ok = count_at(mid) >= k + 1
        return jnp.where(ok, lo, mid + 1), jnp.where(ok, mid, hi)

    return jax.lax.fori_loop(0, n_bits, step, (lo, hi))[0]


def subset_rank_median(rank, sel, n_points: int):
    """numpy's median of a subset of a sorted row, by ranks: ``rank`` (B, M) are the positions of
    points in their ascending light-curve row (distinct), ``sel`` (B, M) the subset.  Returns
    ``(rank_lo, rank_hi, n)``: the ranks of the two middle values (equal for an odd count) and the
    subset size; read the values from the sorted row and average them.  ``n_points`` (static)
    bounds the ranks.  Counting passes over the M points instead of a sort."""
    n = jnp.sum(sel, axis=1, dtype=jnp.int32)
    k = jnp.maximum(n - 1, 0) // 2
    cnt = lambda r: jnp.sum(sel & (rank <= r[:, None]), axis=1, dtype=jnp.int32)  # noqa: E731
    lo = _first_rank(cnt, _n_bits(n_points) + 1, k, jnp.full_like(n, n_points))
    nxt = jnp.min(jnp.where(sel & (rank > lo[:, None]), rank, n_points), axis=1)
    return lo, jnp.where(n % 2 == 1, lo, nxt), n


def complement_rank_median(rank, excluded, n_total, n_points: int):
    """:func:`subset_rank_median` of the complement: the points of a whole row of ``n_total`` (B,)
    valid points except the ``excluded`` (B, M) ones (ranks ``rank``).  Returns
    ``(rank_lo, rank_hi, n_remaining)``."""
    n_ex = jnp.sum(excluded, axis=1, dtype=jnp.int32)
    n = n_total - n_ex
    k = jnp.maximum(n - 1, 0) // 2

    def kept_at(r):  # points kept with rank <= r
        return r + 1 - jnp.sum(excluded & (rank <= r[:, None]), axis=1, dtype=jnp.int32)

    lo = _first_rank(kept_at, _n_bits(n_points) + 1, k, n_total)
    hi = _first_rank(kept_at, _n_bits(n_points) + 1, jnp.minimum(k + 1, jnp.maximum(n - 1, 0)), n_total)
    return lo, jnp.where(n % 2 == 1, lo, hi), n
