"""Plain-numpy/scipy oracle for V05 (transit shape), written from the specification.

* :func:`reference_v_shape` follows reference-semantics.md §6.5 step by step (loops, numpy
  medians, ``np.random.default_rng(seed).choice`` bootstrap), one candidate at a time.
* :func:`trapezoid_avg` is an independent exposure-averaged trapezoid: the difference of the
  profile's closed-form (piecewise-quadratic) antiderivative across the exposure.
* :func:`bin_points` / :func:`fit_binned` / :func:`trapezoid_fit_oracle` re-implement the
  ``trapezoid_fit`` method's data preparation (selection, normalisation, weights, phase bins)
  and fit the same model with ``scipy.optimize.least_squares`` from a multi-start grid.
"""

from __future__ import annotations

import numpy as np

MAD = 1.4826


# -- phase and masks ---------------------------------------------------------------------------


def phase_v05(time, t0, period):
    return ((time - t0) / period + 0.5) % 1 - 0.5


def robust_std(x):
    x = np.asarray(x, float)
    if x.size < 2:
        return 0.0
    return MAD * float(np.median(np.abs(x - np.median(x))))


def ref_shape(phase, t_flat_phase, t_total_phase):
    """Unit-depth shape of the reference grid (1 - model with depth 1), §6.5 step 7."""
    phase = np.asarray(phase, float)
    hf = t_flat_phase / 2
    ht = t_total_phase / 2
    flux = np.ones_like(phase)
    if hf <= 0:
        inside = np.abs(phase) < ht
        flux[inside] = 1 - 1.0 * (1 - np.abs(phase[inside]) / ht)
        return 1.0 - flux
    flux[np.abs(phase) < hf] = 1 - 1.0
    if ht > hf:
        sw = ht - hf
        ing = (phase < -hf) & (phase > -ht)
        egr = (phase > hf) & (phase < ht)
        flux[ing] = (1 - 1.0) + 1.0 * ((-phase[ing] - hf) / sw)
        flux[egr] = (1 - 1.0) + 1.0 * ((phase[egr] - hf) / sw)
    return 1.0 - flux


def ref_grid(phase, flux, t_total_phase, n_grid=20):
    """The reference grid search: (best ratio, depth, chi2); first strict minimum wins."""
    best = (0.5, 0.001, float("inf"))
    for ratio in np.linspace(0, 1, n_grid):
        s = ref_shape(phase, ratio * t_total_phase, t_total_phase)
        y = 1.0 - flux
        denom = float(np.sum(s**2))
        if denom <= 0:
            continue
        d = float(np.sum(y * s) / denom)
        if not np.isfinite(d) or d <= 0:
            d = 0.001
        chi2 = float(np.sum((flux - (1.0 - d * s)) ** 2))
        if chi2 < best[2]:
            best = (float(ratio), d, chi2)
    return best


