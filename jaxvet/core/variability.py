"""Out-of-transit variability on the transit time scale, relative to the transit depth.

For each candidate row (its light curve, padded, sorted by time) the out-of-transit flux
``x = f / median(f) - 1`` (``|t - t_c| >= half_width`` of every transit centre) is binned at
the transit duration ``D``: bins ``floor((t - t_seg)/D)`` restart at the first point of every
data segment (split at gaps > ``gap_days``), so no bin spans a gap.  Bins with fewer than 3
points or fewer than half a full bin (``D / dt``, ``dt`` the median cadence) are dropped.  With
``s_bin = 1.4826 MAD`` of the bin means, ``sigma_w = 1.4826 MAD(x_{i+1} - x_i) / sqrt(2)`` over
consecutive points of a segment (white noise, insensitive to slow trends) and ``c_j`` the counts,

    sigma_var^2 = max(0, s_bin^2 - sigma_w^2 <1/c_j> (1 + 2 sqrt(2 / n_bins)))

is the variance of duration-long means that white noise does not explain (Pont, Zucker &
Queloz 2006, MNRAS 373, 231, the "red" part of binned residuals), less a two-sigma allowance
for the sampling error of a variance of ``n_bins`` values (Vaughan et al. 2003, MNRAS 345,
1271).  ``ratio = sigma_var / depth`` with ``depth`` given (fractional, NaN = unknown) or else
measured locally: the mean of ``b_i - x_i`` over the points within ``D/4`` of a transit centre,
with ``b_i`` the mean of the two out-of-transit bins just before and after the point's transit
(so a stellar wave does not bias it).  Without a positive depth the ratio is +inf when
``sigma_var > 0`` (any variability is large against no depth) and NaN otherwise; ``flag`` is
``ratio > threshold``; a candidate with ``D >= P/2`` (the engine's guard) gets a NaN ratio and
no flag.

Cost: the median flux, ``sigma_w`` and ``dt`` are per light curve (:func:`lightcurve_scales`,
three sorts of a row); per candidate there are O(N) scans and two sorts of the ``max_bins``
bin means (``max_bins`` static, from :func:`max_bins`).  ``threshold`` is traced.  This is the
definition; :func:`jaxvet.detrending.assess_variability` computes the same result from prefix sums
without a pass over the light curve per candidate (:mod:`jaxvet.core.variability_prefix`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.detrend import segment_bounds
from jaxvet.core.ephemeris import duration_too_long, phase_centered
from jaxvet.core.order_stats import masked_count, masked_median, robust_std
from jaxvet.data import bucket_size

__all__ = ["oot_variability", "lightcurve_scales", "max_bins", "SEGMENT_GAP_DAYS"]

#: bins restart after gaps longer than this (the engine's segment gap, LightCurveBatch)
SEGMENT_GAP_DAYS = 0.25
_BIN_BITS = 32


def lightcurve_scales(time, flux, valid, gap=SEGMENT_GAP_DAYS):
    """Per light-curve row (L, N): ``(median flux, sigma_w of f/median - 1, median cadence)``."""
    med = masked_median(flux, where=valid)
    x = flux / med[:, None] - 1.0
    seg_lo, _ = segment_bounds(time, jnp.full(time.shape[:1], gap))
    pair = valid[:, 1:] & valid[:, :-1] & (seg_lo[:, 1:] == seg_lo[:, :-1])
    sigma_w = robust_std(x[:, 1:] - x[:, :-1], where=pair) / jnp.sqrt(2.0)
    dt = masked_median(time[:, 1:] - time[:, :-1], where=pair)
    return med, sigma_w, dt


def max_bins(seg_lo: np.ndarray, seg_hi: np.ndarray, duration_days: np.ndarray) -> int:
    """Static bin capacity: the most duration-wide bins any candidate's segments need (host;
    ``seg_lo``/``seg_hi`` (B, G) the segments of each candidate's light curve, as
    :class:`~jaxvet.data.LightCurveBatch`)."""
    span = np.where(seg_hi >= seg_lo, seg_hi - seg_lo, -1.0)
    per = np.where(span >= 0, np.floor(span / duration_days[:, None]) + 1, 0).sum(axis=1)
    return bucket_size(int(per.max()) if per.size else 1, 16)


def _one(t, f, m, med, sigma_w, dt, period, t0, duration, half_width, depth, threshold, gap, nb_max):
    dist = jnp.abs(phase_centered(t, t0, period) * period)
    oot = m & (dist >= half_width)
    x = f / med - 1.0
    seg_lo = segment_bounds(t[None, :], jnp.full((1,), gap))[0][0]
    b = jnp.floor((t - t[seg_lo]) / duration)
    b = jnp.clip(jnp.where(jnp.isfinite(b), b, 0), 0, (1 << _BIN_BITS) - 1).astype(jnp.int64)
    key = (seg_lo.astype(jnp.int64) << _BIN_BITS) | b
    seen = jax.lax.cummax(jnp.where(oot, key, -1))
    prev = jnp.concatenate([jnp.full((1,), -1, key.dtype), seen[:-1]])
    new = oot & (key != prev)
    rank = jnp.where(oot, jnp.cumsum(new) - 1, nb_max).astype(jnp.int32)
    rank = jnp.minimum(rank, nb_max)
    cnt = jax.ops.segment_sum(oot.astype(f.dtype), rank, num_segments=nb_max + 1)[:nb_max]
    sm = jax.ops.segment_sum(jnp.where(oot, x, 0.0), rank, num_segments=nb_max + 1)[:nb_max]
    every = sm / jnp.maximum(cnt, 1.0)
    n_bins, sigma_var = binned_variability(every, cnt, duration, dt, sigma_w)
    # measured depth: the central half of each transit against the mean of the two bins next to it
    before = jax.lax.cummax(jnp.where(oot, rank, -1))
    after = jax.lax.cummin(jnp.where(oot, rank, nb_max), reverse=True)
    has_b, has_a = before >= 0, after < jnp.minimum(jnp.sum(new), nb_max)
    m_b = jnp.where(has_b, every[jnp.clip(before, 0, nb_max - 1)], 0.0)
    m_a = jnp.where(has_a, every[jnp.clip(after, 0, nb_max - 1)], 0.0)
    nside = has_b.astype(f.dtype) + has_a.astype(f.dtype)
    core = m & (dist < 0.25 * duration) & (nside > 0)
    local = (m_b + m_a) / jnp.maximum(nside, 1.0) - x
    n_core = jnp.sum(core)
    measured = jnp.where(n_core > 0, jnp.sum(jnp.where(core, local, 0.0)) / jnp.maximum(n_core, 1), jnp.nan)
    return variability_result(sigma_var, sigma_w, n_bins, depth, measured, period, duration, threshold)


def binned_variability(every, cnt, duration, dt, sigma_w):
    """``(n_bins, sigma_var)`` from the out-of-transit bin means ``every`` and counts ``cnt``
    (nb_max,): bins with at least ``max(3, 0.5 duration / dt)`` points are kept, and ``sigma_var``
    is their robust scatter with the white-noise share (``sigma_w^2`` over the mean inverse count,
    inflated by ``1 + 2 sqrt(2 / n_bins)``) removed; NaN with fewer than 3 bins."""
    keep = (cnt >= jnp.maximum(3.0, 0.5 * duration / dt)) & (cnt > 0)
    n_bins = masked_count(keep)
    s_bin = robust_std(every, where=keep)
    inv_c = jnp.sum(jnp.where(keep, 1.0 / jnp.maximum(cnt, 1.0), 0.0)) / jnp.maximum(n_bins, 1)
    nb = jnp.maximum(n_bins, 1).astype(every.dtype)
    white = sigma_w**2 * inv_c * (1.0 + 2.0 * jnp.sqrt(2.0 / nb))
    sigma_var = jnp.where(n_bins >= 3, jnp.sqrt(jnp.maximum(s_bin**2 - white, 0.0)), jnp.nan)
    return n_bins, sigma_var


def variability_result(sigma_var, sigma_w, n_bins, depth, measured, period, duration, threshold):
    """The result dict of one candidate: the depth compared with is the candidate's ``depth``
    when finite, else the ``measured`` one; ``ratio = sigma_var / depth`` (inf when there is no
    positive depth but some variability; NaN for the engine's D >= P/2 guard)."""
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


def oot_variability(
    time,
    flux,
    valid,
    scales,
    period,
    t0,
    duration,
    half_width,
    depth,
    threshold,
    *,
    nb_max: int,
    gap=SEGMENT_GAP_DAYS,
):
    """Variability of each row (module docstring): a dict of (B,) arrays ``sigma_var``,
    ``sigma_white`` (fractional), ``n_bins``, ``depth`` (used, fractional), ``ratio``, ``flag``.

    ``time``, ``flux``, ``valid`` (B, N) rows sorted by time; ``scales`` the rows'
    :func:`lightcurve_scales` (three (B,) arrays); ``period``, ``t0``, ``duration`` and
    ``half_width`` (the excluded half-window around each transit centre) (B,) days; ``depth``
    (B,) fractional or NaN; ``threshold`` a scalar (traced); ``nb_max`` the static bin capacity
    (:func:`max_bins`).  Trace it inside a jit.
    """
    med, sigma_w, dt = scales

    def one(t, f, m, md, sw, d_t, p, t_0, dur, hw, dep):
        return _one(t, f, m, md, sw, d_t, p, t_0, dur, hw, dep, threshold, gap, nb_max)

    return jax.vmap(one)(time, flux, valid, med, sigma_w, dt, period, t0, duration, half_width, depth)
