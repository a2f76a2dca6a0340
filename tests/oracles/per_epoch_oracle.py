"""Plain-numpy oracle for the per-epoch depth kernel, V01 (odd/even) and V04 (depth stability).

Written from the specification -- the reference semantics document beside the repository
(``../shared/reference-semantics.md``) §5.5 (robust std, red-noise
inflation), §6.1 (V01), §6.4 (V04), §8 (quirks) -- and from the documented jaxvet additions in
the docstrings of ``jaxvet.checks.v01_odd_even`` (OE_box, pink noise, verdict) and
``jaxvet.checks.v04_depth_stability`` (seed fields, verdict), one candidate at a time with
Python loops over epochs, exactly as the reference library iterates.  It shares no code with the
JAX implementation.
"""

from __future__ import annotations

import numpy as np

MAD = 1.4826


def robust_std(x):
    x = np.asarray(x, float)
    if x.size < 2:
        return 0.0
    return float(np.median(np.abs(x - np.median(x))) * MAD)


def red_noise_inflation(residuals, times, bin_days):
    """§5.5: (beta, success)."""
    residuals = np.asarray(residuals, float)
    times = np.asarray(times, float)
    if residuals.size < 10 or bin_days <= 0:
        return 1.0, False
    o = np.argsort(times, kind="stable")
    r, t = residuals[o], times[o]
    tmin, tmax = t[0], t[-1]
    span = tmax - tmin
    if span < bin_days * 2:
        return 1.0, False
    nb = max(3, int(span / bin_days))
    edges = np.linspace(tmin, tmax, nb + 1)
    means, counts = [], []
    for i in range(nb):
        sel = (t >= edges[i]) & (t < edges[i + 1])
        if sel.sum() >= 3:
            means.append(r[sel].mean())
            counts.append(sel.sum())
    if len(means) < 3:
        return 1.0, False
    observed = np.std(np.array(means))
    expected = robust_std(r) / np.sqrt(np.mean(counts))
    if expected <= 0:
        return 1.0, False
    return float(max(1.0, observed / expected)), True


def in_transit(t, P, t0, D):
    ph = ((t - t0) / P) % 1
    return np.minimum(ph, 1 - ph) < 0.5 * (D / P)


def epochs_of(t, P, t0):
    return np.floor((t - t0 + P / 2) / P).astype(int)


def coverage(t, tc, D, n_in):
    """n_in / (D / cadence), clipped to 1; cadence of the points with |t - tc| <= 6 D (the
    kernel's window): from the mean positive step, three times the mean of the steps within
    [c/1.5, 1.5 c] of the previous estimate (no lower bound the first time)."""
    w = t[(t >= tc - 6.0 * D) & (t <= tc + 6.0 * D)]
    dt = np.diff(w)
    dt = dt[dt > 0]
    if dt.size == 0:
        return np.nan
    c, lo = float(np.mean(dt)), 0.0
    for _ in range(3):
        sel = (dt >= lo) & (dt <= 1.5 * c)
        if sel.any():
            c = float(np.mean(dt[sel]))
        lo = c / 1.5
    return min(1.0, n_in * c / D)


def excess_variance(d, var_white, odd, significance=2.0):
    """Pooled within-parity variance of per-epoch depths beyond the white expectation and
    ``significance`` times its sampling error (jaxvet.core.noise.epoch_excess_variance)."""
    d, var_white, odd = np.asarray(d, float), np.asarray(var_white, float), np.asarray(odd, bool)
    groups = [g for g in (odd, ~odd) if g.any()]
    dof = d.size - len(groups)
    if dof < 1:
        return np.nan
    s2 = sum(float(np.sum((d[g] - d[g].mean()) ** 2)) for g in groups) / dof
    return max(0.0, s2 - float(np.mean(var_white)) * (1.0 + significance * np.sqrt(2.0 / dof)))


