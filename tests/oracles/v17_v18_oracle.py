"""Plain-numpy oracles of V17 (and V18) written from docs/checks.md / the reference semantics:
one candidate at a time, Python loops over trials, no jaxvet code."""

from __future__ import annotations

import math

import numpy as np


def template(t, P, t0, d_h, sharp=30.0, ing=0.2):
    D = d_h / 24.0
    k = sharp / max(D * ing, 1e-6)
    ph = (t - t0) / P
    ph = ph - np.floor(ph + 0.5)
    x = np.clip(k * (D / 2.0 - np.abs(ph * P)), -60.0, 60.0)
    return 1.0 / (1.0 + np.exp(-x))


def score(t, f, e, P, t0, d_h):
    """(score, depth_hat, depth_sigma) of the smooth template."""
    tm = template(t, P, t0, d_h)
    w = 1.0 / np.maximum(e * e, 1e-12)
    den = float(np.sum(w * tm * tm)) + 1e-12
    dep = float(np.sum(w * tm * (1.0 - f))) / den
    sig = math.sqrt(1.0 / den)
    return dep / max(sig, 1e-12), dep, sig


def v17(t, f, e, P, t0, d_h, n_shift=200, n_per=21, frac=0.002, ablate=(1, 3, 5), n_scan=81):
    """The V17 metrics (unrounded) and a few raw values."""
    s0, dep, sig = score(t, f, e, P, t0, d_h)
    null = np.array([score(t, f, e, P, t0 + P * k / (n_shift + 1.0), d_h)[0] for k in range(1, n_shift + 1)])
    mu, sd = null.mean(), null.std()
    p = (np.sum(null >= s0) + 1.0) / (n_shift + 1.0)
    grid = np.clip(P * (1.0 + np.linspace(-frac, frac, n_per)), 0.05, 1000.0)
    ps = np.array([score(t, f, e, q, t0, d_h)[0] for q in grid])
    bi = int(np.argmax(ps))
    second = max(ps[i] for i in range(n_per) if i != bi)
    ptn = abs(ps[bi]) / abs(second) if abs(second) > 0 else math.nan
    regime = ("strong" if ptn > 1.5 else "moderate" if ptn >= 1.1 else "marginal" if ptn >= 1.0
              else "confused") if math.isfinite(ptn) else "confused"  # fmt: skip
    w = 1.0 / np.maximum(e * e, 1e-12)
    c = np.abs(w * template(t, P, t0, d_h) * (1.0 - f))
    order = np.argsort(-c, kind="stable")
    drops = []
    for n in ablate:
        n = max(1, min(n, len(t)))
        keep = np.ones(len(t), bool)
        keep[order[:n]] = False
        s = score(t[keep], f[keep], e[keep], P, t0, d_h)[0]
        drops.append(max(0.0, (abs(s0) - abs(s)) / max(abs(s0), 1e-12)))
    tot = c.sum()
    pr = c / tot if tot > 0 else c
    eff = math.exp(-np.sum(pr * np.log(pr + 1e-12))) if tot > 0 else math.nan
    ph = ((t - t0) / P) % 1.0
    ph = np.where(ph > 0.5, ph - 1.0, ph)
    n_in = int(np.sum(np.abs(ph) < d_h / 24.0 / P / 2.0))
    hs = d_h * 1.5 / 24.0
    scan_t = t0 + np.linspace(-hs, hs, n_scan)
    scan = np.array([score(t, f, e, P, x, d_h)[0] for x in scan_t])
    return {
        "score": s0, "depth_hat_ppm": dep * 1e6, "depth_sigma_ppm": sig * 1e6,
        "phase_shift_null_p_value": p, "phase_shift_null_z": (s0 - mu) / sd if sd > 0 else math.nan,
        "null_percentile": 1.0 - p, "period_neighborhood_best_period_days": grid[bi],
        "period_neighborhood_best_score": ps[bi], "period_neighborhood_second_best_score": second,
        "period_peak_to_next_ratio": ptn, "max_ablation_score_drop_fraction": max(drops),
        "top_5_fraction_abs": 0.0, "n_in_transit": n_in, "effective_n_points": eff,
        "uniqueness_regime": regime,
        "_top5": c[order[:5]].sum() / tot if tot > 0 else math.nan,
        "_t0_best": scan_t[int(np.argmax(scan))], "_t0_score_best": scan.max(),
    }  # fmt: skip


def v18(t, f, e, P, t0, d_h, levels=(1, 2, 5), seed=0):
    """The V18 metrics and per-variant (score, depth_ppm, n) rows (None when failed)."""
    rows, ids = [], []
    for d in levels:
        off = 0 if d <= 1 else int(np.random.default_rng(seed).integers(0, d))
        for ol in ("none", "sigma_clip_4"):
            for dt in ("none", "running_median_0.5d"):
                tt, ff, ee = t[off::d], f[off::d], e[off::d]
                if ol != "none":
                    med = np.median(ff)
                    mad = np.median(np.abs(ff - med))
                    sig = 1.4826 * mad if mad > 0 else np.std(ff)
                    k = np.abs(ff - med) <= 4.0 * sig
                    if np.sum(~k) < len(ff) - 10:
                        tt, ff, ee = tt[k], ff[k], ee[k]
                if dt != "none" and len(tt) >= 3:
                    w = max(3, int(0.5 / np.median(np.diff(tt))))
                    w += w % 2 == 0
                    h = w // 2
                    tr = np.array([np.median(ff[max(0, i - h): i + h + 1]) for i in range(len(ff))])
                    mt = np.median(tr)
                    ff = ff / tr * mt if mt > 0 else ff - tr + 1.0
                ids.append(f"ds{d}|ol_{ol}|dt_{dt}")
                if len(tt) < 50:
                    rows.append(None)
                    continue
                s, dep, _ = score(tt, ff, ee, P, t0, d_h)
                rows.append((s, dep * 1e6, len(tt)))
    ok = [(i, r) for i, r in zip(ids, rows, strict=True) if r is not None]
    out = {"n_variants_total": len(rows), "n_variants_ok": len(ok), "rows": rows, "ids": ids}
    if len(ok) >= 3:
        sa = np.abs([r[0] for _, r in ok])
        da = np.abs([r[1] for _, r in ok])
        spread = lambda x: (np.percentile(x, 75) - np.percentile(x, 25)) / max(np.median(x), 1e-12)  # noqa: E731
        out.update(score_spread=spread(sa), depth_spread=spread(da), best_abs=sa.max(), worst_abs=sa.min())
        out["metric_variance"] = max(out["score_spread"], out["depth_spread"])
    return out
