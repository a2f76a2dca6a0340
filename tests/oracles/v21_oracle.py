"""Plain-numpy oracle of the reference V21 and measure_transit_depth (written from the spec §5.4, §6.19)."""

import numpy as np
from scipy.stats import chi2 as chi2_dist


def phase_fold(t, t0, P):
    ph = ((t - t0) / P) % 1.0
    return np.where(ph > 0.5, ph - 1.0, ph)


def measure_transit_depth(flux, in_mask, out_mask):
    fi = flux[in_mask & np.isfinite(flux)]
    fo = flux[out_mask & np.isfinite(flux)]
    if fi.size == 0 or fo.size == 0:
        return 0.0, 1.0
    depth = np.median(fo) - np.median(fi)
    err = np.sqrt((np.std(fi) / np.sqrt(fi.size)) ** 2 + (np.std(fo) / np.sqrt(fo.size)) ** 2)
    return float(depth), float(err)


def sector_measurements(lc_by_sector, P, t0, dur_hours):
    rows = []
    D = dur_hours / 24.0
    for s in sorted(lc_by_sector):
        t, f = lc_by_sector[s]
        ph = phase_fold(t, t0, P)
        in_m = np.abs(ph) < (D / P) * 1.0 / 2
        out_m = ~(np.abs(ph) < (D / P) * 3.0 / 2)
        d, e = measure_transit_depth(f, in_m, out_m)
        rows.append({"sector": s, "depth_ppm": d * 1e6, "depth_err_ppm": e * 1e6, "n_in": int(in_m.sum())})
    return rows


def sector_consistency(rows, chi2_threshold=0.01, min_sectors=2):
    valid = [
        r
        for r in rows
        if r.get("quality_weight", 1.0) > 0
        and np.isfinite(r["depth_ppm"])
        and np.isfinite(r["depth_err_ppm"])
        and r["depth_err_ppm"] > 0
    ]
    nondet = sorted(r["sector"] for r in valid if r["depth_ppm"] <= 0)
    pos = [r for r in valid if r["depth_ppm"] > 0]
    used = sum(1 for r in rows if r.get("quality_weight", 1.0) > 0 and r["depth_ppm"] > 0)
    if len(pos) < min_sectors:
        return {"class": "UNRESOLVABLE", "p": 1.0, "outliers": nondet, "used": used}
    d = np.array([r["depth_ppm"] for r in pos])
    e = np.array([r["depth_err_ppm"] for r in pos])
    w = 1 / e**2
    mu = np.sum(w * d) / np.sum(w)
    chi2 = np.sum(((d - mu) / e) ** 2)
    dof = len(pos) - 1
    p = float(chi2_dist.sf(chi2, dof))
    out = sorted(
        {r["sector"] for r in pos if abs(r["depth_ppm"] - mu) / r["depth_err_ppm"] > 3.0} | set(nondet)
    )
    return {
        "class": "INCONSISTENT" if p < chi2_threshold else "EXPECTED_SCATTER",
        "p": p,
        "outliers": out,
        "used": used,
        "chi2": chi2,
        "mu": mu,
    }
