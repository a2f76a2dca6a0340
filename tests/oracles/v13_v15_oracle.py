"""Plain-numpy oracles of the reference V13 (data gaps) and V15 (transit asymmetry), written from
the spec (reference semantics §6.12, §6.13, §2.2): one candidate at a time, loops over epochs
and bins, numpy's own medians/means.  ``t``/``f`` are the valid points in time order."""

from __future__ import annotations

import numpy as np


def _median_step(ts):
    if ts.size < 3:
        return None
    d = np.diff(ts)
    d = d[d > 0]
    return float(np.median(d)) if d.size else None


def _conf_round(c, warned, factor):
    if warned:
        c *= factor
    return round(float(min(max(c, 0.2), 0.95)), 3)


def v13(t, P, t0, dur_h, window_mult=2.0, max_rows=10, min_exp=5, max_exp=20000):
    """Reference V13 result pieces: metrics, notes, confidence, worst epochs, per-epoch rows."""
    t = np.asarray(t, float)
    if t.size < 10:
        return {
            "metrics": {"missing_frac_max": None, "missing_frac_median": None, "n_epochs_evaluated": 0},
            "notes": ["insufficient_time_points"],
            "confidence": 0.2,
        }
    notes = []
    gdt = _median_step(t)
    if gdt is None:
        gdt = 0.0014
        notes.append("cadence_fallback_default")
    D = dur_h / 24.0
    hw = window_mult * D
    rows = []
    for k in sorted(set(np.floor((t - t0 + P / 2) / P).astype(int).tolist())):
        tc = t0 + k * P
        w = t[(t >= tc - hw) & (t <= tc + hw)]
        dt = gdt
        if w.size >= 3:
            loc = _median_step(w)
            if loc is not None:
                dt = loc
        expected = min(max_exp, max(min_exp, int(np.floor(2 * hw / max(1e-12, dt))) + 1))
        rows.append(dict(epoch_index=k, t_center_btjd=tc, n_observed=int(w.size), n_expected=expected,
                         missing_frac=float(np.clip(1.0 - w.size / expected, 0.0, 1.0))))
    miss = np.array([r["missing_frac"] for r in rows])
    cov = np.array([r["n_observed"] > 0 for r in rows])
    mc = miss[cov]
    metrics = {
        "missing_frac_max": round(float(miss.max()), 3),
        "missing_frac_median": round(float(np.median(miss)), 3),
        "n_epochs_evaluated": len(rows),
        "n_epochs_missing_ge_0p25": int((miss >= 0.25).sum()),
        "missing_frac_max_in_coverage": round(float(mc.max()), 3) if mc.size else None,
        "missing_frac_median_in_coverage": round(float(np.median(mc)), 3) if mc.size else None,
        "n_epochs_evaluated_in_coverage": int(mc.size),
        "n_epochs_missing_ge_0p25_in_coverage": int((mc >= 0.25).sum()),
        "n_epochs_excluded_no_coverage": int(len(rows) - mc.size),
        "window_mult": float(window_mult),
    }
    n = len(rows)
    c = 0.35 if n < 2 else (0.6 if n < 5 else 0.75)
    order = sorted(range(n), key=lambda i: -rows[i]["missing_frac"])  # stable
    return {
        "metrics": metrics,
        "notes": notes,
        "confidence": _conf_round(c, bool(notes), 0.95),
        "worst": [rows[i] for i in order[:max_rows]],
        "rows": rows,
        "unrounded": {"missing_frac_max": float(miss.max()), "missing_frac_median": float(np.median(miss))},
    }


def _phase(t, t0, P):
    ph = ((t - t0) / P) % 1.0
    return np.where(ph > 0.5, ph - 1.0, ph)


def _bin_means(ph, y, lo, hi, nb):
    edges = np.linspace(lo, hi, nb + 1)
    out = np.full(nb, np.nan)
    for i in range(nb):
        m = (ph > edges[i]) & (ph <= edges[i + 1])
        if i == 0:
            m |= ph == edges[0]
        if m.any():
            out[i] = y[m].mean()
    return out


def v15(t, f, P, t0, dur_h, window_mult=2.0, n_bins=12, min_half=20):
    """Reference V15 result pieces: metrics, notes, confidence and unrounded internals."""
    t, f = np.asarray(t, float), np.asarray(f, float)
    if t.size < 50:
        return {"metrics": {}, "notes": ["insufficient_time_points"], "confidence": 0.2}
    D = dur_h / 24.0
    ph = _phase(t, t0, P)
    hw = float(np.clip(window_mult * D / P, 0.0, 0.5))
    win = np.abs(ph) <= hw
    notes = []
    if win.sum() < 50:
        notes.append("insufficient_points_in_window")
    in_tr = np.abs(ph) < (D / P) / 2
    base_set = win & ~in_tr
    if base_set.sum() < 10:
        glob = ~(np.abs(ph) < (D / P) * 3.0 / 2)
        if glob.sum() >= 10:
            base_set = glob
            notes.append("baseline_fallback_global_oot")
        else:
            notes.append("baseline_unavailable")
    baseline = float(np.median(f[base_set])) if base_set.any() else 1.0
    y = f - baseline
    left, right = win & (ph < 0), win & (ph > 0)
    if left.sum() < min_half or right.sum() < min_half:
        notes.append("insufficient_points_per_half")
    lb = _bin_means(ph[left], y[left], -hw, 0.0, n_bins)
    rb = _bin_means(ph[right], y[right], 0.0, hw, n_bins)
    lv, rv = lb[np.isfinite(lb)], rb[np.isfinite(rb)]
    head = {"window_mult": float(window_mult), "n_bins_half": int(n_bins)}
    if lv.size < 3 or rv.size < 3:
        notes.append("insufficient_bins")
        return {
            "metrics": {"asymmetry_sigma": None, **head, "n_left_bins": int(lv.size),
                        "n_right_bins": int(rv.size)},
            "notes": notes,
            "confidence": 0.3,
        }
    mu_l, mu_r = lv.mean(), rv.mean()
    se_l, se_r = lv.std() / np.sqrt(lv.size), rv.std() / np.sqrt(rv.size)
    sigma = abs(mu_l - mu_r) / (np.hypot(se_l, se_r) + 1e-12)
    c = 0.75 * (0.85 if "insufficient_points_in_window" in notes else 1.0)
    c *= 0.9 if any(n.startswith("baseline_") for n in notes) else 1.0
    return {
        "metrics": {
            "asymmetry_sigma": round(float(sigma), 3),
            "mu_left": round(float(mu_l), 6),
            "mu_right": round(float(mu_r), 6),
            **head,
            "n_left_bins": int(lv.size),
            "n_right_bins": int(rv.size),
            "n_left_points": int(left.sum()),
            "n_right_points": int(right.sum()),
            "baseline": round(baseline, 6),
        },
        "notes": notes,
        "confidence": round(float(min(max(c, 0.2), 0.95)), 3),
        "unrounded": {"asymmetry_sigma": float(sigma), "mu_left": float(mu_l), "mu_right": float(mu_r),
                      "baseline": baseline, "left_bins": lb, "right_bins": rb},
        "plot_phase": ph[win],
        "plot_flux": y[win] + 1.0,
    }
