"""V08 centroid shift: does the flux-weighted centroid move during transit?

Method (the reference's ``compute_centroid_shift``; Batalha et al. 2010, ApJ 713, L103; Bryson
et al. 2013, PASP 125, 889):

1. Cadences: finite time and at least one finite pixel (TPF quality ignored); fewer than 3
   give NaN results with a ``dropped_invalid_cadences``/``insufficient_valid_cadences`` warning.
2. Masks, window policy "v1": ``dt = phase_fold(t) * P``; in-transit ``|dt| <= D/2``
   (inclusive), out-of-transit ``|dt| > D/2 + 0.5 D`` (strict); the band between is unused.
3. Per-cadence flux-weighted centroid (NaN -> 0, negatives clipped, frame sum > 0).
4. Per set (in / out): with >= 5 centroids, drop points with ``|x - med| > 3 * 1.4826 MAD`` in
   either axis (std when the MAD is 0); with >= 3 left, the median centroid and its standard
   error ``1.4826 MAD / sqrt(n) * sqrt(pi/2)``.
5. ``shift = hypot(in - out)`` pixels, ``x 21`` arcsec.
6. Uncertainty and significance: a **seeded** bootstrap (``n_bootstrap`` = 1000 resamples):
   both sets are resampled with replacement, medians re-taken, ``SE = std(shift_b, ddof=1)``,
   95% CI from the 2.5/97.5 percentiles, ``significance = clip(shift / SE, 0, 8)``.

Batched implementation (jaxvet): every candidate x stamp pair at once.  The out-of-transit set
(thousands of cadences) is never materialised per candidate: centroids are sorted once per stamp
and the candidate's set is "all valid minus the cadences within D of a transit" (gathered with
:func:`jaxvet.core.ephemeris.epoch_windows`), so medians, MADs, clipping ranges and order statistics
are exact O(log N log M) look-ups (:mod:`jaxvet.core.pixels`).  The points rejected for their
*other* axis are enumerated from the sorted tails (a bucketed capacity; a chunk that overflows it
is recomputed on the device at full capacity).
Bootstrap: an in-transit set of up to 256 cadences (the usual case) is resampled jointly in x and
y from multinomial counts, exactly as the reference.  Larger sets, and the out-of-transit set
(thousands of cadences), use the distribution of a resample median directly: its rank in the
sorted sample is ``ceil(n U) - 1`` with ``U ~ Beta(k, n - k + 1)``, drawn from the normal limit
``n U ~ N(n k/(n+1), n/4)`` (the next order statistic, for even n, an ``Exp(1)`` rank further),
with the x and y ranks coupled by the set's quadrant correlation
``mean(sign(x - med_x) sign(y - med_y))``, the asymptotic correlation of bivariate sample
medians (e.g. Babu & Rao 1988, J. Multivariate Anal. 27, 15).  That costs O(n_boot) per
candidate instead of O(n_boot n) -- what makes 1,000-candidate batches affordable.
Keys: ``fold_in(fold_in(fold_in(PRNGKey(seed), 8), candidate), sector)``, so the numbers do not
depend on batch composition.  The reference's bootstrap is unseeded by default (its significance
jitters by a few percent between runs); the shift itself is deterministic and
matches it to floating-point precision.

Documented differences: with ``D >= P/2`` no out-of-transit cadence exists; the reference still
reports an in-transit centroid (and its outlier count) next to its NaN shift, jaxvet reports
NaN/None for both.  The out-of-transit reference image in ``plot_data`` is computed for the first
``plot_max`` (32) candidates of a batch only (a per-pixel median each; option).

Outputs: the reference's metrics (with the LC/TPF overlap block and warnings-as-flags) plus
``shift_dx_pixels``/``shift_dy_pixels`` (in - out, column/row) and their bootstrap standard
deviations (used by V25).  With several stamps (sectors) the first one is reported and every
stamp's result is in ``raw["per_sector"]``.  Verdict: none (metrics only, as the reference),
except ``insufficient`` when no shift could be measured or an evidence guard trips (traced
options): a pixel whose median flux reaches ``saturation_flux`` (8e4 e-/s; ``SATURATED_TARGET``),
fewer than ``min_transits`` (2) transits with in-transit cadences (``TOO_FEW_TRANSITS``) or fewer
than ``min_in_transit_cadences`` (10) in-transit cadences (``TOO_FEW_IN_TRANSIT_CADENCES``).
The reference's ``saturation_risk`` (``max / 150000 > 1``) is kept as it computes it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet import stamps as sx
from jaxvet.checks import _pixel_pairs as pp
from jaxvet.core import centroids as cx
from jaxvet.core import pixels as px
from jaxvet.core.ephemeris import epoch_windows, phase_fold
from jaxvet.core.stats import masked_percentile, masked_std
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import map_rows, rows_per_chunk
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, boolean, one_of, option, positive
from jaxvet.results import INSUFFICIENT, OK, VERDICT_NONE, CheckResult
from jaxvet.stamps import PAIR_BUDGET_SCALE

ID = "V08"
NAME = "centroid_shift"
CHECK_TAG = 8
SATURATION_THRESHOLD = 150000.0  # the reference's saturation_risk level (max_flux_fraction = max / this)
SATURATION_FLUX = sx.SATURATION_FLUX  # jaxvet's guard: a pixel whose median flux reaches this (e-/s)


@dataclass(frozen=True)
class V08Options(CheckOptions):
    """V08 options: ``outlier_sigma`` is a traced threshold; the rest select shapes or code paths.

    Only the reference's defaults are implemented for ``centroid_method``,
    ``significance_method`` and ``window_policy_version``.  ``plot_max``: plot images for the
    first ``plot_max`` candidates of a batch (a per-pixel median each).
    """

    check_id: ClassVar[str] = "V08"
    n_bootstrap: int = option(1000, at_least(0))
    outlier_sigma: float = option(3.0, positive, traced=True)
    centroid_method: str = option("median", one_of("median"))
    significance_method: str = option("bootstrap", one_of("bootstrap"))
    window_policy_version: str = option("v1", one_of("v1"))
    quality_bitmask: int = option(0, at_least(0))
    plot_data: bool = option(True, boolean)
    plot_max: int = option(32, at_least(0))
    min_transits: int = option(2, at_least(1), traced=True)
    min_in_transit_cadences: int = option(10, at_least(1), traced=True)
    saturation_flux: float = option(SATURATION_FLUX, positive, traced=True)


#: the defaults as a plain mapping
DEFAULTS = V08Options().to_dict()

__all__ = ["SPEC", "V08Options", "centroid_shift_stamps", "centroid_shift_pairs", "DEFAULTS"]

_WIN_EPS = 1e-9


#: in-transit sets up to this size are resampled exactly (joint multinomial counts)
JOINT_MAX = 256


def _boot(key, ci, keep_in, rin, rout, st, k, n_boot, exact_in):
    """Bootstrap (dx, dy) = in - out medians of resampled sets.

    In-transit set: when it fits ``JOINT_MAX`` slots, exact joint (x, y) resampling from
    multinomial counts, as the reference.  Otherwise (and always for the out-of-transit set) the
    resample medians' ranks are drawn from their normal approximation (:func:`cx.median_ranks`),
    the x and y ranks correlated by the set's quadrant correlation
    ``mean(sign(x - med_x) sign(y - med_y))`` -- the asymptotic correlation of the two sample
    medians -- so the cost is O(n_boot) per candidate instead of O(n_boot n).
    """
    w = ci.shape[1]
    # the draws do not depend on the padded width w: slot j of resample b always reads the same
    # uniform (from a JOINT_MAX-wide block), so a candidate's bootstrap is the same whatever
    # else shares its chunk or campaign (w only pads)
    k_exact, k_ranks = jax.random.split(key)
    ur = jax.random.uniform(k_ranks, (10, n_boot), jnp.float64)  # 0-4: in (approximate), 5-9: out

    def correlated(u4, rho):
        g1, g2 = cx.normal_bm(u4[0], u4[1]), cx.normal_bm(u4[2], u4[3])
        rho = jnp.clip(jnp.nan_to_num(rho), -1.0, 1.0)
        return g1, rho * g1 + jnp.sqrt(1.0 - rho**2) * g2

    order = jnp.argsort(~keep_in, stable=True)
    ck, mk = ci[:, order], keep_in[order]
    ni = jnp.sum(mk, dtype=jnp.int32)
    vs = jnp.sort(jnp.where(mk[None, :], ck, jnp.inf), axis=1)  # (2, w) kept values ascending
    if exact_in:
        u = jax.random.uniform(k_exact, (n_boot, JOINT_MAX), jnp.float64)[:, :w]
        idx = jnp.minimum((u * ni).astype(jnp.int32), jnp.maximum(ni - 1, 0))
        slot_ok = (jnp.arange(w) < ni).astype(jnp.int32)
        counts = jax.vmap(lambda i: jnp.zeros(w, jnp.int32).at[i].add(slot_ok))(idx)
        q1, q2 = (ni - 1) // 2, ni // 2

        def med(v):
            o = jnp.argsort(jnp.where(mk, v, jnp.inf))
            cs = jnp.cumsum(counts[:, o], axis=1)
            vo = v[o]
            j1 = jnp.clip(jnp.sum(cs <= q1, axis=1), 0, w - 1)
            j2 = jnp.clip(jnp.sum(cs <= q2, axis=1), 0, w - 1)
            return 0.5 * (vo[j1] + vo[j2])

        bin_ = jax.vmap(med)(ck)  # (2, n_boot)
    else:
        s = jnp.sign(ck - rin["c"][:, None])
        rho_in = jnp.sum(jnp.where(mk, s[0] * s[1], 0.0)) / jnp.maximum(ni, 1)
        zx, zy = correlated(ur[:4], rho_in)
        ex = -jnp.log1p(-ur[4])
        jx = cx.median_ranks(zx, ex, ni)
        jy = cx.median_ranks(zy, ex, ni)
        bin_ = jnp.stack([0.5 * (vs[0, jx[0]] + vs[0, jx[1]]), 0.5 * (vs[1, jy[0]] + vs[1, jy[1]])])
    # out-of-transit set: normal-approximation ranks, quadrant-correlated
    n = rout["nk"]
    zx, zy = correlated(ur[5:9], rout["rho"])
    e = -jnp.log1p(-ur[9])
    tcap = st.csort.shape[2] - 1

    def out_med(axis, g, a0, z):
        j1, j2 = cx.median_ranks(z, e, n)
        pa = px.kth_remaining_many(g, a0 + j1)
        pb_ = px.kth_remaining_many(g, a0 + j2)
        return 0.5 * (st.csort[k, axis, jnp.clip(pa, 0, tcap)] + st.csort[k, axis, jnp.clip(pb_, 0, tcap)])

    bo = jax.vmap(out_med)(jnp.arange(2), rout["g2"], rout["a"], jnp.stack([zx, zy]))  # (2, n_boot)
    return bin_[0] - bo[0], bin_[1] - bo[1]


# ---------------------------------------------------------------------------------------------
# the batched kernel
# ---------------------------------------------------------------------------------------------
def _reference_image_kernel(st, pb, a, *, n_ex_pad):
    """The reference's plot image: per-pixel median of the frames outside the buffer-1.5 transit
    mask (``not |phase| < 0.75 D/P``), or of all frames when none is outside."""
    k = a["k"]
    P, t0, D = a["period"], a["t0"], a["duration"]
    t = a["win_time"]
    ph = phase_fold(t, t0, P)
    near = jnp.round((t - t0) / P - ph)
    keepw = (a["win_mask"] & (near == a["epoch"][:, None]) & a["ok"]).reshape(-1)
    idx = a["win_index"].reshape(-1)
    e15 = keepw & (jnp.abs(ph).reshape(-1) < (D / P) * 1.5 / 2.0)
    o_ex, e15 = px.compact(e15, n_ex_pad)
    xi_ = idx[o_ex]
    any_out = (pb.n_valid[k] - jnp.sum(e15, dtype=jnp.int32)) > 0
    e15 = e15 & any_out
    pix = jnp.arange(st.rank_p.shape[1])
    rp = st.rank_p[k, pix[:, None], xi_[None, :]]  # (P, n_ex_pad) gathered elements only
    nfin = st.n_fin[k]
    em = e15[None, :] & (rp < nfin[:, None])
    nrem = nfin - jnp.sum(em, axis=1, dtype=jnp.int32)
    p1 = px.kth_remaining_count(rp, em, (nrem - 1) // 2, nfin)
    p2 = px.kth_remaining_count(rp, em, nrem // 2, nfin)
    return {"reference_image": jnp.where(nrem > 0, 0.5 * (st.vs[k, pix, p1] + st.vs[k, pix, p2]), jnp.nan)}


def _pair_kernel(st, pb, a, sigma, *, n_boot, k_extra, n_bits, n_in_pad, n_ex_pad, exact_in):
    """V08 for one (candidate, stamp) pair: ``a`` holds the candidate's ephemeris and epoch
    windows, ``sigma`` the traced outlier threshold; every output is a scalar."""
    k = a["k"]  # the pair's stamp (row of the packed group)
    P, t0, D = a["period"], a["t0"], a["duration"]
    t = a["win_time"]
    ph = phase_fold(t, t0, P)
    near = jnp.round((t - t0) / P - ph)
    keepw = a["win_mask"] & (near == a["epoch"][:, None]) & a["ok"]
    dt = ph * P
    in_half = (1.0 * D) / 2.0
    buf_half = D / 2.0 + 0.5 * D
    idx = a["win_index"].reshape(-1)
    keepw = keepw.reshape(-1)
    adt = jnp.abs(dt).reshape(-1)
    inm = keepw & (adt <= in_half)
    exm = keepw & ~(adt > buf_half)
    cval = st.cval[k, idx]
    # in-transit set, compacted to n_in_pad slots
    insel = inm & cval
    n_transits = jnp.sum(jnp.any(insel.reshape(a["win_mask"].shape), axis=1), dtype=jnp.int32)
    order, im = px.compact(insel, n_in_pad)
    ii = idx[order]
    ci = jnp.where(im[None, :], st.cc[k, jnp.arange(2)[:, None], ii[None, :]], 0.0)  # (2, n_in_pad)
    rin = cx.robust_small(ci, im, sigma)
    # removed cadences (|dt| <= D), compacted to n_ex_pad slots
    o_ex, xm = px.compact(exm, n_ex_pad)
    xi_ = idx[o_ex]
    rem = xm & st.cval[k, xi_]
    # out-of-transit set = stamp centroid set minus the removed cadences
    ax2 = jnp.arange(2)[:, None]
    rr = jnp.where(rem[None, :], st.crank[k, ax2, xi_[None, :]], 0)
    ec = st.cc[k, ax2, xi_[None, :]]
    n_out_set = jnp.where(a["ok"], st.n_c[k] - jnp.sum(rem, dtype=jnp.int32), 0)
    rout = cx.robust_large(st, k, rr, rem, ec, n_out_set, sigma, k_extra=k_extra, n_bits=n_bits)
    # quadrant correlation of the kept out-of-transit set (for the bootstrap's x/y coupling)
    xx, yy = st.cc[k, 0], st.cc[k, 1]
    removed = jnp.zeros(xx.shape, bool).at[xi_].max(rem)
    kept = st.cval[k] & ~removed & a["ok"]
    clip_ok = (jnp.abs(xx - rout["m"][0]) <= rout["th"][0]) & (jnp.abs(yy - rout["m"][1]) <= rout["th"][1])
    kept = kept & jnp.where(rout["do_rej"], clip_ok, True)
    qs = jnp.sign(xx - rout["c"][0]) * jnp.sign(yy - rout["c"][1])
    rout["rho"] = jnp.sum(jnp.where(kept, qs, 0.0)) / jnp.maximum(jnp.sum(kept), 1)
    # reference mask counts over every valid cadence of the stamp (also for guard pairs)
    dtf = jnp.abs(phase_fold(pb.time[k], t0, P) * P)
    n_in_full = jnp.sum(pb.mask[k] & (dtf <= in_half), dtype=jnp.int32)
    n_out_full = jnp.sum(pb.mask[k] & (dtf > buf_half), dtype=jnp.int32)
    dx = rin["c"][0] - rout["c"][0]
    dy = rin["c"][1] - rout["c"][1]
    shift = jnp.sqrt(dx**2 + dy**2)
    nbe = max(n_boot, 2)  # array size; results need n_boot >= 10 (the reference's rule)
    bdx, bdy = _boot(a["key"], ci, rin["keep"], rin, rout, st, k, nbe, exact_in)
    bshift = jnp.sqrt(bdx**2 + bdy**2)
    allm = jnp.ones((nbe,), bool)
    se = masked_std(bshift, allm, ddof=1)
    lo, hi = (masked_percentile(bshift, allm, q) for q in (2.5, 97.5))
    boot_ok = jnp.isfinite(shift) & (rin["nk"] >= 3) & (rout["nk"] >= 3) & (n_boot >= 10)
    sig = jnp.where(se > 0, jnp.clip(shift / jnp.where(se > 0, se, 1.0), 0.0, 8.0), 0.0)
    sig = jnp.where(jnp.isfinite(se) & jnp.isfinite(shift), sig, 0.0)
    nan = jnp.nan
    out = dict(
        centroid_shift_pixels=shift,
        shift_dx_pixels=dx,
        shift_dy_pixels=dy,
        shift_uncertainty_pixels=jnp.where(boot_ok, se, nan),
        shift_ci_lower_pixels=jnp.where(boot_ok, lo, nan),
        shift_ci_upper_pixels=jnp.where(boot_ok, hi, nan),
        significance_sigma=jnp.where(boot_ok, sig, nan),
        shift_dx_uncertainty_pixels=jnp.where(boot_ok, masked_std(bdx, allm, ddof=1), nan),
        shift_dy_uncertainty_pixels=jnp.where(boot_ok, masked_std(bdy, allm, ddof=1), nan),
        in_x=rin["c"][0],
        in_y=rin["c"][1],
        in_se_x=rin["se"][0],
        in_se_y=rin["se"][1],
        out_x=rout["c"][0],
        out_y=rout["c"][1],
        out_se_x=rout["se"][0],
        out_se_y=rout["se"][1],
        n_outliers_rejected=rin["n_rej"] + rout["n_rej"],
        n_in_transit_cadences=n_in_full,
        n_transits=n_transits,
        n_out_of_transit_cadences=n_out_full,
        n_in_window=jnp.sum(inm, dtype=jnp.int32),
        n_excl_window=jnp.sum(exm, dtype=jnp.int32),
        out_quadrant_corr=rout["rho"],
        overflow=rout["overflow"],
        consistent=rout["consistent"],
    )
    return out


_SHIFT_STATIC = ("n_boot", "k_extra", "k_full", "n_bits", "n_in_pad", "n_ex_pad", "exact_in")


@partial(jax.jit, static_argnames=_SHIFT_STATIC)
def _shift_chunk(a, st, pb, sigma, *, n_boot, k_extra, k_full, n_bits, n_in_pad, n_ex_pad, exact_in):
    """:func:`_pair_kernel` over a chunk of candidates (rows of ``a``).

    ``k_extra`` slots hold the points clipped on one axis only; a chunk where some pair
    overflows them is recomputed with ``k_full`` (every cadence) by a device-side ``cond``, so
    no host round trip is needed and the result is exact either way.
    """

    def run(ke):
        kw = dict(n_boot=n_boot, k_extra=ke, n_bits=n_bits, n_in_pad=n_in_pad, n_ex_pad=n_ex_pad)
        return jax.vmap(lambda aa: _pair_kernel(st, pb, aa, sigma, exact_in=exact_in, **kw))(a)

    res = run(k_extra)
    if k_extra >= k_full:
        return res
    return jax.lax.cond(jnp.any(res["overflow"]), lambda: run(k_full), lambda: res)


@partial(jax.jit, static_argnames=("n_ex_pad",))
def _image_chunk(a, st, pb, *, n_ex_pad):
    """:func:`_reference_image_kernel` over a chunk of candidates: (chunk, P) images."""
    return jax.vmap(lambda aa: _reference_image_kernel(st, pb, aa, n_ex_pad=n_ex_pad))(a)


def _window_plan(ctx: VetContext, lcb, cb, valid) -> dict:
    """Epoch windows of the pairs ``cb`` on their stamps (rows of ``lcb``) and the bucketed widths
    of their sets.

    The widths come from one host look at the windows (with a margin on the boundaries): the
    planning step of a call, done before any kernel is dispatched.
    """
    P = np.asarray(cb.period)
    D = np.asarray(cb.duration)
    wcb = dataclasses.replace(cb, valid=jnp.asarray(valid))
    hw = jnp.asarray(D * (1.0 + _WIN_EPS) + _WIN_EPS)
    lad = ctx.shapes
    win = epoch_windows(lcb, wcb, hw, min_epochs=lad.get("V08.epochs", 2), min_width=lad.get("V08.width", 16))
    lad.at_least("V08.epochs", win.index.shape[1])
    lad.at_least("V08.width", win.index.shape[2])
    wt, wm = np.asarray(win.time), np.asarray(win.mask)
    ph_h = np.mod((wt - np.asarray(cb.t0)[:, None, None]) / P[:, None, None], 1.0)
    ph_h = np.where(ph_h > 0.5, ph_h - 1.0, ph_h)
    adt = np.abs(ph_h * P[:, None, None])
    d3 = D[:, None, None] * (1.0 + 1e-7)
    n_in_max = int(np.max(np.sum(wm & (adt <= d3 / 2.0), axis=(1, 2)), initial=1))
    n_ex_max = int(np.max(np.sum(wm & (adt <= d3), axis=(1, 2)), initial=1))
    s_slots = int(win.index.shape[1] * win.index.shape[2])
    return dict(
        win=win,
        n_in_pad=lad.at_least("V08.n_in_pad", min(bucket_size(max(1, n_in_max), 16), s_slots)),
        n_ex_pad=lad.at_least("V08.n_ex_pad", min(bucket_size(max(1, n_ex_max), 16), s_slots)),
    )


def centroid_shift_pairs(ctx: VetContext, pairs: pp.PairBatch, opts: V08Options) -> dict:
    """The V08 kernel for the (candidate, stamp) pairs of one stamp group: device arrays
    (pairs padded, ...)."""
    n_boot = int(opts.n_bootstrap)
    grp, cb = pairs.group, pairs.cb
    nb = cb.size
    guard = ~(np.asarray(cb.duration) < np.asarray(cb.period) / 2.0)  # no out-of-transit cadence
    valid = np.asarray(cb.valid) & ~guard
    plan = _window_plan(ctx, grp.lcb, cb, valid)
    win, n_in_pad, n_ex_pad = plan["win"], plan["n_in_pad"], plan["n_ex_pad"]
    tmax = grp.pb.n_cadences
    exact_in = n_in_pad <= JOINT_MAX
    arrays = pp.candidate_columns(
        cb,
        valid,
        key=sx.pair_keys(ctx.seed, CHECK_TAG, pairs.key_ids, pairs.tags),
        epoch=win.epoch,
        win_time=win.time,
        win_mask=win.mask,
        win_index=win.index,
    )
    per_pair = max(n_boot * n_in_pad * 3 if exact_in else n_boot * 16, 1)
    static = dict(
        n_boot=n_boot,
        # capacity for the points clipped on one axis only: from the stamp-wide outlier count
        k_extra=ctx.shapes.at_least(
            "V08.k_extra", min(tmax, bucket_size(int(1.5 * grp.tail_estimate) + 16, 1024))
        ),
        k_full=tmax,
        n_bits=max(1, int(math.ceil(math.log2(tmax + 1))) + 1),
        n_in_pad=n_in_pad,
        n_ex_pad=n_ex_pad,
        exact_in=exact_in,
    )
    sigma = opts.traced()["outlier_sigma"]
    chunk = pp.pair_chunk(ctx, per_pair, nb, scale=PAIR_BUDGET_SCALE)
    res = map_rows(partial(_shift_chunk, **static), arrays, nb, chunk, args=(grp.stats, grp.pb, sigma))
    if opts.plot_data:  # plot images for the first plot_max candidates only (a per-pixel median each)
        n_plot = int(np.sum(pairs.cand < int(opts.plot_max)))  # pairs are in candidate order
        img = jnp.full((nb, grp.pb.n_pixels), jnp.nan)
        if n_plot:
            chunk_i = min(rows_per_chunk(n_ex_pad * grp.pb.n_pixels, cap=8), nb)
            fimg = partial(_image_chunk, n_ex_pad=n_ex_pad)
            sub = map_rows(fimg, arrays, n_plot, chunk_i, args=(grp.stats, grp.pb))
            img = img.at[:n_plot].set(sub["reference_image"])
        res["reference_image"] = img
        res["has_image"] = jnp.arange(nb) < n_plot
    res["guard"] = jnp.asarray(guard)
    return res


def centroid_shift_stamps(ctx: VetContext, prep: sx.Prepared, opts: V08Options) -> dict:
    """V08 for every candidate and stamp slot: device arrays (B, S, ...) (S = every stamp of the
    run unless ``ctx.tpf_index`` assigns stamps; same-shape stamps are vetted in one batch)."""
    groups = pp.stamp_groups(ctx, prep, int(opts.quality_bitmask))
    idx, batches = pp.pair_batches(ctx, prep, groups)
    parts = [centroid_shift_pairs(ctx, pb_, opts) for pb_ in batches]
    return pp.to_slots(parts, batches, *idx.shape)


# ---------------------------------------------------------------------------------------------
# check contract
# ---------------------------------------------------------------------------------------------
SUMMARY = (
    "centroid_shift_pixels",
    "centroid_shift_arcsec",
    "significance_sigma",
    "shift_uncertainty_pixels",
    "n_in_transit_cadences",
    "n_out_of_transit_cadences",
)


def compute(ctx: VetContext, opts: V08Options) -> dict:
    """Device tree: ``ps_<name>`` (B, S) per-slot kernel outputs, the first slot's summary."""
    b = ctx.n_candidates
    if not ctx.tpfs:
        return sx.skipped_tree(b, SUMMARY, n_stamps=np.zeros(b, int))
    prep = sx.prepared(ctx.tpfs, int(opts.quality_bitmask), ctx=ctx)
    per = centroid_shift_stamps(ctx, prep, opts)
    out = {f"ps_{name}": v for name, v in per.items()}
    first = {name: per[name][:, 0] for name in SUMMARY if name in per}
    out.update(first)
    out["centroid_shift_arcsec"] = first["centroid_shift_pixels"] * sx.TESS_PIXEL_SCALE_ARCSEC
    # jaxvet's evidence guard (traced thresholds): saturation, too few transits or cadences
    t = opts.traced()
    n_sat = pp.per_slot(sx.saturation_counts(prep, t["saturation_flux"]), sx.slot_stamps(ctx))
    ev = px.evidence_bits(
        per["n_transits"],
        per["n_in_transit_cadences"],
        n_sat,
        t["min_transits"],
        t["min_in_transit_cadences"],
    )
    ps_verdict = jnp.where(jnp.isfinite(per["centroid_shift_pixels"]) & (ev == 0), VERDICT_NONE, INSUFFICIENT)
    out.update(ps_evidence=ev, ps_n_saturated_pixels=n_sat, ps_verdict=ps_verdict)
    out["status"] = jnp.full(b, OK)
    out["verdict"] = ps_verdict[:, 0]
    out["n_stamps"] = jnp.full(b, per["n_transits"].shape[1])
    return out


