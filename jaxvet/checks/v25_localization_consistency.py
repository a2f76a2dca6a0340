"""V25 localization consistency: do independent sectors localize the signal to the same place?

The reference has no V25 code: its tutorial re-runs V08 and V09 per sector and compares the
plots by eye.  V25 requires V08 and V09 (the engine runs them first, for every sector stamp in
``ctx.tpfs`` and every candidate, and hands their results over on the device: the per-sector
numbers are what V08 and V09 report, same options, same seeded bootstrap keys) and adds a
statistic (the generalized-least-squares consistency test of Bryson et al. 2013, PASP 125, 889,
applied across sectors):

* Two 2-D measurements per sector: the V08 centroid-shift vector ``(dx, dy)`` (in - out,
  column/row) with its bootstrap covariance, and the V09 difference-image offset of the deficit
  centroid from the target ``(d_col, d_row)`` with its error.  Both are expressed in arcsec in a
  common frame: on the sky (east, north) through each stamp's WCS Jacobian when every stamp has
  a WCS (sectors have different detector orientations), else in the pixel frame (x 21"/px,
  flag ``V25_PIXEL_FRAME``: only meaningful when the stamps share an orientation).
* A systematic floor is added in quadrature (``centroid_floor_pixels`` 0.02 px,
  ``diffimg_floor_pixels`` 0.1 px): real stamps show pointing systematics at that level (the
  TOI-5807 sector-83 centroid "shift" of 0.017 px is ~3 bootstrap sigma).
* For each measurement type, the generalized-least-squares mean ``mu = (sum C_s^-1)^-1 sum
  C_s^-1 v_s`` and ``chi2 = sum (v_s - mu)^T C_s^-1 (v_s - mu)`` with ``2 (n - 1)`` degrees of
  freedom; the two are summed and ``p = chi2_sf``.  A sector enters the centroid test when its
  shift and bootstrap errors are finite, and the difference-image test when V09 ran and detected
  the deficit (``diff_significance_sigma >= min_significance``); a stamp with saturated pixels
  (V08/V09's ``SATURATED_TARGET`` guard) enters neither.
* Disagreeing sectors: each sector is compared with the GLS mean of the others (leave-one-out,
  ``(v_s - mu_-s)^T (C_s + Cov(mu_-s))^-1 (v_s - mu_-s)``, 2 dof per test; its p-value is in
  ``raw["per_sector"]``); the sector with the largest such chi2 is set aside while the rest are
  still inconsistent and at least 3 remain.  The set-aside sectors are the disagreeing ones; when
  the last two still disagree both are listed (two sectors cannot say which is off).
* Class: ``UNRESOLVABLE`` with fewer than 2 usable sectors in both tests, ``INCONSISTENT`` when
  ``p < chi2_threshold`` (0.01, as V21), else ``CONSISTENT``.  Verdict: pass / warn (off-target in
  one sector is a serious warning) / insufficient.

``raw["summary"]`` holds the per-sector JSON (V08 metrics and flags, V09 metrics and
flags); ``raw["plot_data"]`` feeds :func:`jaxvet.plotting.pixels.plot_localization_consistency`
(centroid shift and difference image per sector, side by side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet import stamps as px
from jaxvet.checks import v08_centroid_shift as v08
from jaxvet.checks import v09_difference_image as v09
from jaxvet.core.pixels import SATURATED
from jaxvet.core.stats import chi2_sf
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, non_negative, option
from jaxvet.errors import JaxvetInputError
from jaxvet.results import INSUFFICIENT, OK, PASS, SKIPPED, VERDICT_NONE, WARN, CheckResult, skipped_result

ID = "V25"
NAME = "localization_consistency"
CLASSES = ("CONSISTENT", "INCONSISTENT", "UNRESOLVABLE")


@dataclass(frozen=True)
class V25Options(CheckOptions):
    """V25 thresholds (all traced): the p-value below which sectors disagree, the systematic
    floors added in quadrature (pixels) and the V09 detection significance a sector needs."""

    check_id: ClassVar[str] = "V25"
    chi2_threshold: float = option(0.01, non_negative, traced=True)
    centroid_floor_pixels: float = option(0.02, non_negative, traced=True)
    diffimg_floor_pixels: float = option(0.1, non_negative, traced=True)
    min_significance: float = option(3.0, non_negative, traced=True)


#: the defaults as a plain mapping
DEFAULTS = V25Options().to_dict()

__all__ = ["SPEC", "CLASSES", "V25Options", "gls_consistency"]


def _nanmean0(a):
    """``np.nanmean(a, axis=0)`` without the 'Mean of empty slice' warning (NaN when empty)."""
    ok = ~np.isnan(a)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, a, 0.0).sum(axis=0) / n, np.nan)


def _inv2(c):
    a, b, cc, d = c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]
    det = a * d - b * cc
    det = jnp.where(det != 0, det, 1e-300)
    return jnp.stack([jnp.stack([d, -b], -1), jnp.stack([-cc, a], -1)], -2) / det[..., None, None]


@jax.jit
def gls_consistency(v, cov, use):
    """Chi-square consistency of 2-D vectors ``v`` (B, K, 2) with covariances (B, K, 2, 2).

    ``use`` (B, K) marks usable sectors.  Returns chi2, dof (2 (n - 1), 0 when n < 2), the GLS
    mean (B, 2), and per sector the leave-one-out chi2 (B, K) with 2 dof (NaN where unusable or
    when fewer than 2 sectors are usable).
    """
    eye = jnp.eye(2)
    cov = jnp.where(use[..., None, None], cov, eye)
    v = jnp.where(use[..., None], v, 0.0)
    ci = jnp.where(use[..., None, None], _inv2(cov), 0.0)  # (B, K, 2, 2)
    a = jnp.sum(ci, axis=1)  # (B, 2, 2)
    civ = jnp.einsum("bkij,bkj->bki", ci, v)
    sv = jnp.sum(civ, axis=1)  # (B, 2)
    n = jnp.sum(use, axis=1)
    ok = n >= 2
    ainv = _inv2(jnp.where(ok[:, None, None], a, eye))
    mu = jnp.einsum("bij,bj->bi", ainv, sv)
    r = v - mu[:, None, :]
    chi2 = jnp.sum(jnp.where(use, jnp.einsum("bki,bkij,bkj->bk", r, ci, r), 0.0), axis=1)
    dof = jnp.where(ok, 2 * (n - 1), 0)
    # leave-one-out
    a_l = a[:, None] - ci
    okl = use & ((n[:, None] - 1) >= 1)
    al_inv = _inv2(jnp.where(okl[..., None, None], a_l, eye[None, None]))
    mu_l = jnp.einsum("bkij,bkj->bki", al_inv, sv[:, None, :] - civ)
    d = v - mu_l
    tot = cov + al_inv
    chi_l = jnp.einsum("bki,bkij,bkj->bk", d, _inv2(tot), d)
    return dict(
        chi2=jnp.where(ok, chi2, jnp.nan),
        dof=dof,
        mean=jnp.where(ok[:, None], mu, jnp.nan),
        loo_chi2=jnp.where(okl & ok[:, None], chi_l, jnp.nan),
        n=n,
    )


def _combined(v_c, cov_c, use_c, v_d, cov_d, use_d):
    tc = gls_consistency(jnp.asarray(v_c), jnp.asarray(cov_c), jnp.asarray(use_c))
    td = gls_consistency(jnp.asarray(v_d), jnp.asarray(cov_d), jnp.asarray(use_d))
    chi2 = np.nan_to_num(np.asarray(tc["chi2"])) + np.nan_to_num(np.asarray(td["chi2"]))
    dof = np.asarray(tc["dof"]) + np.asarray(td["dof"])
    p = np.where(dof > 0, np.asarray(chi2_sf(jnp.asarray(chi2), jnp.asarray(dof))), 1.0)
    loo = np.nan_to_num(np.asarray(tc["loo_chi2"]), nan=0.0) + np.nan_to_num(
        np.asarray(td["loo_chi2"]), nan=0.0
    )
    return p, loo


def _disagreeing(v_c, cov_c, use_c, v_d, cov_d, use_d, thr):
    """Sectors that disagree: drop the worst (largest leave-one-out chi2) while the remaining
    sectors are inconsistent and >= 3 remain; if the last two still disagree, both are listed
    (two sectors alone cannot say which one is off).  Vectorised over candidates; at most K rounds.
    """
    b, k = use_c.shape
    dropped = np.zeros((b, k), bool)
    for _ in range(k):
        uc, ud = use_c & ~dropped, use_d & ~dropped
        p, loo = _combined(v_c, cov_c, uc, v_d, cov_d, ud)
        left = (uc | ud).sum(axis=1)
        act = (p < thr) & (left >= 3)
        if not act.any():
            break
        worst = np.argmax(np.where(uc | ud, loo, -np.inf), axis=1)
        dropped[np.arange(b)[act], worst[act]] = True
    uc, ud = use_c & ~dropped, use_d & ~dropped
    p, _ = _combined(v_c, cov_c, uc, v_d, cov_d, ud)
    pair_left = ((uc | ud).sum(axis=1) == 2) & (p < thr)
    return dropped | (pair_left[:, None] & (uc | ud))


def _frames(prep: px.Prepared, target_rc: np.ndarray) -> tuple[str, np.ndarray]:
    """Per-stamp 2x2 maps (d_col, d_row) px -> arcsec: sky (east, north) when all have a WCS."""
    jac = []
    for s, stamp in enumerate(prep.stamps):
        at = tuple(target_rc[s]) if np.all(np.isfinite(target_rc[s])) else None
        jac.append(px.sky_jacobian(stamp, at))
    if all(j is not None for j in jac):
        return "sky", np.stack(jac)
    return "pixel", np.broadcast_to(np.eye(2) * px.TESS_PIXEL_SCALE_ARCSEC, (len(prep.stamps), 2, 2)).copy()


def _p_value(t: dict) -> np.ndarray:
    """chi-square p-value of one test's (chi2, dof), NaN where it has no degrees of freedom."""
    p = np.asarray(chi2_sf(jnp.asarray(np.nan_to_num(t["chi2"])), jnp.asarray(t["dof"])))
    return np.where(t["dof"] > 0, p, np.nan)