def per_epoch(t, f, P, t0, D, half_window):
    """Every epoch with >= 5 in-transit points, in ascending order (the reference's loop).

    Each record: ep, n_in, processed, used_global, ok (baseline > 0), baseline, depth, sigma,
    sigma_white, inflation, n_oot, rn_warn, and for local baselines the oot index set.
    """
    itr = in_transit(t, P, t0, D)
    ep_all = epochs_of(t, P, t0)
    recs = []
    for ep in np.unique(ep_all):
        in_ep = (ep_all == ep) & itr
        n_in = int(in_ep.sum())
        if n_in < 5:
            continue
        tc = t0 + ep * P
        local = (t >= tc - half_window) & (t <= tc + half_window) & ~itr
        used_global = False
        oot = local
        if oot.sum() < 5:
            oot = ~itr
            used_global = True
        rec = dict(ep=int(ep), n_in=n_in, used_global=used_global, processed=False, ok=False, rn_warn=False)
        rec["coverage"] = coverage(t, tc, D, n_in)
        recs.append(rec)
        if used_global and oot.sum() < 10:
            continue
        rec["processed"] = True
        n_oot = int(oot.sum())
        rec["n_oot"] = n_oot
        base = float(np.median(f[oot]))
        rec["baseline"] = base
        if base <= 0:
            continue
        rec["ok"] = True
        rec["depth"] = 1.0 - float(np.median(f[in_ep])) / base
        sig = robust_std(f[oot]) / np.sqrt(n_in) / base
        rec["sigma_white"] = sig
        rec["inflation"] = 1.0
        if n_oot >= 20:
            beta, ok = red_noise_inflation(f[oot] - base, t[oot], D / 2)
            if ok:
                sig *= beta
                rec["inflation"] = beta
            elif n_oot < 30:
                rec["rn_warn"] = True
        rec["sigma"] = sig
        rec["in_idx"] = np.nonzero(in_ep)[0]
        rec["oot_idx"] = np.nonzero(oot)[0] if not used_global else None
        rec["tc"] = tc
    return recs


# --------------------------------------------------------------------------------------------
# V01
# --------------------------------------------------------------------------------------------
def v01_confidence(n_odd, n_even, delta_sigma, has_warnings):
    n_min = min(n_odd, n_even)
    base = 0.2 if n_min <= 1 else 0.5 if n_min <= 3 else 0.7 if n_min <= 7 else 0.85
    if delta_sigma < 1.0 and n_min >= 4:
        base = min(0.95, base * 1.05)
    if has_warnings:
        base *= 0.9
    return round(min(0.95, base), 3)


def parity_outliers(ep_box, eps, k=4.0, min_n=3):
    """Epochs whose box depth is more than k x 1.4826 MAD from their parity's median."""
    out = []
    for par in (1, 0):
        d = np.array([x for x, e in zip(ep_box, eps, strict=True) if e % 2 == par])
        if d.size < min_n:
            continue
        med = np.median(d)
        scale = 1.4826 * np.median(np.abs(d - med))
        if scale <= 0:
            continue
        out += [e for x, e in zip(ep_box, eps, strict=True) if e % 2 == par and abs(x - med) > k * scale]
    return sorted(out)


