"""V10 aperture dependence: does the transit depth change with the photometric aperture?

A transit on the target has the same depth in every aperture centred on it; light from a
neighbour that is the real source dilutes less in large apertures, so the depth grows with the
radius (Bryson et al. 2013, PASP 125, 889).  Reference semantics (tess-vetter's
``compute_aperture_dependence``, docs/checks.md):

* cadences with finite time and at least one finite pixel (>= 10); in-transit
  ``|(t - t0) mod P| <= D/2`` (inclusive, the modulo shifted to +-P/2), out-of-transit its
  complement (no buffer); >= 3 of each;
* circular apertures ``d^2 <= r^2`` about ``((nr-1)/2, (nc-1)/2)`` for every radius at once
  (``radii_px``, an array axis), the per-cadence nanmedian background of an annulus clamped to the
  stamp (:func:`jaxvet.core.apertures.aperture_geometry`);
* transits = runs of in-transit cadences (index gaps <= 10 join), each measured against the
  out-of-transit cadences within 0.5 d of its middle cadence (>= 5 of them; background
  subtracted when that baseline's median is positive): ``depth = 1 - median(in)/median(local)``
  in ppm, averaged over transits (the sector-wide means are the fallback);
* ``stability_metric = exp(-1.4 CV)`` of the depths, their variance, a recommended aperture,
  ``depth_ppm_aperture_min/_max`` (the depths at the smallest and largest radius, not extrema),
  ``aperture_depth_sign_flip`` and the out-of-transit drift at the recommended aperture.

jaxvet adds ``depth_err_ppm_recommended`` at the recommended aperture (``sqrt(pi/2) sigma_pt /
baseline sqrt(1/n_in + 1/n_local)``, sigma_pt the point-to-point scatter of the
background-subtracted aperture series; with >= 3 measured transits the standard error of their
depths when that is larger, which captures correlated noise) and ``depth_snr_recommended``.
Verdict (jaxvet policy, traced thresholds): ``insufficient`` when the depth at the recommended
aperture is not detected (SNR < ``min_depth_snr``, 3), ``fail`` when the smallest and largest
apertures disagree in sign or ``stability_metric < stability_fail`` (0.3), ``warn`` below
``stability_warn`` (0.7), else ``pass``.

Batched: every (candidate, stamp) pair in one jitted kernel per stamp group; the aperture series
are computed and sorted once per stamp, sector-wide medians use the "sorted series minus the
in-transit ranks" order statistics, per-transit medians are masked medians over the compacted
in-transit cadences and a gathered 1-day window per transit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet import stamps as sx
from jaxvet.checks import _pixel_pairs as pp
from jaxvet.core.apertures import aperture_geometry, aperture_tables, depth_spread, transit_groups
from jaxvet.core.numerics import exact_div, floor_mod
from jaxvet.core.order_stats import (
    masked_median,
    median_excluding,
    ranked_bin_medians,
)
from jaxvet.core.pixels import compact
from jaxvet.core.stats import masked_mean, masked_std
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import map_rows
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, finite, option
from jaxvet.errors import JaxvetInputError
from jaxvet.results import OK, CheckResult, graded_verdict
from jaxvet.stamps import PAIR_BUDGET_SCALE

ID = "V10"
NAME = "aperture_dependence"
LOCAL_WINDOW_DAYS = 0.5
#: skip reasons (kernel code -> the reference's message)
_SKIPS = {
    1: "Need at least 10 valid time points, got {n_used}",
    2: "Insufficient in-transit data points ({n_in}). Check transit_params or time coverage.",
    3: "Insufficient out-of-transit data points ({n_out}). Check transit_params or time coverage.",
    4: "Could not compute depths for at least 2 apertures. Check input data and parameters.",
    5: "duration ({duration}) must be less than period ({period})",
}


@dataclass(frozen=True)
class V10Options(CheckOptions):
    """V10 options.  ``radii_px`` (ascending aperture radii, pixels) shape the kernel and stay
    static; the verdict thresholds are traced."""

    check_id: ClassVar[str] = "V10"
    radii_px: tuple = option((1.0, 1.5, 2.0, 2.5, 3.0))
    stability_warn: float = option(0.7, finite, traced=True)
    stability_fail: float = option(0.3, finite, traced=True)
    min_depth_snr: float = option(3.0, finite, traced=True)
    quality_bitmask: int = option(0, at_least(0))

    def validate(self) -> None:
        try:
            r = tuple(float(v) for v in self.radii_px)
        except (TypeError, ValueError):
            raise JaxvetInputError(
                f"V10 option radii_px must be a list of numbers, got {self.radii_px!r}"
            ) from None
        ok = (
            len(r) >= 2
            and all(math.isfinite(v) and v > 0 for v in r)
            and all(a < b for a, b in zip(r[:-1], r[1:], strict=True))
        )
        if not ok:
            raise JaxvetInputError(
                "V10 option radii_px must hold >= 2 positive radii in increasing order, "
                f"got {self.radii_px!r}"
            )
        object.__setattr__(self, "radii_px", r)


__all__ = ["SPEC", "V10Options", "aperture_dependence_stamps"]


# ---------------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------------
def _pair_kernel(ser, pb, a, *, e_pad, n_in_pad, w_loc):
    """V10 for one (candidate, stamp) pair (``a``: the candidate, ``a["k"]`` its stamp row)."""
    k = a["k"]
    t, valid, nv = pb.time[k], pb.mask[k], pb.n_valid[k]
    P, t0, D = a["period"], a["t0"], a["duration"]
    dt = floor_mod(t - t0, P)
    dt = jnp.where(dt > P / 2, dt - P, dt)
    intr = valid & (jnp.abs(dt) <= D / 2) & a["ok"]
    n_in = jnp.sum(intr, dtype=jnp.int32)
    n_out = nv - n_in
    gid, n_groups, t_g = transit_groups(t, intr, e_pad)
    s = ser["series"][k]  # (2R, T): raw, sub
    nr2 = s.shape[0]
    nrad = nr2 // 2
    e_ax = jnp.arange(e_pad)
    gvalid = e_ax < n_groups
    # per-transit in-transit medians over the compacted in-transit cadences
    oi, mi = compact(intr, n_in_pad)
    rk = ser["rank"][k][:, oi]  # (4R, n_in_pad) ranks of the in-transit cadences
    nf = ser["n_fin"][k]
    bins = jnp.where(mi[None, :] & (rk[:nr2] < nf[:nr2, None]), gid[oi][None, :], e_pad)
    med_in, _ = jax.vmap(partial(ranked_bin_medians, n_bins=e_pad))(ser["vs"][k][:nr2], rk[:nr2], bins)
    # local baselines: out-of-transit cadences within 0.5 d of each transit's middle cadence
    lo = jnp.searchsorted(t, t_g - LOCAL_WINDOW_DAYS - 1e-6, side="left")
    iw = jnp.clip(lo[:, None] + jnp.arange(w_loc)[None, :], 0, t.shape[0] - 1)  # (E, W)
    lm = ((lo[:, None] + jnp.arange(w_loc)[None, :]) < nv) & gvalid[:, None]
    lm = lm & (jnp.abs(t[iw] - t_g[:, None]) <= LOCAL_WINDOW_DAYS) & ~intr[iw]
    n_loc = jnp.sum(lm, axis=1, dtype=jnp.int32)
    vl = s[:, iw]  # (2R, E, W)
    med_loc = masked_median(vl, lm[None] & jnp.isfinite(vl))  # (2R, E)
    use_sub = med_loc[nrad:] > 0
    loc = jnp.where(use_sub, med_loc[nrad:], med_loc[:nrad])
    inm = jnp.where(use_sub, med_in[nrad:], med_in[:nrad])
    ok_e = gvalid[None, :] & (n_loc >= 5)[None, :] & (loc > 0)  # (R, E)
    dep_e = (1.0 - inm / jnp.where(ok_e, loc, 1.0)) * 1e6
    n_ok = jnp.sum(ok_e, axis=1, dtype=jnp.int32)
    d_local = jnp.where(
        n_ok > 0, jnp.sum(jnp.where(ok_e, dep_e, 0.0), axis=1) / jnp.maximum(n_ok, 1), jnp.nan
    )
    # sector-wide out-of-transit medians: each sorted series minus the in-transit ranks
    med_out, _ = median_excluding(ser["vs"][k], nf, rk, mi[None, :] & (rk < nf[:, None]))
    raw_o, sub_o, early, late = (med_out[i * nrad : (i + 1) * nrad] for i in range(4))
    # fallback (no transit with a local baseline): sector-wide means of the normalised series
    use_s = sub_o > 0
    fb_ok = use_s | (raw_o > 0)
    x = jnp.where(use_s[:, None], s[nrad:], s[:nrad])
    norm = exact_div(x, jnp.where(use_s, sub_o, jnp.where(fb_ok, raw_o, 1.0))[:, None])
    m_fin = jnp.isfinite(norm)
    mean_in = masked_mean(norm, intr[None, :] & m_fin)
    mean_out = masked_mean(norm, (valid & ~intr)[None, :] & m_fin)
    fb_ok = fb_ok & (mean_out != 0)
    d_fb = (1.0 - mean_in / jnp.where(fb_ok, mean_out, 1.0)) * 1e6
    depth = jnp.where(n_ok > 0, d_local, d_fb)
    present = (n_ok > 0) | fb_ok
    drift = jnp.where(early != 0, (late - early) / jnp.where(early != 0, early, 1.0), jnp.nan)
    stab, var, rec = depth_spread(depth, present)
    n_present = jnp.sum(present, dtype=jnp.int32)
    i_small = jnp.argmax(present)
    i_large = nrad - 1 - jnp.argmax(present[::-1])
    d_small, d_large = depth[i_small], depth[i_large]
    # jaxvet's depth error at the recommended aperture
    level = jnp.where(sub_o[rec] > 0, sub_o[rec], raw_o[rec])
    n_lt = jnp.sum(jnp.where(ok_e[rec], n_loc, 0))
    n_base = jnp.where(n_ok[rec] > 0, n_lt, n_out)
    err = math.sqrt(math.pi / 2) * ser["sigma"][k][rec] / jnp.abs(level)
    err = err * jnp.sqrt(1.0 / jnp.maximum(n_in, 1) + 1.0 / jnp.maximum(n_base, 1)) * 1e6
    # with >= 3 transits, the scatter of their depths (red noise) when it is larger
    n_r = n_ok[rec]
    sd_e = masked_std(dep_e[rec], ok_e[rec], ddof=1) / jnp.sqrt(jnp.maximum(n_r, 1))
    err = jnp.where((n_r >= 3) & (sd_e > err), sd_e, err)
    skip = jnp.where(
        ~a["ok"],
        5,
        jnp.where(
            nv < 10, 1, jnp.where(n_in < 3, 2, jnp.where(n_out < 3, 3, jnp.where(n_present < 2, 4, 0)))
        ),
    )
    return dict(
        skip=skip,
        depth=depth,
        present=present,
        fallback=n_ok == 0,
        drift=drift,
        stability=stab,
        variance=var,
        rec=rec,
        d_small=d_small,
        d_large=d_large,
        sign_flip=jnp.isfinite(d_small) & jnp.isfinite(d_large) & (d_small * d_large < 0),
        n_in=n_in,
        n_out=n_out,
        n_epochs=n_groups,
        depth_err=err,
        depth_snr=depth[rec] / err,
    )


@partial(jax.jit, static_argnames=("e_pad", "n_in_pad", "w_loc"))
def _chunk(a, ser, pb, **static):
    return jax.vmap(lambda aa: _pair_kernel(ser, pb, aa, **static))(a)


def _plan(ctx: VetContext, pairs: pp.PairBatch, prep: sx.Prepared, ok: np.ndarray) -> dict:
    """Bucketed static sizes from one host look at the pairs' stamps (with boundary margins)."""
    lad = ctx.shapes
    cb = pairs.cb
    P, t0, D = (np.asarray(v)[: pairs.n] for v in (cb.period, cb.t0, cb.duration))
    n_in_max, e_max, w_max = 1, 1, 1
    for st in np.unique(pairs.stamp):
        t = prep.preps[int(st)].window_time
        if t.size == 0:
            continue
        sel = pairs.stamp == st
        dt = np.mod(t[None, :] - t0[sel, None], P[sel, None])
        dt = np.where(dt > P[sel, None] / 2, dt - P[sel, None], dt)
        in_h = np.abs(dt) <= (D[sel, None] / 2) * (1 + 1e-7) + 1e-9
        n_in_max = max(n_in_max, int(in_h.sum(axis=1).max()))
        span = float(t[-1] - t[0])
        e_max = max(e_max, int(np.max(np.floor((span + D[sel]) / P[sel]) + 2)))
        hw = LOCAL_WINDOW_DAYS + 2e-6
        w = np.searchsorted(t, t + hw, side="right") - np.searchsorted(t, t - hw, side="left")
        w_max = max(w_max, int(w.max()))
    t_pad = pairs.group.pb.n_cadences
    return dict(
        n_in_pad=lad.at_least("V10.n_in_pad", min(bucket_size(n_in_max, 16), t_pad)),
        e_pad=lad.at_least("V10.e_pad", bucket_size(e_max, 4)),
        w_loc=lad.at_least("V10.w_loc", min(bucket_size(w_max, 16), t_pad)),
    )


