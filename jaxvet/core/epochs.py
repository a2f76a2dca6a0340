"""Shared per-epoch transit-depth kernel of V01 (odd/even depth) and V04 (depth stability).

For every candidate and every transit epoch at once, this module measures what the reference
(tess-vetter 0.3.20, ``check_odd_even_depth`` / ``check_depth_stability``; docs/checks.md)
measures one epoch at a time in Python loops:

* in-transit points of epoch ``k``: ``min(phi, 1 - phi) < 0.5 D/P`` with ``phi = ((t-t0)/P) mod 1``
  (strict) and ``floor((t - t0 + P/2)/P) == k``;
* a local out-of-transit baseline: points with ``|t - t_c| <= hw`` (inclusive), not in transit
  by the global formula, *not* restricted to the epoch; ``hw = 6 D`` (V04) or
  ``min(6 D, 0.45 P)`` (V01);
* ``depth_k = 1 - median(f_in)/median(f_oot)`` and
  ``sigma_k = robust_std(f_oot)/sqrt(n_in)/baseline`` (robust std = 1.4826 MAD,
  Rousseeuw & Croux 1993), inflated by the binned-residual red-noise factor ``beta >= 1``
  (Pont, Zucker & Queloz 2006, MNRAS 373, 231) with bins of ``D/2`` when ``n_oot >= 20``;
* a global-baseline fallback (all not-in-transit points of the light curve, >= 10 needed)
  when the local window holds fewer than 5 points;
* the epoch's transit coverage ``n_in / (D / cadence)`` (clipped to 1) with the cadence of its
  own window (:func:`window_cadence`), which V01 and V04 use to leave partial transits out of
  their own statistics (not out of the reference's).

For V01's OE_box statistic (Kunimoto et al. 2025, LEO-Vetter, arXiv:2509.10619) and V04's box chi-square the
kernel also returns per-epoch in-transit flux sums (box depths), the pieces of the pink-noise
model ``sigma = sqrt(sigma_w^2/n + sigma_r^2/N_tr)`` for both window variants (Pont et al. 2006;
residuals binned on the transit duration, Hartman & Bakos 2016; see
:func:`pink_noise_variances`) and phase-folded binned flux for plots.

How it runs
-----------
Epochs come from one host plan of every candidate, :func:`jaxvet.core.ephemeris.plan_windows` (epochs
planned where ``[t_c - D/2, t_c + D/2]`` meets a data segment, so every epoch that can hold
in-transit points is present and epochs with ``n_in < 5`` are skipped exactly like the
reference's loop over unique epochs, with each window's first point and length for half-width
``6 D``).  One window serves both checks (V01's capped window is a sub-range of it).  Candidates
are grouped by window bucket (and whether V01's cap is active), sorted by epoch count and processed
in sub-batches of ``rows x window <=`` :func:`epoch_budget` (the engine's element budget,
``$JAXVET_MAX_ELEMENTS``); the windows are
flattened to ``(candidate*epoch, W)`` rows of a fixed count per window bucket and gathered inside
the row kernel itself, so a run compiles one program per window bucket and variant (no per-chunk
planning or gather programs).  The global-baseline statistics (a sort of the
whole light curve) are computed only for the candidates that need the fallback.

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

import dataclasses
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.ephemeris import epoch_index, phase_distance_in_transit
from jaxvet.core.noise import pink_noise_variances, prefix_at, red_noise_edges, red_noise_from_pos
from jaxvet.core.order_stats import (
    MAD_TO_SIGMA,
    bisect,
    bisect_steps,
    from_order_key,
    mad_select_spec,
    masked_median,
    order_key,
    searchsorted_spec,
    sorted_median,
    take_rows,
)
from jaxvet.core.windows import gather_points, plan_windows
from jaxvet.data import CandidateBatch, LightCurveBatch, bucket_size
from jaxvet.engine.chunks import element_budget, prev_pow2

__all__ = [
    "WINDOW_MULT",
    "V01_MAX_PERIOD_FRACTION",
    "MIN_POINTS_IN_TRANSIT",
    "MIN_LOCAL_OOT",
    "MIN_GLOBAL_OOT",
    "MIN_OOT_RED_NOISE",
    "CADENCE_STEP_TOLERANCE",
    "RED_NOISE_WARN_BELOW",
    "PINK_SIDE_BINS",
    "FOLD_BINS",
    "FOLD_HALF_RANGE_DURATIONS",
    "epoch_budget",
    "window_cadence",
    "EpochTable",
    "VariantTable",
    "pink_noise_variances",
    "box_weights_ok",
    "epoch_box_depths",
    "parity_mad_outliers",
    "measure_epochs",
    "epoch_table_for_context",
]

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
        n = jnp.sum(sel, axis=1)
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
def _row_kernel(t, f, err, m, ep, tc, slot, P, t0, D, hw_full, hw_cap, *, w_in: int, with_cap: bool):
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
def _global_kernel(lcb: LightCurveBatch, lc_index, P, t0, D, *, nb_max: int):
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


# ----------------------------------------------------------------------------------------
# final per-epoch values (local or global baseline)
# ----------------------------------------------------------------------------------------
@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class VariantTable:
    """Per-epoch results for one baseline-window variant, (B, E) arrays in ascending epoch order.

    ``processed``: the reference counted the epoch (``n_in >= 5`` and a usable local or global
    baseline); ``ok``: processed and baseline > 0 (the epoch has a depth); ``used_global``:
    the global out-of-transit set was used; ``rn_warn``: V01's "insufficient OOT for red noise"
    condition (20 <= n_oot < 30 and the inflation estimate failed).

    ``local_ok``: the epoch has a depth from its *local* baseline; only such epochs carry the
    pink-noise pieces (sums over the local out-of-transit residuals ``r = f/b - 1``:
    ``pink_sum_r``, ``pink_sum_r2``, ``pink_n``; and over duration-wide bins of them:
    ``pink_sum_m``/``pink_sum_m2`` (bin means and their squares), ``pink_sum_invc`` (sum of
    1/count), ``pink_nbins``), zero elsewhere.
    """

    half_window: jax.Array  # (B,)
    n_oot: jax.Array
    used_global: jax.Array
    processed: jax.Array
    ok: jax.Array
    baseline: jax.Array
    depth: jax.Array
    sigma: jax.Array
    sigma_white: jax.Array
    inflation: jax.Array
    rn_applied: jax.Array
    rn_warn: jax.Array
    local_ok: jax.Array
    pink_sum_r: jax.Array
    pink_sum_r2: jax.Array
    pink_n: jax.Array
    pink_sum_m: jax.Array
    pink_sum_m2: jax.Array
    pink_sum_invc: jax.Array
    pink_nbins: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class EpochTable:
    """Per-candidate, per-epoch measurements shared by V01 and V04 ((B, E) device arrays).

    ``v01`` uses the capped window ``min(6D, 0.45P)``, ``v04`` the full ``6D`` window.  The
    in-transit sums (``sum_f_in`` = sum f, ``sum_fw_in`` = sum f/err^2, ``sum_w_in`` =
    sum 1/err^2, ``min_err_in``) give box depths with either variant's baselines; the folded
    profile uses the V01 window's *local* baselines.
    """

    guard: jax.Array  # (B,) D >= 0.5 P
    active: jax.Array  # (B,) valid and not guarded
    epoch: jax.Array  # (B, E) float64 integers
    slot: jax.Array  # (B, E) planned epoch
    center: jax.Array
    n_in: jax.Array
    cadence: jax.Array  # (B, E) local cadence of the epoch's window (days), NaN if unknown
    coverage: jax.Array  # (B, E) n_in / (D / cadence), clipped to 1; NaN without a cadence
    med_in: jax.Array
    sum_f_in: jax.Array
    sum_fw_in: jax.Array
    sum_w_in: jax.Array
    min_err_in: jax.Array
    fold_sum: jax.Array  # (B, 2, FOLD_BINS) [even, odd] sums of f/b - 1
    fold_cnt: jax.Array  # (B, 2, FOLD_BINS)
    fold_half_range: jax.Array  # (B,) days
    v01: VariantTable
    v04: VariantTable

    @property
    def n_epochs(self) -> int:
        return int(self.epoch.shape[1])


@jax.jit
def _finalize(loc, glob, n_in, med_in, slot, hw_full, hw_cap):
    n_in_ok = slot & (n_in >= MIN_POINTS_IN_TRANSIT)
    nin = jnp.maximum(n_in, 1).astype(jnp.float64)

    def make(prefix, hw):
        n_loc = loc[prefix + "_n"]
        use_g = n_in_ok & (n_loc < MIN_LOCAL_OOT)
        processed = n_in_ok & (~use_g | (glob["n"][:, None] >= MIN_GLOBAL_OOT))
        g = lambda k: jnp.broadcast_to(glob[k][:, None], n_loc.shape)  # noqa: E731
        base = jnp.where(use_g, g("b"), loc[prefix + "_b"])
        rstd = jnp.where(use_g, g("rstd"), loc[prefix + "_rstd"])
        n_oot = jnp.where(use_g, g("n"), n_loc)
        beta = jnp.where(use_g, g("beta"), loc[prefix + "_beta"])
        rnok = jnp.where(use_g, g("rnok"), loc[prefix + "_rnok"])
        ok = processed & (base > 0)
        safe_b = jnp.where(ok, base, 1.0)
        depth = jnp.where(ok, 1.0 - med_in / safe_b, jnp.nan)
        sigma_w = jnp.where(ok, rstd / jnp.sqrt(nin) / safe_b, jnp.nan)
        applied = ok & (n_oot >= MIN_OOT_RED_NOISE) & rnok
        sigma = jnp.where(applied, sigma_w * beta, sigma_w)
        rn_warn = ok & (n_oot >= MIN_OOT_RED_NOISE) & ~rnok & (n_oot < RED_NOISE_WARN_BELOW)
        local_ok = ok & ~use_g
        lz = lambda k: jnp.where(local_ok, loc[f"{prefix}_{k}"], 0)  # noqa: E731
        return VariantTable(
            half_window=hw,
            n_oot=jnp.where(processed, n_oot, 0),
            used_global=processed & use_g,
            processed=processed,
            ok=ok,
            baseline=jnp.where(processed, base, jnp.nan),
            depth=depth,
            sigma=sigma,
            sigma_white=sigma_w,
            inflation=jnp.where(applied, beta, 1.0),
            rn_applied=applied,
            rn_warn=rn_warn,
            local_ok=local_ok,
            pink_sum_r=lz("pink_sum_r"),
            pink_sum_r2=lz("pink_sum_r2"),
            pink_n=jnp.where(local_ok, n_loc, 0),
            pink_sum_m=lz("pink_sum_m"),
            pink_sum_m2=lz("pink_sum_m2"),
            pink_sum_invc=lz("pink_sum_invc"),
            pink_nbins=lz("pink_nbins"),
        )

    return make("cap", hw_cap), make("full", hw_full)


def box_weights_ok(tab: EpochTable, v: VariantTable):
    """(B,) True when every in-transit point of the variant's measured epochs has err > 0
    (box depths are then inverse-variance weighted, otherwise equally weighted)."""
    return jnp.all(~v.ok | (jnp.isfinite(tab.min_err_in) & (tab.min_err_in > 0)), axis=1)


def epoch_box_depths(tab: EpochTable, v: VariantTable):
    """Per-epoch box depth ``1 - mean(f_i/b_k)`` (weighted by ``(b_k/err_i)^2`` when
    :func:`box_weights_ok`), NaN where the variant has no depth."""
    base = jnp.where(v.ok, v.baseline, 1.0)
    n_in = jnp.maximum(tab.n_in, 1).astype(jnp.float64)
    uni = 1.0 - tab.sum_f_in / base / n_in
    sw = jnp.where(tab.sum_w_in > 0, tab.sum_w_in, 1.0)
    wtd = 1.0 - tab.sum_fw_in / (base * sw)
    d = jnp.where(box_weights_ok(tab, v)[:, None], wtd, uni)
    return jnp.where(v.ok, d, jnp.nan)


def parity_mad_outliers(d, sel, odd, k, *, min_n: int = 3):
    """(B, E) epochs whose depth ``d`` lies more than ``k`` robust standard deviations
    (``1.4826 MAD``) from the median of its own parity's selected epochs (V04's MAD rule, applied
    within each parity so that a real odd/even difference is not an outlier).  A parity needs
    ``min_n`` selected epochs and a positive MAD; ``k`` may be traced."""
    out = jnp.zeros(d.shape, bool)
    for s in (sel & odd, sel & ~odd):
        med = masked_median(d, s)
        dev = jnp.abs(d - med[:, None])
        scale = MAD_TO_SIGMA * masked_median(dev, s)
        enough = (jnp.sum(s, axis=1) >= min_n) & (scale > 0)
        out = out | (s & enough[:, None] & (dev > (k * scale)[:, None]))
    return out


# ----------------------------------------------------------------------------------------
# host orchestration
# ----------------------------------------------------------------------------------------
def _row_cadences(time: np.ndarray, n_valid: np.ndarray) -> np.ndarray:
    """Median positive cadence of each light-curve row (host; 1 d when undefined)."""
    med = np.ones(time.shape[0])
    for i in range(time.shape[0]):
        d = np.diff(time[i, : int(n_valid[i])])
        d = d[d > 0]
        if d.size:
            med[i] = float(np.median(d))
    return med


_PINK = ("pink_sum_r", "pink_sum_r2", "pink_sum_m", "pink_sum_m2", "pink_sum_invc", "pink_nbins")
_HOST_FIELDS_INT = ("n_in", "full_n", "cap_n", "full_pink_nbins", "cap_pink_nbins")
_HOST_FIELDS_BOOL = ("full_rnok", "cap_rnok")
_ROW_FIELDS = (
    "n_in", "cadence", "med_in", "sum_f_in", "sum_fw_in", "sum_w_in", "min_err_in",
    "full_n", "full_b", "full_rstd", "full_beta", "full_rnok",
    "cap_n", "cap_b", "cap_rstd", "cap_beta", "cap_rnok",
    *(f"{v}_{k}" for v in ("full", "cap") for k in _PINK),
)  # fmt: skip


def epoch_budget() -> int:
    """Rows x window elements of one per-epoch sub-batch: the engine's element budget
    (:func:`jaxvet.engine.chunks.element_budget`, ``$JAXVET_MAX_ELEMENTS``); on a CPU a quarter
    of it (the row kernel holds several window-sized intermediates, and cache-sized chunks are
    fastest there)."""
    return element_budget() // (4 if jax.default_backend() == "cpu" else 1)


@dataclass(frozen=True)
class _HostBatch:
    """The candidate parameters padded to the table's ``B`` rows (host numpy, (B,) each)."""

    B: int
    P: np.ndarray
    t0: np.ndarray
    D: np.ndarray
    lc_idx: np.ndarray
    guard: np.ndarray
    active: np.ndarray
    hw_full: np.ndarray
    hw_cap: np.ndarray

    @classmethod
    def of(cls, cb: CandidateBatch) -> _HostBatch:
        # the candidate axis is padded to a bucket (rows >= cb.size are inactive) so downstream
        # per-candidate reductions compile for few shapes; all host bookkeeping is numpy
        B = bucket_size(cb.size, 8)

        def padn(a, fill, dtype):
            a = np.asarray(a)
            return np.concatenate([a, np.full(B - cb.size, fill, a.dtype)]).astype(dtype)

        P, D = padn(cb.period, 1.0, np.float64), padn(cb.duration, 0.1, np.float64)
        guard = D >= 0.5 * P
        return cls(
            B=B,
            P=P,
            t0=padn(cb.t0, 0.0, np.float64),
            D=D,
            lc_idx=padn(cb.lc_index, 0, np.int64),
            guard=guard,
            active=padn(cb.valid, False, bool) & ~guard,
            hw_full=WINDOW_MULT * D,
            hw_cap=np.minimum(WINDOW_MULT * D, V01_MAX_PERIOD_FRACTION * P),
        )

    @property
    def plan_hw(self) -> np.ndarray:
        """The transit half-duration, padded by a hair so rounding never drops an epoch."""
        return self.D / 2 * (1 + 1e-9) + 1e-9


