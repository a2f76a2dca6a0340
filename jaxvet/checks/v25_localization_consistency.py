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
  flag ``V25_PIXEL_FRAME``: only meaningful when the stamps share an orientation).  The
  Jacobian is taken at the candidate's V09 target position on that stamp (the stamp centre
  without one): the WCS gives it at every pixel centre once per run (the one host step) and
  the device interpolates bilinearly, so the whole statistic runs on the device from V08's and
  V09's device trees and V25 never waits for them.
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
    """p-value of both tests together and the summed leave-one-out chi2 per sector (device)."""
    tc = gls_consistency(v_c, cov_c, use_c)
    td = gls_consistency(v_d, cov_d, use_d)
    chi2 = jnp.nan_to_num(tc["chi2"]) + jnp.nan_to_num(td["chi2"])
    dof = tc["dof"] + td["dof"]
    p = jnp.where(dof > 0, chi2_sf(chi2, dof), 1.0)
    loo = jnp.nan_to_num(tc["loo_chi2"], nan=0.0) + jnp.nan_to_num(td["loo_chi2"], nan=0.0)
    return p, loo


def _disagreeing(v_c, cov_c, use_c, v_d, cov_d, use_d, thr):
    """Sectors that disagree: drop the worst (largest leave-one-out chi2) while the remaining
    sectors are inconsistent and >= 3 remain; if the last two still disagree, both are listed
    (two sectors alone cannot say which one is off).  Vectorised over candidates; K rounds on the
    device (a candidate whose sectors agree stops changing after its last drop).
    """
    b, k = use_c.shape

    def round_(_, dropped):
        uc, ud = use_c & ~dropped, use_d & ~dropped
        p, loo = _combined(v_c, cov_c, uc, v_d, cov_d, ud)
        act = (p < thr) & ((uc | ud).sum(axis=1) >= 3)
        worst = jnp.argmax(jnp.where(uc | ud, loo, -jnp.inf), axis=1)
        return dropped | (act[:, None] & (jnp.arange(k)[None, :] == worst[:, None]))

    dropped = jax.lax.fori_loop(0, k, round_, jnp.zeros((b, k), bool))
    uc, ud = use_c & ~dropped, use_d & ~dropped
    p, _ = _combined(v_c, cov_c, uc, v_d, cov_d, ud)
    pair_left = ((uc | ud).sum(axis=1) == 2) & (p < thr)
    return dropped | (pair_left[:, None] & (uc | ud))


def _jacobian_tables(ctx: VetContext, prep: px.Prepared) -> tuple[str, jax.Array, jax.Array]:
    """The common frame and, per stamp, its (d_col, d_row) px -> arcsec map at every pixel centre.

    ``"sky"`` (east, north) when every stamp has a WCS: the Jacobians come from the WCS on the
    host (:func:`jaxvet.stamps.sky_jacobian_grid`) -- the one step that needs astropy -- once per
    run (the run's cache), and are interpolated on the device at each candidate's measured target
    (:func:`_jacobian_at`), so V25 never waits for V09's results.  Else ``"pixel"`` (21"/px).
    Returns ``(frame, tables (K, R, C, 2, 2), shapes (K, 2))``, R x C the largest stamp.
    """

    def make():
        grids = [px.sky_jacobian_grid(st) for st in prep.stamps]
        shapes = np.array([st.stamp_shape for st in prep.stamps], np.int64).reshape(-1, 2)
        frame = "sky" if all(g is not None for g in grids) else "pixel"
        r, c = shapes.max(axis=0)
        tab = np.zeros((len(grids), r, c, 2, 2))
        for i, g in enumerate(grids):
            nr, nc = shapes[i]
            tab[i, :nr, :nc] = g if frame == "sky" else np.eye(2) * px.TESS_PIXEL_SCALE_ARCSEC
        return frame, jnp.asarray(tab), jnp.asarray(shapes)

    return ctx.cached(("V25:jacobians",), make, per_chunk=False)


