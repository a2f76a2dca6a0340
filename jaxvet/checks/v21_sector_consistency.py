"""V21 sector consistency: are the per-sector transit depths consistent with one depth?

Per-sector depths come from the reference estimator (:func:`jaxvet.core.depth.sector_transit_depths`:
in-transit ``|phase| < D/2P``, out-of-transit outside the buffer-3 window), measured by jaxvet
for every candidate and sector at once -- or from user-supplied rows
(``ctx.sector_measurements[b]``: dicts with ``sector``, ``depth_ppm``, ``depth_err_ppm`` and
optional ``quality_weight``).

Statistic (reference ``compute_sector_consistency``, docs/checks.md): with valid rows (weight >
0, finite depth and error, error > 0), non-detections are the valid rows with depth <= 0; over the
positive rows, inverse-variance weighted mean ``mu = sum(w d)/sum(w)``, ``w = 1/err^2``,
``chi2 = sum(((d - mu)/err)^2)`` with ``n - 1`` degrees of freedom, p-value = chi-square survival
function; outlier sectors are positive sectors with ``|d - mu|/err > 3`` plus the
non-detections; class ``INCONSISTENT`` if ``p < 0.01`` else ``EXPECTED_SCATTER``, and
``UNRESOLVABLE`` with fewer than 2 positive sectors.

jaxvet differences (documented): a sector with *no in-transit points* gets
``quality_weight = 0`` (it is excluded, as the reference's ``serialize_v21_sector_measurements``
does) instead of the tutorial's ``(0, 1)`` non-detection; and a ``verdict``: ``pass`` for
EXPECTED_SCATTER, ``warn`` for INCONSISTENT (an inconsistent sector set is a major warning, to be treated as
high-priority caution), ``insufficient`` for UNRESOLVABLE or fewer than 2 sectors.  The warning
needs a relative floor too: ``depth_rel_scatter`` -- the weighted rms of the positive sector
depths about ``mu``, divided by ``mu`` (``sqrt(chi2) * err_mu / mu``, ``err_mu = 1/sqrt(sum w)``)
-- must be at least ``rel_scatter_floor`` (0.05, traced; 0 turns the floor off), else the
verdict is ``pass`` with flag ``BELOW_RELATIVE_FLOOR``: at an SNR of hundreds the chi-square
flags percent-level differences between sectors' detrending or crowding corrections
(docs/checks.md, WASP-18 b).  ``consistency_class`` stays the reference's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.depth import sector_transit_depths
from jaxvet.core.stats import chi2_sf
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, in_range, option, positive
from jaxvet.results import STATUS_CODES, VERDICT_CODES, CheckResult, skipped_result

ID = "V21"
NAME = "sector_consistency"
CLASSES = ("EXPECTED_SCATTER", "INCONSISTENT", "UNRESOLVABLE")
CHI2_THRESHOLD = 0.01
MIN_SECTORS = 2
OUTLIER_SIGMA = 3.0
#: default relative floor of the per-sector depth scatter below which INCONSISTENT is not a warning
REL_SCATTER_FLOOR = 0.05
#: flag of a pass whose sectors are INCONSISTENT but scatter by less than ``rel_scatter_floor``
BELOW_RELATIVE_FLOOR = "BELOW_RELATIVE_FLOOR"

__all__ = ["SPEC", "V21Options", "sector_consistency", "CLASSES"]


@dataclass(frozen=True)
class V21Options(CheckOptions):
    """V21 options (all traced): the chi-square p-value below which sectors are INCONSISTENT,
    the outlier threshold in standard errors and the relative depth scatter below which an
    INCONSISTENT set is not a warning."""

    check_id: ClassVar[str] = ID
    chi2_threshold: float = option(CHI2_THRESHOLD, in_range(0.0, 1.0, closed=(False, False)), traced=True)
    outlier_sigma: float = option(OUTLIER_SIGMA, positive, traced=True)
    rel_scatter_floor: float = option(REL_SCATTER_FLOOR, in_range(0.0, 1.0), traced=True)


@jax.jit
def sector_consistency(
    depth_ppm, err_ppm, quality_weight, present, chi2_threshold=CHI2_THRESHOLD, outlier_sigma=OUTLIER_SIGMA
):
    """Batched V21 statistic over (B, S) rows; ``present`` marks real rows.

    ``chi2_threshold`` (p-value below which the sectors are INCONSISTENT) and ``outlier_sigma``
    are traced arguments (changing them does not recompile).

    Returns a dict of (B,) / (B, S) arrays: chi2, dof, p_value, class code (index into
    :data:`CLASSES`), weighted mean, outlier mask, counts.
    """
    valid = present & (quality_weight > 0) & jnp.isfinite(depth_ppm) & jnp.isfinite(err_ppm) & (err_ppm > 0)
    nondet = valid & (depth_ppm <= 0)
    pos = valid & (depth_ppm > 0)
    n_pos = jnp.sum(pos, axis=-1)
    safe_err = jnp.where(pos, err_ppm, 1.0)
    w = jnp.where(pos, 1.0 / safe_err**2, 0.0)
    sw = jnp.sum(w, axis=-1)
    mu = jnp.sum(w * jnp.where(pos, depth_ppm, 0.0), axis=-1) / jnp.where(sw > 0, sw, 1.0)
    resid = jnp.where(pos, (depth_ppm - mu[:, None]) / safe_err, 0.0)
    chi2 = jnp.sum(resid**2, axis=-1)
    dof = n_pos - 1
    resolvable = (n_pos >= MIN_SECTORS) & (dof > 0)
    p = jnp.where(resolvable, chi2_sf(chi2, dof), 1.0)
    cls = jnp.where(~resolvable, 2, jnp.where(p < chi2_threshold, 1, 0))
    outlier = jnp.where(resolvable[:, None], pos & (jnp.abs(resid) > outlier_sigma), False) | nondet
    n_input = jnp.sum(present, axis=-1)
    n_used = jnp.sum(present & (quality_weight > 0) & (depth_ppm > 0), axis=-1)
    # plot weighted mean over all rows (reference: w = 1/max(err^2, 1e-12))
    wp = jnp.where(present, 1.0 / jnp.maximum(jnp.where(present, err_ppm, 1.0) ** 2, 1e-12), 0.0)
    swp = jnp.sum(wp, axis=-1)
    mean_plot = jnp.sum(wp * jnp.where(present, depth_ppm, 0.0), axis=-1) / jnp.where(swp > 0, swp, 1.0)
    return {
        "chi2": jnp.where(resolvable, chi2, jnp.nan),
        "dof": dof,
        "chi2_p_value": p,
        "class_code": cls,
        "weighted_mean_ppm": jnp.where(sw > 0, mu, jnp.nan),
        "weighted_mean_err_ppm": jnp.where(sw > 0, 1.0 / jnp.sqrt(jnp.where(sw > 0, sw, 1.0)), jnp.nan),
        "plot_weighted_mean_ppm": mean_plot,
        "outlier": outlier,
        "n_outlier_sectors": jnp.sum(outlier, axis=-1),
        "n_sectors_input": n_input,
        "n_sectors_used": n_used,
    }


def _user_rows(ctx: VetContext, s_cap: int):
    """Host: parse user-supplied rows into padded arrays (malformed rows dropped, as reference)."""
    b = ctx.n_candidates
    out = {
        "sector": np.full((b, s_cap), -1, np.int64),
        "depth": np.zeros((b, s_cap)),
        "err": np.ones((b, s_cap)),
        "qw": np.ones((b, s_cap)),
        "present": np.zeros((b, s_cap), bool),
        "dropped": np.zeros(b, np.int64),
        "given": np.zeros(b, bool),
    }
    for i, rows in (ctx.sector_measurements or {}).items():
        if i >= b:
            continue
        out["given"][i] = True
        k = 0
        for row in rows:
            try:
                sec, d, e = int(row["sector"]), float(row["depth_ppm"]), float(row["depth_err_ppm"])
                qw = float(row.get("quality_weight", 1.0))
            except (TypeError, KeyError, ValueError):
                out["dropped"][i] += 1
                continue
            if k >= s_cap:
                break
            out["sector"][i, k], out["depth"][i, k], out["err"][i, k], out["qw"][i, k] = sec, d, e, qw
            out["present"][i, k] = True
            k += 1
    return out


@jax.jit
def _v21_kernel(sector, depth, err, n_in, qw, present, thr):
    """Statistic, status and verdict of (B, S) sector rows (``present`` marks real rows)."""
    out = sector_consistency(depth, err, qw, present, thr["chi2_threshold"], thr["outlier_sigma"])
    n_rows = jnp.sum(present, axis=1)
    cls = out["class_code"]
    # the weighted rms of the positive sector depths about their mean, relative to it:
    # sum(w (d - mu)^2) / sum(w) = chi2 * err_mu^2
    mu = out["weighted_mean_ppm"]
    rel = jnp.sqrt(out["chi2"]) * out["weighted_mean_err_ppm"] / jnp.where(mu > 0, mu, jnp.nan)
    below = (cls == 1) & ~(rel >= thr["rel_scatter_floor"])
    verdict = jnp.where(
        (n_rows < MIN_SECTORS) | (cls == 2),
        VERDICT_CODES["insufficient"],
        jnp.where((cls == 1) & ~below, VERDICT_CODES["warn"], VERDICT_CODES["pass"]),
    )
    out.update(
        status=jnp.where(n_rows >= MIN_SECTORS, STATUS_CODES["ok"], STATUS_CODES["skipped"]),
        verdict=verdict,
        sector=sector,
        depth_ppm=depth,
        depth_err_ppm=err,
        quality_weight=qw,
        n_in=n_in,
        present=present,
        n_sectors_present=n_rows,
        depth_rel_scatter=rel,
        below_floor=below & (n_rows >= MIN_SECTORS),
    )
    return out


def _with_user_rows(ctx: VetContext, sector, depth, err, n_in, qw):
    """Replace the measured rows of candidates with user-supplied rows (device arrays out)."""
    cap = max(sector.shape[1], max((len(r) for r in ctx.sector_measurements.values()), default=0))
    user = _user_rows(ctx, cap)
    pad = cap - sector.shape[1]
    if pad:
        widen = lambda a, fill: jnp.pad(a, ((0, 0), (0, pad)), constant_values=fill)  # noqa: E731
        sector, depth, err = widen(sector, -1), widen(depth, 0), widen(err, 1)
        n_in, qw = widen(n_in, 0), widen(qw, 0)
    g = jnp.asarray(user["given"])[:, None]
    rows = dict(
        sector=jnp.where(g, user["sector"], sector),
        depth=jnp.where(g, user["depth"], depth),
        err=jnp.where(g, user["err"], err),
        n_in=jnp.where(g, -1, n_in),
        qw=jnp.where(g, user["qw"], qw),
        present=jnp.where(g, user["present"], sector >= 0),
    )
    return rows, user


def compute(ctx: VetContext, opts: V21Options | None = None) -> dict:
    """Device arrays of the V21 statistic per candidate (measured or user-supplied sectors)."""
    opts = V21Options.for_context(ctx, opts)
    b = ctx.n_candidates
    sd = sector_transit_depths(ctx.lcb, ctx.cb)
    sector, n_in = sd.sector[:b], sd.n_in[:b]
    depth, err = sd.depth[:b] * 1e6, sd.err[:b] * 1e6
    qw = jnp.where(n_in > 0, 1.0, 0.0)
    rows = dict(sector=sector, depth=depth, err=err, n_in=n_in, qw=qw, present=sector >= 0)
    source = np.zeros(b, np.int8)  # 0 measured, 1 user-supplied
    dropped = np.zeros(b, np.int64)
    if ctx.sector_measurements:
        rows, user = _with_user_rows(ctx, sector, depth, err, n_in, qw)
        source[user["given"]] = 1
        dropped = user["dropped"]
    out = _v21_kernel(**rows, thr=opts.traced())
    out.update(source=jnp.asarray(source), dropped=jnp.asarray(dropped))
    return out


def _r4(x) -> float | None:
    x = float(x)
    return round(x, 4) if np.isfinite(x) else None


def format(ctx: VetContext, opts: V21Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    results = []
    for i in range(ctx.n_candidates):
        pres = a["present"][i]
        if a["n_sectors_present"][i] == 0:
            results.append(skipped_result(ID, NAME, "NO_SECTOR_MEASUREMENTS"))
            continue
        if a["n_sectors_present"][i] < MIN_SECTORS:
            results.append(
                skipped_result(
                    ID,
                    NAME,
                    "INSUFFICIENT_SECTORS",
                    notes=[f"{int(a['n_sectors_present'][i])} sector(s); need 2"],
                )
            )
            continue
        sectors = [int(s) for s in a["sector"][i][pres]]
        depths = [float(x) for x in a["depth_ppm"][i][pres]]
        errs = [float(x) for x in a["depth_err_ppm"][i][pres]]
        qws = [float(x) for x in a["quality_weight"][i][pres]]
        n_in = [int(x) for x in a["n_in"][i][pres]]
        outliers = sorted({int(s) for s, o in zip(a["sector"][i], a["outlier"][i], strict=True) if o})
        cls = CLASSES[int(a["class_code"][i])]
        notes = []
        if a["dropped"][i]:
            notes.append(f"{int(a['dropped'][i])} malformed sector row(s) ignored")
        excluded = [s for s, q in zip(sectors, qws, strict=True) if q <= 0]
        if excluded and a["source"][i] == 0:
            notes.append(f"sectors without in-transit points excluded: {excluded}")
        metrics = {
            "chi2_p_value": float(a["chi2_p_value"][i]),
            "consistency_class": cls,
            "n_outlier_sectors": int(a["n_outlier_sectors"][i]),
            "n_sectors_input": int(a["n_sectors_input"][i]),
            "n_sectors_used": int(a["n_sectors_used"][i]),
            "n_sectors_excluded": int(a["n_sectors_input"][i] - a["n_sectors_used"][i]),
            "chi2": float(a["chi2"][i]),
            "chi2_dof": int(max(a["dof"][i], 0)),
            "weighted_mean_depth_ppm": float(a["weighted_mean_ppm"][i]),
            "weighted_mean_depth_err_ppm": float(a["weighted_mean_err_ppm"][i]),
            "measurement_source": "user" if a["source"][i] else "measured",
            "depth_rel_scatter": _r4(a["depth_rel_scatter"][i]),
        }
        measurements = [
            {
                "sector": s,
                "depth_ppm": d,
                "depth_err_ppm": e,
                "quality_weight": q,
                **({"n_in_transit": n} if n >= 0 else {}),
            }
            for s, d, e, q, n in zip(sectors, depths, errs, qws, n_in, strict=True)
        ]
        raw = {
            "outlier_sectors": outliers,
            "measurements": measurements,
            "params": {
                "chi2_threshold": CHI2_THRESHOLD,
                "min_sectors": MIN_SECTORS,
                "outlier_sigma": OUTLIER_SIGMA,
            },
            "plot_data": {
                "version": 1,
                "sectors": sectors,
                "depths_ppm": depths,
                "depth_errs_ppm": errs,
                "weighted_mean_ppm": float(a["plot_weighted_mean_ppm"][i]),
                "outlier_sectors": outliers,
            },
        }
        verdict = ("pass", "warn", "fail", "insufficient")[int(a["verdict"][i])]
        results.append(
            CheckResult(
                id=ID,
                name=NAME,
                status="ok",
                confidence=None,
                verdict=verdict,
                flags=[BELOW_RELATIVE_FLOOR] if a["below_floor"][i] else [],
                metrics=metrics,
                raw=raw,
                notes=notes,
            )
        )
    return results


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V21Options, summary_metrics=("chi2_p_value", "n_outlier_sectors", "n_sectors_used"),
    description="Per-sector depth consistency (chi-square across sectors)",
)
