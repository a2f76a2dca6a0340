"""Simulated TESS light curves with known truth (numpy, host side, seeded).

* :func:`simulate_lightcurve` -- a multi-sector 2-min (or other cadence) TESS-like light curve:
  two ~13-day orbits per sector with the mid-sector downlink gap, white noise plus correlated
  (red) noise made by smoothing white noise with a Gaussian kernel of a given timescale, and a
  slow sinusoidal stellar variability term if asked.
* :func:`inject_transits` -- multiply in a symmetric trapezoid transit train (Seager &
  Mallen-Ornelas 2003 shape parameters: total duration T, flat fraction F/T), integrated over
  the exposure by supersampling, with optional odd/even depth ratio (an eclipsing binary at
  twice the period), per-epoch depth scatter and a secondary eclipse at phase 0.5.

The device-side (batched JAX) models used by fits and injection campaigns live in
:mod:`jaxvet.core.models`; this module builds test and demo data.
"""

from __future__ import annotations

import numpy as np

from jaxvet.core.models import trapezoid_profile
from jaxvet.data import LightCurve
from jaxvet.errors import JaxvetInputError

__all__ = ["simulate_lightcurve", "inject_transits", "trapezoid_profile", "SECTOR_DAYS"]

#: TESS sector length (two spacecraft orbits), days
SECTOR_DAYS = 27.4


def _red_noise(rng, n, dt_days, sigma, timescale_days):
    if sigma <= 0 or n == 0:
        return np.zeros(n)
    width = max(timescale_days / dt_days, 1.0)
    half = int(np.ceil(4 * width))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / width) ** 2)
    k /= np.sqrt(np.sum(k**2))
    white = rng.standard_normal(n + 2 * half)
    return sigma * np.convolve(white, k, mode="valid")[:n]


def simulate_lightcurve(
    seed: int = 0,
    *,
    sectors=(1, 2),
    t_start: float = 2000.0,
    cadence_min: float = 2.0,
    white_ppm: float = 250.0,
    red_ppm: float = 0.0,
    red_timescale_hours: float = 6.0,
    variability_ppm: float = 0.0,
    variability_period_days: float = 5.0,
    orbit_gap_days: float = 1.0,
    sector_days: float = SECTOR_DAYS,
    target: str = "SIM",
) -> LightCurve:
    """A flat, normalised TESS-like light curve with noise and gaps (no transits).

    Sector ``s`` starts at ``t_start + (s - sectors[0]) * sector_days``; each sector has two
    orbits separated by an ``orbit_gap_days`` downlink gap.  ``flux_err`` is the white-noise
    level.  Same seed, same light curve.
    """
    if cadence_min <= 0:
        raise JaxvetInputError(f"cadence_min must be positive, got {cadence_min!r}")
    rng = np.random.default_rng(seed)
    dt = cadence_min / 1440.0
    times, secs = [], []
    for s in sectors:
        start = t_start + (int(s) - int(sectors[0])) * sector_days
        orbit = (sector_days - orbit_gap_days) / 2.0
        t1 = np.arange(start, start + orbit, dt)
        t2 = np.arange(start + orbit + orbit_gap_days, start + sector_days - 0.05, dt)
        t = np.concatenate([t1, t2])
        times.append(t)
        secs.append(np.full(t.size, int(s), np.int32))
    time = np.concatenate(times)
    n = time.size
    flux = 1.0 + white_ppm * 1e-6 * rng.standard_normal(n)
    flux += _red_noise(rng, n, dt, red_ppm * 1e-6, red_timescale_hours / 24.0)
    if variability_ppm > 0:
        flux += (
            variability_ppm * 1e-6 * np.sin(2 * np.pi * time / variability_period_days + rng.uniform(0, 6.3))
        )
    err = np.full(n, max(white_ppm, 1e-3) * 1e-6)
    return LightCurve(
        time=time,
        flux=flux,
        flux_err=err,
        quality=np.zeros(n, np.int32),
        sector=np.concatenate(secs),
        target=target,
        source=f"simulated(seed={seed})",
    )


