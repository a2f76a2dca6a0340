"""Plain-numpy oracle for jaxvet.campaigns.bootstrap_study: statistics of the *expanded* resample.

A bootstrap resample with counts ``c`` is the multiset holding unit ``j`` ``c[j]`` times; here it
is materialised with ``np.repeat`` and every statistic is computed from the reference semantics
(§6.1 V01, §6.4 V04, §6.19 V21) and the V01 OE_box formulas of jaxvet.checks.v01_odd_even's
docstring, with plain numpy / scipy.  Nothing here imports jax or jaxvet.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps


def expand(counts, *arrays, select=None):
    counts = np.asarray(counts, int)
    if select is not None:
        counts = np.where(select, counts, 0)
    return [np.repeat(np.asarray(a), counts) for a in arrays]


def v04(counts, ok, depth, sigma):
    d, s = expand(counts, depth, sigma, select=ok)
    n = d.size
    if n < 2:
        return None
    mean = d.mean()
    med = np.median(d)
    std = d.std()
    snr = np.abs(d) / (s + 1e-12)
    snr = np.where(np.isfinite(s) & (s > 0), snr, 0.0)
    s_rms = np.sqrt(np.mean(snr**2))
    w = 1.0 / (s**2 + 1e-12)
    d_mean_w = np.sum(w * d) / np.sum(w)
    chi2 = 0.0 if np.any(s <= 0) else np.sum(((d - mean) / s) ** 2)
    return {
        "chi2_reduced": chi2 / (n - 1),
        "mean_depth_ppm": mean * 1e6,
        "depth_scatter_ppm": std * 1e6,
        "rms_scatter": std / mean if mean > 0 else 0.0,
        "d_mean_w_ppm": d_mean_w * 1e6,
        "d_med_ppm": med * 1e6,
        "expected_scatter_ppm": np.sqrt(np.sum(s**2)) / n * 1e6,
        "s_max": snr.max(),
        "s_median": np.median(snr),
        "dom_ratio": snr.max() / (s_rms + 1e-12),
        "dom_frac": snr.max() ** 2 / (np.sum(snr**2) + 1e-12),
        "dmm": d_mean_w / (med + 1e-12),
        "dmm_abs": abs(d_mean_w - med) / (abs(med) + 1e-12),
    }


def v01(counts, u, min_transits=2, min_points=20):
    """Reference per-epoch-median statistics and OE_box with pink-noise errors."""
    odd = np.mod(u["epoch"], 2) == 1
    par = {}
    for p, sel in (("odd", u["ok"] & odd), ("even", u["ok"] & ~odd)):
        d, s, nin, base, sfw, sw, sf = expand(
            counts, u["depth"], u["sigma"], u["n_in"], u["baseline"], u["sum_fw_in"], u["sum_w_in"],
            u["sum_f_in"], select=sel,
        )  # fmt: skip
        par[p] = dict(
            n_tr=d.size,
            n_pts=nin.sum(),
            med=np.median(d) if d.size else np.nan,
            sig=(np.median(s) / np.sqrt(d.size)) if d.size else np.nan,
            num_w=np.sum(base * sfw),
            den_w=np.sum(base * base * sw),
            num_u=np.sum(sf / base),
            den_u=np.sum(nin),
        )
    o, e = par["odd"], par["even"]
    if (
        o["n_tr"] < min_transits
        or e["n_tr"] < min_transits
        or o["n_pts"] < min_points
        or e["n_pts"] < min_points
    ):
        return None
    (used_err_ok,) = expand(counts, u["err_ok"], select=u["ok"])
    weighted = bool(np.all(used_err_ok))
    box = {}
    for p, q in par.items():
        num, den = (q["num_w"], q["den_w"]) if weighted else (q["num_u"], q["den_u"])
        box[p] = 1.0 - num / den
    # pink noise: pooled residual sums over every resampled epoch
    pn, r1, r2, nb, m1, m2, ic = (
        np.sum(x) for x in expand(
            counts, u["pink_n"], u["pink_sum_r"], u["pink_sum_r2"], u["pink_nbins"], u["pink_sum_m"],
            u["pink_sum_m2"], u["pink_sum_invc"],
        )
    )  # fmt: skip
    var_w = max(r2 / pn - (r1 / pn) ** 2, 0.0)
    var_r = max(m2 / nb - (m1 / nb) ** 2 - var_w * ic / nb, 0.0) if nb >= 2 else 0.0
    err = {p: np.sqrt(var_w / q["n_pts"] + var_r / q["n_tr"]) for p, q in par.items()}
    delta = o["med"] - e["med"]
    sd = np.hypot(o["sig"], e["sig"])
    dbox = box["odd"] - box["even"]
    sbox = np.hypot(err["odd"], err["even"])
    return {
        "delta_sigma": abs(delta) / sd if sd > 0 else 0.0,
        "rel_diff": abs(delta) / max(abs(o["med"]), abs(e["med"]), 1e-10),
        "depth_odd_ppm": o["med"] * 1e6,
        "depth_even_ppm": e["med"] * 1e6,
        "depth_err_odd_ppm": o["sig"] * 1e6,
        "depth_err_even_ppm": e["sig"] * 1e6,
        "delta_ppm": delta * 1e6,
        "oe_box_sigma": abs(dbox) / sbox if sbox > 0 else 0.0,
        "oe_box_rel_diff": abs(dbox) / max(abs(box["odd"]), abs(box["even"]), 1e-10),
    }


def v21(counts, valid, depth_ppm, err_ppm):
    pos = valid & np.isfinite(depth_ppm) & np.isfinite(err_ppm) & (err_ppm > 0) & (depth_ppm > 0)
    d, e = expand(counts, depth_ppm, err_ppm, select=pos)
    if d.size < 2:
        return None
    w = 1.0 / e**2
    mu = np.sum(w * d) / np.sum(w)
    chi2 = np.sum(((d - mu) / e) ** 2)
    return {"chi2_p_value": float(sps.chi2.sf(chi2, d.size - 1)), "chi2": chi2, "weighted_mean_ppm": mu}
