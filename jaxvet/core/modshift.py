"""ModShift signal-uniqueness kernels (V11b): a phase-binned MES series and its peaks.

The Kepler Robovetter's ModShift test (Coughlin et al. 2016, ApJS 224, 12, §4.3; Thompson et
al. 2018, ApJS 235, 38, §3.2.3) asks whether the transit is the only significant event in the
phase-folded light curve.  tess-vetter 0.3.20 (``validation/modshift_uniqueness.py``) measures it
with a multiple-event statistic (MES) evaluated on ``n_bins`` phase bins; these kernels compute
the same quantities for one candidate on a padded light curve (``jax.vmap`` them over the batch):

* ``qtran = D/P`` (0.49 when ``>= 0.5``); phase ``((t - t0) mod P)/P`` shifted to
  ``[-0.5, 0.5]``; in transit ``|phase| < qtran``;
* bin ``b`` (centre ``c_b`` of ``linspace(0, 1, n_bins + 1)``): the points within circular
  phase distance ``qtran/2`` of ``c_b``; depth ``zpt - weighted_mean(flux)`` with ``zpt`` the
  weighted mean of the out-of-transit flux, error ``1/sqrt(sum w)``, and the number of distinct
  transit epochs among them;
* every point takes its bin's values (bin ``floor(200 phase)``); MES = depth /
  ``sqrt(sigma_w^2/n_in + sigma_r^2/n_epochs)`` (white noise: weighted std of out-of-transit
  flux; red noise: std of the bin depths more than ``2 qtran`` from phase 0.5 and above
  ``2 qtran``, the reference's one-sided exclusion of the primary).

All arrays are ``(N,)`` per candidate with a validity mask; weights ``w = 1/err^2``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.numerics import exact_div, floor_mod, linspace_edge
from jaxvet.core.order_stats import masked_median
from jaxvet.core.scatter import lane_segment_min, lane_segment_sum, materialise

__all__ = [
    "weighted_mean",
    "weighted_std",
    "modshift_phase",
    "mes_series",
    "circular_distance",
    "signal_peaks",
    "fred_ratio",
    "false_alarm_thresholds",
    "epoch_metrics",
]


def weighted_mean(y, w, sel):
    """Inverse-variance weighted mean ``sum(w y)/sum(w)`` over ``sel`` (reductions on the last axis)."""
    return jnp.sum(jnp.where(sel, w * y, 0.0), axis=-1) / jnp.sum(jnp.where(sel, w, 0.0), axis=-1)


def weighted_std(y, w, sel):
    """The reference's weighted std: ``sqrt(sum w (y - m)^2 / ((n - 1) sum(w)/n))``; NaN if n < 2."""
    n = jnp.sum(sel, axis=-1).astype(jnp.float64)
    sw = jnp.sum(jnp.where(sel, w, 0.0), axis=-1)
    m = jnp.sum(jnp.where(sel, w * y, 0.0), axis=-1) / sw
    r = y - m[..., None]
    var = jnp.sum(jnp.where(sel, w * r * r, 0.0), axis=-1) / ((n - 1.0) * sw / n)
    return jnp.where(n >= 2, jnp.sqrt(var), jnp.nan)


def modshift_phase(t, period, t0):
    """``((t - t0) mod P)/P`` with values above 0.5 shifted down by one: ``[-0.5, 0.5]``."""
    ph = exact_div(floor_mod(t - t0, period), period)
    return jnp.where(ph > 0.5, ph - 1.0, ph)


def circular_distance(a, b):
    """``min(|a - b|, 1 - |a - b|)`` in phase units."""
    d = jnp.abs(a - b)
    return jnp.minimum(d, 1.0 - d)