def _groups(lcb: LightCurveBatch, hb: _HostBatch):
    """Host upper bounds on epochs and window lengths, and the candidates grouped by
    ``(window bucket, V01 cap active)``; returns ``(groups, e_est)``."""
    lo, hi = np.asarray(lcb.seg_lo)[hb.lc_idx], np.asarray(lcb.seg_hi)[hb.lc_idx]
    real = lo <= hi
    phw, t0, P = hb.plan_hw[:, None], hb.t0[:, None], hb.P[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        k_lo = np.ceil((lo - phw - t0) / P)
        k_hi = np.floor((hi + phw - t0) / P)
    e_est = np.where(real, np.maximum(k_hi - k_lo + 1, 0), 0).sum(axis=1)
    dt_med = _row_cadences(np.asarray(lcb.time), np.asarray(lcb.n_valid))
    w_est = np.ceil(2 * hb.hw_full / dt_med[hb.lc_idx] * 1.02) + 2
    cap_on = hb.hw_cap < hb.hw_full
    groups: dict[tuple[int, bool], list[int]] = {}
    for b in np.nonzero(hb.active & (e_est > 0))[0]:
        groups.setdefault((bucket_size(int(w_est[b]), 16), bool(cap_on[b])), []).append(int(b))
    return groups, e_est


def _measure_chunks(lcb, cb, hb: _HostBatch, max_el: int):
    """Every group's candidates, sorted by epoch count, in chunks of ``rows x window <= max_el``
    (each chunk's epoch axis the bucket of its largest member: few shapes, little padding).

    One host plan of every candidate's epochs and window bounds (:func:`plan_windows`, B x E
    integers); the chunks gather their rows from it inside the row kernel.  Returns a list of
    ``(candidate indices, E, host dict of (b_sub, E, ...) arrays)``.
    """
    groups, e_est = _groups(lcb, hb)
    if not groups:
        return []
    n_pts = int(lcb.time.shape[1])
    cb_all = dataclasses.replace(cb.pad(hb.B), valid=jnp.asarray(hb.active))  # guarded: no epochs
    plan = plan_windows(lcb, cb_all, jnp.asarray(hb.hw_full), plan_half_width=jnp.asarray(hb.plan_hw))
    flat = (lcb.time.reshape(-1), lcb.flux.reshape(-1), lcb.flux_err.reshape(-1))
    chunks = []
    for (wb, cap), members in sorted(groups.items()):
        members = sorted(members, key=lambda i: (-e_est[i], i))
        s = 0
        while s < len(members):
            eb = bucket_size(int(e_est[members[s]]), 4)
            b_sub = prev_pow2(max(max_el // wb // eb, 1))
            idx = np.asarray(members[s : s + b_sub])
            chunks.append((idx, eb, _run_chunk(flat, n_pts, plan, idx, b_sub, eb, wb, cap, hb)))
            s += b_sub
    return chunks


def _scatter_chunks(chunks, B: int) -> dict:
    """The chunks' host rows placed into (B, E) tables, with the folded profile per parity."""
    e_max = bucket_size(max([c[1] for c in chunks], default=1), 4)
    tab = {}
    for k in _ROW_FIELDS:
        if k in _HOST_FIELDS_INT:
            tab[k] = np.zeros((B, e_max), np.int64)
        elif k in _HOST_FIELDS_BOOL:
            tab[k] = np.zeros((B, e_max), bool)
        else:
            tab[k] = np.full((B, e_max), np.nan)
    tab["epoch"] = np.zeros((B, e_max))
    tab["slot"] = np.zeros((B, e_max), bool)
    tab["center"] = np.full((B, e_max), np.nan)
    tab["fold_sum"] = np.zeros((B, 2, FOLD_BINS))
    tab["fold_cnt"] = np.zeros((B, 2, FOLD_BINS), np.int64)
    for idx, e, h in chunks:
        n = idx.size
        for k in (*_ROW_FIELDS, "epoch", "slot", "center"):
            tab[k][idx, :e] = h[k][:n]
        lok = h["slot"][:n] & (h["n_in"][:n] >= MIN_POINTS_IN_TRANSIT) & (h["cap_n"][:n] >= MIN_LOCAL_OOT)
        lok &= h["cap_b"][:n] > 0
        odd = np.mod(h["epoch"][:n], 2) == 1
        for par, sel in ((0, lok & ~odd), (1, lok & odd)):
            tab["fold_sum"][idx, par] = np.where(sel[..., None], h["fold_sum"][:n], 0.0).sum(axis=1)
            tab["fold_cnt"][idx, par] = np.where(sel[..., None], h["fold_cnt"][:n], 0).sum(axis=1)
    return tab


def measure_epochs(
    lcb: LightCurveBatch, cb: CandidateBatch, *, max_elements: int | None = None
) -> EpochTable:
    """Per-epoch depths, uncertainties and flags for every candidate of ``cb`` (both checks).

    Never raises for degenerate data: candidates with ``D >= 0.5 P`` (the reference's guard) or
    ``valid=False`` get no epochs; epochs without enough points are marked, not dropped.
    The table's candidate axis is ``bucket_size(cb.size, 8)`` long; rows beyond ``cb.size``
    are padding (inactive).  ``max_elements`` overrides :func:`epoch_budget`.
    """
    max_el = int(max_elements) if max_elements is not None else epoch_budget()
    hb = _HostBatch.of(cb)
    tab = _scatter_chunks(_measure_chunks(lcb, cb, hb, max_el), hb.B)
    # ---- global fallback for candidates whose local window is too sparse somewhere ----------
    need = (
        tab["slot"]
        & (tab["n_in"] >= MIN_POINTS_IN_TRANSIT)
        & ((tab["full_n"] < MIN_LOCAL_OOT) | (tab["cap_n"] < MIN_LOCAL_OOT))
    )
    glob = {k: np.full(hb.B, np.nan) for k in ("n", "b", "rstd", "beta")}
    glob["n"] = np.zeros(hb.B, np.int64)
    glob["rnok"] = np.zeros(hb.B, bool)
    need_c = np.nonzero(need.any(axis=1))[0]
    if need_c.size:
        _run_global(lcb, need_c, glob, hb, max_el)
    dev = {k: jnp.asarray(v) for k, v in tab.items()}
    v01, v04 = _finalize(
        {k: dev[k] for k in _ROW_FIELDS},
        {k: jnp.asarray(v) for k, v in glob.items()},
        dev["n_in"],
        dev["med_in"],
        dev["slot"],
        jnp.asarray(hb.hw_full),
        jnp.asarray(hb.hw_cap),
    )
    fold_hr = np.minimum(FOLD_HALF_RANGE_DURATIONS * hb.D, V01_MAX_PERIOD_FRACTION * hb.P)
    with np.errstate(invalid="ignore"):
        cov = np.minimum(1.0, tab["n_in"] * tab["cadence"] / hb.D[:, None])
    cov = np.where(tab["slot"] & (tab["n_in"] == 0), 0.0, cov)
    cov = np.where(tab["slot"], cov, np.nan)
    return EpochTable(
        guard=jnp.asarray(hb.guard),
        active=jnp.asarray(hb.active),
        **{
            k: dev[k]
            for k in ("epoch", "slot", "center", "n_in", "cadence", "med_in", "sum_f_in", "sum_fw_in")
        },
        coverage=jnp.asarray(cov),
        **{k: dev[k] for k in ("sum_w_in", "min_err_in", "fold_sum", "fold_cnt")},
        fold_half_range=jnp.asarray(fold_hr),
        v01=v01,
        v04=v04,
    )


@partial(jax.jit, static_argnames=("width", "w_in", "with_cap"))
def _gathered_row_kernel(
    time, flux, flux_err, flat_start, count, ep, slot, P, t0, D, hw_full, hw_cap, *, width, w_in, with_cap
):
    """Gather R windows straight from the flattened light-curve rows, then :func:`_row_kernel`.

    ``flat_start``/``count`` (R,) come from the host plan (:func:`jaxvet.core.ephemeris.plan_windows`),
    so the program's shape is ``(R, width)`` only: one compiled program per window bucket, not
    one per (chunk, epoch bucket).  Padding slots get the window centre as time, 0 as flux.
    """
    j = jnp.arange(width, dtype=jnp.int32)
    m = j[None, :] < count[:, None]
    tc = t0 + ep * P
    t, f, e = gather_points(time, flux, flux_err, flat_start[:, None] + j[None, :], m, tc[:, None])
    res = _row_kernel(t, f, e, m, ep, tc, slot, P, t0, D, hw_full, hw_cap, w_in=w_in, with_cap=with_cap)
    return res, tc


def _run_chunk(flat, n_pts, plan, idx, b_sub, eb, wb, cap, hb: _HostBatch):
    """One chunk of ``b_sub`` candidates x ``eb`` epoch slots as flat rows; returns the host
    arrays of the row kernel's outputs reshaped to ``(b_sub, eb, ...)``."""
    n = idx.size
    take = np.concatenate([idx, np.repeat(idx[:1], b_sub - n)])
    e_plan = plan.epoch.shape[1]
    ncol = min(eb, e_plan)

    def cols(a, fill, dtype):
        out = np.full((b_sub, eb), fill, dtype)
        out[:, :ncol] = a[take][:, :ncol]
        return out

    slot = cols(plan.valid, False, bool)
    slot[n:] = False
    epoch = cols(plan.epoch, 0.0, np.float64)
    count = np.where(slot, cols(plan.count, 0, np.int64), 0)
    start = cols(plan.start, 0, np.int64)
    flat_start = start + (hb.lc_idx[take] * n_pts)[:, None]
    w = bucket_size(int(count.max(initial=0)), wb)
    r = b_sub * eb
    # the in-transit block spans < D while the window spans 12 D: W/12 holds it for a regular
    # cadence (irregular sampling is caught by the overflow check below)
    w_in = min(w, bucket_size(w // 12 + 2, 16))
    rep = lambda a: jnp.asarray(np.repeat(a[take], eb))  # noqa: E731
    args = (
        *flat,
        jnp.asarray(flat_start.reshape(r).astype(np.int32)),
        jnp.asarray(count.reshape(r).astype(np.int32)),
        jnp.asarray(epoch.reshape(r)),
        jnp.asarray(slot.reshape(r)),
        *(rep(a) for a in (hb.P, hb.t0, hb.D, hb.hw_full, hb.hw_cap)),
    )
    res, tc = _gathered_row_kernel(*args, width=w, w_in=w_in, with_cap=cap)
    if bool(np.any(np.asarray(res["overflow"]))):  # duplicate time stamps: widen the block
        res, tc = _gathered_row_kernel(*args, width=w, w_in=w, with_cap=cap)
    host = {k: np.asarray(v).reshape((b_sub, eb) + v.shape[1:]) for k, v in res.items()}
    host["epoch"] = epoch
    host["slot"] = slot
    host["center"] = np.asarray(tc).reshape(b_sub, eb)
    return host


def _run_global(lcb, cands, glob, hb: _HostBatch, max_el: int):
    """Global-baseline statistics of the candidates ``cands`` into ``glob`` (host arrays)."""
    time = np.asarray(lcb.time)
    n_valid = np.asarray(lcb.n_valid)
    n_pts = time.shape[1]
    last = np.maximum(n_valid - 1, 0)
    spans = np.where(n_valid > 0, time[np.arange(time.shape[0]), last] - time[:, 0], 0.0)
    nb_need = np.floor(spans[hb.lc_idx[cands]] / (hb.D[cands] / 2)) + 2
    nb_max = bucket_size(int(np.max(nb_need)), 16)
    b_sub = prev_pow2(max(max_el // n_pts, 1))

    def pad(a, c):
        return jnp.asarray(np.concatenate([a[c], np.repeat(a[c[:1]], b_sub - c.size)]))

    for s in range(0, cands.size, b_sub):
        c = cands[s : s + b_sub]
        g = _global_kernel(
            lcb, pad(hb.lc_idx.astype(np.int32), c), pad(hb.P, c), pad(hb.t0, c), pad(hb.D, c), nb_max=nb_max
        )
        for k in ("n", "b", "rstd", "beta", "rnok"):
            glob[k][c] = np.asarray(g[k])[: c.size]


def epoch_table_for_context(ctx) -> EpochTable:
    """The :class:`EpochTable` of a :class:`~jaxvet.engine.context.VetContext`'s chunk, measured
    once per run and chunk (``ctx.cached("epoch_table", ...)``: V01 and V04 share it)."""
    return ctx.cached("epoch_table", lambda: measure_epochs(ctx.lcb, ctx.cb))