def v01(
    t, f, err, P, t0, duration_hours, oe_thr=3.0, rel_thr=0.5, rel_min_sigma=2.0, min_cov=0.6, outlier_k=4.0,
    rel_floor=0.05,
):  # fmt: skip
    """Reference V01 plus jaxvet's OE_box.  Returns a dict (metrics rounded like the reference).

    Where the reference writes 0.0 for an unmeasured depth metric, jaxvet (and this oracle)
    gives None."""
    D = duration_hours / 24.0
    zero_metrics = dict(
        odd_depth=None, even_depth=None, depth_diff_sigma=None, depth_odd_ppm=None, depth_even_ppm=None,
        depth_err_odd_ppm=None, depth_err_even_ppm=None, delta_ppm=None, delta_sigma=None, rel_diff=None,
        method="per_epoch_median",
    )  # fmt: skip
    if D >= 0.5 * P:
        m = dict(zero_metrics, n_odd_points=0, n_even_points=0, n_odd_transits=0, n_even_transits=0)
        return dict(
            metrics=m,
            notes=["duration_too_long_relative_to_period", "insufficient_data_for_odd_even_check"],
            flags=["INSUFFICIENT_DATA", "DURATION_TOO_LONG"],  # the second from the engine's guard
            confidence=0.2,
            verdict="insufficient",
            recs=[],
        )
    hw = min(6.0 * D, 0.45 * P)
    recs = per_epoch(t, f, P, t0, D, hw)
    warnings = [f"Epoch {r['ep']}: insufficient OOT for red noise estimation" for r in recs if r["rn_warn"]]
    proc = [r for r in recs if r["processed"]]
    n_glob = sum(r["used_global"] for r in proc)
    if proc and n_glob >= len(proc) * 0.5:
        warnings.append(
            f"odd_even_baseline_fallback_global_oot: {n_glob}/{len(proc)} "
            "epochs used global OOT baseline (local window too sparse)"
        )
    good = [r for r in recs if r["ok"]]
    odd = [r for r in good if r["ep"] % 2 == 1]
    even = [r for r in good if r["ep"] % 2 == 0]
    n_odd, n_even = len(odd), len(even)
    p_odd, p_even = sum(r["n_in"] for r in odd), sum(r["n_in"] for r in even)
    out = dict(recs=recs, n_odd=n_odd, n_even=n_even)
    insufficient = False
    for cnt, label in ((n_odd, "odd"), (n_even, "even")):
        if cnt < 2:
            warnings.append(f"Only {cnt} {label} transit(s), need 2")
            insufficient = True
    for cnt, label in ((p_odd, "odd"), (p_even, "even")):
        if cnt < 20:
            warnings.append(f"Only {cnt} {label} in-transit points, need 20")
            insufficient = True
    counts = dict(n_odd_points=p_odd, n_even_points=p_even, n_odd_transits=n_odd, n_even_transits=n_even)
    out.update(_oe_box(t, f, err, D, P, good, min_cov))
    # the verdict's OE_box: without per-parity MAD outliers, if each parity keeps 2 epochs
    drop = parity_outliers(out["ep_box"], out["used_epochs"], outlier_k)
    kept = [e for e in out["used_epochs"] if e not in drop]
    if min(sum(e % 2 == 1 for e in kept), sum(e % 2 == 0 for e in kept)) < 2:
        drop = []
    rob = _oe_box(t, f, err, D, P, good, min_cov, drop=drop)
    out["dropped_epochs"] = drop
    out["oe_box_sigma_robust"], out["oe_box_rel_diff_robust"] = rob["oe_box_sigma"], rob["oe_box_rel_diff"]
    out["box_odd_robust"], out["box_even_robust"] = rob["box_odd"], rob["box_even"]
    drop_flag = ["OUTLIER_EPOCHS_DROPPED"] if drop else []
    neg_box = any(
        round(out[f"box_{p}"] * 1e6, 2) < 0 for p in ("odd", "even") if np.isfinite(out[f"box_{p}"])
    )
    notes_extra = ["single_parity_epochs"] if (n_odd == 0) != (n_even == 0) else []
    if insufficient:
        warnings.append("insufficient_data_for_odd_even_check")
        out.update(
            metrics=dict(zero_metrics, **counts), notes=warnings + notes_extra,
            flags=["INSUFFICIENT_DATA"] + (["NEGATIVE_DEPTH"] if neg_box else []) + drop_flag,
            confidence=0.2, verdict="insufficient",
        )  # fmt: skip
        return out
    mo = float(np.median([r["depth"] for r in odd]))
    me = float(np.median([r["depth"] for r in even]))
    so = float(np.median([r["sigma"] for r in odd])) / np.sqrt(n_odd)
    se = float(np.median([r["sigma"] for r in even])) / np.sqrt(n_even)
    delta = mo - me
    sd = np.sqrt(so**2 + se**2)
    ds = abs(delta) / sd if sd > 0 else 0.0
    rel = abs(delta) / max(abs(mo), abs(me), 1e-10)
    metrics = dict(
        odd_depth=round(mo, 6), even_depth=round(me, 6), depth_diff_sigma=round(ds, 2), **counts,
        depth_odd_ppm=round(mo * 1e6, 1), depth_even_ppm=round(me * 1e6, 1),
        depth_err_odd_ppm=round(so * 1e6, 1), depth_err_even_ppm=round(se * 1e6, 1),
        delta_ppm=round(delta * 1e6, 1), delta_sigma=round(ds, 2), rel_diff=round(rel, 3),
        method="per_epoch_median",
    )  # fmt: skip
    flags = ["INSUFFICIENT_DATA"] if "insufficient_data" in str(warnings).lower() else []
    if neg_box or metrics["depth_odd_ppm"] < 0 or metrics["depth_even_ppm"] < 0:
        flags.append("NEGATIVE_DEPTH")
    flags += drop_flag
    oe, oer = out["oe_box_sigma_robust"], out["oe_box_rel_diff_robust"]
    if not (np.isfinite(oe) and np.isfinite(oer)) or min(out["n_used_odd"], out["n_used_even"]) < 2:
        verdict = "insufficient"
    elif (oe >= oe_thr or (oer >= rel_thr and oe >= rel_min_sigma)) and oer >= rel_floor:
        verdict = "fail"
    else:
        verdict = "pass"
        if oe >= oe_thr or (oer >= rel_thr and oe >= rel_min_sigma):
            flags.append("BELOW_RELATIVE_FLOOR")
    out.update(
        metrics=metrics, notes=warnings + notes_extra, flags=flags,
        confidence=v01_confidence(n_odd, n_even, ds, len(warnings) > 0), verdict=verdict,
        median_odd=mo, median_even=me, sigma_odd=so, sigma_even=se, delta_sigma=ds, rel_diff=rel,
        epoch_depths_odd_ppm=[round(r["depth"] * 1e6, 1) for r in odd[:20]],
        epoch_depths_even_ppm=[round(r["depth"] * 1e6, 1) for r in even[:20]],
    )  # fmt: skip
    return out


