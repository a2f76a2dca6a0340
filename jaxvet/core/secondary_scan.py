"""Screen of V02's eccentric-secondary phase scan from window sums: no gather, no sort.

The scan trials a box of the candidate's duration at each phase of
:data:`jaxvet.core.secondary.SCAN_PHASES`; the exact local box
(:func:`jaxvet.core.secondary.local_box_depths`, per-event medians, pooled medians and MAD) is
measured only at the :data:`N_EXACT` trials this screen ranks first.  For event ``k`` of trial
phase ``phi`` (centre ``t_c = (t0 + phi P) + k P``, the exact rows' centre) the screen reads, on
the time-sorted light-curve row:

* index ranges found by binary search of the times (:func:`jaxvet.core.order_stats.batched_searchsorted`):
  left ring ``[t_c - hw, t_c - D/2]``, box ``(t_c - D/2, t_c + D/2)``, right ring
  ``[t_c + D/2, t_c + hw]`` (``hw`` = :func:`~jaxvet.core.secondary.local_half_width`), and the
  primary transits ``(t0 + j P - D/2, t0 + j P + D/2)``, ``j = k, k + 1``, removed from the rings;
* from double-double prefix sums (:func:`jaxvet.core.range_select.range_sums`, channels ``n``,
  ``d``, ``d^2`` of :data:`jaxvet.core.phase_ranges.SUM_CHANNELS`) the counts and the sums of
  the flux and its square over those ranges.

An event is used with >= 1 box point, >= :data:`~jaxvet.core.secondary.MIN_SIDE_POINTS` ring
points on each side and a positive ring mean ``mu``; pooled over the used events,
``depth = sum(1 - f/mu over the boxes) / n_box`` and ``sigma = depth sqrt(n_box) / s`` with
``s^2`` the mean of ``(f/mu - 1)^2`` over the rings (means and a standard deviation where the
exact box has medians and a MAD: a ranking, not a measurement).  A trial is usable when it is
farther than :data:`~jaxvet.core.secondary.SCAN_PRIMARY_EXCLUSION` durations from the primary
and has >= :data:`~jaxvet.core.secondary.MIN_BOX_POINTS` box and
:data:`~jaxvet.core.secondary.MIN_BASE_POINTS` ring points in its used events.

Cost: 4 binary searches and 7 range sums per (event, trial) and 4 searches per event, flat over
candidates (:func:`jaxvet.core.phase_ranges.plan_cycles`), one program per event-count bucket;
about 0.5 ms per candidate on the benchmark of :mod:`jaxvet.core.secondary` (against 32 exact
rows, ~120 ms).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.order_stats import batched_searchsorted
from jaxvet.core.phase_ranges import plan_cycles, range_tables
from jaxvet.core.range_select import range_sums
from jaxvet.core.secondary import (
    MAX_HALF_WIDTH_PERIODS,
    MIN_BASE_POINTS,
    MIN_BOX_POINTS,
    MIN_SIDE_POINTS,
    SCAN_PHASES,
    SCAN_PRIMARY_EXCLUSION,
    local_box_depths,
    local_half_width,
)

__all__ = ["N_EXACT", "SCREEN_CHANNELS", "tables", "segments", "screen_scan", "measure", "harmless"]

#: trials of the scan measured with the exact local box, the screen's best first
N_EXACT = 1
#: prefix-sum channels the screen reads (``n``, ``d``, ``d^2``)
SCREEN_CHANNELS = 3


def _ranges(flat, row_start, row_len, tc, t0, k, P, D, hw, n_iter):
    """Index edges ``(a0, a1, a2, a3)`` of ring, box, ring (F, T) and the two primary ranges
    ``(p_lo, p_hi)`` (F, 2) of each (event, trial)."""

    def find(q, side):
        return batched_searchsorted(flat, row_start, row_len, q, side=side, n_iter=n_iter)

    a0 = find(tc - hw, "left")
    a1 = find(tc - 0.5 * D, "right")
    a2 = find(tc + 0.5 * D, "left")
    a3 = find(tc + hw, "right")
    tp = t0 + (k + jnp.array([0.0, 1.0])) * P  # (F, 2): the primaries before and after
    return (a0, a1, a2, a3), (find(tp - 0.5 * D, "right"), find(tp + 0.5 * D, "left"))


@partial(jax.jit, static_argnames=("n_cand",))
def _screen(time, n_valid, tables, li, period, t0, duration, valid, owner, cycle, *, n_cand: int):
    """Screen sigma (B, T) and usability of every trial; see the module docstring."""
    n = time.shape[1]
    live = owner < n_cand
    o = jnp.clip(owner, 0, n_cand - 1)
    col = lambda a: a[o][:, None]  # noqa: E731
    P, T0, D, row = col(period), col(t0), col(duration), li[o]
    hw = local_half_width(P, D)
    k = cycle[:, None]
    tc = (T0 + jnp.asarray(SCAN_PHASES)[None, :] * P) + k * P
    row_start, row_len = (row * n)[:, None], n_valid[row][:, None]
    (a0, a1, a2, a3), (p_lo, p_hi) = _ranges(
        time.reshape(-1), row_start, row_len, tc, T0, k, P, D, hw, max(1, int(n).bit_length())
    )
    rr = row[:, None]
    s = lambda lo, hi: range_sums(tables.sums, rr, lo, jnp.maximum(hi, lo))  # noqa: E731

    def ring(lo, hi):  # sums over [lo, hi) less the primary ranges within it
        out = s(lo, hi)
        for j in range(2):
            e_lo = jnp.maximum(lo, p_lo[:, j : j + 1])
            out = out - s(e_lo, jnp.maximum(jnp.minimum(hi, p_hi[:, j : j + 1]), e_lo))
        return out

    left, right, box = ring(a0, a1), ring(a2, a3), s(a1, a2)
    n_l, n_r, n_b = left[..., 0], right[..., 0], box[..., 0]
    base = left + right
    n_base = base[..., 0]
    m = base[..., 1] / jnp.maximum(n_base, 1.0)  # ring mean of d = f - c
    mu = tables.centre[row][:, None] + m
    used = live[:, None] & (n_b >= 1) & (n_l >= MIN_SIDE_POINTS) & (n_r >= MIN_SIDE_POINTS) & (mu > 0)
    mu_s = jnp.where(used, mu, 1.0)
    dep = (n_b * m - box[..., 1]) / mu_s  # sum over the box of 1 - f/mu
    ss = jnp.maximum(base[..., 2] - base[..., 1] * m, 0.0) / (mu_s * mu_s)  # sum of (f/mu - 1)^2
    w = used.astype(time.dtype)
    parts = jnp.stack([w, w * n_b, w * n_base, w * dep, w * ss], -1)  # (F, T, 5)
    tot = jax.ops.segment_sum(parts, jnp.where(live, owner, n_cand), num_segments=n_cand + 1)[:n_cand]
    n_ev, nb, nbase, sdep, sss = (tot[..., i] for i in range(5))
    depth = sdep / jnp.maximum(nb, 1.0)
    sd = jnp.sqrt(sss / jnp.maximum(nbase, 1.0))
    sigma = jnp.where(sd > 0, depth * jnp.sqrt(nb) / jnp.where(sd > 0, sd, 1.0), jnp.nan)
    ph = jnp.asarray(SCAN_PHASES)[None, :]
    allowed = jnp.minimum(ph, 1.0 - ph) >= SCAN_PRIMARY_EXCLUSION * (duration / period)[:, None]
    measured = valid[:, None] & (nb >= MIN_BOX_POINTS) & (nbase >= MIN_BASE_POINTS) & (n_ev >= 1)
    usable = allowed & measured & jnp.isfinite(sigma)
    return jnp.where(usable, sigma, -jnp.inf), usable


def tables(lcb):
    """The screen's :func:`~jaxvet.core.phase_ranges.range_tables` of ``lcb`` (cache it per run)."""
    return range_tables(lcb, SCREEN_CHANNELS)


