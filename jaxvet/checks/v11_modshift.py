"""V11 ModShift: does the folded light curve hold a second dip (at any phase) like the transit?

An eccentric eclipsing binary shows its secondary eclipse away from phase 0.5, where V02 does not
look; ModShift convolves the whole phase-folded light curve with the transit model and compares
the strongest events (Coughlin et al. 2016, ApJS 224, 12, §4.3; Thompson et al. 2018, ApJS 235,
38, §3.2.3).  tess-vetter 0.3.20 wraps exovetter 0.0.16's ``ModShift`` (check ``V11``); jaxvet
reproduces it for every candidate at once (:mod:`jaxvet.core.modshift_conv`, where the
algorithm and exovetter's quirks are listed):

* the valid cadences; median flux set to 0 (``f/median - 1``); a box model of the candidate's
  duration and depth; ``int(10 P 24/D_h)`` phase bins, the empty ones dropped; the binned flux
  convolved with the unit-integral binned model; primary, secondary, tertiary and positive
  events and their significances ``conv/sigma``; ``false_alarm_threshold = sqrt(2)
  erfcinv(D/P)``; ``Fred = std(conv)/std(binned flux)``;
* metrics as the reference reports them: ``primary_signal`` etc. = ``|sigma_x|`` (``positive``
  0 without a positive event), ratios ``|sigma_x|/|sigma_pri|`` (0 if the primary is 0), all
  rounded to 6 dp, plus ``n_points``, ``baseline_days`` (2 dp) and ``n_transits_expected =
  int(baseline/P)``; confidence ``min(1, n_transits_expected/5)`` (0.5 when that is 0);
  ``raw`` has the reference's fields (signed signals, ``raw_metrics`` unrounded with the event
  bin indices and phases in days, ``plot_data`` with its 200-point "periodogram" of Gaussian
  bumps at the event phases);
* a light curve that looks folded (first time >= 0 and last <= 1.1 P) is skipped
  (``SKIPPED:FOLDED_INPUT_DETECTED``), a candidate without a depth too (``SKIPPED:MISSING_DEPTH``);
  where exovetter raises (no valid point; a non-finite model, e.g. a zero depth or one kept bin;
  no point away from the two events; zero scatter) the result is ``ERROR:modshift_execution_failed``
  with exovetter's message as the note.

Verdict (jaxvet's own rule; the reference reports metrics only).  exovetter's significances are
in units of the per-point scatter, so they grow with the number of points; the rule works in
units of the significance series' own scatter ``u`` (std of ``conv/sigma`` over the kept bins
outside the primary's and secondary's ``2 D`` ranges): ``z_x = |sigma_x|/u``.

* ``insufficient`` -- fewer than 3 kept bins outside those ranges;
* ``fail`` -- a secondary *dip* (``sigma_sec < 0``) that stands out from the next strongest dip
  and the strongest brightening: ``z_sec - max(z_ter, z_pos) > fa_margin *
  false_alarm_threshold`` (option ``fa_margin``, default 1), with ``secondary_primary_ratio >=
  occultation_ratio`` (default 0.1);
* ``warn`` -- the same standing-out secondary but weaker than ``occultation_ratio`` of the
  primary (a planetary occultation cannot be told from a faint companion here), or the primary
  event is not at the transit (more than ``D`` from phase 0: the ephemeris does not pick the
  strongest dip; flag ``PRIMARY_NOT_AT_TRANSIT``);
* ``pass`` -- otherwise.

``z_pri``, ``z_sec``, ``z_ter``, ``z_pos``, ``secondary_excess_z = z_sec - max(z_ter, z_pos)``
and ``primary_at_transit`` are jaxvet's extra raw fields; ``plot_data`` adds the significance
series as a 200-bin min/max envelope over phase, the event phases (fractions of P) and ``u``
(``significance_scatter``).

How it runs: one jitted kernel over the candidates (rows padded to a power of two, padding rows
skipped), one candidate at a time (``lax.map``: XLA's CPU scatters are several times slower
batched) on its light-curve row; bins an array axis of a static size bucketed on the host from
the largest ``int(10 P 24/D_h)``; the median flux of each light curve and the normalised flux
are computed once per run.  Options: ``fa_margin`` and ``occultation_ratio``, both traced.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core import modshift_conv as mc
from jaxvet.core.modshift import false_alarm_thresholds
from jaxvet.core.numerics import exact_div
from jaxvet.core.order_stats import masked_median
from jaxvet.core.row_trim import trim_rows, trimmed_width
from jaxvet.data import bucket_size
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, non_negative, option
from jaxvet.results import (
    ERROR,
    FAIL,
    INSUFFICIENT,
    OK,
    PASS,
    SKIPPED,
    VERDICT_NONE,
    WARN,
    CheckResult,
    error_result,
    skipped_result,
    verdict_name,
)

__all__ = ["SPEC", "V11Options", "compute", "format", "modshift_kernel", "lc_medians"]

ID = "V11"
NAME = "ModShift"
FOLDED_FACTOR = 1.1
PLOT_BINS = 200
#: smallest static bin count (powers of two above): one compiled program for most candidates
MIN_SLOTS = 1024
_SIG = ("sigma_pri", "sigma_sec", "sigma_ter", "sigma_pos")
_EVENTS = ("pri", "sec", "ter", "pos")
_SIGNAL_NAMES = ("primary", "secondary", "tertiary", "positive")


@dataclass(frozen=True)
class V11Options(CheckOptions):
    """V11 options: the two thresholds of jaxvet's verdict (both traced)."""

    check_id: ClassVar[str] = ID
    fa_margin: float = option(1.0, non_negative, traced=True)
    occultation_ratio: float = option(0.1, non_negative, traced=True)


