"""Correlated-noise estimators: the binned-residual beta factor and the pink-noise model.

Two different statistics live here:

* **beta** (Pont, Zucker & Queloz 2006, MNRAS 373, 231, the "time-averaging" method): residuals
  binned in time; ``beta = max(1, std(bin means) / (sigma_1 / sqrt(<N per bin>)))`` with
  ``sigma_1`` the robust per-point scatter -- how much more the binned scatter is than white
  noise predicts.  The reference's binning rules: fail if n < 10, bin <= 0 or span < 2 bins;
  ``n_bins = max(3, int(span/bin))`` equal-width half-open bins over [tmin, tmax] (the point at
  tmax falls in no bin); keep bins with >= 3 points; fail if fewer than 3 remain.
  :func:`red_noise_edges` + :func:`red_noise_from_pos` compute it on time-ordered rows from bin
  positions and prefix sums (V01/V04's per-epoch kernel); :func:`red_noise_inflation` on an
  unordered 1-D set.  Both share :func:`beta_from_bins`.
* **pink noise** (Pont et al. 2006, eq. 1; residuals binned on the transit duration as in
  Hartman & Bakos 2016, A&C 17, 1): ``sigma^2 = sigma_w^2/n + sigma_r^2/N_tr`` with
  ``sigma_r^2 = max(0, var(bin means) - sigma_w^2 <1/c_j>)`` -- the white-noise part of the
  binned scatter removed (:func:`pink_noise_variances`).
* **transit-timescale excess** (:func:`epoch_excess_variance`): the same ``sigma_r^2`` measured
  directly on the timescale of the transit, from the scatter of the per-epoch depths about their
  group's mean beyond the white-noise expectation.  Pont et al. (2006) define ``sigma_r`` as the
  noise of a mean over the transit duration that does not average down; one transit's depth is
  such a mean, so ``var(d_k) = sigma_w^2 (1/n_k + ...) + sigma_r^2``.  Unlike the
  out-of-transit bins it sees what detrending did *inside* the transits: a flattened light curve
  is whitened out of transit (its binned ``sigma_r`` collapses to 0) while the interpolated
  in-transit baseline keeps the correlated error.
* **point-to-point scatter** (:func:`point_to_point_scatter`; Mullally et al. 2017, the Marshall
  vetter, as exovetter's ``estimate_scatter``): the differences of consecutive valid points,
  iteratively 5-sigma clipped (:func:`iterative_sigma_clip`, exovetter's ``sigmaClip``),
  ``1.4826 median(|d - mean(d)|)/sqrt(2)`` -- white noise per point, blind to red noise.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxvet.core.numerics import exact_div, linspace_edge
from jaxvet.core.order_stats import MAD_TO_SIGMA, masked_count, masked_median, robust_std, take_rows
from jaxvet.core.stats import masked_mean, masked_std

__all__ = [
    "red_noise_edges",
    "red_noise_from_pos",
    "beta_from_bins",
    "prefix_at",
    "red_noise_inflation",
    "pink_noise_variances",
    "epoch_excess_variance",
    "previous_valid",
    "iterative_sigma_clip",
    "point_to_point_scatter",
]


def red_noise_edges(t_min, t_max, n, bin_days, nb_max: int):
    """Bin edges of the reference's red-noise binning (``np.linspace`` over [tmin, tmax]).

    ``t_min``, ``t_max``, ``bin_days`` (days) and ``n`` (points) are (R,).
    Returns ``(edges (R, nb_max+1), n_bins, ok_pre)``; unused edges (and every edge of a row
    that fails the preconditions) are +inf.  Edges are bit-identical to
    ``np.linspace(t_min, t_max, n_bins + 1)`` under jit (:func:`jaxvet.core.numerics.linspace_edge`:
    true division for the step, no fused multiply-add), so a point on an edge falls in the same
    bin as in the reference.
    """
    span = t_max - t_min
    ok_pre = (n >= 10) & (bin_days > 0) & (span >= bin_days * 2)
    safe_bin = jnp.where(bin_days > 0, bin_days, 1.0)
    nb = jnp.maximum(3, jnp.floor(jnp.where(ok_pre, span / safe_bin, 3.0))).astype(jnp.int32)
    ok_pre = ok_pre & (nb <= nb_max)
    step = exact_div(span, nb.astype(span.dtype))
    i = jnp.arange(nb_max + 1, dtype=jnp.int32)[None, :]
    edge = linspace_edge(t_min[:, None], step[:, None], i, nb[:, None], t_max[:, None])
    edges = jnp.where(i <= nb[:, None], edge, jnp.inf)
    return jnp.where(ok_pre[:, None], edges, jnp.inf), nb, ok_pre


def beta_from_bins(cnt, sm, real, ok_pre, point_scatter):
    """Pont et al. beta from per-bin counts ``cnt`` and residual sums ``sm`` (R, K).

    ``real`` (R, K) marks the bins that exist; bins with >= 3 points are kept;
    ``beta = max(1, std(bin means)/(point_scatter/sqrt(mean count)))`` (ddof 0).
    Returns ``(beta, ok)``; ``(1, False)`` with fewer than 3 kept bins or zero scatter.
    """
    keep = real & (cnt >= 3)
    n_keep = jnp.sum(keep, axis=1)
    means = sm / jnp.where(keep, cnt, 1.0)
    kk = jnp.maximum(n_keep, 1)
    mu = jnp.sum(jnp.where(keep, means, 0.0), axis=1) / kk
    dev = jnp.where(keep, means - mu[:, None], 0.0)
    observed = jnp.sqrt(jnp.sum(dev * dev, axis=1) / kk)
    avg = jnp.sum(jnp.where(keep, cnt, 0.0), axis=1) / kk
    expected = point_scatter / jnp.sqrt(jnp.where(avg > 0, avg, 1.0))
    ok = ok_pre & (n_keep >= 3) & (expected > 0)
    beta = jnp.maximum(1.0, observed / jnp.where(expected > 0, expected, 1.0))
    return jnp.where(ok, beta, 1.0), ok, observed


def prefix_at(cs, pos):
    """Sum of the first ``pos`` entries of each row, from inclusive cumulative sums ``cs``."""
    return jnp.where(pos > 0, take_rows(cs, pos - 1), 0.0)


def red_noise_from_pos(pos, nb, ok_pre, cs_cnt, cs_res, point_scatter):
    """Beta of time-ordered rows given the positions ``pos`` (R, K+1) of the bin edges.

    ``cs_cnt``/``cs_res`` (R, W) are inclusive cumulative sums of the selection indicator and of
    the residuals in time order; bins are half-open position ranges.  Returns ``(beta, ok)``.
    """
    c_at = prefix_at(cs_cnt, pos)
    s_at = prefix_at(cs_res, pos)
    real = jnp.arange(pos.shape[1] - 1)[None, :] < nb[:, None]
    cnt, sm = c_at[:, 1:] - c_at[:, :-1], s_at[:, 1:] - s_at[:, :-1]
    beta, ok, _ = beta_from_bins(cnt, sm, real, ok_pre, point_scatter)
    return beta, ok


@partial(jax.jit, static_argnames=("max_bins",))
def red_noise_inflation(residuals, times, mask, bin_days, *, max_bins: int = 64):
    """Beta >= 1 of one unordered 1-D set (vmap for batches; see the module docstring).

    ``residuals``, ``times`` (days) and ``mask`` are (N,); ``max_bins`` is the static bin
    capacity -- more bins than that is treated as failure.  Returns ``(beta, success)``; beta
    is 1.0 on failure.
    """
    n = masked_count(mask)
    tmin = jnp.min(jnp.where(mask, times, jnp.inf))
    tmax = jnp.max(jnp.where(mask, times, -jnp.inf))
    bin_days = jnp.asarray(bin_days)[None]
    edges, nb, ok_pre = red_noise_edges(tmin[None], tmax[None], n[None], bin_days, max_bins)
    edges, nb, ok_pre = edges[0], nb[0], ok_pre[0]
    k = jnp.searchsorted(edges, jnp.where(mask, times, jnp.inf), side="right") - 1
    k = jnp.where(mask & (k >= 0) & (k < nb), k, max_bins)
    cnt = jax.ops.segment_sum(jnp.ones_like(residuals), k, num_segments=max_bins + 1)[:max_bins]
    sm = jax.ops.segment_sum(jnp.where(mask, residuals, 0.0), k, num_segments=max_bins + 1)[:max_bins]
    real = jnp.arange(max_bins) < nb
    beta, ok, observed = beta_from_bins(
        cnt[None], sm[None], real[None], ok_pre[None], robust_std(residuals, where=mask)[None]
    )
    ok = ok[0] & jnp.isfinite(observed[0])
    return jnp.where(ok, beta[0], 1.0), ok


def pink_noise_variances(v):
    """Per-candidate white and red noise variances (fractional flux units) of a per-epoch table.

    ``v`` holds (B, E) per-epoch sums over the local out-of-transit residuals ``r = f/b_k - 1``
    (``pink_sum_r``, ``pink_sum_r2``, ``pink_n``) and over their duration-wide bins
    (``pink_sum_m``/``pink_sum_m2``: bin means and their squares, ``pink_sum_invc``: sum of
    1/count, ``pink_nbins``), e.g. :class:`jaxvet.core.epochs.VariantTable`.
    ``sigma_w^2`` is the variance (ddof 0) of the residuals pooled over the epochs;
    ``sigma_r^2 = max(0, var(m_j) - sigma_w^2 <1/c_j>)`` (module docstring).  ``sigma_w^2`` is
    NaN with fewer than 2 residuals; ``sigma_r^2`` is 0 with fewer than 2 bins.
    """
    nr = jnp.sum(v.pink_n, axis=1).astype(jnp.float64)
    mean_r = jnp.sum(v.pink_sum_r, axis=1) / jnp.maximum(nr, 1.0)
    var_w = jnp.maximum(jnp.sum(v.pink_sum_r2, axis=1) / jnp.maximum(nr, 1.0) - mean_r**2, 0.0)
    var_w = jnp.where(nr >= 2, var_w, jnp.nan)
    nbins = jnp.sum(v.pink_nbins, axis=1).astype(jnp.float64)
    jj = jnp.maximum(nbins, 1.0)
    mean_m = jnp.sum(v.pink_sum_m, axis=1) / jj
    var_bins = jnp.maximum(jnp.sum(v.pink_sum_m2, axis=1) / jj - mean_m**2, 0.0)
    white_in_bins = var_w * jnp.sum(v.pink_sum_invc, axis=1) / jj
    var_r = jnp.where(nbins >= 2, jnp.maximum(var_bins - white_in_bins, 0.0), 0.0)
    return var_w, jnp.where(jnp.isnan(var_w), jnp.nan, var_r)


def epoch_excess_variance(d, var_white, sel, group, *, significance: float = 2.0):
    """Per-candidate excess variance of per-epoch depths over their white-noise expectation.

    ``d`` (B, E) per-epoch depths, ``var_white`` (B, E) their white-noise variances, ``sel``
    (B, E) the epochs used and ``group`` (B, E) a 0/1 label (e.g. parity): the deviations are
    taken about each group's own mean, so a real difference between the groups (what V01 tests)
    does not count as noise.  ``s^2 = sum (d - mean_g)^2 / (N - G)`` (pooled within-group
    variance, ``G`` = groups with epochs) and the result is the excess variance beyond
    ``significance`` standard deviations of its white-noise sampling error,
    ``max(0, s^2 - w (1 + significance sqrt(2/dof)))`` with ``w = mean(var_white)``
    (Vaughan et al. 2003, MNRAS 345, 1271, normalised excess variance and its error): white
    noise alone gives 0 in ~98% of cases, so a few transits do not inflate their own errors by
    chance.  Fractional flux^2; NaN with ``dof = N - G < 1``.
    """
    g1 = sel & (group == 1)
    g0 = sel & ~(group == 1)
    n1 = jnp.sum(g1, axis=1)
    n0 = jnp.sum(g0, axis=1)
    dz = jnp.where(sel, d, 0.0)
    m1 = jnp.sum(jnp.where(g1, dz, 0.0), axis=1) / jnp.maximum(n1, 1)
    m0 = jnp.sum(jnp.where(g0, dz, 0.0), axis=1) / jnp.maximum(n0, 1)
    dev = jnp.where(g1, dz - m1[:, None], jnp.where(g0, dz - m0[:, None], 0.0))
    n = n0 + n1
    dof = n - (n0 > 0).astype(n.dtype) - (n1 > 0).astype(n.dtype)
    s2 = jnp.sum(dev * dev, axis=1) / jnp.maximum(dof, 1)
    white = jnp.sum(jnp.where(sel, var_white, 0.0), axis=1) / jnp.maximum(n, 1)
    dof_f = jnp.maximum(dof, 1).astype(s2.dtype)
    excess = s2 - white * (1.0 + significance * jnp.sqrt(2.0 / dof_f))
    return jnp.where(dof >= 1, jnp.maximum(excess, 0.0), jnp.nan)


def previous_valid(mask):
    """Index of the previous ``mask`` entry along the last axis for every position (-1 where none)."""
    n = mask.shape[-1]
    idx = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), mask.shape)
    last = jax.lax.cummax(jnp.where(mask, idx, -1), axis=mask.ndim - 1)
    return jnp.concatenate([jnp.full(mask.shape[:-1] + (1,), -1, jnp.int32), last[..., :-1]], axis=-1)


def iterative_sigma_clip(y, mask, n_sigma, *, max_iter: int = 10000):
    """Outlier mask of exovetter's ``sigmaClip``: repeatedly flag the valid entries farther than
    ``n_sigma`` population standard deviations from the mean of the unflagged ones (flags only
    accumulate) until the number flagged stops changing or ``max_iter`` rounds.  Rows (leading
    axes) iterate independently; returns a bool array like ``y``."""

    def step(state):
        clip, n_old, it, done = state
        keep = mask & ~clip
        mean = masked_mean(y, keep)
        std = masked_std(y, keep)
        new = clip | (mask & (jnp.abs(y - mean[..., None]) > n_sigma * std[..., None]))
        n_new = jnp.sum(new, axis=-1, dtype=jnp.int32)
        clip = jnp.where(done[..., None], clip, new)
        return clip, n_new, it + 1, done | (n_new == n_old)

    lead = mask.shape[:-1]
    init = (jnp.zeros_like(mask), jnp.zeros(lead, jnp.int32), jnp.int32(0), jnp.zeros(lead, bool))
    clip, *_ = jax.lax.while_loop(lambda s: (s[2] < max_iter) & ~jnp.all(s[3]), step, init)
    return clip


def point_to_point_scatter(y, mask, n_sigma=5.0):
    """exovetter's ``estimate_scatter`` of the ``mask`` entries of each row, in array order:
    ``d`` = differences of consecutive valid entries, outliers removed with
    :func:`iterative_sigma_clip` (``n_sigma``), then ``1.4826 median(|d - mean(d)|) / sqrt(2)``.
    NaN with fewer than two valid entries."""
    prev = previous_valid(mask)
    has = mask & (prev >= 0)
    d = y - jnp.take_along_axis(y, jnp.maximum(prev, 0), axis=-1)
    keep = has & ~iterative_sigma_clip(d, has, n_sigma)
    mean = masked_mean(d, keep)
    mad = masked_median(jnp.abs(d - mean[..., None]), keep)
    return MAD_TO_SIGMA * mad / jnp.sqrt(2.0)
