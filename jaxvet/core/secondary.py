"""Local box depth at a given orbital phase, against a baseline on either side of each event.

V02's reference statistic compares the median flux of a window 0.3 in phase wide with the
median of two windows 0.15 wide beside it, so on a star with a rotational (spot) wave the
trough of the wave reads as a deep "secondary".  This kernel measures a box of the candidate's
duration instead, event by event, against the points just around it (the primary checks' rule,
:mod:`jaxvet.core.epochs`):

* event ``k`` is centred at ``t_c = t0 + (k + phase) P``; its box holds the points with
  ``|t - t_c| < D/2`` and its baseline those with ``D/2 <= |t - t_c| <= hw`` that are not within
  ``D/2`` of the opposite conjunction (``min(psi, 1 - psi) < 0.5 D/P`` with
  ``psi = ((t - t_c)/P + 1/2) mod 1``: the primary transit for a box at phase 0.5),
  ``hw = min((1/2 + BASELINE_DURATIONS) D, MAX_HALF_WIDTH_PERIODS P)``;
* an event is used when it has at least one box point and :data:`MIN_SIDE_POINTS` baseline
  points on each side and a positive baseline median; its fluxes are divided by that median
  (a slow stellar wave, different at each event, cancels to first order);
* pooled over the used events: ``depth = 1 - median(box)``, ``scatter = 1.4826 MAD`` of the
  baseline residuals, ``err = scatter / sqrt(n_box) * beta`` with the binned-residual red-noise
  factor ``beta`` (Pont, Zucker & Queloz 2006) of the baseline residuals in bins of ``D/2``
  (each event's ring cut into bins from ``t_c - hw``), 1.5 when it cannot be estimated;
  ``sigma = depth / err`` (signed: negative for a brightening);
* measured only with at least :data:`MIN_BOX_POINTS` box and :data:`MIN_BASE_POINTS`
  baseline points (else every value is NaN and ``measured`` is False).

The points are gathered per event (:func:`jaxvet.core.windows.gather_packed`: all windows of a
candidate in one padded, time-ordered row), so the cost follows the windows, not the light
curve.  No sort: each event's baseline median comes from the flux wavelet matrix
(:func:`jaxvet.core.range_select.ranges_kth` over the event's at most 4 runs of consecutive
light-curve points, :func:`_event_medians`); the pooled box median, baseline-residual median
and MAD by bisection on the values' order keys (a counting pass over the row per key bit,
:func:`jaxvet.core.order_stats.masked_median_by_keys`); the red-noise bins (kept with >= 3
points, >= 3 bins needed;
:func:`jaxvet.core.noise.beta_from_bins`) from a sorted segment sum over (event, bin) ids.  Each
call sizes one epoch axis for the whole batch and a packed width per row (bucketed), so it
compiles one program per width bucket present (:func:`local_box_depths`).  A binned profile of
the normalised flux over ``[-hw, hw]`` (:data:`PROFILE_BINS` bins) is returned for plots.

The eccentric scan (:data:`SCAN_PHASES`) is ranked by a sum-based screen
(:func:`jaxvet.core.secondary_scan.screen_scan`) and this box is measured only at its best
trial; :func:`scan_best` reports it.  Measured cost (CPU, 2 cores, TOI-5807's 73,805 points,
``benchmarks/results/checks_ab_v02_cpu.json``): about 3.7 ms per (candidate, phase) row for
P 1-20 d, D 1-6 h, three rows per candidate (0.5, 0 and the screened trial).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.noise import beta_from_bins
from jaxvet.core.order_stats import (
    MAD_TO_SIGMA,
    masked_median_by_keys,
    take_rows,
)
from jaxvet.core.range_select import RangeIndex, build_range_index, ranges_kth
from jaxvet.core.windows import gather_packed, plan_windows
from jaxvet.data import CandidateBatch, LightCurveBatch, bucket_size
from jaxvet.engine.chunks import map_groups, rows_per_chunk

__all__ = [
    "BASELINE_DURATIONS",
    "MAX_HALF_WIDTH_PERIODS",
    "MIN_SIDE_POINTS",
    "MIN_BOX_POINTS",
    "MIN_BASE_POINTS",
    "DEFAULT_INFLATION",
    "PROFILE_BINS",
    "local_half_width",
    "local_box_depths",
    "SCAN_PHASES",
    "SCAN_PRIMARY_EXCLUSION",
    "scan_best",
    "look_elsewhere_sigma",
    "eccentric_secondary",
]

#: baseline ring width on each side of the box, in transit durations
BASELINE_DURATIONS = 2.0
#: the window half-width never exceeds this fraction of the period (windows do not overlap)
MAX_HALF_WIDTH_PERIODS = 0.45
#: an event is used with at least this many baseline points on each side of its box
MIN_SIDE_POINTS = 3
#: a depth is measured with at least this many box points over the used events ...
MIN_BOX_POINTS = 10
#: ... and this many baseline points
MIN_BASE_POINTS = 20
#: red-noise factor when it cannot be estimated (the reference V02's default)
DEFAULT_INFLATION = 1.5
#: bins of the local profile over [-hw, hw]
PROFILE_BINS = 50

#: trial phases of the eccentric-secondary scan: a fixed number over [0.2, 0.8] (one shape)
SCAN_PHASES = tuple(float(x) for x in np.linspace(0.2, 0.8, 32))
#: trial phases closer to the primary than this many durations are skipped
SCAN_PRIMARY_EXCLUSION = 1.5
#: phase span of the scan (independent trials: span / (D/P), at most the number of phases)
SCAN_SPAN = 0.6

#: share of the element budget per chunk array on a CPU (see :func:`_chunk_scale`)
CPU_CHUNK_SCALE = 1 / 64

#: packed-row widths are MIN_WIDTH * LADDER**k: few compiled shapes, a row padded < 2x
MIN_WIDTH = 256
LADDER = 2

#: red-noise bins per event: > the largest bin index 2 hw / (D/2) <= 10
_RN_BIN_STRIDE = 16


def local_half_width(period, duration):
    """Window half-width ``min((1/2 + BASELINE_DURATIONS) D, 0.45 P)`` (days)."""
    return jnp.minimum((0.5 + BASELINE_DURATIONS) * duration, MAX_HALF_WIDTH_PERIODS * period)


def _event_medians(flux_index, lc_index, index, base, ev, n_base_e, n_slots: int):
    """numpy median of the flux of each event's baseline points (B, n_slots; 1 where none).

    An event's baseline points are at most 4 runs of consecutive light-curve points (two rings,
    each cut by at most one excluded conjunction), read off the packed row (``index``: each
    point's position in its light-curve row, ``ev`` its event slot); the median of each event's
    union of runs comes from the flux wavelet matrix (:func:`jaxvet.core.range_select.ranges_kth`),
    O(runs log N), no sort."""
    b, w = index.shape
    cap = 4 * n_slots
    prev = jnp.pad(base, ((0, 0), (1, 0)))[:, :-1]
    prev_ev = jnp.pad(ev, ((0, 0), (1, 0)), constant_values=-1)[:, :-1]
    prev_ix = jnp.pad(index, ((0, 0), (1, 0)), constant_values=-2)[:, :-1]
    start = base & ~(prev & (prev_ev == ev) & (prev_ix + 1 == index))
    nxt = jnp.pad(start, ((0, 0), (0, 1)), constant_values=True)[:, 1:]
    nxt_base = jnp.pad(base, ((0, 0), (0, 1)))[:, 1:]
    end = base & (nxt | ~nxt_base)
    run = jnp.cumsum(start, axis=1, dtype=jnp.int32) - 1
    rows = jnp.broadcast_to(jnp.arange(b, dtype=jnp.int32)[:, None], (b, w))
    put = lambda on, val, fill: (  # noqa: E731
        jnp.full((b, cap), fill, jnp.int32).at[rows, jnp.where(on, run, cap)].set(val, mode="drop")
    )
    lo = put(start, index, 0)
    hi = put(end, index + 1, 0)
    grp = put(start, rows * n_slots + ev, -1)
    n_e = n_base_e.reshape(-1)
    row = jnp.repeat(lc_index, n_slots)
    one = jnp.ones((b * cap,), jnp.int32)
    kth = lambda k: ranges_kth(  # noqa: E731
        flux_index, row, lo.reshape(-1), hi.reshape(-1), one, grp.reshape(-1), jnp.clip(k, 0, None)
    )
    med = 0.5 * (kth((n_e - 1) // 2) + kth(n_e // 2))
    return jnp.where(n_e > 0, med, 1.0).reshape(b, n_slots)


def _local_kernel(cb, pw, n_slots: int, excl, flux_index):
    """Per-candidate local box depth; ``cb.t0`` is already shifted to the box centres,
    ``n_slots`` is the epoch axis of the plan (``pw.slot < n_slots``) and ``excl`` (B,) the
    phase, from the box centre, of the conjunction kept out of the baseline."""
    col = lambda a: a[:, None]  # noqa: E731
    P, D = col(cb.period), col(cb.duration)
    hw = local_half_width(P, D)
    m = pw.mask
    t, f = pw.time, pw.flux
    dt = t - (col(cb.t0) + pw.epoch * P)
    box = m & (jnp.abs(dt) < 0.5 * D)
    # the conjunction kept out of the baseline: the primary transit for a box at any phase
    # but 0, the secondary (half an orbit away) for the primary box
    u = (t - col(cb.t0)) / P + col(excl)
    ph = u - jnp.floor(u)  # u mod 1 (jnp.mod's value but at integers, where -0.0 and +0.0 agree)
    prim = jnp.minimum(ph, 1.0 - ph) < 0.5 * D / P
    base = m & ~box & (jnp.abs(dt) <= hw) & ~prim

    # ---- events: the epoch slots of the packed row (E on padding) ----------------------------
    ev = jnp.where(m, pw.slot, n_slots)
    ev_c = jnp.minimum(ev, n_slots - 1)
    # segment ids that never decrease along the row (events and their bins are in time order,
    # padding last): a sorted segment sum
    seg = jax.vmap(
        lambda x, s, k: jax.ops.segment_sum(x, s, num_segments=k + 1, indices_are_sorted=True)[:k],
        in_axes=(0, 0, None),
    )
    counts = seg(jnp.stack([box, base & (dt < 0), base & (dt > 0)], -1).astype(jnp.int32), ev, n_slots)
    n_box_e, n_left_e, n_right_e = counts[..., 0], counts[..., 1], counts[..., 2]
    n_base_e = n_left_e + n_right_e

    # per-event baseline medians: wavelet-matrix selection over each event's baseline runs
    med_e = _event_medians(flux_index, cb.lc_index, pw.index, base, ev, n_base_e, n_slots)
    sides = (n_left_e >= MIN_SIDE_POINTS) & (n_right_e >= MIN_SIDE_POINTS)
    used_e = (n_box_e >= 1) & sides & (med_e > 0)
    used_p = m & take_rows(used_e, ev_c)
    b_p = take_rows(med_e, ev_c)
    b_p = jnp.where(used_p & (b_p != 0), b_p, 1.0)
    g = f / b_p
    box_u, base_u = box & used_p, base & used_p

    # ---- pooled depth and scatter ----------------------------------------------------------------
    med_box, n_box = masked_median_by_keys(g, box_u)
    r = g - 1.0
    med_r, n_base = masked_median_by_keys(g, base_u, 1.0)  # the median of r = g - 1
    mad, _ = masked_median_by_keys(jnp.abs(r - col(med_r)), base_u)
    scatter = jnp.where(n_base >= 2, mad * MAD_TO_SIGMA, 0.0)
    n_events = jnp.sum(used_e, axis=1, dtype=jnp.int32)
    measured = cb.valid & (n_box >= MIN_BOX_POINTS) & (n_base >= MIN_BASE_POINTS) & (n_events >= 1)

    # ---- red noise: bins of D/2 over [t_c - hw, t_c + hw] of each event -----------------------
    j = jnp.clip(jnp.floor((dt + hw) / (0.5 * D)), 0, _RN_BIN_STRIDE - 1).astype(jnp.int32)
    n_rn = n_slots * _RN_BIN_STRIDE
    bid = jnp.where(m, ev_c * _RN_BIN_STRIDE + j, n_rn)  # non-decreasing; payload 0 off base_u
    sums = seg(jnp.stack([base_u.astype(f.dtype), jnp.where(base_u, r, 0.0)], -1), bid, n_rn)
    beta, rn_ok, _ = beta_from_bins(sums[..., 0], sums[..., 1], sums[..., 0] > 0, n_base >= 20, scatter)
    inflation = jnp.where(rn_ok, beta, DEFAULT_INFLATION)

    depth = 1.0 - med_box
    err = scatter / jnp.sqrt(jnp.maximum(n_box, 1).astype(f.dtype)) * inflation
    sigma = jnp.where(err > 0, depth / jnp.where(err > 0, err, 1.0), jnp.nan)

    # ---- profile for plots -------------------------------------------------------------------
    pb = jnp.clip(jnp.floor((dt + hw) / (2 * hw) * PROFILE_BINS), 0, PROFILE_BINS - 1).astype(jnp.int32)
    in_prof = box_u | base_u
    pb = jnp.where(in_prof, pb, PROFILE_BINS)
    prof = jax.vmap(lambda x, s: jax.ops.segment_sum(x, s, num_segments=PROFILE_BINS + 1)[:PROFILE_BINS])(
        jnp.stack([in_prof.astype(f.dtype), jnp.where(in_prof, g, 0.0)], -1), pb
    )
    nan = jnp.nan
    return {
        "measured": measured,
        "depth": jnp.where(measured, depth, nan),
        "err": jnp.where(measured, err, nan),
        "sigma": jnp.where(measured, sigma, nan),
        "scatter": jnp.where(measured, scatter, nan),
        "inflation": jnp.where(measured, inflation, nan),
        "red_noise_ok": rn_ok,
        "n_box": n_box,
        "n_base": n_base,
        "n_events": n_events,
        "n_events_planned": jnp.sum(n_box_e + n_base_e > 0, axis=1, dtype=jnp.int32),
        "half_width": hw[:, 0],
        "profile_count": prof[..., 0].astype(jnp.int32),
        "profile_flux": jnp.where(prof[..., 0] > 0, prof[..., 1] / jnp.maximum(prof[..., 0], 1.0), nan),
    }


@partial(jax.jit, static_argnames=("width",))
def _apply(lcb, cb, epoch, start, count, excl, flux_index, *, width: int):
    """Gather the packed windows of a chunk and measure them (one program per shape)."""
    pw = gather_packed(lcb, cb, epoch, start, count, width=width)
    return _local_kernel(cb, pw, epoch.shape[1], excl, flux_index)


def local_box_depths(
    lcb: LightCurveBatch,
    cb: CandidateBatch,
    phases=(0.5, 0.0),
    *,
    min_epochs: int = 4,
    flux_index: RangeIndex | None = None,
) -> list[dict]:
    """Local box depth of every candidate at each orbital phase of ``phases`` (0 = primary,
    0.5 = secondary; each a scalar or a (B,) array of per-candidate phases), all in one pass.

    Returns one dict of ``(B,)`` arrays per phase (``profile_*`` are ``(B, PROFILE_BINS)``):
    ``measured``, ``depth``, ``err``, ``sigma``, ``scatter``, ``inflation``, ``red_noise_ok``,
    ``n_box``, ``n_base``, ``n_events`` (used), ``n_events_planned`` (with any window point),
    ``half_width`` (days).  One host plan (:func:`jaxvet.core.windows.plan_windows`) gives each
    (candidate, phase) row its packed width (``256 * 2**k`` >= its window points); rows of one
    width are measured in equal chunks within the engine's element budget, so a call compiles
    one program per width bucket present (a few) and a row's cost follows its own windows, not
    the widest row's; ``min_epochs`` floors the (bucketed) epoch axis.
    """
    b = cb.size
    if flux_index is None:
        flux_index = build_range_index(lcb.flux, lcb.mask)
    phs = [np.broadcast_to(np.asarray(ph, np.float64), (b,)) for ph in phases]
    parts = [dataclasses.replace(cb, t0=cb.t0 + jnp.asarray(ph) * cb.period) for ph in phs]
    excl_all = np.concatenate([_excluded_phase(ph) for ph in phs])
    stacked = jax.tree.map(lambda *a: jnp.concatenate(a, axis=0), *parts)
    n = stacked.size
    plan = plan_windows(
        lcb,
        stacked,
        local_half_width(stacked.period, stacked.duration),
        plan_half_width=0.5 * stacked.duration,
    )
    count = np.where(plan.valid, plan.count, 0).astype(np.int32)
    epoch, start = plan.epoch, plan.start
    extra = bucket_size(max(int(min_epochs), epoch.shape[1]), 4) - epoch.shape[1]
    if extra > 0:  # a pinned epoch axis: the same programs for every batch of a campaign
        epoch, start, count = (np.pad(a, ((0, 0), (0, extra))) for a in (epoch, start, count))
    widths = np.array([_ladder(int(x)) for x in count.sum(axis=1)], dtype=np.int64)
    groups = []
    for width in sorted(set(widths.tolist())):
        rows = np.nonzero(widths == width)[0]
        sub = max(1, rows_per_chunk(width, scale=_chunk_scale(), cap=bucket_size(rows.size, 1)))
        groups += [((width, sub), rows[lo : lo + sub]) for lo in range(0, rows.size, sub)]

    def run(key, rows):
        width, sub = key
        real = np.arange(sub) < rows.size
        idx = np.concatenate([rows, np.full(sub - rows.size, rows[0])])
        chunk = stacked.take(idx)
        chunk = dataclasses.replace(chunk, valid=chunk.valid & jnp.asarray(real))
        cnt = np.where(real[:, None], count[idx], 0)
        return _apply(lcb, chunk, epoch[idx], start[idx], cnt, excl_all[idx], flux_index, width=width)

    out = map_groups(run, groups, n)
    return [jax.tree.map(lambda a, k=k: a[k * b : (k + 1) * b], out) for k in range(len(phases))]


def _chunk_scale() -> float:
    """Share of the engine's element budget one chunk's (rows, width) arrays may use: on a CPU
    1/64 (2**16 elements), so that the ~150 counting passes of
    :func:`jaxvet.core.order_stats.masked_median_by_keys` stay in
    cache (1.45x faster than 1/8 on the benchmark); 1/8 elsewhere."""
    return CPU_CHUNK_SCALE if jax.default_backend() == "cpu" else 1 / 8


def _excluded_phase(phase: np.ndarray) -> np.ndarray:
    """Phase from a box at ``phase`` to the conjunction kept out of its baseline: the primary
    (``phase`` itself), or the secondary (0.5) for the primary box."""
    return np.where(np.mod(phase, 1.0) == 0.0, 0.5, phase)


def _ladder(n: int) -> int:
    """Smallest ``MIN_WIDTH * LADDER**k >= n``."""
    size = MIN_WIDTH
    while size < n:
        size *= LADDER
    return size


def scan_best(scan: list[dict], phase, usable, n_trials, period, duration) -> dict:
    """The most significant of the exactly measured trials of the phase scan: ``scan[j]`` is
    :func:`local_box_depths` at the (B,) trial phases ``phase[j]`` (values of
    :data:`SCAN_PHASES`, ranked by :func:`jaxvet.core.secondary_scan.screen_scan`), ``usable[j]``
    (B,) the screen's usability (farther than ``SCAN_PRIMARY_EXCLUSION`` durations from the
    primary, enough points); trials not usable or not measured are skipped.  Returns ``(B,)``
    arrays ``phase``, ``depth``, ``err``, ``sigma`` (signed; NaN with no usable trial),
    ``n_trials`` (the screen's usable trials, passed through) and ``n_eff`` (independent trials,
    ``clip(SCAN_SPAN P/D, 1, len(SCAN_PHASES))``)."""
    ph = jnp.stack([jnp.asarray(p) for p in phase])
    sig = jnp.stack([s["sigma"] for s in scan])
    dp = duration / period
    ok = jnp.stack([jnp.asarray(u) for u in usable]) & jnp.isfinite(sig)
    k = jnp.argmax(jnp.where(ok, sig, -jnp.inf), axis=0)
    found = jnp.any(ok, axis=0)

    def pick(a):
        return jnp.where(found, jnp.take_along_axis(a, k[None], axis=0)[0], jnp.nan)

    return {
        "phase": pick(ph),
        "depth": pick(jnp.stack([s["depth"] for s in scan])),
        "err": pick(jnp.stack([s["err"] for s in scan])),
        "sigma": pick(sig),
        "n_trials": jnp.asarray(n_trials, jnp.int32),
        "n_eff": jnp.clip(SCAN_SPAN / dp, 1.0, float(len(SCAN_PHASES))),
    }


def look_elsewhere_sigma(sigma, n_eff):
    """The one-sided Gaussian threshold whose false-alarm probability over ``n_eff`` independent
    trials equals that of ``sigma`` for one: ``-ndtri(ndtr(-sigma) / n_eff)`` (3 sigma over 32
    trials: 3.93 sigma)."""
    return -jax.scipy.special.ndtri(jax.scipy.special.ndtr(-sigma) / n_eff)


def eccentric_secondary(sb, primary, *, sigma_threshold, occultation_fraction, duration_phase):
    """V02's scan rule: a dip (``sb`` from :func:`scan_best`) with ``sigma`` at or above the
    look-elsewhere threshold for ``sigma_threshold`` (:func:`look_elsewhere_sigma`), more than
    ``duration_phase`` (D/P) from phase 0.5, and not shallower than ``occultation_fraction``
    times the ``primary`` depth (NaN: unknown).  Returns (flag, threshold)."""
    thr = look_elsewhere_sigma(sigma_threshold, sb["n_eff"])
    occultation_like = jnp.isfinite(primary) & (sb["depth"] < occultation_fraction * primary)
    away = jnp.abs(sb["phase"] - 0.5) > duration_phase
    return (sb["depth"] > 0) & (sb["sigma"] >= thr) & away & ~occultation_like, thr