def segments(lcb):
    """``(seg_lo, seg_hi)`` of a :class:`~jaxvet.data.LightCurveBatch` on the host."""
    return np.asarray(lcb.seg_lo), np.asarray(lcb.seg_hi)


def screen_scan(lcb, cb, tables, segs=None, *, n_exact: int = N_EXACT):
    """Rank the scan trials of every candidate of ``cb`` by the screen (module docstring).

    ``tables``: :func:`jaxvet.core.phase_ranges.range_tables` of ``lcb`` with at least
    :data:`SCREEN_CHANNELS` channels; ``segs``: :func:`segments` of ``lcb`` (made if None).
    Returns host arrays: ``phase`` (B, n_exact) the best trials' phases (values of
    ``SCAN_PHASES``), best first (ties: the lower phase), their usability (B, n_exact) and
    ``n_trials`` (B,) usable trials.
    """
    segs = segments(lcb) if segs is None else segs
    host = jax.device_get({"li": cb.lc_index, "p": cb.period, "t0": cb.t0, "d": cb.duration, "ok": cb.valid})
    with np.errstate(all="ignore"):
        reach = np.clip(np.minimum(2.5 * host["d"], MAX_HALF_WIDTH_PERIODS * host["p"]) / host["p"], 0.0, 0.5)
    lo, hi = SCAN_PHASES[0] - reach, SCAN_PHASES[-1] + reach
    owner, cycle, _ = plan_cycles(*segs, host["li"], host["p"], host["t0"], host["ok"], lo, hi)
    score, usable = _screen(
        lcb.time, lcb.n_valid, tables, cb.lc_index, cb.period, cb.t0, cb.duration, cb.valid,
        jnp.asarray(owner), jnp.asarray(cycle), n_cand=cb.size,
    )  # fmt: skip
    score, usable = (np.asarray(x) for x in jax.device_get((score, usable)))
    best = np.argsort(-score, axis=1, kind="stable")[:, :n_exact]
    trial = np.asarray(SCAN_PHASES)[best]
    return trial, np.take_along_axis(usable, best, axis=1), usable.sum(axis=1).astype(np.int32)