def _series(ctx: VetContext, grp: pp.StampGroup, opts: V10Options):
    key = ("V10:series", tuple(int(m) for m in grp.members), opts.radii_px, int(opts.quality_bitmask))

    def make():
        # the annulus depends on the stamp shape only (one per group): its pixels on the host
        nr, nc = grp.stamp_shape
        pb = grp.pb
        _, ann, _, _ = aperture_geometry(
            np.asarray(pb.row[0]),
            np.asarray(pb.col[0]),
            np.asarray(pb.pix_mask[0]),
            nr,
            nc,
            np.asarray(opts.radii_px),
        )
        pix = np.flatnonzero(np.asarray(ann))
        width = bucket_size(max(pix.size, 1), 8)
        idx = np.zeros(width, np.int32)
        idx[: pix.size] = pix
        valid = np.arange(width) < pix.size
        return aperture_tables(pb, jnp.asarray(opts.radii_px), jnp.asarray(idx), jnp.asarray(valid))

    return ctx.cached(key, make, per_chunk=False)


def aperture_dependence_pairs(
    ctx: VetContext, pairs: pp.PairBatch, prep: sx.Prepared, opts: V10Options
) -> dict:
    """The V10 kernel for the (candidate, stamp) pairs of one stamp group (device arrays)."""
    cb = pairs.cb
    ok = np.asarray(cb.valid) & (np.asarray(cb.duration) < np.asarray(cb.period))
    static = _plan(ctx, pairs, prep, ok)
    arrays = pp.candidate_columns(cb, ok)
    ser = _series(ctx, pairs.group, opts)
    nrad = len(opts.radii_px)
    t_pad = pairs.group.pb.n_cadences
    per_pair = 2 * nrad * max(static["e_pad"] * (static["w_loc"] + static["n_in_pad"]), 2 * t_pad)
    chunk = pp.pair_chunk(ctx, per_pair, cb.size, scale=PAIR_BUDGET_SCALE)
    res = map_rows(partial(_chunk, **static), arrays, cb.size, chunk, args=(ser, pairs.group.pb))
    for name in ("n_bg", "bg_inner", "bg_outer"):
        res[name] = jnp.take(ser[name], cb.lc_index)
    return res


