"""Row kernels of the per-epoch table (:mod:`jaxvet.core.epochs`, V01 and V04).

:func:`row_kernel` measures R transit windows of W points at once (in-transit median and sums,
the local out-of-transit baselines of both window variants, red-noise and pink-noise pieces,
the folded profile); :func:`global_kernel` the global out-of-transit statistics of whole
light-curve rows.  Formulas and references: :mod:`jaxvet.core.epochs`.

Inside a row everything is a masked reduction: medians come from one sort of order-preserving
int64 keys of the out-of-transit flux (XLA sorts integers several times faster than floats on
CPU) plus one narrow sort of the in-transit block; the MADs are exact order statistics of
``|x - c|`` found by an O(log W) selection in the two monotone halves of the sorted run (no
second sort); binned sums are prefix sums evaluated at bin edges located by binary search
(deterministic, no scatter-add).  Values agree with the numpy reference to ~1e-12 relative
or better (tests/test_epochs.py against tests/oracles/per_epoch_oracle.py; bit-for-bit on the
reference's TOI-5807 outputs up to the last ulp).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.ephemeris import epoch_index, phase_distance_in_transit
from jaxvet.core.noise import prefix_at, red_noise_edges, red_noise_from_pos
from jaxvet.core.order_stats import (
    MAD_TO_SIGMA,
    bisect,
    bisect_steps,
    from_order_key,
    mad_select_spec,
    order_key,
    searchsorted_spec,
    sorted_median,
    take_rows,
)
from jaxvet.data import LightCurveBatch

#: local baseline half-window in transit durations (both checks)
WINDOW_MULT = 6.0
#: V01 caps its baseline half-window at this fraction of the period (V04 does not)
V01_MAX_PERIOD_FRACTION = 0.45
#: an epoch is measured only with at least this many in-transit points
MIN_POINTS_IN_TRANSIT = 5
#: local windows with fewer out-of-transit points fall back to the global baseline
MIN_LOCAL_OOT = 5
#: ... which itself needs this many points, else the epoch is skipped
MIN_GLOBAL_OOT = 10
#: red-noise inflation is attempted from this many out-of-transit points
MIN_OOT_RED_NOISE = 20
#: V01 warns about a failed red-noise estimate below this many points
RED_NOISE_WARN_BELOW = 30
#: pink-noise binning: bins of one duration centred on t_c + j D, |j| <= PINK_SIDE_BINS
PINK_SIDE_BINS = 6
#: bins of duration-wide residual means need at least this many points
PINK_MIN_BIN_POINTS = 3
#: phase-folded plot profile: bins over +-min(FOLD_HALF_RANGE_DURATIONS * D, 0.45 P)
FOLD_BINS = 64
FOLD_HALF_RANGE_DURATIONS = 3.0
#: the local cadence is an iterated mean of the time steps within this factor of the estimate
CADENCE_STEP_TOLERANCE = 1.5
#: red-noise bins of a local window: span <= 12 D, bin D/2 -> at most 24 bins
_LOCAL_RN_BINS = 32
_I64_MAX = np.iinfo(np.int64).max


def _oot_prepare(f, oot):
    """Sort ``f[oot]`` per row; median and the MAD-selection spec (see :func:`_oot_finish`).

    ``rstd`` is the reference's ``_robust_std(f_oot)`` = 1.4826 median|f - median(f)|;
    ``rstd_rn`` is ``_robust_std(f_oot - baseline)`` (the residuals' own median removed), as
    the red-noise routine computes it.  Both are 0 with fewer than 2 points.
    """
    n = jnp.sum(oot, axis=1, dtype=jnp.int32)
    xs = from_order_key(jnp.sort(jnp.where(oot, order_key(f), _I64_MAX), axis=1))
    b = sorted_median(xs, n)
    k = jnp.stack([(n - 1) // 2, n // 2], axis=-1)
    rk = take_rows(xs, k) - b[:, None]
    mr = 0.5 * (rk[:, 0] + rk[:, 1])
    center = jnp.stack([b, mr], axis=-1)
    shift = jnp.stack([jnp.zeros_like(b), b], axis=-1)
    spec, finish = mad_select_spec(xs, n, center, shift)
    return n, b, spec, finish


def _oot_finish(n, finish, i):
    mads = finish(i)
    rstd = jnp.where(n >= 2, mads[:, 0] * MAD_TO_SIGMA, 0.0)
    rstd_rn = jnp.where(n >= 2, mads[:, 1] * MAD_TO_SIGMA, 0.0)
    return rstd, rstd_rn


def window_cadence(t, m):
    """Typical time step of each row of time-ordered points ``t`` (R, W) where ``m`` (NaN when a
    row has no positive step).

    No sort: starting from the mean of all positive steps, three times the mean of the steps
    within ``[1/CADENCE_STEP_TOLERANCE, CADENCE_STEP_TOLERANCE]`` of the previous estimate (no
    lower bound the first time).  Data gaps (long steps) and near-duplicate time stamps (e.g. at
    a stitching seam) drop out; on a regular cadence the result is that cadence.
    """
    dt = t[:, 1:] - t[:, :-1]
    dv = m[:, 1:] & m[:, :-1] & (dt > 0)
    dtz = jnp.where(dv, dt, 0.0)

    def mean_of(sel):
        n = jnp.sum(sel, axis=1, dtype=jnp.int32)  # int32: XLA's int64 row sums are slow on CPU
        return jnp.where(n > 0, jnp.sum(jnp.where(sel, dtz, 0.0), axis=1) / jnp.maximum(n, 1), jnp.nan)

    c = mean_of(dv)
    lo = jnp.zeros_like(c)
    for _ in range(3):
        c_new = mean_of(dv & (dt >= lo[:, None]) & (dt <= CADENCE_STEP_TOLERANCE * c[:, None]))
        c = jnp.where(jnp.isfinite(c_new), c_new, c)
        lo = c / CADENCE_STEP_TOLERANCE
    return c


# ----------------------------------------------------------------------------------------
# the per-window row kernel
# ----------------------------------------------------------------------------------------
@partial(jax.jit, static_argnames=("w_in", "with_cap"))
def row_kernel(t, f, err, m, ep, tc, slot, P, t0, D, hw_full, hw_cap, *, w_in: int, with_cap: bool):
    """All per-epoch quantities for R windows (rows) of W points; parameters are (R,).

    Variant 0 is V04's full ``6D`` window, variant 1 (only when ``with_cap``) V01's capped one;
    both are processed in one stacked sort, one selection loop and one edge search.
    """
    R, W = t.shape
    n_iter = bisect_steps(W)
    col = lambda a: a[:, None]  # noqa: E731
    tt = jnp.where(m, t, jnp.inf)
    in_any = m & phase_distance_in_transit(t, col(t0), col(P), col(D))
    in_ep = in_any & (epoch_index(t, col(t0), col(P)) == col(ep)) & col(slot)
    n_in = jnp.sum(in_ep, axis=1, dtype=jnp.int32)

    # ---- in-transit block: contiguous in time, gathered into a narrow sub-window ----------
    i0 = jnp.argmax(in_ep, axis=1).astype(jnp.int32)
    sub = col(i0) + jnp.arange(w_in, dtype=jnp.int32)[None, :]
    sub_in = take_rows(in_ep, sub) & (sub < W)
    sub_f = take_rows(f, sub)
    sub_e = take_rows(err, sub)
    overflow = jnp.sum(sub_in, axis=1, dtype=jnp.int32) < n_in
    xs_in = from_order_key(jnp.sort(jnp.where(sub_in, order_key(sub_f), _I64_MAX), axis=1))
    med_in = sorted_median(xs_in, n_in)
    sum_f_in = jnp.sum(jnp.where(sub_in, sub_f, 0.0), axis=1)
    e_ok = sub_in & (sub_e > 0)
    inv_e2 = jnp.where(e_ok, 1.0 / jnp.where(e_ok, sub_e * sub_e, 1.0), 0.0)
    sum_fw_in = jnp.sum(inv_e2 * jnp.where(sub_in, sub_f, 0.0), axis=1)
    sum_w_in = jnp.sum(inv_e2, axis=1)
    min_err_in = jnp.min(jnp.where(sub_in, sub_e, jnp.inf), axis=1)

    # ---- local cadence: iterated mean of the consecutive time steps near the typical one ------
    cadence = window_cadence(t, m)

    # ---- local out-of-transit sets (stacked variants) ----------------------------------------
    base_oot = m & ~in_any & col(slot)
    hws = [hw_full, hw_cap] if with_cap else [hw_full]
    V = len(hws)
    oot = jnp.concatenate([base_oot & (t >= col(tc - hw)) & (t <= col(tc + hw)) for hw in hws])  # (V R, W)
    fv = jnp.tile(f, (V, 1))
    tv = jnp.tile(t, (V, 1))
    n_o, b_o, kth_spec, kth_finish = _oot_prepare(fv, oot)
    res = jnp.where(oot, fv - b_o[:, None], 0.0)
    tmin = jnp.min(jnp.where(oot, tv, jnp.inf), axis=1)
    tmax = jnp.max(jnp.where(oot, tv, -jnp.inf), axis=1)
    split = lambda a: a.reshape((V, R) + a.shape[1:])  # noqa: E731
    c = V - 1  # the V01 variant
    b_cap = split(b_o)[c]
    safe_bc = jnp.where(jnp.isfinite(b_cap) & (b_cap != 0), b_cap, 1.0)
    fold_val = jnp.where(m, (f - col(b_cap)) / col(safe_bc), 0.0)
    cs = jnp.cumsum(jnp.concatenate([oot.astype(f.dtype), res, fold_val]).reshape(2 * V + 1, R, W), axis=-1)
    cs_cnt, cs_res, cs_fold = cs[:V], cs[V : 2 * V], cs[2 * V]

    # ---- all bin edges of the row, located by one binary search --------------------------------
    rn_edges, rn_nb, rn_okpre = red_noise_edges(tmin, tmax, n_o, jnp.tile(D / 2, V), _LOCAL_RN_BINS)
    j = jnp.arange(-PINK_SIDE_BINS, PINK_SIDE_BINS + 2, dtype=jnp.float64)[None, :]
    pedges = col(tc) + (j - 0.5) * col(D)
    half = jnp.minimum(FOLD_HALF_RANGE_DURATIONS * D, V01_MAX_PERIOD_FRACTION * P)
    fi = jnp.arange(FOLD_BINS + 1, dtype=jnp.float64)[None, :]
    fedges = col(tc - half) + fi * col(2.0 * half / FOLD_BINS)
    n_rn = _LOCAL_RN_BINS + 1
    queries = jnp.concatenate(
        [rn_edges.reshape(V, R, n_rn).transpose(1, 0, 2).reshape(R, V * n_rn), pedges, fedges], 1
    )
    pos, kth_i = bisect([searchsorted_spec(tt, queries), kth_spec], n_iter)
    rstd_o, rstd_rn_o = _oot_finish(n_o, kth_finish, kth_i)
    rn_pos = pos[:, : V * n_rn].reshape(R, V, n_rn).transpose(1, 0, 2).reshape(V * R, n_rn)
    ppos = pos[:, V * n_rn : V * n_rn + pedges.shape[1]]
    fpos = pos[:, V * n_rn + pedges.shape[1] :]
    beta, rnok = red_noise_from_pos(
        rn_pos, rn_nb, rn_okpre, cs_cnt.reshape(V * R, W), cs_res.reshape(V * R, W), rstd_rn_o
    )

    # ---- pink-noise pieces per variant: pooled residual moments and duration-wide bins -------
    b_all = jnp.where(jnp.isfinite(b_o) & (b_o != 0), b_o, 1.0)  # (V R,)
    cs_cnt2, cs_res2 = cs_cnt.reshape(V * R, W), cs_res.reshape(V * R, W)
    sum_r = cs_res2[:, -1] / b_all
    sum_r2 = jnp.sum(res * res, axis=1) / (b_all * b_all)
    ppos_v = jnp.tile(ppos, (V, 1))
    pc = prefix_at(cs_cnt2, ppos_v)
    ps = prefix_at(cs_res2, ppos_v)
    pcnt = pc[:, 1:] - pc[:, :-1]
    psum = ps[:, 1:] - ps[:, :-1]
    centre = jnp.arange(-PINK_SIDE_BINS, PINK_SIDE_BINS + 1)[None, :] == 0
    pkeep = (pcnt >= PINK_MIN_BIN_POINTS) & ~centre
    pmean = jnp.where(pkeep, psum / jnp.where(pkeep, pcnt, 1.0) / b_all[:, None], 0.0)
    pink = dict(
        pink_sum_r=sum_r,
        pink_sum_r2=sum_r2,
        pink_sum_m=jnp.sum(pmean, axis=1),
        pink_sum_m2=jnp.sum(pmean * pmean, axis=1),
        pink_sum_invc=jnp.sum(jnp.where(pkeep, 1.0 / jnp.where(pkeep, pcnt, 1.0), 0.0), axis=1),
        pink_nbins=jnp.sum(pkeep, axis=1, dtype=jnp.int32),
    )

    # ---- phase-folded profile (V01 window baseline) ------------------------------------------
    fsum_at = prefix_at(cs_fold, fpos)

    out = dict(
        n_in=n_in,
        cadence=cadence,
        med_in=med_in,
        overflow=overflow,
        sum_f_in=sum_f_in,
        sum_fw_in=sum_fw_in,
        sum_w_in=sum_w_in,
        min_err_in=min_err_in,
        fold_sum=fsum_at[:, 1:] - fsum_at[:, :-1],
        fold_cnt=(fpos[:, 1:] - fpos[:, :-1]).astype(jnp.int32),
    )
    for name, v in (("full", 0), ("cap", c)):
        for k, arr in (
            ("n", n_o),
            ("b", b_o),
            ("rstd", rstd_o),
            ("beta", beta),
            ("rnok", rnok),
            *pink.items(),
        ):
            out[f"{name}_{k}"] = split(arr)[v]
    return out


@partial(jax.jit, static_argnames=("nb_max",))
def global_kernel(lcb: LightCurveBatch, lc_index, P, t0, D, *, nb_max: int):
    """Global out-of-transit statistics (all not-in-transit points of each candidate's row)."""
    t = lcb.time[lc_index]
    f = lcb.flux[lc_index]
    m = lcb.mask[lc_index]
    n_iter = bisect_steps(t.shape[1])
    col = lambda a: a[:, None]  # noqa: E731
    oot = m & ~phase_distance_in_transit(t, col(t0), col(P), col(D))
    n, b, kth_spec, kth_finish = _oot_prepare(f, oot)
    res = jnp.where(oot, f - col(b), 0.0)
    cs = jnp.cumsum(jnp.stack([oot.astype(f.dtype), res]), axis=-1)
    tmin = jnp.min(jnp.where(oot, t, jnp.inf), axis=1)
    tmax = jnp.max(jnp.where(oot, t, -jnp.inf), axis=1)
    tt = jnp.where(m, t, jnp.inf)
    edges, nb, ok_pre = red_noise_edges(tmin, tmax, n, D / 2, nb_max)
    pos, kth_i = bisect([searchsorted_spec(tt, edges), kth_spec], n_iter)
    rstd, rstd_rn = _oot_finish(n, kth_finish, kth_i)
    beta, ok = red_noise_from_pos(pos, nb, ok_pre, cs[0], cs[1], rstd_rn)
    return dict(n=n, b=b, rstd=rstd, beta=beta, rnok=ok)