@jax.jit
def lc_medians(flux, time, mask):
    """Per light-curve row: the median flux and the median time step of the valid points."""
    med = masked_median(flux, where=mask)
    dt = time[:, 1:] - time[:, :-1]
    return med, masked_median(dt, where=mask[:, 1:])


@jax.jit
def normalised_flux(flux, med):
    """Per light-curve row ``(L, N)``: exovetter's ``f/median - 1`` (``(f + 1) - 1`` for a
    median within 1e-8 of 0), once per run rather than per candidate."""
    m = med[:, None]
    return jnp.where(jnp.abs(m) <= 1e-8, (flux + 1.0) - 1.0, exact_div(flux, m) - 1.0)


def _verdict(o, period, dur_days, fa, thr):
    """jaxvet's verdict and the z-scores it uses (see the module docstring)."""
    ph, sig, kept = o["bin_phase"], exact_div(o["conv"], o["sigma"]), jnp.isfinite(o["bin_phase"])
    p_max = jnp.max(jnp.where(kept, ph, -jnp.inf))
    gap = 2.0 * dur_days
    near = mc.mark_phase_range(ph, kept, o["phase_pri"], gap, p_max)
    near |= mc.mark_phase_range(ph, kept, o["phase_sec"], gap, p_max)
    rest = kept & ~near
    n = jnp.sum(rest).astype(jnp.float64)
    m = jnp.sum(jnp.where(rest, sig, 0.0)) / n
    u = jnp.sqrt(jnp.sum(jnp.where(rest, (sig - m) ** 2, 0.0)) / n)
    z = {k: jnp.abs(jnp.nan_to_num(o[f"sigma_{k}"])) / u for k in _EVENTS}
    excess = z["sec"] - jnp.maximum(z["ter"], z["pos"])
    stands_out = (o["sigma_sec"] < 0) & (excess > thr["fa_margin"] * fa)
    ratio = jnp.where(jnp.abs(o["sigma_pri"]) > 0, jnp.abs(o["sigma_sec"]) / jnp.abs(o["sigma_pri"]), 0.0)
    d0 = jnp.minimum(o["phase_pri"], period - o["phase_pri"])
    off_transit = d0 > dur_days
    verdict = jnp.where(stands_out & (ratio >= thr["occultation_ratio"]), FAIL,
                        jnp.where(stands_out | off_transit, WARN, PASS))  # fmt: skip
    verdict = jnp.where(n >= 3, verdict, INSUFFICIENT)
    return (
        verdict,
        off_transit,
        {f"z_{k}": v for k, v in z.items()} | {"secondary_excess_z": excess, "z_unit": u},
    )


