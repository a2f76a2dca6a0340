"""Optional detrending with the candidate's transits masked, and the out-of-transit variability flag.

Detrending (:func:`detrend_lightcurves`, ``jaxvet.vet(..., detrend=...)``, ``jaxvet vet
--detrend``): every candidate is vetted on its own detrended copy of its light curve, the flux
divided by a sliding robust trend (:func:`jaxvet.core.detrend.sliding_trend`: a time-windowed
Tukey biweight, Hippke et al. 2019, AJ 158, 143, or a running median) computed with the
candidate's transits left out of the trend: cadences with ``|t - t_c| < 0.5 D (1 + pad)`` of
a transit centre (as :mod:`jaxvet.masking`, default ``pad`` 0.5) get a trend from the points
around them but do not enter anybody's trend, so the transit is not partly removed.  Candidates
with the same light curve, ephemeris and window share one row.  ``flux_err`` is divided by the
same trend.  Points whose window holds no usable point get no trend and become invalid.

The default window is ``max(3 D, 0.25 d)``: Hippke et al. (2019) recommend a window of about
three transit durations -- long enough that the masked transit (1.5 D) leaves points
on both sides in every window, short enough to follow stellar variability on a time scale of a
few durations; 0.25 d keeps short transits from getting a window of a few cadences.  Segments
are split at gaps longer than half the window (wotan's default ``break_tolerance``), so no trend
reaches across a gap.  Detrending runs after masking (``mask``/``mask_others``): masked cadences
are invalid and enter no trend.

Variability (:func:`assess_variability`): without detrending, checks read the light curve as
given, so on a spotted star V02 measures rotation and V04 the star's wander.  For every
candidate the out-of-transit flux (``|t - t_c| >= 0.5 D (1 + pad)``), normalised by its median,
is binned at the transit duration (bins restart at every gap > 0.25 d; bins with fewer than
half a full bin or fewer than 3 points are dropped) and the variability on the transit
time scale is the part of the robust scatter of the bin means beyond white noise:
``sigma_var^2 = max(0, s_bin^2 - sigma_w^2 <1/c> (1 + 2 sqrt(2/n_bins)))`` with
``s_bin = 1.4826 MAD(bin means)``, ``sigma_w`` the robust point-to-point scatter
(``1.4826 MAD(diff)/sqrt(2)``), ``c`` the bin counts, and a two-sigma allowance for the sampling
error of the variance (Vaughan et al. 2003, MNRAS 345, 1271).  The ratio ``sigma_var / depth``
(the candidate's ``depth_ppm`` when given, else the median depth of the central half of the
transits against the out-of-transit bins on either side, on the same light curve) above
``threshold`` (default 0.4) raises the flag ``OOT_VARIABILITY`` on the candidate's V02 and V04
results, with a note suggesting ``--detrend``; the report records the measurement per
candidate.  With detrending on it is measured on the detrended light curve.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core import detrend as kernels
from jaxvet.core.variability import lightcurve_scales
from jaxvet.core.variability_prefix import (
    bin_capacities,
    lightcurve_prefix,
    max_epochs,
    oot_variability_prefix,
    segment_index_bounds,
)
from jaxvet.data import Candidate, LightCurve, LightCurveBatch, bucket_size
from jaxvet.engine.chunks import element_budget, map_rows, rows_per_chunk
from jaxvet.engine.options import (
    CheckOptions,
    at_least,
    non_negative,
    one_of,
    option,
    optional_positive,
    positive,
)
from jaxvet.errors import JaxvetInputError
from jaxvet.masking import DEFAULT_MASK_PAD

__all__ = [
    "DetrendOptions",
    "DetrendedRun",
    "as_detrend_options",
    "detrend_lightcurves",
    "assess_variability",
    "VARIABILITY_FLAG",
    "DEFAULT_VARIABILITY_THRESHOLD",
    "add_detrend_arguments",
    "detrend_from_args",
    "detrend_step",
    "flag_results",
]

#: flag set on V02 and V04 results when the out-of-transit variability is large
VARIABILITY_FLAG = "OOT_VARIABILITY"
#: flag when sigma_var > this x the depth
DEFAULT_VARIABILITY_THRESHOLD = 0.4
#: checks that read the out-of-transit level and get the flag
FLAGGED_CHECKS = ("V02", "V04")


@dataclass(frozen=True)
class DetrendOptions(CheckOptions):
    """How to detrend (module docstring).  ``window_days=None``: ``max(window_factor x D,
    min_window_days)`` per candidate; ``break_tolerance_days=None``: half the window."""

    check_id: ClassVar[str] = "detrend"
    method: str = option("biweight", one_of(*kernels.METHODS))
    window_days: float | None = option(None, optional_positive)
    window_factor: float = option(3.0, positive)
    min_window_days: float = option(0.25, positive)
    break_tolerance_days: float | None = option(None, optional_positive)
    mask_pad: float = option(DEFAULT_MASK_PAD, non_negative)
    cval: float = option(kernels.BIWEIGHT_C, positive, traced=True)
    ftol: float = option(kernels.BIWEIGHT_FTOL, positive, traced=True)
    max_iter: int = option(kernels.DEFAULT_MAX_ITER, at_least(1), traced=True)

    def window_for(self, c: Candidate) -> float:
        if self.window_days is not None:
            return self.window_days
        return max(self.window_factor * c.duration_days, self.min_window_days)

    def break_tolerance_for(self, window: float) -> float:
        return 0.5 * window if self.break_tolerance_days is None else self.break_tolerance_days

    def record(self) -> dict:
        d = self.to_dict()
        d["window_rule"] = (
            f"{self.window_days:g} d"
            if self.window_days is not None
            else f"max({self.window_factor:g} x duration, {self.min_window_days:g} d)"
        )
        return d


def as_detrend_options(value: Any) -> DetrendOptions | None:
    """``None``/``False`` (no detrending), a method name, a mapping of :class:`DetrendOptions`
    fields or a :class:`DetrendOptions`; anything else raises :class:`JaxvetInputError`."""
    if value is None or value is False:
        return None
    if isinstance(value, DetrendOptions):
        return value
    if isinstance(value, str):
        return DetrendOptions(method=value)
    if isinstance(value, Mapping):
        return DetrendOptions.from_mapping(value)
    raise JaxvetInputError(
        f"detrend must be None, one of {list(kernels.METHODS)}, a mapping of options "
        f"({sorted(DetrendOptions.names())}) or DetrendOptions, got {value!r}"
    )


@dataclass(frozen=True)
class DetrendedRun:
    """The detrended light-curve rows of a run and what was done for each candidate."""

    lightcurves: list[LightCurve]
    lc_index: np.ndarray  # (B,) row of each candidate
    options: DetrendOptions
    candidates: list[dict]  # per candidate: row, window, points in and out of the trend

    def record(self) -> dict:
        return {**self.options.record(), "n_rows": len(self.lightcurves), "candidates": self.candidates}


@jax.jit
def _row_inputs(lcb: LightCurveBatch, row_lc, period, t0, half_width):
    """Rows of ``lcb`` (by ``row_lc``) and the points outside the candidate's masked transits."""
    from jaxvet.core.ephemeris import phase_centered

    time = lcb.time[row_lc]
    valid = lcb.mask[row_lc]
    ph = phase_centered(time, t0[:, None], period[:, None]) * period[:, None]
    return time, lcb.flux[row_lc], valid, valid & ~(jnp.abs(ph) < half_width[:, None])