def _jacobian_at(tabs, shapes, k, row, col):
    """Bilinear interpolation of stamp ``k``'s Jacobian table (``tabs`` (K, R, C, 2, 2)) at
    (row, col), clipped to the stamp; the stamp centre where the position is not finite.  Reads
    four table entries (no per-candidate copy of a table)."""
    nr, nc = shapes[k, 0], shapes[k, 1]
    ok = jnp.isfinite(row) & jnp.isfinite(col)
    r = jnp.clip(jnp.where(ok, row, (nr - 1) / 2.0), 0.0, nr - 1.0)
    c = jnp.clip(jnp.where(ok, col, (nc - 1) / 2.0), 0.0, nc - 1.0)
    r0 = jnp.clip(jnp.floor(r).astype(jnp.int32), 0, jnp.maximum(nr - 2, 0))
    c0 = jnp.clip(jnp.floor(c).astype(jnp.int32), 0, jnp.maximum(nc - 2, 0))
    r1, c1 = jnp.minimum(r0 + 1, nr - 1), jnp.minimum(c0 + 1, nc - 1)
    fr, fc = r - r0, c - c0
    return (
        (1 - fr) * (1 - fc) * tabs[k, r0, c0]
        + (1 - fr) * fc * tabs[k, r0, c1]
        + fr * (1 - fc) * tabs[k, r1, c0]
        + fr * fc * tabs[k, r1, c1]
    )


def _vec_cov(J, dc, dr, sc_, sr_, floor_px):
    """Vectors (B, S, 2) and covariances (B, S, 2, 2) in arcsec of pixel offsets (d_col, d_row)
    with per-axis errors, through the Jacobians ``J`` (B, S, 2, 2), plus a floor (pixels)."""
    v = jnp.einsum("bkij,bkj->bki", J, jnp.stack([dc, dr], -1))
    cpx = jnp.zeros(dc.shape + (2, 2)).at[..., 0, 0].set(sc_**2).at[..., 1, 1].set(sr_**2)
    cov = jnp.einsum("bkij,bkjl,bkml->bkim", J, cpx, J)
    return v, cov + jnp.eye(2) * (floor_px * px.TESS_PIXEL_SCALE_ARCSEC) ** 2


def _p_value(t: dict):
    """chi-square p-value of one test's (chi2, dof), NaN where it has no degrees of freedom."""
    return jnp.where(t["dof"] > 0, chi2_sf(jnp.nan_to_num(t["chi2"]), t["dof"]), jnp.nan)


@jax.jit
def consistency(a8: dict, a9: dict, J, o: dict) -> dict:
    """The V25 statistic from V08's and V09's per-slot device arrays (B, S) and the Jacobians
    ``J`` (B, S, 2, 2); ``o`` the traced options.  Pure device computation."""
    c_dx, c_dy = a8["ps_shift_dx_pixels"], a8["ps_shift_dy_pixels"]
    c_sx, c_sy = a8["ps_shift_dx_uncertainty_pixels"], a8["ps_shift_dy_uncertainty_pixels"]
    v_c, cov_c = _vec_cov(J, c_dx, c_dy, c_sx, c_sy, o["centroid_floor_pixels"])
    # a saturated stamp (V08/V09's SATURATED_TARGET guard) measures neither localization
    sat8 = (a8["ps_evidence"] & SATURATED) != 0
    sat9 = (a9["ps_evidence"] & SATURATED) != 0
    fin = jnp.isfinite
    use_c = fin(c_dx) & fin(c_dy) & fin(c_sx) & fin(c_sy) & ~sat8
    d_c, d_r = a9["ps_offset_col"], a9["ps_offset_row"]
    e_c, e_r = a9["ps_centroid_col_err"], a9["ps_centroid_row_err"]
    v_d, cov_d = _vec_cov(J, d_c, d_r, e_c, e_r, o["diffimg_floor_pixels"])
    detected = jnp.nan_to_num(a9["ps_significance"], nan=-jnp.inf) >= o["min_significance"]
    use_d = (a9["ps_status"] == OK) & fin(d_c) & fin(d_r) & fin(e_c) & fin(e_r) & detected & ~sat9
    tc, td = gls_consistency(v_c, cov_c, use_c), gls_consistency(v_d, cov_d, use_d)
    chi2 = jnp.nan_to_num(tc["chi2"]) + jnp.nan_to_num(td["chi2"])
    dof = tc["dof"] + td["dof"]
    resolvable = dof > 0
    p = jnp.where(resolvable, chi2_sf(chi2, dof), 1.0)
    thr = o["chi2_threshold"]
    cls = jnp.where(~resolvable, 2, jnp.where(p < thr, 1, 0))
    loo = jnp.nan_to_num(tc["loo_chi2"]) + jnp.nan_to_num(td["loo_chi2"])
    loo_dof = 2 * (fin(tc["loo_chi2"]).astype(jnp.int32) + fin(td["loo_chi2"]).astype(jnp.int32))
    return dict(
        status=jnp.full(chi2.shape, OK),
        verdict=jnp.where(cls == 2, INSUFFICIENT, jnp.where(cls == 1, WARN, PASS)),
        class_code=cls,
        chi2=jnp.where(resolvable, chi2, jnp.nan),
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
        loo_p=jnp.where(loo_dof > 0, chi2_sf(loo, loo_dof), jnp.nan),
        disagree=_disagreeing(v_c, cov_c, use_c, v_d, cov_d, use_d, thr),
        use_c=use_c,
        use_d=use_d,
        v_c=v_c,
        cov_c=cov_c,
        v_d=v_d,
        cov_d=cov_d,
        mean_c=tc["mean"],
        mean_d=td["mean"],
    )


