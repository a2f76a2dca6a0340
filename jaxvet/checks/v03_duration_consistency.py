"""V03 duration consistency: observed transit duration vs the stellar-density expectation.

For a central transit of a planet on a circular orbit, the duration scales as
``T ~ (P / rho_star)^(1/3)`` (Seager & Mallen-Ornelas 2003, ApJ 585, 1038; Winn 2010, in
"Exoplanets", eq. 18 with b = 0).  Following the reference library (tess-vetter 0.3.20,
docs/checks.md):

* ``expected_solar_h = 13.0 * (P / 365.25)^(1/3)`` -- about 13 h for a one-year orbit around
  the Sun;
* with both stellar radius and mass known (``rho = M/R^3 > 0``, solar units),
  ``expected = expected_solar * rho^(-1/3)`` and ``density_corrected = True``;
* ``duration_ratio = D_h / expected``; ``plot_data.expected_hours_err = 0.2 * expected`` (impact
  parameter and eccentricity);
* confidence 0.85 when density-corrected, 0.5 when only some stellar parameters are known,
  0.2 without any.

jaxvet carries stellar parameters per candidate (:class:`~jaxvet.data.CandidateBatch`
``stellar_radius``/``stellar_mass``, NaN = unknown): "no stellar parameters" in the reference
corresponds to both being NaN.  The reference is metrics-only and so is this check: ``verdict``
is None (a ratio far from 1 is as often an impact-parameter or eccentricity effect as a wrong
host, so no threshold is applied).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions
from jaxvet.results import STATUS_CODES, VERDICT_NONE, CheckResult

__all__ = ["SPEC", "V03Options", "duration_consistency"]

ID = "V03"
NAME = "Duration Consistency"
SOLAR_HOURS_PER_YEAR = 13.0
DAYS_PER_YEAR = 365.25
EXPECTED_ERR_FRACTION = 0.2
NOTE = (
    "Duration check uses solar-type assumption. "
    "Provide stellar parameters for accurate M-dwarf/giant assessment."
)


@jax.jit
def duration_consistency(period_days, duration_hours, stellar_radius, stellar_mass):
    """Batched V03 over (B,) arrays; NaN stellar values mean unknown.  Returns a dict of arrays."""
    p = jnp.asarray(period_days, jnp.float64)
    d = jnp.asarray(duration_hours, jnp.float64)
    r = jnp.asarray(stellar_radius, jnp.float64)
    m = jnp.asarray(stellar_mass, jnp.float64)
    solar = SOLAR_HOURS_PER_YEAR * (p / DAYS_PER_YEAR) ** (1.0 / 3.0)
    has_r, has_m = jnp.isfinite(r), jnp.isfinite(m)
    stellar = has_r | has_m
    rho_known = has_r & has_m & (r > 0)
    rho = jnp.where(rho_known, m / jnp.where(rho_known, r, 1.0) ** 3, jnp.nan)
    corrected = rho_known & (rho > 0)
    expected = jnp.where(corrected, solar * jnp.where(corrected, rho, 1.0) ** (-1.0 / 3.0), solar)
    ratio = jnp.where(expected > 0, d / jnp.where(expected > 0, expected, 1.0), jnp.inf)
    confidence = jnp.where(corrected, 0.85, jnp.where(stellar, 0.5, 0.2))
    b = p.shape[0]
    return {
        "status": jnp.full((b,), STATUS_CODES["ok"], jnp.int32),
        "verdict": jnp.full((b,), VERDICT_NONE, jnp.int32),
        "confidence": confidence,
        "duration_hours": d,
        "expected_duration_hours": expected,
        "expected_duration_solar": solar,
        "expected_hours_err": expected * EXPECTED_ERR_FRACTION,
        "duration_ratio": ratio,
        "density_corrected": corrected,
        "stellar_density_solar": rho,
        "stellar_given": stellar,
        "stellar_radius": r,
        "stellar_mass": m,
    }


@dataclass(frozen=True)
class V03Options(CheckOptions):
    """V03 has no options (any name given is a misspelling and is rejected)."""

    check_id: ClassVar[str] = ID


def compute(ctx: VetContext, opts: V03Options | None = None) -> dict:
    """Device arrays of the V03 quantities per candidate."""
    n = ctx.n_candidates
    cb = ctx.cb
    # durations in hours straight from the host candidates (no days -> hours round trip)
    dur_h = np.asarray([c.duration_hours for c in ctx.candidates], dtype=np.float64)
    out = duration_consistency(cb.period[:n], jnp.asarray(dur_h), cb.stellar_radius[:n], cb.stellar_mass[:n])
    return out


def _opt(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def format(ctx: VetContext, opts: V03Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    results = []
    for i, cand in enumerate(ctx.candidates):
        corrected = bool(a["density_corrected"][i])
        rho = float(a["stellar_density_solar"][i])
        expected = float(a["expected_duration_hours"][i])
        ratio = float(a["duration_ratio"][i])
        metrics = {
            "duration_hours": round(cand.duration_hours, 4),
            "expected_duration_hours": round(expected, 4),
            "expected_duration_solar": round(float(a["expected_duration_solar"][i]), 4),
            "duration_ratio": round(ratio, 3),
            "density_corrected": corrected,
            "period_days": round(cand.period_days, 4),
        }
        if np.isfinite(rho):
            metrics["stellar_density_solar"] = round(rho, 4)
        if bool(a["stellar_given"][i]):
            metrics["stellar_radius"] = _opt(a["stellar_radius"][i])
            metrics["stellar_mass"] = _opt(a["stellar_mass"][i])
        if not corrected:
            metrics["note"] = NOTE
        plot_data = {
            "version": 1,
            "observed_hours": float(cand.duration_hours),
            "expected_hours": expected,
            "expected_hours_err": float(a["expected_hours_err"][i]),
            "duration_ratio": ratio,
        }
        raw = {**metrics, "plot_data": plot_data, "_metrics_only": True}
        results.append(
            CheckResult(
                id=ID,
                name=NAME,
                status="ok",
                confidence=float(a["confidence"][i]),
                verdict=None,
                metrics=metrics,
                raw=raw,
                notes=[],
            )
        )
    return results


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V03Options, summary_metrics=("duration_ratio", "expected_duration_hours", "confidence"),
    description="Observed duration vs the stellar-density expectation 13 h (P/yr)^(1/3) rho^(-1/3)",
)
