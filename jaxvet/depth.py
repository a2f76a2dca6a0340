"""The reference transit-depth estimator, batched.

``measure_transit_depth(flux, in_mask, out_mask)`` (reference semantics §5.4):
``depth = median(out) - median(in)`` (an absolute flux difference) and
``err = sqrt(std(in)^2/n_in + std(out)^2/n_out)`` with population std; ``(0.0, 1.0)`` when either
set is empty.

:func:`sector_transit_depths` applies it to every sector of every candidate at once with the
reference's tutorial masks (in-transit ``|phase| < D/2P``, out-of-transit = not within the
buffer-3 window ``|phase| < 1.5 D/P``).  It gathers only the points near transits: the
out-of-transit set of a sector is "the whole sector minus a few windows", so its median comes
from the sector's flux sorted once per light curve (:func:`jaxvet.stats.median_excluding`) and
its standard deviation from per-sector sums minus the window sums -- O(points near transit) per
candidate instead of O(all points).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from . import _config  # noqa: F401
from .data import CandidateBatch, LightCurveBatch
from .ephemeris import epoch_index, epoch_windows, in_transit_mask
from .stats import masked_count, masked_median, masked_std, median_excluding

__all__ = ["measure_transit_depth", "SectorDepths", "sector_transit_depths", "presort_by_sector"]


def measure_transit_depth(flux, in_mask, out_mask):
    """Batched reference depth estimator over the last axis; returns ``(depth, err)``."""
    fin = jnp.isfinite(flux)
    in_mask = in_mask & fin
    out_mask = out_mask & fin
    n_in = masked_count(in_mask)
    n_out = masked_count(out_mask)
    ok = (n_in > 0) & (n_out > 0)
    depth = masked_median(flux, out_mask) - masked_median(flux, in_mask)
    err = jnp.sqrt(
        (masked_std(flux, in_mask) / jnp.sqrt(jnp.maximum(n_in, 1))) ** 2
        + (masked_std(flux, out_mask) / jnp.sqrt(jnp.maximum(n_out, 1))) ** 2
    )
    return jnp.where(ok, depth, 0.0), jnp.where(ok, err, 1.0)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class SectorPresort:
    """Each light-curve row's flux sorted sector by sector, with per-sector sums."""

    sorted_flux: jax.Array  # (L, N) grouped by sector_index, ascending within a sector
    rank: jax.Array  # (L, N) position of point n in sorted_flux
    offset: jax.Array  # (L, S) first position of sector s
    count: jax.Array  # (L, S) points in sector s
    center: jax.Array  # (L, S) sector mean flux (shift for the sums)
    sum1: jax.Array  # (L, S) sum of (f - center)
    sum2: jax.Array  # (L, S) sum of (f - center)^2


@jax.jit
def presort_by_sector(lcb: LightCurveBatch) -> SectorPresort:
    """Sort each row's flux by (sector, flux) once; reused by every candidate of the row."""
    s = lcb.sector_ids.shape[1]
    si = jnp.where(lcb.mask, lcb.sector_index, s)
    order = jnp.lexsort((lcb.flux, si), axis=-1)
    sorted_flux = jnp.take_along_axis(lcb.flux, order, axis=-1)
    n = lcb.flux.shape[1]
    rows = jnp.arange(lcb.flux.shape[0])[:, None]
    rank = jnp.zeros_like(order).at[rows, order].set(jnp.arange(n, dtype=order.dtype)[None, :])
    onehot = si[:, :, None] == jnp.arange(s)[None, None, :]  # (L, N, S)
    count = jnp.sum(onehot, axis=1, dtype=jnp.int32)
    offset = jnp.cumsum(count, axis=1) - count
    fsum = jnp.sum(jnp.where(onehot, lcb.flux[:, :, None], 0.0), axis=1)
    center = fsum / jnp.maximum(count, 1)
    d = jnp.where(onehot, lcb.flux[:, :, None] - center[:, None, :], 0.0)
    return SectorPresort(
        sorted_flux=sorted_flux,
        rank=rank.astype(jnp.int32),
        offset=offset.astype(jnp.int32),
        count=count,
        center=center,
        sum1=jnp.sum(d, axis=1),
        sum2=jnp.sum(d * d, axis=1),
    )


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class SectorDepths:
    """Per candidate and per sector slot of its light-curve row (B x S)."""

    sector: jax.Array  # (B, S) sector id, -1 on padding
    depth: jax.Array  # (B, S) fraction
    err: jax.Array  # (B, S)
    n_in: jax.Array  # (B, S)
    n_out: jax.Array  # (B, S)