_f = sx.finite_or_none


def _warnings(n_in, n_out, sat, n_dropped, n_total, n_used) -> list[str]:
    """The reference's warnings (cadence counts, saturation), in its order."""
    w = []
    if n_dropped:
        w.append(f"dropped_invalid_cadences ({n_dropped} of {n_total})")
    if n_used < 3:
        if not n_dropped:
            w.append("insufficient_valid_cadences")
        return w
    if n_in < 5:
        w.append(f"low_n_in_transit ({n_in} < 5)")
        base = 0.2
    elif n_out < 20:
        w.append(f"low_n_out_transit ({n_out} < 20)")
        base = 0.3
    elif n_in < 10:
        w.append(f"marginal_n_in_transit ({n_in} < 10)")
        base = 0.5
    else:
        base = 0.7
    if n_out < 50 and base > 0.3:
        w.append(f"marginal_n_out_transit ({n_out} < 50)")
    if sat:
        w.append("saturation_risk")
    return w


def _shift_metrics(g, n_used: int) -> dict:
    """The shift block of the metrics (None where no shift could be measured)."""
    shift = _f(g("centroid_shift_pixels")) if n_used >= 3 else None
    names = (
        "significance_sigma",
        "shift_uncertainty_pixels",
        "shift_ci_lower_pixels",
        "shift_ci_upper_pixels",
    )
    return {
        "centroid_shift_pixels": shift,
        "centroid_shift_arcsec": None if shift is None else shift * sx.TESS_PIXEL_SCALE_ARCSEC,
        **{n: (_f(g(n)) if shift is not None else None) for n in names},
    }