def _envelope(o, period):
    """The significance series as PLOT_BINS min/max bins over phase [0, 1)."""
    kept = jnp.isfinite(o["bin_phase"])
    sig = exact_div(o["conv"], o["sigma"])
    b = jnp.clip(jnp.floor(exact_div(o["bin_phase"], period) * PLOT_BINS), 0, PLOT_BINS - 1)
    seg = jnp.where(kept, b, PLOT_BINS).astype(jnp.int32)
    lo = jax.ops.segment_min(jnp.where(kept, sig, jnp.inf), seg, num_segments=PLOT_BINS + 1)[:PLOT_BINS]
    hi = jax.ops.segment_max(jnp.where(kept, sig, -jnp.inf), seg, num_segments=PLOT_BINS + 1)[:PLOT_BINS]
    return jnp.where(jnp.isfinite(lo), lo, jnp.nan), jnp.where(jnp.isfinite(hi), hi, jnp.nan)


def _one(row, t, fz, valid, dt_med, thr, *, n_slots, n_back):
    period, epoch, dur_h, depth, n_bins = row
    o = mc.modshift_convolution(
        t, fz, valid, period, epoch, dur_h, depth, n_bins, n_slots=n_slots, n_back=n_back
    )
    n = jnp.sum(valid)
    t_min, t_max = t[0], t[jnp.maximum(n - 1, 0)]
    baseline = jnp.where(n >= 2, t_max - t_min, 0.0)
    folded = (n >= 2) & (t_min >= 0) & (t_max <= period * FOLDED_FACTOR)
    dur_days = exact_div(dur_h, 24.0)
    fa = false_alarm_thresholds(exact_div(dur_days, period), 1.0)[1]  # sqrt(2) erfcinv(D/P)
    verdict, off_transit, z = _verdict(o, period, dur_days, fa, thr)
    lo, hi = _envelope(o, period)
    out = {k: v for k, v in o.items() if k not in ("bin_phase", "conv")}
    out.update(z, verdict=verdict, off_transit=off_transit, env_lo=lo, env_hi=hi, folded=folded)
    n_tr = jnp.floor(exact_div(baseline, period)).astype(jnp.int32)
    out.update(n_points=n, baseline=baseline, n_transits=n_tr, dt_median=dt_med, false_alarm_threshold=fa)
    return out


@functools.partial(jax.jit, static_argnames=("n_slots", "n_back"))
def modshift_kernel(rows, real, time, fz, mask, dt_med, thr, *, n_slots, n_back):
    """V11 for a batch of B candidates, one at a time (``lax.map``) on its light-curve row:
    ``rows`` = (light-curve index, P, exovetter epoch, D_h, box depth, n_bins) arrays ``(B,)``,
    ``real`` False for padding rows (not computed), ``time``/``fz``/``mask`` the ``(L, N)``
    rows (``fz`` from :func:`normalised_flux`), ``dt_med`` ``(L,)``."""

    def one(x):
        li, *row = x
        return _one(row, time[li], fz[li], mask[li], dt_med[li], thr, n_slots=n_slots, n_back=n_back)

    def fn(x):
        ok, row = x
        shapes = jax.eval_shape(one, row)
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        return jax.lax.cond(ok, one, lambda r: zeros, row)

    out = jax.lax.map(fn, (real, rows))
    skip = out["folded"] | ~jnp.isfinite(rows[4])
    out["status"] = jnp.where(skip, SKIPPED, jnp.where(out["error"] > 0, ERROR, OK)).astype(jnp.int32)
    out["verdict"] = jnp.where(out["status"] == OK, out["verdict"], VERDICT_NONE).astype(jnp.int32)
    for k in _EVENTS:
        out[f"{_SIGNAL_NAMES[_EVENTS.index(k)]}_signal"] = jnp.abs(jnp.nan_to_num(out[f"sigma_{k}"]))
    pri = out["primary_signal"]
    out["secondary_primary_ratio"] = jnp.where(pri > 0, out["secondary_signal"] / pri, 0.0)
    return out


