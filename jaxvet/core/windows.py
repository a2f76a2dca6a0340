"""Per-epoch windows: one epoch plan and one gather, for per-epoch rows and packed rows.

*Work where the signal is*: a check reads only the points within a half-width of each transit
centre.  :func:`plan_windows` enumerates, for every candidate, the transit epochs whose
``[t_c - plan_hw, t_c + plan_hw]`` meets one of the light curve's contiguous data segments (no
sweep over the whole light curve per candidate) and locates each window ``|t - t_c| <= hw`` by a
batched binary search: a host plan of B x E integers (epoch, first point, count).  The points
are then gathered by :func:`gather_points` into either layout:

* per-epoch rows, ``(candidates, epochs, window)`` (:func:`epoch_windows`; V08/V09), or
  flattened ``(candidate x epoch, window)`` rows (V01/V04's per-epoch kernel);
* packed rows, all windows of a candidate concatenated in one padded row ``(candidates, M)``
  (:func:`gather_packed`, :func:`map_packed`; V05 and the per-sector depths).

Block sizes are bucketed to powers of two (few compiled shapes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.order_stats import batched_searchsorted
from jaxvet.data import CandidateBatch, LightCurveBatch, bucket_size
from jaxvet.engine.chunks import map_groups, rows_per_chunk

__all__ = [
    "EpochWindows",
    "epoch_windows",
    "WindowPlan",
    "plan_windows",
    "plan_windows_on_device",
    "gather_points",
    "PackedWindows",
    "gather_packed",
    "map_packed",
]


def gather_points(time, flux, flux_err, flat_idx, mask, tc):
    """Points ``flat_idx`` of the flattened light-curve rows (``time``/``flux``/``flux_err`` are
    (L*N,)); padding slots (``mask`` False) get the window centre ``tc`` as time (so downstream
    arithmetic stays NaN-free) and 0 as flux and error.  Returns ``(time, flux, flux_err)``."""
    idx = jnp.where(mask, flat_idx, 0)
    return (
        jnp.where(mask, time[idx], tc),
        jnp.where(mask, flux[idx], 0.0),
        jnp.where(mask, flux_err[idx], 0.0),
    )


def _flat(lcb: LightCurveBatch):
    return lcb.time.reshape(-1), lcb.flux.reshape(-1), lcb.flux_err.reshape(-1)


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
    mask = w < count[..., None]
    idx = jnp.where(mask, start[..., None] + w, 0)
    flat_idx = (cb.lc_index * n)[:, None, None] + idx
    time, flux, err = gather_points(*_flat(lcb), flat_idx, mask, tc[..., None])
    return idx, mask, time, flux, err


def _half_widths(cb: CandidateBatch, half_width, plan_half_width):
    hw = jnp.broadcast_to(jnp.asarray(half_width, jnp.float64), (cb.size,))
    if plan_half_width is None:
        return hw, hw
    return hw, jnp.broadcast_to(jnp.asarray(plan_half_width, jnp.float64), (cb.size,))


def _plan_epochs(lcb, cb, phw, min_epochs: int):
    """The epoch plan with a bucketed epoch axis (one host sync for its size)."""
    _, _, total = _plan(lcb, cb, phw, max_epochs=bucket_size(min_epochs, min_epochs))
    e = bucket_size(int(np.max(np.asarray(total), initial=0)), min_epochs)
    return _plan(lcb, cb, phw, max_epochs=e)


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
    hw, phw = _half_widths(cb, half_width, plan_half_width)
    epoch, valid, _ = _plan_epochs(lcb, cb, phw, min_epochs)
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


@dataclass(frozen=True)
class WindowPlan:
    """Host-side plan of per-epoch windows for B candidates (see :func:`plan_windows`)."""

    epoch: np.ndarray  # (B, E) epoch numbers
    valid: np.ndarray  # (B, E)
    start: np.ndarray  # (B, E) first point of each window in its light-curve row
    count: np.ndarray  # (B, E) points per window
    n_epochs: np.ndarray  # (B,) planned epochs per candidate
    max_count: np.ndarray  # (B,) largest window per candidate


def plan_windows(lcb: LightCurveBatch, cb: CandidateBatch, half_width, *, plan_half_width=None) -> WindowPlan:
    """Epochs and window bounds for every candidate (cheap: B x E integers, no point data)."""
    hw, phw = _half_widths(cb, half_width, plan_half_width)
    epoch, valid, total = _plan_epochs(lcb, cb, phw, 4)
    _, start, count = _bounds(lcb, cb, epoch, valid, hw)
    epoch, valid, start, count, total = jax.device_get((epoch, valid, start, count, total))  # one copy
    return WindowPlan(
        epoch=np.asarray(epoch),
        valid=np.asarray(valid),
        start=np.asarray(start),
        count=np.asarray(count),
        n_epochs=np.asarray(total),
        max_count=np.asarray(count).max(axis=1, initial=0),
    )


def plan_windows_on_device(
    lcb: LightCurveBatch, cb: CandidateBatch, half_width, *, plan_half_width=None, max_epochs: int
):
    """:func:`plan_windows` left on the device: ``(epoch, valid, start, count)``, (B, E) each.

    ``max_epochs`` (E) is the caller's upper bound on any candidate's planned epochs (a host
    estimate from the data segments), so nothing is copied to the host; the slots beyond a
    candidate's epochs are invalid (epoch 0, count 0).
    """
    hw, phw = _half_widths(cb, half_width, plan_half_width)
    epoch, valid, _ = _plan(lcb, cb, phw, max_epochs=int(max_epochs))
    _, start, count = _bounds(lcb, cb, epoch, valid, hw)
    return epoch, valid, start, count


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PackedWindows:
    """All epoch windows of a candidate concatenated into one padded row (B x M).

    The "packed + segment" layout: one bucketed dimension ``M`` (total window points) instead of
    ``E x W``, so a campaign compiles a few programs; ``slot`` is each point's epoch slot (E on
    padding) for segment reductions and ``epoch`` its epoch number.
    """

    index: jax.Array  # (B, M) int32 position in the light-curve row
    mask: jax.Array  # (B, M) bool
    slot: jax.Array  # (B, M) int32 epoch slot, E on padding
    epoch: jax.Array  # (B, M) float64 epoch number
    time: jax.Array  # (B, M)
    flux: jax.Array  # (B, M)
    flux_err: jax.Array  # (B, M)


@partial(jax.jit, static_argnames=("width",))
def gather_packed(lcb: LightCurveBatch, cb: CandidateBatch, epoch, start, count, *, width: int):
    n = lcb.time.shape[1]
    e = epoch.shape[1]
    cum = jnp.cumsum(count, axis=1)
    j = jnp.arange(width, dtype=jnp.int32)
    slot = jax.vmap(lambda c: jnp.searchsorted(c, j, side="right"))(cum).astype(jnp.int32)
    mask = (slot < e) & (j[None, :] < cum[:, -1:]) & cb.valid[:, None]
    slot_c = jnp.clip(slot, 0, e - 1)
    prev = jnp.take_along_axis(cum - count, slot_c, axis=1)
    idx = jnp.take_along_axis(start, slot_c, axis=1) + (j[None, :] - prev)
    idx = jnp.where(mask, idx, 0).astype(jnp.int32)
    ep = jnp.take_along_axis(epoch, slot_c, axis=1)
    tc = cb.t0[:, None] + ep * cb.period[:, None]
    time, flux, err = gather_points(*_flat(lcb), cb.lc_index[:, None] * n + idx, mask, tc)
    return PackedWindows(
        index=idx,
        mask=mask,
        slot=jnp.where(mask, slot, e).astype(jnp.int32),
        epoch=ep,
        time=time,
        flux=flux,
        flux_err=err,
    )


def _ladder_sizes(n: np.ndarray, minimum: int, factor: int) -> np.ndarray:
    """For each entry of ``n``, the smallest ``minimum * factor**k >= n`` (a coarse shape ladder:
    fewer programs to compile); one vector step per rung."""
    size = np.full(n.shape, minimum, dtype=np.int64)
    while np.any(short := size < n):
        size = np.where(short, size * factor, size)
    return size


@partial(jax.jit, static_argnums=(0,), static_argnames=("width",))
def _packed_apply(fn, lcb, cb, epoch, start, count, args, *, width: int):
    """The gather and ``fn`` in one program (one compilation per chunk shape, not two)."""
    return fn(lcb, cb, gather_packed(lcb, cb, epoch, start, count, width=width), *args)


def map_packed(fn, lcb: LightCurveBatch, cb: CandidateBatch, half_width, *, args=(), plan_half_width=None,
               min_points: int = 256, ladder: int = 2):
    """Apply ``fn(lcb, cb_chunk, packed_windows, *args) -> pytree of (B_chunk, ...)`` in bounded
    memory; returns the pytree of device arrays with leading size ``cb.size``.

    ``fn`` must be traceable by JAX and hashable (a module-level function): it is compiled
    together with the gather, once per chunk shape; ``args`` is a pytree of arrays passed through.
    Candidates are grouped by a coarse bucket of their total window points ``M`` (``min_points``
    times powers of ``ladder``) and split into chunks of :func:`jaxvet.engine.chunks.rows_per_chunk`
    rows of ``M`` points (one chunk shape per bucket).  Every chunk is dispatched before any is
    waited for; the results are joined on the device (:func:`jaxvet.engine.chunks.map_groups`).
    """
    hw, phw = _half_widths(cb, half_width, plan_half_width)
    plan = plan_windows(lcb, cb, hw, plan_half_width=phw)
    total = np.where(plan.valid, plan.count, 0).sum(axis=1)
    mb = _ladder_sizes(np.asarray(total), min_points, ladder)
    groups = []
    for width in sorted(set(mb.tolist())):
        idx_all = np.nonzero(mb == width)[0]
        per = rows_per_chunk(width)
        # one chunk shape per width bucket: full chunks of `per`, or one chunk for a small group
        bpad = min(per, bucket_size(idx_all.size, 1))
        groups += [((width, bpad), idx_all[lo : lo + per]) for lo in range(0, idx_all.size, per)]

    def run(key, idx):
        width, bpad = key
        take = np.concatenate([idx, np.full(bpad - idx.size, idx[0])])
        sub = cb.take(take)
        sub = dataclasses.replace(sub, valid=sub.valid & jnp.asarray(np.arange(bpad) < idx.size))
        count = np.where(plan.valid[take], plan.count[take], 0)
        return _packed_apply(fn, lcb, sub, jnp.asarray(plan.epoch[take]), jnp.asarray(plan.start[take]),
                             jnp.asarray(count, jnp.int32), args, width=width)

    return map_groups(run, groups, cb.size)
