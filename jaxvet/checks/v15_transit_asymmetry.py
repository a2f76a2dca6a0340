"""V15 transit asymmetry: do the two halves of the transit window differ (a ramp or a step)?

Systematics that mimic transits -- a flux ramp after a momentum dump, a step at a gap edge --
are asymmetric about the "transit" centre, while a planetary transit is symmetric (Thompson
et al. 2018, ApJS 235, 38, §3 Robovetter false-alarm diagnostics; Guerrero et al. 2021, ApJS
254, 39, §3.2).  The reference (tess-vetter 0.3.20 ``check_transit_asymmetry``;
docs/checks.md) compares the binned flux of the left and right halves of the phase-folded
window; jaxvet reproduces it for every candidate at once:

* phase ``phi = ((t - t0)/P) mod 1`` shifted to (-0.5, 0.5]; half-window
  ``hw = clip(window_mult D/P, 0, 0.5)``, window ``|phi| <= hw``;
* baseline = median flux of the window points not in transit (``|phi| < D/2P``, strict); with
  fewer than 10 of them the median of all points outside ``|phi| < 1.5 D/P``
  (``baseline_fallback_global_oot``), and if that too has fewer than 10,
  ``baseline_unavailable`` (the local median, or 1.0 without any local point);
* ``n_bins_half`` equal bins over ``[-hw, 0]`` (window points with ``phi < 0``) and over
  ``[0, hw]`` (``phi > 0``; ``phi = 0`` is in neither half); the first bin is closed, the
  others ``(a, b]``; mean of ``f - baseline`` per non-empty bin;
* with at least 3 non-empty bins per half: ``mu`` = unweighted mean of the bin means,
  ``se = std(bin means)/sqrt(n_bins)`` (ddof 0) and
  ``asymmetry_sigma = |mu_L - mu_R| / (sqrt(se_L^2 + se_R^2) + 1e-12)``; otherwise
  ``insufficient_bins`` (confidence 0.3, ``asymmetry_sigma`` None);
* notes ``insufficient_points_in_window`` (< 50 window points) and
  ``insufficient_points_per_half`` (a half with fewer than ``min_points_per_half``); fewer than
  50 valid points in all: ``insufficient_time_points`` (confidence 0.2, no metrics);
* confidence 0.75, times 0.85 with ``insufficient_points_in_window`` and 0.9 with a
  ``baseline_*`` note, 3 dp.  Metrics-only like the reference: ``verdict`` is None.

How it runs, with no pass over the points per candidate: the fold key (cycle, phase) of
:func:`jaxvet.core.phase_ranges.centered_key` is non-decreasing in time, so in each cycle the
window, the halves, the bins and both transit masks are index ranges of the time-sorted light
curve.  The cycles whose window meets a data segment are planned on the host
(:func:`~jaxvet.core.phase_ranges.plan_cycles`, flat over candidates: F rows); the 8 + 2
(n_bins_half - 1) range edges of each are found exactly
(:func:`~jaxvet.core.phase_ranges.phase_search`); counts and bin sums are differences of
double-double prefix sums of ``[1, f - c]`` and the baselines are medians of unions of ranges on a
wavelet matrix of the flux (:func:`jaxvet.core.range_select.ranges_median`; the global one is
the light curve minus the ``1.5 D/P`` ranges), all from
:func:`~jaxvet.core.phase_ranges.range_tables`, built once per run.  Options:
``window_mult`` (2) and ``n_bins_half`` (12) are static (they size windows and bins);
``min_points_per_half`` (20) is traced.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.numerics import exact_div, linspace_edge
from jaxvet.core.order_stats import bisect, bisect_steps
from jaxvet.core.phase_ranges import centered_key, phase_search, plan_cycles, range_tables
from jaxvet.core.range_select import range_sums, ranges_median
from jaxvet.data import bucket_size
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, option, positive
from jaxvet.results import OK, VERDICT_NONE, CheckResult

__all__ = ["SPEC", "V15Options", "compute", "format"]

ID = "V15"
NAME = "Transit Asymmetry"
#: fewer valid points (or window points) than this: ``insufficient_time_points`` (window note)
MIN_POINTS = 50
#: a baseline needs this many out-of-transit points
MIN_BASELINE_POINTS = 10
#: each half needs this many non-empty bins
MIN_BINS = 3
#: buffer of the global out-of-transit fallback (in transit durations)
GLOBAL_BUFFER = 3.0
#: points shown in ``plot_data`` (evenly subsampled window points)
PLOT_POINTS = 600
_EPS = 1e-12
#: gather margin (days) beyond the exact phase test, so no window point is missed by rounding
_GATHER_MARGIN = 1e-7


@dataclass(frozen=True)
class V15Options(CheckOptions):
    """V15 options (the reference's ``AsymmetryConfig``)."""

    check_id: ClassVar[str] = ID
    window_mult: float = option(2.0, positive)
    n_bins_half: int = option(12, at_least(1))
    min_points_per_half: int = option(20, at_least(0), traced=True)


def _bin_edges(hw, n_bins: int):
    """The reference's ``np.linspace(-hw, 0, n + 1)`` and ``np.linspace(0, hw, n + 1)`` (B, n + 1)."""
    i = jnp.arange(n_bins + 1, dtype=jnp.float64)[None, :]
    zero = jnp.zeros_like(hw)

    def edges(lo, hi):
        step = exact_div(hi - lo, jnp.float64(n_bins))
        return linspace_edge(lo[:, None], step[:, None], i, n_bins, hi[:, None])

    return edges(-hw, zero), edges(zero, hw)


def _side_stats(sums, counts):
    ok = counts > 0
    means = jnp.where(ok, sums / jnp.where(ok, counts, 1.0), jnp.nan)
    n = jnp.sum(ok, axis=1, dtype=jnp.int32)
    nn = jnp.maximum(n, 1).astype(jnp.float64)
    mu = jnp.sum(jnp.where(ok, means, 0.0), axis=1) / nn
    sd = jnp.sqrt(jnp.sum(jnp.where(ok, (means - mu[:, None]) ** 2, 0.0), axis=1) / nn)
    return means, n, mu, sd / jnp.sqrt(nn)


def phase_fold_exact(t, t0, period):
    """The reference ``phase_fold`` (``((t - t0)/P) mod 1``, above 0.5 shifted by -1) with an
    IEEE division, so phases (and bin and window membership on exact ties) equal numpy's
    (the phase of :func:`jaxvet.core.phase_ranges.centered_key`)."""
    return centered_key(t, t0, period)[1]


def _window_edges(lcb, tables, cb, own, k, hw, d, d3, el, er):
    """Exact edges (F, 8 + 2 (n - 1)) of every planned cycle ``k`` of candidate ``own``: window
    ``[-hw, hw]``, phase 0 (both sides), ``|phi| < D/2P`` and ``< 1.5 D/P``, interior bin edges."""
    b = jnp.clip(own, 0, cb.period.shape[0] - 1)
    li = cb.lc_index[b]
    col = lambda a: a[b][:, None]  # noqa: E731
    z = jnp.zeros_like(k)[:, None]
    ph = jnp.concatenate(
        [-col(hw), col(hw), z, z, -col(d), col(d), -col(d3), col(d3), el[b][:, 1:-1], er[b][:, 1:-1]], 1
    )
    n_int = el.shape[1] - 2
    strict = jnp.asarray([False, True, False, True, True, False, True, False] + [True] * (2 * n_int))
    n_valid = lcb.n_valid[li][:, None]
    i = phase_search(
        tables.grid, lcb.time.reshape(-1), li[:, None], n_valid, centered_key, col(cb.t0), col(cb.period),
        k[:, None], ph, strict, phase_range=(-0.5, 0.5), crowd=tables.crowd,
    )  # fmt: skip
    return li, i


def _plot_points(lcb, cb, own, lo, cnt, baseline, max_rows: int):
    """The reference's plot subsample: window points at ``int(linspace(0, n-1, 600))``, read
    from the window ranges ``[lo, lo + cnt)`` of the flat cycles (candidate-contiguous, at
    most ``max_rows`` per candidate)."""
    b_n = cb.period.shape[0]
    incl = jnp.cumsum(cnt)
    excl = incl - cnt
    first = jax.ops.segment_min(excl, own, num_segments=b_n)
    n = jax.ops.segment_sum(cnt, own, num_segments=b_n)
    j = jnp.arange(PLOT_POINTS, dtype=jnp.float64)[None, :]
    last = n[:, None].astype(jnp.float64) - 1.0
    step = exact_div(last, jnp.float64(PLOT_POINTS - 1))
    lin = linspace_edge(0.0, step, j, PLOT_POINTS - 1, last)
    pos = jnp.where(n[:, None] > PLOT_POINTS, jnp.floor(lin), j).astype(jnp.int32)
    target = first[:, None] + pos
    # the cycle holding each target: a bisection over the candidate's own (contiguous) cycles
    rows = jnp.arange(cnt.shape[0], dtype=jnp.int32)
    r0 = jax.ops.segment_min(rows, own, num_segments=b_n)[:, None]
    r_lo = jnp.broadcast_to(jnp.clip(r0, 0, cnt.shape[0]), target.shape)
    r_hi = jnp.minimum(r_lo + max_rows, cnt.shape[0])
    r = bisect(
        [(r_lo, r_hi, lambda mid: incl[jnp.clip(mid, 0, cnt.shape[0] - 1)] <= target)], bisect_steps(max_rows)
    )[0]
    r = jnp.clip(r, 0, cnt.shape[0] - 1)
    idx = lo[r] + (target - excl[r])
    npts = lcb.time.shape[1]
    flat = (cb.lc_index[:, None] * npts + jnp.clip(idx, 0, npts - 1)).reshape(-1)
    t = lcb.time.reshape(-1)[flat].reshape(idx.shape)
    f = lcb.flux.reshape(-1)[flat].reshape(idx.shape)
    keep = j < jnp.minimum(n, PLOT_POINTS)[:, None]
    ph = phase_fold_exact(t, cb.t0[:, None], cb.period[:, None])
    y = f - baseline[:, None]
    return jnp.where(keep, ph, jnp.nan), jnp.where(keep, y + 1.0, jnp.nan), jnp.minimum(n, PLOT_POINTS)


def _baselines(tables, cb, li, own, i, n_total):
    """Local (window, out of transit) and global (light curve minus ``|phi| < 1.5 D/P``)
    medians: signed index ranges on the flux wavelet matrix."""
    w_lo, w_hi = i[:, 0], jnp.maximum(i[:, 1], i[:, 0])
    a = jnp.clip(i[:, 4], w_lo, w_hi)
    bb = jnp.clip(jnp.maximum(i[:, 5], a), w_lo, w_hi)
    x0, x1 = i[:, 6], jnp.maximum(i[:, 7], i[:, 6])
    ones = jnp.ones_like(w_lo)
    loc = ranges_median(
        tables.flux, cb.lc_index, jnp.concatenate([w_lo, bb]), jnp.concatenate([a, w_hi]),
        jnp.concatenate([ones, ones]), jnp.concatenate([own, own]),
    )  # fmt: skip
    b_n = cb.period.shape[0]
    whole = jnp.arange(b_n, dtype=own.dtype)
    glob = ranges_median(
        tables.flux, cb.lc_index, jnp.concatenate([jnp.zeros_like(whole), x0]),
        jnp.concatenate([n_total.astype(x0.dtype), x1]), jnp.concatenate([jnp.ones_like(whole), -ones]),
        jnp.concatenate([whole, own]),
    )  # fmt: skip
    return loc, glob


def _kernel(n_bins: int, window_mult: float, max_rows: int, lcb, cb, tables, own, k, thr):
    """V15 of B candidates from the exact edges of their planned cycles (flat ``own``, ``k``;
    at most ``max_rows`` per candidate)."""
    hw = jnp.clip(window_mult * cb.duration / cb.period, 0.0, 0.5)
    d_over_p = cb.duration / cb.period
    d, d3 = d_over_p * 1.0 / 2.0, d_over_p * GLOBAL_BUFFER / 2.0
    el, er = _bin_edges(hw, n_bins)
    li, i = _window_edges(lcb, tables, cb, own, k, hw, d, d3, el, er)
    b_n = cb.period.shape[0]
    seg = lambda x: jax.ops.segment_sum(x, own, num_segments=b_n)  # noqa: E731
    w_lo, w_hi = i[:, 0], jnp.maximum(i[:, 1], i[:, 0])
    z0, z1 = jnp.clip(i[:, 2], w_lo, w_hi), jnp.clip(i[:, 3], w_lo, w_hi)
    n_win, n_left, n_right = seg(w_hi - w_lo), seg(z0 - w_lo), seg(w_hi - z1)
    n_total = lcb.n_valid[cb.lc_index]
    (med_loc, n_loc), (med_glob, n_glob) = _baselines(tables, cb, li, own, i, n_total)
    few_loc = n_loc < MIN_BASELINE_POINTS
    use_glob = few_loc & (n_glob >= MIN_BASELINE_POINTS)
    baseline = jnp.where(use_glob, med_glob, jnp.where(n_loc > 0, med_loc, 1.0))
    # bins: [w_lo, l_1, ..., l_{n-1}, z0] and [z1, r_1, ..., r_{n-1}, w_hi], cumulative maxima
    nb = n_bins - 1
    bounds = jnp.concatenate(
        [w_lo[:, None], i[:, 8 : 8 + nb], z0[:, None], z1[:, None], i[:, 8 + nb :], w_hi[:, None]], 1
    )
    bounds = jnp.clip(jax.lax.cummax(bounds, axis=1), w_lo[:, None], w_hi[:, None])
    lo_b = jnp.concatenate([bounds[:, :n_bins], bounds[:, n_bins + 1 : -1]], 1)
    hi_b = jnp.concatenate([bounds[:, 1 : n_bins + 1], bounds[:, n_bins + 2 :]], 1)
    s = seg(range_sums(tables.sums, li[:, None], lo_b, hi_b))  # (B, 2 n, C)
    counts = s[..., 0]
    c = tables.centre[cb.lc_index]
    sums = s[..., 1] - counts * (baseline - c)[:, None]
    lmeans, nlb, mu_l, se_l = _side_stats(sums[:, :n_bins], counts[:, :n_bins])
    rmeans, nrb, mu_r, se_r = _side_stats(sums[:, n_bins:], counts[:, n_bins:])
    sigma = jnp.abs(mu_l - mu_r) / (jnp.sqrt(se_l**2 + se_r**2) + _EPS)
    pph, pfl, n_plot = _plot_points(lcb, cb, own, w_lo, w_hi - w_lo, baseline, max_rows)
    return {
        "status": jnp.full((b_n,), OK, jnp.int32),
        "verdict": jnp.full((b_n,), VERDICT_NONE, jnp.int32),
        "n_points": n_total,
        "half_window_phase": hw,
        "n_window_points": n_win,
        "n_oot_local": n_loc,
        "baseline_fallback": use_glob,
        "baseline_unavailable": few_loc & ~use_glob,
        "baseline": baseline,
        "few_points_per_half": (n_left < thr["min_points_per_half"]) | (n_right < thr["min_points_per_half"]),
        "n_left_points": n_left,
        "n_right_points": n_right,
        "left_bin_means": lmeans,
        "right_bin_means": rmeans,
        "n_left_bins": nlb,
        "n_right_bins": nrb,
        "mu_left": mu_l,
        "mu_right": mu_r,
        "se_left": se_l,
        "se_right": se_r,
        "asymmetry_sigma": jnp.where((nlb >= MIN_BINS) & (nrb >= MIN_BINS), sigma, jnp.nan),
        "plot_phase": pph,
        "plot_flux": pfl,
        "n_plot": n_plot,
    }


_jit_kernel = jax.jit(_kernel, static_argnums=(0, 1, 2))


@functools.cache
def _kernel_for(n_bins: int, window_mult: float):
    """The jitted kernel of one static configuration (compiled once per chunk and plan shape)."""
    return functools.partial(_jit_kernel, n_bins, window_mult)


def compute(ctx: VetContext, opts: V15Options | None = None) -> dict:
    """Device arrays of the V15 quantities per candidate (leading axis: the chunk's candidates)."""
    opts = V15Options.for_context(ctx, opts)
    cb, lcb = ctx.cb, ctx.lcb
    tables = ctx.cached("range_tables:2", lambda: range_tables(lcb, 2), per_chunk=False)  # n, d
    segs = ctx.cached(
        "segments_host", lambda: (np.asarray(lcb.seg_lo), np.asarray(lcb.seg_hi)), per_chunk=False
    )
    thr = {k: jnp.asarray(v) for k, v in opts.traced().items()}
    host = jax.device_get({"li": cb.lc_index, "p": cb.period, "t0": cb.t0, "d": cb.duration, "ok": cb.valid})
    with np.errstate(all="ignore"):
        hw = np.clip(float(opts.window_mult) * host["d"] / host["p"], 0.0, 0.5)
    own, k, _ = plan_cycles(*segs, host["li"], host["p"], host["t0"], host["ok"], -hw, hw)
    fn = _kernel_for(int(opts.n_bins_half), float(opts.window_mult))
    max_rows = bucket_size(int(np.bincount(own, minlength=cb.size + 1)[: cb.size].max(initial=0)), 8)
    out = fn(max_rows, lcb, cb, tables, jnp.asarray(own), jnp.asarray(k), thr)
    return {k: v[: ctx.n_candidates] for k, v in out.items()}


def reference_confidence(warnings: list[str]) -> float:
    """The reference's V15 confidence for a measured result with these notes."""
    c = 0.75
    if "insufficient_bins" in warnings or "insufficient_points_in_window" in warnings:
        c *= 0.85
    if any(w.startswith("baseline_") for w in warnings):
        c *= 0.9
    return round(min(max(c, 0.2), 0.95), 3)


def _short(warnings: list[str]) -> CheckResult:
    return CheckResult(
        id=ID, name=NAME, status="ok", confidence=0.2, verdict=None, metrics={},
        raw={"_metrics_only": True}, notes=warnings,
    )  # fmt: skip


def _warnings(a: dict, b: int) -> list[str]:
    w = []
    if a["n_window_points"][b] < MIN_POINTS:
        w.append("insufficient_points_in_window")
    if a["baseline_fallback"][b]:
        w.append("baseline_fallback_global_oot")
    elif a["baseline_unavailable"][b]:
        w.append("baseline_unavailable")
    if a["few_points_per_half"][b]:
        w.append("insufficient_points_per_half")
    return w


def _bin_lists(means) -> list[list]:
    """Rows of bin means as lists, None for an empty (non-finite) bin."""
    rows = np.asarray(means).tolist()
    full = np.all(np.isfinite(means), axis=1).tolist()
    return [
        r if ok else [v if math.isfinite(v) else None for v in r] for r, ok in zip(rows, full, strict=True)
    ]


_SCALARS = (
    "n_points", "half_window_phase", "n_window_points", "baseline_fallback", "baseline_unavailable",
    "few_points_per_half", "n_left_bins", "n_right_bins", "mu_left", "mu_right", "asymmetry_sigma",
    "n_left_points", "n_right_points", "baseline", "n_plot",
)  # fmt: skip


def format(ctx: VetContext, opts: V15Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate (the
    columns become Python lists once per batch)."""
    opts = V15Options.for_context(ctx, opts)
    n = len(ctx.candidates)
    col = {k: np.asarray(a[k])[:n].tolist() for k in _SCALARS}
    bins = {side: _bin_lists(np.asarray(a[f"{side}_bin_means"])[:n]) for side in ("left", "right")}
    results = []
    for b in range(n):
        if col["n_points"][b] < MIN_POINTS:
            results.append(_short(["insufficient_time_points"]))
            continue
        hw = col["half_window_phase"][b]
        if hw <= 0:
            results.append(_short(["invalid_window"]))
            continue
        warnings = _warnings(col, b)
        nlb, nrb = col["n_left_bins"][b], col["n_right_bins"][b]
        head = {"window_mult": float(opts.window_mult), "n_bins_half": int(opts.n_bins_half)}
        if nlb < MIN_BINS or nrb < MIN_BINS:
            warnings.append("insufficient_bins")
            metrics = {"asymmetry_sigma": None, **head, "n_left_bins": nlb, "n_right_bins": nrb}
            results.append(
                CheckResult(
                    id=ID,
                    name=NAME,
                    status="ok",
                    confidence=0.3,
                    verdict=None,
                    metrics=metrics,
                    raw={**metrics, "_metrics_only": True},
                    notes=warnings,
                )  # fmt: skip
            )
            continue
        mu_l, mu_r = col["mu_left"][b], col["mu_right"][b]
        metrics = {
            "asymmetry_sigma": round(col["asymmetry_sigma"][b], 3),
            "mu_left": round(mu_l, 6),
            "mu_right": round(mu_r, 6),
            **head,
            "n_left_bins": nlb,
            "n_right_bins": nrb,
            "n_left_points": col["n_left_points"][b],
            "n_right_points": col["n_right_points"][b],
            "baseline": round(col["baseline"][b], 6),
        }
        k = col["n_plot"][b]
        plot_data = {
            "version": 1,
            "phase": a["plot_phase"][b][:k].tolist(),
            "flux": a["plot_flux"][b][:k].tolist(),
            "left_bin_mean": float(1.0 + mu_l),
            "right_bin_mean": float(1.0 + mu_r),
            "left_bin_phase_range": [-hw, 0.0],
            "right_bin_phase_range": [0.0, hw],
        }
        extra = {"left_bin_means": bins["left"][b], "right_bin_means": bins["right"][b]}
        results.append(
            CheckResult(
                id=ID,
                name=NAME,
                status="ok",
                confidence=reference_confidence(warnings),
                verdict=None,
                metrics=metrics,
                raw={**metrics, "plot_data": plot_data, "_metrics_only": True, **extra},
                notes=warnings,
            )  # fmt: skip
        )
    return results


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V15Options,
    summary_metrics=("asymmetry_sigma", "mu_left", "mu_right"),
    description="Binned flux of the left vs right half of the +-window_mult*D phase window",
)  # fmt: skip