def _host_rows(ctx: VetContext):
    """Per candidate (host numpy, exactly as the reference computes them): period, exovetter's
    epoch, D_h, the box depth and the bin count."""
    cands = ctx.candidates
    p = np.array([c.period_days for c in cands], np.float64)
    t0 = np.array([c.t0_btjd for c in cands], np.float64)
    dh = np.array([c.duration_hours for c in cands], np.float64)
    dep = np.array([np.nan if c.depth_ppm is None else c.depth_ppm for c in cands], np.float64)
    epoch = (t0 + mc.BTJD_OFFSET) - mc.BTJD_OFFSET  # Tce.get_epoch: epoch - btjd offset + offset
    depth = (dep / 1e6) * 1e6 * 1e-6  # the wrapper's depth * 1e6 * ppm
    n_bins = np.floor(10 * p * 24 / dh).astype(np.int64)
    return p, epoch, dh, depth, n_bins


def compute(ctx: VetContext, opts: V11Options | None = None) -> dict:
    """Device arrays of the V11 quantities per candidate (leading axis: the chunk's candidates)."""
    opts = V11Options.for_context(ctx, opts)
    lcb, n = ctx.lcb, ctx.n_candidates
    med, dt_med = ctx.cached("V11:medians", lambda: lc_medians(lcb.flux, lcb.time, lcb.mask), per_chunk=False)
    p, epoch, dh, depth, n_bins = _host_rows(ctx)
    n_slots = ctx.shapes.at_least("V11:bins", bucket_size(max(int(n_bins.max()), 1), MIN_SLOTS))
    # boxes behind each point's own: ceil(D/P) (1 unless D > P; box k - ceil(D/P) - 1 ends a
    # period before the point's own starts), bucketed; candidates without a bin (D > 10 P) are
    # errors and need none
    back = np.ceil(np.where(n_bins >= 1, dh / 24.0 / p, 1.0))
    n_back = ctx.shapes.at_least("V11:back", bucket_size(int(back.max()), 1))
    li = np.asarray(ctx.candidates_lc_index, np.int32)[:n]
    # candidate rows padded to a power of two (repeats of the last one, not computed): one
    # compiled program per bucket
    pad = np.minimum(np.arange(bucket_size(n, 16)), n - 1)
    rows = tuple(jnp.asarray(a[pad]) for a in (li, p, epoch, dh, depth, n_bins))
    thr = {k: jnp.asarray(v) for k, v in opts.traced().items()}

    # the rows cut to their valid points (padding is masked, after every real time)
    width = ctx.cached("V11:width", lambda: trimmed_width(lcb.n_valid, lcb.n_points), per_chunk=False)
    fz = ctx.cached("V11:fz", lambda: normalised_flux(lcb.flux, med), per_chunk=False)
    time, fz, mask = trim_rows(width, lcb.time, fz, lcb.mask)
    out = modshift_kernel(
        rows, jnp.arange(pad.size) < n, time, fz, mask, dt_med, thr, n_slots=n_slots, n_back=n_back
    )
    out = {k: v[:n] for k, v in out.items()}
    out["n_bins"] = jnp.asarray(n_bins)
    return out