@jax.jit
def _sector_depths_kernel(lcb, cb, presort, win_time, win_flux, win_index, win_mask, win_epoch):
    s = lcb.sector_ids.shape[1]
    li = cb.lc_index
    P, t0, D = cb.period[:, None, None], cb.t0[:, None, None], cb.duration[:, None, None]
    # each point belongs to the window of its own epoch only (windows overlap when 3D > P)
    own = win_mask & (epoch_index(win_time, t0, P) == win_epoch[..., None])
    is_in = own & in_transit_mask(win_time, t0, P, D, 1.0)
    is_ex = own & in_transit_mask(win_time, t0, P, D, 3.0)
    b = win_flux.shape[0]
    flat = lambda a: a.reshape(b, -1)  # noqa: E731
    f, idx, m_in, m_ex = flat(win_flux), flat(win_index), flat(is_in), flat(is_ex)
    sec_of = jnp.take_along_axis(lcb.sector_index[li], idx, axis=1)  # (B, EW)
    in_s = sec_of[:, None, :] == jnp.arange(s)[None, :, None]  # (B, S, EW)
    m_in_s = in_s & m_in[:, None, :]
    m_ex_s = in_s & m_ex[:, None, :]
    # in-transit: small sets, direct masked statistics
    n_in = masked_count(m_in_s)
    med_in = masked_median(jnp.broadcast_to(f[:, None, :], m_in_s.shape), m_in_s)
    std_in = masked_std(jnp.broadcast_to(f[:, None, :], m_in_s.shape), m_in_s)
    # out-of-transit: the whole sector minus the buffer-3 windows
    rank = jnp.take_along_axis(presort.rank[li], idx, axis=1)  # (B, EW)
    off = presort.offset[li]  # (B, S)
    cnt = presort.count[li]
    rel = rank[:, None, :] - off[:, :, None]
    med_out, n_out = jax.vmap(jax.vmap(median_excluding, in_axes=(None, 0, 0, 0, 0)), in_axes=(0, 0, 0, 0, 0))(
        presort.sorted_flux[li], cnt, rel, m_ex_s, off
    )
    c = presort.center[li]
    d = jnp.where(m_ex_s, f[:, None, :] - c[:, :, None], 0.0)
    s1 = presort.sum1[li] - jnp.sum(d, axis=-1)
    s2 = presort.sum2[li] - jnp.sum(d * d, axis=-1)
    nn = jnp.maximum(n_out, 1)
    var_out = jnp.maximum(s2 / nn - (s1 / nn) ** 2, 0.0)
    err = jnp.sqrt(std_in**2 / jnp.maximum(n_in, 1) + var_out / nn)
    ok = (n_in > 0) & (n_out > 0)
    sector = lcb.sector_ids[li]
    real = (sector >= 0) & cb.valid[:, None]
    return SectorDepths(
        sector=jnp.where(real, sector, -1),
        depth=jnp.where(ok & real, med_out - med_in, 0.0),
        err=jnp.where(ok & real, err, 1.0),
        n_in=jnp.where(real, n_in, 0),
        n_out=jnp.where(real, n_out, 0),
    )


def sector_transit_depths(lcb: LightCurveBatch, cb: CandidateBatch, presort: SectorPresort | None = None) -> SectorDepths:
    """Reference-tutorial per-sector depths for every candidate (see module docstring)."""
    if presort is None:
        presort = presort_by_sector(lcb)
    win = epoch_windows(lcb, cb, 1.5 * cb.duration)
    return _sector_depths_kernel(lcb, cb, presort, win.time, win.flux, win.index, win.mask, win.epoch)
