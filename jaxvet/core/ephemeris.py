"""Ephemeris geometry: phases, epoch numbers, transit masks and per-epoch windows.

Phase conventions differ between the reference's modules, and parity depends on matching each
one (docs/checks.md); all are float64 and elementwise:

========================  ====================================  ==============
function                  formula                               range
========================  ====================================  ==============
:func:`phase_fold`        ``((t-t0)/P) mod 1``, >0.5 shifted    (-0.5, 0.5]
:func:`phase_centered`    ``((t-t0)/P + 0.5) mod 1 - 0.5``       [-0.5, 0.5)
:func:`phase_unit`        ``((t-t0)/P) mod 1``                   [0, 1)
:func:`epoch_index`       ``floor((t - t0 + P/2)/P)``            integers
:func:`phase_mod`         ``((t - t0) mod P)/P`` (V19)           [0, 1]
:func:`phase_nearest`     ``x - floor(x + 0.5)``, x=(t-t0)/P    [-0.5, 0.5)
========================  ====================================  ==============

Per-epoch windows (the epoch plan and the gathers) live in :mod:`jaxvet.core.windows` and are
re-exported here.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxvet.core.numerics import exact_div, floor_mod
from jaxvet.core.order_stats import batched_searchsorted
from jaxvet.core.windows import (
    EpochWindows,
    PackedWindows,
    WindowPlan,
    epoch_windows,
    gather_packed,
    map_packed,
    plan_windows,
)

__all__ = [
    "phase_fold",
    "gather_packed",
    "phase_centered",
    "phase_unit",
    "phase_mod",
    "phase_nearest",
    "epoch_index",
    "in_transit_mask",
    "out_of_transit_mask",
    "phase_distance_in_transit",
    "duration_too_long",
    "EpochWindows",
    "epoch_windows",
    "batched_searchsorted",
    "WindowPlan",
    "plan_windows",
    "PackedWindows",
    "map_packed",
]


def phase_fold(t, t0, period):
    """Reference ``phase_fold``: ((t - t0)/P) mod 1, values above 0.5 shifted down by 1."""
    ph = jnp.mod((t - t0) / period, 1.0)
    return jnp.where(ph > 0.5, ph - 1.0, ph)


def phase_centered(t, t0, period):
    """((t - t0)/P + 0.5) mod 1 - 0.5, range [-0.5, 0.5) (reference ``get_transit_mask``, V05)."""
    return jnp.mod((t - t0) / period + 0.5, 1.0) - 0.5


def phase_unit(t, t0, period):
    """((t - t0)/P) mod 1 in [0, 1)."""
    return jnp.mod((t - t0) / period, 1.0)


def phase_mod(t, t0, period):
    """``((t - t0) mod P) / P`` (reference V19's fold), bit for bit with numpy: numpy's floor
    modulo (:func:`jaxvet.core.numerics.floor_mod`) and an IEEE division.  Range [0, 1]: the
    division can round a remainder just below P up to 1."""
    x = t - t0
    return exact_div(floor_mod(x, period), period)


def phase_nearest(t, t0, period):
    """``(x - floor(x + 0.5), floor(x + 0.5))`` with ``x = (t - t0)/P``: the phase about the
    nearest transit and that transit's number (reference V16's box templates, V17's smooth
    template).  Not bit-identical to :func:`phase_centered`, which folds with a modulo."""
    x = (t - t0) / period
    n = jnp.floor(x + 0.5)
    return x - n, n


def epoch_index(t, t0, period):
    """Transit epoch number ``floor((t - t0 + P/2)/P)`` (epoch 0 is the transit at t0)."""
    return jnp.floor((t - t0 + period / 2.0) / period)


def in_transit_mask(t, t0, period, duration, buffer_factor=1.0):
    """Reference ``get_in_transit_mask``: ``|phase_fold| < (D/P) * buffer/2`` (strict).

    ``duration`` in days.  Non-finite times are False.
    """
    ph = phase_fold(t, t0, period)
    return jnp.isfinite(t) & (jnp.abs(ph) < (duration / period) * buffer_factor / 2.0)


def out_of_transit_mask(t, t0, period, duration, buffer_factor=2.0):
    """Reference ``get_out_of_transit_mask``: finite and not in-transit with ``buffer_factor``."""
    return jnp.isfinite(t) & ~in_transit_mask(t, t0, period, duration, buffer_factor)


def phase_distance_in_transit(t, t0, period, duration):
    """V01/V04 in-transit test: ``min(phi, 1 - phi) < 0.5 D/P`` with ``phi = phase_unit``."""
    ph = phase_unit(t, t0, period)
    return jnp.minimum(ph, 1.0 - ph) < 0.5 * duration / period


def duration_too_long(period, duration):
    """True where ``D >= P/2`` (days): a transit window and its out-of-transit baseline then
    overlap the neighbouring epochs, so every check treats the candidate as degenerate
    (reference V01's guard, applied by the engine to every check)."""
    return duration >= 0.5 * period