def _window_ends(pp, valid, centers, half, step, n_bins: int):
    """Unwrapped bin-index range ``[lo, hi]`` of the bins whose window holds each point.

    Bin ``b`` holds a point when ``circular_distance(pp, centers[b]) < half`` (the reference's
    test, evaluated exactly).  For ``half < 0.25`` these bins are one circular run around the
    point's phase; ``lo``/``hi`` are first estimated from ``(pp -+ half)/step`` (off by at most
    one bin through rounding) and then settled with the exact test on the neighbouring bins.
    ``lo > hi`` when no bin holds the point; invalid points get an empty range.  The centre
    of bin ``j mod n_bins`` is recomputed per point as ``centers`` was built (arithmetic in
    registers instead of a gather; ``j`` is within one turn of ``[0, n_bins)``)."""

    def holds(j):
        b = jnp.where(j < 0, j + n_bins, jnp.where(j >= n_bins, j - n_bins, j))
        c = 0.5 * (linspace_edge(0.0, step, b, n_bins, 1.0) + linspace_edge(0.0, step, b + 1, n_bins, 1.0))
        return circular_distance(pp, c) < half

    hi = jnp.floor((pp + half) / step - 0.5).astype(jnp.int32)
    lo = jnp.ceil((pp - half) / step - 0.5).astype(jnp.int32)
    hi = jnp.where(holds(hi + 1), hi + 1, jnp.where(holds(hi), hi, hi - 1))
    lo = jnp.where(holds(lo - 1), lo - 1, jnp.where(holds(lo), lo, lo + 1))
    return jnp.where(valid, lo, 1), jnp.where(valid, hi, 0)


def _range_sums(lo, hi, vals, n_bins: int):
    """Per bin, the sums of each of ``vals`` (a tuple of (M,) arrays) over the rows whose
    unwrapped range ``[lo, hi]`` (M,) covers it (modulo ``n_bins``): a difference array over
    three periods of bins per value (the M end points scattered, a cumulative sum of
    3 n_bins + 1 entries, folded); float values in interleaved lanes
    (:mod:`jaxvet.core.scatter`).  Returns a tuple of ``(n_bins,)`` arrays."""
    ok = lo <= hi
    size = 3 * n_bins + 1
    i_lo = jnp.where(ok, jnp.clip(lo + n_bins, 0, 3 * n_bins), 3 * n_bins)
    i_hi = jnp.where(ok, jnp.clip(hi + 1 + n_bins, 0, 3 * n_bins), 3 * n_bins)
    out = []
    for v in vals:
        if jnp.issubdtype(v.dtype, jnp.integer):
            diff = jnp.zeros(size, v.dtype).at[i_lo].add(v).at[i_hi].add(-v)
        else:
            diff = lane_segment_sum(v, i_lo, size) - lane_segment_sum(v, i_hi, size)
        out.append(jnp.cumsum(diff)[: 3 * n_bins].reshape(3, n_bins).sum(axis=0))
    return tuple(out)