def _pixel_options(ctx: VetContext) -> tuple[v08.V08Options, v09.V09Options]:
    """The run's validated V08 and V09 options (the same stamps must be prepared for both)."""
    o8 = v08.SPEC.resolve_options(ctx.options.get("V08"))
    o9 = v09.SPEC.resolve_options(ctx.options.get("V09"))
    if int(o8.quality_bitmask) != int(o9.quality_bitmask):
        raise JaxvetInputError("V25 needs the same quality_bitmask option for V08 and V09")
    return o8, o9


def _required(ctx: VetContext, spec: CheckSpec, opts):
    """``spec``'s compute tree for this chunk: the engine's product, else computed once per chunk
    (a direct ``V25.run(ctx)``), as a host copy."""
    if spec.id in ctx.products:
        tree = ctx.products[spec.id]
    else:
        tree = ctx.cached(f"V25:{spec.id}", lambda: spec.dispatch(ctx, opts))
    return {k: np.asarray(v) for k, v in jax.device_get(tree).items()}


def compute(ctx: VetContext, opts: V25Options) -> dict:
    """The consistency statistic from V08's and V09's per-stamp results (``requires``).

    The statistic is a small host computation over the K sectors of each candidate: it waits
    for V08's and V09's device results (dispatched before it).
    """
    b = ctx.n_candidates
    if not ctx.tpfs:
        return {
            "status": np.full(b, SKIPPED),
            "verdict": np.full(b, VERDICT_NONE),
            "chi2_p_value": np.full(b, np.nan),
            "n_sectors_used": np.zeros(b),
        }
    o25 = opts.to_dict()
    o8, o9 = _pixel_options(ctx)
    prep = px.prepared(ctx.tpfs, int(o8.quality_bitmask), ctx=ctx)
    k = len(prep.stamps)
    a8 = {n: v for n, v in _required(ctx, v08.SPEC, o8).items() if n.startswith("ps_")}
    a9 = _required(ctx, v09.SPEC, o9)
    # common frame
    # NaN-ignoring means, NaN for an all-NaN column, without the global warnings filter (checks
    # run in threads: warnings.catch_warnings is not thread-safe)
    trc = np.stack([_nanmean0(a9["ps_target_row"]), _nanmean0(a9["ps_target_col"])], 1)
    frame, jac = _frames(prep, trc)
    J = jac[None, :, :, :]  # (1, K, 2, 2) acting on (d_col, d_row)
    sc = px.TESS_PIXEL_SCALE_ARCSEC

    def vec_cov(dc, dr, sc_, sr_, floor_px):
        v = np.einsum("bkij,bkj->bki", np.broadcast_to(J, (b, k, 2, 2)), np.stack([dc, dr], -1))
        cpx = np.zeros((b, k, 2, 2))
        cpx[..., 0, 0], cpx[..., 1, 1] = sc_**2, sr_**2
        cov = np.einsum(
            "bkij,bkjl,bkml->bkim", np.broadcast_to(J, (b, k, 2, 2)), cpx, np.broadcast_to(J, (b, k, 2, 2))
        )
        cov = cov + np.eye(2) * (floor_px * sc) ** 2
        return v, cov

    c_dx, c_dy = a8["ps_shift_dx_pixels"], a8["ps_shift_dy_pixels"]
    c_sx, c_sy = a8["ps_shift_dx_uncertainty_pixels"], a8["ps_shift_dy_uncertainty_pixels"]
    v_c, cov_c = vec_cov(c_dx, c_dy, c_sx, c_sy, o25["centroid_floor_pixels"])
    # a saturated stamp (V08/V09's SATURATED_TARGET guard) measures neither localization
    sat8 = (np.asarray(a8["ps_evidence"]) & SATURATED) != 0
    sat9 = (np.asarray(a9["ps_evidence"]) & SATURATED) != 0
    use_c = np.isfinite(c_dx) & np.isfinite(c_dy) & np.isfinite(c_sx) & np.isfinite(c_sy) & ~sat8
    d_c, d_r = a9["ps_offset_col"], a9["ps_offset_row"]
    e_c, e_r = a9["ps_centroid_col_err"], a9["ps_centroid_row_err"]
    v_d, cov_d = vec_cov(d_c, d_r, e_c, e_r, o25["diffimg_floor_pixels"])
    use_d = (
        (a9["ps_status"] == OK)
        & np.isfinite(d_c)
        & np.isfinite(d_r)
        & np.isfinite(e_c)
        & np.isfinite(e_r)
        & (np.nan_to_num(a9["ps_significance"], nan=-np.inf) >= o25["min_significance"])
        & ~sat9
    )
    tc = {
        k_: np.asarray(v)
        for k_, v in gls_consistency(jnp.asarray(v_c), jnp.asarray(cov_c), jnp.asarray(use_c)).items()
    }
    td = {
        k_: np.asarray(v)
        for k_, v in gls_consistency(jnp.asarray(v_d), jnp.asarray(cov_d), jnp.asarray(use_d)).items()
    }
    chi2 = np.nan_to_num(tc["chi2"]) + np.nan_to_num(td["chi2"])
    dof = tc["dof"] + td["dof"]
    resolvable = dof > 0
    p = np.where(resolvable, np.asarray(chi2_sf(jnp.asarray(chi2), jnp.asarray(dof))), 1.0)
    thr = o25["chi2_threshold"]
    cls = np.where(~resolvable, 2, np.where(p < thr, 1, 0))
    loo = np.nan_to_num(tc["loo_chi2"]) + np.nan_to_num(td["loo_chi2"])
    loo_dof = 2 * (np.isfinite(tc["loo_chi2"]).astype(int) + np.isfinite(td["loo_chi2"]).astype(int))
    p_s = np.where(loo_dof > 0, np.asarray(chi2_sf(jnp.asarray(loo), jnp.asarray(loo_dof))), np.nan)
    disagree = _disagreeing(v_c, cov_c, use_c, v_d, cov_d, use_d, thr)
    out = {f"c8_{n}": v for n, v in a8.items()}
    out.update({f"c9_{n}": v for n, v in a9.items() if n.startswith("ps_")})
    out.update(
        status=np.full(b, OK),
        verdict=np.select([cls == 2, cls == 1], [INSUFFICIENT, WARN], PASS),
        class_code=cls,
        chi2=np.where(resolvable, chi2, np.nan),
        dof=dof,
        chi2_p_value=p,
        centroid_chi2=tc["chi2"],
        centroid_dof=tc["dof"],
        centroid_p=_p_value(tc),
        diffimg_chi2=td["chi2"],
        diffimg_dof=td["dof"],
        diffimg_p=_p_value(td),
        n_sectors_used=(use_c | use_d).sum(axis=1),
        n_centroid=use_c.sum(axis=1),
        n_diffimg=use_d.sum(axis=1),
        loo_p=p_s,
        disagree=disagree,
        use_c=use_c,
        use_d=use_d,
        v_c=v_c,
        cov_c=cov_c,
        v_d=v_d,
        cov_d=cov_d,
        mean_c=tc["mean"],
        mean_d=td["mean"],
    )
    out["frame"] = frame
    return out


