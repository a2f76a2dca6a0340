"""Plain-numpy oracles for V02 (secondary eclipse) and V03 (duration consistency).

Written from the reference semantics (§2.2, §5.5, §6.2, §6.3), one candidate at a time, with
explicit Python loops where the reference has them.  Used by tests/test_v02.py and
tests/test_v03.py to check the batched JAX implementation; nothing here imports jaxvet's
kernels.
"""

from __future__ import annotations

import numpy as np

SEC_LO = 0.5 - 0.15
SEC_HI = 0.5 + 0.15
BASE_LO = max(0.10, SEC_LO - 0.15)
BASE_HI = min(0.90, SEC_HI + 0.15)
N_PLOT_BINS = 200


def robust_std(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        return 0.0
    return float(np.median(np.abs(x - np.median(x))) * 1.4826)


def red_noise_inflation(resid, times, bin_days):
    """Reference red-noise inflation (§5.5): returns (beta, success)."""
    resid = np.asarray(resid, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if resid.size < 10 or bin_days <= 0:
        return 1.0, False
    o = np.argsort(times)
    r, t = resid[o], times[o]
    span = t[-1] - t[0]
    if span < bin_days * 2:
        return 1.0, False
    n_bins = max(3, int(span / bin_days))
    edges = np.linspace(t[0], t[-1], n_bins + 1)
    means, counts = [], []
    for i in range(n_bins):
        sel = (t >= edges[i]) & (t < edges[i + 1])
        c = int(sel.sum())
        if c >= 3:
            means.append(float(np.mean(r[sel])))
            counts.append(c)
    if len(means) < 3:
        return 1.0, False
    observed = float(np.std(np.array(means)))
    expected = robust_std(r) / np.sqrt(np.mean(counts))
    if expected <= 0:
        return 1.0, False
    return max(1.0, observed / expected), True


def v02_oracle(
    time, flux, period, t0, valid=None, depth_primary=None, sigma_threshold=3.0, occultation_fraction=0.1
):
    """One candidate's V02 result: internals plus reference-format metrics/notes/confidence."""
    time = np.asarray(time, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    if valid is None:
        valid = np.isfinite(time) & np.isfinite(flux)
    t, f = time[valid], flux[valid]
    ph = ((t - t0) / period) % 1
    sec = (ph > SEC_LO) & (ph < SEC_HI)
    base = ((ph > BASE_LO) & (ph < SEC_LO)) | ((ph > SEC_HI) & (ph < BASE_HI))
    n_sec, n_base = int(sec.sum()), int(base.sum())
    out = {"n_secondary_points": n_sec, "n_baseline_points": n_base, "warnings": []}
    if n_sec < 10 or n_base < 10:
        if n_sec < 10:
            out["warnings"].append(f"Only {n_sec} secondary points, need 10")
        if n_base < 10:
            out["warnings"].append(f"Only {n_base} baseline points, need 10")
        out.update(state="insufficient", confidence=0.3, verdict="insufficient")
        out["metrics"] = {
            "n_secondary_points": n_sec,
            "n_baseline_points": n_base,
            "secondary_depth_ppm": 0.0,
            "secondary_depth_err_ppm": 0.0,
            "secondary_depth_sigma": 0.0,
            "secondary_phase_coverage": 0.0,
            "n_secondary_events_effective": 0,
            "note": "Insufficient data for secondary eclipse search",
        }
        return out
    events = len(set(int(e) for e in np.floor((t[sec] - t0) / period)))
    hist = np.histogram(ph[sec], bins=np.linspace(SEC_LO, SEC_HI, 21))[0]
    coverage = float(np.sum(hist > 0)) / 20
    if events < 2:
        out["warnings"].append(f"Only {events} secondary event(s), need 2")
    if coverage < 0.3:
        out["warnings"].append(f"Phase coverage {coverage:.2f} < 0.3")
    m_base = float(np.median(f[base]))
    m_sec = float(np.median(f[sec]))
    out.update(n_events=events, coverage=coverage, baseline_median=m_base, secondary_median=m_sec)
    if m_base <= 0:
        out["warnings"].append("Invalid baseline median <= 0")
        out.update(state="invalid_baseline", confidence=0.2, verdict="insufficient")
        out["metrics"] = {
            "n_secondary_points": n_sec,
            "n_baseline_points": n_base,
            "note": "Invalid baseline flux",
        }
        return out
    depth = 1.0 - m_sec / m_base
    scatter = robust_std(f[base])
    err0 = scatter / np.sqrt(n_sec) / m_base
    if n_base >= 20:
        beta, ok = red_noise_inflation(f[base] - m_base, t[base], period / 10)
        if not ok:
            beta = 1.5
            out["warnings"].append("Red noise estimation failed, using default inflation")
    else:
        beta, ok = 1.5, False
        out["warnings"].append("Insufficient baseline for red noise, using default inflation")
    err = err0 * beta
    sigma = abs(depth) / err if err > 0 else 0.0
    if coverage >= 0.7 and events >= 5:
        c = 0.85
    elif coverage >= 0.5 and events >= 3:
        c = 0.7
    elif coverage >= 0.3 and events >= 2:
        c = 0.55
    else:
        c = 0.4
    if sigma >= 5.0:
        c = min(0.9, c + 0.1)
    elif sigma >= 3.0:
        c = min(0.85, c + 0.05)
    if out["warnings"]:
        c *= 0.9
    conf = round(min(0.95, max(0.2, c)), 3)
    if depth > 0 and sigma >= sigma_threshold:
        occ = (
            depth_primary is not None
            and np.isfinite(depth_primary)
            and depth_primary > 0
            and (depth < occultation_fraction * depth_primary)
        )
        verdict = "warn" if occ else "fail"
    else:
        verdict = "pass"
    # binned phase curve (jaxvet's plot_data)
    b = np.clip(np.floor(ph * N_PLOT_BINS), 0, N_PLOT_BINS - 1).astype(int)
    cnt = np.bincount(b, minlength=N_PLOT_BINS)
    sums = np.array([np.sum(f[b == k]) for k in range(N_PLOT_BINS)])
    keep = cnt > 0
    out.update(
        state="ok",
        depth=depth,
        scatter=scatter,
        err=err,
        sigma=sigma,
        inflation=beta,
        red_noise_ok=ok,
        confidence=conf,
        verdict=verdict,
        plot_phase=((np.arange(N_PLOT_BINS) + 0.5) / N_PLOT_BINS)[keep],
        plot_flux=sums[keep] / cnt[keep] / m_base,
        plot_flux_err=scatter / m_base / np.sqrt(cnt[keep]),
    )
    out["metrics"] = {
        "secondary_depth": round(depth, 6),
        "secondary_depth_sigma": round(sigma, 2),
        "baseline_flux": round(m_base, 6),
        "n_secondary_points": n_sec,
        "secondary_depth_ppm": round(depth * 1e6, 1),
        "secondary_depth_err_ppm": round(err * 1e6, 2),
        "secondary_phase_coverage": round(coverage, 3),
        "n_secondary_events_effective": events,
        "n_baseline_points": n_base,
        "red_noise_inflation": round(beta, 2),
    }
    return out


def v03_oracle(period, duration_hours, radius=None, mass=None):
    """One candidate's V03 result (metrics in the reference's key order, plot_data, confidence)."""
    solar = 13.0 * (period / 365.25) ** (1.0 / 3.0)
    have_r = radius is not None and np.isfinite(radius)
    have_m = mass is not None and np.isfinite(mass)
    stellar = have_r or have_m
    rho = None
    corrected = False
    expected = solar
    if have_r and have_m and radius > 0:
        rho = mass / radius**3
        if rho > 0:
            expected = solar * rho ** (-1.0 / 3.0)
            corrected = True
    ratio = duration_hours / expected
    conf = 0.85 if corrected else (0.5 if stellar else 0.2)
    metrics = {
        "duration_hours": round(duration_hours, 4),
        "expected_duration_hours": round(expected, 4),
        "expected_duration_solar": round(solar, 4),
        "duration_ratio": round(ratio, 3),
        "density_corrected": corrected,
        "period_days": round(period, 4),
    }
    if rho is not None:
        metrics["stellar_density_solar"] = round(rho, 4)
    if stellar:
        metrics["stellar_radius"] = float(radius) if have_r else None
        metrics["stellar_mass"] = float(mass) if have_m else None
    if not corrected:
        metrics["note"] = (
            "Duration check uses solar-type assumption. "
            "Provide stellar parameters for accurate M-dwarf/giant assessment."
        )
    return {
        "expected": expected,
        "solar": solar,
        "ratio": ratio,
        "rho": rho,
        "corrected": corrected,
        "confidence": conf,
        "metrics": metrics,
        "plot_data": {
            "version": 1,
            "observed_hours": float(duration_hours),
            "expected_hours": float(expected),
            "expected_hours_err": float(expected * 0.2),
            "duration_ratio": float(ratio),
        },
    }
