"""V13 data gaps: how much of each transit window is missing cadences?

Transit-like events at the edge of a data gap (scattered-light ramps, momentum dumps, the
start of an orbit) are a common TESS false alarm (Guerrero et al. 2021, ApJS 254, 39, §3.2;
Twicken et al. 2018, PASP 130, 064502).  The reference (tess-vetter 0.3.20
``check_data_gaps``; docs/checks.md) measures, per transit epoch, the fraction of the cadences
expected in a window around the transit centre that are absent; jaxvet reproduces it for every
candidate and epoch at once:

* epochs: every epoch number ``floor((t - t0 + P/2)/P)`` of an observed time (an epoch whose
  half-period span touches data is listed even when its window holds no point);
* per epoch ``k`` with centre ``t_c = t0 + k P``: ``n_observed`` = points with
  ``|t - t_c| <= window_mult * D`` (inclusive), the local cadence ``dt`` = median positive time
  step inside the window when it holds at least 3 points (else the light curve's median
  positive step), ``expected = clamp(floor(2 window_mult D / dt) + 1, min_expected_points,
  max_expected_points)`` and ``missing = clip(1 - n_observed/expected, 0, 1)``;
* metrics: max and median missing fraction (3 dp) and the number of epochs with
  ``missing >= 0.25``, over all listed epochs and over those with ``n_observed > 0``
  ("in coverage"); ``raw["worst_epochs"]`` are the ``max_epoch_rows`` epochs with the largest
  missing fraction (stable order);
* fewer than 10 valid points: ``insufficient_time_points`` (confidence 0.2); a light curve
  without a positive time step uses a 2-minute cadence (0.0014 d) and notes
  ``cadence_fallback_default``;
* confidence 0.35 with fewer than 2 listed epochs, 0.6 with fewer than 5, else 0.75; times 0.95
  with a note; clipped to [0.2, 0.95], 3 dp.

How it runs: the host epoch plan (:func:`jaxvet.core.windows.plan_windows`, epochs planned
within half a period of a data segment, each window's first point and count by binary search),
an exact per-epoch "has data" binary search (:func:`jaxvet.core.coverage.epochs_with_data`),
the local cadence of the windows that need it (a range median on a wavelet matrix of the light
curve's time steps, built once per run: :func:`jaxvet.core.coverage.window_cadences`) and one
jitted kernel over (B, E).  The check is metrics-only like the reference: ``verdict``
is None.  Options: ``window_mult`` (2; static: it sizes the windows), ``max_epoch_rows`` (10;
host formatting), ``min_expected_points`` (5) and ``max_expected_points`` (20000), both traced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.coverage import (
    epochs_with_data,
    missing_fraction,
    step_index,
    window_cadences,
)
from jaxvet.core.order_stats import masked_median
from jaxvet.core.windows import plan_windows
from jaxvet.data import bucket_size
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, option, positive
from jaxvet.errors import JaxvetInputError
from jaxvet.results import OK, VERDICT_NONE, CheckResult

__all__ = ["SPEC", "V13Options", "compute", "format", "data_gaps_kernel"]

ID = "V13"
NAME = "Data Gaps"
#: fewer valid points than this: ``insufficient_time_points``
MIN_TIME_POINTS = 10
#: the local cadence is measured in windows with at least this many points
MIN_LOCAL_POINTS = 3
#: cadence (days) when the light curve has no positive time step (about 2 minutes)
FALLBACK_CADENCE = 0.0014
#: epochs at or above this missing fraction are counted (``n_epochs_missing_ge_0p25``)
MISSING_COUNT_THRESHOLD = 0.25
#: the epoch plan reaches half a period (plus this relative margin) around each centre
_PLAN_MARGIN = 1e-9


@dataclass(frozen=True)
class V13Options(CheckOptions):
    """V13 options (the reference's ``DataGapConfig``)."""

    check_id: ClassVar[str] = ID
    window_mult: float = option(2.0, positive)
    max_epoch_rows: int = option(10, at_least(0))
    min_expected_points: int = option(5, at_least(1), traced=True)
    max_expected_points: int = option(20000, at_least(1), traced=True)

    def validate(self) -> None:
        if self.min_expected_points > self.max_expected_points:
            raise JaxvetInputError(
                f"V13 option min_expected_points ({self.min_expected_points}) must be <= "
                f"max_expected_points ({self.max_expected_points})"
            )


@jax.jit
def global_cadence(steps):
    """(L,) median positive time step of every light-curve row (NaN without one), from the rows'
    :func:`jaxvet.core.coverage.step_index` (a range median over the whole row, no sort)."""
    n_rows, width = steps.valid_cum.shape
    return window_cadences(steps, jnp.arange(n_rows), 0, width)


@jax.jit
def data_gaps_kernel(n_observed, listed, local_dt, global_dt, half_window, thr):
    """Per-epoch missing fractions and their summaries; (B, E) inputs, (B,) ``global_dt`` and
    ``half_window`` (days), ``thr`` the traced options.  Returns a dict of arrays."""
    g_ok = jnp.isfinite(global_dt) & (global_dt > 0)
    g_dt = jnp.where(g_ok, global_dt, FALLBACK_CADENCE)
    use_local = (n_observed >= MIN_LOCAL_POINTS) & jnp.isfinite(local_dt) & (local_dt > 0)
    dt = jnp.where(use_local, local_dt, g_dt[:, None])
    n = n_observed.astype(jnp.float64)
    expected, missing = missing_fraction(
        n, half_window[:, None], dt, thr["min_expected_points"], thr["max_expected_points"]
    )
    cov = listed & (n_observed > 0)

    def summary(sel):
        cnt = jnp.sum(sel, axis=1, dtype=jnp.int32)
        mx = jnp.where(cnt > 0, jnp.max(jnp.where(sel, missing, -jnp.inf), axis=1), jnp.nan)
        ge = jnp.sum(sel & (missing >= MISSING_COUNT_THRESHOLD), axis=1, dtype=jnp.int32)
        return cnt, mx, masked_median(missing, sel), ge

    n_all, mx_all, med_all, ge_all = summary(listed)
    n_cov, mx_cov, med_cov, ge_cov = summary(cov)
    b = n_observed.shape[0]
    return {
        "status": jnp.full((b,), OK, jnp.int32),
        "verdict": jnp.full((b,), VERDICT_NONE, jnp.int32),
        "cadence_fallback": ~g_ok,
        "cadence": dt,
        "n_expected": expected.astype(jnp.int32),
        "missing_frac": missing,
        "missing_frac_max": mx_all,
        "missing_frac_median": med_all,
        "n_epochs_evaluated": n_all,
        "n_epochs_missing_ge_0p25": ge_all,
        "missing_frac_max_in_coverage": mx_cov,
        "missing_frac_median_in_coverage": med_cov,
        "n_epochs_evaluated_in_coverage": n_cov,
        "n_epochs_missing_ge_0p25_in_coverage": ge_cov,
    }


@partial(jax.jit, static_argnames=("size",))
def _scatter_cadence(steps, lc_index, start, count, rows, *, size: int):
    """Range medians (:func:`jaxvet.core.coverage.window_cadences`) of the windows ``rows`` of
    the flattened (B*E) plan, scattered into a (``size``,) NaN vector (padding rows point past
    its end and are dropped)."""
    med = window_cadences(steps, lc_index, start, count)
    return jnp.full((size,), jnp.nan).at[rows].set(med, mode="drop")


def _local_cadence(ctx: VetContext, plan, steps) -> jax.Array:
    """(B, E) local cadence of the planned windows with >= 3 points (NaN elsewhere); only those
    windows are queried (host plan, bucketed count: few compiled shapes)."""
    shape = plan.count.shape
    need = (plan.valid & (plan.count >= MIN_LOCAL_POINTS)).reshape(-1)
    rows = np.flatnonzero(need)
    m = ctx.shapes.at_least("V13:rows", bucket_size(rows.size, 256))
    pad = m - rows.size
    li = np.repeat(np.asarray(ctx.cb.lc_index), shape[1])
    take = np.concatenate([rows, np.zeros(pad, np.int64)])
    count = np.where(np.arange(m) < rows.size, plan.count.reshape(-1)[take], 0)
    args = (li[take], plan.start.reshape(-1)[take], count, np.concatenate([rows, np.full(pad, need.size)]))
    med = _scatter_cadence(steps, *(jnp.asarray(a, jnp.int32) for a in args), size=need.size)
    return med.reshape(shape)


def compute(ctx: VetContext, opts: V13Options | None = None) -> dict:
    """Device arrays of the V13 quantities per candidate (leading axis: the chunk's candidates)."""
    opts = V13Options.for_context(ctx, opts)
    cb, lcb = ctx.cb, ctx.lcb
    n = ctx.n_candidates
    hw = opts.window_mult * cb.duration
    plan = plan_windows(lcb, cb, hw, plan_half_width=0.5 * cb.period * (1.0 + _PLAN_MARGIN))
    listed = epochs_with_data(lcb, cb, jnp.asarray(plan.epoch), jnp.asarray(plan.valid))
    steps = ctx.cached("V13:step_index", lambda: step_index(lcb.time, lcb.mask), per_chunk=False)
    local_dt = _local_cadence(ctx, plan, steps)
    count_all = jnp.asarray(plan.count, jnp.int32)
    g_dt = ctx.cached("V13:global_cadence", lambda: global_cadence(steps), per_chunk=False)
    thr = {k: jnp.asarray(v) for k, v in opts.traced().items()}
    count = jnp.where(listed, count_all, 0)
    out = data_gaps_kernel(count, listed, local_dt, g_dt[cb.lc_index], hw, thr)
    epoch = jnp.asarray(plan.epoch)
    out.update(
        epoch=epoch,
        listed=listed,
        n_observed=count,
        t_center=cb.t0[:, None] + epoch * cb.period[:, None],
        n_points=lcb.n_valid[cb.lc_index],
    )
    return {k: v[:n] for k, v in out.items()}


def _r3(x) -> float | None:
    x = float(x)
    return round(x, 3) if np.isfinite(x) else None


def _insufficient() -> CheckResult:
    metrics = {"missing_frac_max": None, "missing_frac_median": None, "n_epochs_evaluated": 0}
    return CheckResult(
        id=ID, name=NAME, status="ok", confidence=0.2, verdict=None, metrics=metrics,
        raw={**metrics, "_metrics_only": True}, notes=["insufficient_time_points"],
    )  # fmt: skip


def reference_confidence(n_epochs: int, has_warnings: bool) -> float:
    """The reference's V13 confidence: by the number of listed epochs, 0.95x with a warning."""
    c = 0.35 if n_epochs < 2 else (0.6 if n_epochs < 5 else 0.75)
    if has_warnings:
        c *= 0.95
    return round(min(max(c, 0.2), 0.95), 3)


def _worst_order(a: dict, k: int) -> np.ndarray:
    """(B, k) epoch slots of every candidate's ``k`` largest missing fractions among its listed
    epochs (stable: ties keep epoch order; a NaN fraction after the numbers, as numpy's argsort
    puts it); unlisted slots sort after every listed one and are cut by the count."""
    listed = np.asarray(a["listed"], bool)
    return np.lexsort((-np.asarray(a["missing_frac"]), ~listed), axis=-1)[:, :k]


def _worst_rows(a: dict, b: int, order: np.ndarray) -> list[dict]:
    sel = order[b][: int(np.count_nonzero(a["listed"][b]))]
    cols = zip(
        a["epoch"][b][sel].tolist(), a["t_center"][b][sel].tolist(), a["missing_frac"][b][sel].tolist(),
        a["n_observed"][b][sel].tolist(), a["n_expected"][b][sel].tolist(), strict=True,
    )  # fmt: skip
    return [
        {"epoch_index": int(e), "t_center_btjd": t, "missing_frac": m, "n_observed": o, "n_expected": x}
        for e, t, m, o, x in cols
    ]


def format(ctx: VetContext, opts: V13Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    opts = V13Options.for_context(ctx, opts)
    results = []
    order = _worst_order(a, opts.max_epoch_rows)
    for b, cand in enumerate(ctx.candidates):
        if int(a["n_points"][b]) < MIN_TIME_POINTS:
            results.append(_insufficient())
            continue
        warnings = ["cadence_fallback_default"] if bool(a["cadence_fallback"][b]) else []
        n_ep = int(a["n_epochs_evaluated"][b])
        n_cov = int(a["n_epochs_evaluated_in_coverage"][b])
        metrics = {
            "missing_frac_max": _r3(a["missing_frac_max"][b]),
            "missing_frac_median": _r3(a["missing_frac_median"][b]),
            "n_epochs_evaluated": n_ep,
            "n_epochs_missing_ge_0p25": int(a["n_epochs_missing_ge_0p25"][b]),
            "missing_frac_max_in_coverage": _r3(a["missing_frac_max_in_coverage"][b]),
            "missing_frac_median_in_coverage": _r3(a["missing_frac_median_in_coverage"][b]),
            "n_epochs_evaluated_in_coverage": n_cov,
            "n_epochs_missing_ge_0p25_in_coverage": int(a["n_epochs_missing_ge_0p25_in_coverage"][b]),
            "n_epochs_excluded_no_coverage": n_ep - n_cov,
            "window_mult": float(opts.window_mult),
        }
        worst = _worst_rows(a, b, order)
        by_epoch = sorted(worst, key=lambda r: r["epoch_index"])
        plot_data = {
            "version": 1,
            "epoch_centers_btjd": [r["t_center_btjd"] for r in by_epoch],
            "coverage_fractions": [1.0 - r["missing_frac"] for r in by_epoch],
            "transit_window_hours": float(2.0 * float(opts.window_mult) * float(cand.duration_hours)),
        }
        raw = {**metrics, "worst_epochs": worst, "plot_data": plot_data, "_metrics_only": True}
        results.append(
            CheckResult(
                id=ID,
                name=NAME,
                status="ok",
                confidence=reference_confidence(n_ep, bool(warnings)),
                verdict=None,
                metrics=metrics,
                raw=raw,
                notes=list(warnings),
            )
        )
    return results


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V13Options,
    summary_metrics=("missing_frac_max_in_coverage", "missing_frac_max", "n_epochs_missing_ge_0p25"),
    description="Missing-cadence fraction of the +-window_mult*D window of every transit epoch",
)  # fmt: skip