def _pick(d: dict, keys) -> dict:
    return {k: d.get(k) for k in keys}


V08_KEYS = (
    "centroid_shift_pixels",
    "shift_uncertainty_pixels",
    "significance_sigma",
    "centroid_shift_arcsec",
    "n_in_transit_cadences",
    "n_out_of_transit_cadences",
    "shift_dx_pixels",
    "shift_dy_pixels",
    "shift_dx_uncertainty_pixels",
    "shift_dy_uncertainty_pixels",
)
V09_KEYS = (
    "max_depth_pixel_distance",
    "aperture_sum_ppm",
    "aperture_sum_ppm_err",
    "max_depth_pixel_row",
    "max_depth_pixel_col",
    "diff_centroid_row",
    "diff_centroid_col",
    "target_position_row",
    "target_position_col",
    "target_position_source",
    "diff_offset_pixels",
    "diff_offset_arcsec",
    "diff_offset_sigma",
    "diff_significance_sigma",
    "max_depth_ppm",
    "ref_max_depth_pixel_row",
    "ref_max_depth_pixel_col",
)


def _v09_metrics(r9: CheckResult) -> dict:
    """V09's metrics plus the flux peak's offset from the target position (row, col)."""
    m9 = dict(r9.metrics)
    if m9.get("max_depth_pixel_row") is not None and m9.get("target_position_row") is not None:
        m9["max_depth_pixel_offset"] = [
            m9["max_depth_pixel_row"] - m9["target_position_row"],
            m9["max_depth_pixel_col"] - m9["target_position_col"],
        ]
    else:
        m9["max_depth_pixel_offset"] = None
    return m9


