"""Pure kernels of aperture photometry on pixel stamps and of difference-image shape features.

* :func:`aperture_geometry`: circular apertures ``d^2 <= r^2`` about a centre for R radii at once
  (radii are an array axis) and the background annulus clamped to the stamp, over the flattened,
  padded pixels of a :class:`~jaxvet.core.pixels.PixelBatch` row.
* :func:`aperture_series`: per-cadence aperture sums (``nansum``), the annulus ``nanmedian``
  background and the background-subtracted sums of one stamp, (R, T) each.
* :func:`depth_spread`: the stability of a depth-versus-aperture curve, ``exp(-1.4 CV)``, its
  population variance and a recommended aperture.
* :func:`image_features`: shape features of a difference image (out-of-transit minus in-transit
  pixel medians): aperture contrast, spatial uniformity in the aperture, correlation with a
  Gaussian PRF, edge-gradient fraction and the plane-fit background trend, and the two scores
  built from them (a ghost-like score and a scattered-light risk).

Every function works on one stamp; the checks vmap them over (candidate, stamp) pairs.  The
definitions follow the numpy reference (docs/checks.md, V10 and V20) with its ``nan``
semantics: NaN pixels are ignored by the means and medians, and a NaN that the reference
propagates is propagated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.order_stats import masked_median, robust_std, sort_by_value
from jaxvet.core.stats import masked_mean, masked_std

__all__ = [
    "aperture_geometry",
    "aperture_series",
    "aperture_tables",
    "transit_groups",
    "depth_spread",
    "image_features",
]

_BIG = 2**30


def aperture_geometry(row, col, real, n_rows, n_cols, radii):
    """Apertures and background annulus about the stamp centre ``((nr-1)/2, (nc-1)/2)``.

    ``row``/``col``/``real`` (P,) pixel coordinates and real-pixel mask, ``radii`` (R,) pixels.
    The annulus is ``inner^2 < d^2 <= outer^2`` with ``inner = max(max r + 1, 4)``,
    ``outer = inner + 2``, clamped to the largest radius that fits the stamp (then ``inner =
    max(outer - 2, max r + 0.5)``).  Returns ``(ap (R, P), annulus (P,), inner, outer)``.
    """
    cy = (n_rows - 1) / 2.0
    cx = (n_cols - 1) / 2.0
    d2 = (row - cy) ** 2 + (col - cx) ** 2
    ap = (d2[None, :] <= (radii**2)[:, None]) & real[None, :]
    r_max = jnp.max(radii)
    inner = jnp.maximum(r_max + 1.0, 4.0)
    outer = inner + 2.0
    fit = jnp.minimum(jnp.minimum(cy, cx), jnp.minimum(n_rows - 1 - cy, n_cols - 1 - cx))
    clamp = outer > fit
    outer = jnp.where(clamp, fit, outer)
    inner = jnp.where(clamp, jnp.maximum(outer - 2.0, r_max + 0.5), inner)
    ann = (d2 > inner**2) & (d2 <= outer**2) & real
    return ap, ann, inner, outer


def aperture_series(flux, mask, ap, ann_idx, ann_valid):
    """Aperture photometry of one stamp: ``flux`` (T, P), ``mask`` (T,) valid cadences.

    ``raw[r, t]`` = nansum of the aperture pixels ``ap`` (R, P); ``bg[t]`` = nanmedian of the
    annulus pixels ``ann_idx[ann_valid]`` (pixel indices, (A,)) when there are >= 3 of them
    (else 0); ``sub = raw - bg * n_pix[r]``.  Returns ``(raw, sub, bg)`` with raw/sub (R, T),
    NaN off the valid cadences.
    """
    fin = jnp.isfinite(flux)
    f0 = jnp.where(fin, flux, 0.0)
    raw = jnp.matmul(ap.astype(flux.dtype), f0.T, precision=jax.lax.Precision.HIGHEST)  # (R, T)
    n_bg = jnp.sum(ann_valid, dtype=jnp.int32)
    fa = flux[:, ann_idx]  # (T, A)
    bg = masked_median(fa, jnp.isfinite(fa) & ann_valid[None, :])
    bg = jnp.where(n_bg >= 3, bg, 0.0)
    n_pix = jnp.sum(ap, axis=1, dtype=jnp.int32).astype(flux.dtype)
    sub = raw - bg[None, :] * n_pix[:, None]
    raw = jnp.where(mask[None, :], raw, jnp.nan)
    sub = jnp.where(mask[None, :], sub, jnp.nan)
    return raw, sub, bg


@jax.jit
def aperture_tables(pb, radii, ann_idx, ann_valid):
    """Per stamp of a :class:`~jaxvet.core.pixels.PixelBatch`: the aperture series ``[raw, sub,
    sub before the median time, sub after it]`` (4R, T) sorted once (values ``vs``, ``rank`` of
    each cadence, finite counts ``n_fin``), the first 2R rows unsorted (``series``), the annulus
    size and radii, and the point-to-point scatter of ``sub`` (1.4826 MAD of first differences
    / sqrt 2).  ``ann_idx``/``ann_valid``: the annulus pixels (one stamp shape per batch)."""

    def one(flux, mask, time, row, col, real, nr, nc):
        ap, ann, inner, outer = aperture_geometry(row, col, real, nr, nc, radii)
        raw, sub, _ = aperture_series(flux, mask, ap, ann_idx, ann_valid)
        mid = masked_median(time, mask)
        early = jnp.where(time[None, :] < mid, sub, jnp.nan)
        late = jnp.where(time[None, :] >= mid, sub, jnp.nan)
        s = jnp.concatenate([raw, sub, early, late])  # (4R, T)
        fin = jnp.isfinite(s)
        pos = jnp.broadcast_to(jnp.arange(s.shape[1], dtype=jnp.int32), s.shape)
        vs, perm = sort_by_value(s, fin, pos, exact=True)
        rank = jax.vmap(lambda p: jnp.zeros_like(p).at[p].set(jnp.arange(p.shape[0], dtype=p.dtype)))(perm)
        d = sub[:, 1:] - sub[:, :-1]
        sigma = robust_std(d, jnp.isfinite(d)) / jnp.sqrt(2.0)
        return dict(
            series=s[: 2 * radii.shape[0]],
            vs=vs,
            rank=rank,
            n_fin=jnp.sum(fin, axis=1, dtype=jnp.int32),
            sigma=sigma,
            n_bg=jnp.sum(ann, dtype=jnp.int32),
            bg_inner=inner,
            bg_outer=outer,
        )

    return jax.vmap(one)(pb.flux, pb.mask, pb.time, pb.row, pb.col, pb.pix_mask, pb.n_rows, pb.n_cols)


def transit_groups(t, intr, e_pad: int, max_gap: int = 10):
    """Transits as runs of in-transit cadences ``intr`` (T,) of one time row ``t``: an index gap
    larger than ``max_gap`` starts a new one.  Returns the group of each cadence, the number of
    groups and each group's middle-cadence time (``e_pad``,), the time of its ``size//2``-th
    in-transit cadence."""
    n = t.shape[0]
    ii = jnp.arange(n, dtype=jnp.int32)
    last = jax.lax.cummax(jnp.where(intr, ii, -_BIG))
    prev = jnp.concatenate([jnp.full(1, -_BIG, jnp.int32), last[:-1]])
    start = intr & (ii - prev > max_gap)
    gid = jnp.cumsum(start, dtype=jnp.int32) - 1
    rin = jnp.cumsum(intr, dtype=jnp.int32) - 1
    gsel = jnp.where(intr, gid, e_pad)
    size = jnp.zeros(e_pad + 1, jnp.int32).at[gsel].add(1)[:e_pad]
    first = jnp.full(e_pad + 1, _BIG, jnp.int32).at[gsel].min(rin)[:e_pad]
    mid = first + size // 2
    is_mid = intr & (rin == mid[jnp.clip(gid, 0, e_pad - 1)])
    t_mid = jnp.zeros(e_pad + 1).at[jnp.where(is_mid, gid, e_pad)].set(t)[:e_pad]
    return gid, jnp.sum(start, dtype=jnp.int32), t_mid


def depth_spread(depth, present):
    """Stability of depths across apertures (R,), ``present`` marking the measured ones.

    ``stability = clip(exp(-1.4 std/|mean|), 0, 1)`` over the finite present depths (1 when
    fewer than 2; for a zero mean 1 if std < 1e-10 else 0), ``variance`` the population
    variance of the present depths (NaN if one is NaN).  The recommended aperture index: with
    stability > 0.7 the middle present radius (index n//2 of the present ones, radii ascending),
    otherwise the present radius whose depth is nearest the median depth (first on ties; the
    first present radius when a depth is NaN).  Returns ``(stability, variance, recommended)``.
    """
    fin = present & jnp.isfinite(depth)
    n_fin = jnp.sum(fin, dtype=jnp.int32)
    mu = masked_mean(depth, fin)
    sd = masked_std(depth, fin)
    cv = sd / jnp.where(mu == 0, 1.0, jnp.abs(mu))
    stab = jnp.clip(jnp.exp(-cv * 1.4), 0.0, 1.0)
    stab = jnp.where(mu == 0, jnp.where(sd < 1e-10, 1.0, 0.0), stab)
    stab = jnp.where(n_fin < 2, 1.0, stab)
    any_nan = jnp.any(present & ~jnp.isfinite(depth))
    var = jnp.where(any_nan, jnp.nan, masked_std(depth, present) ** 2)
    n_p = jnp.sum(present, dtype=jnp.int32)
    rank = jnp.cumsum(present, dtype=jnp.int32) - 1
    r_idx = jnp.arange(depth.shape[0])
    middle = jnp.argmax(present & (rank == n_p // 2))
    med = masked_median(depth, present)
    dist = jnp.where(present, jnp.abs(depth - med), jnp.inf)
    nearest = jnp.where(any_nan, jnp.argmax(present), jnp.argmin(dist))
    rec = jnp.where(stab > 0.7, middle, nearest)
    return stab, var, r_idx[rec]


def _nanmean(x, m):
    """numpy ``nanmean`` of ``x[m]`` (NaN when nothing finite)."""
    return masked_mean(x, m & jnp.isfinite(x))


def _contrast(diff, real, ap, row, col, n_rows, n_cols, annulus):
    """In-aperture and annulus mean difference and their ratio (reference ``aperture_contrast``)."""
    n_ap = jnp.sum(ap, dtype=jnp.int32)
    d_in = jnp.where(n_ap > 0, _nanmean(diff, ap), 0.0)
    dist = jnp.sqrt((row - n_rows // 2) ** 2 + (col - n_cols // 2) ** 2)
    ann = (dist >= annulus[0]) & (dist < annulus[1]) & real & ~ap
    rest = real & ~ap
    d_out = jnp.where(jnp.any(ann), _nanmean(diff, ann), jnp.where(jnp.any(rest), _nanmean(diff, rest), 0.0))
    small_out = jnp.abs(d_out) < 1e-10
    tiny = jnp.where(jnp.abs(d_in) < 1e-10, 1.0, jnp.where(d_in > 0, jnp.inf, -jnp.inf))
    ratio = jnp.where(small_out, tiny, d_in / jnp.where(small_out, 1.0, d_out))
    return d_in, d_out, ratio, n_ap


def _uniformity(diff, real, ap, n_ap):
    """``1/(1 + std/|mean|)`` of the aperture pixels (0.5 for < 2 pixels)."""
    m = ap & jnp.isfinite(diff)
    mu = masked_mean(diff, m)
    sd = masked_std(diff, m)
    fin = real & jnp.isfinite(diff)
    rng = jnp.max(jnp.where(fin, diff, -jnp.inf)) - jnp.min(jnp.where(fin, diff, jnp.inf))
    zero = jnp.abs(mu) < 1e-10
    cv = jnp.where(zero, sd / jnp.where(rng < 1e-10, 1.0, rng), sd / jnp.where(zero, 1.0, jnp.abs(mu)))
    u = jnp.clip(1.0 / (1.0 + cv), 0.0, 1.0)
    u = jnp.where(zero & (rng < 1e-10), 1.0, u)
    return jnp.where(n_ap < 2, 0.5, u)


def _prf_likeness(diff, real, row, col, n_rows, n_cols, sigma):
    """``(corr(diff, Gaussian PRF at (nr/2, nc/2)) + 1)/2`` (0.5 when either is flat)."""
    g = jnp.where(real, jnp.exp(-((row - n_rows / 2) ** 2 + (col - n_cols / 2) ** 2) / (2 * sigma**2)), 0.0)
    prf = g / jnp.sum(g)
    fin = real & jnp.isfinite(diff)
    dn = diff - masked_mean(diff, fin)
    pn = prf - masked_mean(prf, real)
    ds = masked_std(dn, fin)
    ps = masked_std(pn, real)
    flat = (ds < 1e-10) | (ps < 1e-10)
    corr = masked_mean(dn * pn, fin) / (ds * ps)
    return jnp.where(flat, 0.5, jnp.clip((corr + 1.0) / 2.0, 0.0, 1.0))


def _edges(diff, real, row, col, n_rows, n_cols):
    """Edge-band share of the mean gradient magnitude and the plane-fit trend / image std."""
    p = diff.shape[0]
    idx = jnp.arange(p)

    def at(off):
        return diff[jnp.clip(idx + off, 0, p - 1)]

    gr = jnp.where((row >= 1) & (row <= n_rows - 2), (at(n_cols) - at(-n_cols)) / 2.0, 0.0)
    gc = jnp.where((col >= 1) & (col <= n_cols - 2), (at(1) - at(-1)) / 2.0, 0.0)
    gm = jnp.sqrt(gr**2 + gc**2)
    w = jnp.maximum(1, jnp.minimum(n_rows, n_cols) // 4)
    edge = real & ((row < w) | (row >= n_rows - w) | (col < w) | (col >= n_cols - w))
    centre = real & ~edge
    e = jnp.where(jnp.any(edge), _nanmean(gm, edge), 0.0)
    c = jnp.where(jnp.any(centre), _nanmean(gm, centre), 0.0)
    tot = e + c
    strength = jnp.where(tot < 1e-10, 0.0, e / jnp.where(tot < 1e-10, 1.0, tot))
    # plane fit diff = a row + b col + c (least squares on centred coordinates)
    v = real & ~jnp.isnan(diff)
    n_v = jnp.sum(v, dtype=jnp.int32)
    rc = row - masked_mean(row, v)
    cc = col - masked_mean(col, v)
    dv = jnp.where(v, diff - masked_mean(diff, v), 0.0)
    srr = jnp.sum(jnp.where(v, rc * rc, 0.0))
    scc = jnp.sum(jnp.where(v, cc * cc, 0.0))
    src = jnp.sum(jnp.where(v, rc * cc, 0.0))
    sry = jnp.sum(jnp.where(v, rc * dv, 0.0))
    scy = jnp.sum(jnp.where(v, cc * dv, 0.0))
    det = srr * scc - src * src
    det = jnp.where(det == 0, jnp.nan, det)
    a = (scc * sry - src * scy) / det
    b = (srr * scy - src * sry) / det
    trend = jnp.sqrt(a**2 + b**2)
    sd = masked_std(diff, real & jnp.isfinite(diff))
    trend = jnp.where(sd > 1e-10, trend / jnp.where(sd > 1e-10, sd, 1.0), trend)
    trend = jnp.where(n_v < 3, 0.0, trend)
    small = (n_rows < 2) | (n_cols < 2)
    return jnp.where(small, 0.0, strength), jnp.where(small, 0.0, trend)


def image_features(diff, real, ap, row, col, n_rows, n_cols, annulus, prf_sigma):
    """Ghost / scattered-light features of one difference image ``diff`` (P,) (flux units).

    ``real`` marks the stamp's pixels, ``ap`` its aperture, ``annulus`` ``(inner, outer)``
    radii about ``(nr//2, nc//2)`` (``inner <= d < outer``, aperture pixels left out; all
    non-aperture pixels when it is empty), ``prf_sigma`` the Gaussian PRF width (pixels).
    ``ghost_like_score = clip(0.4 uniformity + 0.4 (1 - prf_likeness) + 0.2 contrast_score)``
    with ``contrast_score`` 1 for a contrast <= 0, 0 for >= 10, else ``1 - log10(max(c, 0.1))``;
    ``scattered_light_risk = 0.5 edge_gradient_strength + 0.5 (1 - exp(-2 background_trend))``.
    """
    d_in, d_out, ratio, n_ap = _contrast(diff, real, ap, row, col, n_rows, n_cols, annulus)
    unif = _uniformity(diff, real, ap, n_ap)
    prf = _prf_likeness(diff, real, row, col, n_rows, n_cols, prf_sigma)
    edge, trend = _edges(diff, real, row, col, n_rows, n_cols)
    cs = jnp.clip(1.0 - jnp.log10(jnp.maximum(ratio, 0.1)), 0.0, 1.0)
    cs = jnp.where(ratio <= 0, 1.0, jnp.where(ratio >= 10, 0.0, cs))
    ghost = jnp.clip(0.4 * unif + 0.4 * (1.0 - prf) + 0.2 * cs, 0.0, 1.0)
    tc = jnp.clip(1.0 - jnp.exp(-2.0 * trend), 0.0, 1.0)
    risk = jnp.clip(0.5 * edge + 0.5 * tc, 0.0, 1.0)
    return dict(
        in_aperture_depth=d_in,
        out_aperture_depth=d_out,
        aperture_contrast=ratio,
        aperture_sign_consistent=(d_in * d_out) >= 0,
        spatial_uniformity=unif,
        prf_likeness=prf,
        edge_gradient_strength=edge,
        background_trend=trend,
        ghost_like_score=ghost,
        scattered_light_risk=risk,
        aperture_pixels_used=n_ap,
    )
