"""V01 odd/even depth: do odd and even transits have the same depth?

An eclipsing binary detected at half its true orbital period shows its primary and secondary
eclipses as alternating "odd" and "even" transits of different depths (Thompson et al. 2018,
ApJS 235, 38, Kepler DR25 Robovetter).

Reference-compatible part (``method="per_epoch_median"``, tess-vetter 0.3.20; docs/checks.md).
Per epoch: ``depth_k = 1 - median(f_in)/baseline_k`` with a local baseline
(``|t - t_c| <= min(6D, 0.45P)``, not in transit) and
``sigma_k = robust_std(oot)/sqrt(n_in)/baseline_k`` inflated for red noise (Pont et al. 2006,
MNRAS 373, 231); see :mod:`jaxvet.core.epochs`.  Parity is ``epoch % 2`` (Python modulo, so negative
epochs work).  Per parity ``d = median(depth_k)``, ``sigma = median(sigma_k)/sqrt(N)``;
``delta_sigma = |d_odd - d_even|/sqrt(sigma_odd^2 + sigma_even^2)``,
``rel_diff = |delta|/max(|d_odd|, |d_even|, 1e-10)``.  Fewer than 2 transits or 20 in-transit
points in either parity is *insufficient* (flag ``INSUFFICIENT_DATA``, confidence 0.2; the
reference zeroes the depth metrics, jaxvet reports them as None: nothing was measured);
``D >= 0.5 P`` is guarded the same way.  Every other metric, note, flag and the confidence model
reproduce the reference, with its rounding.

Beyond the reference: the OE_box statistic of LEO-Vetter (Kunimoto et al. 2025,
arXiv:2509.10619) with pink-noise uncertainties (Pont et al. 2006), over the *covered* epochs:
measured epochs whose in-transit points cover at least ``min_epoch_coverage`` (0.6, the minimum
transit coverage V05 also requires; docs/checks.md) of the transit at the local cadence
(``EpochTable.coverage``; partial transits at gap edges hold mostly ingress or egress and are
biased shallow):

* box depth of a parity: ``delta_box = 1 - weighted_mean(f_i / b_k)`` over every in-transit
  point ``i`` of the parity's covered epochs ``k`` (each point normalised by its own epoch's
  baseline ``b_k``); weights ``(b_k/err_i)^2`` when every such point has a positive
  ``flux_err``, equal weights otherwise.  This is the per-parity weighted-mean depth;
* ``sigma_box = sqrt(sigma_w^2/n + sigma_r^2/N_tr)`` with ``n`` the parity's in-transit points
  and ``N_tr`` its transits.  ``sigma_w`` is the standard deviation of the normalised local
  out-of-transit residuals ``f/b_k - 1`` pooled over the measured epochs (V01 windows, local
  baselines); ``sigma_r^2 = max(0, var(m_j) - sigma_w^2 <1/c_j>)`` from the means ``m_j`` of the
  same residuals in duration-wide bins (``c_j >= 3`` points; bins centred on ``t_c + jD``,
  ``1 <= |j| <= 6``) -- the white-noise part of the binned scatter removed (Hartman & Bakos
  2016, A&C 17, 1) -- or, if larger, the transit-timescale excess variance of the per-epoch box
  depths about their parity's mean (:func:`jaxvet.core.noise.epoch_excess_variance`, beyond 2
  standard deviations of the white expectation ``sigma_w^2 (1/n_k + (pi/2)/n_oot_k)``): on a
  flattened light curve the out-of-transit bins are whitened and ``sigma_r`` from them is 0,
  while the transits themselves scatter (``sigma_red_bins_ppm``, ``sigma_red_epochs_ppm``);
* ``oe_box_sigma = |delta_odd - delta_even|/sqrt(sigma_odd^2 + sigma_even^2)`` (0 when the
  denominator is 0) and ``oe_box_rel_diff = |delta_odd - delta_even|/max(|delta_odd|,
  |delta_even|, 1e-10)``.

Robust OE_box (the verdict's): the covered epochs whose box depth lies more than
``outlier_sigma`` (4) x 1.4826 MAD from their own parity's median box depth
(:func:`jaxvet.core.epochs.parity_mad_outliers`; V04's MAD rule within each parity, >= 3
epochs) are dropped when each parity keeps ``min_transits_per_parity`` epochs, and OE_box is
recomputed without them, noise included (``oe_box_sigma_robust``, ``oe_box_rel_diff_robust``,
``depth_{odd,even}_box_robust_ppm``, ``sigma_red_robust_ppm``; ``n_epochs_dropped``,
``raw["dropped_epochs"]``, flag ``OUTLIER_EPOCHS_DROPPED``).  One damaged transit otherwise
inflates the epoch-scatter red noise and hides a real odd/even difference on the others.

Verdict: **insufficient** for the guard or the reference's low-N rules (this
includes a single parity, for which the note ``single_parity_epochs`` is added), or when a
parity keeps fewer than ``min_transits_per_parity`` covered epochs; otherwise
**fail** if the difference is significant -- ``oe_box_sigma_robust >= 3``, or
``oe_box_rel_diff_robust >= 0.5`` *and* ``oe_box_sigma_robust >= 2`` -- *and* at least a
relative floor of the depth, ``oe_box_rel_diff_robust >= rel_diff_floor`` (0.05), all computed
from the *box depths* above, not from the reference's median depths; else **pass** (flag
``BELOW_RELATIVE_FLOOR`` when only the floor made it one).  The significance gate on the
relative-difference rule is jaxvet's: without it a
candidate with no transit (both depths ~0 +- noise, so the relative difference is ~1) fails,
which on 1,000 random ephemerides on TOI-5807 was 78% of them, and low-SNR planets fail by
noise alone; with it the rule keeps its purpose (a large, at least 2-sigma difference is
EB-like).  The relative floor is jaxvet's too: at an SNR of hundreds a sigma-only rule flags
percent-level systematics (detrending that eats part of some transits), which are not an
eclipsing binary's odd/even difference (docs/checks.md, WASP-18 b).  Options:
``oe_sigma_threshold`` (3), ``rel_diff_threshold`` (0.5), ``rel_diff_min_sigma`` (2; 0 gives the
literal LEO-Vetter rule), ``rel_diff_floor`` (0.05; 0 turns the floor off),
``min_epoch_coverage`` (0.6), ``outlier_sigma`` (4), all traced.  Flag ``NEGATIVE_DEPTH`` marks
a negative parity depth (median or box).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.epochs import (
    FOLD_BINS,
    box_weights_ok,
    epoch_box_depths,
    epoch_table_for_context,
    parity_mad_outliers,
    pink_noise_variances,
)
from jaxvet.core.noise import epoch_excess_variance
from jaxvet.core.stats import masked_median
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, in_range, non_negative, one_of, option, positive
from jaxvet.results import STATUS_CODES, VERDICT_CODES, CheckResult

__all__ = ["SPEC", "V01Options", "compute", "format", "DEFAULT_OPTIONS", "reference_confidence"]

ID = "V01"
NAME = "odd_even_depth"
#: flag of a result whose measured depth is negative (the flux rises in transit)
NEGATIVE_DEPTH = "NEGATIVE_DEPTH"
#: flag of a result whose verdict statistic left out MAD-outlier epochs (``dropped_epochs``)
OUTLIER_EPOCHS_DROPPED = "OUTLIER_EPOCHS_DROPPED"
#: flag of a pass whose odd/even difference is significant but below ``rel_diff_floor``
BELOW_RELATIVE_FLOOR = "BELOW_RELATIVE_FLOOR"
METHOD = "per_epoch_median"
SUMMARY_METRICS = (
    "delta_sigma",
    "rel_diff",
    "depth_odd_ppm",
    "depth_even_ppm",
    "depth_err_odd_ppm",
    "depth_err_even_ppm",
    "n_odd_transits",
    "n_even_transits",
    "oe_box_sigma",
    "oe_box_rel_diff",
    "depth_odd_box_ppm",
    "depth_even_box_ppm",
    "sigma_white_ppm",
    "sigma_red_ppm",
    "n_epochs_used",
)


@dataclass(frozen=True)
class V01Options(CheckOptions):
    """V01 options; the thresholds are traced (changing them does not recompile)."""

    check_id: ClassVar[str] = ID
    method: str = option(METHOD, one_of(METHOD))
    min_transits_per_parity: int = option(2, at_least(1))
    min_points_in_transit_per_parity: int = option(20, at_least(1))
    oe_sigma_threshold: float = option(3.0, positive, traced=True)
    rel_diff_threshold: float = option(0.5, positive, traced=True)
    rel_diff_min_sigma: float = option(2.0, non_negative, traced=True)
    min_epoch_coverage: float = option(0.6, in_range(0.0, 1.0), traced=True)
    outlier_sigma: float = option(4.0, positive, traced=True)
    rel_diff_floor: float = option(0.05, in_range(0.0, 1.0), traced=True)


#: the default options as a plain mapping
DEFAULT_OPTIONS = V01Options().to_dict()


def _resolve(ctx: VetContext, opts: V01Options | None) -> V01Options:
    return opts if opts is not None else V01Options.from_mapping(ctx.options.get(ID))


def _oe_box(tab, v, use_ep, odd):
    """OE_box over the epochs ``use_ep`` (B, E): parity box depths, their pink-noise errors and
    the statistic (see the module docstring)."""
    n_in = tab.n_in.astype(jnp.float64)
    ok = v.ok
    use = {"odd": use_ep & odd, "even": use_ep & ~odd}
    res = {}
    base = jnp.where(ok, v.baseline, 1.0)
    err_ok = box_weights_ok(tab, v)
    box = {}
    for p, s in use.items():
        num_w = jnp.sum(jnp.where(s, base * tab.sum_fw_in, 0.0), axis=1)
        den_w = jnp.sum(jnp.where(s, base * base * tab.sum_w_in, 0.0), axis=1)
        num_u = jnp.sum(jnp.where(s, tab.sum_f_in / base, 0.0), axis=1)
        den_u = jnp.sum(jnp.where(s, n_in, 0.0), axis=1)
        num = jnp.where(err_ok, num_w, num_u)
        den = jnp.where(err_ok, den_w, den_u)
        box[p] = jnp.where(den > 0, 1.0 - num / jnp.where(den > 0, den, 1.0), jnp.nan)
        res[f"n_{p}_transits_used"] = jnp.sum(s, axis=1)
        res[f"n_{p}_points_used"] = jnp.sum(jnp.where(s, tab.n_in, 0), axis=1)
    # white noise and out-of-transit red noise from the used epochs' local windows ...
    gate = lambda a: jnp.where(use_ep, a, 0)  # noqa: E731
    vg = dataclasses.replace(
        v, **{k: gate(getattr(v, k)) for k in ("pink_n", "pink_sum_r", "pink_sum_r2", "pink_nbins")}
    )
    vg = dataclasses.replace(
        vg, **{k: gate(getattr(v, k)) for k in ("pink_sum_m", "pink_sum_m2", "pink_sum_invc")}
    )
    var_w, var_r_bins = pink_noise_variances(vg)
    # ... and the transit-timescale red noise from the per-epoch box depths' scatter about their
    # parity's mean beyond the white expectation (a floor: flattening whitens the out-of-transit
    # data, so the binned estimate collapses while the in-transit baselines keep their errors)
    ep_box = epoch_box_depths(tab, v)
    n_oot = jnp.maximum(v.n_oot, 1).astype(jnp.float64)
    var_ep_white = var_w[:, None] * (1.0 / jnp.maximum(n_in, 1.0) + (0.5 * jnp.pi) / n_oot)
    var_r_ep = epoch_excess_variance(ep_box, var_ep_white, use_ep, odd.astype(jnp.int32))
    var_r = jnp.where(jnp.isnan(var_r_ep), var_r_bins, jnp.maximum(var_r_bins, var_r_ep))
    var_r = jnp.where(jnp.isnan(var_w), jnp.nan, var_r)
    for p in use:
        npts = res[f"n_{p}_points_used"].astype(jnp.float64)
        ntr = res[f"n_{p}_transits_used"].astype(jnp.float64)
        res[f"box_{p}"] = box[p]
        res[f"box_err_{p}"] = jnp.where(
            (npts > 0) & (ntr > 0),
            jnp.sqrt(var_w / jnp.maximum(npts, 1.0) + var_r / jnp.maximum(ntr, 1.0)),
            jnp.nan,
        )
    dbox = box["odd"] - box["even"]
    sbox = jnp.sqrt(res["box_err_odd"] ** 2 + res["box_err_even"] ** 2)
    oe = jnp.where(sbox > 0, jnp.abs(dbox) / jnp.where(sbox > 0, sbox, 1.0), 0.0)
    oe = jnp.where(jnp.isnan(sbox) | jnp.isnan(dbox), jnp.nan, oe)
    oe_rel = jnp.abs(dbox) / jnp.maximum(jnp.maximum(jnp.abs(box["odd"]), jnp.abs(box["even"])), 1e-10)
    res.update(oe=oe, oe_rel=oe_rel, var_w=var_w, var_r=var_r, var_r_bins=var_r_bins, var_r_ep=var_r_ep)
    res["ep_box"] = ep_box
    return res


def odd_even_statistics(tab, thr, min_tr, min_pts):
    """Per-parity reference medians and OE_box statistics of an :class:`EpochTable` ((B,) each);
    ``thr`` holds the traced thresholds (0-d arrays)."""
    v = tab.v01
    ok = v.ok
    odd = jnp.mod(tab.epoch, 2.0) == 1.0
    sel = {"odd": ok & odd, "even": ok & ~odd}
    out = {}
    for p, s in sel.items():
        n = jnp.sum(s, axis=1)
        out[f"n_{p}_transits"] = n
        out[f"n_{p}_points"] = jnp.sum(jnp.where(s, tab.n_in, 0), axis=1)
        out[f"median_{p}"] = masked_median(v.depth, s)
        out[f"sigma_{p}"] = masked_median(v.sigma, s) / jnp.sqrt(jnp.maximum(n, 1).astype(jnp.float64))
    insufficient = (
        (out["n_odd_transits"] < min_tr)
        | (out["n_even_transits"] < min_tr)
        | (out["n_odd_points"] < min_pts)
        | (out["n_even_points"] < min_pts)
    )
    mo, me = out["median_odd"], out["median_even"]
    delta = mo - me
    sd = jnp.sqrt(out["sigma_odd"] ** 2 + out["sigma_even"] ** 2)
    out["delta"] = delta
    out["delta_sigma_raw"] = jnp.where(sd > 0, jnp.abs(delta) / jnp.where(sd > 0, sd, 1.0), 0.0)
    out["rel_diff_raw"] = jnp.abs(delta) / jnp.maximum(jnp.maximum(jnp.abs(mo), jnp.abs(me)), 1e-10)
    out["n_processed"] = jnp.sum(v.processed, axis=1)
    out["n_global"] = jnp.sum(v.used_global, axis=1)

    # ---- OE_box: weighted-mean box depths with pink-noise errors, over the covered epochs ---
    # an epoch enters jaxvet's statistics only if its in-transit points cover at least
    # min_epoch_coverage of the transit at the local cadence (partial transits at gap edges
    # sample only ingress or egress and bias the box depth shallow)
    use_ep = ok & (tab.coverage >= thr["min_epoch_coverage"])
    r = _oe_box(tab, v, use_ep, odd)
    for p in ("odd", "even"):
        for k in (f"n_{p}_transits_used", f"n_{p}_points_used", f"box_{p}", f"box_err_{p}"):
            out[k] = r[k]
    oe, oe_rel, var_w, var_r = r["oe"], r["oe_rel"], r["var_w"], r["var_r"]
    var_r_bins, var_r_ep, ep_box = r["var_r_bins"], r["var_r_ep"], r["ep_box"]
    # ---- the verdict's statistic: OE_box without the epochs whose box depth is a MAD outlier
    # of its parity (V04's rule, 4 robust sigma), if each parity keeps min_tr epochs
    outlier = parity_mad_outliers(ep_box, use_ep, odd, thr["outlier_sigma"])
    keep = use_ep & ~outlier
    enough = (jnp.sum(keep & odd, axis=1) >= min_tr) & (jnp.sum(keep & ~odd, axis=1) >= min_tr)
    dropped = outlier & enough[:, None]
    rr = _oe_box(tab, v, use_ep & ~dropped, odd)
    out["dropped"] = dropped
    out["oe_box_sigma_robust"] = rr["oe"]
    out["oe_box_rel_diff_robust"] = rr["oe_rel"]
    out["box_odd_robust"], out["box_even_robust"] = rr["box_odd"], rr["box_even"]
    out["sigma_red_robust"] = jnp.sqrt(rr["var_r"])
    out["oe_box_sigma"] = oe
    out["oe_box_rel_diff"] = oe_rel
    out["sigma_white"] = jnp.sqrt(var_w)
    out["sigma_red"] = jnp.sqrt(var_r)
    out["sigma_red_bins"] = jnp.sqrt(var_r_bins)
    out["sigma_red_epochs"] = jnp.sqrt(var_r_ep)
    out["epoch_used"] = use_ep
    out["epoch_box"] = ep_box
    gated_low = (out["n_odd_transits_used"] < min_tr) | (out["n_even_transits_used"] < min_tr)
    out["gated_low"] = gated_low

    oe_v, rel_v = rr["oe"], rr["oe_rel"]
    undefined = ~tab.active | insufficient | gated_low | jnp.isnan(oe_v) | jnp.isnan(rel_v)
    significant = (oe_v >= thr["oe_sigma_threshold"]) | (
        (rel_v >= thr["rel_diff_threshold"]) & (oe_v >= thr["rel_diff_min_sigma"])
    )
    # a significant difference fails only if it is also a non-negligible fraction of the depth
    fail = significant & (rel_v >= thr["rel_diff_floor"])
    out["below_floor"] = ~undefined & significant & ~fail
    out["verdict"] = jnp.where(
        undefined,
        VERDICT_CODES["insufficient"],
        jnp.where(fail, VERDICT_CODES["fail"], VERDICT_CODES["pass"]),
    ).astype(jnp.int32)
    out["insufficient"] = insufficient
    return out


@jax.jit
def _v01_kernel(tab, thr, min_tr, min_pts):
    """The V01 compute tree of one epoch table (device arrays, leading axis = table rows)."""
    h = odd_even_statistics(tab, thr, min_tr, min_pts)
    guard = tab.guard
    ins = h["insufficient"] | guard
    zero_if = lambda x: jnp.where(ins, jnp.nan, x)  # noqa: E731  (nothing measured: NaN -> None)
    keep = lambda x: jnp.where(guard, 0, x)  # noqa: E731
    v = tab.v01
    return {
        "status": jnp.full(guard.shape, STATUS_CODES["ok"], jnp.int32),
        "verdict": h["verdict"],
        "guard": guard,
        "insufficient": ins,
        # reference metrics (unrounded; NaN where the reference zeroes them: nothing measured)
        "delta_sigma": zero_if(h["delta_sigma_raw"]),
        "rel_diff": zero_if(h["rel_diff_raw"]),
        "depth_odd_ppm": zero_if(h["median_odd"] * 1e6),
        "depth_even_ppm": zero_if(h["median_even"] * 1e6),
        "depth_err_odd_ppm": zero_if(h["sigma_odd"] * 1e6),
        "depth_err_even_ppm": zero_if(h["sigma_even"] * 1e6),
        **{f"n_{p}_{k}": keep(h[f"n_{p}_{k}"]) for p in ("odd", "even") for k in ("transits", "points")},
        **{k: h[k] for k in ("median_odd", "median_even", "sigma_odd", "sigma_even", "n_processed")},
        "n_global": h["n_global"],
        # OE_box
        "oe_box_sigma": h["oe_box_sigma"],
        "oe_box_rel_diff": h["oe_box_rel_diff"],
        "depth_odd_box_ppm": h["box_odd"] * 1e6,
        "depth_even_box_ppm": h["box_even"] * 1e6,
        "depth_err_odd_box_ppm": h["box_err_odd"] * 1e6,
        "depth_err_even_box_ppm": h["box_err_even"] * 1e6,
        "sigma_white_ppm": h["sigma_white"] * 1e6,
        "sigma_red_ppm": h["sigma_red"] * 1e6,
        "sigma_red_bins_ppm": h["sigma_red_bins"] * 1e6,
        "sigma_red_epochs_ppm": h["sigma_red_epochs"] * 1e6,
        "n_epochs_used": jnp.where(guard, 0, h["n_odd_transits_used"] + h["n_even_transits_used"]),
        "n_epochs_excluded": jnp.sum(v.ok & ~h["epoch_used"], axis=1),
        "oe_box_sigma_robust": h["oe_box_sigma_robust"],
        "oe_box_rel_diff_robust": h["oe_box_rel_diff_robust"],
        "depth_odd_box_robust_ppm": h["box_odd_robust"] * 1e6,
        "depth_even_box_robust_ppm": h["box_even_robust"] * 1e6,
        "sigma_red_robust_ppm": h["sigma_red_robust"] * 1e6,
        "n_epochs_dropped": jnp.where(guard, 0, jnp.sum(h["dropped"], axis=1)),
        "below_floor": h["below_floor"] & ~guard,
        "epoch_dropped": h["dropped"],
        # per-epoch arrays (B, E) for formatting and plots
        "epoch": tab.epoch,
        "epoch_ok": v.ok,
        "epoch_depth": v.depth,
        "epoch_sigma": v.sigma,
        "epoch_n_in": tab.n_in,
        "epoch_rn_warn": v.rn_warn,
        "epoch_used": h["epoch_used"],
        "epoch_coverage": tab.coverage,
        "epoch_box": h["epoch_box"],
        "fold_sum": tab.fold_sum,
        "fold_cnt": tab.fold_cnt,
        "fold_half_range": tab.fold_half_range,
    }


def compute(ctx: VetContext, opts: V01Options | None = None) -> dict:
    """Device arrays of every V01 quantity (leading axis: the chunk's candidates)."""
    opts = _resolve(ctx, opts)
    tab = epoch_table_for_context(ctx)
    out = _v01_kernel(
        tab,
        opts.traced(),
        np.int64(opts.min_transits_per_parity),
        np.int64(opts.min_points_in_transit_per_parity),
    )
    nb = ctx.n_candidates
    return jax.tree.map(lambda x: x[:nb], out)


def reference_confidence(n_odd: int, n_even: int, delta_sigma: float, has_warnings: bool) -> float:
    """The reference's V01 confidence model (docs/checks.md)."""
    n_min = min(n_odd, n_even)
    if n_min <= 1:
        base = 0.2
    elif n_min <= 3:
        base = 0.5
    elif n_min <= 7:
        base = 0.7
    else:
        base = 0.85
    if delta_sigma < 1.0 and n_min >= 4:
        base = min(0.95, base * 1.05)
    if has_warnings:
        base *= 0.9
    return round(min(0.95, base), 3)


def _f(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _r(x, nd) -> float | None:
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def _f_list(a) -> list:
    """``[_f(v) for v in a]`` with one conversion of the array."""
    return [v if math.isfinite(v) else None for v in np.asarray(a, np.float64).tolist()]


def _r_list(a, nd) -> list:
    """``[_r(v, nd) for v in a]`` with one conversion of the array."""
    return [round(v, nd) if math.isfinite(v) else None for v in np.asarray(a, np.float64).tolist()]


def _empty_plot() -> dict:
    return {
        "version": 1,
        "odd_epochs": [],
        "odd_depths_ppm": [],
        "odd_errs_ppm": [],
        "even_epochs": [],
        "even_depths_ppm": [],
        "even_errs_ppm": [],
        "mean_odd_ppm": None,
        "mean_even_ppm": None,
    }


#: the reference's depth metrics, which it zeroes when nothing was measured (jaxvet: None)
UNMEASURED_METRICS = (
    "odd_depth", "even_depth", "depth_diff_sigma", "depth_odd_ppm", "depth_even_ppm",
    "depth_err_odd_ppm", "depth_err_even_ppm", "delta_ppm", "delta_sigma", "rel_diff",
)  # fmt: skip


def _unmeasured(p_odd: int, p_even: int, n_odd: int, n_even: int) -> dict:
    """The reference's metrics of an insufficient result, None where it writes 0.0."""
    m = {k: None for k in UNMEASURED_METRICS[:3]}
    m.update(n_odd_points=p_odd, n_even_points=p_even, n_odd_transits=n_odd, n_even_transits=n_even)
    m.update({k: None for k in UNMEASURED_METRICS[3:]})
    m["method"] = METHOD
    return m


def _fold_block(a: dict, b: int, duration_hours: float) -> dict:
    half = float(a["fold_half_range"][b])
    edges_h = np.linspace(-half, half, FOLD_BINS + 1) * 24.0
    centers = 0.5 * (edges_h[1:] + edges_h[:-1])
    out = {"fold_bin_centers_hours": centers.tolist(), "duration_hours": duration_hours}
    for par, name in ((1, "odd"), (0, "even")):
        s = a["fold_sum"][b, par]
        c = a["fold_cnt"][b, par]
        prof = np.where(c > 0, 1.0 + s / np.maximum(c, 1), np.nan)
        out[f"fold_{name}_flux"] = _f_list(prof)
        out[f"fold_{name}_counts"] = np.asarray(c).astype(np.int64).tolist()
    return out


def _guarded(verdict: str, extras: dict) -> CheckResult:
    """The reference's result for ``D >= 0.5 P``: nothing is measured, so where the reference
    writes 0.0 every depth metric is None (counts stay 0)."""
    notes = ["duration_too_long_relative_to_period", "insufficient_data_for_odd_even_check"]
    metrics = _unmeasured(0, 0, 0, 0)
    metrics.update({k: None for k in extras})
    metrics.update(n_epochs_used=0, n_epochs_excluded=0, n_epochs_dropped=0)
    raw = dict(metrics, epoch_depths_odd_ppm=[], epoch_depths_even_ppm=[], plot_data=_empty_plot())
    raw["excluded_epochs"] = []
    raw["dropped_epochs"] = []
    raw["_metrics_only"] = True
    return CheckResult(ID, NAME, "ok", 0.2, verdict, ["INSUFFICIENT_DATA"], metrics, raw, notes)


#: jaxvet's own (non-reference) V01 metrics in output order: name -> rounding digits
#: (None: an integer count)
_EXTRA_DIGITS = {
    "oe_box_sigma": 3,
    "oe_box_rel_diff": 4,
    **dict.fromkeys(("depth_odd_box_ppm", "depth_even_box_ppm", "depth_err_odd_box_ppm"), 2),
    **dict.fromkeys(("depth_err_even_box_ppm", "sigma_white_ppm", "sigma_red_ppm"), 2),
    **dict.fromkeys(("sigma_red_bins_ppm", "sigma_red_epochs_ppm"), 2),
    **dict.fromkeys(("n_epochs_used", "n_epochs_excluded")),
    "oe_box_sigma_robust": 3,
    "oe_box_rel_diff_robust": 4,
    **dict.fromkeys(("depth_odd_box_robust_ppm", "depth_even_box_robust_ppm", "sigma_red_robust_ppm"), 2),
    "n_epochs_dropped": None,
}


def _extras(a: dict, b: int) -> dict:
    """jaxvet's own (non-reference) V01 metrics of candidate ``b`` (:data:`_EXTRA_DIGITS`)."""
    return {k: int(a[k][b]) if nd is None else _r(a[k][b], nd) for k, nd in _EXTRA_DIGITS.items()}


def format(ctx: VetContext, opts: V01Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    opts = _resolve(ctx, opts)
    mt = opts.min_transits_per_parity
    mp = opts.min_points_in_transit_per_parity
    results = []
    for b, cand in enumerate(ctx.candidates):
        extras = _extras(a, b)
        verdict = ["pass", "warn", "fail", "insufficient"][int(a["verdict"][b])]
        if a["guard"][b]:
            results.append(_guarded(verdict, extras))
            continue
        ok = a["epoch_ok"][b]
        ep = a["epoch"][b]
        odd = np.mod(ep, 2) == 1
        warnings = [
            f"Epoch {int(e)}: insufficient OOT for red noise estimation" for e in ep[a["epoch_rn_warn"][b]]
        ]
        n_proc, n_glob = int(a["n_processed"][b]), int(a["n_global"][b])
        if n_proc > 0 and n_glob >= n_proc * 0.5:
            warnings.append(
                f"odd_even_baseline_fallback_global_oot: {n_glob}/{n_proc} "
                "epochs used global OOT baseline (local window too sparse)"
            )
        par, cov = {}, {}
        for name, sel in (("odd", ok & odd), ("even", ok & ~odd)):
            par[name] = (ep[sel].astype(int), a["epoch_depth"][b][sel], a["epoch_sigma"][b][sel])
            cov[name] = (a["epoch_coverage"][b][sel], ~a["epoch_used"][b][sel], a["epoch_box"][b][sel])
            cov[name] += (a["epoch_dropped"][b][sel],)
        n_odd, n_even = int(a["n_odd_transits"][b]), int(a["n_even_transits"][b])
        p_odd, p_even = int(a["n_odd_points"][b]), int(a["n_even_points"][b])
        plot = {
            "version": 1,
            "odd_epochs": par["odd"][0][:50].tolist(),
            "odd_depths_ppm": (par["odd"][1][:50] * 1e6).tolist(),
            "odd_errs_ppm": (par["odd"][2][:50] * 1e6).tolist(),
            "even_epochs": par["even"][0][:50].tolist(),
            "even_depths_ppm": (par["even"][1][:50] * 1e6).tolist(),
            "even_errs_ppm": (par["even"][2][:50] * 1e6).tolist(),
        }
        for name in ("odd", "even"):  # jaxvet: coverage, exclusion and box depth per epoch
            plot[f"{name}_coverage"] = _r_list(cov[name][0][:50], 3)
            plot[f"{name}_excluded"] = np.asarray(cov[name][1][:50], bool).tolist()
            plot[f"{name}_box_depths_ppm"] = _f_list(cov[name][2][:50] * 1e6)
            plot[f"{name}_dropped"] = np.asarray(cov[name][3][:50], bool).tolist()
        plot["min_epoch_coverage"] = opts.min_epoch_coverage
        if a["insufficient"][b]:
            if n_odd < mt:
                warnings.append(f"Only {n_odd} odd transit(s), need {mt}")
            if n_even < mt:
                warnings.append(f"Only {n_even} even transit(s), need {mt}")
            if p_odd < mp:
                warnings.append(f"Only {p_odd} odd in-transit points, need {mp}")
            if p_even < mp:
                warnings.append(f"Only {p_even} even in-transit points, need {mp}")
            warnings.append("insufficient_data_for_odd_even_check")
            metrics = _unmeasured(p_odd, p_even, n_odd, n_even)
            confidence = 0.2
            plot.update(mean_odd_ppm=None, mean_even_ppm=None)
            lists = {"epoch_depths_odd_ppm": [], "epoch_depths_even_ppm": []}
        else:
            mo, me = float(a["median_odd"][b]), float(a["median_even"][b])
            so, se = float(a["sigma_odd"][b]), float(a["sigma_even"][b])
            ds = float(a["delta_sigma"][b])
            confidence = reference_confidence(n_odd, n_even, ds, len(warnings) > 0)
            metrics = {
                "odd_depth": round(mo, 6),
                "even_depth": round(me, 6),
                "depth_diff_sigma": round(ds, 2),
                "n_odd_points": p_odd,
                "n_even_points": p_even,
                "n_odd_transits": n_odd,
                "n_even_transits": n_even,
                "depth_odd_ppm": round(mo * 1e6, 1),
                "depth_even_ppm": round(me * 1e6, 1),
                "depth_err_odd_ppm": round(so * 1e6, 1),
                "depth_err_even_ppm": round(se * 1e6, 1),
                "delta_ppm": round((mo - me) * 1e6, 1),
                "delta_sigma": round(ds, 2),
                "rel_diff": round(float(a["rel_diff"][b]), 3),
                "method": METHOD,
            }
            plot.update(mean_odd_ppm=float(mo * 1e6), mean_even_ppm=float(me * 1e6))
            lists = {
                "epoch_depths_odd_ppm": np.round(par["odd"][1][:20] * 1e6, 1).tolist(),  # numpy's round
                "epoch_depths_even_ppm": np.round(par["even"][1][:20] * 1e6, 1).tolist(),
            }
        flags = ["INSUFFICIENT_DATA"] if "insufficient_data" in str(warnings).lower() else []
        depths = [metrics["depth_odd_ppm"], metrics["depth_even_ppm"]]
        depths += [extras["depth_odd_box_ppm"], extras["depth_even_box_ppm"]]
        if any(d is not None and d < 0 for d in depths):
            flags.append(NEGATIVE_DEPTH)  # a brightening, not a transit
        dropped = ep[a["epoch_dropped"][b]].astype(np.int64).tolist()
        if dropped:
            flags.append(OUTLIER_EPOCHS_DROPPED)  # the verdict is on OE_box without them
        if a["below_floor"][b]:
            flags.append(BELOW_RELATIVE_FLOOR)  # significant, but under rel_diff_floor of the depth
        notes = list(warnings)
        if (n_odd == 0) != (n_even == 0):
            notes.append("single_parity_epochs")
        metrics.update(extras)
        plot.update(_fold_block(a, b, float(cand.duration_hours)))
        plot["box_depth_odd_ppm"] = extras["depth_odd_box_ppm"]
        plot["box_depth_even_ppm"] = extras["depth_even_box_ppm"]
        raw = dict(metrics, **lists, plot_data=plot)
        raw["excluded_epochs"] = ep[ok & ~a["epoch_used"][b]].astype(np.int64).tolist()
        raw["dropped_epochs"] = dropped
        raw["_metrics_only"] = True
        results.append(CheckResult(ID, NAME, "ok", confidence, verdict, flags, metrics, raw, notes))
    return results


SPEC = CheckSpec(
    ID,
    NAME,
    compute,
    format,
    options=V01Options,
    summary_metrics=SUMMARY_METRICS,
    description="Odd vs even transit depths (per-epoch medians, reference) and OE_box (pink noise)",
)