def _sector_entries(a: dict, i: int, s: int, sec, r8: CheckResult, r9: CheckResult, label: str):
    """Candidate ``i``, stamp ``s``: its ``raw["summary"]`` entry, plot panel and test record."""
    m9 = _v09_metrics(r9)
    used = dict(centroid_used=bool(a["use_c"][i, s]), diffimg_used=bool(a["use_d"][i, s]))
    disagrees = bool(a["disagree"][i, s])
    summary = {
        "V08": _pick(r8.metrics, V08_KEYS),
        "V08_flags": list(r8.flags),
        "V08_status": r8.status,
        "V09": _pick(m9, (*V09_KEYS, "max_depth_pixel_offset")),
        "V09_flags": list(r9.flags),
        "V09_status": r9.status,
    }
    panel = {
        "sector": sec,
        "label": label,
        "v08": (r8.raw or {}).get("plot_data"),
        "v09": (r9.raw or {}).get("plot_data"),
        "v08_metrics": _pick(r8.metrics, V08_KEYS),
        "v09_metrics": _pick(m9, V09_KEYS),
        "v09_status": r9.status,
        **used,
        "disagrees": disagrees,
    }
    record = {
        "sector": sec,
        "centroid_vector_arcsec": a["v_c"][i, s].tolist(),
        "centroid_cov_arcsec2": a["cov_c"][i, s].tolist(),
        "diffimg_vector_arcsec": a["v_d"][i, s].tolist(),
        "diffimg_cov_arcsec2": a["cov_d"][i, s].tolist(),
        **used,
        "leave_one_out_p_value": a["loo_p"][i, s],
        "disagrees": disagrees,
    }
    return summary, panel, record


