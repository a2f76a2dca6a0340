"""V05 transit shape: U-shaped (planet) vs V-shaped (grazing eclipsing binary) transits.

References:
    [1] Seager & Mallen-Ornelas 2003, ApJ 585, 1038 (2003ApJ...585.1038S), sections 2-3:
        the trapezoid parameters T (first-fourth contact), F (second-third contact), tF/tT.
    [2] Kipping 2010, MNRAS 408, 1758: integrating the model over the exposure time.
    [3] Thompson et al. 2018, ApJS 235, 38 (2018ApJS..235...38T), section 3.1: the DR25 Robovetter's
        V-shape ("Not Transit-Like") metric.
    [4] Prsa et al. 2011, AJ 141, 83 (2011AJ....141...83P): eclipsing-binary morphology.
    [5] Efron 1979, Ann. Stat. 7, 1; Hanley & MacGibbon 2006, Comput. Methods Programs Biomed.
        83, 57 (the Poisson bootstrap).

Two methods (option ``method``, ``ctx.opts("V05")["method"]``):

``"trapezoid_fit"`` (default)
    A weighted least-squares fit of ``1 - depth * s(x - tau; T, F, e)``, the symmetric
    trapezoid averaged over each point's exposure (:mod:`jaxvet.core.models`), with *free* depth,
    total duration T, flat ratio r = F/T and mid-time offset tau, to the points within
    ``window`` (0.9) catalogue durations of the nominal mid-transit, normalised by the
    baseline median and weighted by ``1/flux_err^2`` (uniform weights from the baseline's
    robust scatter when any error is missing).  Fit: a (T, r, tau) grid with closed-form
    depth -> optax Adam -> BFGS polish (:mod:`jaxvet.core.fit`), on phase bins (``n_fit_bins``
    per exposure group; sparse data are fitted point by point).  Uncertainties:
    ``n_bootstrap`` (100) Poisson-bootstrap resamples, each refitted (grid or full-data start
    + ``n_bfgs`` BFGS steps), ``err = (P84 - P16)/2`` for every parameter.  The default
    ``bootstrap="binned"`` draws a resample bin by bin (Poisson counts, smoothed sums:
    :func:`jaxvet.core.fit.binned_poisson_sums`), at O(bins) cost; ``"poisson"`` and
    ``"multinomial"`` reweight the points themselves.  The plot profile is the fit bins'
    weighted mean flux.
``"grid"`` (reference-compatible)
    tess-vetter 0.3.20's ``check_v_shape`` (docs/checks.md, V05): unweighted 20-point
    grid over ``r`` at the catalogue duration, closed-form depth, first strict minimum.  Point
    estimates and all metrics match the reference exactly; the bootstrap error uses
    multinomial resampling like the reference but JAX's random stream, so it agrees with the
    reference's ``default_rng(42)`` value only statistically.

Both methods share the reference's data selection and legacy metrics: phase
``((t - t0)/P + 0.5) mod 1 - 0.5``, ``h = D/(2P)``; fit set ``|phase| < 1.2h``; baseline
``1.5h < |phase| < 0.25``; coverage = fraction of 20 half-open bins over [-h, h] with data;
``depth_bottom``, ``depth_edge``, ``shape_ratio`` from medians of the raw flux in the bottom
(-h/4, h/4) and edge (-h, -h/2) U (h/2, h) windows; the confidence model; rounding.

Gates, warnings and verdict (jaxvet's rule; the reference is metrics-only)
---------------------------------------------------------------------------
* ``D >= P/2``: metric status ``invalid_duration``, verdict ``insufficient``, confidence 0.2.
* fewer than ``min_points_in_transit`` (10) fit-set points, fewer than 10 baseline points, or
  coverage below ``min_transit_coverage`` (0.6): status ``insufficient_data``, warning
  ``insufficient_sampling``, verdict ``insufficient``, confidence 0.2, the reference's
  placeholder metrics (ratio 0.5 +- 0.5, shape_ratio 2.0).
* depth SNR below ``min_snr`` (3): warning ``low_snr``, verdict ``insufficient``, confidence
  at most 0.3 (trapezoid_fit).  The SNR is the least-squares depth
  significance ``depth / sigma_depth`` with ``sigma_depth = sqrt(chi2_nu / sum(w s^2))``
  (a per-point SNR of 3 would reject every TESS small planet).
* marginal sampling (< 30 fit-set points or coverage < 0.8): warning ``low_sampling``
  (docs/checks.md, V05).
* fitted T differs from the catalogue duration by more than ``duration_tolerance`` (25%):
  warning ``duration_uncertain`` (trapezoid_fit only; the grid method fixes T = D).
* ``grazing_indicator`` (evaluated in this order): ``tF/tT > 0.3`` -> ``normal``;
  ``0.1 < tF/tT <= 0.3`` and depth < ``grazing_depth_ppm`` (50,000) -> ``grazing_planet_candidate``;
  otherwise (``tF/tT <= 0.1`` or a depth >= 5%) -> ``likely_eb``.
* verdict: ``insufficient`` when gated (sampling, duration or SNR), else ``fail`` for
  ``likely_eb`` and ``pass`` otherwise.  ``shape`` is ``V-shaped`` when ``tF/tT`` is below
  ``tflat_ttotal_threshold`` (0.15), else ``U-shaped``.
* confidence: the reference's model (0.2/0.5/0.7/0.85 by fit-set points, x1.1 capped 0.95 for
  coverage >= 0.8, x0.8 below 0.6, x0.9 if any warning), at most 0.3 with ``low_snr``; for
  ``method="grid"`` the warning terms are left out so that confidence equals the reference's
  (the verdict still follows the rules above).

Implementation.  Only points near transit are read: :func:`jaxvet.core.ephemeris.plan_windows`
finds, per candidate and epoch, the index range of the points within ``max(0.6, window) D`` of
mid-transit, and they are gathered straight from the light curve, packed in time order into
one padded row per candidate (a binary search of each slot's epoch; time order, so the layout
does not depend on what shares the chunk).  Random keys derive
from ``(seed, run-wide candidate id)`` (:meth:`VetContext.key_ids`).  The baseline
median needs the large set ``1.5h < |phase| < 0.25``: each light curve's flux is sorted
once, and for a candidate the baseline members are counted along the sorted order (a prefix
sum of the membership mask), so the median's order statistics are found by a binary search --
no per-candidate sort (an O(N) pass per candidate).  Candidates are ordered by their
window size and run in chunks of up to ``batch_size`` (halved while chunk x window would
exceed :data:`_CHUNK_BUDGETS` element budgets, :func:`jaxvet.engine.chunks.element_budget`;
every chunk is dispatched before any is waited for, and the results are joined on the device;
each chunk padded to its largest window, bucketed to powers of two,
floor ``pad_points``).  A candidate's work has two stages: the per-point stage (phase,
coverage, sampling counts, baseline normalisation, the legacy bottom/edge medians and the
binning into ``n_groups x n_fit_bins`` fit bins) and the fit stage (fit, bootstrap,
percentiles, model curves, gates, verdict).  For the default ``trapezoid_fit`` with the binned
bootstrap the fit reads the bins only, so each chunk runs two jitted programs: the per-point
stage (compiled per padded width) and the fit stage, whose shapes do not depend on the width
(compiled once), which saves most of the XLA compile time of a run with many widths.  The
grid method and the point bootstraps (``"poisson"``, ``"multinomial"``), whose fit reads the
points, run both stages in one program.  Each program maps over the chunk's
candidates in ``lax.map`` batches: the per-point stage sized so that each intermediate stays
within one element budget, the fit stage in fixed blocks of :data:`_FIT_BATCH` (8) candidates -- XLA's
code, and so the last bits of a fit, can depend on the vector width, which an ill-conditioned
bootstrap fit of a noise-only candidate may amplify, so the width never depends on the run
(8 is also the fastest width measured); bootstrap resamples run in blocks of ``boot_block``.
A candidate vetted alone and inside a run of 1,000 agrees to <= 1e-9 relative (the per-point
sums run over a padded width that depends on the chunk).  Divisions that must match
numpy bit for bit use :func:`jaxvet.core.models.exact_div` (XLA turns ``x / scalar`` into
``x * (1/scalar)``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.ephemeris import gather_packed, plan_windows
from jaxvet.core.fit import (
    TrapezoidBounds,
    bfgs_refine,
    bin_fit_points,
    binned_bootstrap_tables,
    binned_poisson_sums,
    bootstrap_starts,
    bootstrap_weights,
    candidate_keys,
    percentile_halfwidth,
    reference_grid_bootstrap,
    reference_grid_search,
    resample_sums,
    trapezoid_start,
)
from jaxvet.core.models import exact_div, reference_trapezoid_shape, trapezoid_shape
from jaxvet.core.stats import MAD_TO_SIGMA, masked_median, order_key
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import assemble, element_budget
from jaxvet.engine.context import CheckSpec, VetContext, to_host
from jaxvet.engine.options import CheckOptions, at_least, in_range, one_of, option
from jaxvet.errors import JaxvetInputError
from jaxvet.results import VERDICT_CODES, CheckResult

__all__ = [
    "SPEC",
    "V05Options",
    "DEFAULTS",
    "METHODS",
    "GRAZING_NAMES",
    "WARNING_BITS",
    "compute",
    "format",
    "resolve_options",
    "transit_shape",
]

ID = "V05"
NAME = "V-Shape"

METHODS = ("trapezoid_fit", "grid")
GRAZING_NAMES = ("normal", "grazing_planet_candidate", "likely_eb")
#: warning codes -> bit in the ``warnings`` array
WARNING_BITS = {"insufficient_sampling": 1, "low_snr": 2, "duration_uncertain": 4, "low_sampling": 8}
STATUS_NAMES = ("ok", "insufficient_data", "invalid_duration")

#: scalar metrics kept per candidate by campaigns (float columns)
SUMMARY = (
    "tflat_ttotal_ratio",
    "tflat_ttotal_ratio_err",
    "depth_ppm",
    "depth_ppm_err",
    "t_total_hours",
    "t_total_hours_err",
    "t_flat_hours",
    "t_flat_hours_err",
    "tmid_offset_hours",
    "snr",
    "transit_coverage",
    "shape_ratio",
    "n_in_transit",
    "grazing_code",
    "confidence",
)

_N_PLOT_BINS = 50
_N_MODEL = 100
_MIN_BASELINE = 10


#: options compared with data inside the kernels: passed as arrays (changing one does not recompile)
_TRACED = (
    "min_points_in_transit",
    "min_transit_coverage",
    "min_snr",
    "grazing_ratio",
    "eb_ratio",
    "grazing_depth_ppm",
    "duration_tolerance",
)


@dataclass(frozen=True)
class V05Options(CheckOptions):
    """V05's options (see the module docstring for their meaning).

    ``bootstrap`` defaults to ``"binned"`` for ``trapezoid_fit`` and ``"multinomial"`` for
    ``grid``.  The thresholds are traced (kernel arguments); the counts, sizes and methods are
    static (they decide shapes and code paths).
    """

    check_id: ClassVar[str] = ID
    method: str = option("trapezoid_fit", one_of(*METHODS))
    n_bootstrap: int = option(100, at_least(1))
    bootstrap_ci: float = option(0.68, in_range(0.0, 1.0, closed=(False, True)))
    bootstrap: str | None = option(None)
    min_points_in_transit: int = option(10, at_least(1), traced=True)
    min_transit_coverage: float = option(0.6, in_range(0.0, 1.0), traced=True)
    min_snr: float = option(3.0, in_range(0.0, 1e9), traced=True)
    tflat_ttotal_threshold: float = option(0.15, in_range(0.0, 1.0), traced=True)
    grazing_ratio: float = option(0.3, in_range(0.0, 1.0), traced=True)
    eb_ratio: float = option(0.1, in_range(0.0, 1.0), traced=True)
    grazing_depth_ppm: float = option(50000.0, in_range(0.0, 1e6, closed=(False, True)), traced=True)
    duration_tolerance: float = option(0.25, in_range(0.0, 1e3, closed=(False, True)), traced=True)
    window: float = option(0.9, in_range(0.55, 5.0))
    n_fit_bins: int = option(128, at_least(8))
    exposure_minutes: float | None = option(None)
    batch_size: int = option(256, at_least(1))
    boot_block: int = option(128, at_least(1))
    n_adam: int = option(40, at_least(0))
    n_bfgs: int = option(5, at_least(0))
    pad_points: int = option(1024, at_least(1))
    plot_data: bool = option(True)

    def validate(self) -> None:
        for name, hi in _INT_MAX.items():
            if getattr(self, name) > hi:
                raise JaxvetInputError(f"V05 option {name} must be <= {hi}, got {getattr(self, name)!r}")
        kinds = ("poisson", "multinomial")
        if self.method == "trapezoid_fit":
            kinds = ("binned", *kinds)
        if self.bootstrap is None:
            object.__setattr__(self, "bootstrap", "multinomial" if self.method == "grid" else "binned")
        if self.bootstrap not in kinds:
            raise JaxvetInputError(
                f"V05 option bootstrap must be one of {kinds} for method {self.method!r}, "
                f"got {self.bootstrap!r}"
            )
        if self.exposure_minutes is not None:
            v = self.exposure_minutes
            try:
                object.__setattr__(self, "exposure_minutes", in_range(0.0, 1e4)(v))
            except ValueError as exc:
                raise JaxvetInputError(f"V05 option exposure_minutes must be {exc}, got {v!r}") from None
        object.__setattr__(self, "plot_data", bool(self.plot_data))
        if self.eb_ratio > self.grazing_ratio:
            raise JaxvetInputError(
                f"V05 option eb_ratio ({self.eb_ratio}) must not exceed grazing_ratio ({self.grazing_ratio})"
            )

    def kernel_thresholds(self) -> dict[str, np.ndarray]:
        """The thresholds the kernels compare with (0-d float64 arrays, traced arguments)."""
        t = self.traced()
        return {k: t[k] for k in _TRACED}


#: upper bounds of the integer options
_INT_MAX = {
    "n_bootstrap": 100_000,
    "n_fit_bins": 4096,
    "batch_size": 100_000,
    "boot_block": 100_000,
    "n_adam": 10_000,
    "n_bfgs": 1000,
    "pad_points": 2**24,
}

#: the default options as a plain mapping
DEFAULTS = V05Options().to_dict()


def resolve_options(opts: Mapping | V05Options | None) -> dict:
    """User options validated and merged with the defaults, as a plain dict (unknown names and
    bad values raise :class:`~jaxvet.errors.JaxvetInputError` naming the option)."""
    return V05Options.from_mapping(opts).to_dict()


def _phase(t, t0, period):
    """The reference's V05 phase ``((t - t0)/P + 0.5) mod 1 - 0.5`` with IEEE division."""
    return jnp.mod(exact_div(t - t0, period) + 0.5, 1.0) - 0.5


