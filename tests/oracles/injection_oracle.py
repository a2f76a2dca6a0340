"""Plain-numpy oracle for jaxvet.campaigns.injection, written from the formulas in its docstring.

Nothing here imports jax or jaxvet: the instantaneous trapezoid is integrated over the exposure
numerically (midpoint rule with many sub-exposures), the Seager & Mallen-Ornelas flat fraction,
the in-transit count (``min(phase, 1 - phase) < D/2P``) and the robust scatter
(1.4826 * median |x - median x|) are written out directly.
"""

from __future__ import annotations

import numpy as np


def robust_std(x):
    x = np.asarray(x, float)
    if x.size < 2:
        return 0.0
    return 1.4826 * float(np.median(np.abs(x - np.median(x))))


def tflat_ratio(depth, impact):
    k = np.sqrt(np.clip(depth, 0.0, 1.0))
    num = (1.0 - k) ** 2 - impact**2
    den = (1.0 + k) ** 2 - impact**2
    return np.sqrt(np.maximum(num, 0.0) / np.maximum(den, 1e-12))


def trapezoid_instant(dt, duration, ratio):
    """1 inside the flat part, linear ramps to 0 at +-T/2."""
    u = np.abs(dt)
    half_t = duration / 2.0
    half_f = ratio * half_t
    out = np.zeros_like(u)
    out[u <= half_f] = 1.0
    ramp = (u > half_f) & (u < half_t)
    out[ramp] = (half_t - u[ramp]) / (half_t - half_f)
    return out


def trapezoid_exposure(dt, duration, ratio, exposure, n_sub=2001):
    """Average of the instantaneous trapezoid over [dt - e/2, dt + e/2] (midpoint rule)."""
    dt = np.asarray(dt, float)
    if exposure <= 0:
        return trapezoid_instant(dt, duration, ratio)
    out = np.zeros_like(dt)
    near = np.abs(dt) < duration / 2.0 + exposure  # elsewhere the whole exposure is out of transit
    offs = (np.arange(n_sub) + 0.5) / n_sub - 0.5
    sub = dt[near][:, None] + offs[None, :] * exposure
    out[near] = trapezoid_instant(sub.ravel(), duration, ratio).reshape(sub.shape).mean(axis=1)
    return out


def n_in_transit(time, t0, period, duration):
    ph = np.mod((time - t0) / period, 1.0)
    return int(np.sum(np.minimum(ph, 1.0 - ph) < 0.5 * duration / period))


def injected_flux(time, flux, period, t0, duration, depth, ratio, eb_ratio, sec_ratio, sec_phase, exposure):
    """Base flux times (1 - primary train - secondary train); odd epochs scaled by eb_ratio."""
    time = np.asarray(time, float)
    epoch = np.floor((time - t0 + period / 2.0) / period)
    dt = time - (t0 + epoch * period)
    odd = np.mod(epoch, 2) == 1
    deficit = depth * np.where(odd, eb_ratio, 1.0) * trapezoid_exposure(dt, duration, ratio, exposure)
    if sec_ratio > 0:
        t2 = t0 + sec_phase * period
        e2 = np.floor((time - t2 + period / 2.0) / period)
        dt2 = time - (t2 + e2 * period)
        deficit = deficit + depth * sec_ratio * trapezoid_exposure(dt2, duration, ratio, exposure)
    return flux * (1.0 - deficit)