def measure(lcb, cb, tabs=None, segs=None, *, min_epochs: int = 4):
    """V02's local boxes: :func:`~jaxvet.core.secondary.local_box_depths` at phase 0.5, at 0
    and at the :data:`N_EXACT` trials ranked first by :func:`screen_scan`, in one call.

    ``tabs``/``segs``: :func:`tables` / :func:`segments` of ``lcb`` (made if None).  Returns
    ``(secondary, primary, scan)``, ``scan`` the arguments of
    :func:`~jaxvet.core.secondary.scan_best` before the period and duration."""
    tabs = tables(lcb) if tabs is None else tabs
    trial, usable, n_trials = screen_scan(lcb, cb, tabs, segs)  # (B, N_EXACT)
    phases = (0.5, 0.0, *trial.T)
    sec, pri, *rows = local_box_depths(lcb, cb, phases, min_epochs=min_epochs, flux_index=tabs.flux)
    return sec, pri, (rows, tuple(trial.T), tuple(usable.T), n_trials)


def harmless(cb, rows):
    """``cb`` with the given rows made invalid, with period 1 d, duration 0.1 d (so that their
    epochs are never planned)."""
    bad = jnp.asarray(rows)
    return dataclasses.replace(
        cb,
        period=jnp.where(bad, 1.0, cb.period),
        t0=jnp.where(bad, 0.0, cb.t0),
        duration=jnp.where(bad, 0.1, cb.duration),
        valid=cb.valid & ~bad,
    )