def _centroid_metrics(g) -> dict:
    """In/out-of-transit centroids and the shift vector with its bootstrap deviations."""
    names = (
        "shift_dx_pixels",
        "shift_dy_pixels",
        "shift_dx_uncertainty_pixels",
        "shift_dy_uncertainty_pixels",
    )
    return {
        "in_transit_centroid_x": _f(g("in_x")),
        "in_transit_centroid_y": _f(g("in_y")),
        "out_of_transit_centroid_x": _f(g("out_x")),
        "out_of_transit_centroid_y": _f(g("out_y")),
        **{n: _f(g(n)) for n in names},
    }


def _plot_data(a: dict, g, i: int, s: int, stamp, metrics: dict) -> dict:
    """The reference's ``plot_data`` block: the cropped out-of-transit image and the centroids."""
    nr, nc = stamp.stamp_shape
    r0, c0 = sx.crop_origin(nr, nc)
    img = None
    if bool(g("has_image")):
        full = np.asarray(a["ps_reference_image"][i, s][: nr * nc]).reshape(nr, nc)
        img = sx.crop(full)[0].astype(np.float32).tolist()
    return {
        "version": 1,
        "reference_image": img,
        "in_centroid_col": sx.shifted(metrics["in_transit_centroid_x"], c0),
        "in_centroid_row": sx.shifted(metrics["in_transit_centroid_y"], r0),
        "out_centroid_col": sx.shifted(metrics["out_of_transit_centroid_x"], c0),
        "out_centroid_row": sx.shifted(metrics["out_of_transit_centroid_y"], r0),
        "target_col": nc // 2 - c0,
        "target_row": nr // 2 - r0,
        "sector": stamp.sector,
    }


