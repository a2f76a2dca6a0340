"""Ephemeris geometry: phases, epoch numbers, transit masks and per-epoch windows.

Phase conventions differ between the reference's modules, and parity depends on matching each
one (reference semantics §5.1); all are float64 and elementwise:

========================  ====================================  ==============
function                  formula                               range
========================  ====================================  ==============
:func:`phase_fold`        ``((t-t0)/P) mod 1``, >0.5 shifted    (-0.5, 0.5]
:func:`phase_centered`    ``((t-t0)/P + 0.5) mod 1 - 0.5``       [-0.5, 0.5)
:func:`phase_unit`        ``((t-t0)/P) mod 1``                   [0, 1)
:func:`epoch_index`       ``floor((t - t0 + P/2)/P)``            integers
========================  ====================================  ==============

*Work where the signal is*: :func:`epoch_windows` gathers, for every candidate and every
transit epoch that has data, the points within a half-width of the transit centre, as a padded
``(candidates, epochs, window)`` block.  The epochs are enumerated from the light curve's
contiguous data segments (no sweep over the whole light curve per candidate), the windows are
located by a batched binary search, and the block sizes are bucketed to powers of two.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401
from .data import CandidateBatch, LightCurveBatch, bucket_size

__all__ = [
    "phase_fold",
    "phase_centered",
    "phase_unit",
    "epoch_index",
    "in_transit_mask",
    "out_of_transit_mask",
    "phase_distance_in_transit",
    "EpochWindows",
    "epoch_windows",
    "batched_searchsorted",
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


def batched_searchsorted(flat, row_start, row_len, query, side: str = "left", n_iter: int = 32):
    """Binary search of ``query`` in ``flat[row_start : row_start + row_len]`` (each row sorted).

    All arguments broadcast; returns positions *relative to* ``row_start`` in
    ``[0, row_len]``.  A fixed number of gathers (``ceil(log2 N)``), no per-row copies.
    """
    lo = jnp.zeros(jnp.broadcast_shapes(jnp.shape(query), jnp.shape(row_start)), jnp.int32)
    hi = jnp.broadcast_to(row_len, lo.shape).astype(jnp.int32)
    base = jnp.broadcast_to(row_start, lo.shape).astype(jnp.int32)

    def body(_, carry):
        lo, hi = carry
        active = lo < hi
        mid = (lo + hi) // 2
        v = flat[jnp.clip(base + mid, 0, flat.shape[0] - 1)]
        go_right = (v < query) if side == "left" else (v <= query)
        lo = jnp.where(active & go_right, mid + 1, lo)
        hi = jnp.where(active & ~go_right, mid, hi)
        return lo, hi

    lo, _ = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    return lo


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class EpochWindows:
    """Per-candidate, per-epoch windows of points (B candidates x E epochs x W points).

    ``index`` is the position of each window point in its light-curve row (valid points are
    packed first in :class:`~jaxvet.data.LightCurveBatch`); ``mask`` marks real points.
    ``epoch`` holds epoch numbers (float64 integers), ``epoch_valid`` the real epoch slots
    (epochs whose transit window intersects a data segment; they may still hold 0 points).
    """

    epoch: jax.Array  # (B, E)
    epoch_valid: jax.Array  # (B, E) bool
    center: jax.Array  # (B, E) transit mid-times, BTJD
    count: jax.Array  # (B, E) int32 points in window
    index: jax.Array  # (B, E, W) int32
    mask: jax.Array  # (B, E, W) bool
    time: jax.Array  # (B, E, W)
    flux: jax.Array  # (B, E, W)
    flux_err: jax.Array  # (B, E, W)


@partial(jax.jit, static_argnames=("max_epochs",))
def _plan(lcb: LightCurveBatch, cb: CandidateBatch, plan_hw, *, max_epochs: int):
    """Enumerate epochs whose [tc - plan_hw, tc + plan_hw] meets a data segment."""
    lo = lcb.seg_lo[cb.lc_index]  # (B, G)
    hi = lcb.seg_hi[cb.lc_index]
    P = cb.period[:, None]
    t0 = cb.t0[:, None]
    hw = plan_hw[:, None]
    k_lo = jnp.ceil((lo - hw - t0) / P)
    k_hi = jnp.floor((hi + hw - t0) / P)
    real = lo <= hi
    k_lo = jnp.where(real, k_lo, jnp.inf)
    k_hi = jnp.where(real, k_hi, -jnp.inf)
    # de-duplicate epochs shared by neighbouring segments (windows wider than the gap)
    prev_hi = jax.lax.cummax(jnp.concatenate([jnp.full_like(k_hi[:, :1], -jnp.inf), k_hi[:, :-1]], 1), axis=1)
    k_lo = jnp.maximum(k_lo, prev_hi + 1)
    n_g = jnp.where(real, jnp.maximum(k_hi - k_lo + 1, 0), 0).astype(jnp.int32)
    cum = jnp.cumsum(n_g, axis=1)
    total = cum[:, -1]
    j = jnp.arange(max_epochs, dtype=jnp.int32)
    g = jax.vmap(lambda c: jnp.searchsorted(c, j, side="right"))(cum)
    g = jnp.clip(g, 0, n_g.shape[1] - 1)
    prev = jnp.take_along_axis(cum - n_g, g, axis=1)
    k = jnp.take_along_axis(jnp.where(real, k_lo, 0.0), g, axis=1) + (j[None, :] - prev)
    valid = (j[None, :] < total[:, None]) & cb.valid[:, None]
    return jnp.where(valid, k, 0.0), valid, total


@jax.jit
def _bounds(lcb: LightCurveBatch, cb: CandidateBatch, epoch, epoch_valid, half_width):
    n = lcb.time.shape[1]
    flat = lcb.time.reshape(-1)
    tc = cb.t0[:, None] + epoch * cb.period[:, None]
    hw = half_width[:, None]
    row_start = (cb.lc_index * n)[:, None]
    row_len = lcb.n_valid[cb.lc_index][:, None]
    start = batched_searchsorted(flat, row_start, row_len, tc - hw, side="left")
    stop = batched_searchsorted(flat, row_start, row_len, tc + hw, side="right")
    count = jnp.where(epoch_valid, stop - start, 0)
    return tc, start, count


@partial(jax.jit, static_argnames=("width",))
def _gather(lcb: LightCurveBatch, cb: CandidateBatch, tc, start, count, *, width: int):
    n = lcb.time.shape[1]
    w = jnp.arange(width, dtype=jnp.int32)
    idx = start[..., None] + w
    mask = w < count[..., None]
    idx = jnp.where(mask, idx, 0)
    flat_idx = (cb.lc_index * n)[:, None, None] + idx
    take = lambda a: jnp.where(mask, a.reshape(-1)[flat_idx], 0.0)  # noqa: E731
    # padding slots get the (finite) window centre so downstream arithmetic stays NaN-free
    time = jnp.where(mask, lcb.time.reshape(-1)[flat_idx], tc[..., None])
    return idx, mask, time, take(lcb.flux), take(lcb.flux_err)


def epoch_windows(
    lcb: LightCurveBatch,
    cb: CandidateBatch,
    half_width,
    *,
    plan_half_width=None,
    min_epochs: int = 4,
    min_width: int = 16,
) -> EpochWindows:
    """Gather the points with ``|t - tc| <= half_width`` around every transit epoch with data.

    ``half_width`` (days) is a scalar or a (B,) array.  Epochs are enumerated where
    ``[tc - plan_half_width, tc + plan_half_width]`` intersects a data segment
    (default ``plan_half_width = half_width``); V01/V04 use the transit half-duration so only
    epochs that can hold in-transit points are planned.  The window boundaries are inclusive;
    callers apply their own (strict or inclusive) tests with the exact reference formulas.

    Two scalar host syncs pick the bucketed ``E`` and ``W``; the three kernels are jitted and
    shared by every candidate batch of the same bucket.
    """
    b = cb.size
    hw = jnp.broadcast_to(jnp.asarray(half_width, jnp.float64), (b,))
    phw = hw if plan_half_width is None else jnp.broadcast_to(jnp.asarray(plan_half_width, jnp.float64), (b,))
    # upper bound on epochs: from the segment extents (cheap, on device)
    probe_e = bucket_size(min_epochs, min_epochs)
    _, _, total = _plan(lcb, cb, phw, max_epochs=probe_e)
    e = bucket_size(int(np.max(np.asarray(total), initial=0)), min_epochs)
    epoch, valid, _ = _plan(lcb, cb, phw, max_epochs=e)
    tc, start, count = _bounds(lcb, cb, epoch, valid, hw)
    w = bucket_size(int(np.max(np.asarray(count), initial=0)), min_width)
    idx, mask, time, flux, err = _gather(lcb, cb, tc, start, count, width=w)
    return EpochWindows(
        epoch=epoch,
        epoch_valid=valid,
        center=tc,
        count=count,
        index=idx,
        mask=mask,
        time=time,
        flux=flux,
        flux_err=err,
    )
