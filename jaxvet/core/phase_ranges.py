"""Phase windows of a time-sorted light curve as index ranges: cycle plans and exact edges.

A phase fold maps each time ``t`` to a key ``(cycle, phase)``; both folds used here are
lexicographically non-decreasing in ``t`` (every float operation in them is monotone and the
cycle is the one the phase was reduced by), so the points of a light-curve row (valid points
first, in time order: :class:`~jaxvet.data.LightCurveBatch`) whose key lies in a phase interval
of one cycle are a contiguous index range.  A check then needs, per cycle, only the indices of
its window edges; sums over the windows come from prefix sums and medians from a wavelet
matrix (:mod:`jaxvet.core.range_select`), not from a pass over the points.

* :func:`mod_key`: ``((t - t0) mod P)/P`` in [0, 1] and its floor quotient (the reference V19
  fold, :func:`jaxvet.core.ephemeris.phase_mod`); :func:`centered_key`: the reference
  ``phase_fold`` with an IEEE division (``(t - t0)/P mod 1`` shifted to (-0.5, 0.5]) and the
  nearest cycle.
* :class:`TimeGrid` / :func:`time_grid`: per row, the index of the first point at or after
  each of ``G`` evenly spaced times over the row's span (``G`` ~ the row's length), so a time
  is located to a cell of a few points with one read (host: the most points of any cell).
* :func:`phase_search`: the first point of a row whose key is ``>=`` (or ``>``) a given
  ``(cycle, phase)``, exactly: the edge time ``t0 + (cycle + phase) P`` less
  :data:`MARGIN_DAYS` located through the grid and a binary search of its cell, then a binary
  search with the exact key over the at most ``crowd`` points that can lie within the margin
  of the edge (:func:`crowding`).
* :func:`plan_cycles`: the (candidate, cycle) pairs whose phase interval meets a data segment,
  flattened over candidates (host, from the segment bounds only).
* :class:`RangeTables` / :func:`range_tables`: what the checks read windows from, built once
  per run: prefix sums of :data:`SUM_CHANNELS`, the wavelet matrix of the flux in time order,
  the time grid and the crowding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.numerics import exact_div, floor_divmod
from jaxvet.core.order_stats import bisect
from jaxvet.core.range_select import PrefixSums, RangeIndex, build_prefix_sums, build_range_index
from jaxvet.data import bucket_size

__all__ = [
    "MARGIN_DAYS", "mod_key", "centered_key", "crowding", "TimeGrid", "time_grid", "phase_search",
    "plan_cycles", "PLAN_SLACK", "SUM_CHANNELS", "WEIGHT_FLOOR", "RangeTables", "range_tables",
]  # fmt: skip

#: bound (days) on the distance between an edge time computed in floats and the time where the
#: exact key crosses it (~1e-12 d for BTJD times and periods below 1e4 d)
MARGIN_DAYS = 1e-8
#: phase slack of :func:`plan_cycles` (float error of ``(t - t0)/P`` is ~1e-13 cycles)
PLAN_SLACK = 1e-9


def mod_key(t, t0, period):
    """``(q, phase)``: ``phase = ((t - t0) mod P)/P`` bit for bit as
    :func:`jaxvet.core.ephemeris.phase_mod` (in [0, 1]) and ``q`` its floor quotient."""
    q, r = floor_divmod(t - t0, period)
    return q, exact_div(r, period)


def centered_key(t, t0, period):
    """``(c, phase)``: the reference ``phase_fold`` with an IEEE division (``u = (t - t0)/P``,
    ``u mod 1``, above 0.5 shifted by -1; in (-0.5, 0.5]) and the cycle ``round(u - phase)``.

    ``u mod 1`` is ``u - floor(u)``: numpy's ``u % 1.0`` bit for bit for finite ``u`` (the
    difference is exact for ``|u| >= 1`` by Sterbenz's lemma and one rounding of ``u + 1``
    below; +0.0 at integers, where ``jnp.mod`` gives -0.0), without XLA's slow ``fmod``."""
    u = exact_div(t - t0, period)
    m = u - jnp.floor(u)
    ph = jnp.where(m > 0.5, m - 1.0, m)
    return jnp.round(u - ph), ph


