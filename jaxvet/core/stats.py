"""Masked statistics over padded arrays, matching numpy's definitions.

Every function reduces along the last axis, takes a boolean mask of valid entries (positional
``mask`` or keyword ``where=``), and broadcasts over any leading (batch) axes, so it can be used
directly on ``(candidates, epochs, window)`` arrays or under ``vmap``.  Padding *values* never
leak: they are replaced before any arithmetic.  An empty selection gives NaN (and a count of 0)
rather than an error.

Order statistics (median, MAD, robust std, percentiles, :func:`median_excluding`, the float
sort key) live in :mod:`jaxvet.core.order_stats` and are re-exported here; the red-noise
estimators live in :mod:`jaxvet.core.noise`.  This module adds the moments:

* :func:`masked_mean`, :func:`masked_std` (two-pass, numpy ``ddof``), :func:`weighted_mean`;
* :func:`chi2_sf`: chi-square survival function, ``Q(dof/2, x/2)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.order_stats import (
    MAD_TO_SIGMA,
    from_order_key,
    masked_count,
    masked_kth,
    masked_mad,
    masked_median,
    masked_order_statistic,
    masked_percentile,
    masked_sorted,
    median_excluding,
    order_key,
    robust_std,
)

__all__ = [
    "MAD_TO_SIGMA",
    "order_key",
    "from_order_key",
    "masked_count",
    "masked_sum",
    "masked_mean",
    "masked_std",
    "masked_median",
    "masked_sorted",
    "masked_order_statistic",
    "masked_kth",
    "masked_percentile",
    "masked_mad",
    "robust_std",
    "weighted_mean",
    "median_excluding",
    "chi2_sf",
]


def _mask(x, mask, where):
    m = where if mask is None else mask
    return jnp.ones(jnp.shape(x), bool) if m is None else m


def masked_sum(x, mask=None, axis=-1, *, where=None):
    """Sum of the valid entries."""
    return jnp.sum(jnp.where(_mask(x, mask, where), x, 0.0), axis=axis)


def masked_mean(x, mask=None, axis=-1, *, where=None):
    """Mean of the valid entries (NaN when there are none)."""
    m = _mask(x, mask, where)
    n = masked_count(m, axis)
    s = masked_sum(x, m, axis)
    return jnp.where(n > 0, s / jnp.maximum(n, 1), jnp.nan)


def masked_std(x, mask=None, axis=-1, ddof: int = 0, *, where=None):
    """Two-pass standard deviation (numpy ``std(ddof=ddof)``); NaN if count <= ddof."""
    m = _mask(x, mask, where)
    n = masked_count(m, axis)
    mu = masked_mean(x, m, axis)
    d = jnp.where(m, x - jnp.expand_dims(mu, axis), 0.0)
    ss = jnp.sum(d * d, axis=axis)
    return jnp.where(n > ddof, jnp.sqrt(ss / jnp.maximum(n - ddof, 1)), jnp.nan)


def weighted_mean(x, w, mask=None, *, where=None):
    """sum(w x)/sum(w) over valid entries; NaN when the weight sum is not positive."""
    m = _mask(x, mask, where)
    w = jnp.where(m, w, 0.0)
    sw = jnp.sum(w, axis=-1)
    s = jnp.sum(w * jnp.where(m, x, 0.0), axis=-1)
    return jnp.where(sw > 0, s / jnp.where(sw > 0, sw, 1.0), jnp.nan)


def chi2_sf(x, dof):
    """Chi-square survival function P(X > x) for ``dof`` degrees of freedom (1.0 for dof <= 0)."""
    dof = jnp.asarray(dof, dtype=jnp.float64)
    safe = jnp.maximum(dof, 1.0)
    p = jax.scipy.special.gammaincc(safe / 2.0, jnp.maximum(x, 0.0) / 2.0)
    return jnp.where(dof > 0, p, 1.0)