def inject_transits(
    lc: LightCurve,
    period_days: float,
    t0_btjd: float,
    duration_hours: float,
    depth_ppm: float,
    *,
    tflat_ratio: float = 0.7,
    odd_even_ratio: float = 1.0,
    secondary_depth_ppm: float = 0.0,
    depth_scatter: float = 0.0,
    epoch_depth_factors=None,
    exposure_min: float | None = None,
    supersample: int = 5,
    seed: int = 0,
) -> LightCurve:
    """Return ``lc`` with a trapezoid transit train multiplied into its flux.

    * ``odd_even_ratio``: odd epochs (``round((t - t0)/P)`` odd) have ``depth * ratio`` -- an
      eclipsing binary at twice the period.
    * ``depth_scatter``: fractional Gaussian scatter of the per-epoch depth (seeded).
    * ``epoch_depth_factors``: optional mapping ``epoch -> factor`` (e.g. one outlier epoch).
    * ``secondary_depth_ppm``: a box-shaped secondary eclipse of the same duration at phase 0.5.
    * ``exposure_min``: integrate over the exposure (default: the median cadence) by averaging
      ``supersample`` sub-exposures.
    """
    if period_days <= 0 or duration_hours <= 0:
        raise JaxvetInputError(
            f"period_days and duration_hours must be positive, got {period_days!r}, {duration_hours!r}"
        )
    rng = np.random.default_rng(seed)
    t = lc.time
    finite = np.isfinite(t)
    if exposure_min is None:
        d = np.diff(t[finite])
        exposure = float(np.median(d)) if d.size else 0.0
    else:
        exposure = exposure_min / 1440.0
    nsub = max(int(supersample), 1) if exposure > 0 else 1
    offs = (np.arange(nsub) + 0.5) / nsub - 0.5
    ts = t[:, None] + offs[None, :] * exposure  # (N, nsub)
    dur = duration_hours / 24.0
    epoch = np.round((ts - t0_btjd) / period_days)
    dt = ts - (t0_btjd + epoch * period_days)
    ep_all = np.unique(epoch[np.isfinite(epoch)]).astype(np.int64)
    factors = {int(e): 1.0 for e in ep_all}
    if depth_scatter > 0:
        for e, f in zip(ep_all, 1.0 + depth_scatter * rng.standard_normal(ep_all.size), strict=True):
            factors[int(e)] = f
    if epoch_depth_factors:
        for e, f in dict(epoch_depth_factors).items():
            factors[int(e)] = factors.get(int(e), 1.0) * float(f)
    fin_ep = np.isfinite(epoch)
    uniq, inv = np.unique(np.where(fin_ep, epoch, 0.0), return_inverse=True)
    fac = np.array([factors.get(int(e), 1.0) for e in uniq])[inv].reshape(epoch.shape)
    fac = np.where(fin_ep, fac, 1.0)
    odd = np.mod(epoch, 2) == 1
    depth = depth_ppm * 1e-6 * fac * np.where(odd, odd_even_ratio, 1.0)
    model = 1.0 - depth * np.asarray(trapezoid_profile(dt, dur, tflat_ratio))
    if secondary_depth_ppm:
        ph2 = np.mod((ts - t0_btjd) / period_days - 0.5 + 0.5, 1.0) - 0.5
        model -= secondary_depth_ppm * 1e-6 * (np.abs(ph2 * period_days) < dur / 2.0)
    model = model.mean(axis=1)
    return LightCurve(
        time=lc.time,
        flux=lc.flux * np.where(finite, model, 1.0),
        flux_err=lc.flux_err,
        quality=lc.quality,
        sector=lc.sector,
        target=lc.target,
        source=lc.source,
        quality_bitmask=lc.quality_bitmask,
    )