def pink(t, f, D, good):
    """(sigma_w^2, sigma_r^2): local out-of-transit residuals f/b - 1 of the measured epochs with
    a local baseline, pooled; duration-wide bins centred on t_c + j D (1 <= |j| <= 6, >= 3 points)."""
    resid, bin_means, inv_counts = [], [], []
    for r in good:
        if r["oot_idx"] is None:
            continue
        idx = r["oot_idx"]
        rr = (f[idx] - r["baseline"]) / r["baseline"]
        resid.append(rr)
        for j in range(-6, 7):
            if j == 0:
                continue
            lo = r["tc"] + (j - 0.5) * D
            hi = r["tc"] + (j + 0.5) * D
            sel = (t[idx] >= lo) & (t[idx] < hi)
            if sel.sum() >= 3:
                bin_means.append(rr[sel].mean())
                inv_counts.append(1.0 / sel.sum())
    allr = np.concatenate(resid) if resid else np.zeros(0)
    var_w = float(np.var(allr)) if allr.size >= 2 else np.nan
    if len(bin_means) >= 2 and np.isfinite(var_w):
        var_r = max(0.0, float(np.var(bin_means)) - var_w * float(np.mean(inv_counts)))
    else:
        var_r = 0.0 if np.isfinite(var_w) else np.nan
    return var_w, var_r


def box_depth(f, err, r, use_err):
    y = f[r["in_idx"]] / r["baseline"]
    w = (r["baseline"] / err[r["in_idx"]]) ** 2 if use_err else np.ones(y.size)
    return np.sum(w * y), np.sum(w)


