"""Plain-numpy oracles of V19 (alias diagnostics) and V16 (model competition), one candidate
at a time, written from the reference semantics (section 6.17 and 6.14), not from jaxvet."""

from __future__ import annotations

import math

import numpy as np

LABELS = ("P", "P/2", "2P", "P/3", "3P")


def _oot(ph):
    return ((ph > 0.15) & (ph < 0.35)) | ((ph > 0.65) & (ph < 0.85))


def _box(t, f, e, period, t0, dur_h):
    ph = ((t - t0) % period) / period
    half = (dur_h / 24.0 / period) / 2.0
    inn = (ph < half) | (ph > 1.0 - half)
    out = _oot(ph)
    if inn.sum() < 3 or out.sum() < 10:
        return 0.0, 0.0
    if np.all(e[inn] > 0) and np.all(e[out] > 0):
        wi, wo = 1.0 / (e[inn] ** 2 + 1e-10), 1.0 / (e[out] ** 2 + 1e-10)
        mi, mo = np.average(f[inn], weights=wi), np.average(f[out], weights=wo)
        err = math.sqrt(1.0 / wi.sum() + 1.0 / wo.sum())
    else:
        mi, mo = f[inn].mean(), f[out].mean()
        mad = np.median(np.abs(f[out] - np.median(f[out])))
        sig = 1.4826 * mad if mad > 0 else np.std(f[out], ddof=1)
        err = max(sig, 1e-10) * math.sqrt(1.0 / inn.sum() + 1.0 / out.sum())
    depth = mo - mi
    return depth * 1e6, (depth / err if err > 0 else 0.0)


def v19_oracle(t, f, e, period, t0, dur_h, n_bins=10, event_sigma=3.0, sys_threshold=0.05):
    """V19 metrics and the event list of one candidate (valid points only)."""
    periods = [period, period / 2.0, period * 2.0, period / 3.0, period * 3.0]
    rows = []
    for k, (lab, p) in enumerate(zip(LABELS, periods, strict=True)):
        d = dur_h if k == 0 else dur_h * (p / period) ** 0.5
        d = max(0.5, min(d, 12.0))
        depth, score = _box(t, f, e, p, t0, d)
        rows.append((lab, p, score, depth, d))
    base = rows[0]
    best = rows[1]
    for r in rows[2:]:  # strictly larger replaces: the first maximum wins
        if r[2] > best[2]:
            best = r
    ratio = best[2] / base[2] if base[2] > 0 else math.inf

    ph = ((t - t0) % period) / period
    half = (dur_h / 24.0 / period) / 2.0
    sec = (ph > 0.5 - half) & (ph < 0.5 + half)
    out = _oot(ph)
    sec_sig = 0.0
    if sec.sum() >= 3 and out.sum() >= 10 and np.std(f[out]) > 0:
        sec_sig = max(0.0, (f[out].mean() - f[sec].mean()) / (np.std(f[out]) / math.sqrt(sec.sum())))

    events = []
    bl = ((ph > 0.1) & (ph < 0.4)) | ((ph > 0.6) & (ph < 0.9))
    if bl.sum() >= 20 and np.std(f[bl]) > 0:
        med, sd = np.median(f[bl]), np.std(f[bl])
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        for i in range(n_bins):
            c = (edges[i] + edges[i + 1]) / 2
            if c < 0.05 or c > 0.95:
                continue
            m = (ph >= edges[i]) & (ph < edges[i + 1])
            if m.sum() < 3:
                continue
            s = (med - f[m].mean()) / (sd / math.sqrt(m.sum()))
            if s >= event_sigma:
                events.append({"phase": c, "significance": s, "depth_ppm": (med - f[m].mean()) * 1e6,
                               "n_points": int(m.sum())})

    sys_p = [3.0, 13.7, 27.4, 1.5, 6.0, 9.0, 12.0, 15.0, 6.85, 41.1, 54.8, 68.5, 82.2, 109.6, 137.0]
    dist = [abs(p - period) for p in sys_p]
    j = int(np.argmin(dist))
    frac = dist[j] / sys_p[j]
    metrics = {
        "base_score_P": base[2], "base_depth_ppm_P": base[3], "best_other_harmonic": best[0],
        "best_other_score": best[2], "best_other_depth_ppm": best[3],
        "best_other_over_base_score_ratio": ratio, "secondary_significance_sigma": sec_sig,
        "n_phase_shift_events": len(events),
        "max_phase_shift_event_sigma": max([ev["significance"] for ev in events], default=0.0),
        "nearest_systematic_period": sys_p[j], "fractional_distance": frac,
        "systematic_within_threshold": frac <= sys_threshold,
    }
    return metrics, events, rows


