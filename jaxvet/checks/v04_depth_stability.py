"""V04 depth stability: are the individual transit depths consistent with one another?

Variable depths point to a blended eclipsing binary or to systematics; a planet's transits
share one depth (Thompson et al. 2018, ApJS 235, 38; Wang & Espinoza 2023, arXiv:2311.02154;
Santerne et al. 2013, arXiv:1307.2003).

Reference-compatible part (``method="per_epoch_local_baseline"``, tess-vetter 0.3.20;
docs/checks.md).  Per epoch (see :mod:`jaxvet.core.epochs`): local baseline in
``|t - t_c| <= 6D`` (no period cap), ``depth_k = 1 - median(f_in)/baseline_k``,
``sigma_k = robust_std(oot)/sqrt(n_in)/baseline_k`` times the red-noise factor (Pont et al.
2006, MNRAS 373, 231); epochs with ``depth_k <= 0`` are dropped.  Over the N kept epochs:
mean, median, std (ddof 0), ``rms_scatter = std/mean``, per-epoch SNR domination metrics
(``s_max``, ``dom_ratio``, ``dom_frac``), weighted mean (``w = 1/(sigma^2 + 1e-12)``) vs median
(``dmm``), ``expected_scatter = sqrt(sum sigma^2)/N`` (the error of the mean),
``chi2_reduced = sum(((d - mean)/sigma)^2)/(N - 1)`` about the *unweighted* mean, and
MAD outliers ``|d - median| > 4 * 1.4826 MAD`` (N >= 3).  Confidence, notes, metrics and
rounding follow the reference exactly; N < 2 gives the note "Insufficient transits ..." and
confidence 0.3, ``D >= 0.5P`` the guard result (where the reference writes 0.0 for the
unmeasured ``chi2_reduced``, ``depth_scatter_ppm``, ``expected_scatter_ppm``, jaxvet gives None).

Beyond the reference: ``chi2_dof`` (N - 1), ``depth_mean_ppm`` (inverse-variance
weighted mean of the reference depths) and ``depth_err_mean_ppm`` (``1/sqrt(sum w)``),
``n_outliers_flagged`` and ``outlier_epochs`` (raw), ``chi2_reduced_excl_outliers`` (the
reference statistic without the flagged epochs), seed warnings (``low_n_transits``,
``outlier_epochs_flagged``, ``marginal_chi2``; appended to the notes after the reference's) and a
calibrated chi-square with a verdict:

* ``chi2_box_reduced``: per-epoch *box* depths ``1 - mean(f_i/b_k)`` (weighted
  by ``(b_k/err_i)^2`` when all errors are positive, as V01's OE_box) with errors
  ``sigma_k^2 = sigma_w^2 (1/n_k + (pi/2)/n_oot_k) + sigma_r^2 + (f_sys d_med)^2`` -- the
  in-transit mean, the median baseline of ``n_oot_k`` points, the correlated part (Pont et al.
  2006; ``sigma_w``, ``sigma_r`` pooled from the used epochs' local out-of-transit residuals in
  the 6D windows, see :func:`jaxvet.core.epochs.pink_noise_variances`) and a systematic floor,
  ``f_sys = depth_systematic_floor`` (0.02) of the median box depth ``d_med`` (``sigma_sys_ppm``:
  multiplicative systematics -- dilution, detrending that eats part of a transit -- scale with
  the depth and are invisible in flattened out-of-transit data; V01's epoch-scatter estimate
  would make this chi-square ~1 by construction).  Chi-square about the inverse-variance
  weighted mean per degree of freedom, over the reference's epochs that also cover at least
  ``min_epoch_coverage`` (0.6) of the transit (``n_epochs_used``, ``excluded_epochs``);
  ``chi2_box_reduced_excl_outliers`` without the flagged MAD outliers.  The reference's
  ``chi2_reduced`` is *not* calibrated: its ``sigma_k`` is the error of a mean while
  ``depth_k`` is a median of the in-transit points (and the transit is not a box), so for a
  perfectly stable trapezoid transit in white noise its median is ~2.5 and two thirds of
  stable planets would land in WARN (tests/test_v04.py::test_statistics_calibration);
* verdict: **insufficient** for the guard, fewer than 2 measured (or covered) transits, or an
  undefined statistic (no local out-of-transit residuals, zero noise); otherwise on ``X`` =
  ``chi2_box_reduced`` -- or, when MAD outliers are flagged and at least 2 epochs remain,
  ``chi2_box_reduced_excl_outliers`` (a single outlier epoch such as a momentum dump
  is flagged, not allowed to fail the candidate): **pass** if ``X < 2``, **warn** if
  ``2 <= X < 4``, **fail** if ``X >= 4``.  Option ``verdict_statistic="chi2_reduced"`` uses the
  reference statistic instead (same outlier rule); ``legacy_mode=True``: **pass** if
  ``rms_scatter < 0.3`` else **fail**.

Flag ``NEGATIVE_DEPTH``: the mean depth of every measured epoch (the dropped ``depth <= 0`` ones
included) is negative.  ``plot_data["chi2_dominating_idx"]`` is the epoch carrying at least half
of the box chi-square (the reference's ``dominating_epoch_idx`` is merely the highest-SNR one).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.epochs import epoch_box_depths, epoch_table_for_context, pink_noise_variances
from jaxvet.core.order_stats import MAD_TO_SIGMA, masked_median
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, boolean, in_range, one_of, option, positive
from jaxvet.errors import JaxvetInputError
from jaxvet.results import STATUS_CODES, VERDICT_CODES, CheckResult

__all__ = ["SPEC", "V04Options", "compute", "format", "DEFAULT_OPTIONS", "reference_confidence"]

ID = "V04"
NAME = "depth_stability"
#: flag: the measured epochs' mean depth is negative (the flux rises in transit)
NEGATIVE_DEPTH = "NEGATIVE_DEPTH"
METHOD = "per_epoch_local_baseline"
VERDICT_STATISTICS = ("box_chi2", "chi2_reduced")
SUMMARY_METRICS = (
    "chi2_box_reduced",
    "chi2_reduced",
    "chi2_reduced_excl_outliers",
    "rms_scatter",
    "n_transits_measured",
    "mean_depth_ppm",
    "depth_mean_ppm",
    "depth_err_mean_ppm",
    "depth_scatter_ppm",
    "expected_scatter_ppm",
    "dom_frac",
    "s_max",
    "n_outliers_flagged",
    "n_epochs_used",
)


@dataclass(frozen=True)
class V04Options(CheckOptions):
    """V04 options; the outlier and verdict thresholds are traced (no recompilation)."""

    check_id: ClassVar[str] = ID
    method: str = option(METHOD, one_of(METHOD))
    min_transits_for_confidence: int = option(3, at_least(2))
    outlier_sigma: float = option(4.0, positive, traced=True)
    chi2_threshold_pass: float = option(2.0, positive, traced=True)
    chi2_threshold_fail: float = option(4.0, positive, traced=True)
    legacy_mode: bool = option(False, boolean)
    rms_scatter_threshold: float = option(0.3, positive, traced=True)
    verdict_statistic: str = option("box_chi2", one_of(*VERDICT_STATISTICS))
    min_epoch_coverage: float = option(0.6, in_range(0.0, 1.0), traced=True)
    depth_systematic_floor: float = option(0.02, in_range(0.0, 1.0), traced=True)

    def validate(self) -> None:
        if self.chi2_threshold_fail < self.chi2_threshold_pass:
            raise JaxvetInputError(
                f"V04 chi2_threshold_fail ({self.chi2_threshold_fail!r}) must be >= "
                f"chi2_threshold_pass ({self.chi2_threshold_pass!r})"
            )


#: the default options as a plain mapping
DEFAULT_OPTIONS = V04Options().to_dict()


def _resolve(ctx: VetContext, opts: V04Options | None) -> V04Options:
    return opts if opts is not None else V04Options.from_mapping(ctx.options.get(ID))


def _chi2_weighted(d, s, sel):
    """Chi2 about the inverse-variance weighted mean, per dof (NaN if undefined)."""
    n = jnp.sum(sel, axis=1)
    good = jnp.all(~sel | (jnp.isfinite(s) & (s > 0)), axis=1)
    w = jnp.where(sel, 1.0 / jnp.where(sel & (s > 0), s * s, 1.0), 0.0)
    sw = jnp.sum(w, axis=1)
    mean = jnp.sum(w * jnp.where(sel, d, 0.0), axis=1) / jnp.where(sw > 0, sw, 1.0)
    z = jnp.where(sel, (d - mean[:, None]) / jnp.where(sel & (s > 0), s, 1.0), 0.0)
    chi2 = jnp.sum(z * z, axis=1) / jnp.maximum(n - 1, 1)
    return jnp.where(good & (n > 1), chi2, jnp.nan)


def _chi2_terms(d, s, sel):
    """Per-epoch terms ``((d - mean_w)/s)^2`` of :func:`_chi2_weighted` (0 off ``sel``)."""
    w = jnp.where(sel, 1.0 / jnp.where(sel & (s > 0), s * s, 1.0), 0.0)
    sw = jnp.sum(w, axis=1)
    mean = jnp.sum(w * jnp.where(sel, d, 0.0), axis=1) / jnp.where(sw > 0, sw, 1.0)
    z = jnp.where(sel, (d - mean[:, None]) / jnp.where(sel & (s > 0), s, 1.0), 0.0)
    return z * z


def _weighted_mean(d, s, sel):
    """Inverse-variance weighted mean of ``d`` over ``sel`` (NaN if empty)."""
    w = jnp.where(sel, 1.0 / jnp.where(sel & (s > 0), s * s, 1.0), 0.0)
    sw = jnp.sum(w, axis=1)
    return jnp.where(
        sw > 0, jnp.sum(w * jnp.where(sel, d, 0.0), axis=1) / jnp.where(sw > 0, sw, 1.0), jnp.nan
    )


def _chi2(d, s, sel):
    n = jnp.sum(sel, axis=1)
    mean = jnp.sum(jnp.where(sel, d, 0.0), axis=1) / jnp.maximum(n, 1)
    z = jnp.where(sel, (d - mean[:, None]) / jnp.where(sel, s, 1.0), 0.0)
    chi2 = jnp.sum(z * z, axis=1)
    return jnp.where(n > 1, chi2 / jnp.maximum(n - 1, 1), 0.0), mean


def _box_statistics(tab, acc, outlier, thr) -> dict:
    """V04's verdict statistic: per-epoch box depths with pink-noise errors (the model of
    V01's OE_box) and a depth-proportional systematic floor, over the covered epochs."""
    v = tab.v04
    # the calibrated statistic: per-epoch box depths with pink-noise errors (same model as OE_box),
    # over the epochs whose in-transit points cover >= min_epoch_coverage of the transit
    used = acc & (tab.coverage >= thr["min_epoch_coverage"])
    keep_box = used & ~outlier
    box = epoch_box_depths(tab, v)
    gate = lambda a: jnp.where(used, a, 0)  # noqa: E731
    pink = ("pink_n", "pink_sum_r", "pink_sum_r2", "pink_nbins", "pink_sum_m", "pink_sum_m2", "pink_sum_invc")
    var_w, var_r = pink_noise_variances(dataclasses.replace(v, **{k: gate(getattr(v, k)) for k in pink}))
    n_oot = jnp.maximum(v.n_oot, 1).astype(jnp.float64)
    # multiplicative systematics (dilution, detrending that eats part of a transit) scale with
    # the depth and are invisible in the out-of-transit noise: a floor of a fraction of it
    box_med = masked_median(box, used)
    var_sys = (thr["depth_systematic_floor"] * jnp.where(jnp.isfinite(box_med), box_med, 0.0)) ** 2
    sig_box = jnp.sqrt(
        var_w[:, None] * (1.0 / jnp.maximum(tab.n_in, 1) + (0.5 * jnp.pi) / n_oot)
        + var_r[:, None]
        + var_sys[:, None]
    )
    chi2_box = _chi2_weighted(box, sig_box, used)
    chi2_box_excl = _chi2_weighted(box, sig_box, keep_box)
    n_used = jnp.sum(used, axis=1)
    z_box = _chi2_terms(box, sig_box, used)
    return dict(
        used=used,
        keep_box=keep_box,
        box=box,
        sig_box=sig_box,
        chi2_box=chi2_box,
        chi2_box_excl=chi2_box_excl,
        n_used=n_used,
        z2_box=z_box,
        sigma_white=jnp.sqrt(var_w),
        sigma_red=jnp.sqrt(var_r),
        sigma_sys=jnp.sqrt(var_sys),
    )


