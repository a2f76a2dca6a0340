"""Batched transit-shape fits: grid search with closed-form depth, optax/BFGS refinement, bootstrap.

Everything here works on *one candidate's* padded arrays and is ``vmap``-ped (or
``lax.map``-ped in memory-bounded batches) over candidates by the caller; the public
``*_batch`` helpers do that for you.

Model.  The normalised flux is ``1 - depth * s(x - tau; T, F, e)`` with ``s`` the unit-depth,
exposure-averaged symmetric trapezoid of :func:`jaxvet.core.models.trapezoid_shape` (total
duration ``T``, flat duration ``F = r T``, mid-time offset ``tau``, exposure ``e``; Seager &
Mallen-Ornelas 2003).  Inside this module times are in units of the candidate's catalogue
duration ``D`` (``u = x/D``), so the parameter vector ``p = (depth, T/D, r, tau/D)`` is
O(1) for every candidate and one grid serves all of them.

Least squares.  For fixed shape parameters the weighted least-squares depth is closed-form,
``depth = sum(w y s)/sum(w s^2)`` with ``y = 1 - flux``, and the profiled chi-square is
``sum(w y^2) - sum(w y s)^2/sum(w s^2)`` (variable projection, Golub & Pereyra 1973).  A grid
over shapes is therefore two matrix products of the data sums with the grid's shape matrix.
The best grid point (and the best one of the other shape family) is refined with optax's Adam
(Kingma & Ba 2015) on the profiled chi-square in box-constrained coordinates (``r = sin^2 z``,
as MINUIT does), then polished by a projected BFGS (Nocedal & Wright 2006, section 6.1) with the
analytic gradient, started from the finite-difference Hessian.  (optax's L-BFGS with a line
search reached the same optima but tripled the compile time of the V05 program.)  Gauss-Newton
/ Levenberg-Marquardt steps are *not* used: the trapezoid's kinks (smoothed only over an
exposure) give the chi-square a noise-driven curvature that the Gauss-Newton matrix misses,
and LM zig-zags for tens of iterations where BFGS with a good initial Hessian needs three.

Fit points.  Dense data are compressed to ``n_bins`` phase bins per exposure group (weighted
sums ``sum w``, ``sum w y``, ``sum w y^2``, the weighted mean offset, and an effective exposure
``sqrt(e^2 + 12 var)`` that folds the spread of the bin's offsets into the exposure average);
the binned chi-square then differs from the unbinned one only at third order in the bin width
(bins are a few minutes wide for a few-hour transit, ~the cadence).  Sparse data (one point
per bin) are fitted exactly.

Bootstrap (Efron 1979; Efron & Tibshirani 1993).  A resample is a reweighting of the points:
multinomial counts (resampling n points with replacement, as the reference does) or
independent Poisson(1) weights (the "Poisson bootstrap", Hanley & MacGibbon 2006, which
needs no coordination between points).  Per-resample sums are then segment sums of
``W * per-point terms`` and the grid stage is a matrix product ``(resamples x bins) @ (bins
x shapes)``.  Every resample starts from the better of its own best grid shape and the
full-data optimum and takes a fixed number of BFGS steps whose initial inverse Hessian is the
full-data one (resamples perturb the data slightly, so it is an excellent preconditioner).
Random numbers come from ``jax.random.fold_in(fold_in(key(seed), candidate), resample)``
and are indexed by a point's rank inside the candidate's window, so results do not depend on
batch size, chunking or padding.  The Poisson weights invert 16-bit uniforms (two per 32-bit
draw; each probability is exact to 2^-16).  The binned variant (:func:`binned_poisson_sums`,
V05's default) skips the per-point weights: it draws each bin's resampled count and sums
directly (O(bins) per resample).  Intervals are the reference's:
``err = (P84 - P16)/2`` of the resampled values (numpy's linear percentiles).

The reference-compatible grid search (:func:`reference_grid_search`) reproduces tess-vetter
0.3.20's ``_fit_trapezoid_grid_search`` (docs/checks.md, V05) exactly: an
unweighted 20-point grid ``r = linspace(0, 1, 20)`` at the catalogue duration, the reference's
shape expressions, depth fallback 0.001, the first strict minimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvet.core.models import reference_trapezoid_shape, trapezoid_shape, trapezoid_shape_grad

__all__ = [
    "REFERENCE_RATIOS",
    "TrapezoidBounds",
    "candidate_keys",
    "poisson_weights",
    "multinomial_weights",
    "bootstrap_weights",
    "binned_bootstrap_tables",
    "binned_poisson_sums",
    "reference_grid_search",
    "reference_grid_bootstrap",
    "bin_fit_points",
    "resample_sums",
    "profile_chi2",
    "grid_search",
    "refine_adam",
    "profile_value_grad",
    "profile_inverse_hessian",
    "bfgs_refine",
    "bootstrap_starts",
    "trapezoid_start",
    "fit_trapezoid",
    "fit_trapezoid_batch",
    "percentile_halfwidth",
]

#: the reference's grid of tF/tT ratios, ``np.linspace(0, 1, 20)`` evaluated by numpy
REFERENCE_RATIOS = np.linspace(0.0, 1.0, 20)

# Poisson(1) by inversion of 16-bit uniforms: W = #{j : u >= C_j}, C_j = round(2^16 F(j)).
# The quantisation changes each probability by < 2^-16; weights are capped at 9 (P ~ 1e-7).
_POISSON_CDF16 = np.round(np.cumsum([math.exp(-1.0) / math.factorial(j) for j in range(9)]) * 65536.0).astype(
    np.uint32
)


# -- random weights ---------------------------------------------------------------------------


def candidate_keys(seed: int, indices) -> jax.Array:
    """Per-candidate keys ``fold_in(key(seed), index)`` (typed threefry keys, shape of ``indices``)."""
    base = jax.random.key(int(seed))
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(indices, dtype=jnp.uint32))


def poisson_weights(key, resample, size: int):
    """Poisson(1) weights for ranks ``0..size-1`` of resample ``resample`` (prefix-consistent)."""
    k = jax.random.fold_in(key, resample)
    words = jax.random.bits(k, ((size + 1) // 2,), jnp.uint32)
    u = jnp.stack([words & 0xFFFF, words >> 16], axis=-1).reshape(-1)[:size]
    thr = jnp.asarray(_POISSON_CDF16)
    return jnp.sum(u[:, None] >= thr[None, :], axis=-1, dtype=jnp.int32).astype(jnp.float64)


def multinomial_weights(key, resample, n, size: int):
    """Counts of ranks ``0..size-1`` when ``n`` draws are made with replacement from ``n`` ranks.

    Draw ``j`` (j < n) picks rank ``floor(u_j n)``; ranks >= n get 0.  Prefix-consistent in
    ``size`` (the draws of rank ``j`` use the ``j``-th uniform of the resample's stream).
    """
    k = jax.random.fold_in(key, resample)
    u = jax.random.uniform(k, (size,), dtype=jnp.float64)
    nf = jnp.maximum(n, 1).astype(jnp.float64)
    idx = jnp.minimum(jnp.floor(u * nf).astype(jnp.int32), jnp.maximum(n - 1, 0))
    j = jnp.arange(size, dtype=jnp.int32)
    idx = jnp.where(j < n, idx, size)
    return jax.ops.segment_sum(jnp.ones((size,), jnp.float64), idx, num_segments=size + 1)[:size]


def bootstrap_weights(key, rank, mask, n, resamples, kind: str = "poisson"):
    """Per-point weights ``(len(resamples), M)`` for points with ranks ``rank`` among ``n``.

    ``rank[i]`` is point ``i``'s position (0..n-1) in the candidate's canonical (time) order;
    masked points get 0.  ``kind`` is ``"poisson"`` or ``"multinomial"``.  Resample 0 is
    *not* special here (callers use all-ones weights for the original data).
    """
    size = rank.shape[-1]
    r = jnp.clip(rank, 0, size - 1)

    def one(k):
        if kind == "poisson":
            w = poisson_weights(key, k, size)
        elif kind == "multinomial":
            w = multinomial_weights(key, k, n, size)
        else:  # pragma: no cover - validated at the boundary
            raise ValueError(f"unknown bootstrap kind {kind!r}")
        return jnp.where(mask, w[r], 0.0)

    return jax.vmap(one)(jnp.asarray(resamples))


# Poisson counts of a bin: exact inversion below this mean, a skew-corrected normal above it
_SMALL_MEAN = 4.0
_N_INVERSION = 16  # P(Poisson(4) > 16) ~ 1e-6
_CF_VARIANCE = 0.139  # variance the rounding and the (z^2 - 1)/6 term add to the count


def binned_bootstrap_tables(count, s0, sy, s00, s0y, syy):
    """Per-bin quantities :func:`binned_poisson_sums` draws from (computed once per candidate).

    ``count``, ``s0 = sum w``, ``sy = sum w y``, ``s00 = sum w^2``, ``s0y = sum w^2 y``,
    ``syy = sum w^2 y^2`` are (Q,) per-bin sums.  Returns a dict: the Poisson CDF table of
    small-mean bins, the bins' mean pair ``(w, w y)`` and the Cholesky factor of its covariance.
    """
    ok = count > 0
    nn = jnp.where(ok, count, 1.0)
    ma, mb = s0 / nn, sy / nn
    caa = jnp.maximum(s00 / nn - ma * ma, 0.0)
    cab = s0y / nn - ma * mb
    cbb = jnp.maximum(syy / nn - mb * mb, 0.0)
    l11 = jnp.sqrt(caa)
    l21 = jnp.where(l11 > 0, cab / jnp.where(l11 > 0, l11, 1.0), 0.0)
    l22 = jnp.sqrt(jnp.maximum(cbb - l21 * l21, 0.0))
    small = count < _SMALL_MEAN
    ls = jnp.where(small & ok, count, 1.0)
    j = jnp.arange(_N_INVERSION, dtype=jnp.float64)
    logp = -ls[:, None] + j * jnp.log(ls)[:, None] - jax.scipy.special.gammaln(j + 1.0)
    cdf = jnp.cumsum(jnp.exp(logp), axis=-1)
    return {
        "count": count,
        "ok": ok,
        "small": small,
        "cdf": cdf,
        "ma": ma,
        "mb": mb,
        "l11": l11,
        "l21": l21,
        "l22": l22,
    }


def binned_poisson_sums(key, resample, tables):
    """One Poisson-bootstrap resample of binned weighted sums, drawn bin by bin.

    Resampling the points with independent Poisson(1) multiplicities (Hanley & MacGibbon
    2006) puts ``N ~ Poisson(n)`` draws into a bin of ``n`` points, each a uniform pick of the
    bin's pairs ``(w_i, w_i y_i)``.  The count is drawn exactly below a mean of 4 (inverse
    CDF) and from the skew-corrected Cornish-Fisher quantile
    ``n + sqrt(n - 0.139) z + (z^2 - 1)/6`` rounded to an integer above it (mean and variance
    right to < 1e-3, total-variation distance from Poisson(n) < 0.007).  The sum of the ``N``
    picks is drawn from its normal limit, mean ``N (mean w, mean w y)`` and covariance
    ``N Cov(w, w y)`` of the bin's points -- a smoothed bootstrap (Efron 1979, section 3; Silverman &
    Young 1987), exact for Gaussian photometric noise and equal weights.  The cost is O(bins)
    per resample instead of O(points).

    ``tables`` from :func:`binned_bootstrap_tables`; returns the resampled ``(sum w, sum w y)``
    (Q,) each.  Random numbers: ``normal(k, (3, Q))`` and ``uniform(fold_in(k, 1), (Q,))`` with
    ``k = fold_in(key, resample)``.
    """
    t = tables
    lam = t["count"]
    k = jax.random.fold_in(key, resample)
    # single-precision deviates are ample for resampling noise (and 2-3x cheaper to draw)
    z = jax.random.normal(k, (3,) + lam.shape, dtype=jnp.float32).astype(jnp.float64)
    u = jax.random.uniform(jax.random.fold_in(k, 1), lam.shape, dtype=jnp.float32).astype(jnp.float64)
    n_small = jnp.sum(u[:, None] > t["cdf"], axis=-1, dtype=jnp.int32).astype(jnp.float64)
    sd = jnp.sqrt(jnp.maximum(lam - _CF_VARIANCE, 0.0))
    n_large = jnp.maximum(jnp.floor(lam + sd * z[0] + (z[0] * z[0] - 1.0) / 6.0 + 0.5), 0.0)
    n_pick = jnp.where(t["ok"], jnp.where(t["small"], n_small, n_large), 0.0)
    rt = jnp.sqrt(n_pick)
    a = jnp.maximum(n_pick * t["ma"] + rt * t["l11"] * z[1], 0.0)
    b = n_pick * t["mb"] + rt * (t["l21"] * z[1] + t["l22"] * z[2])
    return jnp.where(t["ok"], a, 0.0), jnp.where(t["ok"], b, 0.0)


def percentile_halfwidth(values, mask, ci: float = 0.68):
    """``(P_hi - P_lo)/2`` of the masked values (last axis) with the reference's levels.

    ``lower = (1 - ci)/2*100``, ``upper = (1 + ci)/2*100`` evaluated in Python floats exactly
    as the reference does (16.000000000000004 and 84.0 for ci = 0.68); numpy's linear
    interpolation.  One sort serves both levels.  Returns ``(halfwidth, P_lo, P_hi)``.
    """
    from jaxvet.core.order_stats import masked_count, masked_sorted, sorted_percentile

    n = masked_count(mask)
    srt = masked_sorted(values, mask)
    lo_v = sorted_percentile(srt, n, (1 - ci) / 2 * 100)
    hi_v = sorted_percentile(srt, n, (1 + ci) / 2 * 100)
    return (hi_v - lo_v) / 2, lo_v, hi_v


# -- reference grid search (exact) ------------------------------------------------------------


def _reference_shapes(phase, mask, t_total_phase, ratios):
    ratios = jnp.asarray(ratios, dtype=jnp.float64)
    t_flat = ratios * t_total_phase  # the reference's ``ratio * t_total_phase``
    s = jax.vmap(lambda tf: reference_trapezoid_shape(phase, tf, t_total_phase))(t_flat)
    return jnp.where(mask[None, :], s, 0.0)  # (G, M)


def _reference_select(chi2, depth, valid, ratios):
    """First strict minimum over valid grid points; (0.5, 0.001, inf) when none is valid."""
    c = jnp.where(valid & ~jnp.isnan(chi2), chi2, jnp.inf)
    g = jnp.argmin(c, axis=-1)
    best = jnp.take_along_axis(c, g[..., None], axis=-1)[..., 0]
    found = best < jnp.inf
    r = jnp.asarray(ratios, dtype=jnp.float64)[g]
    d = jnp.take_along_axis(depth, g[..., None], axis=-1)[..., 0]
    return jnp.where(found, r, 0.5), jnp.where(found, d, 0.001), jnp.where(found, best, jnp.inf)


def reference_grid_search(phase, flux, mask, t_total_phase, ratios=REFERENCE_RATIOS):
    """tess-vetter's ``_fit_trapezoid_grid_search`` on one candidate's padded points.

    ``phase`` in phase units, ``flux`` normalised, ``mask`` the fit set.  For each ratio:
    ``depth = sum(y s)/sum(s^2)`` (``y = 1 - flux``; 0.001 if non-finite or <= 0; the ratio is
    skipped if ``sum(s^2) <= 0``), ``chi2 = sum((flux - (1 - depth s))^2)``; the first strict
    minimum wins.  Returns ``(ratio, depth, chi2)``.
    """
    s = _reference_shapes(phase, mask, t_total_phase, ratios)
    y = jnp.where(mask, 1.0 - flux, 0.0)
    denom = jnp.sum(s**2, axis=-1)
    num = jnp.sum(y[None, :] * s, axis=-1)
    valid = denom > 0
    depth = num / jnp.where(valid, denom, 1.0)
    depth = jnp.where(jnp.isfinite(depth) & (depth > 0), depth, 0.001)
    model = 1.0 - depth[:, None] * s
    resid = jnp.where(mask[None, :], flux[None, :] - model, 0.0)
    chi2 = jnp.sum(resid**2, axis=-1)
    return _reference_select(chi2, depth, valid, ratios)


def reference_grid_bootstrap(phase, flux, mask, t_total_phase, weights, ratios=REFERENCE_RATIOS):
    """The reference grid search on reweighted data, for a block of resamples at once.

    ``weights`` (K, M) are resampling counts.  With ``A = [y s]`` and ``B = [s^2]`` the sums
    for every (resample, ratio) pair are the matrix products ``W @ A^T`` and ``W @ B^T``; the
    chi-square is expanded as ``sum W y^2 - 2 depth sum W y s + depth^2 sum W s^2``.
    Returns the best ratio per resample, shape (K,).
    """
    s = _reference_shapes(phase, mask, t_total_phase, ratios)
    y = jnp.where(mask, 1.0 - flux, 0.0)
    w = jnp.where(mask[None, :], weights, 0.0)
    sys = w @ (y[None, :] * s).T  # (K, G)
    sss = w @ (s**2).T
    syy = w @ (y**2)
    valid = sss > 0
    depth = sys / jnp.where(valid, sss, 1.0)
    depth = jnp.where(jnp.isfinite(depth) & (depth > 0), depth, 0.001)
    chi2 = syy[:, None] - 2.0 * depth * sys + depth**2 * sss
    r, _, _ = _reference_select(chi2, depth, valid, ratios)
    return r


# -- trapezoid fit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrapezoidBounds:
    """Box constraints and grids of the trapezoid fit, in units of the catalogue duration D.

    ``window`` is the fit window half-width (|x| < window D).  The mid-time offset is bounded
    by ``tau_max`` and the total duration by ``[t_min, t_max]`` with
    ``t_max = 2 (window - tau_max)`` by default, so the whole model stays inside the window.
    """

    window: float = 0.9
    tau_max: float = 0.15
    t_min: float = 0.2
    t_max: float | None = None
    n_ratio: int = 11
    n_total: int = 9
    n_tau: int = 5

    @property
    def t_hi(self) -> float:
        return 2.0 * (self.window - self.tau_max) if self.t_max is None else float(self.t_max)

    def lower(self):
        return np.array([0.0, self.t_min, 0.0, -self.tau_max])

    def upper(self):
        return np.array([1.0, self.t_hi, 1.0, self.tau_max])

    def ratio_grid(self):
        return np.linspace(0.0, 1.0, self.n_ratio)

    def total_grid(self):
        if self.n_total < 2:
            return np.array([1.0])
        return np.linspace(max(self.t_min, 0.2 * self.t_hi), self.t_hi, self.n_total)

    def tau_grid(self):
        m = (2.0 / 3.0) * self.tau_max
        return np.linspace(-m, m, self.n_tau) if self.n_tau > 1 else np.array([0.0])

    def full_grid(self):
        """(G, 3) array of (T, r, tau) over the product of the three grids."""
        t, r, tau = np.meshgrid(self.total_grid(), self.ratio_grid(), self.tau_grid(), indexing="ij")
        return np.stack([t.ravel(), r.ravel(), tau.ravel()], axis=-1)


def bin_fit_points(
    u, y, w, exposure, group, mask, *, window: float, n_bins: int, n_groups: int, second_moments: bool = False
):
    """Compress one candidate's points into ``n_groups * n_bins`` fit points (phase bins).

    ``u`` offsets from mid-transit in units of D, ``y = 1 - flux``, ``w`` weights, ``exposure``
    (units of D) and ``group`` (exposure group index) per point.  Points with
    ``|u| < window`` are assigned to bin ``group * n_bins + floor((u + window)/(2 window) n_bins)``;
    the rest to the dropped segment.  Returns ``(ids, xbar, ebar, s0, sy, syy, count)``: per-point
    bin ids and per-bin weighted mean offset, effective exposure, and sums of ``w``, ``w y``,
    ``w y^2``.  The effective exposure ``sqrt(e^2 + 12 var)`` adds the weighted spread of the
    bin's offsets (variance ``var``) to the exposure, so the bin's model is the model averaged
    over its points to second order (exact for a bin with one point, or a uniform spread).
    """
    q = n_groups * n_bins
    inwin = mask & (jnp.abs(u) < window)
    b = jnp.floor((u + window) / (2.0 * window) * n_bins).astype(jnp.int32)
    b = jnp.clip(b, 0, n_bins - 1)
    ids = jnp.where(inwin, jnp.clip(group, 0, n_groups - 1) * n_bins + b, q)
    wz = jnp.where(inwin, w, 0.0)
    # offsets relative to the bin centre keep the second moment free of cancellation
    centre = (jnp.arange(n_bins, dtype=jnp.float64) + 0.5) / n_bins * 2.0 * window - window
    centre = jnp.tile(centre, n_groups)
    du = u - centre[jnp.clip(ids, 0, q - 1)]
    cols = [wz, wz * du, wz * du * du, wz * exposure, wz * y, wz * y * y, inwin.astype(jnp.float64)]
    if second_moments:
        cols += [wz * wz, wz * wz * y, wz * wz * y * y]
    cols = jnp.stack(cols, axis=-1)
    sums = jax.ops.segment_sum(cols, ids, num_segments=q + 1)[:q]
    s0 = sums[:, 0]
    ok = s0 > 0
    s0s = jnp.where(ok, s0, 1.0)
    mean_du = sums[:, 1] / s0s
    var = jnp.maximum(sums[:, 2] / s0s - mean_du**2, 0.0)
    xbar = jnp.where(ok, centre + mean_du, centre)
    e_pts = sums[:, 3] / s0s
    # the bin's points are spread over the bin: average the model over that spread too (a box
    # of the same variance, 12 var, added in quadrature to the exposure)
    ebar = jnp.where(ok, jnp.sqrt(e_pts**2 + 12.0 * var), 0.0)
    out = (ids, xbar, ebar, s0, sums[:, 4], sums[:, 5], sums[:, 6])
    if second_moments:
        out += (sums[:, 7], sums[:, 8], sums[:, 9])
    return out


def resample_sums(ids, w, y, weights, n_slots: int):
    """Per-resample bin sums ``sum W w``, ``sum W w y``, ``sum W w y^2``: (K, n_slots) each."""
    k = weights.shape[0]
    ww = weights.T * w[:, None]  # (M, K)
    cols = jnp.concatenate([ww, ww * y[:, None], ww * (y * y)[:, None]], axis=1)
    sums = jax.ops.segment_sum(cols, ids, num_segments=n_slots + 1)[:n_slots]  # (Q, 3K)
    return sums[:, :k].T, sums[:, k : 2 * k].T, sums[:, 2 * k :].T


def _shape_columns(xbar, ebar, params):
    """Shape matrix (G, Q) for params (G, 3) = (T, r, tau) at the fit points."""
    t, r, tau = params[:, 0:1], params[:, 1:2], params[:, 2:3]
    return trapezoid_shape(xbar[None, :] - tau, t, r * t, ebar[None, :])


def profile_chi2(sys, sss):
    """Profiled chi-square minus ``sum w y^2``: ``-max(Sys, 0)^2/Sss`` (depth >= 0); 0 if Sss = 0."""
    ok = sss > 0
    return jnp.where(ok, -(jnp.maximum(sys, 0.0) ** 2) / jnp.where(ok, sss, 1.0), 0.0)


def grid_search(xbar, ebar, s0, sy, params):
    """Best of a (T, r, tau) grid for one or many weight vectors.

    ``s0``, ``sy`` are (Q,) or (K, Q); ``params`` (G, 3).  Returns ``(best_index, depth, chi2)``
    with the closed-form depth and profiled chi-square at the best grid point.
    """
    s = _shape_columns(xbar, ebar, params)  # (G, Q)
    sys = sy @ s.T
    sss = s0 @ (s * s).T
    c = profile_chi2(sys, sss)
    g = jnp.argmin(c, axis=-1)
    pick = lambda a: jnp.take_along_axis(a, g[..., None], axis=-1)[..., 0]  # noqa: E731
    sys_b, sss_b = pick(sys), pick(sss)
    depth = jnp.where(sss_b > 0, jnp.maximum(sys_b, 0.0) / jnp.where(sss_b > 0, sss_b, 1.0), 0.0)
    return g, depth, pick(c)


def _to_unbounded(theta, lo, hi):
    """(T, r, tau) -> z with ``v = lo + (hi - lo) sin^2 z``.

    The start is kept 5% inside the box: at a bound ``dv/dz = 0``, so a start on (or very near)
    it could not move away from it.
    """
    f = jnp.clip((theta - lo) / (hi - lo), 0.05, 0.95)
    return jnp.arcsin(jnp.sqrt(f))


def _from_unbounded(z, lo, hi):
    return lo + (hi - lo) * jnp.sin(z) ** 2


def refine_adam(xbar, ebar, s0, sy, theta0, lo, hi, n_iter: int = 40, lr: float = 0.08):
    """Coarse gradient refinement of (T, r, tau) with optax Adam (Kingma & Ba 2015).

    Adam on the profiled chi-square in the sin^2 box coordinates, with the analytic gradient
    (:func:`profile_value_grad`) and a cosine-decayed step (``lr`` radians -> 1% of it), from
    ``theta0``; Adam's per-coordinate normalisation makes the step independent of the
    candidate's signal-to-noise.  The best point visited is returned (never worse than
    ``theta0``).  It only has to reach the right basin: the BFGS polish finishes the job.
    """
    lo = jnp.asarray(lo, dtype=jnp.float64)
    hi = jnp.asarray(hi, dtype=jnp.float64)
    opt = optax.adam(optax.cosine_decay_schedule(lr, max(n_iter, 1), alpha=0.01))
    z0 = _to_unbounded(theta0, lo, hi)
    f0 = profile_value_grad(theta0, xbar, ebar, s0, sy)[0]

    def body(_, carry):
        z, state, best, fbest = carry
        th = _from_unbounded(z, lo, hi)
        f, g, _ = profile_value_grad(th, xbar, ebar, s0, sy)
        better = jnp.isfinite(f) & (f < fbest)
        best = jnp.where(better, th, best)
        fbest = jnp.where(better, f, fbest)
        gz = jnp.where(jnp.isfinite(g), g, 0.0) * (hi - lo) * jnp.sin(2.0 * z)
        upd, state = opt.update(gz, state, z)
        return optax.apply_updates(z, upd), state, best, fbest

    z, _, best, fbest = jax.lax.fori_loop(0, n_iter, body, (z0, opt.init(z0), theta0, f0))
    th = _from_unbounded(z, lo, hi)
    f = profile_value_grad(th, xbar, ebar, s0, sy)[0]
    return jnp.where(jnp.isfinite(f) & (f < fbest), th, best)


def profile_value_grad(theta, xbar, ebar, s0, sy):
    """Profiled chi-square (minus ``sum w y^2``) and its analytic gradient in ``(T, r, tau)``.

    With ``depth = max(Sys/Sss, 0)``: ``chi2 = -depth Sys`` and
    ``dchi2/dtheta = -2 depth sum((sy - depth s0 s) ds/dtheta)`` (the depth's own derivative
    drops out at its optimum).  ``theta`` (..., 3), sums (..., Q), ``xbar``/``ebar`` (Q,).
    """
    t, r, tau = theta[..., 0:1], theta[..., 1:2], theta[..., 2:3]
    s, ds_dt, ds_df, ds_dx = trapezoid_shape_grad(xbar - tau, t, r * t, ebar)
    s_theta = jnp.stack([ds_dt + r * ds_df, t * ds_df, -ds_dx], axis=-2)  # (..., 3, Q)
    sss = jnp.sum(s0 * s * s, axis=-1)
    sys = jnp.sum(sy * s, axis=-1)
    ok = (sss > 0) & (sys > 0)
    depth = jnp.where(ok, sys / jnp.where(ok, sss, 1.0), 0.0)
    val = -depth * sys
    grad = -2.0 * depth[..., None] * jnp.einsum("...aq,...q->...a", s_theta, sy - depth[..., None] * s0 * s)
    return val, grad, depth


def profile_inverse_hessian(theta, xbar, ebar, s0, sy, step: float = 1e-4):
    """Inverse Hessian of the profiled chi-square at ``theta`` (central differences of the
    analytic gradient, symmetrised, eigenvalues floored at 1e-6 of the largest so it is
    positive definite).  Used as BFGS's initial inverse Hessian."""
    e = jnp.eye(3) * step
    gp = jax.vmap(lambda d: profile_value_grad(theta + d, xbar, ebar, s0, sy)[1])(e)
    gm = jax.vmap(lambda d: profile_value_grad(theta - d, xbar, ebar, s0, sy)[1])(e)
    h = (gp - gm) / (2.0 * step)
    h = 0.5 * (h + h.T)
    w, v = jnp.linalg.eigh(h)
    top = jnp.maximum(jnp.max(jnp.abs(w)), 1e-300)
    w = jnp.maximum(jnp.abs(w), 1e-6 * top)
    return (v / w) @ v.T