#: V10 for every candidate and stamp slot: ``(ctx, prep, opts) ->`` device arrays (B, S, ...)
aperture_dependence_stamps = pp.kernel_over_stamps(aperture_dependence_pairs)


# ---------------------------------------------------------------------------------------------
# check contract
# ---------------------------------------------------------------------------------------------
SUMMARY = ("stability_metric", "aperture_depth_sign_flip", "depth_snr_recommended", "depth_variance_ppm2")


def _verdict(per: dict, opts: V10Options):
    t = opts.traced()
    snr, stab = per["depth_snr"], per["stability"]
    detected = jnp.isfinite(snr) & (snr >= t["min_depth_snr"])
    fail = per["sign_flip"] | (stab < t["stability_fail"])
    return graded_verdict(detected, fail, stab < t["stability_warn"])


def compute(ctx: VetContext, opts: V10Options) -> dict:
    """Device tree: ``ps_<name>`` (B, S) per slot, the first slot's summary."""
    names = dict(zip(SUMMARY, ("stability", "sign_flip", "depth_snr", "variance"), strict=True))

    def finish(per, prep):
        return pp.slot_tree(pp.with_verdict(per, per["skip"] == 0, _verdict(per, opts)), names)

    return pp.stamp_check(ctx, opts, SUMMARY, aperture_dependence_stamps, finish)


