"""V02 secondary eclipse: a dip at orbital phase 0.5, batched over candidates.

An eclipsing binary (or a blended one) usually shows a second eclipse half an orbit after
the first; a planet shows at most a tiny occultation.  The statistic follows the reference
library (tess-vetter 0.3.20, docs/checks.md), which itself follows the secondary
eclipse search of Coughlin & Lopez-Morales (2012, AJ 143, 39) and the Kepler Robovetter's
"significant secondary" test (Thompson et al. 2018, ApJS 235, 38), with the correlated-noise
inflation of Pont, Zucker & Queloz (2006, MNRAS 373, 231) and a window widened to catch the
phase offsets of eccentric binaries (Santerne et al. 2013, A&A 557, A139):

* phase ``phi = ((t - t0)/P) mod 1``; the secondary window is the open interval (0.35, 0.65);
  the local baseline is (0.2, 0.35) U (0.65, 0.8) (the reference's ``max(0.10, 0.35-0.15)``
  evaluates to 0.19999999999999998 in floating point, and that exact value is used);
* fewer than 10 secondary or baseline points: insufficient data (confidence 0.3);
* ``depth = 1 - median(secondary)/median(baseline)``;
  ``err = 1.4826 MAD(baseline)/sqrt(n_secondary)/median(baseline) * beta``, where ``beta`` is
  the binned-residual red-noise factor of the baseline points with bins of ``P/10`` over the
  whole baseline span (1.5 when it cannot be estimated or when there are < 20 baseline
  points); ``sigma = |depth|/err``;
* events = distinct ``floor((t - t0)/P)`` among secondary points; coverage = fraction of the
  20 equal phase bins over [0.35, 0.65] holding a secondary point;
* confidence: 0.85 / 0.7 / 0.55 / 0.4 by coverage and events, +0.1 (cap 0.9) if sigma >= 5
  or +0.05 (cap 0.85) if sigma >= 3, x0.9 if any warning, clamped to [0.2, 0.95], 3 dp.

The reference's 0.3-wide window dilutes a short secondary and reads a slow stellar wave as an
eclipse, so jaxvet also measures it *locally* (:mod:`jaxvet.core.secondary`): a box of the
candidate's duration at phase 0.5 against a ring of ``2 D`` on either side, each event
normalised by its own baseline median, pooled over the events (``secondary_local_*``, None
where not measured; the reference's fields kept beside it).  ``primary_depth_used_ppm`` is
the candidate's ``depth_ppm``, or else the same local box measured at phase 0.

Verdict (jaxvet's own rule, on the local measurement; the reference is metrics-only):

* ``insufficient`` -- the local secondary was not measured (< 10 box or < 20 baseline points
  in the usable events);
* ``fail`` -- a significant dip, ``secondary_local_depth > 0`` and
  ``secondary_local_depth_sigma >= 3`` (option ``sigma_threshold``), unless the next rule applies;
* ``warn`` -- the same significant dip, but shallower than ``occultation_fraction`` (default
  0.1) times ``primary_depth_used_ppm``: a planetary occultation/thermal emission (hot
  Jupiters) cannot be told from a faint eclipsing companion without a model, so it is flagged
  rather than failed;
* ``pass`` -- otherwise (including a significant *brightening* at phase 0.5, which is reported
  as measured with the flag ``NEGATIVE_SECONDARY_DEPTH``);
* the eccentric scan: 32 trial phases over [0.2, 0.8] (within 1.5 D of the primary skipped)
  ranked by a sum-based screen (:mod:`jaxvet.core.secondary_scan`), the local box measured at
  the best one (``secondary_scan_*``); ``fail`` with ``ECCENTRIC_SECONDARY`` for a dip more than
  D/P from 0.5, not occultation-like, with sigma >= ``-ndtri(ndtr(-sigma_threshold)/n_eff)``,
  ``n_eff = clip(0.6 P/D, 1, 32)`` independent trials (3.93 for 32 trials at 3 sigma).

Where the reference window holds too few points it writes 0.0 for the depth, error, sigma,
coverage and events; jaxvet writes None.

Implementation.  The reference's windows cover 60% of the phase, so its statistic is one masked
pass over the ``(B, N)`` phase array, in sub-batches (``B_sub * max(N, bins) <= 2**24`` elements
on accelerators, ``2**18`` on CPU), in flux order (each light curve sorted once,
:func:`presort_flux`): a count tree over the secondary/baseline masks (fan-out 16) gives the
medians, and the baseline MAD by bisection over the same tree.  Events and coverage come from
one scatter over (orbit, coverage bin) cells; the red-noise bins (exact ``np.linspace`` edges)
from a segment sum whose static capacity is bucketed on the host
(:func:`static_capacities`).  Integer intermediates are cast to float64 before any division.

``plot_data`` (unlike the reference's every (N//200)-th point) is the light curve in 200 phase
bins (empty dropped): centre ``phase``, mean ``flux`` / baseline median, ``flux_err`` = (baseline
robust std / baseline median)/sqrt(points in bin).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core import order_stats, secondary_scan
from jaxvet.core import secondary as sec_kernel
from jaxvet.core.noise import beta_from_bins
from jaxvet.core.numerics import exact_div, linspace_edge
from jaxvet.core.order_stats import MAD_TO_SIGMA, RankIndex, bisect_steps, rank_index_abs_deviation
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import element_budget, rows_per_chunk
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, non_negative, option
from jaxvet.errors import JaxvetInputError
from jaxvet.results import STATUS_CODES, VERDICT_CODES, VERDICT_NONE, CheckResult, error_result, verdict_name

__all__ = ["SPEC", "V02Options", "presort_flux", "secondary_eclipse", "static_capacities"]

ID = "V02"
NAME = "Secondary Eclipse"

# -- reference constants (SecondaryEclipseConfig defaults), evaluated exactly as it does --------
SECONDARY_CENTER = 0.5
SECONDARY_HALF_WIDTH = 0.15
BASELINE_HALF_WIDTH = 0.15
SEC_LO = SECONDARY_CENTER - SECONDARY_HALF_WIDTH
SEC_HI = SECONDARY_CENTER + SECONDARY_HALF_WIDTH
BASE_LO = max(0.10, SEC_LO - BASELINE_HALF_WIDTH)
BASE_HI = min(0.90, SEC_HI + BASELINE_HALF_WIDTH)
MIN_SECONDARY_POINTS = 10
MIN_BASELINE_POINTS = 10
MIN_SECONDARY_EVENTS = 2
MIN_PHASE_COVERAGE = 0.3
N_COVERAGE_BINS = 20
DEFAULT_INFLATION = 1.5
MIN_RED_NOISE_BASELINE = 20
COVERAGE_EDGES = np.linspace(SEC_LO, SEC_HI, N_COVERAGE_BINS + 1)
COVERAGE_STEP = (SEC_HI - SEC_LO) / N_COVERAGE_BINS

#: phase bins of the binned light curve in ``plot_data``
N_PLOT_BINS = 200
#: share of the engine's element budget (:func:`jaxvet.engine.chunks.element_budget`) one
#: candidate sub-batch (B_sub x max(N, bins)) may use on a CPU: the per-candidate kernel holds many
#: light-curve-length intermediates and runs fastest on small, cache-resident sub-batches
CPU_BUDGET_SCALE = 1 / 16


def _budget_scale() -> float:
    return CPU_BUDGET_SCALE if jax.default_backend() == "cpu" else 1.0


SUMMARY = (
    "secondary_depth_ppm",
    "secondary_depth_err_ppm",
    "secondary_depth_sigma",
    "secondary_phase_coverage",
    "n_secondary_events_effective",
    "red_noise_inflation",
    "confidence",
    "secondary_local_depth_ppm",
    "secondary_local_depth_err_ppm",
    "secondary_local_depth_sigma",
    "secondary_local_n_events",
)


# ----------------------------------------------------------------------------------------------
# device kernels
# ----------------------------------------------------------------------------------------------
def presort_flux(time, flux, mask):
    """Each row's valid flux sorted ascending (+inf padding last) and the times in that order
    (:func:`jaxvet.core.order_stats.sort_by_value`, exact stable order)."""
    return order_stats.sort_by_value(flux, mask, time, exact=True)


@jax.jit
def _row_extent(time, mask):
    """First and last valid time of each row (0 for an empty row)."""
    has = jnp.any(mask, axis=-1)
    tmin = jnp.min(jnp.where(mask, time, jnp.inf), axis=-1)
    tmax = jnp.max(jnp.where(mask, time, -jnp.inf), axis=-1)
    return jnp.where(has, tmin, 0.0), jnp.where(has, tmax, 0.0)


def _coverage_edge(i):
    """``np.linspace(SEC_LO, SEC_HI, 21)[i]`` bit for bit, ``0 <= i <= 20``.

    The edges are compile-time constants, so they are looked up in numpy's own table: with a
    constant step XLA's CPU back end rewrites the compiled ``i*step + start`` (even with
    :func:`~jaxvet.core.numerics.rounded_mul` or an optimisation barrier) and three of the 21
    edges come out one ulp off."""
    return jnp.asarray(COVERAGE_EDGES)[jnp.clip(i, 0, N_COVERAGE_BINS)]


def _red_noise_edge(i, tmin, step, n_bins, tmax):
    """``np.linspace(tmin, tmax, n_bins + 1)[i]`` bit for bit (``step = (tmax - tmin)/n_bins``),
    ``-inf`` for ``i < 0`` and ``+inf`` for ``i > n_bins``."""
    inner = linspace_edge(tmin, step, i, n_bins, tmax)
    return jnp.where(i < 0, -jnp.inf, jnp.where(i <= n_bins, inner, jnp.inf))


def _phase_sets(tf, n_lc, period, t0):
    """``x = (t - t0)/P``, the unit phase and the secondary / baseline selections (flux order)."""
    n = tf.shape[-1]
    valid = jnp.arange(n, dtype=jnp.int32) < n_lc
    x = (tf - t0) / period
    # ((t - t0)/P) mod 1 exactly as numpy/jnp.mod computes it: x - trunc(x) is the exact fmod(x, 1)
    # (the fractional part of a double is representable), without a libm fmod call per point
    frac = x - jnp.trunc(x)
    ph = jnp.where(frac < 0, frac + 1.0, frac)
    sec = valid & (ph > SEC_LO) & (ph < SEC_HI)
    base = valid & (((ph > BASE_LO) & (ph < SEC_LO)) | ((ph > SEC_HI) & (ph < BASE_HI)))
    return valid, x, ph, sec, base


def _medians_and_scatter(sf, sec, base, n_iter):
    """Medians of the secondary and baseline sets and the baseline's robust scatter."""
    tree = RankIndex(sf, jnp.stack([sec, base]))
    n_sec, n_base = tree.count[0], tree.count[1]
    mids = tree.lookup(
        jnp.array([0, 0, 1, 1]), jnp.stack([(n_sec - 1) // 2, n_sec // 2, (n_base - 1) // 2, n_base // 2])
    )
    med_sec = jnp.where(n_sec > 0, 0.5 * (mids[0] + mids[1]), jnp.nan)
    med_base = jnp.where(n_base > 0, 0.5 * (mids[2] + mids[3]), jnp.nan)
    mad2 = rank_index_abs_deviation(tree, 1, med_base, jnp.stack([(n_base - 1) // 2, n_base // 2]), n_iter)
    mad = 0.5 * (mad2[0] + mad2[1])
    return n_sec, n_base, med_sec, med_base, jnp.where(n_base >= 2, mad * MAD_TO_SIGMA, 0.0)


def _events_and_coverage(x, ph, sec, t_first, period, t0, max_epochs):
    """Orbits with secondary-window data and the covered fraction of the 20 coverage bins."""
    ep_rel = (jnp.floor(x) - jnp.floor((t_first - t0) / period)).astype(jnp.int32)
    kc = jnp.clip(jnp.floor((ph - SEC_LO) * (1.0 / COVERAGE_STEP)), 0, N_COVERAGE_BINS - 1).astype(jnp.int32)
    # exact np.histogram bin: compare with the np.linspace edges (the estimate is off by <= 1)
    kc = jnp.where(ph < _coverage_edge(kc), kc - 1, jnp.where(ph >= _coverage_edge(kc + 1), kc + 1, kc))
    kc = jnp.clip(kc, 0, N_COVERAGE_BINS - 1)
    cells = max_epochs * N_COVERAGE_BINS
    cell = jnp.where(sec & (ep_rel >= 0) & (ep_rel < max_epochs), ep_rel * N_COVERAGE_BINS + kc, cells)
    occ = jax.ops.segment_sum(sec.astype(jnp.int32), cell, num_segments=cells + 1)[:cells]
    occ = occ.reshape(max_epochs, N_COVERAGE_BINS) > 0
    n_events = jnp.sum(jnp.any(occ, axis=1), dtype=jnp.int32)
    n_covered = jnp.sum(jnp.any(occ, axis=0), dtype=jnp.int32)
    return n_events, n_covered.astype(jnp.float64) / N_COVERAGE_BINS  # int32/int would give float32


def _red_noise(sf, tf, base, n_base, med_base, scatter, period, max_bins):
    """Pont et al. beta of the baseline residuals in bins of P/10 (:mod:`jaxvet.core.noise`);
    each point's bin is an estimate corrected against the exact ``np.linspace`` edges."""
    resid = jnp.where(base, sf - med_base, 0.0)
    tmin = jnp.min(jnp.where(base, tf, jnp.inf))
    tmax = jnp.max(jnp.where(base, tf, -jnp.inf))
    span = tmax - tmin
    bin_days = period / 10
    pre = (n_base >= 10) & (bin_days > 0) & (span >= bin_days * 2)
    n_bins = jnp.maximum(3, jnp.floor(jnp.where(pre, span / jnp.where(pre, bin_days, 1.0), 3.0))).astype(
        jnp.int32
    )
    pre = pre & (n_bins <= max_bins)
    tmin_s = jnp.where(pre, tmin, 0.0)
    tmax_s = jnp.where(pre, tmax, 1.0)
    step = jnp.where(pre, exact_div(span, n_bins.astype(jnp.float64)), 1.0)

    def edge(i):
        return _red_noise_edge(i, tmin_s, step, n_bins, tmax_s)

    tb = jnp.where(base, tf, tmin_s)
    kf = jnp.floor(jnp.clip((tb - tmin_s) * (1.0 / step), -1.0, max_bins + 1.0)).astype(jnp.int32)
    # exact searchsorted(edges, t, 'right') - 1 (the estimate is off by <= 1 near an edge)
    kf = jnp.where(tb < edge(kf), kf - 1, jnp.where(tb >= edge(kf + 1), kf + 1, kf))
    in_bin = base & (kf >= 0) & (kf < n_bins)
    seg = jnp.where(in_bin, kf, max_bins)
    payload = jnp.stack([in_bin.astype(jnp.float64), resid], axis=-1)
    sums = jax.ops.segment_sum(payload, seg, num_segments=max_bins + 1)[:max_bins]
    real = jnp.ones((1, max_bins), bool)
    beta, rn_ok, _ = beta_from_bins(sums[None, :, 0], sums[None, :, 1], real, pre[None], scatter[None])
    use_rn = n_base >= MIN_RED_NOISE_BASELINE
    return jnp.where(use_rn & rn_ok[0], beta[0], DEFAULT_INFLATION), use_rn, rn_ok[0]


def _verdict(measured, significant, occultation_like):
    """jaxvet's V02 rule: insufficient unless measured; a significant secondary fails unless it
    is occultation-like (shallower than a fraction of the primary), which warns."""
    return jnp.where(
        ~measured,
        VERDICT_CODES["insufficient"],
        jnp.where(
            significant,
            jnp.where(occultation_like, VERDICT_CODES["warn"], VERDICT_CODES["fail"]),
            VERDICT_CODES["pass"],
        ),
    )


def _confidence(coverage, n_events, sigma, any_warn, insufficient, bad_base):
    """The reference's V02 confidence model."""
    base_c = jnp.where(
        (coverage >= 0.7) & (n_events >= 5),
        0.85,
        jnp.where(
            (coverage >= 0.5) & (n_events >= 3),
            0.7,
            jnp.where((coverage >= MIN_PHASE_COVERAGE) & (n_events >= MIN_SECONDARY_EVENTS), 0.55, 0.4),
        ),
    )
    base_c = jnp.where(
        sigma >= 5.0,
        jnp.minimum(0.9, base_c + 0.1),
        jnp.where(sigma >= 3.0, jnp.minimum(0.85, base_c + 0.05), base_c),
    )
    base_c = jnp.where(any_warn, base_c * 0.9, base_c)
    conf = jnp.round(jnp.minimum(0.95, jnp.maximum(0.2, base_c)), 3)
    return jnp.where(insufficient, 0.3, jnp.where(bad_base, 0.2, conf))


def _phase_curve(sf, ph, valid, safe_base, scatter):
    """The 200-bin phase curve of plot_data (flux / baseline, its error, the counts)."""
    pb = jnp.where(
        valid, jnp.clip(jnp.floor(ph * N_PLOT_BINS), 0, N_PLOT_BINS - 1).astype(jnp.int32), N_PLOT_BINS
    )
    payload = jnp.stack([jnp.where(valid, sf, 0.0), valid.astype(jnp.float64)], axis=-1)
    p_sums = jax.ops.segment_sum(payload, pb, num_segments=N_PLOT_BINS + 1)[:N_PLOT_BINS]
    p_sum, p_cnt = p_sums[:, 0], p_sums[:, 1].astype(jnp.int32)
    p_flux = jnp.where(p_cnt > 0, p_sum / jnp.maximum(p_cnt, 1) / safe_base, jnp.nan)
    p_err = jnp.where(
        p_cnt > 0, scatter / safe_base / jnp.sqrt(jnp.maximum(p_cnt, 1).astype(jnp.float64)), jnp.nan
    )
    return p_flux, p_err, p_cnt


def _one_candidate(sf, tf, n_lc, t_first, period, t0, depth_primary, thr, *, max_bins, max_epochs, n_iter):
    """All V02 quantities of one candidate from its light curve in flux order (``sf``, ``tf``);
    ``thr`` holds the traced ``sigma_threshold`` and ``occultation_fraction``."""
    valid, x, ph, sec, base = _phase_sets(tf, n_lc, period, t0)
    n_sec, n_base, med_sec, med_base, scatter = _medians_and_scatter(sf, sec, base, n_iter)
    n_events, coverage = _events_and_coverage(x, ph, sec, t_first, period, t0, max_epochs)
    inflation, use_rn, rn_ok = _red_noise(sf, tf, base, n_base, med_base, scatter, period, max_bins)

    # ---- depth, error, significance -----------------------------------------------------------
    insufficient = (n_sec < MIN_SECONDARY_POINTS) | (n_base < MIN_BASELINE_POINTS)
    bad_base = ~insufficient & ~(med_base > 0)
    ok = ~insufficient & ~bad_base
    safe_base = jnp.where(ok, med_base, 1.0)
    depth = 1.0 - med_sec / safe_base
    err0 = scatter / jnp.sqrt(jnp.maximum(n_sec, 1).astype(jnp.float64)) / safe_base
    err = err0 * inflation
    sigma = jnp.where(err > 0, jnp.abs(depth) / jnp.where(err > 0, err, 1.0), 0.0)
    any_warn = (n_events < MIN_SECONDARY_EVENTS) | (coverage < MIN_PHASE_COVERAGE) | ~(use_rn & rn_ok)
    conf = _confidence(coverage, n_events, sigma, any_warn, insufficient, bad_base)

    # ---- verdict (jaxvet rule, see module docstring) --------------------------------------------
    significant = ok & (depth > 0) & (sigma >= thr["sigma_threshold"])
    occ_depth = thr["occultation_fraction"] * depth_primary
    occultation_like = jnp.isfinite(depth_primary) & (depth_primary > 0) & (depth < occ_depth)
    verdict = _verdict(ok, significant, occultation_like)
    p_flux, p_err, p_cnt = _phase_curve(sf, ph, valid, safe_base, scatter)

    nan = jnp.nan
    return {
        "status": jnp.int32(0),
        "verdict": verdict.astype(jnp.int32),
        "confidence": conf,
        "insufficient": insufficient,
        "invalid_baseline": bad_base,
        "secondary_depth": jnp.where(ok, depth, nan),
        "secondary_depth_err": jnp.where(ok, err, nan),
        "secondary_depth_sigma": jnp.where(ok, sigma, nan),
        "secondary_depth_ppm": jnp.where(ok, depth * 1e6, nan),
        "secondary_depth_err_ppm": jnp.where(ok, err * 1e6, nan),
        "baseline_flux": med_base,
        "secondary_median_flux": med_sec,
        "baseline_scatter": scatter,
        "n_secondary_points": n_sec,
        "n_baseline_points": n_base,
        "secondary_phase_coverage": coverage,
        "n_secondary_events_effective": n_events,
        "red_noise_inflation": jnp.where(ok, inflation, nan),
        "red_noise_success": use_rn & rn_ok,
        "red_noise_attempted": use_rn,
        "plot_flux": p_flux,
        "plot_flux_err": p_err,
        "plot_count": p_cnt,
    }


@partial(jax.jit, static_argnames=("sub", "max_bins", "max_epochs"))
def _v02_kernel(
    sorted_flux,
    time_by_flux,
    n_valid,
    t_first,
    cand,
    chunk,
    thr,
    *,
    sub: int,
    max_bins: int,
    max_epochs: int,
):
    """Candidates ``chunk*sub ... chunk*sub + sub - 1`` of the padded (B,) arrays in ``cand``."""
    n = sorted_flux.shape[-1]
    n_iter = bisect_steps(n)
    li, p, t0, dp = (jax.lax.dynamic_slice_in_dim(a, chunk * sub, sub) for a in cand)

    def one(li, p, t0_, dp):
        return _one_candidate(
            sorted_flux[li],
            time_by_flux[li],
            n_valid[li],
            t_first[li],
            p,
            t0_,
            dp,
            thr,
            max_bins=max_bins,
            max_epochs=max_epochs,
            n_iter=n_iter,
        )

    return jax.vmap(one)(li, p, t0, dp)


def _needs(t_first, t_last, t0, periods):
    t_first, t_last, t0, periods = (np.asarray(a, dtype=np.float64) for a in (t_first, t_last, t0, periods))
    span = np.maximum(t_last - t_first, 0.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        bins = np.floor(span / (periods / 10))
        orbits = np.floor((t_last - t0) / periods) - np.floor((t_first - t0) / periods) + 1
    return np.where(np.isfinite(bins), bins, np.inf), np.where(np.isfinite(orbits), orbits, np.inf)


def static_capacities(t_first, t_last, t0, periods) -> tuple[int, int]:
    """Bucketed static sizes for a batch: red-noise bins and orbits (host, float64).

    The reference uses ``max(3, int(span/(P/10)))`` red-noise bins over the baseline points'
    span, bounded here by the light curve's span; the orbits holding data are
    ``floor((t - t0)/P)`` between the first and the last valid time.
    """
    bins, orbits = _needs(t_first, t_last, t0, periods)
    if bins.size == 0:
        return 16, 4
    return bucket_size(int(max(3.0, float(np.max(bins)))) + 2, 16), bucket_size(int(np.max(orbits)), 4)


def secondary_eclipse(
    lcb,
    cb,
    *,
    sigma_threshold: float = 3.0,
    occultation_fraction: float = 0.1,
    presorted=None,
    min_capacity: tuple[int, int] = (16, 4),
    tables=None,
    segments=None,
) -> dict:
    """V02 arrays for every row of ``cb`` (padded rows included), sub-batched for memory.

    Returns a dict of ``(B,)`` arrays (``plot_*`` are ``(B, 200)``); see :data:`SUMMARY`.
    ``presorted``: :func:`presort_flux` of ``lcb`` when already computed; sub-batches follow the
    engine's element budget (:func:`jaxvet.engine.chunks.rows_per_chunk`).  The thresholds are
    traced (changing them does not recompile).  ``min_capacity``: floors for the
    static red-noise-bin and orbit capacities -- a campaign that pins them (and the light-curve
    size) compiles one reference-window program for all its batches, and the local depths one
    per packed-width bucket (:func:`jaxvet.core.secondary.local_box_depths`).  ``tables``,
    ``segments``: the screen's inputs (:func:`jaxvet.core.secondary_scan.measure`), made if None.
    """
    b = cb.size
    if presorted is None:
        presorted = presort_flux(lcb.time, lcb.flux, lcb.mask)
    sorted_flux, time_by_flux = presorted
    t_first_d, t_last_d = _row_extent(lcb.time, lcb.mask)
    li = np.asarray(cb.lc_index)
    valid = np.asarray(cb.valid)
    t_first, t_last = np.asarray(t_first_d)[li], np.asarray(t_last_d)[li]
    t0_h, per_h = np.asarray(cb.t0), np.asarray(cb.period)
    # a period so short that its red-noise bins or orbits would not fit in memory (far below
    # any cadence) is reported per candidate (status error), never sized into the batch
    need_bins, need_orbits = _needs(t_first, t_last, t0_h, per_h)
    max_capacity = element_budget()
    too_fine = valid & ((need_bins > max_capacity) | (need_orbits * N_COVERAGE_BINS > max_capacity))
    sized = valid & ~too_fine
    max_bins, max_epochs = static_capacities(t_first[sized], t_last[sized], t0_h[sized], per_h[sized])
    max_bins = max(max_bins, bucket_size(min_capacity[0], 16))
    max_epochs = max(max_epochs, bucket_size(min_capacity[1], 4))
    width = max(lcb.n_points, max_bins + 1, max_epochs * N_COVERAGE_BINS + 1)
    sub = rows_per_chunk(width, scale=_budget_scale(), cap=bucket_size(b, 1))
    n_chunks = -(-b // sub)
    cbp = cb.pad(n_chunks * sub)
    thr = {
        "sigma_threshold": np.asarray(sigma_threshold, np.float64),
        "occultation_fraction": np.asarray(occultation_fraction, np.float64),
    }
    cand = (cbp.lc_index, cbp.period, cbp.t0, cbp.depth)
    outs = [
        _v02_kernel(
            sorted_flux,
            time_by_flux,
            lcb.n_valid,
            t_first_d,
            cand,
            c,
            thr,
            sub=sub,
            max_bins=max_bins,
            max_epochs=max_epochs,
        )
        for c in range(n_chunks)
    ]
    out = outs[0] if len(outs) == 1 else jax.tree.map(lambda *a: jnp.concatenate(a, axis=0), *outs)
    out = jax.tree.map(lambda a: a[:b], out)
    # the local measurements (and the verdict) for the rows that were sized; the others get a
    # harmless ephemeris so that their epochs are never planned
    cb_safe = cb if not too_fine.any() else secondary_scan.harmless(cb, too_fine)
    sec, pri, scan = secondary_scan.measure(lcb, cb_safe, tables, segments, min_epochs=max_epochs)
    out.update(_local_outputs(sec, pri, scan, cb_safe, cb.depth, jnp.asarray(too_fine), thr))
    return out


@jax.jit
def _local_outputs(sec, pri, scan, cb, cand_depth, error_rows, thr):
    """The locally measured fields and jaxvet's verdict from them (see the module docstring)."""
    known = jnp.isfinite(cand_depth) & (cand_depth > 0)
    pri_ok = pri["measured"] & (pri["depth"] > 0)
    primary = jnp.where(known, cand_depth, jnp.where(pri_ok, pri["depth"], jnp.nan))
    measured = sec["measured"]
    depth = sec["depth"]
    significant = measured & (depth > 0) & (sec["sigma"] >= thr["sigma_threshold"])
    occultation_like = jnp.isfinite(primary) & (depth < thr["occultation_fraction"] * primary)
    verdict = _verdict(measured, significant, occultation_like)
    sb = sec_kernel.scan_best(*scan, cb.period, cb.duration)
    eccentric, scan_thr = sec_kernel.eccentric_secondary(
        sb, primary, **thr, duration_phase=cb.duration / cb.period
    )
    verdict = jnp.where(eccentric, VERDICT_CODES["fail"], verdict)
    verdict = jnp.where(error_rows, VERDICT_NONE, verdict).astype(jnp.int32)
    status = jnp.where(error_rows, STATUS_CODES["error"], 0).astype(jnp.int32)
    return {
        "status": status,
        "verdict": verdict,
        "secondary_local_measured": measured,
        "secondary_local_depth": depth,
        "secondary_local_depth_ppm": depth * 1e6,
        "secondary_local_depth_err_ppm": sec["err"] * 1e6,
        "secondary_local_depth_sigma": sec["sigma"],
        "secondary_local_phase": jnp.full(depth.shape, SECONDARY_CENTER),
        "secondary_local_half_width": sec["half_width"],
        "secondary_local_scatter": sec["scatter"],
        "secondary_local_red_noise_inflation": sec["inflation"],
        "secondary_local_red_noise_success": sec["red_noise_ok"] & measured,
        "secondary_local_n_events": sec["n_events"],
        "secondary_local_n_events_planned": sec["n_events_planned"],
        "secondary_local_n_points": sec["n_box"],
        "secondary_local_n_baseline_points": sec["n_base"],
        "secondary_local_profile_flux": sec["profile_flux"],
        "secondary_local_profile_count": sec["profile_count"],
        "primary_local_measured": pri["measured"],
        "primary_local_depth_ppm": pri["depth"] * 1e6,
        "primary_local_depth_sigma": pri["sigma"],
        "primary_depth_used_ppm": primary * 1e6,
        "secondary_scan_phase": sb["phase"],
        "secondary_scan_depth_ppm": sb["depth"] * 1e6,
        "secondary_scan_depth_err_ppm": sb["err"] * 1e6,
        "secondary_scan_sigma": sb["sigma"],
        "secondary_scan_n_trials": sb["n_trials"],
        "secondary_scan_threshold_sigma": scan_thr,
        "secondary_scan_eccentric": eccentric,
    }


# ----------------------------------------------------------------------------------------------
# check contract
# ----------------------------------------------------------------------------------------------
def _is_count(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1


@dataclass(frozen=True)
class V02Options(CheckOptions):
    """V02 options: the two verdict thresholds (traced) and ``min_capacity``, floors for the
    static (red-noise bins, orbits) capacities (a campaign that pins them compiles one
    reference-window program)."""

    check_id: ClassVar[str] = ID
    sigma_threshold: float = option(3.0, non_negative, traced=True)
    occultation_fraction: float = option(0.1, non_negative, traced=True)
    min_capacity: tuple = option((16, 4))

    def validate(self) -> None:
        v = self.min_capacity
        if not (isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_count(x) for x in v)):
            raise JaxvetInputError(f"V02 option min_capacity must be a pair of integers >= 1, got {v!r}")
        object.__setattr__(self, "min_capacity", tuple(int(x) for x in v))


def compute(ctx: VetContext, opts: V02Options | None = None) -> dict:
    """Device arrays of every V02 quantity (leading axis: the chunk's candidates)."""
    opts = opts if opts is not None else V02Options.from_mapping(ctx.options.get(ID))
    out = secondary_eclipse(
        ctx.lcb,
        ctx.cb,
        sigma_threshold=opts.sigma_threshold,
        occultation_fraction=opts.occultation_fraction,
        min_capacity=opts.min_capacity,
        tables=ctx.cached("range_tables:3", lambda: secondary_scan.tables(ctx.lcb), per_chunk=False),
        segments=ctx.cached("segments_host", lambda: secondary_scan.segments(ctx.lcb), per_chunk=False),
    )
    n = ctx.n_candidates
    return {k: v[:n] for k, v in out.items()}


def _plot_data(a: dict, i: int, depth_ppm: float | None) -> dict:
    """Reference plot_data keys; phase/flux/flux_err are the 200-bin phase curve (+ ``n_per_bin``)."""
    if depth_ppm is None:
        phase, flux, err, count = [], [], [], []
    else:
        cnt = np.asarray(a["plot_count"][i])
        keep = cnt > 0
        centres = (np.arange(N_PLOT_BINS) + 0.5) / N_PLOT_BINS
        phase = centres[keep].tolist()
        flux = np.asarray(a["plot_flux"][i])[keep].tolist()
        err = np.asarray(a["plot_flux_err"][i])[keep].tolist()
        count = cnt[keep].tolist()
    return {
        "version": 1,
        "phase": phase,
        "flux": flux,
        "flux_err": err,
        "n_per_bin": count,
        "secondary_window": [float(SEC_LO), float(SEC_HI)],
        "primary_window": [-0.05, 0.05],
        # jaxvet: the candidate's own transit, +-D/(2P) in phase (the reference's window is fixed)
        "primary_transit_phase": [-float(a["half_duration_phase"][i]), float(a["half_duration_phase"][i])],
        "secondary_depth_ppm": float(depth_ppm) if depth_ppm else None,
    }


def _num(x, nd: int):
    """A finite float rounded to ``nd`` places, else None (nothing measured)."""
    x = float(x)
    return round(x, nd) if np.isfinite(x) else None


_SCAN_FIELDS = (("phase", 4), ("depth_ppm", 1), ("depth_err_ppm", 2), ("sigma", 2), ("threshold_sigma", 2))


def _local_metrics(a: dict, i: int) -> dict:
    """jaxvet's locally measured secondary (the verdict's depth), None where not measured."""
    ok = bool(a["secondary_local_measured"][i])

    def val(key, nd):
        return _num(a[key][i], nd) if ok else None

    return {
        "secondary_local_depth_ppm": val("secondary_local_depth_ppm", 1),
        "secondary_local_depth_err_ppm": val("secondary_local_depth_err_ppm", 2),
        "secondary_local_depth_sigma": val("secondary_local_depth_sigma", 2),
        "secondary_local_phase": float(a["secondary_local_phase"][i]),
        "secondary_local_n_events": int(a["secondary_local_n_events"][i]),
        "secondary_local_n_points": int(a["secondary_local_n_points"][i]),
        "secondary_local_n_baseline_points": int(a["secondary_local_n_baseline_points"][i]),
        "secondary_local_red_noise_inflation": val("secondary_local_red_noise_inflation", 2),
        "primary_depth_used_ppm": _num(a["primary_depth_used_ppm"][i], 1),
        **{f"secondary_scan_{k}": _num(a[f"secondary_scan_{k}"][i], nd) for k, nd in _SCAN_FIELDS},
        "secondary_scan_n_trials": int(a["secondary_scan_n_trials"][i]),
    }


def _local_notes_flags(a: dict, i: int, local: dict) -> tuple[list[str], list[str]]:
    notes, flags = [], []
    if bool(a["secondary_scan_eccentric"][i]):
        flags.append("ECCENTRIC_SECONDARY")
    if not bool(a["secondary_local_measured"][i]):
        notes.append(
            f"Local secondary not measured: {local['secondary_local_n_points']} box points, "
            f"{local['secondary_local_n_baseline_points']} baseline points in "
            f"{local['secondary_local_n_events']} usable event(s) "
            f"(need {sec_kernel.MIN_BOX_POINTS}, {sec_kernel.MIN_BASE_POINTS}, 1)"
        )
    elif local["secondary_local_depth_ppm"] is not None and float(a["secondary_local_depth"][i]) < 0:
        flags.append("NEGATIVE_SECONDARY_DEPTH")
    return notes, flags


def _local_plot(a: dict, i: int, period: float, duration: float) -> dict:
    """The local window in phase units: box, baseline ring and the binned normalised profile."""
    hw = float(a["secondary_local_half_width"][i]) / period
    half_box = 0.5 * duration / period
    cnt = np.asarray(a["secondary_local_profile_count"][i])
    keep = cnt > 0
    nb = cnt.size
    centres = SECONDARY_CENTER - hw + (np.arange(nb) + 0.5) * (2 * hw / nb)
    return {
        "box": [SECONDARY_CENTER - half_box, SECONDARY_CENTER + half_box],
        "baseline": [SECONDARY_CENTER - hw, SECONDARY_CENTER + hw],
        "phase": centres[keep].tolist(),
        "flux": np.asarray(a["secondary_local_profile_flux"][i])[keep].tolist(),
        "n_per_bin": cnt[keep].tolist(),
        "depth_ppm": _num(a["secondary_local_depth_ppm"][i], 1)
        if bool(a["secondary_local_measured"][i])
        else None,
    }


def _without_depth(a, i, details, confidence, verdict, notes, flags, local_plot) -> CheckResult:
    """The result of a candidate whose reference secondary depth is not measured (no plot depth)."""
    plot = {**_plot_data(a, i, None), "local": local_plot}
    raw = {**details, "plot_data": plot, "_metrics_only": True}
    return CheckResult(ID, NAME, "ok", confidence, verdict, flags, metrics=details, raw=raw, notes=notes)


def format(ctx: VetContext, opts: V02Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    results = []
    a = dict(a, half_duration_phase=[c.duration_hours / 48.0 / c.period_days for c in ctx.candidates])
    for i in range(ctx.n_candidates):
        if int(a["status"][i]) == STATUS_CODES["error"]:
            c = ctx.candidates[i]
            note = (
                f"period {c.period_days!r} d is too short for this light curve's span: more than "
                f"{element_budget()} red-noise bins or orbit cells"
            )
            results.append(error_result(ID, NAME, "PERIOD_TOO_SHORT", notes=[note]))
            continue
        n_sec = int(a["n_secondary_points"][i])
        n_base = int(a["n_baseline_points"][i])
        verdict = verdict_name(a["verdict"][i])
        period = float(ctx.candidates[i].period_days)
        duration = float(ctx.candidates[i].duration_hours) / 24.0
        local = _local_metrics(a, i)
        lnotes, lflags = _local_notes_flags(a, i, local)
        lplot = _local_plot(a, i, period, duration)
        warnings: list[str] = []
        if bool(a["insufficient"][i]):
            if n_sec < MIN_SECONDARY_POINTS:
                warnings.append(f"Only {n_sec} secondary points, need {MIN_SECONDARY_POINTS}")
            if n_base < MIN_BASELINE_POINTS:
                warnings.append(f"Only {n_base} baseline points, need {MIN_BASELINE_POINTS}")
            # the reference writes 0.0 for these unmeasured values; jaxvet writes None
            details = {
                "n_secondary_points": n_sec,
                "n_baseline_points": n_base,
                "secondary_depth_ppm": None,
                "secondary_depth_err_ppm": None,
                "secondary_depth_sigma": None,
                "secondary_phase_coverage": None,
                "n_secondary_events_effective": None,
                "note": "Insufficient data for secondary eclipse search",
                **local,
            }
            results.append(_without_depth(a, i, details, 0.3, verdict, warnings + lnotes, lflags, lplot))
            continue
        n_events = int(a["n_secondary_events_effective"][i])
        coverage = float(a["secondary_phase_coverage"][i])
        if n_events < MIN_SECONDARY_EVENTS:
            warnings.append(f"Only {n_events} secondary event(s), need {MIN_SECONDARY_EVENTS}")
        if coverage < MIN_PHASE_COVERAGE:
            warnings.append(f"Phase coverage {coverage:.2f} < {MIN_PHASE_COVERAGE}")
        if bool(a["invalid_baseline"][i]):
            warnings.append("Invalid baseline median <= 0")
            details = {
                "n_secondary_points": n_sec,
                "n_baseline_points": n_base,
                "note": "Invalid baseline flux",
                **local,
            }
            results.append(_without_depth(a, i, details, 0.2, verdict, warnings + lnotes, lflags, lplot))
            continue
        if bool(a["red_noise_attempted"][i]):
            if not bool(a["red_noise_success"][i]):
                warnings.append("Red noise estimation failed, using default inflation")
        else:
            warnings.append("Insufficient baseline for red noise, using default inflation")
        depth = float(a["secondary_depth"][i])
        depth_ppm = float(a["secondary_depth_ppm"][i])
        details = {
            "secondary_depth": round(depth, 6),
            "secondary_depth_sigma": round(float(a["secondary_depth_sigma"][i]), 2),
            "baseline_flux": round(float(a["baseline_flux"][i]), 6),
            "n_secondary_points": n_sec,
            "secondary_depth_ppm": round(depth_ppm, 1),
            "secondary_depth_err_ppm": round(float(a["secondary_depth_err_ppm"][i]), 2),
            "secondary_phase_coverage": round(coverage, 3),
            "n_secondary_events_effective": n_events,
            "n_baseline_points": n_base,
            "red_noise_inflation": round(float(a["red_noise_inflation"][i]), 2),
            **local,
        }
        raw = {
            **details,
            "search_window": [round(SEC_LO, 3), round(SEC_HI, 3)],
            "plot_data": {**_plot_data(a, i, depth_ppm), "local": lplot},
            "_metrics_only": True,
        }
        results.append(
            CheckResult(
                id=ID,
                name=NAME,
                status="ok",
                confidence=round(float(a["confidence"][i]), 3),
                verdict=verdict,
                flags=lflags,
                metrics=details,
                raw=raw,
                notes=warnings + lnotes,
            )
        )
    return results


SPEC = CheckSpec(
    ID,
    NAME,
    compute,
    format,
    options=V02Options,
    summary_metrics=SUMMARY,
    description="Secondary eclipse: local box at phase 0.5 vs its own baseline (reference statistic kept)",
)