def _oe_box(t, f, err, D, P, good, min_cov, drop=()):
    """OE_box per the V01 module docstring (box depths over the covered epochs not in ``drop``,
    pink-noise errors with the transit-timescale floor, folded profile)."""
    res = {}
    use_err = all(np.all(np.isfinite(err[r["in_idx"]]) & (err[r["in_idx"]] > 0)) for r in good)
    used = [r for r in good if r["coverage"] >= min_cov and r["ep"] not in drop]
    odd = [r for r in used if r["ep"] % 2 == 1]
    even = [r for r in used if r["ep"] % 2 == 0]
    p_odd, p_even = sum(r["n_in"] for r in odd), sum(r["n_in"] for r in even)
    res["n_used_odd"], res["n_used_even"] = len(odd), len(even)
    res["used_epochs"] = [r["ep"] for r in used]
    for label, rs in (("odd", odd), ("even", even)):
        num = den = 0.0
        for r in rs:
            a, b = box_depth(f, err, r, use_err)
            num += a
            den += b
        res[f"box_{label}"] = 1.0 - num / den if den > 0 else np.nan
    var_w, var_r_bins = pink(t, f, D, used)
    ep_box = [1.0 - np.divide(*box_depth(f, err, r, use_err)) for r in used]
    var_ep = [var_w * (1.0 / r["n_in"] + 0.5 * np.pi / r["n_oot"]) for r in used]
    var_r_ep = excess_variance(ep_box, var_ep, [r["ep"] % 2 == 1 for r in used])
    res["ep_box"] = ep_box
    var_r = var_r_bins if np.isnan(var_r_ep) else max(var_r_bins, var_r_ep)
    var_r = np.nan if np.isnan(var_w) else var_r
    res["sigma_white"] = np.sqrt(var_w)
    res["sigma_red"] = np.sqrt(var_r)
    res["sigma_red_bins"] = np.sqrt(var_r_bins)
    res["sigma_red_epochs"] = np.sqrt(var_r_ep)
    for label, rs, npts in (("odd", odd, p_odd), ("even", even, p_even)):
        ntr = len(rs)
        res[f"box_err_{label}"] = np.sqrt(var_w / npts + var_r / ntr) if npts > 0 and ntr > 0 else np.nan
    d = res["box_odd"] - res["box_even"]
    s = np.sqrt(res["box_err_odd"] ** 2 + res["box_err_even"] ** 2)
    if np.isnan(s) or np.isnan(d):
        res["oe_box_sigma"] = np.nan
    else:
        res["oe_box_sigma"] = abs(d) / s if s > 0 else 0.0
    res["oe_box_rel_diff"] = abs(d) / max(abs(res["box_odd"]), abs(res["box_even"]), 1e-10)
    # folded profile: bins over +-min(3D, 0.45P) of f/b - 1, epochs with a local V01 baseline
    half = min(3.0 * D, 0.45 * P)
    fold = {0: [np.zeros(64), np.zeros(64, int)], 1: [np.zeros(64), np.zeros(64, int)]}
    for r in good:
        if r["oot_idx"] is None:
            continue
        edges = r["tc"] - half + np.arange(65) * (2.0 * half / 64)
        for i in range(64):
            sel = (t >= edges[i]) & (t < edges[i + 1])
            fold[r["ep"] % 2][0][i] += np.sum((f[sel] - r["baseline"]) / r["baseline"])
            fold[r["ep"] % 2][1][i] += sel.sum()
    res["fold"] = fold
    return res


# --------------------------------------------------------------------------------------------
# V04
# --------------------------------------------------------------------------------------------
def v04_confidence(n, has_outliers, has_warnings):
    base = 0.35 if n < 3 else 0.55 if n < 5 else 0.7 if n < 10 else 0.8 if n < 20 else 0.85
    if has_outliers:
        base *= 0.85
    if has_warnings and base > 0.5:
        base *= 0.95
    return round(min(0.95, max(0.2, base)), 3)


