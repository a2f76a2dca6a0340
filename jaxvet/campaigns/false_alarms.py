"""False-alarm copies for reliability campaigns: inverted and scrambled light curves, box-searched.

The Kepler DR25 catalogue measured its vetting's reliability on light curves that contain no
true transit but keep the noise and systematics: inverted ones and ones scrambled in time
(Thompson et al. 2018, ApJS 235, 38, sec. 2.3; Coughlin 2017, KSCI-19114).  A campaign's
``inverted`` and ``scrambled`` kinds build such copies of the base light curve of each
injection, on the device, and vet the strongest box-search peak of each copy.

* ``inverted``: ``flux' = 2 m - flux`` with ``m`` the median of the base light curve's valid
  flux: dips become bumps, so no true transit remains (bumps become dips that the search may
  pick up, as DR25 intended).
* ``scrambled``: the valid cadences of the base light curve (in time order, all sectors
  together) are cut into consecutive blocks of ``M = max(1, round(scramble_block_days / c))``
  cadences, ``c`` the median cadence of that light curve; the flux (with its error) of the
  ``floor(n_valid / M)`` full blocks is permuted among those blocks by a random permutation
  and the last, partial block stays in place.  Times, sectors and the cadence structure
  (gaps included) are unchanged, so the copy's time axis is monotonic; a transit keeps its
  shape inside a block but lands at an unrelated time, so periodicity is broken.  The
  permutation's key is ``fold_in(fold_in(key(seed), injection_id), 10)``: it depends on the
  campaign's seed and the run-wide injection id only (not on chunking or resume).

Candidate
---------
Each copy's candidate is the strongest peak of :func:`jaxvet.search.search_rows` (the batched
BLS of :mod:`jaxvet.core.box_search`, likelihood objective, weights ``1 / flux_err**2``) over
the campaign's period range (``period_days``; a grid's smallest to largest value) on
:func:`jaxvet.search.period_grid` (astropy ``autoperiod`` spacing for the longest base light
curve, at most ``search_max_periods`` periods) and ``search_durations`` durations spaced
geometrically over ``duration_hours``.  Its period, mid-transit time, duration and depth
become the row's ``period_days``, ``t0_btjd``, ``duration_hours`` and ``depth_ppm``; the row's
``snr`` is null (there is no injected signal) and the peak's depth SNR and objective go to
``search_snr`` and ``search_power`` (null for the other kinds).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.campaigns.injection import (
    _STREAMS,
    FALSE_ALARM_KINDS,
    KIND_CODES,
    InjectionBatch,
    InjectionConfig,
)
from jaxvet.core.ephemeris import phase_distance_in_transit
from jaxvet.data import bucket_size
from jaxvet.search import period_grid, search_rows, used_points

__all__ = ["FalseAlarmPlan", "SEARCH_COLUMNS", "plan_false_alarms", "apply_false_alarms"]

#: row columns without meaning for a false alarm (null)
_NULL_COLUMNS = ("impact", "tflat_ratio", "odd_even_ratio", "secondary_depth_ppm", "secondary_phase")
_NULL_COLUMNS += ("snr_target", "snr")
#: the extra row columns of a campaign with a false-alarm kind
SEARCH_COLUMNS = ("search_snr", "search_power")


@dataclasses.dataclass(frozen=True)
class FalseAlarmPlan:
    """Per-campaign inputs of the false-alarm kinds: base-row medians and block lengths (device),
    the trial grid (host) and the static block-count bound."""

    median: jax.Array  # (L,) median valid flux of each base light curve
    block_points: jax.Array  # (L,) cadences per scrambling block
    periods: np.ndarray
    durations: np.ndarray
    max_blocks: int
    oversample: int
    n_points: int  # most valid points of a base light curve (the search reads no more)


def _range(spec) -> tuple[float, float]:
    return (min(spec.values), max(spec.values)) if spec.is_grid else (spec.lo, spec.hi)


def plan_false_alarms(lcs, cfg: InjectionConfig) -> FalseAlarmPlan:
    """The medians, block lengths and search grid of a campaign's base light curves ``lcs``."""
    med, blocks, spans, counts = [], [], [], []
    for lc in lcs:
        v = lc.valid
        t = lc.time[v]
        d = np.diff(t)
        d = d[d > 0]
        cadence = float(np.median(d)) if d.size else 1.0
        med.append(float(np.median(lc.flux[v])))
        blocks.append(max(1, int(round(cfg.scramble_block_days / cadence))))
        spans.append(float(t[-1] - t[0]) if t.size > 1 else 0.0)
        counts.append(int(v.sum()))
    p_lo, p_hi = _range(cfg.period_days)
    d_lo, d_hi = _range(cfg.duration_hours)
    durations = (
        np.geomspace(d_lo, d_hi, cfg.search_durations) / 24.0 if d_hi > d_lo else np.array([d_lo / 24.0])
    )
    periods = period_grid(
        max(max(spans), p_hi), p_lo, p_hi, float(durations[0]), max_periods=cfg.search_max_periods
    )
    max_blocks = max(-(-n // b) for n, b in zip(counts, blocks, strict=True))
    return FalseAlarmPlan(
        median=jnp.asarray(med),
        block_points=jnp.asarray(blocks, jnp.int32),
        periods=periods,
        durations=durations,
        max_blocks=int(max_blocks),
        oversample=int(cfg.search_oversample),
        n_points=max(counts),
    )


@partial(jax.jit, static_argnames=("max_blocks",))
def _copies(flux0, err0, n_valid, rows, kind, ids, seed, median, block_points, *, max_blocks: int):
    """Inverted and scrambled flux (and errors) of every row; other rows get NaN (unused)."""
    k, n = flux0.shape
    inv = 2.0 * median[rows][:, None] - flux0
    m = block_points[rows]  # (K,)
    n_full = n_valid // m
    root = jax.random.key(seed)

    def perm(i, nf):
        key = jax.random.fold_in(jax.random.fold_in(root, i), _STREAMS["scramble"])
        u = jax.random.uniform(key, (max_blocks,), jnp.float64)
        j = jnp.arange(max_blocks)
        return jnp.argsort(jnp.where(j < nf, u, 2.0 + j)).astype(jnp.int32)

    p = jax.vmap(perm)(ids, n_full)  # (K, max_blocks): full blocks permuted, the rest in place
    i = jnp.arange(n)[None, :]
    blk = i // m[:, None]
    src = jnp.where(
        blk < n_full[:, None],
        jnp.take_along_axis(p, jnp.clip(blk, 0, max_blocks - 1), axis=1) * m[:, None] + i % m[:, None],
        i,
    )
    scr = jnp.take_along_axis(flux0, src, axis=1)
    scr_err = jnp.take_along_axis(err0, src, axis=1)
    is_inv = (kind == KIND_CODES["inverted"])[:, None]
    is_scr = (kind == KIND_CODES["scrambled"])[:, None]
    return jnp.where(is_inv, inv, jnp.where(is_scr, scr, flux0)), jnp.where(is_scr, scr_err, err0)


@jax.jit
def _with_candidates(batch: InjectionBatch, flux, err, idx, peak, is_fa):
    """``batch`` with the false-alarm rows' flux and their search peaks as candidates."""
    lcb = dataclasses.replace(
        batch.lcb,
        flux=jnp.where(is_fa[:, None], flux, batch.lcb.flux),
        flux_err=jnp.where(is_fa[:, None], err, batch.lcb.flux_err),
    )
    cb, p = batch.cb, dict(batch.params)
    k = cb.period.shape[0]

    def put(a, v):
        return jnp.asarray(a, jnp.float64).at[idx].set(v, mode="drop")

    nan = jnp.full_like(peak["period"], jnp.nan)
    period, t0, dur, depth = peak["period"], peak["t0"], peak["duration"], peak["depth"]
    found = jnp.zeros(k, bool).at[idx].set(jnp.isfinite(period), mode="drop")
    new_cb = dataclasses.replace(
        cb,
        period=put(cb.period, period),
        t0=put(cb.t0, t0),
        duration=put(cb.duration, dur),
        depth=put(cb.depth, depth),
        valid=cb.valid & (~is_fa | found),
    )
    for name, v in (
        ("period_days", period),
        ("t0_btjd", t0),
        ("duration_hours", dur * 24.0),
        ("depth_ppm", depth * 1e6),
    ):
        p[name] = put(p[name], v)
    for name in _NULL_COLUMNS:
        p[name] = put(p[name], nan)
    in_tr = phase_distance_in_transit(
        lcb.time, new_cb.t0[:, None], new_cb.period[:, None], new_cb.duration[:, None]
    )
    n_in = jnp.sum(in_tr & lcb.mask, axis=1).astype(jnp.int32)
    p["n_in_transit"] = jnp.where(is_fa, n_in, p["n_in_transit"])
    p["search_snr"] = put(jnp.full(k, jnp.nan), peak["depth_snr"])
    p["search_power"] = put(jnp.full(k, jnp.nan), peak["power"])
    return InjectionBatch(lcb=lcb, cb=new_cb, params=p)


def apply_false_alarms(
    batch: InjectionBatch, base, plan: FalseAlarmPlan, seed: int, n: int
) -> InjectionBatch:
    """Turn the false-alarm rows among the first ``n`` of ``batch`` into inverted or scrambled
    copies of their base light curves, each with its box-search peak as the candidate."""
    kind = np.asarray(batch.params["kind"])
    codes = [KIND_CODES[k] for k in FALSE_ALARM_KINDS]
    is_fa = np.isin(kind, codes) & (np.arange(kind.size) < n)
    rows = batch.params["lc_index"]
    flux0, err0 = base.flux[rows], base.flux_err[rows]
    flux, err = _copies(
        flux0,
        err0,
        base.n_valid[rows],
        rows,
        batch.params["kind"],
        batch.params["injection_id"].astype(jnp.uint32),
        jnp.asarray(int(seed) % 2**32, jnp.uint32),
        plan.median,
        plan.block_points,
        max_blocks=plan.max_blocks,
    )
    fa = np.flatnonzero(is_fa)
    size = min(bucket_size(fa.size, 8), bucket_size(kind.size, 1))  # few shapes: few compilations
    idx = np.full(size, kind.size, np.int64)  # padding: out of range, dropped by the updates
    idx[: fa.size] = fa
    if not fa.size:
        names = ("period", "t0", "duration", "depth", "depth_snr", "power")
        peak = {k_: jnp.full(size, jnp.nan) for k_ in names}
        return _with_candidates(batch, flux, err, jnp.asarray(idx), peak, jnp.asarray(is_fa))
    # the inverted copies of one base light curve are one copy: it is searched once
    key = np.where(kind[fa] == KIND_CODES["inverted"], -1 - np.asarray(rows)[fa], fa)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    take = np.full(min(bucket_size(first.size, 8), size), fa[first[0]], np.int64)
    take[: first.size] = fa[first]
    e = err[take]
    ivar = jnp.where(e > 0, 1.0 / jnp.where(e > 0, e, 1.0) ** 2, 0.0)
    peak = search_rows(
        batch.lcb.time[take],
        flux[take],
        ivar,
        batch.lcb.mask[take],
        plan.periods,
        plan.durations,
        oversample=plan.oversample,
        n_points=used_points(plan.n_points, flux.shape[1]),
    )
    back = np.zeros(size, np.int64)
    back[: fa.size] = inverse.reshape(-1)
    peak = {k_: v[jnp.asarray(back)] for k_, v in peak.items()}
    return _with_candidates(batch, flux, err, jnp.asarray(idx), peak, jnp.asarray(is_fa))