def _rows(lightcurves, candidates, li, opts: DetrendOptions):
    """Distinct (light curve, ephemeris, window) rows: ``(keys, row of each candidate)``."""
    keys: dict[tuple, int] = {}
    index = np.zeros(len(candidates), np.int64)
    for i, c in enumerate(candidates):
        w = opts.window_for(c)
        key = (int(li[i]), c.period_days, c.t0_btjd, c.duration_days, w)
        index[i] = keys.setdefault(key, len(keys))
    return list(keys), index


def detrend_lightcurves(
    lightcurves: Sequence[LightCurve], candidates: Sequence[Candidate], lc_index, options: DetrendOptions
) -> DetrendedRun:
    """One detrended light-curve row per distinct (light curve, ephemeris, window); module
    docstring.  All rows are detrended in one batched program on the device."""
    li = np.asarray(lc_index, np.int64)
    keys, index = _rows(lightcurves, candidates, li, options)
    lcb = LightCurveBatch.from_lightcurves(list(lightcurves))
    r = len(keys)
    rp = bucket_size(r, 1)  # rows padded to a power of two: repeated runs reuse the program
    pick = np.arange(rp) % r
    row_lc = np.array([k[0] for k in keys])[pick]
    period = np.array([k[1] for k in keys])[pick]
    t0 = np.array([k[2] for k in keys])[pick]
    window = np.array([k[4] for k in keys])[pick]
    half = 0.5 * np.array([k[3] for k in keys])[pick] * (1.0 + options.mask_pad)
    btol = np.array([options.break_tolerance_for(w) for w in window])
    width = 8
    for lc_i in sorted(set(row_lc.tolist())):
        lc = lightcurves[lc_i]
        width = max(width, kernels.window_width(lc.time, lc.valid, float(window[row_lc == lc_i].max())))
    block = kernels.block_size(width, rp * lcb.n_points, element_budget() // 4)
    time, flux, valid, use = _row_inputs(
        lcb, jnp.asarray(row_lc), jnp.asarray(period), jnp.asarray(t0), jnp.asarray(half)
    )
    tr = options.traced()
    trend, _ = kernels.sliding_trend(
        time,
        flux,
        valid,
        use,
        jnp.asarray(window),
        jnp.asarray(btol),
        tr["cval"],
        tr["ftol"],
        tr["max_iter"],
        method=options.method,
        width=width,
        block=block,
    )
    trend, valid, use = jax.device_get((trend, valid, use))
    out: list[LightCurve] = []
    rows: list[dict] = []
    for k in range(r):
        lc = lightcurves[keys[k][0]]
        v = lc.valid
        full = np.full(len(lc), np.nan)
        m = int(v.sum())
        full[v] = trend[k, :m]
        out.append(dataclasses.replace(lc, flux=lc.flux / full, flux_err=lc.flux_err / full))
        rows.append(
            {
                "row": k,
                "window_days": float(window[k]),
                "break_tolerance_days": float(btol[k]),
                "n_trend_points": int(use[k].sum()),
                "n_transit_points": int((valid[k] & ~use[k]).sum()),
                "n_no_trend": int(np.isnan(trend[k, :m]).sum()),
            }
        )
    return DetrendedRun(lightcurves=out, lc_index=index, options=options, candidates=[rows[j] for j in index])


# ------------------------------------------------------------------------------------------
# the variability flag
# ------------------------------------------------------------------------------------------
@partial(jax.jit, static_argnames=("nb_max", "n_epochs"))
def _variability_rows(
    lcb: LightCurveBatch, scales, prefix, seg_index, cand, threshold, *, nb_max: int, n_epochs: int
):
    return oot_variability_prefix(
        lcb.time,
        prefix,
        seg_index,
        cand["lc_index"],
        scales,
        cand["period"],
        cand["t0"],
        cand["duration"],
        cand["half_width"],
        cand["depth"],
        threshold,
        nb_max=nb_max,
        n_epochs=n_epochs,
    )


@jax.jit
def _lightcurve_summary(lcb: LightCurveBatch):
    scales = lightcurve_scales(lcb.time, lcb.flux, lcb.mask)
    return scales, lightcurve_prefix(lcb.flux, lcb.mask, scales[0])


def assess_variability(
    lcb: LightCurveBatch,
    candidates: Sequence[Candidate],
    lc_index,
    depths_ppm: Sequence[float | None],
    *,
    threshold: float = DEFAULT_VARIABILITY_THRESHOLD,
    pad: float = DEFAULT_MASK_PAD,
    detrended: bool = False,
) -> list[dict]:
    """Per candidate: the out-of-transit variability on the transit time scale (module docstring).

    ``depths_ppm[i]``: the candidate's depth (ppm) or None (then the depth is measured against
    the neighbouring out-of-transit bins, :mod:`jaxvet.core.variability`).  Returns one record
    per candidate: ``sigma_var_ppm``, ``sigma_white_ppm``, ``n_bins``, ``depth_ppm`` (used),
    ``depth_source`` (``given``/``measured``), ``ratio``, ``threshold``, ``flag`` and
    ``detrended``.  The light curves are summarised once (prefix sums, segments) and each
    candidate touches only its bins' and windows' boundaries
    (:mod:`jaxvet.core.variability_prefix`); candidates are processed in chunks of rows under the
    engine's element budget, all dispatched before one host copy.
    """
    n = len(candidates)
    given = np.array([np.nan if d is None else float(d) * 1e-6 for d in depths_ppm])
    cand = {
        "lc_index": np.asarray(lc_index, np.int32),
        "period": np.array([c.period_days for c in candidates]),
        "t0": np.array([c.t0_btjd for c in candidates]),
        "duration": np.array([c.duration_days for c in candidates]),
        "half_width": np.array([0.5 * c.duration_days * (1.0 + pad) for c in candidates]),
        "depth": given,
    }
    li = cand["lc_index"]
    seg_t = (np.asarray(lcb.seg_lo)[li], np.asarray(lcb.seg_hi)[li])
    caps = bin_capacities(*seg_t, cand["duration"])
    n_epochs = max_epochs(*seg_t, cand["period"], cand["t0"], cand["half_width"])
    seg_index = tuple(
        jnp.asarray(a) for a in segment_index_bounds(np.asarray(lcb.time), np.asarray(lcb.mask))
    )
    thr = jnp.asarray(threshold, jnp.float64)
    scales, prefix = _lightcurve_summary(lcb)
    parts = []
    for cap in np.unique(caps).tolist():  # candidates grouped by bin capacity: at most 3 programs
        idx = np.nonzero(caps == cap)[0]
        chunk = rows_per_chunk(cap + n_epochs, scale=0.25, cap=bucket_size(len(idx), 1))
        out = map_rows(
            lambda sub, cap=cap: _variability_rows(
                lcb, scales, prefix, seg_index, sub, thr, nb_max=cap, n_epochs=n_epochs
            ),
            {k: jnp.asarray(v[idx]) for k, v in cand.items()},
            len(idx),
            chunk,
        )
        parts.append((idx, out))
    host = {}
    for idx, out in zip([i for i, _ in parts], jax.device_get([o for _, o in parts]), strict=True):
        for k, v in out.items():
            host.setdefault(k, np.zeros(n, np.asarray(v).dtype))[idx] = v
    host = {k: v.tolist() for k, v in host.items()}  # one conversion per field
    source = ["given" if g else "measured" for g in np.isfinite(given).tolist()]
    thr_f, det = float(threshold), bool(detrended)
    return [
        {
            "sigma_var_ppm": _ppm(sv),
            "sigma_white_ppm": _ppm(sw),
            "n_bins": nb,
            "depth_ppm": _ppm(dp),
            "depth_source": src,
            "ratio": _round(r, 4),
            "threshold": thr_f,
            "flag": fl,
            "detrended": det,
        }
        for sv, sw, nb, dp, src, r, fl in zip(
            host["sigma_var"],
            host["sigma_white"],
            host["n_bins"],
            host["depth"],
            source,
            host["ratio"],
            host["flag"],
            strict=True,
        )
    ]


def _round(v, digits):
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


def _ppm(v):
    return _round(float(v) * 1e6, 1)


def flag_results(results: list[dict], records: list[dict]) -> None:
    """Add :data:`VARIABILITY_FLAG` and a note to the V02/V04 results of flagged candidates."""
    for res, rec in zip(results, records, strict=True):
        if not rec["flag"]:
            continue
        where = "after detrending" if rec["detrended"] else "in the light curve as given"
        hint = "" if rec["detrended"] else "; consider detrending (--detrend biweight, docs/detrending.md)"
        scale = (
            "and the candidate has no positive depth"
            if rec["ratio"] is None
            else f"= {rec['ratio']:g} x the depth (> {rec['threshold']:g})"
        )
        note = (
            f"Out-of-transit variability on the transit time scale is {rec['sigma_var_ppm']:g} ppm "
            f"{scale} {where}: the out-of-transit level may follow the star, not the candidate{hint}"
        )
        for cid in FLAGGED_CHECKS:
            r = res.get(cid)
            if r is None or r.status != "ok":
                continue
            if VARIABILITY_FLAG not in r.flags:
                r.flags.append(VARIABILITY_FLAG)
                r.notes.append(note)


def validate_threshold(value) -> float | None:
    """``variability_threshold``: None (no assessment) or a positive number."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or not (math.isfinite(v) and v > 0):
        raise JaxvetInputError(f"variability_threshold must be a positive number or None, got {value!r}")
    return v


# ------------------------------------------------------------------------------------------
# the step of jaxvet.vet
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Step:
    detrended: DetrendedRun | None
    threshold: float | None

    def report(self, lcb: LightCurveBatch, candidates, lc_index, results: list[dict]) -> dict:
        """The report's ``detrending`` and ``variability`` (flags added to ``results``)."""
        variability = None
        if self.threshold is not None:
            variability = assess_variability(
                lcb,
                candidates,
                lc_index,
                [c.depth_ppm for c in candidates],
                threshold=self.threshold,
                detrended=self.detrended is not None,
            )
            flag_results(results, variability)
        return {
            "detrending": None if self.detrended is None else self.detrended.record(),
            "variability": variability,
        }


def detrend_step(
    lightcurves, candidates, lc_index, detrend=None, variability_threshold=DEFAULT_VARIABILITY_THRESHOLD
):
    """:func:`jaxvet.vet`'s detrending and variability step: ``(lightcurves, lc_index, step)``.

    ``detrend`` is None (the light curves as given), ``"biweight"``/``"median"``, a mapping of
    :class:`DetrendOptions` fields (``method``, ``window_days``, ...) or a
    :class:`DetrendOptions`; each candidate is then vetted on its light curve divided by a
    sliding trend computed with its own transits masked (after ``mask``), and the report's
    ``detrending`` records it.  ``variability_threshold`` (default
    :data:`DEFAULT_VARIABILITY_THRESHOLD`; None: not assessed): V02 and V04 results get the flag
    ``OOT_VARIABILITY`` when the out-of-transit variability on the transit time scale exceeds
    that multiple of the depth (on the detrended light curve when detrending); the report's
    ``variability`` holds the measurement per candidate.  Both are validated here, before
    anything compiles; a bad value raises :class:`JaxvetInputError` naming it.
    ``step.report(lcb, candidates, lc_index, results)`` runs the assessment at the end of the run.
    """
    opts = as_detrend_options(detrend)
    threshold = validate_threshold(variability_threshold)
    run = None
    if opts is not None:
        run = detrend_lightcurves(lightcurves, candidates, lc_index, opts)
        lightcurves, lc_index = run.lightcurves, run.lc_index
    return lightcurves, lc_index, _Step(run, threshold)


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------
def add_detrend_arguments(parser) -> None:
    """``--detrend {biweight,median}``, ``--detrend-window DAYS`` and ``--variability-threshold``."""
    g = parser.add_argument_group("detrending (see docs/detrending.md)")
    g.add_argument(
        "--detrend",
        choices=kernels.METHODS,
        help="divide each candidate's light curve by a sliding robust trend computed with its "
        "transits masked (default: no detrending)",
    )
    g.add_argument(
        "--detrend-window",
        type=float,
        metavar="DAYS",
        help="trend window [d] (default: max(3 x duration, 0.25 d) per candidate; needs --detrend)",
    )
    g.add_argument(
        "--variability-threshold",
        type=float,
        default=DEFAULT_VARIABILITY_THRESHOLD,
        metavar="X",
        help="flag OOT_VARIABILITY on V02/V04 when the out-of-transit variability on the transit "
        f"time scale exceeds X x the depth (default {DEFAULT_VARIABILITY_THRESHOLD})",
    )


def detrend_from_args(args) -> DetrendOptions | None:
    if args.detrend is None:
        if args.detrend_window is not None:
            raise JaxvetInputError(
                f"--detrend-window {args.detrend_window!r} needs --detrend biweight|median"
            )
        return None
    if args.detrend_window is not None and not (
        math.isfinite(args.detrend_window) and args.detrend_window > 0
    ):
        raise JaxvetInputError(
            f"--detrend-window must be a positive number of days, got {args.detrend_window!r}"
        )
    return DetrendOptions(method=args.detrend, window_days=args.detrend_window)
