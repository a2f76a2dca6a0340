"""Robust flux-weighted centroids of cadence sets and the ranks of resample medians (V08's kernels).

The in-transit set (tens to hundreds of cadences) is handled with direct masked statistics
(:func:`robust_small`); the out-of-transit set (thousands) as "the stamp's sorted centroids minus
a few removed ranks" (:func:`robust_large`, exact order statistics from
:mod:`jaxvet.core.pixels`).  Both follow the reference's estimator: with >= 5 centroids, drop
points with ``|x - med| > sigma * 1.4826 MAD`` in either axis (std when the MAD is 0); with >= 3
left, the median centroid and its standard error ``1.4826 MAD / sqrt(n) * sqrt(pi/2)`` (the
efficiency of the median for normal errors; Batalha et al. 2010, ApJ 713, L103; Bryson et al.
2013, PASP 125, 889).  :func:`median_ranks` draws the ranks of a bootstrap resample's median
from their normal limit (the order-statistic distribution ``U_(k) ~ Beta(k, n - k + 1)``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core import pixels as px
from jaxvet.core.stats import MAD_TO_SIGMA, masked_median, masked_std

__all__ = ["centroid_summary", "robust_small", "robust_large", "normal_bm", "median_ranks"]

# ---------------------------------------------------------------------------------------------
# in-transit (small) set: direct masked statistics
# ---------------------------------------------------------------------------------------------
def centroid_summary(c, scaled_mad, n, nk) -> dict:
    """Median centroid ``c`` and its standard error ``1.4826 MAD sqrt(pi/2) / sqrt(n_kept)`` (the
    efficiency of the median for normal errors), NaN with fewer than 3 cadences or 3 kept."""
    sq = jnp.sqrt(jnp.maximum(nk, 1).astype(jnp.float64))
    se = scaled_mad / sq * math.sqrt(math.pi / 2)
    good = (n >= 3) & (nk >= 3)
    return dict(
        c=jnp.where(good, c, jnp.nan),
        se=jnp.where(good, se, jnp.nan),
        n=n,
        nk=jnp.where(n >= 3, nk, n),
        n_rej=jnp.where(n >= 3, n - nk, 0),
    )


def robust_small(c2, m, sigma):
    """Reference robust centroid of a small set: ``c2`` (2, S) x/y values, ``m`` (S,) mask."""
    n = jnp.sum(m, dtype=jnp.int32)
    mm = jnp.broadcast_to(m, c2.shape)
    med = masked_median(c2, mm)
    mad = 1.4826 * masked_median(jnp.abs(c2 - med[:, None]), mm)
    mad = jnp.where(mad <= 0, masked_std(c2, mm), mad)
    ok = jnp.abs(c2 - med[:, None]) <= sigma * mad[:, None]
    keep = m & ok[0] & ok[1]
    keep = jnp.where(n >= 5, keep, m)
    nk = jnp.sum(keep, dtype=jnp.int32)
    kk = jnp.broadcast_to(keep, c2.shape)
    c = masked_median(c2, kk)
    mad = masked_median(jnp.abs(c2 - c[:, None]), kk)
    return dict(**centroid_summary(c, MAD_TO_SIGMA * mad, n, nk), keep=keep & ((n >= 3) & (nk >= 3)))


# ---------------------------------------------------------------------------------------------
# out-of-transit (large) set: sorted-once order statistics with removed ranks, x/y as lanes
# ---------------------------------------------------------------------------------------------
_AX4 = np.array([0, 0, 1, 1], np.int32)  # lane -> axis for (x q1, x q2, y q1, y q2)


def robust_large(st, k, excl_rank, excl_m, excl_c, n, sigma, *, k_extra, n_bits):
    """Reference robust estimate over "stamp centroid set minus removed ranks" (exact).

    ``excl_rank`` (2, M) ranks of the removed cadences in the sorted x / y centroids,
    ``excl_m`` (M,), ``excl_c`` (2, M) their centroids; ``n`` the size of the remaining set.
    """
    tcap = st.csort.shape[2] - 1
    ax4 = jnp.asarray(_AX4)
    kind4 = jnp.asarray([0, 1, 0, 1], jnp.int32)
    em2 = jnp.broadcast_to(excl_m, excl_rank.shape)
    g, _ = px.exclusion_g(excl_rank, em2)  # (2, M)

    def val(gg, axis, r):
        pos = px.kth_remaining(gg[axis], r)
        return st.csort[k, axis, jnp.clip(pos, 0, tcap)]

    z4 = jnp.zeros(4, jnp.int32)
    n4 = jnp.full(4, n, jnp.int32)
    q1, q2 = (n - 1) // 2, n // 2
    q4 = jnp.stack([q1, q2, q1, q2])
    v = val(g, ax4, q4)
    m = 0.5 * (v[0::2] + v[1::2])  # (2,) medians
    d = px.kth_distance(lambda r: val(g, ax4, r), z4, n4, m[ax4], q4, n_bits)
    mad = 1.4826 * (0.5 * (d[0::2] + d[1::2]))
    # std fallback (population std of the set) from stamp sums minus the removed entries
    nf = jnp.maximum(n, 1).astype(jnp.float64)
    dd = jnp.where(em2, excl_c - st.cref[k][:, None], 0.0)
    a1 = st.cs1[k] - jnp.sum(dd, axis=1)
    a2 = st.cs2[k] - jnp.sum(dd * dd, axis=1)
    std = jnp.sqrt(jnp.maximum(a2 / nf - (a1 / nf) ** 2, 0.0))
    mad = jnp.where(mad <= 0, std, mad)
    th = sigma * mad
    do_rej = n >= 5

    # clipping ranges [a, b) per axis: a = first r not a low outlier, b = first high outlier
    def pred(r):
        x = val(g, ax4, r)
        low = (m[ax4] - x) > th[ax4]
        notr = ~((x - m[ax4]) > th[ax4])
        return jnp.where(kind4 == 0, low, notr)

    bnd = px.lower_bound(pred, z4, n4, n_bits)
    a = jnp.where(do_rej, bnd[0::2], 0)  # (2,) [a_x, a_y]
    b = jnp.where(do_rej, bnd[1::2], n)
    # points clipped on the *other* axis but kept on this one, enumerated from the sorted tails
    tax = jnp.asarray([0, 1], jnp.int32)
    oax = 1 - tax
    i = jnp.arange(k_extra, dtype=jnp.int32)
    a_o, b_o = a[oax], b[oax]
    r = jnp.concatenate([jnp.broadcast_to(i, (2, k_extra)), b_o[:, None] + i], axis=1)  # (2, 2K)
    rv = jnp.concatenate([i[None, :] < a_o[:, None], (b_o[:, None] + i) < n], axis=1) & do_rej
    pos = jax.vmap(px.kth_remaining_many)(g[oax], r)
    cad = st.cperm[k, oax[:, None], jnp.clip(pos, 0, tcap)]
    cv = st.cc[k, tax[:, None], cad]
    kept = ~((m[:, None] - cv) > th[:, None]) & ~((cv - m[:, None]) > th[:, None])
    exm = rv & kept
    overflow = do_rej & jnp.any((a_o > k_extra) | ((n - b_o) > k_extra))
    g2, _ = px.exclusion_g(
        jnp.concatenate([excl_rank, st.crank[k, tax[:, None], cad]], axis=1),
        jnp.concatenate([em2, exm], axis=1),
    )
    nk2 = b - a - jnp.sum(exm, axis=1, dtype=jnp.int32)
    nk = nk2[0]
    p1, p2 = (nk - 1) // 2, nk // 2
    p4 = jnp.stack([p1, p2, p1, p2])
    u = val(g2, ax4, a[ax4] + p4)
    c = 0.5 * (u[0::2] + u[1::2])
    dk = px.kth_distance(lambda rr: val(g2, ax4, rr), a[ax4], jnp.full(4, nk), c[ax4], p4, n_bits)
    return dict(
        **centroid_summary(c, MAD_TO_SIGMA * (0.5 * (dk[0::2] + dk[1::2])), n, nk),
        overflow=overflow,
        consistent=(nk2[0] == nk2[1]),
        g2=g2,
        a=a,
        m=m,
        th=th,
        do_rej=do_rej,
    )


def normal_bm(u1, u2):
    """Box-Muller standard normals from two uniform arrays in [0, 1)."""
    return jnp.sqrt(-2.0 * jnp.log1p(-u1)) * jnp.cos(2.0 * math.pi * u2)


def median_ranks(z, e, n):
    """Ranks (0-based, in the sorted sample) of the two middle order statistics of a resample.

    The k-th order statistic of a size-n resample of n sorted values sits at rank
    ``ceil(n U_(k)) - 1`` with ``U_(k) ~ Beta(k, n - k + 1)``; for the median this is
    ``n U ~ N(n k/(n + 1), n/4)`` (normal limit of the binomial), and the next order statistic
    is ``n (1 - U) Beta(1, n - k) ~ Exp(1)`` ranks further (used for even n).
    ``z``: standard normals, ``e``: unit exponentials.
    """
    nf = jnp.maximum(n, 1).astype(jnp.float64)
    k1 = ((n - 1) // 2 + 1).astype(jnp.float64)
    t1 = nf * k1 / (nf + 1.0) + z * jnp.sqrt(nf) / 2.0
    t2 = jnp.where(n % 2 == 0, t1 + e, t1)
    top = jnp.maximum(n - 1, 0)
    j1 = jnp.clip(jnp.ceil(t1).astype(jnp.int32) - 1, 0, top)
    j2 = jnp.clip(jnp.ceil(t2).astype(jnp.int32) - 1, 0, top)
    return j1, j2