def reference_v_shape(time, flux, period, t0, duration_hours, n_bootstrap=100, seed=42, ci=0.68):
    """Reference V05 on valid points (unrounded internals + the rounded metrics)."""
    time = np.asarray(time, float)
    flux = np.asarray(flux, float)
    dd = duration_hours / 24.0
    if dd >= 0.5 * period:
        return {"status": "invalid_duration", "confidence": 0.2}
    phase = phase_v05(time, t0, period)
    tt = dd / period
    h = tt / 2
    fit = np.abs(phase) < h * 1.2
    base = (np.abs(phase) > h * 1.5) & (np.abs(phase) < 0.25)
    n_in, n_base = int(fit.sum()), int(base.sum())
    edges = np.linspace(-h, h, 21)
    covered = sum(int(np.any((phase >= edges[i]) & (phase < edges[i + 1]))) for i in range(20))
    coverage = covered / 20
    out = {"n_in_transit": n_in, "n_baseline": n_base, "transit_coverage_raw": coverage}
    if n_in < 10 or n_base < 10 or coverage < 0.6:
        out.update(status="insufficient_data", confidence=0.2)
        return out
    bmed = float(np.median(flux[base]))
    fn = flux / bmed
    ph_in, f_in = phase[fit], fn[fit]
    ratio, depth, chi2 = ref_grid(ph_in, f_in, tt)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_bootstrap):
        idx = rng.choice(len(ph_in), size=len(ph_in), replace=True)
        boots.append(ref_grid(ph_in[idx], f_in[idx], tt)[0])
    if len(boots) > 10:
        err = (np.percentile(boots, (1 + ci) / 2 * 100) - np.percentile(boots, (1 - ci) / 2 * 100)) / 2
    else:
        err = 0.2
    base_c = 0.2 if n_in < 10 else 0.5 if n_in < 30 else 0.7 if n_in < 100 else 0.85
    if coverage >= 0.8:
        base_c = min(0.95, base_c * 1.1)
    elif coverage < 0.6:
        base_c *= 0.8
    conf = round(min(0.95, base_c), 3)
    ing = (phase > -h) & (phase < -h / 2)
    bot = (phase > -h / 4) & (phase < h / 4)
    egr = (phase > h / 2) & (phase < h)
    d_bot = 1.0 - float(np.median(flux[bot])) / bmed if bot.any() else depth
    edge = np.concatenate([flux[ing], flux[egr]])
    d_edge = 1.0 - float(np.median(edge)) / bmed if edge.size > 3 else d_bot * 0.5
    sr = d_bot / d_edge if d_edge > 0 and d_bot > 0 else 2.0
    out.update(
        status="ok",
        confidence=conf,
        baseline_median=bmed,
        ratio=ratio,
        depth=depth,
        chi2=chi2,
        err=float(err),
        boots=np.asarray(boots),
        depth_bottom=d_bot,
        depth_edge=d_edge,
        shape_ratio=sr,
        n_bottom_points=int(bot.sum()),
        n_edge_points=int(edge.size),
        metrics={
            "depth_bottom": round(d_bot, 6),
            "depth_edge": round(d_edge, 6),
            "shape_ratio": round(sr, 3),
            "n_bottom_points": int(bot.sum()),
            "n_edge_points": int(edge.size),
            "t_flat_hours": round(ratio * duration_hours, 4),
            "t_total_hours": round(duration_hours, 4),
            "tflat_ttotal_ratio": round(ratio, 4),
            "depth_ppm": round(depth * 1e6, 1),
            "transit_coverage": round(coverage, 3),
            "n_in_transit": n_in,
            "n_baseline": n_base,
        },
    )
    return out


# -- exposure-averaged trapezoid (independent) --------------------------------------------------


def _trap_profile(x, a, b):
    x = np.abs(x)
    if a - b <= 0:
        return (x < a).astype(float)
    return np.clip((a - x) / (a - b), 0.0, 1.0)


def _trap_integral(x, a, b):
    """Antiderivative P(x) = int_{-inf}^{x} of the unit trapezoid with half-widths a >= b."""
    x = np.asarray(x, float)
    if a - b <= 0:
        return np.clip(x + a, 0.0, 2 * a)
    d = a - b
    return np.select(
        [x <= -a, x <= -b, x <= b, x <= a],
        [0.0, (x + a) ** 2 / (2 * d), d / 2 + (x + b), d / 2 + 2 * b + d / 2 - (a - x) ** 2 / (2 * d)],
        a + b,
    )


def trapezoid_avg(x, t_total, t_flat, exposure):
    """Unit-depth symmetric trapezoid averaged over [x - e/2, x + e/2] (exact; e = 0: the profile).

    Uses the closed-form piecewise-quadratic antiderivative of the piecewise-linear profile.
    """
    x = np.asarray(x, float)
    a, b = t_total / 2, min(max(t_flat, 0.0), t_total) / 2
    e = np.broadcast_to(np.asarray(exposure, float), x.shape)
    es = np.where(e > 0, e, 1.0)
    avg = (_trap_integral(x + es / 2, a, b) - _trap_integral(x - es / 2, a, b)) / es
    return np.where(e > 0, avg, _trap_profile(x, a, b))


# -- the trapezoid_fit method ---------------------------------------------------------------------