def bfgs_refine(theta0, xbar, ebar, s0, sy, hinv0, lo, hi, n_iter: int = 5, n_linesearch: int = 6):
    """Projected BFGS on the profiled chi-square for a batch of weight vectors.

    ``theta0`` (..., 3) starts, ``s0``/``sy`` (..., Q) per-resample sums, ``hinv0`` (3, 3) the
    initial inverse Hessian (the full-data one: resamples are small perturbations of the data,
    so their Hessians are close and BFGS converges in a few steps even where the trapezoid's
    kinks make Gauss-Newton curvature useless).  Backtracking (Armijo) line search with at most
    ``n_linesearch`` halvings (a vmapped ``while_loop``: usually one evaluation), steps clipped
    into ``[lo, hi]``, the BFGS update skipped when the curvature condition fails.
    Returns ``(theta, chi2, depth)``.
    """
    lo = jnp.asarray(lo, dtype=jnp.float64)
    hi = jnp.asarray(hi, dtype=jnp.float64)
    eye = jnp.eye(3)

    def value(th):
        return profile_value_grad(th, xbar, ebar, s0, sy)[0]

    def body(_, carry):
        th, f, g, hinv = carry
        d = -jnp.einsum("...ab,...b->...a", hinv, g)

        def cond(c):
            i, _, done, _, _ = c
            return (i < n_linesearch) & ~jnp.all(done)

        def ls(c):
            i, a, done, thn, fn = c
            cand = jnp.clip(th + a[..., None] * d, lo, hi)
            fc = value(cand)
            ok = (fc <= f + 1e-4 * jnp.sum(g * (cand - th), axis=-1)) & ~done
            return (
                i + 1,
                jnp.where(done | ok, a, 0.5 * a),
                done | ok,
                jnp.where(ok[..., None], cand, thn),
                jnp.where(ok, fc, fn),
            )

        init = (0, jnp.ones(f.shape), jnp.zeros(f.shape, bool), th, f)
        _, _, _, thn, fn = jax.lax.while_loop(cond, ls, init)
        _, gn, _ = profile_value_grad(thn, xbar, ebar, s0, sy)
        s = thn - th
        y = gn - g
        sy_ = jnp.sum(s * y, axis=-1)
        upd = sy_ > 1e-10 * jnp.sqrt(jnp.sum(s * s, axis=-1) * jnp.sum(y * y, axis=-1))
        rho = jnp.where(upd, 1.0 / jnp.where(upd, sy_, 1.0), 0.0)
        v = eye - rho[..., None, None] * s[..., :, None] * y[..., None, :]
        hn = (
            jnp.einsum("...ab,...bc,...dc->...ad", v, hinv, v)
            + rho[..., None, None] * s[..., :, None] * s[..., None, :]
        )
        return thn, fn, gn, jnp.where(upd[..., None, None], hn, hinv)

    th0 = jnp.clip(theta0, lo, hi)
    f0, g0, _ = profile_value_grad(th0, xbar, ebar, s0, sy)
    h0 = jnp.broadcast_to(hinv0, th0.shape[:-1] + (3, 3))
    th, f, _, _ = jax.lax.fori_loop(0, n_iter, body, (th0, f0, g0, h0))
    _, _, depth = profile_value_grad(th, xbar, ebar, s0, sy)
    return th, f, depth