# -- host preparation -------------------------------------------------------------------------


def _exposure_tables(ctx: VetContext, override_minutes):
    """Per (light curve, sector slot) exposure (days) and exposure-group index.

    The exposure of a sector is its median cadence (TESS co-adds 2-s frames spread over the
    whole cadence), rounded to the nearest second.  Groups are numbered *within* each light
    curve (its distinct exposures, ascending), so the number of groups -- a compiled shape --
    is the largest number of distinct cadences in any one light curve (1 unless sectors of
    different cadence were stitched together).  ``override_minutes`` forces one exposure.
    """
    sids = np.asarray(ctx.lcb.sector_ids)
    n_lc, n_s = sids.shape
    cad = np.full((n_lc, n_s), 120.0)
    for i, lc in enumerate(ctx.lightcurves[:n_lc]):
        v = lc.valid
        t, sec = lc.time[v], lc.sector[v]
        for j, s in enumerate(sids[i]):
            if s < 0:
                continue
            ts = t[sec == s]
            if ts.size > 1:
                d = np.diff(ts)
                d = d[d > 0]
                if d.size:
                    cad[i, j] = max(round(float(np.median(d)) * 86400.0), 1.0)
    if override_minutes is not None:
        cad[:] = float(override_minutes) * 60.0
    grp = np.zeros((n_lc, n_s + 1), np.int32)  # the extra slot serves padding points
    n_max = 1
    for i in range(n_lc):
        real = sids[i] >= 0
        groups = np.unique(cad[i][real]) if real.any() else cad[i][:1]
        grp[i, :n_s] = np.searchsorted(groups, cad[i]).clip(0, len(groups) - 1)
        n_max = max(n_max, len(groups))
    cad = np.concatenate([cad, cad[:, :1]], axis=1)
    n_groups = 1 << (n_max - 1).bit_length()
    return jnp.asarray(cad / 86400.0), jnp.asarray(grp), n_groups