def _chi2_weighted(d, s):
    if d.size < 2 or not np.all(np.isfinite(s) & (s > 0)):
        return np.nan
    w = 1.0 / s**2
    m = np.sum(w * d) / np.sum(w)
    return float(np.sum(((d - m) / s) ** 2)) / (d.size - 1)


def _chi2_red(d, s):
    if d.size < 2:
        return 0.0
    return float(np.sum(((d - d.mean()) / s) ** 2)) / (d.size - 1)


def v04(t, f, err, P, t0, duration_hours, legacy=False, statistic="box_chi2", min_cov=0.6, sys_floor=0.02):
    """Reference V04 plus the jaxvet seed additions, the box chi-square and the verdict (None
    where the reference writes 0.0 for an unmeasured metric)."""
    D = duration_hours / 24.0
    if D >= 0.5 * P:
        return dict(
            metrics=dict(
                n_transits_measured=0, depth_scatter_ppm=None, expected_scatter_ppm=None, chi2_reduced=None,
                note="Duration too long relative to period for depth stability check",
            ),  # fmt: skip
            notes=["duration_too_long_relative_to_period"], flags=["DURATION_TOO_LONG"], confidence=0.2,
            verdict="insufficient",
            recs=[],
        )  # fmt: skip
    recs = per_epoch(t, f, P, t0, D, 6.0 * D)
    warnings = []
    proc = [r for r in recs if r["processed"]]
    n_glob = sum(r["used_global"] for r in proc)
    if proc and n_glob >= len(proc) * 0.5:
        warnings.append(
            f"depth_stability_baseline_fallback: {n_glob}/{len(proc)} epochs used global OOT baseline"
        )
    acc = [r for r in recs if r["ok"] and r["depth"] > 0]
    n = len(acc)
    ok_d = [r["depth"] for r in recs if r["ok"]]
    flags = ["NEGATIVE_DEPTH"] if ok_d and sum(ok_d) < 0 else []
    if n < 2:
        return dict(
            metrics=dict(
                n_transits_measured=n, depth_scatter_ppm=None, expected_scatter_ppm=None, chi2_reduced=None,
                note="Insufficient transits for depth stability check",
            ),  # fmt: skip
            notes=warnings + ["low_n_transits"], flags=flags, confidence=0.3, verdict="insufficient",
            recs=recs, accepted=acc,
        )  # fmt: skip
    d = np.array([r["depth"] for r in acc])
    s = np.array([r["sigma"] for r in acc])
    eps = [r["ep"] for r in acc]
    mean, med, std = float(np.mean(d)), float(np.median(d)), float(np.std(d))
    rms = std / mean if mean > 0 else 0.0
    safe = np.where(np.isfinite(s) & (s > 0), s, np.nan)
    snr = np.abs(d) / (safe + 1e-12)
    snr = np.where(np.isfinite(snr), snr, 0.0)
    s_max, s_med = float(np.max(snr)), float(np.median(snr))
    s_rms = float(np.sqrt(np.mean(snr**2)))
    dom = int(np.argmax(snr))
    w = np.where(np.isfinite(s) & (s > 0), 1.0 / (s**2 + 1e-12), 0.0)
    d_mean_w = float(np.sum(w * d) / np.sum(w)) if np.sum(w) > 0 else mean
    dmm = d_mean_w / (med + 1e-12)
    dmm_abs = abs(d_mean_w - med) / (abs(med) + 1e-12)
    mad = float(np.median(np.abs(d - med)))
    expected = float(np.sqrt(np.sum(s**2))) / n
    if np.all(s > 0):
        chi2_red = _chi2_red(d, s)
    else:
        chi2_red = 0.0
        warnings.append("Some sigma values are zero, chi2 unreliable")
    outliers = []
    if n >= 3 and mad * MAD > 0:
        outliers = [eps[i] for i in range(n) if abs(d[i] - med) > 4.0 * (mad * MAD)]
        if outliers:
            warnings.append(f"Outlier epochs detected: {outliers}")
    keep = np.array([e not in outliers for e in eps])
    chi2_excl = _chi2_red(d[keep], s[keep]) if np.all(s > 0) else 0.0
    # box depths with pink-noise errors and the systematic floor, over the covered epochs
    used = np.array([r["coverage"] >= min_cov for r in acc])
    var_w, var_r = pink(t, f, D, [r for r, u in zip(acc, used, strict=True) if u])
    use_err = all(np.all(np.isfinite(err[r["in_idx"]]) & (err[r["in_idx"]] > 0)) for r in recs if r["ok"])
    box = np.array([1.0 - np.divide(*box_depth(f, err, r, use_err)) for r in acc])
    var_sys = (sys_floor * float(np.median(box[used]))) ** 2 if used.any() else 0.0
    sig_box = np.array(
        [np.sqrt(var_w * (1.0 / r["n_in"] + 0.5 * np.pi / r["n_oot"]) + var_r + var_sys) for r in acc]
    )
    chi2_box = _chi2_weighted(box[used], sig_box[used])
    chi2_box_excl = _chi2_weighted(box[used & keep], sig_box[used & keep])
    seed_notes = (["low_n_transits"] if n < 3 else []) + (["outlier_epochs_flagged"] if outliers else [])
    use_excl = bool(outliers) and keep.sum() >= 2
    use_excl_box = bool(outliers) and (used & keep).sum() >= 2
    if statistic == "box_chi2":
        stat = chi2_box_excl if use_excl_box else chi2_box
        undefined = not np.isfinite(stat) or used.sum() < 2
    else:
        stat = chi2_excl if use_excl else chi2_red
        undefined = not np.all(s > 0)
    if (undefined and not legacy) or (legacy and not np.all(s > 0)):
        verdict = "insufficient"
    elif legacy:
        verdict = "pass" if rms < 0.3 else "fail"
    else:
        verdict = "pass" if stat < 2 else "warn" if stat < 4 else "fail"
    if verdict == "warn":
        seed_notes.append("marginal_chi2")
    metrics = dict(
        mean_depth=round(mean, 6), std_depth=round(std, 6), rms_scatter=round(rms, 4), n_transits_measured=n,
        mean_depth_ppm=round(mean * 1e6, 1), depth_scatter_ppm=round(std * 1e6, 1),
        expected_scatter_ppm=round(expected * 1e6, 2), chi2_reduced=round(chi2_red, 2),
        dom_ratio=round(s_max / (s_rms + 1e-12), 3), dom_frac=round(s_max**2 / (np.sum(snr**2) + 1e-12), 3),
        s_max=round(s_max, 3), s_median=round(s_med, 3), dominating_epoch_index=eps[dom],
        dominating_epoch_time_btjd=round(t0 + eps[dom] * P, 6), d_mean_w_ppm=round(d_mean_w * 1e6, 2),
        d_med_ppm=round(med * 1e6, 2), dmm=round(dmm, 3), dmm_abs=round(dmm_abs, 3),
        depth_mad_ppm=round(mad * 1e6, 2), method="per_epoch_local_baseline",
    )  # fmt: skip
    return dict(
        metrics=metrics, notes=warnings + seed_notes, flags=flags, used=used, var_sys=var_sys,
        confidence=v04_confidence(n, bool(outliers), bool(warnings)), verdict=verdict, recs=recs,
        accepted=acc,
        outliers=outliers, chi2_red=chi2_red, chi2_excl=chi2_excl, mean=mean, median=med, std=std,
        d_mean_w=d_mean_w, depth_err_mean=1.0 / np.sqrt(np.sum(w)), expected=expected, dom_pos=dom,
        chi2_box=chi2_box, chi2_box_excl=chi2_box_excl, box=box, sig_box=sig_box, var_w=var_w, var_r=var_r,
    )  # fmt: skip