def load_reference_v16_v19():
    """tess-vetter 0.3.20's V16/V19 outputs (tests/data/reference_v16_v19.json), or None."""
    import json
    from pathlib import Path

    p = Path(__file__).resolve().parents[1] / "data" / "reference_v16_v19.json"
    return json.loads(p.read_text()) if p.exists() else None


MODELS = ("transit_only", "transit_sinusoid", "eb_like")
KNOWN = [13.7, 27.4, 1.0, 0.5, 6.85, 41.1]


def _loglik(r, e):
    var = e**2
    var = np.where(np.isfinite(var) & (var > 0), var, 1e-20)
    return -0.5 * (np.sum(r**2 / var) + np.sum(np.log(2 * np.pi * var)))


def v16_oracle(t, f, e, period, t0, dur_h, n_harm=2, bic_threshold=10.0, alias_tol=0.01, sector_risk=0.0):
    """V16 metrics, fitted parameters, label notes and flags of one candidate (valid points)."""
    n = t.size
    w = 1.0 / (e**2 + 1e-20)
    x = (t - t0) / period
    orbit = np.floor(x + 0.5)
    ph = x - orbit
    half = dur_h / 24.0 / 2.0
    tmpl = (np.abs(ph * period) < half).astype(float)
    y = 1.0 - f
    den = np.sum(w * tmpl**2)
    depth = 0.0 if den < 1e-20 else float(np.sum(w * tmpl * y) / den)
    cols = [tmpl]
    for k in range(1, n_harm + 1):
        cols += [np.cos(2 * np.pi * k / period * t), np.sin(2 * np.pi * k / period * t)]
    xs = np.stack(cols, 1)
    sw = np.sqrt(w)
    bs = np.linalg.lstsq(xs * sw[:, None], y * sw, rcond=None)[0]
    odd = (orbit.astype(int) % 2) == 1
    ps = ph - 0.5
    ps = ps - np.round(ps)
    xe = np.stack([tmpl * odd, tmpl * ~odd, (np.abs(ps * period) < half).astype(float)], 1)
    be = np.linalg.lstsq(xe * sw[:, None], y * sw, rcond=None)[0]
    ks = [1, 1 + 2 * n_harm, 3]
    offsets = [depth * tmpl, xs @ bs, xe @ be]
    bic, aic = {}, {}
    for m, k, off in zip(MODELS, ks, offsets, strict=True):
        ll = _loglik(f - (1.0 - off), e)
        aic[m], bic[m] = -2 * ll + 2 * k, -2 * ll + k * np.log(n)
    order = sorted(MODELS, key=lambda m: bic[m])
    winner, margin = order[0], bic[order[1]] - bic[order[0]]
    amp1 = math.hypot(bs[1], bs[2])
    avg = (be[0] + be[1]) / 2
    diff_frac = abs(be[0] - be[1]) / (avg + 1e-20)
    notes = []
    if margin < bic_threshold:
        label, risk = "AMBIGUOUS", 0.5
        notes.append(f"Model competition inconclusive (delta_BIC={margin:.1f} < {bic_threshold})")
    elif winner == "transit_only":
        label, risk = "TRANSIT", 0.0
    elif winner == "transit_sinusoid":
        label, risk = "SINUSOID", 0.8
        if amp1 * 1e6 / max(abs(bs[0] * 1e6), 1e-6) < 0.25:
            notes.append("Transit + weak variability regime: sinusoid term improves fit but is "
                         "sub-dominant to transit depth.")
        notes.append("Sinusoidal variability model preferred - signal may be stellar rotation or pulsation")
    else:
        label, risk = "EB_LIKE", 0.9
        if diff_frac > 0.1:
            notes.append(f"Significant odd/even depth difference ({diff_frac:.1%}) - likely eclipsing binary")
        if be[2] > 0.0001:
            notes.append("Secondary eclipse detected - likely eclipsing binary")
    frac = min(abs(period - p) / p for p in KNOWN)
    alias = 1.0 - frac / alias_tol if frac <= alias_tol else max(0.0, 1.0 - frac) * 0.5
    metrics = {
        "winner": winner, "winner_margin_bic": margin, "model_competition_label": label,
        "artifact_risk": risk,
        **{f"bic_{m}": bic[m] for m in MODELS}, **{f"aic_{m}": aic[m] for m in MODELS},
        "artifact_prior_combined_risk": 0.5 * alias + 0.3 * sector_risk,
        "artifact_prior_period_alias_risk": alias,
        "artifact_prior_sector_quality_risk": sector_risk,
        "artifact_prior_scattered_light_risk": 0.0,
    }
    params = {"depth": depth, "beta_sin": bs, "beta_eb": be, "amplitude_k1": amp1,
              "odd_even_diff_frac": diff_frac}
    flags = [] if winner == "transit_only" else ["MODEL_PREFERS_NON_TRANSIT"]
    return metrics, params, notes, flags
