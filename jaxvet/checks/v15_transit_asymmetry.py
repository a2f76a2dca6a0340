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

How it runs: the points within ``min(window_mult D, P/2)`` of each transit centre are
gathered into one packed row per candidate (:func:`jaxvet.core.windows.map_packed`; each point
counted in its own epoch only), so the cost is the window points, not the light curve.  The
medians are read from the whole light curve sorted once per run, at ranks found by counting
passes over the window points (:func:`jaxvet.core.range_select.subset_rank_median`; the
global baseline: :func:`~jaxvet.core.range_select.complement_rank_median`), not by sorts.  Options:
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

from jaxvet.core.ephemeris import epoch_index
from jaxvet.core.numerics import exact_div, linspace_edge
from jaxvet.core.order_stats import sort_by_value
from jaxvet.core.range_select import complement_rank_median, subset_rank_median
from jaxvet.core.windows import map_packed
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, option, positive
from jaxvet.results import OK, VERDICT_NONE, CheckResult

__all__ = ["SPEC", "V15Options", "compute", "format", "flux_ranks"]

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


@jax.jit
def flux_ranks(lcb):
    """Each light-curve row's valid flux ascending (L, N) and every point's position in it."""
    n = lcb.flux.shape[1]
    idx = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), lcb.flux.shape)
    sflux, order = sort_by_value(lcb.flux, lcb.mask, idx)
    rows = jnp.arange(lcb.flux.shape[0])[:, None]
    rank = jnp.zeros_like(order).at[rows, order].set(idx)
    return sflux, rank


def _bin_index(ph, lo, hi, n_bins: int):
    """Bin of each phase among the reference's ``np.linspace(lo, hi, n_bins + 1)`` edges (first
    bin closed, others ``(a, b]``; (B, M), clipped to ``[0, n_bins - 1]``).

    An arithmetic estimate, then one correction against the exact edges on either side (the
    estimate is off by at most one, for a phase within rounding of an edge)."""
    step = exact_div(hi - lo, jnp.float64(n_bins))
    i = jnp.arange(n_bins + 1, dtype=jnp.float64)[None, :]
    edges = linspace_edge(lo[:, None], step[:, None], i, n_bins, hi[:, None])  # (B, n_bins + 1)
    safe = jnp.where(step > 0, step, 1.0)[:, None]
    k = jnp.clip(jnp.floor((ph - lo[:, None]) / safe), 0, n_bins - 1).astype(jnp.int32)
    at = lambda j: jnp.take_along_axis(edges, jnp.clip(j, 0, n_bins), axis=1)  # noqa: E731
    k = jnp.where((k > 0) & (ph <= at(k)), k - 1, k)
    k = jnp.where((k < n_bins - 1) & (ph > at(k + 1)), k + 1, k)
    return k


def _binned_sums(ph, y, left, right, hw, n_bins: int):
    """Per-row sums and counts of ``y`` in the ``n_bins`` bins of each half: (B, 2 n_bins) each,
    left bins first (one segment sum per row)."""
    zero = jnp.zeros_like(hw)
    kl = _bin_index(ph, -hw, zero, n_bins)
    kr = _bin_index(ph, zero, hw, n_bins) + n_bins
    key = jnp.where(left, kl, jnp.where(right, kr, 2 * n_bins))
    seg = jax.vmap(lambda a, s: jax.ops.segment_sum(a, s, num_segments=2 * n_bins + 1)[: 2 * n_bins])
    sel = left | right
    return seg(jnp.where(sel, y, 0.0), key), seg(sel.astype(jnp.float64), key)


def _side_stats(sums, counts):
    ok = counts > 0
    means = jnp.where(ok, sums / jnp.where(ok, counts, 1.0), jnp.nan)
    n = jnp.sum(ok, axis=1, dtype=jnp.int32)
    nn = jnp.maximum(n, 1).astype(jnp.float64)
    mu = jnp.sum(jnp.where(ok, means, 0.0), axis=1) / nn
    sd = jnp.sqrt(jnp.sum(jnp.where(ok, (means - mu[:, None]) ** 2, 0.0), axis=1) / nn)
    return means, n, mu, sd / jnp.sqrt(nn)


