"""Plain-numpy oracles of V10 (aperture dependence) and V20 (ghost features), written from the
reference semantics (docs/checks.md) with Python loops over transits and radii; no jax."""

from __future__ import annotations

import numpy as np


def _valid(time, flux):
    return np.isfinite(time) & np.any(np.isfinite(flux.reshape(len(time), -1)), axis=1)


def v10(time, flux, period, t0, duration_hours, radii=(1.0, 1.5, 2.0, 2.5, 3.0)):
    """The reference's V10 numbers, or ``("skip", message)``."""
    d = duration_hours / 24.0
    m = _valid(time, flux)
    cube, t = flux[m], time[m]
    n, nr, nc = cube.shape
    if n < 10:
        return ("skip", f"Need at least 10 valid time points, got {n}")
    cy, cx = (nr - 1) / 2.0, (nc - 1) / 2.0
    ph = (t - t0) % period
    ph = np.where(ph > period / 2, ph - period, ph)
    intr = np.abs(ph) <= d / 2
    n_in, n_out = int(intr.sum()), int((~intr).sum())
    if n_in < 3:
        return (
            "skip",
            f"Insufficient in-transit data points ({n_in}). Check transit_params or time coverage.",
        )
    if n_out < 3:
        return (
            "skip",
            f"Insufficient out-of-transit data points ({n_out}). Check transit_params or time coverage.",
        )
    idx = np.flatnonzero(intr)
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > 10) + 1)
    epochs = [(t[g[g.size // 2]], g) for g in groups if g.size]
    yy, xx = np.mgrid[:nr, :nc]
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    inner = max(max(radii) + 1.0, 4.0)
    outer = inner + 2.0
    fit = min(cy, cx, nr - 1 - cy, nc - 1 - cx)
    if outer > fit:
        outer = fit
        inner = max(outer - 2.0, max(radii) + 0.5)
    ann = (d2 > inner**2) & (d2 <= outer**2)
    n_bg = int(ann.sum())
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bg = np.array([np.nanmedian(f[ann]) for f in cube]) if n_bg >= 3 else np.zeros(n)
            out = _v10_depths(cube, t, intr, epochs, d2, radii, bg)
    depths, drift, fallback = out
    if len(depths) < 2:
        return ("skip", "Could not compute depths for at least 2 apertures. Check input data and parameters.")
    vals = np.array(list(depths.values()))
    fin = vals[np.isfinite(vals)]
    if len(fin) < 2:
        stab = 1.0
    elif np.mean(fin) == 0:
        stab = 1.0 if np.std(fin) < 1e-10 else 0.0
    else:
        stab = float(np.clip(np.exp(-np.std(fin) / abs(np.mean(fin)) * 1.4), 0, 1))
    keys = list(depths)
    if stab > 0.7:
        rec = sorted(keys)[len(keys) // 2]
    else:
        rec = keys[int(np.argmin(np.abs(vals - np.median(vals))))]
    small, large = depths[min(keys)], depths[max(keys)]
    rd = drift.get(rec)
    rd = rd if rd is not None and np.isfinite(rd) else None
    flags = []
    if n < len(time):
        flags.append("dropped_invalid_cadences")
    if len(epochs) < 2:
        flags.append("low_n_transit_epochs")
    if n_in < 20:
        flags.append("low_n_in_transit_cadences")
    if n_bg < 3:
        flags.append("no_background_subtraction")
    elif n_bg < 10:
        flags.append("background_annulus_small")
    if any(v < 0 for v in vals):
        flags.append("negative_depths_present")
    if fallback:
        flags.append("sector_fallback_used")
    if rd is not None and abs(rd) >= 0.01:
        flags.append("high_out_of_transit_drift_recommended_aperture")
    return dict(
        depths=depths,
        stability_metric=stab,
        depth_variance_ppm2=float(np.var(vals)),
        recommended_aperture_pixels=float(rec),
        depth_ppm_aperture_min=small,
        depth_ppm_aperture_max=large,
        aperture_depth_sign_flip=bool(np.isfinite(small) and np.isfinite(large) and small * large < 0),
        n_in_transit_cadences=n_in,
        n_out_of_transit_cadences=n_out,
        n_transit_epochs=len(epochs),
        n_background_pixels=n_bg,
        drift_fraction_recommended=rd,
        flags=flags,
    )


def _v10_depths(cube, t, intr, epochs, d2, radii, bg):
    depths, drift, fallback = {}, {}, False
    mid = np.nanmedian(t)
    for r in radii:
        ap = d2 <= r**2
        raw = np.nansum(cube[:, ap], axis=1)
        sub = raw - bg * ap.sum()
        per = []
        for te, g in epochs:
            loc = (np.abs(t - te) <= 0.5) & ~intr
            if loc.sum() < 5:
                continue
            x = sub if np.nanmedian(sub[loc]) > 0 else raw
            lo, im = np.nanmedian(x[loc]), np.nanmedian(x[g])
            if lo > 0:
                per.append((1 - im / lo) * 1e6)
        if per:
            depths[r] = float(np.mean(per))
        else:
            fallback = True
            mo = np.nanmedian(sub[~intr])
            if mo > 0:
                z = sub / mo
            elif np.nanmedian(raw[~intr]) > 0:
                z = raw / np.nanmedian(raw[~intr])
            else:
                z = None
            if z is not None and np.nanmean(z[~intr]) != 0:
                depths[r] = float((1 - np.nanmean(z[intr]) / np.nanmean(z[~intr])) * 1e6)
        e = np.nanmedian(sub[~intr & (t < mid)])
        la = np.nanmedian(sub[~intr & (t >= mid)])
        drift[r] = (la - e) / e if e != 0 else np.nan
    return depths, drift, fallback


def v20(time, flux, aperture, period, t0, duration_hours, annulus=(3, 6), prf_sigma=1.0):
    """The reference's V20 features of the valid cadences (None when a set is empty)."""
    m = _valid(time, flux)
    cube, t = flux[m], time[m]
    ph = ((t - t0) % period) / period
    ph = np.where(ph > 0.5, ph - 1.0, ph)
    intr = np.abs(ph) <= (duration_hours / 24.0 / 2) / period
    if not intr.any() or intr.all():
        return None
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        diff = np.nanmedian(cube[~intr], axis=0) - np.nanmedian(cube[intr], axis=0)
        return dict(_image_features(diff, aperture, annulus, prf_sigma), diff=diff, n_in=int(intr.sum()))


def _image_features(diff, ap, annulus, prf_sigma):
    nr, nc = diff.shape
    yy, xx = np.mgrid[:nr, :nc]
    dist = np.sqrt((yy - nr // 2) ** 2 + (xx - nc // 2) ** 2)
    ann = (dist >= annulus[0]) & (dist < annulus[1]) & ~ap
    d_in = float(np.nanmean(diff[ap])) if ap.any() else 0.0
    if ann.any():
        d_out = float(np.nanmean(diff[ann]))
    else:
        d_out = float(np.nanmean(diff[~ap])) if (~ap).any() else 0.0
    if abs(d_out) < 1e-10:
        c = 1.0 if abs(d_in) < 1e-10 else (np.inf if d_in > 0 else -np.inf)
    else:
        c = d_in / d_out
    # uniformity
    a = diff[ap]
    if a.size < 2:
        u = 0.5
    else:
        mu, sd = np.nanmean(a), np.nanstd(a)
        if abs(mu) < 1e-10:
            rng = np.nanmax(diff) - np.nanmin(diff)
            u = 1.0 if rng < 1e-10 else float(np.clip(1 / (1 + sd / rng), 0, 1))
        else:
            u = float(np.clip(1 / (1 + sd / abs(mu)), 0, 1))
    g = np.exp(-((yy - nr / 2) ** 2 + (xx - nc / 2) ** 2) / (2 * prf_sigma**2))
    g = g / g.sum()
    dn, pn = diff - np.nanmean(diff), g - g.mean()
    ds, ps = np.nanstd(dn), np.nanstd(pn)
    prf = (
        0.5 if (ds < 1e-10 or ps < 1e-10) else float(np.clip((np.nanmean(dn * pn) / (ds * ps) + 1) / 2, 0, 1))
    )
    gr, gc = np.zeros_like(diff), np.zeros_like(diff)
    gr[1:-1] = (diff[2:] - diff[:-2]) / 2
    gc[:, 1:-1] = (diff[:, 2:] - diff[:, :-2]) / 2
    gm = np.hypot(gr, gc)
    w = max(1, min(nr, nc) // 4)
    edge = np.zeros_like(ap)
    edge[:w], edge[-w:], edge[:, :w], edge[:, -w:] = True, True, True, True
    e = np.nanmean(gm[edge])
    ce = np.nanmean(gm[~edge]) if (~edge).any() else 0.0
    strength = 0.0 if e + ce < 1e-10 else e / (e + ce)
    ok = ~np.isnan(diff)
    A = np.column_stack([yy[ok], xx[ok], np.ones(ok.sum())]).astype(float)
    (sa, sb, _), *_ = np.linalg.lstsq(A, diff[ok], rcond=None)
    trend = float(np.hypot(sa, sb))
    if np.nanstd(diff) > 1e-10:
        trend /= np.nanstd(diff)
    cs = 1.0 if c <= 0 else (0.0 if c >= 10 else float(np.clip(1 - np.log10(max(c, 0.1)), 0, 1)))
    return dict(
        ghost_like_score=float(np.clip(0.4 * u + 0.4 * (1 - prf) + 0.2 * cs, 0, 1)),
        scattered_light_risk=float(
            np.clip(0.5 * strength + 0.5 * np.clip(1 - np.exp(-2 * trend), 0, 1), 0, 1)
        ),
        aperture_contrast=float(c),
        spatial_uniformity=u,
        prf_likeness=prf,
        edge_gradient_strength=float(strength),
        background_trend=trend,
        in_aperture_depth=d_in,
        out_aperture_depth=d_out,
        aperture_pixels_used=int(ap.sum()),
    )
