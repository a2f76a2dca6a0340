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
Epochs come from one device plan of every candidate, :func:`jaxvet.core.windows.plan_windows_on_device`
(epochs planned where ``[t_c - D/2, t_c + D/2]`` meets a data segment, so every epoch that can hold
in-transit points is present and epochs with ``n_in < 5`` are skipped exactly like the
reference's loop over unique epochs, with each window's first point and length for half-width
``6 D``; the epoch axis is bounded on the host from the data segments).  One window serves both
checks (V01's capped window is a sub-range of it).  Candidates are grouped by window bucket (the
cadence estimate of ``12 D``, and whether V01's cap is active), sorted by epoch count and processed
in sub-batches of ``rows x window <=`` :func:`epoch_budget` (the engine's element budget,
``$JAXVET_MAX_ELEMENTS``); the windows are flattened to ``(candidate*epoch, W)`` rows of a fixed
count per window bucket and gathered inside the row kernel itself, so a run compiles one program
per window bucket and variant.  Every sub-batch is dispatched before the host waits, once, for
all their rows (a sub-batch whose windows or in-transit blocks were cut is re-run wider).  The
global-baseline statistics (a sort of the whole light curve) are computed only for the
candidates that need the fallback, and stay on the device.  In a run, the table is measured once
per run segment (:func:`epoch_table_for_context`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.epoch_rows import (
    CADENCE_STEP_TOLERANCE,
    FOLD_BINS,
    FOLD_HALF_RANGE_DURATIONS,
    MIN_GLOBAL_OOT,
    MIN_LOCAL_OOT,
    MIN_OOT_RED_NOISE,
    MIN_POINTS_IN_TRANSIT,
    PINK_SIDE_BINS,
    RED_NOISE_WARN_BELOW,
    V01_MAX_PERIOD_FRACTION,
    WINDOW_MULT,
    global_kernel,
    row_kernel,
    window_cadence,
)
from jaxvet.core.noise import pink_noise_variances
from jaxvet.core.order_stats import MAD_TO_SIGMA, masked_median
from jaxvet.core.windows import gather_points, plan_windows_on_device
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


@dataclass(frozen=True)
class LightCurveHost:
    """What the host planning reads of a :class:`LightCurveBatch` (one device-to-host copy,
    shared by every chunk of a run: :func:`epoch_table_for_context` caches it per run)."""

    seg_lo: np.ndarray  # (L, G) data segments
    seg_hi: np.ndarray
    cadence: np.ndarray  # (L,) median positive cadence (1 d when undefined)
    span: np.ndarray  # (L,) last valid minus first time (0 for an empty row)

    @classmethod
    def of(cls, lcb: LightCurveBatch) -> LightCurveHost:
        seg_lo, seg_hi, time, n_valid = jax.device_get((lcb.seg_lo, lcb.seg_hi, lcb.time, lcb.n_valid))
        last = np.maximum(n_valid - 1, 0)
        span = np.where(n_valid > 0, time[np.arange(time.shape[0]), last] - time[:, 0], 0.0)
        return cls(np.asarray(seg_lo), np.asarray(seg_hi), _row_cadences(time, n_valid), span)


def _groups(lch: LightCurveHost, hb: _HostBatch):
    """Host upper bounds on epochs and window lengths, and the candidates grouped by
    ``(window bucket, V01 cap active)``; returns ``(groups, e_est)``."""
    lo, hi = lch.seg_lo[hb.lc_idx], lch.seg_hi[hb.lc_idx]
    real = lo <= hi
    phw, t0, P = hb.plan_hw[:, None], hb.t0[:, None], hb.P[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        k_lo = np.ceil((lo - phw - t0) / P)
        k_hi = np.floor((hi + phw - t0) / P)
    e_est = np.where(real, np.maximum(k_hi - k_lo + 1, 0), 0).sum(axis=1)
    w_est = np.ceil(2 * hb.hw_full / lch.cadence[hb.lc_idx] * 1.02) + 2
    cap_on = hb.hw_cap < hb.hw_full
    members = np.nonzero(hb.active & (e_est > 0))[0]
    w = np.maximum(np.nan_to_num(w_est[members], nan=16.0, posinf=16.0), 16).astype(np.int64)
    bucket = np.left_shift(1, np.frexp((w - 1).astype(np.float64))[1]).astype(np.int64)  # bucket_size(w, 16)
    key = bucket * 2 + cap_on[members]
    uniq, first = np.unique(key, return_index=True)
    groups: dict[tuple[int, bool], list[int]] = {}
    for k in uniq[np.argsort(first)]:  # one entry per group, in order of first member
        groups[(int(k) // 2, bool(k % 2))] = members[key == k].tolist()
    return groups, e_est


def _measure_chunks(lcb, cb, hb: _HostBatch, max_el: int, lch: LightCurveHost):
    """Every group's candidates, sorted by epoch count, in chunks of ``rows x window <= max_el``
    (each chunk's epoch axis the bucket of its largest member: few shapes, little padding).

    One device plan of every candidate's epochs and window bounds
    (:func:`plan_windows_on_device`, B x E integers, E from the host's segment bound); the
    chunks take their columns from it and gather their rows inside the row kernel, with the
    window width of their bucket (the cadence estimate).  Every chunk is dispatched before the
    host waits; their rows come back in one device-to-host copy.  Only a chunk whose windows
    turned out longer than its bucket (irregular sampling) or whose in-transit block overflowed
    (duplicate time stamps) is run again, wider, and fetched once more.  Returns a list of
    ``(candidate indices, E, host dict of (b_sub, E, ...) arrays)``.
    """
    groups, e_est = _groups(lch, hb)
    if not groups:
        return []
    n_pts = int(lcb.time.shape[1])
    cb_all = dataclasses.replace(cb.pad(hb.B), valid=jnp.asarray(hb.active))  # guarded: no epochs
    e_plan = bucket_size(max(int(e_est[m]) for ms in groups.values() for m in ms), 4)
    plan = plan_windows_on_device(
        lcb, cb_all, jnp.asarray(hb.hw_full), plan_half_width=jnp.asarray(hb.plan_hw), max_epochs=e_plan
    )
    flat = (lcb.time.reshape(-1), lcb.flux.reshape(-1), lcb.flux_err.reshape(-1))
    chunks = []
    for (wb, cap), members in sorted(groups.items()):
        members = sorted(members, key=lambda i: (-e_est[i], i))
        s = 0
        while s < len(members):
            eb = bucket_size(int(e_est[members[s]]), 4)
            b_sub = prev_pow2(max(max_el // wb // eb, 1))
            idx = np.asarray(members[s : s + b_sub])
            chunks.append(_RowChunk.dispatch(flat, n_pts, plan, idx, b_sub, eb, wb, cap, hb))
            s += b_sub
    rows = jax.device_get([c.rows for c in chunks])  # the one copy of every chunk's rows
    while True:  # rare: windows longer than the bucket, then an overflowed in-transit block
        redo = {k: c.retry(rows[k]) for k, c in enumerate(chunks)}
        redo = {k: c for k, c in redo.items() if c is not None}
        if not redo:
            break
        for (k, c), r in zip(redo.items(), jax.device_get([c.rows for c in redo.values()]), strict=True):
            chunks[k], rows[k] = c, r
    return [(c.idx, c.eb, c.host(r)) for c, r in zip(chunks, rows, strict=True)]


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
    lcb: LightCurveBatch,
    cb: CandidateBatch,
    *,
    max_elements: int | None = None,
    lc_host: LightCurveHost | None = None,
) -> EpochTable:
    """Per-epoch depths, uncertainties and flags for every candidate of ``cb`` (both checks).

    Never raises for degenerate data: candidates with ``D >= 0.5 P`` (the reference's guard) or
    ``valid=False`` get no epochs; epochs without enough points are marked, not dropped.
    The table's candidate axis is ``bucket_size(cb.size, 8)`` long; rows beyond ``cb.size``
    are padding (inactive).  ``max_elements`` overrides :func:`epoch_budget`; ``lc_host`` is
    ``LightCurveHost.of(lcb)`` when the caller already has it.  The host waits once, for every
    chunk's rows together (a second time only for the rare chunks re-run wider): the window
    plan and the global-baseline fallback stay on the device.
    """
    max_el = int(max_elements) if max_elements is not None else epoch_budget()
    hb = _HostBatch.of(cb)
    lch = LightCurveHost.of(lcb) if lc_host is None else lc_host
    tab = _scatter_chunks(_measure_chunks(lcb, cb, hb, max_el, lch), hb.B)
    # ---- global fallback for candidates whose local window is too sparse somewhere ----------
    need = (
        tab["slot"]
        & (tab["n_in"] >= MIN_POINTS_IN_TRANSIT)
        & ((tab["full_n"] < MIN_LOCAL_OOT) | (tab["cap_n"] < MIN_LOCAL_OOT))
    )
    glob = _run_global(lcb, np.nonzero(need.any(axis=1))[0], hb, max_el, lch)
    dev = {k: jnp.asarray(v) for k, v in tab.items()}
    v01, v04 = _finalize(
        {k: dev[k] for k in _ROW_FIELDS},
        glob,
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
def _gathered_rows(
    time, flux, flux_err, flat_start, count, ep, slot, P, t0, D, hw_full, hw_cap, *, width, w_in, with_cap
):
    """Gather R windows straight from the flattened light-curve rows, then :func:`row_kernel`.

    ``flat_start``/``count`` (R,) come from the plan (:func:`_chunk_columns`), so the program's
    shape is ``(R, width)`` only: one compiled program per window bucket, not one per (chunk,
    epoch bucket).  Padding slots get the window centre as time, 0 as flux.  Returns the row
    kernel's outputs, the window centres, the epochs and slots, and the largest window count
    (a window longer than ``width`` is cut: the caller re-runs wider).
    """
    j = jnp.arange(width, dtype=jnp.int32)
    m = j[None, :] < count[:, None]
    tc = t0 + ep * P
    t, f, e = gather_points(time, flux, flux_err, flat_start[:, None] + j[None, :], m, tc[:, None])
    res = row_kernel(t, f, e, m, ep, tc, slot, P, t0, D, hw_full, hw_cap, w_in=w_in, with_cap=with_cap)
    return res, tc, ep, slot, jnp.max(count, initial=0)


@partial(jax.jit, static_argnames=("eb",))
def _chunk_columns(epoch, valid, start, count, take, n, lc_off, *, eb: int):
    """The row kernel's (R = b_sub x eb,) columns of plan rows ``take`` (b_sub,), the first ``n``
    real: window start in the flattened light curve (``lc_off`` (b_sub,) is the row's offset),
    point count (0 off a slot), epoch (0 beyond the plan's E) and slot (a real epoch)."""
    e_plan = epoch.shape[1]
    c = jnp.arange(eb)
    col_ok = (c < e_plan)[None, :]
    cc = jnp.minimum(c, e_plan - 1)

    def cols(a):
        return a[take][:, cc]

    slot = col_ok & (jnp.arange(take.shape[0]) < n)[:, None] & cols(valid)
    ep = jnp.where(col_ok, cols(epoch), 0.0)
    cnt = jnp.where(slot, cols(count), 0).astype(jnp.int32)
    fs = (jnp.where(col_ok, cols(start), 0) + lc_off[:, None]).astype(jnp.int32)
    return fs.reshape(-1), cnt.reshape(-1), ep.reshape(-1), slot.reshape(-1)


@dataclass
class _RowChunk:
    """One dispatched chunk of ``b_sub`` candidates x ``eb`` epoch slots as flat rows."""

    idx: np.ndarray  # (n,) the candidates (table rows) it measures
    eb: int
    b_sub: int
    args: tuple  # the row kernel's arguments (kept for a wider re-run)
    width: int
    w_in: int
    cap: bool
    rows: tuple  # (row kernel outputs, centres, epochs, slots, largest count) on the device

    @staticmethod
    def in_transit_width(width: int) -> int:
        """The in-transit block: it spans < D while the window spans 12 D, so W/12 holds it for a
        regular cadence (irregular sampling is caught by the overflow check, :meth:`retry`)."""
        return min(width, bucket_size(width // 12 + 2, 16))

    @classmethod
    def dispatch(cls, flat, n_pts, plan, idx, b_sub, eb, wb, cap, hb: _HostBatch) -> _RowChunk:
        n = idx.size
        take = np.concatenate([idx, np.repeat(idx[:1], b_sub - n)])
        cols = _chunk_columns(
            *plan, jnp.asarray(take), n, jnp.asarray((hb.lc_idx[take] * n_pts).astype(np.int32)), eb=eb
        )
        rep = lambda a: jnp.asarray(np.repeat(a[take], eb))  # noqa: E731
        args = (*flat, *cols, *(rep(a) for a in (hb.P, hb.t0, hb.D, hb.hw_full, hb.hw_cap)))
        return cls(idx, eb, b_sub, args, wb, cls.in_transit_width(wb), cap, ()).run()

    def run(self) -> _RowChunk:
        rows = _gathered_rows(*self.args, width=self.width, w_in=self.w_in, with_cap=self.cap)
        return dataclasses.replace(self, rows=rows)

    def retry(self, rows) -> _RowChunk | None:
        """The chunk dispatched again, wider, when its fetched ``rows`` were cut: a window longer
        than the width (then the width of its longest window), else an in-transit block wider
        than ``w_in`` (then as wide as the window); None when they are complete."""
        res, max_count = rows[0], int(rows[4])
        if max_count > self.width:
            w = bucket_size(max_count, self.width)
            return dataclasses.replace(self, width=w, w_in=self.in_transit_width(w)).run()
        if self.w_in < self.width and np.any(res["overflow"]):
            return dataclasses.replace(self, w_in=self.width).run()
        return None

    def host(self, rows) -> dict:
        """The fetched rows reshaped to ``(b_sub, eb, ...)``, with the plan's epoch and slot."""
        res, tc, ep, slot, _ = rows
        shape = (self.b_sub, self.eb)
        host = {k: np.asarray(v).reshape(shape + v.shape[1:]) for k, v in res.items()}
        host["epoch"] = np.asarray(ep).reshape(shape)
        host["slot"] = np.asarray(slot).reshape(shape)
        host["center"] = np.asarray(tc).reshape(shape)
        return host


def _run_global(lcb, cands: np.ndarray, hb: _HostBatch, max_el: int, lch: LightCurveHost) -> dict:
    """Global-baseline statistics of the candidates ``cands``, scattered into (B,) device arrays
    (NaN, 0 or False for the other candidates): every sub-batch dispatched, nothing waited for."""
    B = hb.B
    glob = {k: jnp.full(B, jnp.nan) for k in ("b", "rstd", "beta")}
    glob["n"] = jnp.zeros(B, jnp.int64)
    glob["rnok"] = jnp.zeros(B, bool)
    if cands.size == 0:
        return glob
    n_pts = int(lcb.time.shape[1])
    nb_need = np.floor(lch.span[hb.lc_idx[cands]] / (hb.D[cands] / 2)) + 2
    nb_max = bucket_size(int(np.max(nb_need)), 16)
    b_sub = prev_pow2(max(max_el // n_pts, 1))

    def pad(a, c):
        return jnp.asarray(np.concatenate([a[c], np.repeat(a[c[:1]], b_sub - c.size)]))

    for s in range(0, cands.size, b_sub):
        c = cands[s : s + b_sub]
        g = global_kernel(
            lcb, pad(hb.lc_idx.astype(np.int32), c), pad(hb.P, c), pad(hb.t0, c), pad(hb.D, c), nb_max=nb_max
        )
        at = jnp.asarray(c)
        glob = {k: v.at[at].set(g[k][: c.size].astype(v.dtype)) for k, v in glob.items()}
    return glob


@partial(jax.jit, static_argnames=("rows",))
def _table_rows(tab: EpochTable, start, *, rows: int) -> EpochTable:
    """Rows ``start .. start + rows`` of every (B, ...) array of a table (``start`` traced)."""
    return jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, start, rows, axis=0), tab)


def epoch_table_for_context(ctx) -> EpochTable:
    """The :class:`EpochTable` of a :class:`~jaxvet.engine.context.VetContext`'s chunk.

    Measured once per run segment (:meth:`~jaxvet.engine.context.VetContext.segment_cached`:
    one :func:`measure_epochs` of every candidate of the segment, so the host waits once per
    segment, not per chunk; V01 and V04 share it), and cut to the chunk's
    ``bucket_size(ctx.cb.size, 8)`` rows on the device.
    """

    def make(cb):
        lch = ctx.cached("epoch_lightcurve_host", lambda: LightCurveHost.of(ctx.lcb), per_chunk=False)
        return measure_epochs(ctx.lcb, cb, lc_host=lch)

    tab, start = ctx.segment_cached("epoch_table", make)
    rows = bucket_size(ctx.cb.size, 8)
    if start == 0 and tab.guard.shape[0] == rows:
        return tab
    return _table_rows(tab, jnp.int32(start), rows=rows)
