"""The reference transit-depth estimator, batched.

``measure_transit_depth(flux, in_mask, out_mask)`` (the reference's estimator, docs/checks.md):
``depth = median(out) - median(in)`` (an absolute flux difference) and
``err = sqrt(std(in)^2/n_in + std(out)^2/n_out)`` with population std; ``(0.0, 1.0)`` when either
set is empty.

:func:`sector_transit_depths` applies it to every sector of every candidate at once with the
reference's tutorial masks (in-transit ``|phase| < D/2P``, out-of-transit = not within the
buffer-3 window ``|phase| < 1.5 D/P``).  It gathers only the points near transits: the
out-of-transit set of a sector is "the whole sector minus a few windows", so its median comes
from the sector's flux sorted once per light curve
(:func:`jaxvet.core.order_stats.median_excluding_segments`) and its standard deviation from
per-sector sums minus the window sums -- O(points near transit) per candidate instead of O(all
points).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from jaxvet.core.ephemeris import epoch_index, in_transit_mask
from jaxvet.core.order_stats import masked_count, masked_median, median_excluding_segments, median_of_kth
from jaxvet.core.stats import masked_std
from jaxvet.core.windows import map_packed
from jaxvet.data import CandidateBatch, LightCurveBatch

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


def _segment_sum(x, seg, n):
    """Row-wise segment sums: x, seg (B, M) -> (B, n); ids >= n are dropped."""
    return jax.vmap(lambda a, s: jax.ops.segment_sum(a, s, num_segments=n + 1)[:n])(x, seg)


def _sector_depths_kernel(lcb, cb, win, presort):
    """O(points near transit) per candidate: no per-sector broadcast, no (B, N) gathers."""
    s_cap = lcb.sector_ids.shape[1]
    n_pts = lcb.time.shape[1]
    li = cb.lc_index
    P, t0, D = cb.period[:, None, None], cb.t0[:, None, None], cb.duration[:, None, None]
    # each point belongs to the window of its own epoch only (windows overlap when 3D > P)
    P, t0, D = P[..., 0], t0[..., 0], D[..., 0]
    own = win.mask & (epoch_index(win.time, t0, P) == win.epoch)
    b, m = win.flux.shape
    f = win.flux
    m_in = own & in_transit_mask(win.time, t0, P, D, 1.0)
    m_ex = own & in_transit_mask(win.time, t0, P, D, 3.0)
    gidx = li[:, None] * n_pts + win.index
    sec = lcb.sector_index.reshape(-1)[gidx]  # (B, M)
    # One int32 sort per candidate: keys 2*rank + is_in of the buffer-3 (excluded) points.  The
    # presort rank orders points by (sector, flux), so the sorted keys give, sector by sector,
    # the excluded ranks (for the out-of-transit median) and, via a running count of the
    # in-transit bit, the in-transit order statistics.  No float sort at all.
    rank = presort.rank.reshape(-1)[gidx]
    key = jnp.where(m_ex, 2 * rank + m_in.astype(jnp.int32), jnp.int32(2**31 - 1))
    key = jnp.sort(key, axis=-1)
    valid_k = key < jnp.int32(2**31 - 1)
    r_sorted = jnp.where(valid_k, key >> 1, jnp.int32(2**30))
    in_bit = (valid_k & ((key & 1) == 1)).astype(jnp.int32)
    key_ex = jnp.where(m_ex, sec, s_cap)
    m_s = _segment_sum(m_ex.astype(jnp.int32), key_ex, s_cap)
    c_end = jnp.cumsum(m_s, axis=1)
    c_start = c_end - m_s
    off = presort.offset[li]
    cnt = presort.count[li]
    flat_sorted = presort.sorted_flux.reshape(-1)
    # ---- in-transit medians from the running count of the in-transit bit
    run = jnp.cumsum(in_bit, axis=1)
    run0 = jnp.concatenate([jnp.zeros((b, 1), run.dtype), run], axis=1)
    before = jnp.take_along_axis(run0, c_start, axis=1)
    n_in = jnp.take_along_axis(run0, c_end, axis=1) - before

    def kth_in(k):
        p = jax.vmap(lambda r, q: jnp.searchsorted(r, q, side="left"))(run, before + k + 1)
        rr = jnp.take_along_axis(r_sorted, jnp.clip(p, 0, m - 1), axis=1)
        return flat_sorted[li[:, None] * n_pts + jnp.clip(rr, 0, n_pts - 1)]

    med_in = median_of_kth(kth_in, n_in)
    key_in = jnp.where(m_in, sec, s_cap)
    nin1 = jnp.maximum(n_in, 1)
    mean_in = _segment_sum(jnp.where(m_in, f, 0.0), key_in, s_cap) / nin1
    dev = jnp.where(m_in, f - jnp.take_along_axis(mean_in, jnp.clip(key_in, 0, s_cap - 1), axis=1), 0.0)
    std_in = jnp.sqrt(_segment_sum(dev * dev, key_in, s_cap) / nin1)
    # ---- out-of-transit: whole sector (presorted once per row) minus the excluded ranks
    big = jnp.int32(2**30)
    i = jnp.arange(m, dtype=jnp.int32)
    s_of = jax.vmap(lambda ce: jnp.searchsorted(ce, i, side="right"))(c_end)
    s_of_c = jnp.clip(s_of, 0, s_cap - 1)
    g = (
        r_sorted
        - jnp.take_along_axis(off, s_of_c, axis=1)
        - (i[None, :] - jnp.take_along_axis(c_start, s_of_c, axis=1))
    )
    g = jnp.where(s_of < s_cap, g, big)
    row0 = (jnp.arange(b, dtype=jnp.int32) * m)[:, None] + c_start

    def read(pos):
        return flat_sorted[li[:, None] * n_pts + jnp.clip(off + pos, 0, n_pts - 1)]

    med_out, n_out = median_excluding_segments(read, cnt, g.reshape(-1), row0, m_s)
    c = presort.center[li]
    d = jnp.where(m_ex, f - jnp.take_along_axis(c, jnp.clip(key_ex, 0, s_cap - 1), axis=1), 0.0)
    s1 = presort.sum1[li] - _segment_sum(d, key_ex, s_cap)
    s2 = presort.sum2[li] - _segment_sum(d * d, key_ex, s_cap)
    nn = jnp.maximum(n_out, 1)
    var_out = jnp.maximum(s2 / nn - (s1 / nn) ** 2, 0.0)
    err = jnp.sqrt(std_in**2 / nin1 + var_out / nn)
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


def sector_transit_depths(
    lcb: LightCurveBatch, cb: CandidateBatch, presort: SectorPresort | None = None
) -> SectorDepths:
    """Reference-tutorial per-sector depths for every candidate (see module docstring)."""
    if presort is None:
        presort = presort_by_sector(lcb)
    return map_packed(_sector_depths_kernel, lcb, cb, 1.5 * cb.duration, args=(presort,))
