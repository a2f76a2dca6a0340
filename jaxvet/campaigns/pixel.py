"""Pixel-level injection-recovery campaigns: planets on the target, diluted EBs on a neighbour.

:func:`run_pixel_campaign` simulates ``n_injections`` synthetic target-pixel stamps
(:func:`jaxvet.synthetic.stamps.simulate_tpf`), vets each one with the pixel checks (V08 centroid
shift, V09 difference image) as ``jaxvet vet LC --tpf STAMP`` would, and aggregates how
often each check localizes the signal on the target or flags it as off target.

Injections
----------
Every stamp holds the target (at the stamp centre plus a random sub-pixel offset) and one
neighbour star at a drawn separation and position angle, for *both* kinds, so on-target planets
face the same confusion as the blends:

* ``planet`` -- a transit of depth ``depth_ppm`` (log-uniform, default 500-5000 ppm) on the target;
* ``diluted_eb`` -- an eclipsing binary on the neighbour.  Its eclipse depth (fraction of the
  neighbour's flux, clipped to ``eb_depth``, default 1-50%) is chosen so that the *diluted*
  depth in the target's aperture equals a ``depth_ppm`` drawn as for planets: the signal a
  light-curve search would find is comparable, only its location differs.

Kind ``i`` of ``kinds`` goes to injections ``injection_id % len(kinds) == i`` (balanced).  All
other parameters come from ``numpy.random.default_rng([seed, injection_id])`` (and the stamp's
noise from a seed drawn from it), so a row never depends on the chunking.  Ranges (keyword
arguments, ``(lo, hi)`` or a fixed number): see :data:`DEFAULT_RANGES`; ``period_days`` and
``depth_ppm`` are drawn log-uniform, the rest uniform.  ``t0`` is uniform in the first period.

Vetting
-------
A chunk of ``chunk_size`` injections is vetted in one engine segment
(:func:`jaxvet.engine.runner.run_contexts`, as :func:`jaxvet.vet` runs a segment): one
:class:`~jaxvet.engine.context.VetContext` holds every injection's aperture-sum light curve
(:func:`stamp_lightcurve`) and candidate, the chunk's stamps in ``tpfs`` and ``tpf_index[j] = j``
(each candidate on its own stamp).  The pixel checks (V08, V09, V10, V20,
:mod:`jaxvet.checks._pixel_pairs`) pack the chunk's same-shape stamps into one
padded batch and run every injection in one batched call per check, in fixed blocks of
:data:`PAIR_BLOCK` pairs; every check is dispatched before the host waits, then each check's
results come back in one device-to-host copy.  Bootstrap keys come from ``fold_in`` of
``(seed, injection_id)`` (``candidate_ids``) and the stamp's sector, so a row is bit-identical
whatever the chunk size (tested for chunks of 1, 3, 4, 5 and 8).  Chunks share one
:class:`~jaxvet.engine.chunks.ShapeLadder`, primed at the largest shapes of the ranges
(:func:`prime_shapes`), so V08 and V09 compile once per campaign; an in-transit set padded beyond
V08's ``JOINT_MAX`` takes its normal-rank bootstrap path.

Off-target flags (columns ``V08_off_target``, ``V09_off_target``, ``flagged_off_target``):

* V09: its verdict is ``warn`` or ``fail`` (deficit centroid > 1 px from the target; ``fail``
  at >= 3 sigma).
* V08 has no verdict (metrics only).  A significant centroid shift is *not* an off-target
  signal by itself: a transit on the target moves the light centre towards a bright neighbour
  too.  The campaign therefore converts the shift into a source position (the centroid-offset
  method of Bryson et al. 2013, PASP 125, 889): with ``delta`` the fractional depth of the summed
  stamp flux (the pixels V08 centroids), the source sits at ``c_out - shift (1 - delta) / delta``;
  ``V08_source_offset_pixels`` is its distance from the target's WCS position and
  ``V08_source_offset_sigma`` that distance over its propagated error (bootstrap shift errors,
  the error of ``delta`` and a 0.05 px floor).  ``V08_off_target``: offset > 1 px at >= 3 sigma
  with ``delta`` detected at >= 3 sigma.
* ``localized_on_target``: no check flags it and at least one check located it (V09 ``pass`` or a
  finite V08 source offset).

Running
-------
The chunks go through the campaign runner shared with light-curve campaigns
(:func:`jaxvet.campaigns.runner.run_chunks`, this module's per-kind piece being
:class:`_PixelCampaign`): with ``out`` given, chunk ``c`` is written as soon as it is vetted to
``out/results/part-CCCCC.parquet`` (atomically), ``out/config.json`` holds the configuration,
and a rerun in the same directory keeps the parts that read back whole and vets only the others
(a different configuration is refused, naming what differs), so an interrupted-and-resumed run
has exactly the rows of an uninterrupted one.  Then ``out/results.parquet`` (one row per
injection) and ``out/summary.json`` (rates per kind and check, overall and by separation bin,
from :func:`jaxvet.campaigns.summary.pixel_summary`, and timings) are written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxvet.campaigns import runner as campaign_runner
from jaxvet.campaigns.config import ChunkPlan
from jaxvet.campaigns.parts import to_astropy, write_part
from jaxvet.campaigns.runner import resolve_campaign_options
from jaxvet.campaigns.summary import DEFAULT_SEPARATION_BINS, pixel_campaign_summary, pixel_summary
from jaxvet.checks import get_check
from jaxvet.checks._pixel_pairs import GROUP_STAMPS_KEY, PAIR_BLOCK_KEY
from jaxvet.data import Candidate, CandidateBatch, LightCurve, LightCurveBatch, bucket_size
from jaxvet.engine import runner
from jaxvet.engine.chunks import ShapeLadder
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.errors import JaxvetInputError
from jaxvet.pixels import TESS_PIXEL_SCALE_ARCSEC, TPFStamp, stamp_target_pixel
from jaxvet.results import to_jsonable
from jaxvet.synthetic.stamps import Star, _prf, simulate_tpf

__all__ = [
    "run_pixel_campaign",
    "stamp_lightcurve",
    "pixel_campaign_summary",
    "PIXEL_KINDS",
    "DEFAULT_RANGES",
    "DEFAULT_SEPARATION_BINS",
]

PIXEL_KINDS = ("planet", "diluted_eb")
#: parameter ranges (``(lo, hi)``) or fixed values; override with keyword arguments
DEFAULT_RANGES: dict[str, Any] = {
    "period_days": (1.0, 10.0),  # log-uniform
    "duration_hours": (1.0, 5.0),
    "depth_ppm": (500.0, 5000.0),  # log-uniform; for diluted_eb: the depth in the target aperture
    "separation_px": (1.5, 4.0),  # neighbour distance from the target (21"/px)
    "neighbour_flux_ratio": (0.3, 1.0),  # neighbour flux / target flux
    "eb_depth": (0.01, 0.5),  # neighbour eclipse depth (fraction of its flux): clip range
    "target_flux": 20000.0,  # e-/s (sets the photon noise)
    "target_offset_px": (-0.5, 0.5),  # sub-pixel offset of the target from the stamp centre
}
_LOG_PARAMS = ("period_days", "depth_ppm")
#: stamp settings (fixed), also keyword arguments
DEFAULT_STAMP: dict[str, Any] = {
    "n_rows": 11,
    "n_cols": 11,
    "n_cadences": 2000,
    "cadence_min": 10.0,
    "t_start": 2000.0,
    "prf": "tess",
    "prf_sigma": 0.9,
    "background": 50.0,
    "read_noise": 10.0,
    "jitter_px": 0.002,
    "aperture_radius_px": 1.6,
}
DEFAULT_CHECKS = ("V08", "V09")
#: V08 check options the campaign sets unless given (no plot images are needed)
DEFAULT_OPTIONS = {"V08": {"plot_data": False}}
OFFSET_THRESHOLD_PX = 1.0
V08_FLOOR_PX = 0.05
#: (candidate, stamp) pairs per pixel-kernel call: fixed, so every row is computed by the same
#: program whatever the chunk size (rows are bit-identical across chunk sizes)
PAIR_BLOCK = 8

_KEY_METRICS = {
    "V08": (
        "centroid_shift_pixels",
        "significance_sigma",
        "shift_uncertainty_pixels",
        "shift_dx_pixels",
        "shift_dy_pixels",
        "n_in_transit_cadences",
    ),
    "V09": (
        "diff_offset_pixels",
        "diff_offset_sigma",
        "diff_significance_sigma",
        "diff_centroid_row",
        "diff_centroid_col",
        "aperture_sum_ppm",
    ),
    "V10": (
        "stability_metric",
        "aperture_depth_sign_flip",
        "depth_snr_recommended",
        "depth_ppm_aperture_min",
        "depth_ppm_aperture_max",
        "recommended_aperture_pixels",
    ),
    "V20": (
        "ghost_like_score",
        "scattered_light_risk",
        "aperture_contrast",
        "spatial_uniformity",
        "prf_likeness",
        "in_aperture_depth",
    ),
}


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def _resolve_kinds(kinds) -> tuple[str, ...]:
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    kinds = tuple(kinds)
    if not kinds:
        raise JaxvetInputError(f"kinds must name at least one of {list(PIXEL_KINDS)}, got {kinds!r}")
    for k in kinds:
        if k not in PIXEL_KINDS:
            raise JaxvetInputError(f"kinds: unknown kind {k!r}; known: {list(PIXEL_KINDS)}")
    if len(set(kinds)) != len(kinds):
        raise JaxvetInputError(f"kinds must not repeat a kind, got {list(kinds)}")
    return kinds


def _resolve_checks(checks) -> list[CheckSpec]:
    if isinstance(checks, str):
        checks = [c.strip() for c in checks.split(",") if c.strip()]
    specs: list[CheckSpec] = []
    for c in checks:
        spec = c if isinstance(c, CheckSpec) else get_check(str(c))  # UnknownCheckError names it
        if all(s.id != spec.id for s in specs):
            specs.append(spec)
    if not specs:
        raise JaxvetInputError(f"checks must name at least one check, got {checks!r}")
    return specs


def _resolve_ranges(ranges: Mapping[str, Any]) -> tuple[dict, dict]:
    rng_par = dict(DEFAULT_RANGES)
    stamp = dict(DEFAULT_STAMP)
    for name, value in ranges.items():
        if name in rng_par:
            if isinstance(value, (tuple, list)):
                if len(value) != 2:
                    raise JaxvetInputError(f"{name} must be a number or (lo, hi), got {value!r}")
                lo, hi = (float(v) for v in value)
            else:
                lo = hi = float(value)
            bad = not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo
            positive = name not in ("target_offset_px",)
            if bad or (positive and lo <= 0):
                raise JaxvetInputError(
                    f"{name} must be finite{' and > 0' if positive else ''} with lo <= hi, got {value!r}"
                )
            if name == "eb_depth" and hi >= 1.0:
                raise JaxvetInputError(
                    f"eb_depth must be < 1 (a fraction of the neighbour's flux), got {value!r}"
                )
            rng_par[name] = (lo, hi)
        elif name in stamp:
            stamp[name] = value
        else:
            known = sorted([*DEFAULT_RANGES, *DEFAULT_STAMP])
            raise JaxvetInputError(f"unknown pixel-campaign parameter {name!r}={value!r}; known: {known}")
    for name, value in list(rng_par.items()):
        if not isinstance(value, tuple):
            rng_par[name] = (float(value), float(value))
    for name in ("n_rows", "n_cols", "n_cadences"):
        if int(stamp[name]) < 5:
            raise JaxvetInputError(f"{name} must be >= 5, got {stamp[name]!r}")
    return rng_par, stamp


def _draw(rng: np.random.Generator, name: str, lohi) -> float:
    lo, hi = lohi
    u = rng.uniform()
    if lo == hi:
        return float(lo)
    if name in _LOG_PARAMS:
        return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
    return float(lo + u * (hi - lo))


# --------------------------------------------------------------------------------------------
# one injection
# --------------------------------------------------------------------------------------------
def _aperture_fraction(stamp_cfg: dict, rc, target_rc) -> float:
    """Fraction of a star's flux at ``rc`` that falls in the target's circular aperture."""
    nr, nc = int(stamp_cfg["n_rows"]), int(stamp_cfg["n_cols"])
    img = _prf(stamp_cfg["prf"], nr, nc, rc[0], rc[1], float(stamp_cfg["prf_sigma"]))
    rr, cc = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    ap = (rr - target_rc[0]) ** 2 + (cc - target_rc[1]) ** 2 <= float(stamp_cfg["aperture_radius_px"]) ** 2
    return float(img[ap].sum())


def draw_injection(
    injection_id: int, seed: int, kinds: Sequence[str], rng_par: dict, stamp_cfg: dict
) -> dict:
    """The truth of one injection (a dict), from ``default_rng([seed, injection_id])``."""
    rng = np.random.default_rng([int(seed), int(injection_id)])
    kind = kinds[int(injection_id) % len(kinds)]
    p = {k: _draw(rng, k, v) for k, v in rng_par.items()}
    off = (p["target_offset_px"], _draw(rng, "target_offset_px", rng_par["target_offset_px"]))
    theta = float(rng.uniform(0.0, 2.0 * math.pi))
    t0 = float(stamp_cfg["t_start"]) + float(rng.uniform()) * p["period_days"]
    stamp_seed = int(rng.integers(0, 2**31 - 1))
    nr, nc = int(stamp_cfg["n_rows"]), int(stamp_cfg["n_cols"])
    target_rc = ((nr - 1) / 2.0 + off[0], (nc - 1) / 2.0 + off[1])
    sep = p["separation_px"]
    d_row, d_col = sep * math.sin(theta), sep * math.cos(theta)
    nb_rc = (target_rc[0] + d_row, target_rc[1] + d_col)
    f_t = p["target_flux"]
    f_n = p["neighbour_flux_ratio"] * f_t
    a_t = _aperture_fraction(stamp_cfg, target_rc, target_rc)
    a_n = _aperture_fraction(stamp_cfg, nb_rc, target_rc)
    ap_flux = f_t * a_t + f_n * a_n
    if kind == "planet":
        depth_ppm = p["depth_ppm"]
        eb_depth = 0.0
        ap_depth = depth_ppm * f_t * a_t / ap_flux
    else:
        lo, hi = rng_par["eb_depth"]
        want = p["depth_ppm"] * 1e-6 * ap_flux / max(f_n * a_n, 1e-300)
        eb_depth = float(min(max(want, lo), hi))
        depth_ppm = 0.0
        ap_depth = 1e6 * eb_depth * f_n * a_n / ap_flux
    return {
        "injection_id": int(injection_id),
        "kind": kind,
        "period_days": p["period_days"],
        "t0_btjd": t0,
        "duration_hours": p["duration_hours"],
        "depth_ppm": depth_ppm,  # on the target (planet)
        "eb_depth": eb_depth,  # fraction of the neighbour's flux (diluted_eb)
        "aperture_depth_ppm": ap_depth,  # the depth in the target's aperture light curve
        "requested_depth_ppm": p["depth_ppm"],
        "target_flux": f_t,
        "neighbour_flux": f_n,
        "neighbour_flux_ratio": p["neighbour_flux_ratio"],
        "separation_px": sep,
        "separation_arcsec": sep * TESS_PIXEL_SCALE_ARCSEC,
        "position_angle_deg": math.degrees(theta),
        "target_offset_row": off[0],
        "target_offset_col": off[1],
        "stamp_seed": stamp_seed,
        # the neighbour's sky offset for simulate_tpf (rotation 0: +col = west, +row = north)
        "_neighbour": Star(
            east_arcsec=-d_col * TESS_PIXEL_SCALE_ARCSEC,
            north_arcsec=d_row * TESS_PIXEL_SCALE_ARCSEC,
            flux=f_n,
        ),
    }


def simulate_injection(truth: dict, stamp_cfg: dict) -> TPFStamp:
    kw = dict(stamp_cfg)
    return simulate_tpf(
        truth["stamp_seed"],
        target_flux=truth["target_flux"],
        target_offset_px=(truth["target_offset_row"], truth["target_offset_col"]),
        neighbours=[truth["_neighbour"]],
        period_days=truth["period_days"],
        t0_btjd=truth["t0_btjd"],
        duration_hours=truth["duration_hours"],
        depth_ppm=truth["depth_ppm"] if truth["kind"] == "planet" else 0.0,
        eb_star=0 if truth["kind"] == "diluted_eb" else None,
        eb_depth=truth["eb_depth"],
        **kw,
    )


def stamp_lightcurve(stamp: TPFStamp, aperture=None) -> LightCurve:
    """The normalised aperture-sum light curve of a stamp (its pipeline aperture by default).

    ``flux = sum(FLUX[aperture]) / median``, errors summed in quadrature; NaN pixels count as 0.
    """
    ap = stamp.aperture_mask if aperture is None else np.asarray(aperture, bool)
    if ap is None or not np.any(ap):
        raise JaxvetInputError("stamp_lightcurve needs an aperture (the stamp has none); pass aperture=")
    f = np.nansum(stamp.flux[:, ap], axis=1)
    e = np.sqrt(np.nansum(stamp.flux_err[:, ap] ** 2, axis=1)) if stamp.flux_err is not None else None
    med = float(np.nanmedian(f))
    if not (math.isfinite(med) and med > 0):
        raise JaxvetInputError(f"stamp_lightcurve: the aperture flux median is {med!r} (must be > 0)")
    return LightCurve(
        time=stamp.time,
        flux=f / med,
        flux_err=None if e is None else e / med,
        quality=stamp.quality,
        sector=stamp.sector,
        target=stamp.target,
        source=f"aperture sum of {stamp.source}",
        quality_bitmask=0,
    )


def _stamp_depth(stamp: TPFStamp, cand: Candidate) -> tuple[float, float]:
    """Fractional depth (and error) of the summed stamp flux (negatives clipped, as V08)."""
    f = np.clip(np.nan_to_num(np.asarray(stamp.flux, float)), 0.0, None).sum(axis=(1, 2))
    t = np.asarray(stamp.time, float)
    p, d = cand.period_days, cand.duration_hours / 24.0
    dt = np.abs((t - cand.t0_btjd + 0.5 * p) % p - 0.5 * p)
    ok = np.isfinite(t) & (f > 0)
    fin, fout = f[ok & (dt <= 0.5 * d)], f[ok & (dt > 1.5 * d)]
    if fin.size < 3 or fout.size < 3:
        return math.nan, math.nan
    m_out = float(np.median(fout))
    delta = 1.0 - float(np.median(fin)) / m_out
    s = 1.4826 * float(np.median(np.abs(fout - m_out))) / m_out
    err = s * math.sqrt(math.pi / 2.0) * math.sqrt(1.0 / fin.size + 1.0 / fout.size)
    return delta, err


def _v08_source_offset(m: Mapping[str, Any], delta: float, delta_err: float, target_rc) -> dict:
    """Source position from the centroid shift: ``c_out - shift (1 - delta) / delta``."""
    nan = dict(
        V08_stamp_depth_ppm=delta * 1e6 if math.isfinite(delta) else math.nan,
        V08_source_row=math.nan,
        V08_source_col=math.nan,
        V08_source_offset_pixels=math.nan,
        V08_source_offset_sigma=math.nan,
    )
    vals = [
        m.get(k)
        for k in (
            "out_of_transit_centroid_y",
            "out_of_transit_centroid_x",
            "shift_dy_pixels",
            "shift_dx_pixels",
        )
    ]
    errs = [m.get(k) for k in ("shift_dy_uncertainty_pixels", "shift_dx_uncertainty_pixels")]
    if target_rc is None or any(v is None for v in vals + errs):
        return nan
    if not (math.isfinite(delta) and math.isfinite(delta_err) and delta > 0 and delta >= 3.0 * delta_err):
        return nan  # the stamp's flux drop is not detected: no source position
    c = np.array(vals[:2], float)
    s = np.array(vals[2:], float)
    se = np.array(errs, float)
    g = (1.0 - delta) / delta
    src = c - s * g
    v = src - np.asarray(target_rc, float)
    off = float(np.hypot(*v))
    # per-axis errors: the shift's bootstrap error, the depth's error, a systematic floor
    var = (se * g) ** 2 + (s * delta_err / delta**2) ** 2 + V08_FLOOR_PX**2
    sig_along = math.sqrt(float(np.sum(v**2 * var)) / off**2) if off > 0 else math.sqrt(float(var.mean()))
    return dict(
        V08_stamp_depth_ppm=delta * 1e6,
        V08_source_row=float(src[0]),
        V08_source_col=float(src[1]),
        V08_source_offset_pixels=off,
        V08_source_offset_sigma=off / sig_along if sig_along > 0 else math.nan,
    )


def _num(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def _check_columns(spec, res, stamp: TPFStamp, cand: Candidate, target_rc) -> dict:
    """One injection's columns for one check's result."""
    m = res.metrics or {}
    row: dict[str, Any] = {
        f"{spec.id}_status": str(res.status),
        f"{spec.id}_verdict": str(res.verdict) if res.verdict else "none",
    }
    names = list(_KEY_METRICS.get(spec.id, ())) + [
        n for n in spec.summary_metrics if n not in _KEY_METRICS.get(spec.id, ())
    ]
    for name in names:
        row[f"{spec.id}_{name}"] = _num(m.get(name))
    if spec.id == "V08":
        delta, derr = _stamp_depth(stamp, cand)
        so = _v08_source_offset(m, delta, derr, target_rc)
        row.update(so)
        row["V08_off_target"] = bool(
            so["V08_source_offset_pixels"] > OFFSET_THRESHOLD_PX and so["V08_source_offset_sigma"] >= 3.0
        )
    elif spec.id == "V09":
        row["V09_off_target"] = row[f"{spec.id}_verdict"] in ("warn", "fail")
    return row


def _vet_batch(
    truths: list[dict],
    stamps: list[TPFStamp],
    specs,
    seed: int,
    options: dict,
    checked: dict,
    seconds: dict,
    shapes: ShapeLadder,
) -> list[dict]:
    """Vet a chunk of injected stamps with ``specs`` in one engine segment; one row per injection.

    One :class:`~jaxvet.engine.context.VetContext` holds the chunk: injection ``j``'s aperture-sum
    light curve and candidate, every stamp in ``tpfs`` and ``tpf_index[j] = j`` (each candidate is
    vetted on its own stamp only), bootstrap keys from ``(seed, injection_id)``.  The pixel checks
    pack the chunk's same-shape stamps into one batch and run every injection in one batched call
    per check (in fixed blocks of :data:`PAIR_BLOCK` pairs, so a row's numbers never depend on the
    chunk size); every check is dispatched before the host waits, then each check's results come
    back in one device-to-host copy.  ``shapes`` is the campaign's one
    :class:`~jaxvet.engine.chunks.ShapeLadder`, so every chunk reuses the compiled programs.
    """
    t = time.perf_counter()
    lcs = [stamp_lightcurve(st) for st in stamps]
    cands = [
        Candidate(
            period_days=tr["period_days"],
            t0_btjd=tr["t0_btjd"],
            duration_hours=tr["duration_hours"],
            id=f"inj{tr['injection_id']}",
        )
        for tr in truths
    ]
    n = len(cands)
    ctx = VetContext(
        lightcurves=lcs,
        lcb=LightCurveBatch.from_lightcurves(lcs),
        candidates=cands,
        cb=CandidateBatch.from_candidates(cands, lc_index=np.arange(n), pad_to=bucket_size(n, 8)),
        seed=int(seed),
        tpfs=list(stamps),
        options=options,
        candidate_ids=np.array([tr["injection_id"] for tr in truths], np.int64),
        tpf_index=np.arange(n)[:, None],
        shapes=shapes,
    )
    host = runner.run_contexts([ctx], [s_.id for s_ in specs], checked)
    seconds["vet"] = seconds.get("vet", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    results = {spec.id: spec.finish(ctx, host[spec.id][0], checked.get(spec.id)) for spec in specs}
    rows = []
    for j, (stamp, cand) in enumerate(zip(stamps, cands, strict=True)):
        target_rc = stamp_target_pixel(stamp)
        row: dict[str, Any] = {}
        for spec in specs:
            row.update(_check_columns(spec, results[spec.id][j], stamp, cand, target_rc))
        rows.append(row)
    seconds["format"] = seconds.get("format", 0.0) + time.perf_counter() - t
    return rows


def prime_shapes(
    specs,
    seed: int,
    kinds: Sequence[str],
    rng_par: dict,
    stamp_cfg: dict,
    options: dict,
    checked: dict,
    chunk: int = 1,
) -> ShapeLadder:
    """A :class:`~jaxvet.engine.chunks.ShapeLadder` holding the campaign's largest shapes.

    A chunk of probe injections (the kinds in turn) at the shortest period and the longest
    duration of the ranges, the first transit at the stamp's first cadence (the most epochs and
    the widest windows any injection can have) is vetted and discarded, so the checks (V08 and V09
    by default) are compiled once for the whole campaign rather than again whenever an injection
    needs a larger bucket.  The ladder also fixes the pixel kernels' block of pairs
    (:data:`PAIR_BLOCK`) and pads every chunk's packed stamps to ``chunk`` (a power of two, at
    least :data:`PAIR_BLOCK`) of them, so a short last chunk or a small campaign runs the same
    programs.
    """
    shapes = ShapeLadder()
    shapes.at_least(PAIR_BLOCK_KEY, PAIR_BLOCK)
    shapes.at_least(GROUP_STAMPS_KEY, bucket_size(chunk, PAIR_BLOCK))  # one packed shape per chunk
    truths = []
    for j in range(max(int(chunk), len(kinds))):  # a full chunk: every shape of a chunk compiles here
        truth = draw_injection(j, int(seed), kinds, rng_par, stamp_cfg)
        truth.update(
            kind=kinds[j % len(kinds)],
            period_days=rng_par["period_days"][0],
            duration_hours=rng_par["duration_hours"][1],
            t0_btjd=float(stamp_cfg["t_start"]),
        )
        truths.append(truth)
    stamps = [simulate_injection(tr, stamp_cfg) for tr in truths]
    _vet_batch(truths, stamps, specs, int(seed), options, checked, {}, shapes)
    return shapes


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------
def _columns(rows: list[dict], specs, n_inj: int) -> dict[str, np.ndarray]:
    """The result columns of the injection rows, with the combined off-target flags."""
    cols: dict[str, np.ndarray] = {}
    for name in rows[0]:
        vals = [r.get(name) for r in rows]
        if isinstance(vals[0], bool):
            cols[name] = np.asarray(vals, bool)
        elif isinstance(vals[0], str):
            cols[name] = np.asarray(vals, dtype=object)
        elif isinstance(vals[0], (int, np.integer)):
            cols[name] = np.asarray(vals, np.int64)
        else:
            cols[name] = np.asarray([_num(v) for v in vals], np.float64)
    flags = [cols[f"{s.id}_off_target"] for s in specs if f"{s.id}_off_target" in cols]
    flagged = np.any(flags, axis=0) if flags else np.zeros(n_inj, bool)
    located = np.zeros(n_inj, bool)
    if "V09_verdict" in cols:
        located |= np.asarray(cols["V09_verdict"]).astype(str) == "pass"
    if "V08_source_offset_pixels" in cols:
        located |= np.isfinite(cols["V08_source_offset_pixels"])
    cols["flagged_off_target"] = flagged
    cols["localized_on_target"] = located & ~flagged

    return cols


def _vet_chunk(ids, seed, kinds_t, rng_par, stamp_cfg, specs, opts, checked, seconds, shapes):
    """Simulate and vet injections ``ids`` (one batch): their rows as one pyarrow Table (one part)."""
    import pyarrow as pa

    truths, stamps, rows = [], [], []
    for i in ids:
        truth = draw_injection(int(i), seed, kinds_t, rng_par, stamp_cfg)
        t = time.perf_counter()
        stamp = simulate_injection(truth, stamp_cfg)
        seconds["simulate"] += time.perf_counter() - t
        tr = stamp.meta["truth"]
        row = {k_: v for k_, v in truth.items() if not k_.startswith("_")}
        row["target_row"], row["target_col"] = (float(x) for x in tr["star_rc"][0])
        row["neighbour_row"], row["neighbour_col"] = (float(x) for x in tr["star_rc"][1])
        truths.append(truth)
        stamps.append(stamp)
        rows.append(row)
    for row, vetted in zip(
        rows, _vet_batch(truths, stamps, specs, seed, opts, checked, seconds, shapes), strict=True
    ):
        row.update(vetted)
    cols = _columns(rows, specs, len(rows))
    return pa.table({name: pa.array(v) for name, v in cols.items()})


@dataclasses.dataclass
class PixelCampaignConfig(ChunkPlan):
    """A pixel campaign's configuration: ``settings`` (the ``config.json`` content) determines
    every row; a resumed run must match all of it."""

    n_injections: int
    chunk_size: int
    settings: dict

    def identity(self) -> dict:
        return json.loads(json.dumps(to_jsonable(self.settings)))

    def to_dict(self) -> dict:
        return self.identity()


@dataclasses.dataclass
class _PixelCampaign:
    """Pixel injections: the per-kind piece of :func:`run_pixel_campaign` for the campaign runner
    (:func:`jaxvet.campaigns.runner.run_chunks`); a chunk is drawn, simulated and vetted as one
    batch (:func:`_vet_chunk`)."""

    config: PixelCampaignConfig
    kinds: tuple[str, ...]
    specs: list
    rng_par: dict
    stamp_cfg: dict
    opts: dict
    checked: dict
    label: str = "pixel campaign"
    shapes: ShapeLadder | None = None

    @property
    def seed(self) -> int:
        return int(self.config.settings["seed"])

    def stage_seconds(self) -> dict[str, float]:
        return {"simulate": 0.0}

    def setup(self) -> None:
        return None

    def prepare(self, seconds) -> None:
        """Prime the shape ladder (compiles the campaign's checks once) before the first vetted chunk."""
        t = time.perf_counter()
        k = min(self.config.chunk_size, self.config.n_injections)
        self.shapes = prime_shapes(
            self.specs, self.seed, self.kinds, self.rng_par, self.stamp_cfg, self.opts, self.checked, k
        )
        seconds["prime"] = time.perf_counter() - t

    def chunk_table(self, c, seconds, warned, *, record_errors):
        return _vet_chunk(
            self.config.chunk_ids(c),
            self.seed,
            self.kinds,
            self.rng_par,
            self.stamp_cfg,
            self.specs,
            self.opts,
            self.checked,
            seconds,
            self.shapes,
        )

    def summarize(self, table, timing):
        keys = (
            "wall_s",
            "loop_s",
            "n_resumed",
            "injections_per_s",
            "seconds_by_stage",
            "chunk_seconds",
            "chunk_cpu_seconds",
        )
        return pixel_summary(
            table, self.config.settings, {k: timing[k] for k in keys}, offset_threshold_px=OFFSET_THRESHOLD_PX
        )

    def write_outputs(self, out_dir, table, summary) -> None:
        write_part(out_dir / "results.parquet", table)


def run_pixel_campaign(
    n_injections: int,
    *,
    kinds: str | Sequence[str] = PIXEL_KINDS,
    checks: str | Sequence[str | CheckSpec] = DEFAULT_CHECKS,
    seed: int = 0,
    chunk_size: int = 16,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    separation_bins: Sequence[float] = DEFAULT_SEPARATION_BINS,
    **ranges,
):
    """Simulate, vet and tabulate ``n_injections`` pixel-level injections (see the module docs).

    Returns an astropy Table (one row per injection; ``table.meta["summary"]`` is the summary
    dict).  With ``out``, also writes ``out/config.json``, one part per chunk
    (``out/results/part-CCCCC.parquet``, kept on a rerun with the same configuration, which then
    vets only the missing chunks; a different configuration raises), ``out/results.parquet``
    and ``out/summary.json``.
    ``ranges``: parameter ranges of :data:`DEFAULT_RANGES` (``(lo, hi)`` or a fixed value) and
    stamp settings of :data:`DEFAULT_STAMP`.  ``options``: per-check options as for
    :func:`jaxvet.engine.runner.vet` (the campaign turns off V08's plot image unless given).
    """
    t_start = time.perf_counter()
    try:
        n_inj = int(n_injections)
    except (TypeError, ValueError):
        raise JaxvetInputError(f"n_injections must be an integer >= 1, got {n_injections!r}") from None
    if n_inj < 1 or n_inj != n_injections:
        raise JaxvetInputError(f"n_injections must be an integer >= 1, got {n_injections!r}")
    if not (0 <= int(seed) < 2**32):
        raise JaxvetInputError(f"seed must be in [0, 2**32), got {seed!r}")
    if int(chunk_size) < 1:
        raise JaxvetInputError(f"chunk_size must be >= 1, got {chunk_size!r}")
    kinds_t = _resolve_kinds(kinds)
    specs = _resolve_checks(checks)
    rng_par, stamp_cfg = _resolve_ranges(ranges)
    edges = tuple(float(b) for b in separation_bins)
    if len(edges) < 2 or any(not a < b for a, b in zip(edges, edges[1:], strict=False)):
        raise JaxvetInputError(f"separation_bins must be >= 2 ascending edges, got {separation_bins!r}")
    opts: dict[str, dict] = {k: dict(v) for k, v in DEFAULT_OPTIONS.items()}
    for k, v in (options or {}).items():
        opts[str(k)] = {**opts.get(str(k), {}), **dict(v)}
    checked = resolve_campaign_options(specs, opts)

    check_ids = [s_.id for s_ in specs]
    settings = {
        "n_injections": n_inj,
        "kinds": list(kinds_t),
        "checks": check_ids,
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "ranges": {n: list(v) for n, v in rng_par.items()},
        "stamp": dict(stamp_cfg),
        "options": opts,
        "separation_bins": list(edges),
    }
    kind = _PixelCampaign(
        PixelCampaignConfig(n_inj, int(chunk_size), settings),
        kinds_t,
        specs,
        rng_par,
        stamp_cfg,
        opts,
        checked,
    )
    # a directory holding this campaign is resumed (its parts are kept); another configuration is refused
    where = campaign_runner.open_campaign(out, resume=True, overwrite=False, process_index=0, process_count=1)
    table, summary = campaign_runner.run_chunks(kind, where, t_start=t_start, progress=progress)
    t = to_astropy(table)
    t.meta["summary"] = summary
    return t