#: low bits of the packed sort key that hold the point's index (rows up to 2^20 points)
_INDEX_BITS = 20


@jax.jit
def _presort(time, flux, mask):
    """Each row's (time, flux) in ascending flux order (masked points last, as +inf).

    One sort of int64 keys that pack the flux's order-preserving key (its top 44 bits) above
    the point's index (low 20 bits) -- XLA's CPU sort of one int64 array is ~10x faster than a
    float64 argsort or a two-operand sort -- then a gather of time and flux.  The order is the
    stable flux order except among fluxes equal to ~32 significant bits (relative 2e-10), which
    stay in time order: exact for TESS products (float32 fluxes differ by >= 6e-8 relative),
    and a median can move by at most that tie width otherwise.
    """
    n = flux.shape[-1]
    if n > (1 << _INDEX_BITS):  # very long rows: the exact (slower) stable argsort
        key = jnp.where(mask, flux, jnp.inf)
        order = jnp.argsort(key, axis=-1, stable=True)
        return jnp.take_along_axis(time, order, -1), jnp.take_along_axis(key, order, -1)
    key = order_key(jnp.where(mask, flux, jnp.inf))
    packed = (key >> _INDEX_BITS << _INDEX_BITS) | jnp.arange(n, dtype=jnp.int64)
    order = (jnp.sort(packed, axis=-1) & ((1 << _INDEX_BITS) - 1)).astype(jnp.int32)
    sflux = jnp.take_along_axis(jnp.where(mask, flux, jnp.inf), order, -1)
    return jnp.take_along_axis(time, order, -1), sflux


