"""Out-of-transit variability on the transit time scale, relative to the transit depth.

For each row (one candidate's light curve, padded, sorted by time) the out-of-transit flux
``x = f / median(f_oot) - 1`` (``|t - t_c| >= half_width`` of every transit centre) is binned
at the transit duration ``D``: bins ``floor((t - t_seg)/D)`` restart at the first point of
every data segment (split at gaps > ``gap_days``), so no bin spans a gap.  Bins with fewer than
3 points or fewer than half the median count are dropped.  With ``s_bin = 1.4826 MAD`` of the
bin means, ``sigma_w = 1.4826 MAD(x_{i+1} - x_i) / sqrt(2)`` over consecutive out-of-transit
points of a segment (white noise, insensitive to slow trends) and ``c_j`` the counts,

    sigma_var^2 = max(0, s_bin^2 - sigma_w^2 <1/c_j> (1 + 2 sqrt(2 / n_bins)))

is the variance of duration-long means that white noise does not explain (Pont, Zucker &
Queloz 2006, MNRAS 373, 231, the "red" part of binned residuals), less a two-sigma allowance
for the sampling error of a variance of ``n_bins`` values (Vaughan et al. 2003, MNRAS 345,
1271).  ``ratio = sigma_var / depth`` with ``depth`` given (fractional, NaN = unknown) or else
measured locally: ``-median(x_i - b_i)`` over the points within ``D/4`` of a transit centre, with
``b_i`` the mean of the two out-of-transit bins just before and after the point's transit (so a
stellar wave does not bias it).  Without a positive depth the ratio is +inf when
``sigma_var > 0`` (any variability is large against no depth) and NaN otherwise; ``flag`` is
``ratio > threshold``; a candidate with ``D >= P/2`` (the engine's guard) gets a NaN ratio and
no flag.  All rows in one program; ``threshold`` traced.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.detrend import segment_bounds
from jaxvet.core.ephemeris import duration_too_long, phase_centered
from jaxvet.core.order_stats import masked_count, masked_median, robust_std

__all__ = ["oot_variability", "SEGMENT_GAP_DAYS"]

#: bins restart after gaps longer than this (the engine's segment gap, LightCurveBatch)
SEGMENT_GAP_DAYS = 0.25
_BIN_BITS = 32


def _one(t, f, m, period, t0, duration, half_width, depth, threshold, gap):
    n = t.shape[0]
    dist = jnp.abs(phase_centered(t, t0, period) * period)
    oot = m & (dist >= half_width)
    x = f / masked_median(f, where=oot) - 1.0
    seg_lo, _ = segment_bounds(t[None, :], jnp.full((1,), gap))
    seg_lo = seg_lo[0]
    b = jnp.floor((t - t[seg_lo]) / duration)
    b = jnp.clip(jnp.where(jnp.isfinite(b), b, 0), 0, (1 << _BIN_BITS) - 1).astype(jnp.int64)
    key = (seg_lo.astype(jnp.int64) << _BIN_BITS) | b
    seen = jax.lax.cummax(jnp.where(oot, key, -1))
    prev = jnp.concatenate([jnp.full((1,), -1, key.dtype), seen[:-1]])
    new = oot & (key != prev)
    rank = jnp.where(oot, jnp.cumsum(new) - 1, n)
    cnt = jax.ops.segment_sum(oot.astype(f.dtype), rank, num_segments=n + 1)[:n]
    sm = jax.ops.segment_sum(jnp.where(oot, x, 0.0), rank, num_segments=n + 1)[:n]
    real = jnp.arange(n) < jnp.sum(new)
    c_med = masked_median(cnt, where=real)
    keep = real & (cnt >= jnp.maximum(3.0, 0.5 * c_med))
    n_bins = masked_count(keep)
    means = sm / jnp.where(keep, cnt, 1.0)
    s_bin = robust_std(means, where=keep)
    pair = oot[1:] & oot[:-1] & (seg_lo[1:] == seg_lo[:-1])
    sigma_w = robust_std(x[1:] - x[:-1], where=pair) / jnp.sqrt(2.0)
    inv_c = jnp.sum(jnp.where(keep, 1.0 / jnp.where(keep, cnt, 1.0), 0.0)) / jnp.maximum(n_bins, 1)
    nb = jnp.maximum(n_bins, 1).astype(f.dtype)
    white = sigma_w**2 * inv_c * (1.0 + 2.0 * jnp.sqrt(2.0 / nb))
    sigma_var = jnp.where(n_bins >= 3, jnp.sqrt(jnp.maximum(s_bin**2 - white, 0.0)), jnp.nan)
    # measured depth: the central half of each transit against the mean of the two bins next to it
    big = jnp.iinfo(jnp.int32).max
    rank32 = rank.astype(jnp.int32)
    before = jax.lax.cummax(jnp.where(oot, rank32, -1))
    after = jax.lax.cummin(jnp.where(oot, rank32, big), reverse=True)
    has_b, has_a = before >= 0, after < jnp.sum(new)
    every = sm / jnp.maximum(cnt, 1.0)  # every bin's mean, kept or not
    m_b = jnp.where(has_b, every[jnp.clip(before, 0, n - 1)], 0.0)
    m_a = jnp.where(has_a, every[jnp.clip(after, 0, n - 1)], 0.0)
    nside = has_b.astype(f.dtype) + has_a.astype(f.dtype)
    base = (m_b + m_a) / jnp.maximum(nside, 1.0)
    core = m & (dist < 0.25 * duration) & (nside > 0)
    measured = -masked_median(x - base, where=core)
    d = jnp.where(jnp.isfinite(depth), depth, measured)
    # no positive depth to compare with: any variability is large against it
    ratio = jnp.where(d > 0, sigma_var / jnp.where(d > 0, d, 1.0), jnp.where(sigma_var > 0, jnp.inf, jnp.nan))
    ratio = jnp.where(duration_too_long(period, duration), jnp.nan, ratio)  # the engine's guard
    return {
        "sigma_var": sigma_var,
        "sigma_white": sigma_w,
        "n_bins": n_bins,
        "depth": d,
        "ratio": ratio,
        "flag": ratio > threshold,
    }


def oot_variability(time, flux, valid, period, t0, duration, half_width, depth, threshold,
                    gap=SEGMENT_GAP_DAYS):
    """Variability of each row (module docstring): a dict of (B,) arrays ``sigma_var``,
    ``sigma_white`` (fractional), ``n_bins``, ``depth`` (used, fractional), ``ratio``, ``flag``.

    ``time``, ``flux``, ``valid`` (B, N) rows sorted by time; ``period``, ``t0``, ``duration``
    and ``half_width`` (the excluded half-window around each transit centre) (B,) days;
    ``depth`` (B,) fractional or NaN; ``threshold`` a scalar (traced).  Trace it inside a jit.
    """
    fn = jax.vmap(_one, in_axes=(0, 0, 0, 0, 0, 0, 0, 0, None, None))
    return fn(time, flux, valid, period, t0, duration, half_width, depth, threshold, gap)