def _pixel_options(ctx: VetContext) -> tuple[v08.V08Options, v09.V09Options]:
    """The run's validated V08 and V09 options (the same stamps must be prepared for both)."""
    o8 = v08.SPEC.resolve_options(ctx.options.get("V08"))
    o9 = v09.SPEC.resolve_options(ctx.options.get("V09"))
    if int(o8.quality_bitmask) != int(o9.quality_bitmask):
        raise JaxvetInputError("V25 needs the same quality_bitmask option for V08 and V09")
    return o8, o9


def _required(ctx: VetContext, spec: CheckSpec, opts) -> dict:
    """``spec``'s compute tree for this chunk, on the device: the engine's product, else
    dispatched once per chunk (a direct ``V25.run(ctx)``)."""
    if spec.id in ctx.products:
        return ctx.products[spec.id]
    return ctx.cached(f"V25:{spec.id}", lambda: spec.dispatch(ctx, opts))


_A8 = ("ps_shift_dx_pixels", "ps_shift_dy_pixels", "ps_shift_dx_uncertainty_pixels",
       "ps_shift_dy_uncertainty_pixels", "ps_evidence")
_A9 = ("ps_offset_col", "ps_offset_row", "ps_centroid_col_err", "ps_centroid_row_err", "ps_evidence",
       "ps_significance", "ps_status", "ps_target_row", "ps_target_col")


def compute(ctx: VetContext, opts: V25Options) -> dict:
    """The consistency statistic from V08's and V09's per-slot results (``requires``), on the
    device: it reads their device trees and never waits for them.  The sky Jacobians come from
    each stamp's WCS once per run (:func:`_jacobian_tables`)."""
    b = ctx.n_candidates
    if not ctx.tpfs:
        return {
            "status": np.full(b, SKIPPED),
            "verdict": np.full(b, VERDICT_NONE),
            "chi2_p_value": np.full(b, np.nan),
            "n_sectors_used": np.zeros(b),
        }
    o8, o9 = _pixel_options(ctx)
    prep = px.prepared(ctx.tpfs, int(o8.quality_bitmask), ctx=ctx)
    t8 = {n: v for n, v in _required(ctx, v08.SPEC, o8).items() if n.startswith("ps_")}
    t9 = _required(ctx, v09.SPEC, o9)
    frame, tabs, shapes = _jacobian_tables(ctx, prep)
    idx = jnp.asarray(px.slot_stamps(ctx))  # (B, S)
    at = jax.vmap(jax.vmap(_jacobian_at, in_axes=(None, None, 0, 0, 0)), in_axes=(None, None, 0, 0, 0))
    J = at(tabs, shapes, idx, jnp.asarray(t9["ps_target_row"]), jnp.asarray(t9["ps_target_col"]))
    a8 = {n: jnp.asarray(t8[n]) for n in _A8}
    a9 = {n: jnp.asarray(t9[n]) for n in _A9}
    out = {f"c8_{n}": v for n, v in t8.items()}
    out.update({f"c9_{n}": v for n, v in t9.items() if n.startswith("ps_")})
    out.update(consistency(a8, a9, J, opts.traced()))
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
    slots = px.slot_stamps(ctx)[i]
    k = len(slots)
    summary, sectors_pd, per_sector = {}, [], []
    for s, stamp in enumerate(prep.stamps[j] for j in slots):
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