def _plot_points(ph, y, win):
    """The reference's plot subsample: window points at ``int(linspace(0, n-1, 600))``."""
    n = jnp.sum(win, axis=1, dtype=jnp.int32)
    j = jnp.arange(PLOT_POINTS, dtype=jnp.float64)[None, :]
    last = n[:, None].astype(jnp.float64) - 1.0
    step = exact_div(last, jnp.float64(PLOT_POINTS - 1))
    lin = linspace_edge(0.0, step, j, PLOT_POINTS - 1, last)
    pos = jnp.where(n[:, None] > PLOT_POINTS, jnp.floor(lin), j).astype(jnp.int32)
    cum = jnp.cumsum(win, axis=1, dtype=jnp.int32)
    at = jax.vmap(lambda c, p: jnp.searchsorted(c, p, side="left"))(cum, pos + 1)
    at = jnp.clip(at, 0, ph.shape[1] - 1)
    keep = j < jnp.minimum(n, PLOT_POINTS)[:, None]
    take = lambda a: jnp.where(keep, jnp.take_along_axis(a, at, axis=1), jnp.nan)  # noqa: E731
    return take(ph), take(y + 1.0), jnp.minimum(n, PLOT_POINTS)


def phase_fold_exact(t, t0, period):
    """The reference ``phase_fold`` (``((t - t0)/P) mod 1``, above 0.5 shifted by -1) with an
    IEEE division, so phases (and bin and window membership on exact ties) equal numpy's."""
    ph = jnp.mod(exact_div(t - t0, period), 1.0)
    return jnp.where(ph > 0.5, ph - 1.0, ph)