def crowding(time, n_valid) -> int:
    """Host: the most valid points of any row (L, N) within ``2 MARGIN_DAYS`` of one another
    (1 for distinct cadences; the width of :func:`phase_search`'s exact stage)."""
    t, n = np.asarray(time), np.asarray(n_valid)
    most = 1
    for row, k in zip(t, n, strict=True):
        r = row[: int(k)]
        if r.size:
            j = np.searchsorted(r, r + 2.0 * MARGIN_DAYS, side="right")
            most = max(most, int(np.max(j - np.arange(r.size))))
    return most


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TimeGrid:
    """Cell ``j`` of row ``l`` covers times ``[start + j step, start + (j + 1) step)``;
    ``first[l, j]`` (L, G + 1) is the index of the row's first valid point at or after its
    start (``n_valid`` past the end).  ``cell_points`` (static): the most points of a cell."""

    start: jax.Array
    step: jax.Array
    first: jax.Array
    cell_points: int = field(metadata={"static": True})


def time_grid(time, n_valid, cells: int | None = None) -> TimeGrid:
    """Host-built :class:`TimeGrid` of rows (L, N) of ascending times (``cells`` default N)."""
    t, n = np.asarray(time), np.asarray(n_valid)
    g = int(cells or t.shape[1])
    start, step = np.zeros(t.shape[0]), np.ones(t.shape[0])
    first = np.zeros((t.shape[0], g + 1), np.int32)
    most = 1
    for i, (row, k) in enumerate(zip(t, n, strict=True)):
        r = row[: int(k)]
        if r.size:
            start[i] = r[0]
            step[i] = max((r[-1] - r[0]) / g, 1e-9)
            first[i] = np.searchsorted(r, start[i] + step[i] * np.arange(g + 1), side="left")
            first[i, -1] = r.size
            most = max(most, int(np.max(np.diff(first[i]))))
    return TimeGrid(jnp.asarray(start), jnp.asarray(step), jnp.asarray(first), most)


def _steps(width: int) -> int:
    """Bisection steps that settle an answer in ``[lo, lo + width]`` (``width + 1`` outcomes)."""
    return max(1, int(width).bit_length())