def trapezoid_start(xbar, ebar, s0, sy, bounds: TrapezoidBounds = TrapezoidBounds(), *, n_adam=40):
    """Grid search and optax (Adam) gradient refinement of one candidate's fit points.

    Two starts are refined (vmapped) and the better kept: the best grid point, and the best
    grid point whose flat ratio differs from it by at least 0.3 (the other shape family, U vs
    V, so that a local minimum near a bound is not mistaken for the optimum).
    Returns ``(p, hinv)``: ``p = (depth, T/D, r, tau/D)`` and the inverse Hessian of the
    profiled chi-square in ``(T, r, tau)`` there (:func:`profile_inverse_hessian`).
    """
    lo, hi = bounds.lower(), bounds.upper()
    grid = jnp.asarray(bounds.full_grid())
    s = _shape_columns(xbar, ebar, grid)
    c = profile_chi2(sy @ s.T, s0 @ (s * s).T)
    g1 = jnp.argmin(c)
    far = jnp.abs(grid[:, 1] - grid[g1, 1]) >= 0.3
    g2 = jnp.argmin(jnp.where(far, c, jnp.inf))
    starts = grid[jnp.stack([g1, g2])]
    theta = jax.vmap(lambda t0: refine_adam(xbar, ebar, s0, sy, t0, lo[1:], hi[1:], n_iter=n_adam))(starts)
    val, _, depth = profile_value_grad(theta, xbar, ebar, s0, sy)
    k = jnp.argmin(jnp.where(jnp.isfinite(val), val, jnp.inf))
    best = theta[k]
    hinv = profile_inverse_hessian(best, xbar, ebar, s0, sy)
    return jnp.concatenate([depth[k][None], best]), hinv


