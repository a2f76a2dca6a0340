"""V16 model competition: is a transit the best explanation of the folded light curve?

Three linear models of ``y = 1 - flux`` are fitted by weighted least squares
(``w = 1/(err^2 + 1e-20)``) to every valid point of the candidate's light curve and compared
by the Bayesian information criterion (Schwarz 1978; the Kepler Robovetter's model tests,
Coughlin et al. 2016, ApJS 224, 12; Thompson et al. 2018, ApJS 235, 38).  Following the
reference library (tess-vetter 0.3.20, reference semantics section 6.14):

* box template: ``|phi P| < D/2`` with ``phi = x - floor(x + 0.5)``, ``x = (t - t0)/P``;
* ``transit_only`` (k = 1): ``depth = sum w tmpl y / sum w tmpl^2`` (0 when the denominator is
  below 1e-20);
* ``transit_sinusoid`` (k = 1 + 2 n_harmonics): columns ``[tmpl, cos(2 pi j t/P), sin(2 pi j
  t/P)]``, j = 1..n_harmonics, on absolute times; ``amplitude_kj = hypot(a_cos, a_sin)``,
  ``phase_kj_rad = atan2(a_cos, a_sin)``;
* ``eb_like`` (k = 3): odd and even primary boxes (parity of ``floor(x + 0.5)``) and a box at
  phase 0.5;
* ``ln L = -0.5 (sum r^2/var + sum ln(2 pi var))`` with ``var = err^2`` (non-positive -> 1e-20),
  ``AIC = -2 ln L + 2k``, ``BIC = -2 ln L + k ln n``;
* winner: the lowest BIC (ties in the order above); ``winner_margin_bic`` = second - winner.
  Label ``AMBIGUOUS`` (risk 0.5) when the margin is below ``bic_threshold`` (10), else
  ``TRANSIT`` (0.0), ``SINUSOID`` (0.8) or ``EB_LIKE`` (0.9), with the reference's notes; the
  flag ``MODEL_PREFERS_NON_TRANSIT`` whenever the winner is not ``transit_only``;
* artifact prior: ``frac = |P - p|/p`` to the closest of 13.7, 27.4, 1.0, 0.5, 6.85, 41.1 d;
  alias risk ``1 - frac/alias_tolerance`` within the tolerance (0.01), else
  ``0.5 max(0, 1 - frac)``; sector-quality risk from ``quality_flags`` (``scattered_light``
  0.5, ``high_background`` 0.3, ``momentum_dump`` 0.2, the largest); scattered-light risk 0;
  combined ``0.5 alias + 0.3 sector + 0.2 scattered``.

The three fits come from one fused pass per candidate over the valid points
(:func:`jaxvet.core.box_harmonic.box_harmonic_sums`: every Gram matrix, right-hand side and
residual sum of the three models, for the fit weights, the unit weights of the RMS and, when it
differs from the fit weight by more than 1e-13 relative, ``1/var``), then small normal equations
(:func:`jaxvet.core.linear.solve_normal_equations`); ``vmap``-ped over a chunk's candidates.
Metrics carry the reference's names, unrounded (the reference does not round V16).  ``plot_data`` is the
reference's: medians of the flux in ``n_plot_bins`` (240, clipped to [20, 2000]) phase bins
``((t - t0) mod P)/P`` (empty bins dropped) and the three models on the bin centres.  The check is
metrics-only like the reference: ``verdict`` and ``confidence`` are None.  Options:
``n_harmonics`` and ``n_plot_bins`` (static: shapes), ``quality_flags`` (the reference's
``context["quality_flags"]``, names of the flagged sector-quality issues), and the traced
``bic_threshold`` and ``alias_tolerance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.checks.v19_alias_diagnostics import uniform_searchsorted
from jaxvet.core.bin_medians import blocked_bin_medians
from jaxvet.core.box_harmonic import box_harmonic_sums, lightcurve_sums, trig_pairs
from jaxvet.core.ephemeris import phase_mod
from jaxvet.core.linear import solve_normal_equations
from jaxvet.core.order_stats import sort_rows_by_flux
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import map_rows, rows_per_chunk
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, finite, in_range, option, positive
from jaxvet.results import OK, VERDICT_NONE, CheckResult

__all__ = ["SPEC", "V16Options", "model_competition", "MODELS", "LABELS", "KNOWN_ARTIFACT_PERIODS"]

ID = "V16"
NAME = "Model Competition"
MODELS = ("transit_only", "transit_sinusoid", "eb_like")
LABELS = ("TRANSIT", "SINUSOID", "EB_LIKE", "AMBIGUOUS")
#: artifact risk of each label
RISKS = (0.0, 0.8, 0.9, 0.5)
KNOWN_ARTIFACT_PERIODS = (13.7, 27.4, 1.0, 0.5, 6.85, 41.1)
#: sector-quality flag -> risk (the largest flagged one counts)
QUALITY_RISKS = {"scattered_light": 0.5, "high_background": 0.3, "momentum_dump": 0.2}
PRIOR_WEIGHTS = (0.5, 0.3, 0.2)
WEIGHT_FLOOR = 1e-20
FLAG = "MODEL_PREFERS_NON_TRANSIT"
NOTE_SINUSOID = "Sinusoidal variability model preferred - signal may be stellar rotation or pulsation"
NOTE_WEAK = (
    "Transit + weak variability regime: sinusoid term improves fit but is sub-dominant to transit depth."
)
NOTE_SECONDARY = "Secondary eclipse detected - likely eclipsing binary"


def _quality_flags(v):
    names = (v,) if isinstance(v, str) else tuple(v)
    if not all(isinstance(n, str) and n in QUALITY_RISKS for n in names):
        raise ValueError(f"a list of names from {sorted(QUALITY_RISKS)}")
    return tuple(dict.fromkeys(names))


class _Names:
    """Validator of ``quality_flags`` (a tuple of known names)."""

    def __call__(self, v):
        return _quality_flags(v)


@dataclass(frozen=True)
class V16Options(CheckOptions):
    """V16 options: static shapes (``n_harmonics``, ``n_plot_bins``), the host-side
    ``quality_flags`` and two traced thresholds."""

    check_id: ClassVar[str] = ID
    bic_threshold: float = option(10.0, finite, traced=True)
    n_harmonics: int = option(2, at_least(1))
    alias_tolerance: float = option(0.01, positive, traced=True)
    n_plot_bins: int = option(240, in_range(20, 2000))
    quality_flags: tuple = option((), _Names())


def _weights(f, e, valid, distinct_var: bool):
    """Per light-curve row: ``y = 1 - f``, the weightings (fit ``1/(err^2 + 1e-20)``, 1 for the
    RMS, and ``1/var`` for the likelihood when it differs from the fit's) and their
    candidate-independent sums."""
    w = jnp.where(valid, 1.0 / (e * e + WEIGHT_FLOOR), 0.0)
    e2 = e * e
    var = jnp.where(valid & jnp.isfinite(e2) & (e2 > 0), e2, WEIGHT_FLOOR)
    weights = (w, valid.astype(jnp.float64)) + ((jnp.where(valid, 1.0 / var, 0.0),) if distinct_var else ())
    y = jnp.where(valid, 1.0 - f, 0.0)
    return y, weights, {
        "syy": lightcurve_sums(y, weights),
        "log_det": jnp.sum(jnp.where(valid, jnp.log(2 * jnp.pi * var), 0.0), -1),
        "n_points": jnp.sum(valid, -1),
    }


def _quadratic(g, b, syy, beta):
    """``syy - 2 beta.b + beta^T g beta`` (the residual sum of a fit from its sums)."""
    return syy - 2.0 * jnp.sum(beta * b, -1) + jnp.einsum("...k,...kl,...l->...", beta, g, beta)


def _systems(s, n_harm):
    """Normal equations (n_w, K, K), (n_w, K) of the sinusoid and EB-like models from the sums."""
    k = 2 * n_harm
    trig = jnp.zeros(s["trig"].shape[:-1] + (k, k))
    for p, (i, j) in enumerate(trig_pairs(n_harm)):
        trig = trig.at[..., i, j].set(s["trig"][..., p]).at[..., j, i].set(s["trig"][..., p])
    top = jnp.concatenate([s["box"][..., None], s["box_trig"]], -1)
    g_sin = jnp.concatenate([top[..., None, :], jnp.concatenate([s["box_trig"][..., :, None], trig], -1)], -2)
    b_sin = jnp.concatenate([s["box_y"][..., None], s["trig_y"]], -1)
    z = jnp.zeros_like(s["odd"])
    g_eb = jnp.stack([
        jnp.stack([s["odd"], z, s["sec_odd"]], -1),
        jnp.stack([z, s["even"], s["sec_even"]], -1),
        jnp.stack([s["sec_odd"], s["sec_even"], s["sec"]], -1),
    ], -2)  # fmt: skip
    b_eb = jnp.stack([s["odd_y"], s["even_y"], s["sec_y"]], -1)
    return g_sin, b_sin, g_eb, b_eb


def _fits(t, y, weights, lc, period, t0, dur_h, n_harm):
    """The three fits of one candidate from one pass of sums: coefficients, chi-squares, RMS, n,
    sum ln(2 pi var)."""
    s = box_harmonic_sums(t, y, weights, period, t0, dur_h / 24.0 / 2.0, n_harm=n_harm)
    num, den = s["box_y"][0], s["box"][0]
    depth = jnp.where(den < WEIGHT_FLOOR, 0.0, num / jnp.where(den < WEIGHT_FLOOR, 1.0, den))
    g_sin, b_sin, g_eb, b_eb = _systems(s, n_harm)
    beta_sin = solve_normal_equations(g_sin[0], b_sin[0])
    beta_eb = solve_normal_equations(g_eb[0], b_eb[0])
    syy = lc["syy"]
    # residual sums per weighting (rows) and model (columns)
    rss = jnp.stack([
        syy - 2.0 * depth * s["box_y"] + depth * depth * s["box"],
        _quadratic(g_sin, b_sin, syy, beta_sin),
        _quadratic(g_eb, b_eb, syy, beta_eb),
    ], -1)  # fmt: skip
    n = lc["n_points"]
    return {
        "depth": depth,
        "beta_sin": beta_sin,
        "beta_eb": beta_eb,
        "chi2": rss[-1] if len(weights) > 2 else rss[0],
        "rms": jnp.sqrt(jnp.maximum(rss[1], 0.0) / n),
        "log_det": lc["log_det"],
        "n_points": n,
    }


def _plot(sf, tf, valid, period, t0, dur_h, depth, beta_sin, beta_eb, edges, n_harm):
    """Reference plot_data: per-bin medians of the folded flux and the models at bin centres."""
    nb = edges.shape[0] - 1
    ph = phase_mod(tf, t0, period)
    idx = uniform_searchsorted(edges, ph) - 1
    bins = jnp.where(valid & (idx >= 0) & (idx < nb), idx, nb)
    med, count = blocked_bin_medians(sf, bins, nb, block=512)
    centre = (edges[:-1] + edges[1:]) / 2.0
    half = (dur_h / 24.0 / period) / 2.0
    tmpl = ((centre < half) | (centre > 1.0 - half)).astype(jnp.float64)
    sec = (jnp.abs(centre - 0.5) < (dur_h / 24.0) / (2.0 * period)).astype(jnp.float64)
    depth_avg = (beta_eb[0] + beta_eb[1]) / 2.0
    a_c, a_s = beta_sin[1::2], beta_sin[2::2]
    amp, phi = jnp.sqrt(a_c**2 + a_s**2), jnp.arctan2(a_c, a_s)
    t_eval = t0 + centre * period
    omega = 2.0 * jnp.pi * jnp.arange(1, n_harm + 1, dtype=jnp.float64) / period
    wave = amp * jnp.sin(phi) * jnp.cos(omega * t_eval[:, None]) + amp * jnp.cos(phi) * jnp.sin(
        omega * t_eval[:, None]
    )
    return {
        "plot_centre": centre,
        "plot_count": count,
        "plot_flux": med,
        "transit_model": 1.0 - depth * tmpl,
        "eb_like_model": 1.0 - depth_avg * tmpl - beta_eb[2] * sec,
        "sinusoid_model": 1.0 - (beta_sin[0] * tmpl + jnp.sum(wave, -1)),
    }


def _one(li, period, t0, dur_h, rows, edges, *, n_harm):
    """One candidate on its light curve ``li`` of the per-light-curve ``rows`` (indexed here, so
    no (B, N) copy of a row is made)."""
    sf, tf, n_valid, t, y, weights, lc = jax.tree.map(lambda a: a[li], rows)
    fit = _fits(t, y, weights, lc, period, t0, dur_h, n_harm)
    valid = jnp.arange(sf.shape[-1]) < n_valid
    f = jnp.where(valid, sf, 1.0)
    fit.update(_plot(f, tf, valid, period, t0, dur_h, fit["depth"], fit["beta_sin"], fit["beta_eb"],
                     edges, n_harm))
    return fit


@partial(jax.jit, static_argnames=("n_harm", "n_fit", "distinct_var"))
def _kernel(c, sf, tf, n_valid, time, flux, err, edges, *, n_harm: int, n_fit: int, distinct_var: bool):
    # valid points come first in every row (time order, and flux order for the plot's medians)
    t, f, e, sf, tf = (a[:, :n_fit] for a in (time, flux, err, sf, tf))
    valid = jnp.arange(n_fit) < n_valid[:, None]
    y, weights, lc = _weights(f, e, valid, distinct_var)
    one = partial(_one, rows=(sf, tf, n_valid, t, y, weights, lc), edges=edges, n_harm=n_harm)
    return jax.vmap(one)(c["lc_index"], c["period"], c["t0"], c["dur_h"])


@partial(jax.jit, static_argnames=("n_harm",))
def _competition(fit, period, thr, *, n_harm: int):
    """Information criteria, winner, margin, label and artifact prior ((B,) each)."""
    k = jnp.array([1.0, 1.0 + 2 * n_harm, 3.0])
    log_lik = -0.5 * (fit["chi2"] + fit["log_det"][:, None])
    aic = -2 * log_lik + 2 * k
    bic = -2 * log_lik + k * jnp.log(fit["n_points"].astype(jnp.float64))[:, None]
    order = jnp.argsort(bic, axis=1, stable=True)
    winner = order[:, 0]
    b_sorted = jnp.take_along_axis(bic, order, 1)
    margin = b_sorted[:, 1] - b_sorted[:, 0]
    label = jnp.where(margin < thr["bic_threshold"], 3, winner)
    known = jnp.asarray(KNOWN_ARTIFACT_PERIODS)
    frac_all = jnp.abs(period[:, None] - known[None, :]) / known[None, :]
    frac = jnp.min(frac_all, axis=1)
    tol = thr["alias_tolerance"]
    alias = jnp.where(frac <= tol, 1.0 - frac / tol, jnp.maximum(0.0, 1.0 - frac) * 0.5)
    a_c, a_s = fit["beta_sin"][:, 1::2], fit["beta_sin"][:, 2::2]
    eb = fit["beta_eb"]
    avg = (eb[:, 0] + eb[:, 1]) / 2.0
    w = PRIOR_WEIGHTS
    per_model = {f"{c}_{m}": v[:, j] for c, v in (("bic", bic), ("aic", aic)) for j, m in enumerate(MODELS)}
    return {
        **per_model,
        "artifact_prior_combined_risk": w[0] * alias + w[1] * thr["sector_quality_risk"] + w[2] * 0.0,
        "log_likelihood": log_lik,
        "aic": aic,
        "bic": bic,
        "winner": winner,
        "winner_margin_bic": margin,
        "label": label,
        "artifact_risk": jnp.asarray(RISKS)[label],
        "period_alias_risk": alias,
        "amplitude": jnp.sqrt(a_c**2 + a_s**2),
        "phase_rad": jnp.arctan2(a_c, a_s),
        "depth_avg": avg,
        "odd_even_diff_frac": jnp.abs(eb[:, 0] - eb[:, 1]) / (avg + 1e-20),
    }


def sector_quality_risk(flags) -> float:
    """The reference's sector-quality risk of the flagged issues (the largest; 0 for none)."""
    return max([QUALITY_RISKS[q] for q in flags], default=0.0)


def plot_edges(n_bins: int) -> np.ndarray:
    """``np.linspace(0, 1, n + 1)`` with the reference's clip of ``n`` to [20, 2000]."""
    return np.linspace(0.0, 1.0, int(max(20, min(int(n_bins), 2000))) + 1)


def _fit_shape(lcb) -> tuple[int, bool]:
    """Static fit shape: the valid points' span rounded up to 4096 (valid points come first in
    every row), and whether the likelihood's ``1/var`` differs from the fit weight
    ``1/(err^2 + 1e-20)`` by more than 1e-13 relative anywhere (then it gets its own sums)."""
    nv = np.asarray(lcb.n_valid)
    n_fit = min(lcb.n_points, -(-max(int(nv.max()), 1) // 4096) * 4096)
    e = np.asarray(lcb.flux_err)[:, :n_fit]
    m = np.arange(n_fit) < nv[:, None]
    e2 = np.where(m, e * e, 1.0)
    var = np.where(np.isfinite(e2) & (e2 > 0), e2, WEIGHT_FLOOR)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        rel = np.abs(1.0 / (e2 + WEIGHT_FLOOR) * var - 1.0)
    return n_fit, bool(np.any(m & ~(rel <= 1e-13)))


def model_competition(lcb, lc_index, period, t0, duration_hours, opts: V16Options | None = None,
                      *, presorted=None) -> dict:
    """Batched V16 for B candidates (host arrays ``lc_index``, ``period`` (d), ``t0`` (BTJD),
    ``duration_hours``) against the rows of ``lcb``: a dict of device arrays, leading axis B
    (per-model entries (B, 3), ``plot_*`` (B, n_plot_bins))."""
    opts = opts or V16Options()
    period = np.asarray(period, np.float64)
    b = period.shape[0]
    if presorted is None:
        presorted = sort_rows_by_flux(lcb.flux, lcb.mask, lcb.time, lcb.flux_err)
    cands = {
        "lc_index": np.asarray(lc_index, np.int32),
        "period": period,
        "t0": np.asarray(t0, np.float64),
        "dur_h": np.asarray(duration_hours, np.float64),
    }
    n_harm = int(opts.n_harmonics)
    chunk = rows_per_chunk(4 * lcb.n_points, cap=bucket_size(b, 1))
    sf, tf, _ = presorted
    n_fit, distinct = _fit_shape(lcb)
    kernel = partial(_kernel, n_harm=n_harm, n_fit=n_fit, distinct_var=distinct)
    out = map_rows(kernel, cands, b, chunk, args=(sf, tf, lcb.n_valid, lcb.time, lcb.flux, lcb.flux_err,
                                                  jnp.asarray(plot_edges(opts.n_plot_bins))))
    thr = {**opts.traced(), "sector_quality_risk": np.asarray(sector_quality_risk(opts.quality_flags))}
    out.update(_competition(out, jnp.asarray(period), thr, n_harm=n_harm))
    out["status"] = jnp.full((b,), OK, jnp.int32)
    out["verdict"] = jnp.full((b,), VERDICT_NONE, jnp.int32)
    return out


def compute(ctx: VetContext, opts: V16Options | None = None) -> dict:
    """Device arrays of the V16 quantities for the chunk's candidates."""
    opts = V16Options.for_context(ctx, opts)
    return model_competition(ctx.lcb, *ctx.ephemeris_columns(), opts, presorted=ctx.flux_order())


def _fitted_params(a, i, n_harm):
    d, bs, be = float(a["depth"][i]), a["beta_sin"][i], a["beta_eb"][i]
    sin = {"depth": float(bs[0]), "depth_ppm": float(bs[0]) * 1e6, "n_harmonics": n_harm}
    for j in range(n_harm):
        sin[f"amplitude_k{j + 1}"] = float(a["amplitude"][i, j])
        sin[f"phase_k{j + 1}_rad"] = float(a["phase_rad"][i, j])
    odd, even, sec, avg = float(be[0]), float(be[1]), float(be[2]), float(a["depth_avg"][i])
    eb = {
        "depth_odd": odd, "depth_even": even, "depth_odd_ppm": odd * 1e6, "depth_even_ppm": even * 1e6,
        "depth_secondary": sec, "depth_secondary_ppm": sec * 1e6, "depth_avg": avg,
        "depth_avg_ppm": avg * 1e6, "odd_even_diff_frac": float(a["odd_even_diff_frac"][i]),
    }
    return {"transit_only": {"depth": d, "depth_ppm": d * 1e6}, "transit_sinusoid": sin, "eb_like": eb}


def _notes(label: int, margin: float, thr: float, params: dict) -> list[str]:
    """The reference's warnings of a label."""
    if LABELS[label] == "AMBIGUOUS":
        return [f"Model competition inconclusive (delta_BIC={margin:.1f} < {thr})"]
    if LABELS[label] == "SINUSOID":
        sin = params["transit_sinusoid"]
        ratio = abs(sin["amplitude_k1"]) * 1e6 / max(abs(sin["depth_ppm"]), 1e-6)
        return ([NOTE_WEAK] if ratio < 0.25 else []) + [NOTE_SINUSOID]
    if LABELS[label] == "EB_LIKE":
        eb, notes = params["eb_like"], []
        if eb["odd_even_diff_frac"] > 0.1:
            frac = eb["odd_even_diff_frac"]
            notes.append(f"Significant odd/even depth difference ({frac:.1%}) - likely eclipsing binary")
        if eb["depth_secondary"] > 0.0001:
            notes.append(NOTE_SECONDARY)
        return notes
    return []


def format(ctx: VetContext, opts: V16Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's V16 result, one per candidate."""
    opts = V16Options.for_context(ctx, opts)
    n_harm, thr = int(opts.n_harmonics), float(opts.bic_threshold)
    sector_risk = sector_quality_risk(opts.quality_flags)
    ks = (1, 1 + 2 * n_harm, 3)
    results = []
    for i in range(len(ctx.candidates)):
        params = _fitted_params(a, i, n_harm)
        fits = {
            m: {"model_type": m, "n_params": ks[j], "log_likelihood": float(a["log_likelihood"][i, j]),
                "aic": float(a["aic"][i, j]), "bic": float(a["bic"][i, j]),
                "residual_rms": float(a["rms"][i, j]), "fitted_params": params[m]}
            for j, m in enumerate(MODELS)
        }
        label, margin = int(a["label"][i]), float(a["winner_margin_bic"][i])
        alias = float(a["period_alias_risk"][i])
        prior = {"period_alias_risk": alias, "sector_quality_risk": sector_risk,
                 "scattered_light_risk": 0.0, "combined_risk": float(a["artifact_prior_combined_risk"][i])}
        winner = MODELS[int(a["winner"][i])]
        metrics = {
            "winner": winner,
            "winner_margin_bic": margin,
            "model_competition_label": LABELS[label],
            "artifact_risk": float(a["artifact_risk"][i]),
            **{f"bic_{m}": fits[m]["bic"] for m in MODELS},
            **{f"aic_{m}": fits[m]["aic"] for m in MODELS},
            **{f"artifact_prior_{k}": prior[k] for k in
               ("combined_risk", "period_alias_risk", "sector_quality_risk", "scattered_light_risk")},
        }
        notes = _notes(label, margin, thr, params)
        keep = np.asarray(a["plot_count"][i]) > 0
        plot = {"version": 1, "phase": np.asarray(a["plot_centre"][i])[keep].tolist(),
                "flux": np.asarray(a["plot_flux"][i])[keep].tolist()}
        for k in ("transit_model", "eb_like_model", "sinusoid_model"):
            plot[k] = np.asarray(a[k][i])[keep].tolist()
        raw = {
            "fits": fits, "artifact_prior": prior, "warnings": list(notes), "plot_data": plot,
            "provenance": {"bic_threshold": thr, "n_harmonics": n_harm,
                           "alias_tolerance": float(opts.alias_tolerance)},
        }
        results.append(CheckResult(
            id=ID, name=NAME, status="ok", confidence=None, verdict=None,
            flags=[FLAG] if winner != "transit_only" else [], metrics=metrics, raw=raw, notes=notes,
        ))
    return results


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V16Options,
    summary_metrics=("winner_margin_bic", "artifact_risk", "bic_transit_only", "bic_transit_sinusoid",
                     "bic_eb_like", "artifact_prior_combined_risk"),
    description="BIC competition of transit, transit + sinusoids and EB-like box models "
    "(weighted least squares)",
)