def _kernel(n_bins: int, window_mult: float, lcb, cb, win, thr, sflux, rank):
    """V15 on packed window rows (B, M); see the module docstring."""
    n_pts = lcb.time.shape[1]
    li = cb.lc_index
    col = lambda a: a[:, None]  # noqa: E731
    P, t0, D = col(cb.period), col(cb.t0), col(cb.duration)
    t, f = win.time, win.flux
    own = win.mask & (epoch_index(t, t0, P) == win.epoch)
    ph = phase_fold_exact(t, t0, P)
    aph = jnp.abs(ph)
    hw = jnp.clip(window_mult * cb.duration / cb.period, 0.0, 0.5)
    inwin = own & (aph <= col(hw))
    n_win = jnp.sum(inwin, axis=1, dtype=jnp.int32)
    d_over_p = D / P  # (B, 1) elementwise: an IEEE division
    oot = inwin & ~(aph < d_over_p * 1.0 / 2.0)
    # medians by rank counting against the light curve's flux order (no sort per candidate)
    ranks = rank.reshape(-1)[col(li * n_pts) + win.index]
    read = lambda r: sflux.reshape(-1)[li * n_pts + jnp.clip(r, 0, n_pts - 1)]  # noqa: E731
    lo, hi, n_loc = subset_rank_median(ranks, oot, n_pts)
    med_loc = jnp.where(n_loc > 0, 0.5 * (read(lo) + read(hi)), jnp.nan)
    # global out-of-transit set: the whole light curve minus the buffer-3 points (all gathered)
    ex = own & (aph < d_over_p * GLOBAL_BUFFER / 2.0)
    n_total = lcb.n_valid[li]
    lo, hi, n_glob = complement_rank_median(ranks, ex, n_total, n_pts)
    med_glob = jnp.where(n_glob > 0, 0.5 * (read(lo) + read(hi)), jnp.nan)
    few_loc = n_loc < MIN_BASELINE_POINTS
    use_glob = few_loc & (n_glob >= MIN_BASELINE_POINTS)
    baseline = jnp.where(use_glob, med_glob, jnp.where(n_loc > 0, med_loc, 1.0))
    y = f - col(baseline)
    left, right = inwin & (ph < 0), inwin & (ph > 0)
    sums, counts = _binned_sums(ph, y, left, right, hw, n_bins)
    lmeans, nlb, mu_l, se_l = _side_stats(sums[:, :n_bins], counts[:, :n_bins])
    rmeans, nrb, mu_r, se_r = _side_stats(sums[:, n_bins:], counts[:, n_bins:])
    sigma = jnp.abs(mu_l - mu_r) / (jnp.sqrt(se_l**2 + se_r**2) + _EPS)
    n_left = jnp.sum(left, axis=1, dtype=jnp.int32)
    n_right = jnp.sum(right, axis=1, dtype=jnp.int32)
    pph, pfl, n_plot = _plot_points(ph, y, inwin)
    b = t.shape[0]
    return {
        "status": jnp.full((b,), OK, jnp.int32),
        "verdict": jnp.full((b,), VERDICT_NONE, jnp.int32),
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


@functools.cache
def _kernel_for(n_bins: int, window_mult: float):
    """One hashable kernel per static configuration (compiled once per chunk shape)."""
    return functools.partial(_kernel, n_bins, window_mult)


def _resolve(ctx: VetContext, opts: V15Options | None) -> V15Options:
    return opts if opts is not None else V15Options.from_mapping(ctx.options.get(ID))


def compute(ctx: VetContext, opts: V15Options | None = None) -> dict:
    """Device arrays of the V15 quantities per candidate (leading axis: the chunk's candidates)."""
    opts = _resolve(ctx, opts)
    cb, lcb = ctx.cb, ctx.lcb
    sflux, rank = ctx.cached("V15:flux_ranks", lambda: flux_ranks(lcb), per_chunk=False)
    thr = {k: jnp.asarray(v) for k, v in opts.traced().items()}
    hw_days = jnp.minimum(opts.window_mult * cb.duration, 0.5 * cb.period) + _GATHER_MARGIN
    fn = _kernel_for(int(opts.n_bins_half), float(opts.window_mult))
    out = map_packed(fn, lcb, cb, hw_days, args=(thr, sflux, rank), min_points=1024, ladder=2)
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
    if int(a["n_window_points"][b]) < MIN_POINTS:
        w.append("insufficient_points_in_window")
    if bool(a["baseline_fallback"][b]):
        w.append("baseline_fallback_global_oot")
    elif bool(a["baseline_unavailable"][b]):
        w.append("baseline_unavailable")
    if bool(a["few_points_per_half"][b]):
        w.append("insufficient_points_per_half")
    return w


def _bins(a: dict, b: int) -> dict:
    """jaxvet's extra raw fields: the bin means of each half (None for an empty bin)."""
    return {
        f"{side}_bin_means": [v if math.isfinite(v) else None for v in a[f"{side}_bin_means"][b].tolist()]
        for side in ("left", "right")
    }


def format(ctx: VetContext, opts: V15Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    opts = _resolve(ctx, opts)
    results = []
    for b in range(len(ctx.candidates)):
        if int(a["n_points"][b]) < MIN_POINTS:
            results.append(_short(["insufficient_time_points"]))
            continue
        hw = float(a["half_window_phase"][b])
        if hw <= 0:
            results.append(_short(["invalid_window"]))
            continue
        warnings = _warnings(a, b)
        nlb, nrb = int(a["n_left_bins"][b]), int(a["n_right_bins"][b])
        head = {"window_mult": float(opts.window_mult), "n_bins_half": int(opts.n_bins_half)}
        if nlb < MIN_BINS or nrb < MIN_BINS:
            warnings.append("insufficient_bins")
            metrics = {"asymmetry_sigma": None, **head, "n_left_bins": nlb, "n_right_bins": nrb}
            results.append(
                CheckResult(
                    id=ID, name=NAME, status="ok", confidence=0.3, verdict=None, metrics=metrics,
                    raw={**metrics, "_metrics_only": True}, notes=warnings,
                )  # fmt: skip
            )
            continue
        mu_l, mu_r = float(a["mu_left"][b]), float(a["mu_right"][b])
        metrics = {
            "asymmetry_sigma": round(float(a["asymmetry_sigma"][b]), 3),
            "mu_left": round(mu_l, 6),
            "mu_right": round(mu_r, 6),
            **head,
            "n_left_bins": nlb,
            "n_right_bins": nrb,
            "n_left_points": int(a["n_left_points"][b]),
            "n_right_points": int(a["n_right_points"][b]),
            "baseline": round(float(a["baseline"][b]), 6),
        }
        k = int(a["n_plot"][b])
        plot_data = {
            "version": 1,
            "phase": a["plot_phase"][b][:k].tolist(),
            "flux": a["plot_flux"][b][:k].tolist(),
            "left_bin_mean": float(1.0 + mu_l),
            "right_bin_mean": float(1.0 + mu_r),
            "left_bin_phase_range": [-hw, 0.0],
            "right_bin_phase_range": [0.0, hw],
        }
        results.append(
            CheckResult(
                id=ID, name=NAME, status="ok", confidence=reference_confidence(warnings), verdict=None,
                metrics=metrics,
                raw={**metrics, "plot_data": plot_data, "_metrics_only": True, **_bins(a, b)},
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