def fit_trapezoid(xbar, ebar, s0, sy, bounds: TrapezoidBounds = TrapezoidBounds(), *, n_adam=40, n_polish=5):
    """Full-data fit of one candidate's fit points: grid -> optax Adam -> BFGS polish.

    :func:`trapezoid_start`, then :func:`bfgs_refine` from there with the inverse Hessian at
    the start (the V05 check runs this polish as row 0 of its bootstrap batch).  Returns
    ``(p, chi2, hinv)``: ``p = (depth, T/D, r, tau/D)``, chi2 minus ``sum w y^2``, and the
    inverse Hessian used.
    """
    lo, hi = bounds.lower(), bounds.upper()
    p0, hinv = trapezoid_start(xbar, ebar, s0, sy, bounds, n_adam=n_adam)
    th, chi2, depth = bfgs_refine(
        p0[None, 1:], xbar, ebar, s0[None], sy[None], hinv, lo[1:], hi[1:], n_iter=n_polish
    )
    return jnp.concatenate([depth[0][None], th[0]]), chi2[0], hinv


@partial(jax.jit, static_argnames=("bounds", "n_adam", "n_polish"))
def fit_trapezoid_batch(
    xbar, ebar, s0, sy, bounds: TrapezoidBounds = TrapezoidBounds(), n_adam=40, n_polish=5
):
    """:func:`fit_trapezoid` vmapped over a leading candidate axis (arrays (B, Q)).

    Returns ``(p, chi2, hinv)``."""
    return jax.vmap(lambda a, b, c, d: fit_trapezoid(a, b, c, d, bounds, n_adam=n_adam, n_polish=n_polish))(
        xbar, ebar, s0, sy
    )


def bootstrap_starts(xbar, ebar, s0, sy, p_hat, bounds: TrapezoidBounds):
    """Start points for a block of resamples: the better of each one's best (T, r) grid shape at
    the full-data mid-time and the full-data optimum ``p_hat``.  ``s0``/``sy`` (K, Q).
    Returns (K, 4) ``(depth, T, r, tau)``."""
    t_grid, r_grid = np.meshgrid(bounds.total_grid(), bounds.ratio_grid(), indexing="ij")
    base = np.stack([t_grid.ravel(), r_grid.ravel(), np.zeros(t_grid.size)], axis=-1)
    grid = jnp.asarray(base).at[:, 2].set(p_hat[3])
    grid = jnp.concatenate([grid, p_hat[None, 1:]], axis=0)  # last column: p_hat's shape
    g, depth, _ = grid_search(xbar, ebar, s0, sy, grid)
    return jnp.concatenate([depth[:, None], grid[g]], axis=-1)