def _aggregate(tab, thr, min_conf, legacy, use_box):
    """Per-candidate V04 statistics of an :class:`EpochTable` ((B,) or (B, E) arrays); ``thr``
    holds the traced thresholds (0-d arrays)."""
    v = tab.v04
    acc = v.ok & (v.depth > 0)
    n = jnp.sum(acc, axis=1)
    nf = jnp.maximum(n, 1).astype(jnp.float64)
    d = jnp.where(acc, v.depth, 0.0)
    s = jnp.where(acc, v.sigma, 1.0)
    mean = jnp.sum(d, axis=1) / nf
    median = masked_median(v.depth, acc)
    dev = jnp.where(acc, d - mean[:, None], 0.0)
    std = jnp.sqrt(jnp.sum(dev * dev, axis=1) / nf)
    rms = jnp.where(mean > 0, std / jnp.where(mean > 0, mean, 1.0), 0.0)
    s_ok = jnp.isfinite(s) & (s > 0)
    snr = jnp.abs(d) / (jnp.where(s_ok, s, jnp.nan) + 1e-12)
    snr = jnp.where(acc & jnp.isfinite(snr), snr, 0.0)
    snr_sq_sum = jnp.sum(snr * snr, axis=1)
    s_max = jnp.max(jnp.where(acc, snr, -jnp.inf), axis=1)
    s_max = jnp.where(n > 0, s_max, 0.0)
    s_median = masked_median(snr, acc)
    s_rms = jnp.sqrt(snr_sq_sum / nf)
    dom_pos = jnp.argmax(jnp.where(acc, snr, -jnp.inf), axis=1)
    dom_idx_list = jnp.take_along_axis(jnp.cumsum(acc, axis=1), dom_pos[:, None], axis=1)[:, 0] - 1
    dom_epoch = jnp.take_along_axis(tab.epoch, dom_pos[:, None], axis=1)[:, 0]
    w = jnp.where(acc & s_ok, 1.0 / (s * s + 1e-12), 0.0)
    wsum = jnp.sum(w, axis=1)
    d_mean_w = jnp.where(wsum > 0, jnp.sum(w * d, axis=1) / jnp.where(wsum > 0, wsum, 1.0), mean)
    dmm = jnp.where(jnp.isfinite(d_mean_w) & jnp.isfinite(median), d_mean_w / (median + 1e-12), 0.0)
    dmm_abs = jnp.where(jnp.isfinite(median), jnp.abs(d_mean_w - median) / (jnp.abs(median) + 1e-12), 0.0)
    absdev = jnp.abs(v.depth - median[:, None])
    depth_mad = masked_median(absdev, acc)
    expected = jnp.sqrt(jnp.sum(jnp.where(acc, v.sigma**2, 0.0), axis=1)) / nf
    all_pos = jnp.all(~acc | (v.sigma > 0), axis=1)
    chi2_red, _ = _chi2(d, s, acc)
    chi2_red = jnp.where(all_pos, chi2_red, 0.0)
    mad_scale = depth_mad * MAD_TO_SIGMA
    outlier = (
        acc
        & (n >= min_conf)[:, None]
        & (mad_scale > 0)[:, None]
        & (absdev > (thr["outlier_sigma"] * mad_scale)[:, None])
    )
    n_out = jnp.sum(outlier, axis=1)
    keep = acc & ~outlier
    chi2_excl, _ = _chi2(d, s, keep)
    chi2_excl = jnp.where(all_pos, chi2_excl, 0.0)
    n_keep = jnp.sum(keep, axis=1)
    bx = _box_statistics(tab, acc, outlier, thr)
    use_excl = (n_out > 0) & (n_keep >= 2)
    use_excl_box = (n_out > 0) & (jnp.sum(bx["keep_box"], axis=1) >= 2)
    box_stat = jnp.where(use_excl_box, bx["chi2_box_excl"], bx["chi2_box"])
    stat = jnp.where(use_box, box_stat, jnp.where(use_excl, chi2_excl, chi2_red))
    stat_undefined = jnp.where(use_box & ~legacy, jnp.isnan(stat), ~all_pos)
    graded = jnp.where(
        stat < thr["chi2_threshold_pass"],
        VERDICT_CODES["pass"],
        jnp.where(stat < thr["chi2_threshold_fail"], VERDICT_CODES["warn"], VERDICT_CODES["fail"]),
    )
    by_rms = jnp.where(rms < thr["rms_scatter_threshold"], VERDICT_CODES["pass"], VERDICT_CODES["fail"])
    graded = jnp.where(legacy, by_rms, graded)
    undefined = ~tab.active | (n < 2) | stat_undefined | (use_box & ~legacy & (bx["n_used"] < 2))
    verdict = jnp.where(undefined, VERDICT_CODES["insufficient"], graded).astype(jnp.int32)
    return dict(
        accepted=acc,
        outlier=outlier,
        n=n,
        mean=mean,
        median=median,
        std=std,
        rms=rms,
        s_max=s_max,
        s_median=jnp.where(n > 0, s_median, 0.0),
        dom_ratio=jnp.where(n > 0, s_max / (s_rms + 1e-12), 0.0),
        dom_frac=jnp.where(n > 0, s_max**2 / (snr_sq_sum + 1e-12), 0.0),
        dom_idx_list=dom_idx_list,
        dom_epoch=dom_epoch,
        d_mean_w=d_mean_w,
        depth_err_mean=jnp.where(wsum > 0, 1.0 / jnp.sqrt(jnp.where(wsum > 0, wsum, 1.0)), jnp.nan),
        dmm=dmm,
        dmm_abs=dmm_abs,
        depth_mad=jnp.where(n > 0, depth_mad, 0.0),
        expected=jnp.where(n > 0, expected, 0.0),
        all_pos=all_pos,
        chi2_red=chi2_red,
        chi2_excl=chi2_excl,
        **{k: bx[k] for k in ("chi2_box", "chi2_box_excl", "box", "used", "n_used", "z2_box")},
        **{k: bx[k] for k in ("sigma_white", "sigma_red", "sigma_sys")},
        sig_box=jnp.where(acc, bx["sig_box"], jnp.nan),
        box_mean=jnp.where(
            use_excl_box,
            _weighted_mean(bx["box"], bx["sig_box"], bx["keep_box"]),
            _weighted_mean(bx["box"], bx["sig_box"], bx["used"]),
        ),
        n_out=n_out,
        n_processed=jnp.sum(v.processed, axis=1),
        n_global=jnp.sum(v.used_global, axis=1),
        # every measured epoch, the dropped depth <= 0 ones included: a brightening on average
        negative=jnp.sum(jnp.where(v.ok, v.depth, 0.0), axis=1) < 0,
        verdict=verdict,
    )