def sector_result(
    ctx: VetContext, a: dict, i: int, s: int, prep: sx.Prepared, opts: V08Options
) -> CheckResult:
    """Format candidate ``i`` on its stamp slot ``s`` (host arrays ``a``) as a reference-style V08
    result."""
    g = lambda name: a[f"ps_{name}"][i, s]  # noqa: E731
    sp = prep.preps[int(sx.slot_stamps(ctx)[i, s])]
    stamp = sp.stamp
    n_used = sp.n_cadences_total - sp.n_dropped
    frac = sp.max_flux / SATURATION_THRESHOLD if n_used else 0.0
    sat = bool(frac > 1.0)
    n_in = int(g("n_in_transit_cadences")) if n_used >= 3 else 0
    n_out = int(g("n_out_of_transit_cadences")) if n_used >= 3 else 0
    warns = _warnings(n_in, n_out, sat, sp.n_dropped, sp.n_cadences_total, n_used)
    overlap, oflags, onotes = sx.candidate_overlap(ctx, i, stamp)
    shift = _shift_metrics(g, n_used)
    n_tr = int(g("n_transits")) if n_used >= 3 else 0
    n_sat = int(g("n_saturated_pixels"))
    bits = int(g("evidence")) if n_used >= 3 else 0
    eflags, enotes = sx.evidence_report(bits, n_tr, n_in, n_sat, opts)
    metrics = {
        **overlap,
        **shift,
        "n_in_transit_cadences": n_in,
        "n_out_of_transit_cadences": n_out,
        "centroid_method": "median",
        "significance_method": "bootstrap",
        "n_bootstrap": int(opts.n_bootstrap),
        "saturation_risk": sat,
        "max_flux_fraction": float(frac) if n_used else 0.0,
        "saturated_target": bool(bits & px.SATURATED),
        "n_saturated_pixels": n_sat,
        "max_pixel_median_flux": sx.max_pixel_median(sp),
        "saturation_flux": float(opts.saturation_flux),
        "n_transits": n_tr,
        "n_outliers_rejected": int(g("n_outliers_rejected")) if n_used >= 3 else 0,
        **_centroid_metrics(g),
        "sector": stamp.sector,
        "bootstrap_seed": int(ctx.seed),
    }
    raw = {
        "status": "ok",
        "in_transit_centroid": [metrics["in_transit_centroid_x"], metrics["in_transit_centroid_y"]],
        "out_of_transit_centroid": [
            metrics["out_of_transit_centroid_x"],
            metrics["out_of_transit_centroid_y"],
        ],
        "in_transit_centroid_se": [_f(g("in_se_x")), _f(g("in_se_y"))],
        "out_of_transit_centroid_se": [_f(g("out_se_x")), _f(g("out_se_y"))],
        "warnings": warns,
        "tpf_shape": list(stamp.shape),
        "sector": stamp.sector,
        "source": stamp.source,
    }
    notes = list(onotes) + list(stamp.notes) + enotes
    if opts.plot_data and "ps_reference_image" in a:
        raw["plot_data"] = _plot_data(a, g, i, s, stamp, metrics)
        if not bool(g("has_image")):
            notes.append(f"plot image computed for the first {int(opts.plot_max)} candidates only (plot_max)")
    return CheckResult(
        id=ID,
        name=NAME,
        status="ok",
        confidence=float(min(1.0, n_in / 10.0) * min(1.0, n_out / 50.0)),
        verdict=None if shift["centroid_shift_pixels"] is not None and not bits else "insufficient",
        flags=warns + (["SATURATION_RISK"] if sat else []) + eflags + oflags,
        metrics=metrics,
        raw=raw,
        notes=notes,
    )


def format(ctx: VetContext, opts: V08Options, a: dict) -> list[CheckResult]:
    """One reference-style result per candidate from the host copy ``a`` of :func:`compute`."""
    return sx.format_per_stamp(ctx, opts, a, sector_result, (ID, NAME), "centroid analysis")


SPEC = CheckSpec(
    ID, NAME, compute, format, options=V08Options, summary_metrics=SUMMARY, needs_tpf=True,
    description="In- vs out-of-transit flux-weighted centroid shift (seeded bootstrap significance)",
)