def _baseline_one(stime, sflux, n_valid, t0, period, h):
    """Median, robust sigma and count of ``1.5h < |phase| < 0.25`` over one presorted row."""
    n = stime.shape[0]
    ph = jnp.abs(_phase(stime, t0, period))
    member = (ph > h * 1.5) & (ph < 0.25) & (jnp.arange(n) < n_valid)
    c = jnp.cumsum(member.astype(jnp.int32))
    cnt = c[-1]

    def kth(k):
        pos = jnp.searchsorted(c, k + 1, side="left")
        return sflux[jnp.clip(pos, 0, n - 1)]

    med = jnp.where(cnt > 0, 0.5 * (kth((cnt - 1) // 2) + kth(cnt // 2)), jnp.nan)
    # robust sigma from the 15.87% / 84.13% order statistics
    nm1 = (cnt - 1).astype(jnp.float64)
    lo_k = jnp.round(0.15865525393145707 * nm1).astype(jnp.int32)
    hi_k = jnp.round(0.8413447460685429 * nm1).astype(jnp.int32)
    sig = jnp.where(cnt > 1, 0.5 * (kth(hi_k) - kth(lo_k)), 0.0)
    return med, sig, cnt


@partial(jax.jit, static_argnames=("batch",))
def _baseline_stats(stime, sflux, n_valid, lc_index, t0, period, h, *, batch: int):
    def one(args):
        li, a, p, hh = args
        return _baseline_one(stime[li], sflux[li], n_valid[li], a, p, hh)

    return jax.lax.map(one, (lc_index, t0, period, h), batch_size=batch)


@partial(jax.jit, static_argnames=("width",))
def _packed_points(lcb, sub, epoch, start, count, exp_tab, grp_tab, *, width: int):
    """Each candidate's window points packed in time order into one row (B, width).

    :func:`jaxvet.core.ephemeris.gather_packed` finds every slot's epoch by a binary search over
    the windows' cumulative counts and gathers straight from the light curve (no B x E x W
    intermediate, no scatter).  Padding slots hold a finite time (an epoch centre), flux and
    error 0, mask False.  Also gathers each point's exposure and exposure group through its
    sector.
    """
    pw = gather_packed(lcb, sub, epoch, start, count, width=width)
    sidx = jnp.take_along_axis(lcb.sector_index[sub.lc_index], pw.index, axis=1)
    return {
        "t": pw.time,
        "f": pw.flux,
        "fe": pw.flux_err,
        "m": pw.mask,
        "exp": jnp.take_along_axis(exp_tab[sub.lc_index], sidx, axis=1),
        "grp": jnp.take_along_axis(grp_tab[sub.lc_index], sidx, axis=1),
    }


# -- the per-candidate kernel -----------------------------------------------------------------


def _numpy_linspace(start, stop, num_div, n_slots):
    """``np.linspace(start, stop, num_div + 1)`` (traced num_div <= n_slots), +inf beyond."""
    i = jnp.arange(n_slots + 1, dtype=jnp.float64)
    step = exact_div(stop - start, num_div)
    e = i * step + start
    e = jnp.where(i == num_div, stop, e)
    return jnp.where(i <= num_div, e, jnp.inf)


def _binned_medians(bins, vals, valid, n_slots):
    """Per-bin median, robust std (1.4826 MAD, 0 below 2 points) and count (numpy medians)."""
    kb = jnp.where(valid, bins, n_slots).astype(jnp.int32)
    sk, sv = jax.lax.sort((kb, jnp.where(valid, vals, 0.0)), num_keys=2)
    cnt = jax.ops.segment_sum(jnp.ones_like(vals), kb, num_segments=n_slots + 1)[:n_slots].astype(jnp.int32)
    start = jnp.cumsum(cnt) - cnt
    n = vals.shape[0]

    def mid(sorted_vals):
        lo = sorted_vals[jnp.clip(start + (cnt - 1) // 2, 0, n - 1)]
        hi = sorted_vals[jnp.clip(start + cnt // 2, 0, n - 1)]
        return jnp.where(cnt > 0, 0.5 * (lo + hi), jnp.nan)

    med = mid(sv)
    dev = jnp.abs(vals - jnp.where(kb < n_slots, med[jnp.clip(kb, 0, n_slots - 1)], 0.0))
    _, sd = jax.lax.sort((kb, jnp.where(valid, dev, 0.0)), num_keys=2)
    rstd = jnp.where(cnt >= 2, MAD_TO_SIGMA * mid(sd), 0.0)
    return med, rstd, cnt


def _plot_profile(ph, fn, sel, n_sel, half):
    """The reference's binned profile: min(50, max(10, n//5)) bins over [-half, half]."""
    nb = jnp.minimum(_N_PLOT_BINS, jnp.maximum(10, n_sel // 5))
    edges = _numpy_linspace(-half, half, nb, _N_PLOT_BINS)
    k = jnp.searchsorted(edges, ph, side="right", method="compare_all") - 1
    ok = sel & (k >= 0) & (k < nb)
    med, rstd, cnt = _binned_medians(k, fn, ok, _N_PLOT_BINS)
    centre = (edges[:-1] + edges[1:]) / 2
    err = jnp.where(cnt > 1, rstd / jnp.sqrt(jnp.maximum(cnt, 1).astype(jnp.float64)), 0.01)
    return centre, med, err, cnt


def _fit_bin_profile(xbar, s0, sy, cnt, n_bins, t_ph):
    """Plot profile from the fit bins (trapezoid_fit): pairs of adjacent phase bins merged over
    the exposure groups, weighted mean flux ``1 - sum(w y)/sum(w)`` and its error
    ``1/sqrt(sum w)`` (weights are inverse variances), at the weighted mean phase."""
    g = xbar.shape[0] // n_bins
    half = n_bins // 2

    def fold(v):
        return v.reshape(g, half, 2).sum(axis=(0, 2))

    w = fold(s0)
    ok = w > 0
    ws = jnp.where(ok, w, 1.0)
    centre = jnp.where(ok, fold(s0 * xbar) / ws, fold(jnp.where(cnt > 0, 0.0, xbar)) / (2 * g)) * t_ph
    flux = jnp.where(ok, 1.0 - fold(sy) / ws, jnp.nan)
    err = jnp.where(ok, 1.0 / jnp.sqrt(ws), jnp.nan)
    return centre, flux, err, fold(cnt).astype(jnp.int32)


def _confidence(n_in, coverage, has_warn):
    base = jnp.where(n_in < 10, 0.2, jnp.where(n_in < 30, 0.5, jnp.where(n_in < 100, 0.7, 0.85)))
    base = jnp.where(
        coverage >= 0.8, jnp.minimum(0.95, base * 1.1), jnp.where(coverage < 0.6, base * 0.8, base)
    )
    base = jnp.where(has_warn, base * 0.9, base)
    return jnp.minimum(0.95, base)


def _split(st) -> bool:
    """Whether V05 runs as two programs (per-point stage, then fit): the default path, whose
    fit reads only the phase bins (``trapezoid_fit`` with the ``binned`` bootstrap)."""
    return st["method"] == "trapezoid_fit" and st["kind"] == "binned"


def _points_stage(c, st):
    """Stage 1 of one candidate: everything that reads its R gathered points.

    Returns ``(p, pts)``: ``p`` holds per-candidate scalars (sampling counts, coverage,
    status, the legacy point medians) and, for ``trapezoid_fit``, the ``n_groups * n_bins``
    fit-bin arrays -- no array of width R -- so that :func:`_fit_stage` on ``p`` compiles
    independently of R; ``pts`` holds the per-point arrays that the grid method and the
    point-reweighting bootstraps need inside the fit (empty on the :func:`_split` path).
    """
    t, f, fe, m, ex, gp = c["t"], c["f"], c["fe"], c["m"], c["exp"], c["grp"]
    period, t0, dur = c["P"], c["t0"], c["D"]
    base_med, base_sig, n_base = c["base_med"], c["base_sig"], c["n_base"]
    cand_ok = c["ok"]
    t_ph = dur / period
    h = t_ph / 2
    ph = _phase(t, t0, period)
    a = jnp.abs(ph)
    fit_ref = m & (a < h * 1.2)
    n_in = jnp.sum(fit_ref, dtype=jnp.int32)
    # coverage: 20 half-open bins over [-h, h] (edges as np.linspace computes them)
    edges = _numpy_linspace(-h, h, 20, 20)
    kc = jnp.searchsorted(edges, ph, side="right", method="compare_all") - 1
    inb = m & (kc >= 0) & (kc < 20)
    occ = jax.ops.segment_sum(inb.astype(jnp.int32), jnp.where(inb, kc, 20), num_segments=21)[:20]
    coverage = jnp.sum(occ > 0).astype(jnp.float64) / 20.0
    sampling_bad = (
        (n_in < st["min_points_in_transit"])
        | (n_base < _MIN_BASELINE)
        | (coverage < st["min_transit_coverage"])
    )
    status = jnp.where(~cand_ok, 2, jnp.where(sampling_bad, 1, 0)).astype(jnp.int32)
    base_safe = jnp.where(jnp.isfinite(base_med) & (base_med != 0), base_med, 1.0)
    fn = exact_div(f, base_safe)
    y = 1.0 - fn
    # legacy shape metrics on the raw flux (the fallbacks to the fitted depth: _fit_stage)
    ing = m & (ph > -h) & (ph < -h / 2)
    bot = m & (ph > -h / 4) & (ph < h / 4)
    egr = m & (ph > h / 2) & (ph < h)
    edge = ing | egr
    p = {
        "D": dur,
        "ok": cand_ok,
        "base_med": base_med,
        "n_base": n_base,
        "key": c["key"],
        "t_ph": t_ph,
        "h": h,
        "n_in": n_in,
        "coverage": coverage,
        "status": status,
        "n_bot": jnp.sum(bot, dtype=jnp.int32),
        "n_edge": jnp.sum(edge, dtype=jnp.int32),
        "bottom_pts": 1.0 - masked_median(f, bot) / base_med,
        "edge_pts": 1.0 - masked_median(f, edge) / base_med,
    }
    if st["method"] == "grid":
        return p, {"ph": ph, "fn": fn, "fit_ref": fit_ref}
    window = st["bounds"].window
    u = ph * period / dur
    sig = fe / base_safe
    win = m & (jnp.abs(u) < window)
    n_win = jnp.sum(win, dtype=jnp.int32)
    use_err = jnp.all(jnp.where(win, (sig > 0) & jnp.isfinite(sig), True)) & (n_win > 0)
    sb = base_sig / base_safe
    w_uni = jnp.where(sb > 0, 1.0 / jnp.where(sb > 0, sb, 1.0) ** 2, 1.0)
    w = jnp.where(use_err, 1.0 / jnp.where(sig > 0, sig, 1.0) ** 2, w_uni)
    w = jnp.where(win, w, 0.0)
    binned = st["kind"] == "binned"
    ids, xbar, ebar, s0, sy, syy, cnt, *mom = bin_fit_points(
        u,
        y,
        w,
        ex / dur,
        gp,
        m,
        window=window,
        n_bins=st["n_bins"],
        n_groups=st["n_groups"],
        second_moments=binned,
    )
    p.update(n_win=n_win, xbar=xbar, ebar=ebar, s0=s0, sy=sy, syy=syy, cnt=cnt)
    if binned:
        p.update(m00=mom[0], m0y=mom[1], myy=mom[2])
        return p, {}
    return p, {"ids": ids, "w": w, "y": y, "win": win}


def _fit_stage(p, pts, st):
    """Stage 2 of one candidate: fit, bootstrap, metrics, gates and verdict from
    :func:`_points_stage`'s ``(p, pts)``; with ``pts`` empty (the :func:`_split` path) it
    reads only per-candidate scalars and fit-bin arrays."""
    dur = p["D"]
    base_med, n_base = p["base_med"], p["n_base"]
    key = jax.random.wrap_key_data(p["key"])
    cand_ok = p["ok"]
    t_ph, h = p["t_ph"], p["h"]
    n_in, coverage, status = p["n_in"], p["coverage"], p["status"]
    out = {}
    n_boot = st["n_boot"]
    kb = st["boot_block"]
    n_blocks = -(-n_boot // kb)
    kvalid = (jnp.arange(n_blocks * kb) + 1) <= n_boot
    # trapezoid_fit: row 0 is the original data, rows 1..n_boot the resamples
    n_blocks_fit = -(-(n_boot + 1) // kb)
    rows = jnp.arange(n_blocks_fit * kb)
    kvalid_fit = (rows >= 1) & (rows <= n_boot)

    if st["method"] == "grid":
        ph, fn, fit_ref = pts["ph"], pts["fn"], pts["fit_ref"]
        ratio, depth, chi2 = reference_grid_search(ph, fn, fit_ref, t_ph)
        rank = jnp.cumsum(fit_ref) - 1

        def block(b):
            ks = 1 + b * kb + jnp.arange(kb)
            w = bootstrap_weights(key, rank, fit_ref, n_in, ks, st["kind"])
            return reference_grid_bootstrap(ph, fn, fit_ref, t_ph, w)

        boots = jax.lax.map(block, jnp.arange(n_blocks)).reshape(-1)
        err, _, _ = percentile_halfwidth(boots, kvalid, st["ci"])
        err = jnp.where(n_boot > 10, err, 0.2)
        # least-squares depth significance (unweighted, 2 parameters)
        s_hat = jnp.where(fit_ref, reference_trapezoid_shape(ph, ratio * t_ph, t_ph), 0.0)
        sss = jnp.sum(s_hat**2)
        nu = jnp.maximum(n_in - 2, 1)
        sig_d = jnp.sqrt(jnp.maximum(chi2, 0.0) / nu / jnp.where(sss > 0, sss, 1.0))
        out.update(
            ratio=ratio,
            ratio_err=err,
            depth=depth,
            depth_err=jnp.nan,
            t_total_h=dur * 24.0,
            t_total_err_h=jnp.nan,
            t_flat_h=ratio * (dur * 24.0),
            t_flat_err_h=jnp.nan,
            tmid_h=0.0,
            tmid_err_h=jnp.nan,
            sigma_depth=sig_d,
            n_fit=n_in,
        )
        prof_sel, prof_half, n_prof = fit_ref, h * 1.2, n_in
        model_ph = jnp.linspace(-h * 1.2, h * 1.2, _N_MODEL)
        model = 1.0 - depth * reference_trapezoid_shape(model_ph, ratio * t_ph, t_ph)
        band_lo = band_hi = jnp.full((_N_MODEL,), jnp.nan)
        duration_bad = jnp.asarray(False)
    else:
        bounds = st["bounds"]
        lo, hi = bounds.lower(), bounds.upper()
        window = bounds.window
        xbar, ebar, s0, sy, syy, cnt = p["xbar"], p["ebar"], p["s0"], p["sy"], p["syy"], p["cnt"]
        n_win = p["n_win"]
        binned = st["kind"] == "binned"
        n_slots = xbar.shape[0]
        tables = binned_bootstrap_tables(cnt, s0, sy, p["m00"], p["m0y"], p["myy"]) if binned else None
        p_start, hinv = trapezoid_start(xbar, ebar, s0, sy, bounds, n_adam=st["n_adam"])
        e_plot = jnp.sum(s0 * ebar) / jnp.maximum(jnp.sum(s0), 1e-300)
        model_u = jnp.linspace(-window, window, _N_MODEL)
        if not binned:
            win = pts["win"]
            rank = jnp.cumsum(win) - 1
            win_w = win.astype(jnp.float64)

        def block(b):
            # rows: 0 = the original data (the point estimate's BFGS polish), 1..K = resamples
            ks = b * kb + jnp.arange(kb)
            if binned:
                s0k, syk = jax.vmap(lambda k_: binned_poisson_sums(key, k_, tables))(ks)
                s0k = jnp.where((ks == 0)[:, None], s0[None, :], s0k)
                syk = jnp.where((ks == 0)[:, None], sy[None, :], syk)
            else:
                wk = bootstrap_weights(key, rank, win, n_win, ks, st["kind"])
                wk = jnp.where((ks == 0)[:, None], win_w[None, :], wk)
                s0k, syk, _ = resample_sums(pts["ids"], pts["w"], pts["y"], wk, n_slots)
            start = bootstrap_starts(xbar, ebar, s0k, syk, p_start, bounds)
            th, _, dk = bfgs_refine(
                start[:, 1:], xbar, ebar, s0k, syk, hinv, lo[1:], hi[1:], n_iter=st["n_bfgs"]
            )
            pk = jnp.concatenate([dk[:, None], th], axis=1)
            curves = pk[:, 0:1] * trapezoid_shape(
                model_u[None, :] - pk[:, 3:4], pk[:, 1:2], pk[:, 2:3] * pk[:, 1:2], e_plot
            )
            return pk, curves

        pk, curves = jax.lax.map(block, jnp.arange(n_blocks_fit))
        pk = pk.reshape(-1, 4)
        curves = curves.reshape(-1, _N_MODEL)
        p_hat = pk[0]
        # one sort for the parameters, F = r T and the 100 model-curve points
        allv = jnp.concatenate([pk, (pk[:, 1] * pk[:, 2])[:, None], curves], axis=1).T
        halfw, plo, phi = percentile_halfwidth(allv, kvalid_fit[None, :], st["ci"])
        errs = halfw[:4]
        flat_err = halfw[4]
        band = (halfw[5:], plo[5:], phi[5:])
        depth, tt, ratio, tau = p_hat[0], p_hat[1], p_hat[2], p_hat[3]
        # least-squares depth significance, errors rescaled by the reduced chi-square
        s_hat = trapezoid_shape(xbar - tau, tt, ratio * tt, ebar)
        sss = jnp.sum(s0 * s_hat**2)
        chi2 = jnp.sum(syy) - 2.0 * depth * jnp.sum(sy * s_hat) + depth**2 * sss
        nu = jnp.maximum(jnp.sum(cnt) - 4.0, 1.0)
        sig_d = jnp.sqrt(jnp.maximum(chi2, 0.0) / nu / jnp.where(sss > 0, sss, 1.0))
        dh = dur * 24.0
        out.update(
            ratio=ratio,
            ratio_err=errs[2],
            depth=depth,
            depth_err=errs[0],
            t_total_h=tt * dh,
            t_total_err_h=errs[1] * dh,
            t_flat_h=ratio * tt * dh,
            t_flat_err_h=flat_err * dh,
            tmid_h=tau * dh,
            tmid_err_h=errs[3] * dh,
            sigma_depth=sig_d,
            n_fit=n_win,
        )
        model_ph = model_u * t_ph
        model = 1.0 - depth * trapezoid_shape(model_u - tau, tt, ratio * tt, e_plot)
        band_lo, band_hi = 1.0 - band[2], 1.0 - band[1]
        duration_bad = jnp.abs(tt - 1.0) > st["duration_tolerance"]

    depth = out["depth"]
    ratio = out["ratio"]
    # legacy shape metrics: the point medians of stage 1, the fitted depth where a window is empty
    n_bot, n_edge = p["n_bot"], p["n_edge"]
    depth_bottom = jnp.where(n_bot > 0, p["bottom_pts"], depth)
    depth_edge = jnp.where(n_edge > 3, p["edge_pts"], depth_bottom * 0.5)
    shape_ratio = jnp.where(
        (depth_edge > 0) & (depth_bottom > 0), depth_bottom / jnp.where(depth_edge > 0, depth_edge, 1.0), 2.0
    )
    snr = jnp.where(
        out["sigma_depth"] > 0, depth / jnp.where(out["sigma_depth"] > 0, out["sigma_depth"], 1.0), 0.0
    )
    low_snr = (status == 0) & ~(snr >= st["min_snr"])
    low_sampling = (status == 0) & ((n_in < 30) | (coverage < 0.8))
    duration_bad = (status == 0) & duration_bad
    warn = (
        jnp.where(status == 1, WARNING_BITS["insufficient_sampling"], 0)
        | jnp.where(low_snr, WARNING_BITS["low_snr"], 0)
        | jnp.where(duration_bad, WARNING_BITS["duration_uncertain"], 0)
        | jnp.where(low_sampling, WARNING_BITS["low_sampling"], 0)
    ).astype(jnp.int32)
    depth_ppm = depth * 1e6
    grazing = jnp.where(
        ratio > st["grazing_ratio"],
        0,
        jnp.where((ratio > st["eb_ratio"]) & (depth_ppm < st["grazing_depth_ppm"]), 1, 2),
    ).astype(jnp.int32)
    has_warn = (warn != 0) if st["method"] == "trapezoid_fit" else jnp.asarray(False)
    conf = _confidence(n_in, coverage, has_warn)
    if st["method"] == "trapezoid_fit":
        conf = jnp.where(low_snr, jnp.minimum(conf, 0.3), conf)
    conf = jnp.where(status != 0, 0.2, conf)
    gated = (status != 0) | low_snr
    verdict = jnp.where(
        gated,
        VERDICT_CODES["insufficient"],
        jnp.where(grazing == 2, VERDICT_CODES["fail"], VERDICT_CODES["pass"]),
    ).astype(jnp.int32)
    measured = status == 0

    def meas(v):
        return jnp.where(measured, v, jnp.nan)

    res = {
        "shape_status": status,
        "verdict": verdict,
        "confidence": conf,
        "warnings": warn,
        "grazing_code": jnp.where(measured, grazing, -1).astype(jnp.int32),
        "n_in_transit": jnp.where(cand_ok, n_in, 0).astype(jnp.int32),
        "n_baseline": jnp.where(cand_ok, n_base, 0).astype(jnp.int32),
        "transit_coverage": jnp.where(cand_ok, coverage, 0.0),
        "n_fit_points": out["n_fit"].astype(jnp.int32),
        "baseline_median": base_med,
        "tflat_ttotal_ratio": meas(ratio),
        "tflat_ttotal_ratio_err": meas(out["ratio_err"]),
        "depth_ppm": meas(depth_ppm),
        "depth_ppm_err": meas(out["depth_err"] * 1e6),
        "t_total_hours": meas(out["t_total_h"]),
        "t_total_hours_err": meas(out["t_total_err_h"]),
        "t_flat_hours": meas(out["t_flat_h"]),
        "t_flat_hours_err": meas(out["t_flat_err_h"]),
        "tmid_offset_hours": meas(out["tmid_h"]),
        "tmid_offset_hours_err": meas(out["tmid_err_h"]),
        "snr": meas(snr),
        "depth_bottom": meas(depth_bottom),
        "depth_edge": meas(depth_edge),
        "shape_ratio": meas(shape_ratio),
        "n_bottom_points": jnp.where(measured, n_bot, 0).astype(jnp.int32),
        "n_edge_points": jnp.where(measured, n_edge, 0).astype(jnp.int32),
    }
    if st["plot"] and st["method"] == "trapezoid_fit":
        # the fit's own phase bins (no per-point sort: cheap for thousands of epochs)
        centre, med, err, pcnt = _fit_bin_profile(xbar, s0, sy, cnt, st["n_bins"], t_ph)
    elif st["plot"]:
        centre, med, err, pcnt = _plot_profile(pts["ph"], pts["fn"], prof_sel, n_prof, prof_half)
    if st["plot"]:
        res.update(
            plot_binned_phase=centre,
            plot_binned_flux=med,
            plot_binned_flux_err=err,
            plot_binned_count=pcnt,
            plot_model_phase=model_ph,
            plot_model_flux=model,
            plot_band_lo=band_lo,
            plot_band_hi=band_hi,
        )
    return res


def _candidate(c, st):
    """Everything V05 computes for one candidate (both stages in one trace)."""
    return _fit_stage(*_points_stage(c, st), st)


@partial(jax.jit, static_argnames=("st_items", "batch"))
def _kernel(inputs, thr, st_items, batch):
    """One program per chunk: the grid method and the point-reweighting bootstraps."""
    st = {**dict(st_items), **thr}
    return jax.lax.map(lambda c: _candidate(c, st), inputs, batch_size=batch)


@partial(jax.jit, static_argnames=("st_items", "batch"))
def _kernel_points(inputs, thr, st_items, batch):
    """Stage 1 of the :func:`_split` path (compiled per packed width R)."""
    st = {**dict(st_items), **thr}
    return jax.lax.map(lambda c: _points_stage(c, st)[0], inputs, batch_size=batch)


#: candidates per vectorised block of the fit stage; fixed (not chosen from the chunk), so a
#: candidate's fit runs the same machine code whatever the size of the run
_FIT_BATCH = 8


@partial(jax.jit, static_argnames=("st_items", "batch"))
def _kernel_fit(p, thr, st_items, batch):
    """Stage 2 of the :func:`_split` path: its shapes do not depend on R."""
    st = {**dict(st_items), **thr}
    return jax.lax.map(lambda c: _fit_stage(c, {}, st), p, batch_size=batch)


# -- orchestration ----------------------------------------------------------------------------


def _static_config(o: V05Options, n_groups: int):
    """The static kernel configuration (hashable): methods, counts, shapes; no thresholds."""
    st = {
        "method": o.method,
        "n_boot": o.n_bootstrap,
        "boot_block": min(o.boot_block, o.n_bootstrap + (o.method == "trapezoid_fit")),
        "kind": o.bootstrap,
        "ci": o.bootstrap_ci,
        "n_bins": o.n_fit_bins,
        "n_groups": n_groups if o.method == "trapezoid_fit" else 1,
        "bounds": TrapezoidBounds(window=o.window),
        "n_adam": o.n_adam,
        "n_bfgs": o.n_bfgs,
        "plot": o.plot_data,
    }
    return tuple(sorted(st.items()))


#: a chunk's (candidates x window) inputs may hold this many element budgets: the kernels map
#: over the chunk in ``lax.map`` batches whose intermediates each stay within one budget
_CHUNK_BUDGETS = 4


def _plan(ctx: VetContext, o: V05Options):
    """Host planning, once per call: every candidate's epoch windows and its chunk.

    Returns ``(plan, counts, chunks)``: the window plan, the (B, E) point counts of the
    usable windows, and a list of ``(idx, n_real)`` -- the candidates of each chunk (ordered
    by their number of window points, so that a chunk's padded width fits its members) and
    how many of the ``len(idx)`` slots are real.  A chunk holds up to ``batch_size``
    candidates, halved (powers of two, >= 8) while chunk x width exceeds the budget.
    """
    n = ctx.n_candidates
    cb = ctx.cb
    half = max(0.6, o.window) if o.method == "trapezoid_fit" else 0.6
    bc_max = min(o.batch_size, bucket_size(n, minimum=8))
    periods = np.asarray(cb.period)
    durs = np.asarray(cb.duration)
    ok_all = np.asarray(cb.valid) & (durs < 0.5 * periods)
    hw_all = np.where(ok_all, durs * half * (1.0 + 1e-9) + 1e-9, 1e-9)
    plan = plan_windows(ctx.lcb, cb, jnp.asarray(hw_all))
    counts = np.where(plan.valid & ok_all[:, None], plan.count, 0).astype(np.int32)
    total = counts.sum(axis=1)[:n]
    order = np.argsort(total, kind="stable")
    limit = _CHUNK_BUDGETS * element_budget()
    chunks = []
    start = 0
    while start < n:
        bc = bc_max
        while bc > 8 and bc * bucket_size(int(total[order[min(start + bc, n) - 1]]) + 16) > limit:
            bc //= 2
        pos = np.arange(start, start + bc)
        chunks.append((np.where(pos < n, order[np.minimum(pos, n - 1)], 0), int(min(bc, n - start))))
        start += bc
    return plan, counts, chunks


def _chunk_inputs(ctx, o, tables, plan, counts, idx, n_real):
    """The device inputs of one chunk (candidates ``idx``; slots past ``n_real`` are padding)."""
    lcb, exp_tab, grp_tab, stime, sflux, keys = ctx.lcb, *tables
    real = np.arange(len(idx)) < n_real
    sub = ctx.cb.take(jnp.asarray(idx))
    valid = np.asarray(sub.valid) & real
    period = np.asarray(sub.period)
    dur = np.asarray(sub.duration)
    ok = valid & (dur < 0.5 * period)
    sub = dataclasses.replace(sub, valid=jnp.asarray(valid))
    # canonical layout: each candidate's points packed in time order (rank order), so a
    # candidate's numbers do not depend on the epoch/window buckets of its chunk
    cnt_sub = np.where(ok[:, None], counts[idx], 0)
    n_pts = int(np.max(cnt_sub.sum(axis=1), initial=0))
    r = max(bucket_size(n_pts, minimum=16), bucket_size(o.pad_points, minimum=1))
    h = jnp.asarray(np.where(ok, dur / period / 2, 0.01))
    per_lc = max(1, element_budget() // max(int(stime.shape[1]), 1))
    med, sig, cnt = _baseline_stats(
        stime, sflux, lcb.n_valid, sub.lc_index, sub.t0, sub.period, h, batch=min(len(idx), per_lc)
    )
    epoch, first = jnp.asarray(plan.epoch[idx]), jnp.asarray(plan.start[idx])
    pts = _packed_points(lcb, sub, epoch, first, jnp.asarray(cnt_sub, jnp.int32), exp_tab, grp_tab, width=r)
    return r, {
        **pts,
        "P": sub.period,
        "t0": sub.t0,
        "D": sub.duration,
        "ok": jnp.asarray(ok),
        "base_med": med,
        "base_sig": sig,
        "n_base": cnt,
        "key": keys[jnp.asarray(idx)],
    }


def _run_chunk(inputs, r, b, thr, st_items):
    """Dispatch V05's program(s) on one chunk of ``b`` candidates of padded width ``r``."""
    st = dict(st_items)
    q = st["n_bins"] * st["n_groups"]
    # lax.map batches: each intermediate within the element budget.  Per candidate: the ~24
    # per-point columns of the binning (r x 24), the fit's (block x bins) arrays (q x 512),
    # point-level bootstrap weights (r x block) where the fit reads the points
    per = max(r * 24 if st["kind"] == "binned" else r * (st["boot_block"] + 8), q * 512, 1)
    inner = int(max(1, min(b, element_budget() // per)))
    if _split(st):
        # the per-point stage keeps the one-program batch (its bins stay bit-for-bit the
        # same); the fit's batch does not depend on r: one compiled fit for every width
        p = _kernel_points(inputs, thr, st_items, inner)
        return _kernel_fit(p, thr, st_items, _FIT_BATCH if b % _FIT_BATCH == 0 else b)
    return _kernel(inputs, thr, st_items, inner)


def compute(ctx: VetContext, opts: V05Options) -> dict:
    """V05 for every candidate of ``ctx``: device arrays with a leading candidate axis.

    Every chunk is dispatched before anything is waited for; the chunks' results are put
    back in candidate order on the device (:func:`jaxvet.engine.chunks.assemble`).
    """
    n = ctx.n_candidates
    if n == 0:
        return {}
    exp_tab, grp_tab, n_groups = _exposure_tables(ctx, opts.exposure_minutes)
    stime, sflux = _presort(ctx.lcb.time, ctx.lcb.flux, ctx.lcb.mask)
    keys = jax.random.key_data(candidate_keys(ctx.seed, ctx.key_ids(n)))
    tables = (exp_tab, grp_tab, stime, sflux, keys)
    st_items = _static_config(opts, n_groups)
    thr = {k: jnp.asarray(v) for k, v in opts.kernel_thresholds().items()}
    plan, counts, chunks = _plan(ctx, opts)
    parts, rows = [], []
    for idx, n_real in chunks:
        r, inputs = _chunk_inputs(ctx, opts, tables, plan, counts, idx, n_real)
        parts.append(_run_chunk(inputs, r, len(idx), thr, st_items))
        rows.append(idx[:n_real])
    out = assemble(parts, rows, n)
    out["status"] = jnp.zeros(n, jnp.int32)  # the check ran (reference: status "ok" always)
    out["verdict"] = out["verdict"].astype(jnp.int32)
    return out


def transit_shape(ctx: VetContext, options: Mapping | V05Options | None = None) -> dict[str, np.ndarray]:
    """:func:`compute` with the options of ``ctx`` (or ``options``), copied to the host."""
    opts = V05Options.from_mapping(ctx.options.get(ID) if options is None else options)
    return to_host(compute(ctx, opts))


# -- formatting -------------------------------------------------------------------------------


def _r(v, nd):
    v = float(v)
    return round(v, nd) if math.isfinite(v) else None


def _warning_codes(bits: int) -> list[str]:
    return [name for name, bit in WARNING_BITS.items() if bits & bit]


def format(ctx: VetContext, opts: V05Options, a: dict) -> list[CheckResult]:
    o = opts.to_dict()
    method_name = "trapezoid_grid_search" if o["method"] == "grid" else "trapezoid_fit"
    out = []
    for i, cand in enumerate(ctx.candidates):
        dh = float(cand.duration_hours)
        status = STATUS_NAMES[int(a["shape_status"][i])]
        codes = _warning_codes(int(a["warnings"][i]))
        notes: list[str] = []
        n_in = int(a["n_in_transit"][i])
        n_base = int(a["n_baseline"][i])
        cov = float(a["transit_coverage"][i])
        common = {
            "method": method_name,
            "grazing_indicator": None,
            "shape": None,
            "warnings": ",".join(codes),
            "n_bootstrap": o["n_bootstrap"],
            "bootstrap": o["bootstrap"],
        }
        if status == "invalid_duration":
            notes.append("duration_too_long_relative_to_period")
        if status == "insufficient_data":
            if n_in < o["min_points_in_transit"]:
                notes.append(f"Only {n_in} in-transit points, need {o['min_points_in_transit']}")
            if n_base < _MIN_BASELINE:
                notes.append(f"Only {n_base} baseline points, need 10")
            if cov < o["min_transit_coverage"]:
                notes.append(f"Transit coverage {cov:.2f} below minimum {o['min_transit_coverage']}")
        if status != "ok":
            metrics = {
                "depth_bottom": 0.0,
                "depth_edge": 0.0,
                "shape_ratio": 2.0,
                "n_bottom_points": 0,
                "n_edge_points": 0,
                "status": status,
                "t_flat_hours": 0.0,
                "t_total_hours": dh,
                "tflat_ttotal_ratio": 0.5,
                "tflat_ttotal_ratio_err": 0.5,
                "shape_metric_uncertainty": 0.5,
                "transit_coverage": 0.0 if status == "invalid_duration" else round(cov, 3),
                "n_in_transit": n_in,
                "n_baseline": n_base,
                **common,
            }
            plot = {
                "version": 1,
                "binned_phase": [],
                "binned_flux": [],
                "binned_flux_err": [],
                "trapezoid_phase": [],
                "trapezoid_flux": [],
                "t_flat_hours": 0.0,
                "t_total_hours": dh,
            }
            out.append(
                CheckResult(
                    id=ID,
                    name=NAME,
                    status="ok",
                    confidence=0.2,
                    verdict="insufficient",
                    metrics=metrics,
                    raw={**metrics, "warnings": codes, "plot_data": plot},
                    notes=notes,
                )
            )
            continue
        ratio = float(a["tflat_ttotal_ratio"][i])
        err = float(a["tflat_ttotal_ratio_err"][i])
        grazing = GRAZING_NAMES[int(a["grazing_code"][i])]
        snr = float(a["snr"][i])
        if "low_snr" in codes:
            notes.append(f"low_snr: depth significance {snr:.2f} below {o['min_snr']}")
        if "low_sampling" in codes:
            notes.append(f"low_sampling: {n_in} in-transit points, coverage {cov:.2f}")
        if "duration_uncertain" in codes:
            notes.append(
                f"duration_uncertain: fitted T = {float(a['t_total_hours'][i]):.3f} h vs catalogue {dh:.3f} h"
            )
        metrics = {
            "depth_bottom": _r(a["depth_bottom"][i], 6),
            "depth_edge": _r(a["depth_edge"][i], 6),
            "shape_ratio": _r(a["shape_ratio"][i], 3),
            "n_bottom_points": int(a["n_bottom_points"][i]),
            "n_edge_points": int(a["n_edge_points"][i]),
            "status": "ok",
            "t_flat_hours": _r(a["t_flat_hours"][i], 4),
            "t_total_hours": _r(a["t_total_hours"][i], 4),
            "tflat_ttotal_ratio": _r(ratio, 4),
            "tflat_ttotal_ratio_err": _r(err, 4),
            "shape_metric_uncertainty": _r(err, 4),
            "depth_ppm": _r(a["depth_ppm"][i], 1),
            "transit_coverage": round(cov, 3),
            "n_in_transit": n_in,
            "n_baseline": n_base,
            **common,
            "grazing_indicator": grazing,
            "shape": "V-shaped" if ratio < o["tflat_ttotal_threshold"] else "U-shaped",
            "depth_ppm_err": _r(a["depth_ppm_err"][i], 1),
            "t_total_hours_err": _r(a["t_total_hours_err"][i], 4),
            "t_flat_hours_err": _r(a["t_flat_hours_err"][i], 4),
            "tmid_offset_hours": _r(a["tmid_offset_hours"][i], 4),
            "tmid_offset_hours_err": _r(a["tmid_offset_hours_err"][i], 4),
            "snr": _r(snr, 2),
        }
        raw = {**metrics, "warnings": codes}
        if "plot_binned_phase" in a:
            keep = np.asarray(a["plot_binned_count"][i]) > 0
            raw["plot_data"] = {
                "version": 1,
                "method": method_name,
                "period_days": float(cand.period_days),
                "binned_phase": np.asarray(a["plot_binned_phase"][i])[keep].tolist(),
                "binned_flux": np.asarray(a["plot_binned_flux"][i])[keep].tolist(),
                "binned_flux_err": np.asarray(a["plot_binned_flux_err"][i])[keep].tolist(),
                "trapezoid_phase": np.asarray(a["plot_model_phase"][i]).tolist(),
                "trapezoid_flux": np.asarray(a["plot_model_flux"][i]).tolist(),
                "band_lo": [
                    None if not math.isfinite(v) else v for v in np.asarray(a["plot_band_lo"][i]).tolist()
                ],
                "band_hi": [
                    None if not math.isfinite(v) else v for v in np.asarray(a["plot_band_hi"][i]).tolist()
                ],
                "t_flat_hours": float(a["t_flat_hours"][i]),
                "t_total_hours": float(a["t_total_hours"][i]),
                "tflat_ttotal_ratio": ratio,
                "tflat_ttotal_ratio_err": err,
                "depth_ppm": float(a["depth_ppm"][i]),
                "grazing_indicator": grazing,
            }
        out.append(
            CheckResult(
                id=ID,
                name=NAME,
                status="ok",
                confidence=round(float(a["confidence"][i]), 3),
                verdict=["pass", "warn", "fail", "insufficient"][int(a["verdict"][i])],
                metrics=metrics,
                raw=raw,
                notes=notes,
            )
        )
    return out


SPEC = CheckSpec(
    id=ID,
    name=NAME,
    compute=compute,
    format=format,
    options=V05Options,
    summary_metrics=SUMMARY,
    description="Transit shape: trapezoid fit tF/tT with bootstrap errors, grazing indicator (U vs V).",
)