def _radius_key(r: float) -> str:
    """The reference's per-radius metric name: ``depth_ppm_aperture_1p5``."""
    return "depth_ppm_aperture_" + str(float(r)).replace(".", "p")


def _skipped(g, sp: sx.StampPrep, cand: dict) -> CheckResult:
    n_used = sp.n_cadences_total - sp.n_dropped
    why = _SKIPS[int(g("skip"))].format(n_used=n_used, n_in=int(g("n_in")), n_out=int(g("n_out")), **cand)
    return sx.insufficient_result(ID, NAME, why, sp.stamp)


def _flags(g, sp: sx.StampPrep, rec_drift) -> list[str]:
    """The reference's flags, in its order."""
    n_bg = int(g("n_bg"))
    present = np.asarray(g("present"))
    depth = np.asarray(g("depth"))
    out = []
    if sp.n_dropped > 0:
        out.append("dropped_invalid_cadences")
    if int(g("n_epochs")) < 2:
        out.append("low_n_transit_epochs")
    if int(g("n_in")) < 20:
        out.append("low_n_in_transit_cadences")
    if n_bg < 3:
        out.append("no_background_subtraction")
    elif n_bg < 10:
        out.append("background_annulus_small")
    if np.any(present & (depth < 0)):
        out.append("negative_depths_present")
    if np.any(np.asarray(g("fallback"))):
        out.append("sector_fallback_used")
    if rec_drift is not None and abs(rec_drift) >= 0.01:
        out.append("high_out_of_transit_drift_recommended_aperture")
    return out


