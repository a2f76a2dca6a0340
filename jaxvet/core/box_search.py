"""Box least squares (BLS) periodogram over copies x trial periods x durations, binned in phase.

The box search of Kovács, Zucker & Mazeh (2002, A&A 391, 369) as astropy's
``BoxLeastSquares`` "fast" method computes it: at each trial period the light curve is folded
and binned into phase bins of width ``bin_width = min(durations) / oversample``; cumulative
sums of the weighted flux and weights give every box of ``round(duration / bin_width)`` bins
at every starting bin; the box's in- and out-of-transit weighted means ``y_in``, ``y_out``
give ``depth = y_out - y_in``, ``depth_err = sqrt(1/w_in + 1/w_out)`` and the objective:
``likelihood`` = ``0.5 w_in depth^2`` (astropy's log-likelihood objective, the default) or
``snr`` = ``depth / depth_err``.  Only dips (``depth >= 0``) count.  Fluxes are centred on
their median and times referred to the first valid time, as astropy does.

One difference from astropy: the phase wraps around exactly -- a box may start at any of the
``ceil(P / bin_width)`` bins and continue past phase 1 into the first bins -- whereas astropy
overwrites its last (partial) phase bin with a copy of the first ones and lets no box run
more than ``oversample`` bins past the end.  Where astropy's best box at a period does not
cross phase 0 both give the same numbers (docs/campaigns.md gives the measured agreement).

Copies (rows), periods and durations are array axes: the kernel folds ``period_chunk``
periods of every row at once and ``lax.map`` walks the period chunks, so the largest
intermediate holds ``rows x period_chunk x n_durations x n_bins`` elements (the caller sizes
``period_chunk`` from the engine's element budget).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxvet.core.order_stats import masked_median

__all__ = ["OBJECTIVES", "box_search_grid", "box_search_peak", "search_bins"]

OBJECTIVES = ("likelihood", "snr")
#: astropy's threshold on the in- and out-of-box weight sums (C ``DBL_EPSILON``)
_EPS = 2.220446049250313e-16


def search_bins(max_period: float, durations, oversample: int):
    """``(bin_width, n_bins, dur_bins)``: the phase-bin width ``min(durations) / oversample``,
    the bins of the longest period (a static size) and each duration in bins (C ``round``, as
    astropy), as host numbers."""
    import math

    width = float(min(durations)) / int(oversample)
    dur_bins = tuple(max(1, int(math.floor(float(d) / width + 0.5))) for d in durations)
    return width, int(math.ceil(float(max_period) / width)), dur_bins


def _fold_sums(trel, yw, w, pc, bin_width, n_bins: int, max_window: int):
    """Cumulative sums of the weighted flux and weights in circular phase bins: (K, Pc, B+W+1)."""
    k, n = trel.shape
    n_p = pc.shape[0]
    nb = jnp.ceil(pc / bin_width).astype(jnp.int32)  # (Pc,) data bins of each period
    x = trel[:, None, :]
    ph = x - pc[None, :, None] * jnp.floor(x / pc[None, :, None])
    j = jnp.clip(jnp.floor(ph / bin_width).astype(jnp.int32), 0, nb[None, :, None] - 1)
    flat = ((jnp.arange(k)[:, None, None] * n_p + jnp.arange(n_p)[None, :, None]) * n_bins + j).reshape(-1)
    size = k * n_p * n_bins
    shape = (k, n_p, n)
    hy = jnp.zeros(size).at[flat].add(jnp.broadcast_to(yw[:, None, :], shape).reshape(-1))
    hw = jnp.zeros(size).at[flat].add(jnp.broadcast_to(w[:, None, :], shape).reshape(-1))
    # circular extension: bins nb .. nb + W - 1 repeat bins 0 .. W - 1 (W <= nb)
    hy = jnp.pad(hy.reshape(k, n_p, n_bins), ((0, 0), (0, 0), (0, max_window)))
    hw = jnp.pad(hw.reshape(k, n_p, n_bins), ((0, 0), (0, 0), (0, max_window)))
    dst = nb[:, None] + jnp.arange(max_window)[None, :]  # (Pc, W)
    rows = jnp.arange(n_p)[:, None]
    ey = jax.vmap(lambda h: h.at[rows, dst].add(h[:, :max_window]))(hy)
    ew = jax.vmap(lambda h: h.at[rows, dst].add(h[:, :max_window]))(hw)
    zero = jnp.zeros((k, n_p, 1))
    return jnp.concatenate([zero, jnp.cumsum(ey, 2)], 2), jnp.concatenate([zero, jnp.cumsum(ew, 2)], 2), nb


def _box_stats(y_in, w_in, sum_y, sum_w, ok):
    """(depth, depth_err, log-likelihood, ok) of boxes with sums ``y_in``, ``w_in``."""
    y_out = sum_y - y_in
    w_out = sum_w - w_in
    ok = ok & (w_in >= _EPS) & (w_out >= _EPS)
    wi = jnp.where(ok, w_in, 1.0)
    wo = jnp.where(ok, w_out, 1.0)
    depth = (y_out / wo) - (y_in / wi)
    return depth, jnp.sqrt(1.0 / wi + 1.0 / wo), 0.5 * w_in * depth * depth, ok & (depth >= 0)


def _objective(y_in, w_in, sum_y, sum_w, live, objective):
    """The objective of every box (-inf for boxes without data in and out, or not a dip)."""
    w_out = sum_w - w_in
    ok = live & (w_in >= _EPS) & (w_out >= _EPS)
    wi = jnp.where(ok, w_in, 1.0)
    wo = jnp.where(ok, w_out, 1.0)
    depth = (sum_y - y_in) / wo - y_in / wi
    obj = (
        0.5 * w_in * depth * depth
        if objective == "likelihood"
        else depth * jax.lax.rsqrt(1.0 / wi + 1.0 / wo)
    )
    return jnp.where(ok & (depth >= 0), obj, -jnp.inf)


def _chunk(trel, yw, w, sum_y, sum_w, pc, bin_width, n_bins, dur_bins, objective):
    """Best box over durations and phases of each (row, period) of one period chunk."""
    cy, cw, nb = _fold_sums(trel, yw, w, pc, bin_width, n_bins, max(dur_bins))
    sy, sw = sum_y[:, None, None], sum_w[:, None, None]
    live = (jnp.arange(n_bins)[None, :] < nb[:, None])[None]  # (1, Pc, B) boxes starting on data
    best = jnp.full(cy.shape[:2], -jnp.inf)
    best_d = jnp.zeros(cy.shape[:2], jnp.int32)
    best_n = jnp.zeros(cy.shape[:2], jnp.int32)
    for d in dur_bins:  # static, few: slices instead of gathers
        y_in = cy[:, :, d : d + n_bins] - cy[:, :, :n_bins]
        w_in = cw[:, :, d : d + n_bins] - cw[:, :, :n_bins]
        obj = _objective(y_in, w_in, sy, sw, live, objective)
        n_arg = jnp.argmax(obj, axis=2).astype(jnp.int32)  # first maximum, as astropy's loop
        val = jnp.take_along_axis(obj, n_arg[..., None], axis=2)[..., 0]
        better = val > best
        best = jnp.where(better, val, best)
        best_d = jnp.where(better, d, best_d)
        best_n = jnp.where(better, n_arg, best_n)
    y_in = jnp.take_along_axis(cy, (best_n + best_d)[..., None], 2) - jnp.take_along_axis(
        cy, best_n[..., None], 2
    )
    w_in = jnp.take_along_axis(cw, (best_n + best_d)[..., None], 2) - jnp.take_along_axis(
        cw, best_n[..., None], 2
    )
    depth, err, loglike, _ = _box_stats(y_in[..., 0], w_in[..., 0], sum_y[:, None], sum_w[:, None], True)
    found = jnp.isfinite(best)
    duration = best_d * bin_width
    phase = best_n * bin_width + 0.5 * duration
    t0 = phase - pc[None, :] * jnp.floor(phase / pc[None, :])

    def nan_unless(a):
        return jnp.where(found, a, jnp.nan)

    return {
        "power": best,
        "depth": nan_unless(depth),
        "depth_err": nan_unless(err),
        "depth_snr": nan_unless(depth / err),
        "log_likelihood": nan_unless(loglike),
        "duration": nan_unless(duration),
        "t0": nan_unless(t0),
    }


@partial(jax.jit, static_argnames=("n_bins", "dur_bins", "period_chunk", "objective"))
def box_search_grid(
    time,
    flux,
    ivar,
    periods,
    bin_width,
    *,
    where,
    n_bins: int,
    dur_bins: tuple[int, ...],
    period_chunk: int,
    objective: str = "likelihood",
):
    """BLS periodogram of ``K`` rows ``(K, N)`` at ``periods`` (P,) [days] and box lengths
    ``dur_bins`` (phase bins of ``bin_width`` days each, static).

    ``ivar`` are the weights (inverse variances; ones for an unweighted search), ``where`` the
    valid points.  ``n_bins`` must be at least ``ceil(max(periods) / bin_width)``
    (:func:`search_bins` gives all three); the longest box must be shorter than the shortest
    period.  Returns a dict of ``(K, P)`` arrays: ``power`` (the objective; -inf where no box has
    data in and out), ``depth``, ``depth_err``, ``depth_snr``, ``log_likelihood``, ``duration``
    [d] and ``t0`` (mid-box time, BTJD: within one period after the row's first valid time).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    w = jnp.where(where, ivar, 0.0)
    y = jnp.where(where, flux - masked_median(flux, where)[:, None], 0.0)
    t_ref = jnp.min(jnp.where(where, time, jnp.inf), axis=1)
    trel = jnp.where(where, time - t_ref[:, None], 0.0)
    yw = y * w
    sum_y = jnp.sum(yw, axis=1)
    sum_w = jnp.sum(w, axis=1)
    n_p = periods.shape[0]
    n_chunks = -(-n_p // period_chunk)
    pad = n_chunks * period_chunk - n_p
    pp = jnp.concatenate([periods, jnp.full((pad,), periods[-1])]).reshape(n_chunks, period_chunk)

    def one(pc):
        return _chunk(trel, yw, w, sum_y, sum_w, pc, bin_width, n_bins, dur_bins, objective)

    out = jax.lax.map(one, pp)  # (n_chunks, K, Pc) each
    out = {k: jnp.moveaxis(v, 0, 1).reshape(v.shape[1], -1)[:, :n_p] for k, v in out.items()}
    out["t0"] = out["t0"] + t_ref[:, None]
    return out


@jax.jit
def box_search_peak(grid, periods):
    """The strongest peak of each row of a :func:`box_search_grid` result: a dict of (K,) arrays
    (``period`` and every per-period quantity at the first period of maximum ``power``)."""
    arg = jnp.argmax(grid["power"], axis=1)
    out = {k: jnp.take_along_axis(v, arg[:, None], axis=1)[:, 0] for k, v in grid.items()}
    out["period"] = jnp.where(jnp.isfinite(out["power"]), periods[arg], jnp.nan)
    out["period_index"] = arg.astype(jnp.int32)
    return out
