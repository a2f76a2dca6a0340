"""V12 SWEET: is the out-of-transit flux a sinusoid at P/2, P or 2P (stellar variability)?

Starspots, pulsations and ellipsoidal variation modulate the flux at the rotation or orbital
period; folded at a candidate's period such a signal can produce a "transit" (Coughlin et al.
2016, ApJS 224, 12, the Sine Wave Evaluation for Ephemeris Transits; Thompson et al. 2018, ApJS
235, 38).  The reference (tess-vetter 0.3.20's V12, exovetter 0.0.16
``Sweet(lc_name="flux", threshold_sigma=3)``; docs/checks.md) is reproduced for every candidate
and its three trial periods at once:

* the valid flux minus its mean; the cadences within ``D/2`` (strict) of a transit time
  ``epoch + k P`` (``k`` from ``floor((t_min - epoch)/P)`` to ``ceil((t_max - epoch)/P)``) are
  dropped and the mean of the rest subtracted again.  exovetter's epoch is the candidate's
  ``t0`` taken through BJD and back (``(t0 + 2457000) - 2457000``) and its duration
  ``hours * (1/24)``, both reproduced to the bit;
* the per-point scatter ``s``: :func:`jaxvet.core.noise.point_to_point_scatter` (differences of
  consecutive out-of-transit points, 5-sigma clipped, ``1.4826 MAD / sqrt(2)``);
* for ``per`` in ``(P/2, P, 2P)`` (an array axis): ``phase = fmod(t - epoch + per, per)`` and a
  least-squares fit of ``a sin(w phase) + b cos(w phase)`` (weights ``1/s^2``, no constant) with
  ``w = 2 pi / max(phase)`` (exovetter's WqedLSF fits with the largest phase, not ``per``);
  ``amp = hypot(a, b)``, ``amp_unc = sqrt(2 var / N)`` with ``var`` the residual sum of squares
  over ``N - 2`` and ``snr = amp / amp_unc``;
* ``sweet_msg``: one ``WARN`` line per trial period with ``snr > threshold_sigma`` (joined by
  newlines), else the ``OK`` line; metrics are the reference's inputs summary (``n_points``,
  ``baseline_days`` and ``cadence_median_min`` to 2 dp, ``n_transits_expected``), the three
  unrounded SNRs and ``sweet_msg``; confidence ``min(1, n_points/200)``; no flags, even when
  the message warns.  Fewer than 3 out-of-transit points: the reference's error
  (``ERROR:sweet_execution_failed``, exovetter's message as the note).  The reference skips a
  candidate without a depth (SWEET does not use it); jaxvet runs it.

jaxvet's verdict (the reference has none): ``warn`` when the SNR at P/2 or at P exceeds
``threshold_sigma`` (out-of-transit variability at the transit period or its first harmonic),
``pass`` otherwise, ``insufficient`` when an SNR is not finite (zero scatter).  It never fails:
the scatter is white noise per point, so red noise inflates the SNRs (on TOI-5807 most random
ephemerides warn; docs/checks.md).  ``plot_data`` is the reference's: 600 valid points
(``int(linspace(0, n-1, 600))``) folded on ``((t - t0)/P) mod 1``, flux over its median, and a
sinusoid-plus-constant least-squares fit of 2, 1 and 0.5 cycles per phase.

Options: ``threshold_sigma`` (3, traced).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.linear import weighted_lstsq
from jaxvet.core.noise import point_to_point_scatter, previous_valid
from jaxvet.core.numerics import exact_div, floor_mod, numpy_linspace, rounded_mul, sincos
from jaxvet.core.order_stats import masked_count, masked_median
from jaxvet.core.stats import masked_mean, masked_sum
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import map_rows, rows_per_chunk
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, option, positive
from jaxvet.results import ERROR, OK, VERDICT_CODES, VERDICT_NONE, CheckResult, error_result, verdict_name

__all__ = ["SPEC", "V12Options", "compute", "format", "sweet", "sweet_message"]

ID = "V12"
NAME = "SWEET"
#: trial periods in units of the candidate's period (rows of every (B, 3) output)
TRIAL_FACTORS = (0.5, 1.0, 2.0)
SNR_KEYS = ("snr_half_period", "snr_at_period", "snr_double_period")
WARN_LINES = (
    "WARN: SWEET test finds signal at HALF transit period",
    "WARN: SWEET test finds signal at the transit period",
    "WARN: SWEET test finds signal at TWICE the transit period",
)
OK_LINE = "OK: SWEET finds no out-of-transit variability at transit period"
#: exovetter's epoch round trip through BJD (``const.btjd``)
BTJD_OFFSET = 2457000.0
#: the scatter's outlier clip (exovetter ``estimate_scatter``)
CLIP_SIGMA = 5.0
#: terms of the sinusoid fit (sin, cos); a fit needs more points than this
FIT_ORDER = 2
#: confidence reaches 1 at this many points
FULL_CONFIDENCE_POINTS = 200.0
#: plot subsample size and the cycles per phase of its three fits
PLOT_POINTS = 600
PLOT_CYCLES = (2.0, 1.0, 0.5)
#: exovetter's messages when the fit has no point, or too few
EMPTY_FIT_NOTE = "zero-size array to reduction operation maximum which has no identity"
SHORT_FIT_NOTE = "Length of input must be at least one greater than order"
ERROR_REASON = "sweet_execution_failed"
#: the reference's inputs-summary metrics, in its order
SUMMARY_KEYS = ("n_points", "baseline_days", "n_transits_expected", "cadence_median_min")


@dataclass(frozen=True)
class V12Options(CheckOptions):
    """V12 options (exovetter ``Sweet``'s ``threshold_sigma``)."""

    check_id: ClassVar[str] = ID
    threshold_sigma: float = option(3.0, positive, traced=True)


def _transit_cadences(t, m, epoch, period, dur):
    """exovetter ``mark_transit_cadences`` (num_durations 1): valid points with
    ``|t - (epoch + k P)| < D/2`` for a listed ``k``; the two nearest ``k`` (and one more each
    side, for rounding) are tested."""
    i0 = jnp.floor(exact_div(jnp.min(jnp.where(m, t, jnp.inf)) - epoch, period))
    i1 = jnp.ceil(exact_div(jnp.max(jnp.where(m, t, -jnp.inf)) - epoch, period))
    k = jnp.floor(exact_div(t - epoch, period))[None, :] + jnp.arange(-1.0, 3.0)[:, None]
    hit = (k >= i0) & (k <= i1) & (jnp.abs(t - (epoch + rounded_mul(period, k))) < 0.5 * dur * 1)
    return m & jnp.any(hit, axis=0)


def fmod(x, p):
    """C's ``fmod(x, p)`` for ``p > 0`` (the sign of ``x``), exactly, from
    :func:`jaxvet.core.numerics.floor_mod` of ``|x|`` (XLA's own ``fmod`` is ~30x slower)."""
    r = floor_mod(jnp.abs(x), p)
    return jnp.where(x < 0, -r, r)


def _fits(t, y, oot, epoch, periods, scatter):
    """The WqedLSF sine fits at each trial period: (3,) amp, amp_unc, snr, fit period."""
    ph = fmod(t[None, :] - epoch + periods[:, None], periods[:, None])  # (3, N)
    fit_period = jnp.max(jnp.where(oot, ph, -jnp.inf), axis=1)
    arg = (2 * jnp.pi / fit_period)[:, None] * ph
    sin, cos = sincos(arg)
    ok = jnp.isfinite(scatter) & (scatter > 0)
    s = jnp.where(ok, scatter, 1.0)
    # WqedLSF divides the columns and y by s: the same least squares as weights 1/s^2
    w = jnp.broadcast_to(1.0 / (s * s), ph.shape)
    beta = weighted_lstsq(jnp.stack([sin, cos], -1), jnp.broadcast_to(y, ph.shape), w, oot[None, :])
    model = beta[:, :1] * sin + beta[:, 1:] * cos
    n = masked_count(oot).astype(jnp.float64)
    var = masked_sum((y - model) ** 2, oot[None, :]) / (n - FIT_ORDER)
    amp = jnp.where(ok, jnp.hypot(beta[:, 0], beta[:, 1]), jnp.nan)
    unc = jnp.where(ok, jnp.sqrt(2 * var / n), jnp.nan)  # exovetter: all NaN with zero scatter
    return amp, unc, amp / unc, fit_period


def _plot(t, f, m, n, med, t0, period):
    """The reference's plot data: 600 valid points, folded, over the median ``med``, and three
    fits."""
    j = jnp.arange(PLOT_POINTS)
    lin = numpy_linspace(0.0, (n - 1).astype(jnp.float64), PLOT_POINTS - 1, PLOT_POINTS - 1)
    pos = jnp.where(n > PLOT_POINTS, jnp.floor(lin).astype(jnp.int32), j)
    at = jnp.clip(jnp.searchsorted(jnp.cumsum(m, dtype=jnp.int32), pos + 1, side="left"), 0, t.shape[0] - 1)
    keep = j < jnp.minimum(n, PLOT_POINTS)
    ph = jnp.where(keep, jnp.mod(exact_div(t[at] - t0, period), 1.0), 0.0)
    fl = jnp.where(keep, exact_div(f[at], med), 0.0)
    w = 2.0 * jnp.pi * jnp.asarray(PLOT_CYCLES)[:, None] * ph[None, :]  # (3, 600)
    x = jnp.stack([jnp.sin(w), jnp.cos(w), jnp.ones_like(w)], -1)
    beta = weighted_lstsq(x, jnp.broadcast_to(fl, w.shape), jnp.ones_like(w), keep[None, :])
    return {"plot_phase": ph, "plot_flux": fl, "plot_fits": jnp.einsum("pnk,pk->pn", x, beta),
            "n_plot": jnp.minimum(n, PLOT_POINTS)}  # fmt: skip


@jax.jit
def lightcurve_summary(lcb):
    """Per light-curve row (L,): valid count, time span, median time step between consecutive
    valid points and median flux (the reference's inputs summary and plot normalisation)."""
    m, t = lcb.mask, lcb.time
    prev = previous_valid(m)
    dt = t - jnp.take_along_axis(t, jnp.maximum(prev, 0), axis=1)
    return {
        "n_points": masked_count(m),
        "baseline": jnp.max(jnp.where(m, t, -jnp.inf), axis=1) - jnp.min(jnp.where(m, t, jnp.inf), axis=1),
        "cadence_median": masked_median(dt, m & (prev >= 0)),
        "flux_median": masked_median(lcb.flux, m),
    }


def _one(t, f, m, n, med, period, t0, epoch, dur, thr):
    """V12 for one candidate on its light-curve row (N,); ``n`` valid points, median flux ``med``."""
    fm = f - masked_mean(f, m)
    intr = _transit_cadences(t, m, epoch, period, dur)
    oot = m & ~intr
    y = jnp.where(oot, fm - masked_mean(fm, oot), 0.0)
    scatter = point_to_point_scatter(y, oot, CLIP_SIGMA)
    periods = period * jnp.asarray(TRIAL_FACTORS)
    amp, unc, snr, fit_period = _fits(t, y, oot, epoch, periods, scatter)
    n_oot = masked_count(oot)
    high = snr > thr["threshold_sigma"]
    fitted = n_oot > FIT_ORDER
    verdict = jnp.where(jnp.any(high[:2]), VERDICT_CODES["warn"], VERDICT_CODES["pass"])
    verdict = jnp.where(jnp.any(~jnp.isfinite(snr[:2])), VERDICT_CODES["insufficient"], verdict)
    out = {
        "status": jnp.where(fitted, OK, ERROR).astype(jnp.int32),
        "verdict": jnp.where(fitted, verdict, VERDICT_NONE).astype(jnp.int32),
        **{k: jnp.where(fitted, snr[j], jnp.nan) for j, k in enumerate(SNR_KEYS)},
        "n_oot_points": n_oot,
        "scatter": scatter,
        "amp": amp,
        "amp_unc": unc,
        "snr": snr,
        "above_threshold": high,
        "fit_period": fit_period,
    }
    out.update(_plot(t, f, m, n, med, t0, period))
    return out


@jax.jit
def _kernel(c, time, flux, mask, summary, thr):
    li = c["lc_index"]
    args = (time[li], flux[li], mask[li], summary["n_points"][li], summary["flux_median"][li])
    out = jax.vmap(partial(_one, thr=thr))(*args, c["period"], c["t0"], c["epoch"], c["dur"])
    out.update({k: summary[k][li] for k in ("n_points", "baseline", "cadence_median")})
    return out


def sweet(lcb, lc_index, period, t0, duration_hours, opts: V12Options | None = None, *, summary=None) -> dict:
    """Batched V12 for B candidates (host arrays ``lc_index``, ``period`` (d), ``t0`` (BTJD),
    ``duration_hours``) against the rows of ``lcb``: a dict of device arrays, leading axis B
    (per-trial-period entries (B, 3), plot entries (B, 600) and (B, 3, 600)).  ``summary``:
    :func:`lightcurve_summary` of ``lcb`` when already computed."""
    opts = opts or V12Options()
    period = np.asarray(period, np.float64)
    b = period.shape[0]
    t0 = np.asarray(t0, np.float64)
    cands = {
        "lc_index": np.asarray(lc_index, np.int32),
        "period": period,
        "t0": t0,
        # on the host: XLA folds (x + c) - c into x
        "epoch": (t0 + BTJD_OFFSET) - BTJD_OFFSET,
        "dur": np.asarray(duration_hours, np.float64) * (1 / 24),  # astropy's hour -> day
    }
    chunk = rows_per_chunk(16 * lcb.n_points, cap=bucket_size(b, 1))
    thr = {k: jnp.asarray(v) for k, v in opts.traced().items()}
    summary = lightcurve_summary(lcb) if summary is None else summary
    # valid points come first in every row: the padding past the longest is never read
    n_use = min(lcb.n_points, -(-max(int(np.asarray(lcb.n_valid).max()), 1) // 4096) * 4096)
    rows = (lcb.time[:, :n_use], lcb.flux[:, :n_use], lcb.mask[:, :n_use])
    return map_rows(_kernel, cands, b, chunk, args=(*rows, summary, thr))


def compute(ctx: VetContext, opts: V12Options | None = None) -> dict:
    """Device arrays of the V12 quantities for the chunk's candidates."""
    summary = ctx.cached("V12:lightcurve_summary", lambda: lightcurve_summary(ctx.lcb), per_chunk=False)
    return sweet(ctx.lcb, *ctx.ephemeris_columns(), V12Options.for_context(ctx, opts), summary=summary)


def sweet_message(above) -> str:
    """exovetter's ``construct_message``: a WARN line per trial period above the threshold."""
    lines = [line for line, hit in zip(WARN_LINES, above, strict=True) if bool(hit)]
    return "\n".join(lines) if lines else OK_LINE


def _inputs_summary(a: dict, i: int, period: float) -> dict:
    n = int(a["n_points"][i])
    if n < 2:
        return {"n_points": n, "baseline_days": 0.0, "n_transits_expected": 0, "cadence_median_min": 0.0,
                "flux_err_available": True}  # fmt: skip
    base = float(a["baseline"][i])
    cad = float(a["cadence_median"][i]) if n > 2 else 0.0
    return {"n_points": n, "baseline_days": round(base, 2), "n_transits_expected": int(base / period),
            "cadence_median_min": round(cad * 24.0 * 60.0, 2), "flux_err_available": True}  # fmt: skip


def _plot_data(a: dict, i: int, snr: dict) -> dict:
    k = int(a["n_plot"][i])
    fits = a["plot_fits"][i]
    return {
        "version": 1,
        "phase": [float(x) for x in a["plot_phase"][i][:k]],
        "flux": [float(x) for x in a["plot_flux"][i][:k]],
        "half_period_fit": [float(x) for x in fits[0][:k]],
        "at_period_fit": [float(x) for x in fits[1][:k]],
        "double_period_fit": [float(x) for x in fits[2][:k]],
        **snr,
    }


def _one_result(a: dict, i: int, period: float, threshold: float) -> CheckResult:
    summary = _inputs_summary(a, i, period)
    n_oot = int(a["n_oot_points"][i])
    if n_oot <= FIT_ORDER:
        return error_result(ID, NAME, ERROR_REASON, notes=[EMPTY_FIT_NOTE if n_oot == 0 else SHORT_FIT_NOTE])
    snr = {k: float(v) for k, v in zip(SNR_KEYS, a["snr"][i], strict=True)}
    msg = sweet_message(a["above_threshold"][i])
    amp = [[float(a["amp"][i][r]), float(a["amp_unc"][i][r]), float(a["snr"][i][r])] for r in range(3)]
    metrics = {k: summary[k] for k in SUMMARY_KEYS}
    metrics.update(snr, sweet_msg=msg)
    n = summary["n_points"]
    raw = {
        "inputs_summary": summary,
        **snr,
        "raw_metrics": {"msg": msg, "amp": amp},
        "plot_data": _plot_data(a, i, snr),
        "_metrics_only": True,
        "scatter": float(a["scatter"][i]),
        "n_oot_points": n_oot,
        "fit_periods_days": [float(x) for x in a["fit_period"][i]],
        "threshold_sigma": threshold,
    }
    return CheckResult(
        id=ID, name=NAME, status="ok", confidence=min(1.0, n / FULL_CONFIDENCE_POINTS) if n > 0 else 0.5,
        verdict=verdict_name(a["verdict"][i]), metrics=metrics, raw=raw,
    )  # fmt: skip


def format(ctx: VetContext, opts: V12Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    thr = float(V12Options.for_context(ctx, opts).threshold_sigma)
    return [_one_result(a, i, float(c.period_days), thr) for i, c in enumerate(ctx.candidates)]


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V12Options,
    summary_metrics=("snr_at_period", "snr_half_period", "snr_double_period"),
    description="Sinusoid fits at P/2, P and 2P to the out-of-transit flux (exovetter SWEET)",
)  # fmt: skip