def sector_result(
    ctx: VetContext, a: dict, i: int, s: int, prep: sx.Prepared, opts: V10Options
) -> CheckResult:
    """Format candidate ``i`` on its stamp slot ``s`` as a V10 result."""
    g = lambda name: a[f"ps_{name}"][i, s]  # noqa: E731
    sp = prep.preps[int(sx.slot_stamps(ctx)[i, s])]
    stamp = sp.stamp
    if int(g("status")) != OK:
        c = ctx.candidates[i]
        return _skipped(g, sp, {"duration": c.duration_days, "period": c.period_days})
    overlap, oflags, onotes = sx.candidate_overlap(ctx, i, stamp)
    radii = opts.radii_px
    present = np.asarray(g("present"))
    depth = np.asarray(g("depth"), float)
    rec = int(g("rec"))
    drift = np.asarray(g("drift"), float)
    rec_drift = float(drift[rec]) if math.isfinite(drift[rec]) else None
    n_in, n_out = int(g("n_in")), int(g("n_out"))
    n_bg = int(g("n_bg"))
    depths = {str(float(r)): float(d) for r, d, p in zip(radii, depth, present, strict=True) if p}
    flags = _flags(g, sp, rec_drift)
    ref = {
        **overlap,
        "stability_metric": float(g("stability")),
        "depth_variance_ppm2": float(g("variance")),
        "recommended_aperture_pixels": float(radii[rec]),
        "depth_ppm_aperture_min": float(g("d_small")),
        "depth_ppm_aperture_max": float(g("d_large")),
        "aperture_depth_sign_flip": bool(g("sign_flip")),
        "n_in_transit_cadences": n_in,
        "n_out_of_transit_cadences": n_out,
        "n_transit_epochs": int(g("n_epochs")),
        "baseline_mode": "local_window_per_epoch",
        "local_baseline_window_days": LOCAL_WINDOW_DAYS,
        "background_mode": "annulus_median_per_cadence" if n_bg >= 3 else "none",
        "n_background_pixels": n_bg,
        "drift_fraction_recommended": rec_drift,
        **{_radius_key(float(r)): d for r, d in depths.items()},
    }
    metrics = {
        **ref,
        "depth_err_ppm_recommended": sx.finite_or_none(g("depth_err")),
        "depth_snr_recommended": sx.finite_or_none(g("depth_snr")),
        "sector": stamp.sector,
    }
    vals = [depths[str(float(r))] for r in radii if str(float(r)) in depths]
    var = float(g("variance"))
    mean = float(np.mean(vals))
    if len(vals) > 1 and var > 0:
        cv = math.sqrt(var) / abs(mean) if abs(mean) > 0 else None
        errs = [abs(d) * cv for d in vals] if cv is not None else [math.sqrt(var)] * len(vals)
    else:
        errs = [0.0] * len(vals)
    raw = {
        "status": "ok",
        "depths_by_aperture_ppm": depths,
        "background_annulus_radii_pixels": [float(g("bg_inner")), float(g("bg_outer"))],
        "flags": list(flags),
        "tpf_shape": list(stamp.shape),
        "sector": stamp.sector,
        "reference_compatible": ref,
        "plot_data": {
            "version": 1,
            "aperture_radii_px": [float(r) for r in radii if str(float(r)) in depths],
            "depths_ppm": vals,
            "depth_errs_ppm": errs,
            "recommended_aperture_pixels": float(radii[rec]),
            "sector": stamp.sector,
        },
    }
    return pp.slot_result(
        (ID, NAME),
        g,
        confidence=min(1.0, n_in / 10.0) * min(1.0, n_out / 50.0),
        flags=flags + oflags,
        metrics=metrics,
        raw=raw,
        notes=list(onotes) + list(stamp.notes),
    )


def format(ctx: VetContext, opts: V10Options, a: dict) -> list[CheckResult]:
    """One result per candidate from the host copy ``a`` of :func:`compute`."""
    return sx.format_per_stamp(ctx, opts, a, sector_result, (ID, NAME), "aperture analysis")


SPEC = CheckSpec(
    ID,
    NAME,
    compute,
    format,
    options=V10Options,
    summary_metrics=SUMMARY,
    needs_tpf=True,
    description="Aperture dependence: transit depth against the aperture radius (contamination)",
)