# ----------------------------------------------------------------------------------------------
# host formatting (the reference's result contract)
# ----------------------------------------------------------------------------------------------
_PHASE_BINS = np.linspace(0.0, 1.0, 200, dtype=np.float64)


def _phase01(v: float) -> float | None:
    return float(v % 1.0) if math.isfinite(v) else None


def _periodogram(phases, amps) -> np.ndarray:
    """The reference's plotting "periodogram": Gaussian bumps (width 0.015) at the event phases
    (their day values mod 1, as the reference normalises them)."""
    out = np.zeros_like(_PHASE_BINS)
    for p, amp in zip(phases, amps, strict=True):
        if p is None or not np.isfinite(p):
            continue
        d = np.abs(_PHASE_BINS - float(p))
        out[:] += amp * np.exp(-0.5 * (np.minimum(d, 1.0 - d) / 0.015) ** 2)
    return out


def _inputs_summary(a: dict, b: int) -> dict:
    n = int(a["n_points"][b])
    if n < 2:
        return {"n_points": n, "baseline_days": 0.0, "n_transits_expected": 0, "cadence_median_min": 0.0,
                "flux_err_available": True}  # fmt: skip
    cad = float(a["dt_median"][b]) if n > 2 else 0.0
    return {
        "n_points": n,
        "baseline_days": round(float(a["baseline"][b]), 2),
        "n_transits_expected": int(a["n_transits"][b]),
        "cadence_median_min": round(cad * 24.0 * 60.0, 2),
        "flux_err_available": True,
    }


def _raw_metrics(a: dict, b: int) -> dict:
    has_pos = int(a["pos"][b]) >= 0
    out: dict = {}
    for k in _EVENTS:
        out[k] = int(a[k][b]) if (k != "pos" or has_pos) else math.nan
        out[f"phase_{k}"] = float(a[f"phase_{k}"][b])
    out.update({k: float(a[k][b]) for k in _SIG})
    out["false_alarm_threshold"] = float(a["false_alarm_threshold"][b])
    out["Fred"] = float(a["Fred"][b])
    return out


def _plot_data(a: dict, b: int, rm: dict, amps: dict, period: float) -> dict:
    pri = _phase01(rm["phase_pri"]) or 0.0
    sec = _phase01(rm["phase_sec"])
    ter = _phase01(rm["phase_ter"]) or 0.0
    pos = _phase01(rm["phase_pos"]) or 0.0
    pg = _periodogram((pri, sec, ter, pos), (amps["pri"], amps["sec"], amps["ter"], amps["pos"]))
    lo, hi = np.asarray(a["env_lo"][b]), np.asarray(a["env_hi"][b])
    keep = np.isfinite(lo)
    centres = (np.arange(PLOT_BINS) + 0.5) / PLOT_BINS
    return {
        "version": 1,
        "phase_bins": _PHASE_BINS.tolist(),
        "periodogram": pg.tolist(),
        "primary_phase": pri,
        "primary_signal": amps["pri"],
        "secondary_phase": sec,
        "secondary_signal": amps["sec"] if sec is not None else None,
        # jaxvet's additions: the significance series (min/max per phase bin) and event phases
        "significance_phase": centres[keep].tolist(),
        "significance_min": lo[keep].tolist(),
        "significance_max": hi[keep].tolist(),
        "event_phase": {k: float(rm[f"phase_{k}"]) / period for k in _EVENTS},
        "event_sigma": {k: float(rm[f"sigma_{k}"]) for k in _EVENTS},
        "false_alarm_threshold": float(rm["false_alarm_threshold"]),
        "significance_scatter": float(a["z_unit"][b]),
    }