def _fine_size(n: int, minimum: int) -> int:
    """``n`` rounded up to a multiple of an eighth of its power-of-two bucket (a shape ladder
    with at most 1/8 padding)."""
    top = bucket_size(n, minimum)
    unit = max(top // 8, 1)
    return max(-(-n // unit) * unit, minimum)


def _locate(grid: TimeGrid, flat_t, row, row_start, t):
    """Index (relative to ``row_start``) of the first valid point of ``row`` at or after ``t``."""
    g = grid.first.shape[1] - 1
    cell = jnp.floor((t - grid.start[row]) / grid.step[row])
    cell = jnp.clip(jnp.nan_to_num(cell, nan=0.0), 0, g - 1).astype(jnp.int32)
    flat_first = grid.first.reshape(-1)
    base = row * (g + 1)
    # one cell of slack either side: the cell number is a rounded division
    lo = flat_first[base + jnp.maximum(cell - 1, 0)]
    hi = flat_first[base + jnp.minimum(cell + 2, g)]
    size = flat_t.shape[0]
    below = lambda mid: flat_t[jnp.clip(row_start + mid, 0, size - 1)] < t  # noqa: E731
    return bisect([(lo, hi, below)], _steps(3 * grid.cell_points))[0]


def phase_search(
    grid: TimeGrid, flat_t, row, row_len, key, t0, period, cycle, phase, strict, *, phase_range, crowd: int
):
    """First index in ``[0, row_len)`` of time-sorted row ``row`` (``flat_t`` the flattened
    rows) whose ``key(t, t0, period)`` is ``> (cycle, phase)`` (``strict``) or ``>=`` it;
    ``row_len`` when none.  All arguments broadcast (``strict`` a bool array or constant).
    ``phase_range`` (lo, hi) bounds the fold's phases: the edge time uses the phase clipped to
    it (a phase beyond the range is crossed where the next or this cycle begins).  ``crowd``:
    :func:`crowding`; ``grid``: :func:`time_grid` of the rows."""
    n = flat_t.shape[0] // grid.first.shape[0]
    row_start = row * n
    t_edge = t0 + (cycle + jnp.clip(phase, *phase_range)) * period
    lo = _locate(grid, flat_t, row, row_start, t_edge - MARGIN_DAYS)
    lo = jnp.minimum(lo, row_len)
    hi = jnp.minimum(lo + crowd, row_len)
    size = flat_t.shape[0]

    def before(mid):  # the key at ``mid`` is still below the edge
        c, ph = key(flat_t[jnp.clip(row_start + mid, 0, size - 1)], t0, period)
        above = jnp.where(strict, ph > phase, ph >= phase)
        return ~((c > cycle) | ((c == cycle) & above))

    return bisect([(lo, hi, before)], _steps(crowd))[0]


def plan_cycles(seg_lo, seg_hi, lc_index, period, t0, valid, phase_lo, phase_hi, *, minimum: int = 64):
    """Host plan of the cycles ``k`` of each candidate whose interval ``[t0 + (k + phase_lo) P,
    t0 + (k + phase_hi) P]`` (phases: scalars or (B,)) meets one of its light curve's data
    segments (``seg_lo/seg_hi`` (L, G), padding ``lo > hi``; widened by :data:`PLAN_SLACK` in
    phase for rounding; shared cycles once).

    Returns ``(owner, cycle, n)``: (F,) candidate index (``len(period)`` on padding) and cycle
    number (float64) in candidate then time order, F >= ``n`` on a ladder of eighths of powers
    of two; candidates
    not ``valid`` (or without a finite positive period) get none."""
    col = lambda a: np.reshape(a, (-1, 1)) if np.ndim(a) else a  # noqa: E731
    phase_lo, phase_hi = col(phase_lo), col(phase_hi)
    lo = np.asarray(seg_lo)[lc_index]
    hi = np.asarray(seg_hi)[lc_index]
    p = np.asarray(period, np.float64)[:, None]
    t = np.asarray(t0, np.float64)[:, None]
    ok = np.asarray(valid, bool)[:, None] & np.isfinite(p) & (p > 0) & np.isfinite(t)
    real = (lo <= hi) & ok
    p, t = np.where(ok, p, 1.0), np.where(ok, t, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        k_lo = np.ceil((lo - t) / p - phase_hi - PLAN_SLACK)
        k_hi = np.floor((hi - t) / p - phase_lo + PLAN_SLACK)
    k_lo = np.where(real, k_lo, np.inf)
    k_hi = np.where(real, k_hi, -np.inf)
    prev = np.maximum.accumulate(np.concatenate([np.full_like(k_hi[:, :1], -np.inf), k_hi[:, :-1]], 1), 1)
    k_lo = np.maximum(k_lo, prev + 1.0)
    cnt = np.where(real & (k_hi >= k_lo), k_hi - k_lo + 1.0, 0.0).astype(np.int64).ravel()
    n = int(cnt.sum())
    size = _fine_size(n, minimum)
    b, g = lo.shape
    owner = np.full(size, b, np.int32)
    cycle = np.zeros(size)
    owner[:n] = np.repeat(np.repeat(np.arange(b, dtype=np.int32), g), cnt)
    start = np.repeat(np.where(cnt > 0, k_lo.ravel(), 0.0), cnt)
    offset = np.arange(n) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    cycle[:n] = start + offset
    return owner, cycle, n


#: the prefix-sum channels of :func:`range_tables` (``d = f - c``, ``c`` the row's first flux;
#: a table holds the first ``n_channels``)
SUM_CHANNELS = ("n", "d", "d^2", "w", "d w")
#: floor of the variance in the inverse-variance weight ``w = 1/(err^2 + WEIGHT_FLOOR)``
WEIGHT_FLOOR = 1e-10


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class RangeTables:
    """Window tables of the light-curve rows: ``sums`` (:data:`SUM_CHANNELS` of the valid
    points), ``flux`` (wavelet matrix of the flux in time order), ``centre`` (L,) the ``c`` of
    the channels, ``grid`` and ``crowd`` (static) for :func:`phase_search`."""

    sums: PrefixSums
    flux: RangeIndex
    centre: jax.Array
    grid: TimeGrid
    crowd: int = field(metadata={"static": True})


@partial(jax.jit, static_argnums=(1,))
def _device_tables(lcb, n_channels: int):
    m = lcb.mask
    c = lcb.flux[:, :1]
    d = jnp.where(m, lcb.flux - c, 0.0)
    w = jnp.where(m, 1.0 / (lcb.flux_err * lcb.flux_err + WEIGHT_FLOOR), 0.0)
    ps = build_prefix_sums(jnp.stack([m.astype(jnp.float64), d, d * d, w, d * w][:n_channels], -1))
    return ps, build_range_index(lcb.flux, m), c[:, 0]


def range_tables(lcb, n_channels: int = len(SUM_CHANNELS)) -> RangeTables:
    """:class:`RangeTables` of a :class:`~jaxvet.data.LightCurveBatch` with the first
    ``n_channels`` of :data:`SUM_CHANNELS` (cache it per run)."""
    ps, index, centre = _device_tables(lcb, int(n_channels))
    grid = time_grid(lcb.time, lcb.n_valid)
    return RangeTables(ps, index, centre, grid, crowding(lcb.time, lcb.n_valid))