def _finite(v) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _metrics(a: dict, i: int, k: int, n_bad: int, frame: str, opts: V25Options) -> dict:
    """The candidate's consistency metrics."""
    return {
        "consistency_class": CLASSES[int(a["class_code"][i])],
        "chi2_p_value": float(a["chi2_p_value"][i]),
        "chi2": _finite(a["chi2"][i]),
        "chi2_dof": int(a["dof"][i]),
        "centroid_chi2": _finite(a["centroid_chi2"][i]),
        "centroid_dof": int(a["centroid_dof"][i]),
        "centroid_p_value": _finite(a["centroid_p"][i]),
        "diffimg_chi2": _finite(a["diffimg_chi2"][i]),
        "diffimg_dof": int(a["diffimg_dof"][i]),
        "diffimg_p_value": _finite(a["diffimg_p"][i]),
        "n_sectors_input": k,
        "n_sectors_used": int(a["n_sectors_used"][i]),
        "n_sectors_centroid": int(a["n_centroid"][i]),
        "n_sectors_diffimg": int(a["n_diffimg"][i]),
        "n_inconsistent_sectors": n_bad,
        "frame": frame,
        "chi2_threshold": float(opts.chi2_threshold),
        "centroid_floor_pixels": float(opts.centroid_floor_pixels),
        "diffimg_floor_pixels": float(opts.diffimg_floor_pixels),
    }