@jax.jit
def _v04_kernel(tab, t0, period, thr, min_conf, legacy, use_box):
    """The V04 compute tree of one epoch table (device arrays, leading axis = table rows)."""
    h = _aggregate(tab, thr, min_conf, legacy, use_box)
    guard = tab.guard
    n = h["n"]
    full = (n >= 2) & ~guard
    z = lambda x: jnp.where(full, x, jnp.nan)  # noqa: E731  (the reference's 0.0: nothing measured)
    nan_unless = lambda x: jnp.where(full, x, jnp.nan)  # noqa: E731
    return {
        "status": jnp.full(guard.shape, STATUS_CODES["ok"], jnp.int32),
        "verdict": h["verdict"],
        "guard": guard,
        "n_transits_measured": jnp.where(guard, 0, n),
        "chi2_reduced": z(h["chi2_red"]),
        "chi2_box_reduced": nan_unless(h["chi2_box"]),
        "chi2_box_reduced_excl_outliers": nan_unless(h["chi2_box_excl"]),
        "sigma_white_ppm": h["sigma_white"] * 1e6,
        "sigma_red_ppm": h["sigma_red"] * 1e6,
        "sigma_sys_ppm": h["sigma_sys"] * 1e6,
        "n_epochs_used": jnp.where(guard, 0, h["n_used"]),
        "chi2_reduced_excl_outliers": nan_unless(h["chi2_excl"]),
        "rms_scatter": z(h["rms"]),
        "mean_depth_ppm": z(h["mean"] * 1e6),
        "depth_mean_ppm": nan_unless(h["d_mean_w"] * 1e6),
        "depth_err_mean_ppm": nan_unless(h["depth_err_mean"] * 1e6),
        "depth_scatter_ppm": z(h["std"] * 1e6),
        "expected_scatter_ppm": z(h["expected"] * 1e6),
        "dom_frac": z(h["dom_frac"]),
        "s_max": z(h["s_max"]),
        "n_outliers_flagged": jnp.where(full, h["n_out"], 0),
        **{f"_{k}": h[k] for k in h if k not in ("verdict",)},
        "epoch": tab.epoch,
        "epoch_center": tab.center,
        "epoch_depth": tab.v04.depth,
        "epoch_sigma": tab.v04.sigma,
        "epoch_inflation": tab.v04.inflation,
        "epoch_coverage": tab.coverage,
        "t0": t0,
        "period": period,
    }


