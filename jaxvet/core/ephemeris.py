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

import dataclasses
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.data import CandidateBatch, LightCurveBatch, bucket_size

__all__ = [
    "phase_fold",
    "gather_packed",
    "phase_centered",
    "phase_unit",
    "epoch_index",
    "in_transit_mask",
    "out_of_transit_mask",
    "phase_distance_in_transit",
    "EpochWindows",
    "epoch_windows",
    "batched_searchsorted",
    "WindowPlan",
    "plan_windows",
    "window_chunks",
    "map_windows",
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
    b = cb.size
    hw = jnp.broadcast_to(jnp.asarray(half_width, jnp.float64), (b,))
    phw = hw if plan_half_width is None else jnp.broadcast_to(jnp.asarray(plan_half_width, jnp.float64), (b,))
    _, _, total = _plan(lcb, cb, phw, max_epochs=4)
    e = bucket_size(int(np.max(np.asarray(total), initial=0)), 4)
    epoch, valid, total = _plan(lcb, cb, phw, max_epochs=e)
    _, start, count = _bounds(lcb, cb, epoch, valid, hw)
    count = np.asarray(count)
    return WindowPlan(
        epoch=np.asarray(epoch),
        valid=np.asarray(valid),
        start=np.asarray(start),
        count=count,
        n_epochs=np.asarray(total),
        max_count=count.max(axis=1, initial=0),
    )


def window_chunks(plan: WindowPlan, budget: int = 1 << 22, min_epochs: int = 4, min_width: int = 16):
    """Group candidates by (epoch, width) bucket and split groups so ``B_sub * E * W <= budget``.

    Returns a list of ``(indices, E, W, B_pad)``: candidate indices (into the plan), the bucketed
    epoch and window sizes, and the power-of-two padded chunk size -- a few distinct shapes,
    bounded memory.
    """
    eb = np.array([bucket_size(int(x), min_epochs) for x in plan.n_epochs])
    wb = np.array([bucket_size(int(x), min_width) for x in plan.max_count])
    out = []
    keys = sorted(set(zip(eb.tolist(), wb.tolist(), strict=True)))
    for e, w in keys:
        idx = np.nonzero((eb == e) & (wb == w))[0]
        per = max(1, budget // (e * w))
        per = 1 << (per.bit_length() - 1)  # power of two
        for lo in range(0, idx.size, per):
            sub = idx[lo : lo + per]
            out.append((sub, e, w, min(per, bucket_size(sub.size, 1))))
    return out


def map_windows(fn, lcb: LightCurveBatch, cb: CandidateBatch, half_width, *, plan_half_width=None,
                budget: int = 1 << 22, min_epochs: int = 4, min_width: int = 16):
    """Apply ``fn(lcb, cb_chunk, windows) -> pytree of (B_chunk, ...) arrays`` in bounded memory.

    Candidates are grouped and chunked by :func:`window_chunks`; outputs must have the same
    trailing shape for every chunk.  Returns the pytree with numpy leaves of leading size B.
    """
    b = cb.size
    hw = jnp.broadcast_to(jnp.asarray(half_width, jnp.float64), (b,))
    phw = hw if plan_half_width is None else jnp.broadcast_to(jnp.asarray(plan_half_width, jnp.float64), (b,))
    plan = plan_windows(lcb, cb, hw, plan_half_width=phw)
    results = None
    for idx, e, w, bpad in window_chunks(plan, budget, min_epochs, min_width):
        take = np.concatenate([idx, np.full(bpad - idx.size, idx[0])])
        sub = cb.take(take)
        sub = dataclasses.replace(sub, valid=sub.valid & jnp.asarray(np.arange(bpad) < idx.size))
        ep = jnp.asarray(plan.epoch[take][:, :e]) if plan.epoch.shape[1] >= e else jnp.asarray(
            np.pad(plan.epoch[take], ((0, 0), (0, e - plan.epoch.shape[1]))))
        ev = np.zeros((bpad, e), bool)
        ncol = min(e, plan.valid.shape[1])
        ev[:, :ncol] = plan.valid[take][:, :ncol]
        ev[idx.size:] = False
        ev = jnp.asarray(ev)
        tc, start, count = _bounds(lcb, sub, ep, ev, hw[take])
        gidx, mask, time, flux, err = _gather(lcb, sub, tc, start, count, width=w)
        win = EpochWindows(epoch=ep, epoch_valid=ev, center=tc, count=count, index=gidx, mask=mask,
                           time=time, flux=flux, flux_err=err)
        out = jax.tree.map(np.asarray, fn(lcb, sub, win))
        if results is None:
            results = jax.tree.map(lambda a: np.zeros((b,) + a.shape[1:], a.dtype), out)
        for r, o in zip(jax.tree.leaves(results), jax.tree.leaves(out), strict=True):
            r[idx] = o[: idx.size]
    return results


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
    flat = cb.lc_index[:, None] * n + idx
    ep = jnp.take_along_axis(epoch, slot_c, axis=1)
    tc = cb.t0[:, None] + ep * cb.period[:, None]
    return PackedWindows(
        index=idx,
        mask=mask,
        slot=jnp.where(mask, slot, e).astype(jnp.int32),
        epoch=ep,
        time=jnp.where(mask, lcb.time.reshape(-1)[flat], tc),
        flux=jnp.where(mask, lcb.flux.reshape(-1)[flat], 0.0),
        flux_err=jnp.where(mask, lcb.flux_err.reshape(-1)[flat], 0.0),
    )


def _ladder(n: int, minimum: int, factor: int) -> int:
    """Smallest ``minimum * factor**k >= n`` (a coarse shape ladder: fewer programs to compile)."""
    size = minimum
    while size < n:
        size *= factor
    return size


@partial(jax.jit, static_argnums=(0,), static_argnames=("width",))
def _packed_apply(fn, lcb, cb, epoch, start, count, args, *, width: int):
    """The gather and ``fn`` in one program (one compilation per chunk shape, not two)."""
    return fn(lcb, cb, gather_packed(lcb, cb, epoch, start, count, width=width), *args)


def map_packed(fn, lcb: LightCurveBatch, cb: CandidateBatch, half_width, *, args=(), plan_half_width=None,
               budget: int = 1 << 22, min_points: int = 256, ladder: int = 2):
    """Apply ``fn(lcb, cb_chunk, packed_windows, *args) -> pytree of (B_chunk, ...)`` in bounded
    memory.

    ``fn`` must be traceable by JAX and hashable (a module-level function): it is compiled
    together with the gather, once per chunk shape; ``args`` is a pytree of arrays passed through.
    Candidates are grouped by a coarse bucket of their total window points ``M`` (``min_points``
    times powers of ``ladder``) and split into chunks with ``B_chunk * M <= budget`` (B_chunk a
    power of two, one chunk shape per bucket).  Returns the pytree
    with numpy leaves of leading size ``cb.size``.
    """
    b = cb.size
    hw = jnp.broadcast_to(jnp.asarray(half_width, jnp.float64), (b,))
    phw = hw if plan_half_width is None else jnp.broadcast_to(jnp.asarray(plan_half_width, jnp.float64), (b,))
    plan = plan_windows(lcb, cb, hw, plan_half_width=phw)
    total = np.where(plan.valid, plan.count, 0).sum(axis=1)
    mb = np.array([_ladder(int(x), min_points, ladder) for x in total])
    results = None
    for width in sorted(set(mb.tolist())):
        idx_all = np.nonzero(mb == width)[0]
        per = max(1, budget // width)
        per = 1 << (per.bit_length() - 1)
        # one chunk shape per width bucket: full chunks of `per`, or one chunk for a small group
        bpad = min(per, bucket_size(idx_all.size, 1))
        for lo in range(0, idx_all.size, per):
            idx = idx_all[lo : lo + per]
            take = np.concatenate([idx, np.full(bpad - idx.size, idx[0])])
            sub = cb.take(take)
            sub = dataclasses.replace(sub, valid=sub.valid & jnp.asarray(np.arange(bpad) < idx.size))
            count = np.where(plan.valid[take], plan.count[take], 0)
            res = _packed_apply(fn, lcb, sub, jnp.asarray(plan.epoch[take]), jnp.asarray(plan.start[take]),
                                jnp.asarray(count, jnp.int32), args, width=width)
            out = jax.tree.map(np.asarray, res)
            if results is None:
                results = jax.tree.map(lambda a: np.zeros((b,) + a.shape[1:], a.dtype), out)
            for r, o in zip(jax.tree.leaves(results), jax.tree.leaves(out), strict=True):
                r[idx] = o[: idx.size]
    return results