def _flags_notes(cls: str, frame: str, k: int) -> tuple[list[str], list[str]]:
    flags, notes = [], []
    if frame == "pixel" and k >= 2:
        flags.append("V25_PIXEL_FRAME")
        notes.append(
            "not every stamp has a WCS: vectors compared in the pixel frame, valid only if the "
            "stamps share a detector orientation"
        )
    if cls == "INCONSISTENT":
        flags.append("LOCALIZATION_INCONSISTENT")
    if k < 2:
        notes.append(f"{k} TPF stamp: need >= 2 sectors to compare localizations")
    return flags, notes


def _candidate_result(ctx, a, a8, a9, i, prep, o8, o9, opts: V25Options) -> CheckResult:
    """Candidate ``i``'s V25 result: per-sector V08/V09 summaries and the consistency test."""
    frame = str(a["frame"])
    k = len(prep.preps)
    summary, sectors_pd, per_sector = {}, [], []
    for s, stamp in enumerate(prep.stamps):
        r8 = v08.sector_result(ctx, a8, i, s, prep, o8)
        r9 = v09.sector_result(ctx, a9, i, s, prep, o9)
        label = str(stamp.sector) if stamp.sector is not None else f"stamp{s}"
        entry, panel, record = _sector_entries(a, i, s, stamp.sector, r8, r9, label)
        summary[label] = entry
        sectors_pd.append(panel)
        per_sector.append(record)
    bad = [p["sector"] for p in per_sector if p["disagrees"]]
    metrics = _metrics(a, i, k, len(bad), frame, opts)
    flags, notes = _flags_notes(metrics["consistency_class"], frame, k)
    raw = {
        "inconsistent_sectors": bad,
        "summary": summary,
        "per_sector": per_sector,
        "centroid_mean_arcsec": a["mean_c"][i].tolist(),
        "diffimg_mean_arcsec": a["mean_d"][i].tolist(),
        "plot_data": {
            "version": 1,
            "sectors": sectors_pd,
            "consistency_class": metrics["consistency_class"],
            "chi2_p_value": float(a["chi2_p_value"][i]),
            "frame": frame,
        },
    }
    return CheckResult(
        id=ID,
        name=NAME,
        status="ok",
        confidence=None,
        verdict=("pass", "warn", "fail", "insufficient")[int(a["verdict"][i])],
        flags=flags,
        metrics=metrics,
        raw=raw,
        notes=notes,
    )


def format(ctx: VetContext, opts: V25Options, a: dict) -> list[CheckResult]:
    """One result per candidate from the host copy ``a`` of :func:`compute`."""
    b = ctx.n_candidates
    if not ctx.tpfs:
        return [
            skipped_result(ID, NAME, "NO_TPF", notes=["TPF data not provided; cannot localize per sector"])
            for _ in range(b)
        ]
    o8, o9 = _pixel_options(ctx)
    prep = px.prepared(ctx.tpfs, int(o8.quality_bitmask), ctx=ctx)
    a8 = {n[3:]: v for n, v in a.items() if n.startswith("c8_")}
    a9 = v09.with_reference_metrics(ctx, {n[3:]: v for n, v in a.items() if n.startswith("c9_")}, prep, o9)
    return [_candidate_result(ctx, a, a8, a9, i, prep, o8, o9, opts) for i in range(b)]


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V25Options, summary_metrics=("chi2_p_value", "n_sectors_used"),
    requires=("V08", "V09"), needs_tpf=True,
    description="Per-sector V08/V09 localization and a chi-square test that sectors agree",
)