def _ok(a: dict, b: int, summary: dict, period: float) -> CheckResult:
    rm = _raw_metrics(a, b)
    signed = {k: (rm[f"sigma_{k}"] if math.isfinite(rm[f"sigma_{k}"]) else 0.0) for k in _EVENTS}
    amps = {k: abs(v) for k, v in signed.items()}
    pri = amps["pri"]
    ratio = {k: (amps[k] / pri) if pri > 0 else 0.0 for k in ("sec", "ter", "pos")}
    sig = {f"{n}_signal": round(amps[k], 6) for k, n in zip(_EVENTS, _SIGNAL_NAMES, strict=True)}
    metrics = {
        **sig,
        "fred": round(rm["Fred"], 6),
        "false_alarm_threshold": round(rm["false_alarm_threshold"], 6),
        "secondary_primary_ratio": round(ratio["sec"], 6),
        "tertiary_primary_ratio": round(ratio["ter"], 6),
        "positive_primary_ratio": round(ratio["pos"], 6),
        "n_points": summary["n_points"],
        "baseline_days": summary["baseline_days"],
        "n_transits_expected": summary["n_transits_expected"],
    }
    raw = {"inputs_summary": summary, **sig}
    names = zip(_EVENTS, _SIGNAL_NAMES, strict=True)
    raw.update({f"{n}_signal_signed": round(signed[k], 6) for k, n in names})
    raw.update({k: metrics[k] for k in list(metrics)[4:9]})
    raw.update(raw_metrics=rm, plot_data=_plot_data(a, b, rm, amps, period), _metrics_only=True)
    raw.update({k: float(a[k][b]) for k in ("z_pri", "z_sec", "z_ter", "z_pos", "secondary_excess_z")})
    raw["primary_at_transit"] = not bool(a["off_transit"][b])
    n_tr = summary["n_transits_expected"]
    conf = min(1.0, n_tr / 5.0) if n_tr > 0 else 0.5
    return CheckResult(
        id=ID, name=NAME, status="ok", confidence=float(max(0.0, min(1.0, conf))),
        verdict=verdict_name(a["verdict"][b]), metrics=metrics, raw=raw,
    )  # fmt: skip


def _one_result(a: dict, b: int, cand) -> CheckResult:
    if cand.depth_ppm is None:
        msg = "Candidate depth is required for exovetter checks"
        return skipped_result(ID, NAME, "MISSING_DEPTH", notes=[msg])
    summary = _inputs_summary(a, b)
    if bool(a["folded"][b]):
        r = skipped_result(ID, NAME, "FOLDED_INPUT_DETECTED", notes=["Invalid input: folded_input_detected"])
        r.raw = {
            "status": "invalid",
            "reason": "folded_input_detected",
            "warnings": ["FOLDED_INPUT_DETECTED"],
            "inputs_summary": summary,
            "_metrics_only": True,
        }
        return r
    code = int(a["error"][b])
    if code:
        msg = mc.ERROR_MESSAGES[code]
        r = error_result(ID, NAME, "modshift_execution_failed", notes=[msg])
        r.raw = {
            "status": "error",
            "reason": "modshift_execution_failed",
            "error": msg,
            "warnings": ["MODSHIFT_EXECUTION_ERROR"],
            "inputs_summary": summary,
            "_metrics_only": True,
        }
        return r
    if int(a["n_model_bins"][b]) > mc.MODEL_SLOTS:  # impossible by construction (bins >= D/10)
        raise RuntimeError(f"V11: {int(a['n_model_bins'][b])} non-zero model bins > {mc.MODEL_SLOTS}")
    return _ok(a, b, summary, float(cand.period_days))


def format(ctx: VetContext, opts: V11Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    return [_one_result(a, b, c) for b, c in enumerate(ctx.candidates[: ctx.n_candidates])]


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V11Options,
    summary_metrics=("secondary_excess_z", "secondary_primary_ratio", "primary_signal", "secondary_signal",
                     "Fred"),
    description="ModShift (exovetter): the folded light curve convolved with the box model; strongest events",
)  # fmt: skip