def bin_points(u, y, w, e, group, window, n_bins, n_groups):
    """Per-bin weighted mean offset, effective exposure and sums of w, w y, w y^2, counts.

    The effective exposure adds the bin's weighted offset spread to the exposure in quadrature
    as a box of equal variance: ``sqrt(e^2 + 12 var)``.
    """
    q = n_groups * n_bins
    members = [[] for _ in range(q)]
    for i, ui in enumerate(u):
        if not abs(ui) < window:
            continue
        k = int(np.floor((ui + window) / (2 * window) * n_bins))
        members[min(max(k, 0), n_bins - 1) + int(group[i]) * n_bins].append(i)
    xbar = np.full(q, np.nan)
    ebar = np.full(q, np.nan)
    s0 = np.zeros(q)
    sy = np.zeros(q)
    syy = np.zeros(q)
    cnt = np.zeros(q)
    for k, idx in enumerate(members):
        if not idx:
            continue
        idx = np.asarray(idx)
        wk = w[idx]
        cnt[k] = idx.size
        s0[k] = wk.sum()
        sy[k] = np.sum(wk * y[idx])
        syy[k] = np.sum(wk * y[idx] ** 2)
        if s0[k] > 0:
            xbar[k] = np.sum(wk * u[idx]) / s0[k]
            var = np.sum(wk * (u[idx] - xbar[k]) ** 2) / s0[k]
            ebar[k] = np.sqrt((np.sum(wk * e[idx]) / s0[k]) ** 2 + 12 * var)
    return xbar, ebar, s0, sy, syy, cnt


def fit_binned(xbar, ebar, s0, sy, lower, upper, starts=None):
    """Weighted least squares of ``ybar = depth * s(x - tau; T, rT, e)`` (scipy, multi-start)."""
    from scipy.optimize import least_squares

    ok = s0 > 0
    xb, eb, w = xbar[ok], ebar[ok], s0[ok]
    yb = sy[ok] / w
    sw = np.sqrt(w)

    def resid(p):
        return sw * (yb - p[0] * trapezoid_avg(xb - p[3], p[1], p[2] * p[1], eb))

    if starts is None:
        starts = [(t, r, tau) for t in (0.5, 0.9, 1.3) for r in (0.05, 0.5, 0.95) for tau in (-0.05, 0.05)]
    best = None
    for t, r, tau in starts:
        s = trapezoid_avg(xb - tau, t, r * t, eb)
        d0 = max(np.sum(w * yb * s) / max(np.sum(w * s * s), 1e-300), 1e-6)
        p0 = np.clip([d0, t, r, tau], lower, upper)
        o = least_squares(
            resid,
            p0,
            bounds=(lower, upper),
            x_scale=[max(d0, 1e-6), 0.05, 0.05, 0.01],
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
        )
        if best is None or o.cost < best.cost:
            best = o
    chi2 = 2 * best.cost - np.sum(w * yb * yb)  # chi2 minus sum(w ybar^2) ... per-bin form
    return best.x, chi2


def chi2_binned(p, xbar, ebar, s0, sy):
    """sum over bins of s0 m^2 - 2 m sy with m = depth * s (the fit's objective up to a constant)."""
    ok = s0 > 0
    m = p[0] * trapezoid_avg(xbar[ok] - p[3], p[1], p[2] * p[1], ebar[ok])
    return float(np.sum(s0[ok] * m * m - 2 * m * sy[ok]))


def trapezoid_fit_inputs(
    time, flux, flux_err, period, t0, duration_hours, exposure_days, window=0.9, n_bins=128
):
    """The trapezoid_fit method's data preparation for one candidate (single exposure group)."""
    time = np.asarray(time, float)
    flux = np.asarray(flux, float)
    flux_err = np.asarray(flux_err, float)
    dd = duration_hours / 24.0
    phase = phase_v05(time, t0, period)
    h = dd / period / 2
    base = (np.abs(phase) > h * 1.5) & (np.abs(phase) < 0.25)
    bflux = np.sort(flux[base])
    bmed = float(np.median(bflux))
    n = bflux.size
    lo = bflux[int(np.round(0.15865525393145707 * (n - 1)))]
    hi = bflux[int(np.round(0.8413447460685429 * (n - 1)))]
    bsig = 0.5 * (hi - lo) / bmed
    u = phase * period / dd
    win = np.abs(u) < window
    sig = flux_err / bmed
    if win.any() and np.all((sig[win] > 0) & np.isfinite(sig[win])):
        w = 1.0 / sig**2
    else:
        w = np.full(u.shape, 1.0 / bsig**2 if bsig > 0 else 1.0)
    y = 1.0 - flux / bmed
    e = np.full(u.shape, exposure_days / dd)
    return bin_points(u[win], y[win], w[win], e[win], np.zeros(int(win.sum()), int), window, n_bins, 1)