def mes_series(t, flux, w, valid, phase, period, t0, qtran, *, n_bins: int = 200):
    """Per-point MES, depth and depth-error series of the binned ModShift statistic.

    ``t``/``flux``/``w``/``valid``/``phase``: ``(N,)`` with valid points time-sorted and packed
    first; ``period``, ``t0`` (days) and ``qtran`` scalars.  Returns a dict of ``(N,)`` series
    ``mes``, ``dep``, ``err`` and scalars ``zpt``, ``n_in``, ``n_out``, ``sig_w``, ``sig_r``.

    The bin sums are accumulated per point over the run of bins whose window holds it
    (:func:`_window_ends`, :func:`_range_sums`), O(N) instead of O(N n_bins); the depth is
    summed as ``w (zpt - flux)``, the reference's ``zpt - weighted_mean(flux)`` without its
    cancellation.  The distinct epochs of a bin are counted as runs: in a time-sorted light
    curve the points of one epoch inside a bin's window are consecutive, so an epoch starts
    wherever the previous point is outside the window or more than half a period earlier.
    """
    in_tran = valid & (jnp.abs(phase) < qtran)
    out_tran = valid & ~(jnp.abs(phase) < qtran)
    n_in = jnp.sum(in_tran)
    n_out = jnp.sum(out_tran)
    zpt = weighted_mean(flux, w, out_tran)
    pp = jnp.where(phase < 0, phase + 1.0, phase)
    step = 1.0 / n_bins
    i = jnp.arange(n_bins + 1)
    edges = linspace_edge(0.0, step, i, n_bins, 1.0)
    centers = 0.5 * (edges[:-1] + edges[1:])  # (n_bins,)
    half = 0.5 * qtran
    u = exact_div(t - t0, period)
    # computed once into buffers (fused into each consumer they would be recomputed there)
    lo, hi = materialise(*_window_ends(pp, valid, centers, half, step, n_bins))
    # a point continues its predecessor's run in the bins both windows hold (same epoch):
    # the predecessor's range moved by whole turns next to this one, then intersected ((N-1,))
    turn = n_bins * jnp.floor((lo[:-1] - lo[1:] + n_bins // 2) * (1.0 / n_bins)).astype(jnp.int32)
    # two in-window points of one bin lie within qtran < 0.5 of each other (same epoch) or at
    # least 1 - qtran > 0.5 apart (different epochs): "same epoch" does not depend on the bin
    cont = ((u[1:] - u[:-1]) < 0.5) & valid[1:] & valid[:-1]
    both_lo = jnp.where(cont, jnp.maximum(lo[1:], lo[:-1] - turn), 1)
    both_hi = jnp.where(cont, jnp.minimum(hi[1:], hi[:-1] - turn), 0)
    ones = jnp.ones(lo.shape, jnp.int32)
    sw, swd, cnt = _range_sums(lo, hi, (w, w * (zpt - flux), ones), n_bins)
    (n_cont,) = _range_sums(both_lo, both_hi, (ones[1:],), n_bins)
    bin_nep = (cnt - n_cont).astype(jnp.float64)
    has = cnt >= 1
    bin_dep = jnp.where(has, swd / sw, jnp.nan)
    bin_err = jnp.where(has, 1.0 / jnp.sqrt(sw), jnp.nan)

    sig_w = weighted_std(flux, w, out_tran)
    vb = ~jnp.isnan(bin_dep)
    far = (jnp.abs(centers - 0.5) > 2 * qtran) & (jnp.abs(centers) > 2 * qtran) & vb
    n_far = jnp.sum(far)
    mean_far = jnp.sum(jnp.where(far, bin_dep, 0.0)) / n_far
    std_far = jnp.sqrt(jnp.sum(jnp.where(far, (bin_dep - mean_far) ** 2, 0.0)) / n_far)
    sig_r = jnp.where((jnp.sum(vb) > 2) & (n_far > 2), std_far, sig_w)
    # the series are functions of the point's bin: evaluated per bin, then read per point
    n_per = jnp.maximum(jnp.round(bin_nep), 1.0)
    combined = jnp.sqrt(sig_w**2 / n_in + sig_r**2 / n_per)
    bad = n_out < 3
    tables = [jnp.where(bad, jnp.nan, x) for x in (bin_dep / combined, bin_dep, bin_err)]
    bin_mes, bin_dep, bin_err = materialise(*tables)
    idx = jnp.clip(jnp.floor(pp * n_bins).astype(jnp.int32), 0, n_bins - 1)
    return {
        "mes": bin_mes[idx],
        "dep": bin_dep[idx],
        "err": bin_err[idx],
        "zpt": zpt,
        "n_in": n_in,
        "n_out": n_out,
        "sig_w": sig_w,
        "sig_r": sig_r,
    }


def _first_max(x, sel):
    """(max of ``x`` over ``sel``, index of its first occurrence, any(sel))."""
    xs = jnp.where(sel, x, -jnp.inf)
    m = jnp.max(xs)
    # argmax's first index as two plain reductions (XLA's CPU variadic argmax is not vectorised)
    k = jnp.min(jnp.where(xs == m, jnp.arange(xs.shape[-1]), xs.shape[-1] - 1))
    return m, k, jnp.any(sel)


def signal_peaks(mes, phase, valid, qtran):
    """Primary, secondary, tertiary and positive MES peaks over the points (the reference's rules).

    Primary: the largest finite MES with ``|phase| < qtran`` (first point on ties); secondary:
    the largest at least ``2 qtran`` (circular) from the primary, 0 at phase 0.5 if none;
    tertiary: ``>= 2 qtran`` from both, 0 if none; positive: the largest ``-MES`` at least
    ``3 qtran`` from both.  Without a primary everything is NaN (phases 0 and 0.5).
    Returns ``(sig_pri, sig_sec, sig_ter, sig_pos, phs_pri, phs_sec)``.
    """
    fin = valid & jnp.isfinite(mes)
    s_pri, k_pri, ok_pri = _first_max(mes, fin & (jnp.abs(phase) < qtran))
    phs_pri = jnp.where(ok_pri, phase[k_pri], 0.0)
    d_pri = circular_distance(phase, phs_pri)
    s_sec, k_sec, ok_sec = _first_max(mes, fin & (d_pri >= 2 * qtran))
    phs_sec = jnp.where(ok_pri & ok_sec, phase[k_sec], 0.5)
    s_sec = jnp.where(ok_sec, s_sec, 0.0)
    d_sec = circular_distance(phase, phs_sec)
    s_ter, _, ok_ter = _first_max(mes, fin & (d_pri >= 2 * qtran) & (d_sec >= 2 * qtran))
    s_ter = jnp.where(ok_ter, s_ter, 0.0)
    s_pos, _, ok_pos = _first_max(-mes, fin & (d_pri >= 3 * qtran) & (d_sec >= 3 * qtran))
    s_pos = jnp.where(ok_pos, s_pos, 0.0)
    nan = jnp.nan
    return (
        jnp.where(ok_pri, s_pri, nan),
        jnp.where(ok_pri, s_sec, nan),
        jnp.where(ok_pri, s_ter, nan),
        jnp.where(ok_pri, s_pos, nan),
        phs_pri,
        phs_sec,
    )


def fred_ratio(dep, err, flux, w, valid, phase, qtran, phs_pri, phs_sec, n_in):
    """``sqrt(n_in) * wstd(depth series) / wstd(flux)`` over the points at least ``2 qtran``
    from the primary and ``qtran`` from the secondary (NaN with fewer than 3, or no white noise)."""
    sel = (
        valid
        & ~(circular_distance(phase, phs_pri) < 2 * qtran)
        & ~(circular_distance(phase, phs_sec) < qtran)
        & jnp.isfinite(dep)
    )
    red = weighted_std(dep, 1.0 / (err * err), sel)
    white = weighted_std(flux, w, sel)
    fred = jnp.sqrt(n_in.astype(jnp.float64)) * red / white
    ok = (jnp.sum(sel) >= 3) & jnp.isfinite(white) & (white > 0)
    return jnp.where(ok, fred, jnp.nan)


def false_alarm_thresholds(qtran, n_tce):
    """``FA1 = sqrt(2) erfcinv(qtran * (1/n_tce))`` and ``FA2 = sqrt(2) erfcinv(qtran)``, both
    arguments clipped to ``[1e-15, 2 - 1e-15]`` (Thompson et al. 2018, eq. 6-7);
    ``sqrt(2) erfcinv(x) = -ndtri(x/2)``."""
    a1 = jnp.clip(qtran * (1.0 / n_tce), 1e-15, 2.0 - 1e-15)
    a2 = jnp.clip(qtran, 1e-15, 2.0 - 1e-15)
    return -jax.scipy.special.ndtri(a1 / 2.0), -jax.scipy.special.ndtri(a2 / 2.0)


def _epoch_ids(t, valid, period, t0, n_epochs: int):
    """Epoch ``round((t - t0)/P)`` of each point as a segment id from the first valid one."""
    k = jnp.round(exact_div(t - t0, period))
    k0 = jnp.min(jnp.where(valid, k, jnp.inf))
    seg = jnp.where(valid, k - k0, n_epochs).astype(jnp.int32)
    present = jnp.zeros(n_epochs, jnp.int32).at[seg].add(1, mode="drop") > 0
    return seg, present


def epoch_metrics(t, flux, err, w, valid, phase, period, t0, qtran, sig_pri, frac, *, n_epochs: int):
    """``n_transits``, median CHASES and CHI of the reference (one candidate, ``(N,)`` inputs).

    Epochs are ``round((t - t0)/P)`` (``n_epochs`` static slots from the first valid epoch);
    ``zpt`` is the weighted mean of the flux with ``|phase| > qtran`` and ``ses = (zpt - f)/err``.
    CHASES (Thompson et al. 2018, §3.2.3) per epoch with in-transit points: 1 when its mean
    in-transit SES is not positive or no point with ``qtran < |phase| < 0.1`` of the same epoch
    has ``|ses| > frac * SES``, else the nearest such point's distance over ``0.1 P``; the median
    over epochs (NaN with fewer than 3 epochs).  CHI: ``sig_pri / sqrt(chi2/(n - 1))`` with
    ``chi2 = sum (SES_k - e)^2/|e|``, ``e = sig_pri/sqrt(n_transits)``, over epochs with at
    least 2 in-transit points (NaN below 3 such epochs).
    """
    seg, present = _epoch_ids(t, valid, period, t0, n_epochs)
    n_tr = jnp.sum(present)
    aph = jnp.abs(phase)
    out = valid & (aph > qtran)
    zpt = weighted_mean(flux, w, out)
    ses = (zpt - flux) / err
    inn = valid & (aph < qtran)

    def ssum(x, sel):
        return lane_segment_sum(jnp.where(sel, x, 0.0), seg, n_epochs)

    n_in = ssum(jnp.ones_like(t), inn)
    tt = ssum(t, inn) / n_in
    ts = ssum(ses, inn) / n_in
    near = valid & (aph > qtran) & (aph < 0.1)
    sig = near & (jnp.abs(ses) > frac * ts[jnp.minimum(seg, n_epochs - 1)])
    dist = jnp.abs(t - tt[jnp.minimum(seg, n_epochs - 1)])
    mind = lane_segment_min(jnp.where(sig, dist, jnp.inf), seg, n_epochs)
    chase = jnp.where(
        ~jnp.isfinite(ts) | (ts <= 0), 1.0, jnp.where(jnp.isfinite(mind), mind / (0.1 * period), 1.0)
    )
    has = n_in > 0

    n_out = jnp.sum(out)
    base_ok = (jnp.sum(valid) >= 10) & (n_tr >= 3) & (n_out >= 3)
    med = jnp.where(base_ok & jnp.any(has), masked_median(chase, has), jnp.nan)

    sw = ssum(w, inn)
    depth = zpt - ssum(w * flux, inn) / sw
    derr = 1.0 / jnp.sqrt(sw)
    obs = depth / derr
    exp = sig_pri / jnp.sqrt(n_tr.astype(jnp.float64))
    keep = (n_in >= 2) & (derr > 0) & jnp.isfinite(derr) & jnp.isfinite(obs) & jnp.isfinite(exp) & (exp > 0)
    n_keep = jnp.sum(keep)
    chi2 = jnp.sum(jnp.where(keep, (obs - exp) ** 2 / jnp.abs(exp), 0.0))
    chi = sig_pri / jnp.sqrt(chi2 / (n_keep - 1.0))
    chi_ok = (n_tr >= 3) & (n_out >= 3) & (n_keep >= 3) & (chi2 > 0)
    return n_tr, med, jnp.where(chi_ok, chi, jnp.nan)