def compute(ctx: VetContext, opts: V04Options | None = None) -> dict:
    """Device arrays of every V04 quantity (leading axis: the chunk's candidates)."""
    opts = _resolve(ctx, opts)
    tab = epoch_table_for_context(ctx)
    padded = ctx.cb.pad(tab.guard.shape[0])
    out = _v04_kernel(
        tab,
        padded.t0,
        padded.period,
        opts.traced(),
        np.int64(opts.min_transits_for_confidence),
        np.bool_(opts.legacy_mode),
        np.bool_(opts.verdict_statistic == "box_chi2"),
    )
    nb = ctx.n_candidates
    return jax.tree.map(lambda x: x[:nb], out)


def reference_confidence(n: int, has_outliers: bool, has_warnings: bool, min_conf: int = 3) -> float:
    """The reference's V04 confidence model (docs/checks.md)."""
    if n < min_conf:
        base = 0.35
    elif n < 5:
        base = 0.55
    elif n < 10:
        base = 0.7
    elif n < 20:
        base = 0.8
    else:
        base = 0.85
    if has_outliers:
        base *= 0.85
    if has_warnings and base > 0.5:
        base *= 0.95
    return round(min(0.95, max(0.2, base)), 3)


def _fnum(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _rnum(x, nd) -> float | None:
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def _rule(opts: V04Options) -> str:
    return "legacy_rms_scatter" if opts.legacy_mode else str(opts.verdict_statistic)


def _plot_times(t0, period, eps, depths, sigmas, n_plot):
    return {
        "version": 1,
        "epoch_times_btjd": [float(t0 + e * period) for e in eps[:n_plot]],
        "depths_ppm": [float(d * 1e6) for d in depths[:n_plot]],
        "depth_errs_ppm": [float(s * 1e6) for s in sigmas[:n_plot]],
    }


def _guarded(opts: V04Options, verdict: str) -> CheckResult:
    """The reference's result for ``D >= 0.5 P``."""
    plot = {
        "version": 1, "epoch_times_btjd": [], "depths_ppm": [], "depth_errs_ppm": [],
        "mean_depth_ppm": None, "expected_scatter_ppm": None, "dominating_epoch_idx": None,
    }  # fmt: skip
    metrics = {
        "n_transits_measured": 0,
        "depth_scatter_ppm": None,
        "expected_scatter_ppm": None,
        "chi2_reduced": None,
        "note": "Duration too long relative to period for depth stability check",
        "n_epochs_used": 0,
        "verdict_rule": _rule(opts),
    }
    raw = dict(metrics, depths_ppm=[], plot_data=plot, warnings=[], excluded_epochs=[], _metrics_only=True)
    notes = ["duration_too_long_relative_to_period"]
    return CheckResult(ID, NAME, "ok", 0.2, verdict, [], metrics, raw, notes)


def _too_few(
    opts, verdict, t0, period, eps, depths, sigmas, n, warnings, seed_warnings, n_used, excluded, flags
) -> CheckResult:
    """The reference's result with fewer than 2 measured transits."""
    plot = _plot_times(t0, period, eps, depths, sigmas, 50)
    plot.update(
        mean_depth_ppm=float(depths[0] * 1e6) if n else None,
        expected_scatter_ppm=None,
        dominating_epoch_idx=None,
    )
    metrics = {
        "n_transits_measured": n,
        "depth_scatter_ppm": None,
        "expected_scatter_ppm": None,
        "chi2_reduced": None,
        "note": "Insufficient transits for depth stability check",
        "chi2_dof": max(n - 1, 0),
        "n_outliers_flagged": 0,
        "n_epochs_used": n_used,
        "verdict_rule": _rule(opts),
    }
    raw = dict(metrics, depths_ppm=[], plot_data=plot, warnings=seed_warnings, outlier_epochs=[])
    raw["excluded_epochs"] = excluded
    raw["_metrics_only"] = True
    return CheckResult(ID, NAME, "ok", 0.3, verdict, flags, metrics, raw, warnings + seed_warnings)


def _measured_metrics(a: dict, b: int, n: int, n_outliers: int, opts: V04Options) -> dict:
    """The metrics of a candidate with >= 2 measured transits (reference rounding)."""
    t0, period = float(a["t0"][b]), float(a["period"][b])
    mean, std = float(a["_mean"][b]), float(a["_std"][b])
    dom_epoch = int(a["_dom_epoch"][b])
    d_mean_w, d_med = float(a["_d_mean_w"][b]), float(a["_median"][b])
    return {
        "mean_depth": round(mean, 6),
        "std_depth": round(std, 6),
        "rms_scatter": round(float(a["_rms"][b]), 4),
        "n_transits_measured": n,
        "mean_depth_ppm": round(mean * 1e6, 1),
        "depth_scatter_ppm": round(std * 1e6, 1),
        "expected_scatter_ppm": round(float(a["_expected"][b]) * 1e6, 2),
        "chi2_reduced": round(float(a["_chi2_red"][b]), 2),
        "dom_ratio": round(float(a["_dom_ratio"][b]), 3),
        "dom_frac": round(float(a["_dom_frac"][b]), 3),
        "s_max": round(float(a["_s_max"][b]), 3),
        "s_median": round(float(a["_s_median"][b]), 3),
        "dominating_epoch_index": dom_epoch,
        "dominating_epoch_time_btjd": round(float(t0 + dom_epoch * period), 6),
        "d_mean_w_ppm": round(d_mean_w * 1e6, 2),
        "d_med_ppm": round(d_med * 1e6, 2),
        "dmm": round(float(a["_dmm"][b]), 3),
        "dmm_abs": round(float(a["_dmm_abs"][b]), 3),
        "depth_mad_ppm": round(float(a["_depth_mad"][b]) * 1e6, 2),
        "method": METHOD,
        # jaxvet's additions (docs/checks.md)
        "chi2_dof": n - 1,
        "chi2_reduced_excl_outliers": _rnum(a["_chi2_excl"][b], 3),
        "depth_mean_ppm": _rnum(d_mean_w * 1e6, 2),
        "depth_err_mean_ppm": _rnum(float(a["_depth_err_mean"][b]) * 1e6, 2),
        "n_outliers_flagged": n_outliers,
        "chi2_box_reduced": _rnum(a["_chi2_box"][b], 3),
        "chi2_box_reduced_excl_outliers": _rnum(a["_chi2_box_excl"][b], 3),
        "sigma_white_ppm": _rnum(a["sigma_white_ppm"][b], 2),
        "sigma_red_ppm": _rnum(a["sigma_red_ppm"][b], 2),
        "sigma_sys_ppm": _rnum(a["sigma_sys_ppm"][b], 2),
        "n_epochs_used": int(a["n_epochs_used"][b]),
        "n_epochs_excluded": n - int(a["n_epochs_used"][b]),
        "verdict_rule": _rule(opts),
    }


def _chi2_dominating(z2: np.ndarray, n_plot: int) -> int | None:
    """Position of the epoch carrying at least half of the box chi-square, if there is one (and
    it is among the ``n_plot`` plotted epochs)."""
    total = float(np.sum(z2))
    if z2.size < 2 or not total > 0:
        return None
    k = int(np.argmax(z2))
    return k if z2[k] >= 0.5 * total and k < n_plot else None


def _measured(a, b, opts, verdict, eps, depths, sigmas, n, warnings, seed_warnings, excluded, flags):
    """The result of a candidate with >= 2 measured transits."""
    t0, period = float(a["t0"][b]), float(a["period"][b])
    acc = a["_accepted"][b]
    if not a["_all_pos"][b]:
        warnings.append("Some sigma values are zero, chi2 unreliable")
    outlier_epochs = [int(e) for e in a["epoch"][b][a["_outlier"][b]]]
    if outlier_epochs:
        warnings.append(f"Outlier epochs detected: {outlier_epochs}")
        seed_warnings.append("outlier_epochs_flagged")
    if verdict == "warn" and not opts.legacy_mode:
        seed_warnings.append("marginal_chi2")
    min_conf = opts.min_transits_for_confidence
    confidence = reference_confidence(n, bool(outlier_epochs), bool(warnings), min_conf)
    metrics = _measured_metrics(a, b, n, len(outlier_epochs), opts)
    n_plot = min(50, n)
    dom_pos = int(a["_dom_idx_list"][b])
    plot = _plot_times(t0, period, eps, depths, sigmas, n_plot)
    plot.update(
        mean_depth_ppm=float(a["_mean"][b] * 1e6),
        expected_scatter_ppm=float(a["_expected"][b] * 1e6),
        dominating_epoch_idx=dom_pos if dom_pos < n_plot else None,
        weighted_mean_depth_ppm=_fnum(a["_d_mean_w"][b] * 1e6),
        depth_err_mean_ppm=_fnum(float(a["_depth_err_mean"][b]) * 1e6),
        outlier_epoch_times_btjd=[float(t0 + e * period) for e in outlier_epochs],
        chi2_threshold_pass=opts.chi2_threshold_pass,
        box_depths_ppm=[_fnum(x * 1e6) for x in a["_box"][b][acc][:n_plot]],
        box_errs_ppm=[_fnum(x * 1e6) for x in a["_sig_box"][b][acc][:n_plot]],
        box_mean_ppm=_fnum(a["_box_mean"][b] * 1e6),
        coverage=[_rnum(x, 3) for x in a["epoch_coverage"][b][acc][:n_plot]],
        excluded=[bool(x) for x in ~a["_used"][b][acc][:n_plot]],
        min_epoch_coverage=opts.min_epoch_coverage,
        chi2_dominating_idx=_chi2_dominating(a["_z2_box"][b][acc], n_plot),
    )
    raw = dict(
        metrics,
        individual_depths=[round(float(d), 6) for d in depths[:10]],
        depths_ppm=[round(float(d) * 1e6, 1) for d in depths[:20]],
        outlier_epochs=outlier_epochs,
        excluded_epochs=excluded,
        warnings=seed_warnings,
        plot_data=plot,
        _metrics_only=True,
    )
    return CheckResult(ID, NAME, "ok", confidence, verdict, flags, metrics, raw, warnings + seed_warnings)


def _one(a: dict, b: int, opts: V04Options) -> CheckResult:
    verdict = ["pass", "warn", "fail", "insufficient"][int(a["verdict"][b])]
    if a["guard"][b]:
        return _guarded(opts, verdict)
    acc = a["_accepted"][b]
    eps = a["epoch"][b][acc].astype(int)
    depths, sigmas = a["epoch_depth"][b][acc], a["epoch_sigma"][b][acc]
    n = int(a["_n"][b])
    warnings = []
    n_proc, n_glob = int(a["_n_processed"][b]), int(a["_n_global"][b])
    if n_proc > 0 and n_glob >= n_proc * 0.5:
        warnings.append(
            f"depth_stability_baseline_fallback: {n_glob}/{n_proc} epochs used global OOT baseline"
        )
    seed_warnings = ["low_n_transits"] if n < opts.min_transits_for_confidence else []
    t0, period = float(a["t0"][b]), float(a["period"][b])
    excluded = [int(e) for e in a["epoch"][b][acc & ~a["_used"][b]]]
    flags = [NEGATIVE_DEPTH] if a["_negative"][b] else []
    if n < 2:
        n_used = int(a["n_epochs_used"][b])
        return _too_few(
            opts,
            verdict,
            t0,
            period,
            eps,
            depths,
            sigmas,
            n,
            warnings,
            seed_warnings,
            n_used,
            excluded,
            flags,
        )
    return _measured(a, b, opts, verdict, eps, depths, sigmas, n, warnings, seed_warnings, excluded, flags)


def format(ctx: VetContext, opts: V04Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    opts = _resolve(ctx, opts)
    return [_one(a, b, opts) for b in range(ctx.n_candidates)]


SPEC = CheckSpec(
    ID, NAME, compute, format, options=V04Options, summary_metrics=SUMMARY_METRICS,
    description="Per-epoch depth consistency (chi-square vs measurement errors, MAD outliers)",
)
