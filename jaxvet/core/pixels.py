"""Pure pixel kernels: padded stamp batches, per-stamp pixel statistics, and order statistics of
"a sorted series minus a few removed ranks".

:class:`PixelBatch` holds K stamps padded to T cadences x P pixels (valid cadences packed first
in time order, pixels flattened row-major).  :func:`pixel_stats` precomputes, once per stamp,
what every candidate shares: per-cadence flux-weighted centroids (sorted, with ranks), every
pixel's time series sorted (with ranks), a point-to-point noise estimate per pixel and the
stamp's maximum flux.  Flux-weighted centroids follow the first-moment definition used for
Kepler/TESS centroid tests (Batalha et al. 2010, ApJ 713, L103; Bryson et al. 2013, PASP 125,
889).

Candidate-specific statistics over the *out-of-transit* cadences (thousands per sector) are
computed without re-sorting anything per candidate: the out-of-transit set is "all valid
cadences minus a small excluded set", and the k-th remaining order statistic of a sorted array
with M ranks removed is found in O(log M) (:func:`kth_remaining`, the identity behind
:func:`jaxvet.core.stats.median_excluding`) or, per pixel, by a bisection that counts removed
ranks (:func:`kth_remaining_count`).  Median absolute deviations use the sorted-array "k closest
elements" search (:func:`kth_distance`), so an exact numpy-equal MAD costs O(log N log M).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.stats import masked_median

__all__ = [
    "PixelBatch",
    "PixelStats",
    "pixel_stats",
    "exclusion_g",
    "kth_remaining",
    "kth_remaining_many",
    "kth_remaining_count",
    "kth_distance",
    "compact",
    "frames_median",
    "median_excluding_frames",
    "lower_bound",
    "inverse_variance_combine",
    "jackknife_centroid",
    "summed_set_deficit",
    "offset_stats",
    "localize_deficit",
]

_BIG = np.int32(2**30)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PixelBatch:
    """K stamps padded to T cadences x P pixels (valid cadences packed first, time order).

    ``flux`` is NaN on missing pixels, padding cadences and padding pixels; ``row``/``col`` are
    the 0-based pixel coordinates of each flattened pixel (row-major); ``pix_mask`` marks real
    pixels, ``aperture`` the pipeline aperture (all False when the stamp has none).
    """

    time: jax.Array  # (K, T)
    flux: jax.Array  # (K, T, P)
    mask: jax.Array  # (K, T) bool
    n_valid: jax.Array  # (K,) int32
    row: jax.Array  # (K, P)
    col: jax.Array  # (K, P)
    pix_mask: jax.Array  # (K, P) bool
    aperture: jax.Array  # (K, P) bool
    n_rows: jax.Array  # (K,) int32
    n_cols: jax.Array  # (K,) int32

    @property
    def n_stamps(self) -> int:
        return int(self.time.shape[0])

    @property
    def n_cadences(self) -> int:
        return int(self.time.shape[1])

    @property
    def n_pixels(self) -> int:
        return int(self.flux.shape[2])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PixelStats:
    """Per-stamp precomputations shared by every candidate (see :func:`pixel_stats`).

    Centroid arrays are stacked over the two axes: index 0 is x (column), 1 is y (row).
    """

    cc: jax.Array  # (K, 2, T) per-cadence centroid (x, y); 0 where invalid
    cval: jax.Array  # (K, T) bool: valid cadence with a valid centroid
    n_c: jax.Array  # (K,) int32
    csort: jax.Array  # (K, 2, T) centroids sorted over cval (+inf padding)
    cperm: jax.Array  # (K, 2, T) int32 cadence index of each sorted entry
    crank: jax.Array  # (K, 2, T) int32 rank of each cadence in csort (>= n_c when not in cval)
    cref: jax.Array  # (K, 2) shift for the centroid sums (a middle centroid)
    cs1: jax.Array  # (K, 2) sum(c - cref) over cval
    cs2: jax.Array  # (K, 2) sum((c - cref)^2)
    vs: jax.Array  # (K, P, T) pixel values sorted over valid finite cadences (+inf padding)
    rank_p: jax.Array  # (K, P, T) int32 rank of cadence t in vs[k, p]
    n_fin: jax.Array  # (K, P) int32 finite values per pixel
    sigma_pix: jax.Array  # (K, P) point-to-point robust noise per cadence
    max_flux: jax.Array  # (K,) nanmax of the valid cube


def _ranks_of(order):
    n = order.shape[-1]
    return jnp.zeros_like(order).at[order].set(jnp.arange(n, dtype=order.dtype))


@jax.jit
def pixel_stats(pb: PixelBatch) -> PixelStats:
    """Per-stamp precomputation shared by every candidate (the reference's centroid definition).

    Centroid per cadence: NaN -> 0, negatives clipped to 0, the frame's raw ``nansum`` must be
    finite and > 0 and the weight sum > 0; ``x = sum(col w)/sum(w)``, ``y = sum(row w)/sum(w)``.
    ``sigma_pix`` = 1.4826 MAD of first differences / sqrt(2) over consecutive valid cadences.
    """

    def one(flux, mask, row, col, pix_mask):
        fin = jnp.isfinite(flux) & mask[:, None]
        raw = jnp.sum(jnp.where(fin, flux, 0.0), axis=1)
        w = jnp.where(fin, jnp.maximum(flux, 0.0), 0.0)
        ws = jnp.sum(w, axis=1)
        ok = mask & jnp.isfinite(raw) & (raw > 0) & (ws > 0)
        safe = jnp.where(ok, ws, 1.0)
        cx = jnp.sum(w * jnp.where(pix_mask, col, 0.0)[None, :], axis=1) / safe
        cy = jnp.sum(w * jnp.where(pix_mask, row, 0.0)[None, :], axis=1) / safe
        ok = ok & jnp.isfinite(cx) & jnp.isfinite(cy)
        cc = jnp.where(ok[None, :], jnp.stack([cx, cy]), 0.0)  # (2, T)
        n_c = jnp.sum(ok, dtype=jnp.int32)
        key = jnp.where(ok[None, :], cc, jnp.inf)
        cperm = jnp.argsort(key, axis=1, stable=True).astype(jnp.int32)
        csort = jnp.take_along_axis(key, cperm, axis=1)
        cref = jnp.where(n_c > 0, csort[:, jnp.maximum(n_c - 1, 0) // 2], 0.0)
        dref = jnp.where(ok[None, :], cc - cref[:, None], 0.0)
        # pixel time series
        fv = jnp.where(fin, flux, jnp.inf).T  # (P, T)
        order = jnp.argsort(fv, axis=1, stable=True).astype(jnp.int32)
        vs = jnp.take_along_axis(fv, order, axis=1)
        n_fin = jnp.sum(fin, axis=0, dtype=jnp.int32)
        # point-to-point noise
        d = (flux[1:] - flux[:-1]).T  # (P, T-1)
        dm = (fin[1:] & fin[:-1]).T
        nd = jnp.sum(dm, axis=1, dtype=jnp.int32)
        med = masked_median(d, dm)
        sig = 1.4826 * masked_median(jnp.abs(d - med[:, None]), dm) / jnp.sqrt(2.0)
        return dict(
            cc=cc,
            cval=ok,
            n_c=n_c,
            csort=csort,
            cperm=cperm,
            crank=jax.vmap(_ranks_of)(cperm),
            cref=cref,
            cs1=jnp.sum(dref, axis=1),
            cs2=jnp.sum(dref * dref, axis=1),
            vs=vs,
            rank_p=jax.vmap(_ranks_of)(order),
            n_fin=n_fin,
            sigma_pix=jnp.where(nd >= 2, sig, jnp.nan),
            max_flux=jnp.max(jnp.where(fin, flux, -jnp.inf)),
        )

    out = jax.vmap(one)(pb.flux, pb.mask, pb.row, pb.col, pb.pix_mask)
    return PixelStats(**out)


# ---------------------------------------------------------------------------------------------
# order statistics of "sorted array minus a few removed ranks"
# ---------------------------------------------------------------------------------------------
def exclusion_g(ranks, mask):
    """Sorted removed ranks minus their position: ``g_i = R_(i) - i`` (padding = large).

    With ``g``, the r-th remaining element (0-based) of the sorted array sits at position
    ``r + #{i: g_i <= r}`` (:func:`kth_remaining`).  ``ranks`` must be distinct where ``mask``.
    Sorts along the last axis; returns ``(g, m)`` with ``m`` the number of removed ranks.
    """
    r = jnp.sort(jnp.where(mask, ranks, _BIG).astype(jnp.int32), axis=-1)
    g = r - jnp.arange(r.shape[-1], dtype=jnp.int32)
    g = jnp.where(r >= _BIG, _BIG, g)
    return g, jnp.sum(mask, axis=-1, dtype=jnp.int32)


def kth_remaining(g, r):
    """Position of the r-th remaining element: ``r + #{i: g_i <= r}``.

    ``g`` is (..., M) and ``r`` (...,) (one query per row, counted by comparison: cheap for the
    few queries of a binary search).  For many queries against one row use
    :func:`kth_remaining_many`.
    """
    return r + jnp.sum(g <= r[..., None], axis=-1, dtype=jnp.int32)


def kth_remaining_many(g, r):
    """As :func:`kth_remaining` for a 1-D ``g`` and many queries ``r`` (binary search)."""
    return r + jnp.searchsorted(g, r, side="right", method="scan").astype(jnp.int32)


def kth_remaining_count(excl_ranks, excl_mask, k, n_total):
    """Position of the k-th remaining element by bisection, counting removed ranks directly.

    For many independent rows (e.g. one per pixel) where sorting each row's removed ranks would
    cost more than counting: the answer lies in ``[k, k + M]``; ``ceil(log2(M + 1)) + 1`` probes,
    each counting ``#{removed ranks <= p}`` over the (unsorted) removed set.
    ``excl_ranks``/``excl_mask`` are (..., M); ``k`` and ``n_total`` broadcast to (...).
    Returns positions (clipped to ``n_total - 1``).
    """
    m = excl_ranks.shape[-1]
    lo = k.astype(jnp.int32)
    hi = jnp.minimum(k + m, jnp.maximum(n_total - 1, 0)).astype(jnp.int32)
    hi = jnp.maximum(hi, lo)
    n_iter = max(1, int(math.ceil(math.log2(m + 1))) + 1)

    def body(_, carry):
        lo, hi = carry
        mid = (lo + hi) // 2
        removed = jnp.sum(excl_mask & (excl_ranks <= mid[..., None]), axis=-1, dtype=jnp.int32)
        ok = (mid + 1 - removed) >= (k + 1)
        return jnp.where(ok, lo, mid + 1), jnp.where(ok, mid, hi)

    lo, hi = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    return jnp.minimum(lo, jnp.maximum(n_total - 1, 0))


def kth_distance(value_at, lo0, n, center, q, n_bits: int):
    """q-th smallest ``|x - center|`` (0-based, numpy float semantics) over ``n`` sorted values.

    Vectorised over lanes: every argument may be an array of the same shape (L,).
    ``value_at(r)`` returns, per lane, the value at remaining-rank ``r`` (ascending); the lane's
    set is the contiguous range ``[lo0, lo0 + n)``.  Binary search for the start ``L`` of the
    window of the ``q + 1`` values nearest ``center`` (the "k closest elements" search on a
    sorted array); the answer is ``max(center - x_L, x_{L+q} - center)``.  NaN when ``q >= n``.
    """
    lo = lo0
    hi = lo0 + jnp.maximum(n - q - 1, 0)
    top = lo0 + jnp.maximum(n - 1, 0)

    def body(_, carry):
        lo, hi = carry
        active = lo < hi
        mid = (lo + hi) // 2
        a = value_at(mid)
        b = value_at(jnp.minimum(mid + q + 1, top))
        right = (center - a) > (b - center)
        return jnp.where(active & right, mid + 1, lo), jnp.where(active & ~right, mid, hi)

    lo, _ = jax.lax.fori_loop(0, n_bits, body, (lo, hi))
    d = jnp.maximum(center - value_at(lo), value_at(jnp.minimum(lo + q, top)) - center)
    return jnp.where(q < n, d, jnp.nan)


def compact(mask, width: int):
    """Indices of the first ``width`` True entries along the last axis, in order, and their mask.

    O(S) by a cumulative sum and a scatter (no sort): entry ``j`` of the result is the index of
    the ``j``-th True entry; slots beyond the number of True entries hold 0 with mask False.
    """
    s = mask.shape[-1]
    pos = jnp.cumsum(mask, axis=-1, dtype=jnp.int32) - 1
    tgt = jnp.where(mask & (pos < width), pos, width)
    src = jnp.broadcast_to(jnp.arange(s, dtype=jnp.int32), mask.shape)

    def one(t, v):
        return jnp.zeros(width + 1, jnp.int32).at[t].set(v)[:width]

    flat_t = tgt.reshape(-1, s)
    flat_v = src.reshape(-1, s)
    out = jax.vmap(one)(flat_t, flat_v).reshape(mask.shape[:-1] + (width,))
    n = jnp.sum(mask, axis=-1, dtype=jnp.int32)
    valid = jnp.arange(width, dtype=jnp.int32) < n[..., None]
    return jnp.where(valid, out, 0), valid


def frames_median(flux_k, idx, m):
    """Per-pixel nanmedian of the frames ``idx[m]`` of one stamp's ``flux_k`` (T, P): (P,)
    medians and finite counts (NaN, 0 for a pixel with no finite value)."""
    pix = jnp.arange(flux_k.shape[1])
    v = flux_k[idx[:, None], pix[None, :]]  # (M, P)
    mv = m[:, None] & jnp.isfinite(v)
    return masked_median(v.T, mv.T), jnp.sum(mv, axis=0, dtype=jnp.int32)


def median_excluding_frames(vs_k, rank_k, n_fin_k, idx, m):
    """Per-pixel nanmedian of every valid cadence except the frames ``idx[m]``, from one
    stamp's sorted pixel series (:class:`PixelStats` ``vs``/``rank_p``/``n_fin`` rows): (P,)
    medians and remaining counts, without sorting anything per call (:func:`kth_remaining_count`)."""
    pix = jnp.arange(vs_k.shape[0])
    rp = rank_k[pix[:, None], idx[None, :]]  # (P, M)
    em = m[None, :] & (rp < n_fin_k[:, None])
    nrem = n_fin_k - jnp.sum(em, axis=1, dtype=jnp.int32)
    p1 = kth_remaining_count(rp, em, (nrem - 1) // 2, n_fin_k)
    p2 = kth_remaining_count(rp, em, nrem // 2, n_fin_k)
    return jnp.where(nrem > 0, 0.5 * (vs_k[pix, p1] + vs_k[pix, p2]), jnp.nan), nrem


def lower_bound(pred, lo, hi, n_bits: int):
    """Vectorised binary search: first r in [lo, hi) with ``pred(r)`` False (pred True on a prefix)."""

    def body(_, c):
        lo, hi = c
        active = lo < hi
        mid = (lo + hi) // 2
        t = pred(mid)
        return jnp.where(active & t, mid + 1, lo), jnp.where(active & ~t, mid, hi)

    lo, _ = jax.lax.fori_loop(0, n_bits, body, (lo, hi))
    return lo


# ---------------------------------------------------------------------------------------------
# difference-image statistics (Bryson et al. 2013, PASP 125, 889)
# ---------------------------------------------------------------------------------------------
def inverse_variance_combine(d_e, s_e, o_e, bad, axis=0):
    """Inverse-variance combination over epochs (``axis``) of per-epoch differences ``d_e``.

    ``bad`` marks unusable entries; returns (diff, sigma, oot) with sigma inflated by
    ``sqrt(max(1, chi2/(E - 1)))`` where >= 3 epochs contribute.
    """
    bad = bad | ~jnp.isfinite(s_e) | (s_e <= 0) | ~jnp.isfinite(d_e)
    w = jnp.where(bad, 0.0, 1.0 / jnp.where(bad, 1.0, s_e) ** 2)
    sw = jnp.sum(w, axis=axis)
    pos = sw > 0
    safe = jnp.where(pos, sw, 1.0)
    d0 = jnp.where(bad, 0.0, d_e)
    diff = jnp.where(pos, jnp.sum(w * d0, axis=axis) / safe, jnp.nan)
    oot = jnp.where(pos, jnp.sum(w * jnp.where(bad, 0.0, o_e), axis=axis) / safe, jnp.nan)
    sigma = jnp.where(pos, 1.0 / jnp.sqrt(safe), jnp.nan)
    nuse = jnp.sum(w > 0, axis=axis)
    chi2 = jnp.sum(w * (d0 - jnp.expand_dims(jnp.where(pos, diff, 0.0), axis)) ** 2, axis=axis)
    infl = jnp.where(nuse >= 3, jnp.sqrt(jnp.maximum(1.0, chi2 / jnp.maximum(nuse - 1, 1))), 1.0)
    return diff, sigma * infl, oot, w, d0


def jackknife_centroid(w, d0, pos, rr, cc):
    """Leave-one-epoch-out jackknife standard errors of the deficit centroid (row, col).

    ``w``/``d0`` (E, P) are the per-epoch weights and differences, ``pos`` the centroid pixels of
    the combined image.  Captures the correlated (pointing-jitter) noise that per-pixel errors
    miss.  NaN with fewer than 3 contributing epochs.
    """
    sw = jnp.sum(w, axis=0)
    swd = jnp.sum(w * d0, axis=0)
    sw_l = sw[None, :] - w  # (E, P) leave-one-out
    ok_l = sw_l > 0
    d_l = jnp.where(ok_l, (swd[None, :] - w * d0) / jnp.where(ok_l, sw_l, 1.0), 0.0)
    wt = jnp.where(pos[None, :] & ok_l, d_l, 0.0)
    W = jnp.sum(wt, axis=1)
    okW = W > 0
    Ws = jnp.where(okW, W, 1.0)
    cr = jnp.sum(wt * rr[None, :], axis=1) / Ws
    ccl = jnp.sum(wt * cc[None, :], axis=1) / Ws
    contrib = jnp.any(w * pos[None, :] > 0, axis=1) & okW  # epochs that feed the centroid pixels
    n = jnp.sum(contrib)
    nf = jnp.maximum(n, 1).astype(jnp.float64)
    mr = jnp.sum(jnp.where(contrib, cr, 0.0)) / nf
    mc = jnp.sum(jnp.where(contrib, ccl, 0.0)) / nf
    vr = (nf - 1.0) / nf * jnp.sum(jnp.where(contrib, (cr - mr) ** 2, 0.0))
    vc = (nf - 1.0) / nf * jnp.sum(jnp.where(contrib, (ccl - mc) ** 2, 0.0))
    good = n >= 3
    return jnp.where(good, jnp.sqrt(vr), jnp.nan), jnp.where(good, jnp.sqrt(vc), jnp.nan)


def summed_set_deficit(sets, vi, vo, mi, mo, usable, stat, c):
    """Local-baseline deficit of the summed flux of pixel sets ``sets`` (S, P) per epoch,
    inverse-variance combined: returns (diff, sigma, oot) (S,) and the summed series'
    point-to-point noise (S,).  ``vi``/``vo`` (E, W, P) in-transit and baseline frames with
    masks ``mi``/``mo`` (E, W); ``stat`` the median or mean, ``c`` its noise factor."""
    ci = jnp.sum(mi, axis=1, dtype=jnp.int32)
    co = jnp.sum(mo, axis=1, dtype=jnp.int32)
    fi = jnp.einsum("ewp,sp->sew", jnp.where(jnp.isfinite(vi), vi, 0.0), sets.astype(vi.dtype))
    fo = jnp.einsum("ewp,sp->sew", jnp.where(jnp.isfinite(vo), vo, 0.0), sets.astype(vo.dtype))
    dd = fo[:, :, 1:] - fo[:, :, :-1]
    dmask = jnp.broadcast_to((mo[:, 1:] & mo[:, :-1]), dd.shape).reshape(2, -1)
    ddf = dd.reshape(2, -1)
    med = masked_median(ddf, dmask)
    s_sum = 1.4826 * masked_median(jnp.abs(ddf - med[:, None]), dmask) / math.sqrt(2.0)  # (2,)
    ie = stat(fi, jnp.broadcast_to(mi, fi.shape))  # (2, E)
    oe = stat(fo, jnp.broadcast_to(mo, fo.shape))
    se = c * s_sum[:, None] * jnp.sqrt(1.0 / jnp.maximum(ci, 1) + 1.0 / jnp.maximum(co, 1))[None, :]
    bad = jnp.broadcast_to(~usable, oe.shape)
    d_l, sg_l, o_l, _, _ = inverse_variance_combine(oe - ie, se, oe, bad, axis=1)
    return d_l, sg_l, o_l, s_sum


def offset_stats(dr, dc, srow, scol):
    """Offset length, its standard error along the offset direction, and the significance."""
    dist = jnp.sqrt(dr**2 + dc**2)
    dsafe = jnp.where(dist > 0, dist, 1.0)
    sd = jnp.where(
        dist > 0,
        jnp.sqrt((dr / dsafe) ** 2 * srow**2 + (dc / dsafe) ** 2 * scol**2),
        jnp.sqrt(srow**2 + scol**2),
    )
    osig = jnp.where(sd > 0, dist / jnp.where(sd > 0, sd, 1.0), jnp.nan)
    return dict(offset_pixels=dist, offset_err=sd, offset_sigma=osig)


def localize_deficit(diff, sigma, oot, real, rr, cc, aperture, target_rc, radius, nr, nc):
    """Locate a difference image's flux deficit and the target on one stamp (Bryson et al. 2013).

    ``diff``/``sigma``/``oot`` (P,) the difference image, its per-pixel error and the
    out-of-transit image; ``real`` marks real pixels, ``rr``/``cc`` their (row, col), ``aperture``
    the pipeline aperture, ``target_rc`` (2,) the target's WCS pixel (NaN when unknown), ``radius``
    the centroid disk radius (pixels, traced), ``nr``/``nc`` the stamp shape.  Returns the peak,
    the deficit centroid with propagated errors, the target position (the same disk centroid on
    the background-subtracted out-of-transit image), their offset and the pixel sets of the
    summed-flux statistics.
    """
    nan = jnp.nan
    fd = real & jnp.isfinite(diff)
    pk = jnp.argmax(jnp.where(fd, diff, -jnp.inf))
    has = jnp.any(fd)
    pr, pc = rr[pk], cc[pk]
    near = real & ((rr - pr) ** 2 + (cc - pc) ** 2 <= radius**2)
    pos = near & fd & (diff > 0)
    w = jnp.where(pos, diff, 0.0)
    W = jnp.sum(w)
    okw = has & (W > 0)
    Ws = jnp.where(okw, W, 1.0)
    crow = jnp.sum(rr * w) / Ws
    ccol = jnp.sum(cc * w) / Ws
    s2 = jnp.where(pos, sigma, 0.0) ** 2
    srow = jnp.sqrt(jnp.sum(((rr - crow) / Ws) ** 2 * s2))
    scol = jnp.sqrt(jnp.sum(((cc - ccol) / Ws) ** 2 * s2))
    peak_snr = diff[pk] / sigma[pk]
    # target reference: the same disk centroid on the background-subtracted out-of-transit image,
    # centred on its brightest pixel next to the WCS position (when known) or in the aperture
    # (else within 2.5 px of the stamp centre) -- the same estimator as the deficit centroid, so
    # its pixel-grid bias cancels for an on-target signal
    use_wcs = jnp.all(jnp.isfinite(target_rc))
    trw = jnp.round(jnp.where(use_wcs, target_rc[0], 0.0))
    tcw = jnp.round(jnp.where(use_wcs, target_rc[1], 0.0))
    near_wcs = real & (jnp.abs(rr - trw) <= 1) & (jnp.abs(cc - tcw) <= 1)
    has_ap = jnp.any(aperture & real)
    disk = real & ((rr - (nr - 1) / 2.0) ** 2 + (cc - (nc - 1) / 2.0) ** 2 <= 2.5**2)
    region = jnp.where(use_wcs, near_wcs, jnp.where(has_ap, aperture & real, disk))
    fo = real & jnp.isfinite(oot)
    b = jnp.argmax(jnp.where(region & fo, oot, -jnp.inf))
    bkg = masked_median(oot, fo)
    box = fo & ((rr - rr[b]) ** 2 + (cc - cc[b]) ** 2 <= radius**2)
    wt = jnp.where(box, jnp.maximum(oot - bkg, 0.0), 0.0)
    swt = jnp.sum(wt)
    tr_o = jnp.where(swt > 0, jnp.sum(rr * wt) / jnp.where(swt > 0, swt, 1.0), rr[b])
    tc_o = jnp.where(swt > 0, jnp.sum(cc * wt) / jnp.where(swt > 0, swt, 1.0), cc[b])
    has_oot = jnp.any(region & fo)
    tr = jnp.where(has_oot, tr_o, nan)
    tc = jnp.where(has_oot, tc_o, nan)
    dr = jnp.where(okw, crow - tr, nan)
    dc = jnp.where(okw, ccol - tc, nan)
    ostats = offset_stats(dr, dc, jnp.where(okw, srow, nan), jnp.where(okw, scol, nan))
    # pixel sets for the summed-flux statistics: the centroid disk, and the aperture
    apset = jnp.where(has_ap, aperture & real, real & ((rr - tr) ** 2 + (cc - tc) ** 2 <= 2.0**2))
    edge = jnp.minimum(jnp.minimum(pr, pc), jnp.minimum(nr - 1 - pr, nc - 1 - pc))
    return dict(
        peak_index=jnp.where(has, pk, -1),
        peak_row=jnp.where(has, pr, nan),
        peak_col=jnp.where(has, pc, nan),
        peak_flux=jnp.where(has, diff[pk], nan),
        peak_snr=jnp.where(has, peak_snr, nan),
        peak_edge=jnp.where(has, edge, nan),
        centroid_row=jnp.where(okw, crow, nan),
        centroid_col=jnp.where(okw, ccol, nan),
        centroid_row_err=jnp.where(okw, srow, nan),
        centroid_col_err=jnp.where(okw, scol, nan),
        target_row=tr,
        target_col=tc,
        target_from_wcs=use_wcs,
        target_wcs_row=jnp.where(use_wcs, target_rc[0], nan),
        target_wcs_col=jnp.where(use_wcs, target_rc[1], nan),
        offset_row=dr,
        offset_col=dc,
        **ostats,
        peak_distance=jnp.where(has, jnp.sqrt((pr - tr) ** 2 + (pc - tc) ** 2), nan),
        near_set=near & has,
        pos_set=pos & okw,
        ap_set=apset,
    )


# ---------------------------------------------------------------------------------------------
# evidence guards of the pixel verdicts (saturation, number of transits and cadences)
# ---------------------------------------------------------------------------------------------
#: bits of :func:`evidence_bits`
TOO_FEW_TRANSITS, TOO_FEW_IN_TRANSIT, SATURATED = 1, 2, 4


@jax.jit
def pixel_medians(vs: jax.Array, n_fin: jax.Array, pix_mask: jax.Array) -> jax.Array:
    """Median flux of every pixel over its valid finite cadences, (K, P); NaN for padding pixels
    and pixels without a finite value.  ``vs`` (K, P, T) are the sorted series of
    :class:`PixelStats` (+inf padding), ``n_fin`` (K, P) their lengths."""
    top = vs.shape[-1] - 1
    i1 = jnp.clip((n_fin - 1) // 2, 0, top)[..., None]
    i2 = jnp.clip(n_fin // 2, 0, top)[..., None]
    med = 0.5 * (jnp.take_along_axis(vs, i1, axis=-1) + jnp.take_along_axis(vs, i2, axis=-1))[..., 0]
    return jnp.where(pix_mask & (n_fin > 0), med, jnp.nan)


def saturated_pixel_count(medians: jax.Array, level) -> jax.Array:
    """Pixels whose median flux is at or above ``level`` (traced, e-/s), per stamp: (K,) int32."""
    return jnp.sum(jnp.nan_to_num(medians, nan=-jnp.inf) >= level, axis=-1, dtype=jnp.int32)


def evidence_bits(n_transits, n_in, n_saturated, min_transits, min_in):
    """Why a pixel verdict cannot be trusted, as bits (0 = enough evidence).

    :data:`TOO_FEW_TRANSITS` when fewer than ``min_transits`` transits contribute in-transit
    cadences, :data:`TOO_FEW_IN_TRANSIT` when fewer than ``min_in`` in-transit cadences are used,
    :data:`SATURATED` when the stamp holds a saturated pixel.  Thresholds are traced.
    """
    few_t = jnp.where(n_transits < min_transits, TOO_FEW_TRANSITS, 0)
    few_c = jnp.where(n_in < min_in, TOO_FEW_IN_TRANSIT, 0)
    sat = jnp.where(n_saturated > 0, SATURATED, 0)
    return (few_t | few_c | sat).astype(jnp.int32)
