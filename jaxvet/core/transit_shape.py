"""Transit-shape kernels of V05: trapezoid fit, tess-vetter's grid search, bootstrap, gates.

Pure jitted functions of padded arrays (float64); the V05 check
(:mod:`jaxvet.checks.v05_transit_shape`) plans the chunks and formats the results.  Units: times
in days (BTJD), phases in orbital periods, ``u`` in catalogue durations D, depths as fractions
of the baseline median flux, output durations in hours.

References:
    [1] Seager & Mallen-Ornelas 2003, ApJ 585, 1038 (2003ApJ...585.1038S), sections 2-3:
        the trapezoid parameters T (first-fourth contact), F (second-third contact), tF/tT.
    [2] Kipping 2010, MNRAS 408, 1758: integrating the model over the exposure time.
    [3] Thompson et al. 2018, ApJS 235, 38 (2018ApJS..235...38T), section 3.1: the DR25 Robovetter's
        V-shape ("Not Transit-Like") metric.
    [4] Efron 1979, Ann. Stat. 7, 1; Hanley & MacGibbon 2006, Comput. Methods Programs Biomed.
        83, 57 (the Poisson bootstrap).
    [5] tess-vetter 0.3.20 ``check_v_shape`` (docs/checks.md, V05): the grid method, data
        selection, legacy metrics and confidence model.

A candidate's work has two stages: the per-point stage (:func:`points_stage`: phase, coverage,
sampling counts, baseline normalisation, the legacy bottom/edge medians and the binning into
``n_groups x n_fit_bins`` fit bins) and the fit stage (:func:`fit_stage`: fit, bootstrap,
percentiles, model curves, gates, verdict).  For the default ``trapezoid_fit`` with the binned
bootstrap the fit reads the bins only, so each chunk runs two jitted programs
(:func:`kernel_points`, compiled per padded width, then :func:`kernel_fit`, whose shapes do not
depend on the width: compiled once), which saves most of the XLA compile time of a run with
many widths.  The grid method and the point bootstraps (``"poisson"``, ``"multinomial"``), whose
fit reads the points, run both stages in one program (:func:`kernel`).  The fit stage maps over
fixed blocks of :data:`FIT_BATCH` (8) candidates: XLA's code, and so the last bits of a fit, can
depend on the vector width, which an ill-conditioned bootstrap fit of a noise-only candidate may
amplify, so the width never depends on the run.  Bootstrap resamples run in blocks of
``boot_block``.

The baseline median needs the large set ``1.5h < |phase| < 0.25``: each light curve's flux is
sorted once (:func:`jaxvet.core.order_stats.sort_by_value`), and for a candidate the baseline
members are counted along the sorted order (a prefix sum of the membership mask), so the
median's order statistics are found by a binary search -- no per-candidate sort
(:func:`baseline_stats`).  Divisions that must match numpy bit for bit use
:func:`jaxvet.core.numerics.exact_div` (XLA turns ``x / scalar`` into ``x * (1/scalar)``).

The static configuration ``st`` (a dict; ``st_items`` its sorted items) holds ``method``,
``n_boot``, ``boot_block``, ``kind`` (bootstrap), ``ci``, ``n_bins``, ``n_groups``, ``bounds``
(:class:`jaxvet.core.fit.TrapezoidBounds`), ``n_adam``, ``n_bfgs``, ``plot``; the traced
thresholds (``thr``) are merged into it inside the kernels.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxvet.core.ephemeris import gather_packed
from jaxvet.core.fit import (
    bfgs_refine,
    bin_fit_points,
    binned_bootstrap_tables,
    binned_poisson_sums,
    bootstrap_starts,
    bootstrap_weights,
    percentile_halfwidth,
    reference_grid_bootstrap,
    reference_grid_search,
    resample_sums,
    trapezoid_start,
)
from jaxvet.core.models import reference_trapezoid_shape, trapezoid_shape
from jaxvet.core.numerics import exact_div, numpy_linspace
from jaxvet.core.stats import MAD_TO_SIGMA, masked_median
from jaxvet.results import VERDICT_CODES

__all__ = [
    "FIT_BATCH",
    "N_MODEL",
    "WARNING_BITS",
    "BOUND_BITS",
    "bound_bits",
    "baseline_stats",
    "fit_stage",
    "kernel",
    "kernel_fit",
    "kernel_points",
    "packed_points",
    "phase",
    "points_stage",
    "split_stages",
]

#: warning codes -> bit in the ``warnings`` array
WARNING_BITS = {
    "insufficient_sampling": 1,
    "low_snr": 2,
    "duration_uncertain": 4,
    "low_sampling": 8,
    "fit_at_bound": 16,
}
#: bits of ``fit_bound_bits``: the fitted parameter that sits on its box bound (trapezoid_fit)
BOUND_BITS = {"t_total_max": 1, "t_total_min": 2, "tmid_offset": 4}
#: a parameter within this fraction of its bound counts as "at the bound"
BOUND_RTOL = 1e-3


def bound_bits(tt, tau, bounds):
    """:data:`BOUND_BITS` of a fit: T (catalogue durations) at ``t_max`` or ``t_min``, the
    mid-time offset at ``+-tau_max``.  The flat ratio r in [0, 1] and depth >= 0 are physical
    limits (a V or a box, no transit), not truncations, and are not flagged."""
    hi, lo, tm = bounds.t_hi, bounds.t_min, bounds.tau_max
    return (
        jnp.where(tt >= hi * (1.0 - BOUND_RTOL), BOUND_BITS["t_total_max"], 0)
        | jnp.where(tt <= lo * (1.0 + BOUND_RTOL), BOUND_BITS["t_total_min"], 0)
        | jnp.where(jnp.abs(tau) >= tm * (1.0 - BOUND_RTOL), BOUND_BITS["tmid_offset"], 0)
    ).astype(jnp.int32)


#: maximum number of bins of the reference's plot profile
N_PLOT_BINS = 50
#: points of the model curves (and of the bootstrap band)
N_MODEL = 100
#: fewest baseline points for a measurement
MIN_BASELINE = 10


def phase(t, t0, period):
    """The reference's V05 phase ``((t - t0)/P + 0.5) mod 1 - 0.5`` with IEEE division."""
    return jnp.mod(exact_div(t - t0, period) + 0.5, 1.0) - 0.5


# -- baseline and window gathering -----------------------------------------------------------


def _baseline_one(stime, sflux, n_valid, t0, period, h):
    """Median, robust sigma and count of ``1.5h < |phase| < 0.25`` over one presorted row."""
    n = stime.shape[0]
    ph = jnp.abs(phase(stime, t0, period))
    member = (ph > h * 1.5) & (ph < 0.25) & (jnp.arange(n) < n_valid)
    c = jnp.cumsum(member.astype(jnp.int32))
    cnt = c[-1]

    def kth(k):
        pos = jnp.searchsorted(c, k + 1, side="left")
        return sflux[jnp.clip(pos, 0, n - 1)]

    med = jnp.where(cnt > 0, 0.5 * (kth((cnt - 1) // 2) + kth(cnt // 2)), jnp.nan)
    # robust sigma from the 15.87% / 84.13% order statistics
    nm1 = (cnt - 1).astype(jnp.float64)
    lo_k = jnp.round(0.15865525393145707 * nm1).astype(jnp.int32)
    hi_k = jnp.round(0.8413447460685429 * nm1).astype(jnp.int32)
    sig = jnp.where(cnt > 1, 0.5 * (kth(hi_k) - kth(lo_k)), 0.0)
    return med, sig, cnt


@partial(jax.jit, static_argnames=("batch",))
def baseline_stats(stime, sflux, n_valid, lc_index, t0, period, h, *, batch: int):
    """Per candidate (B,): baseline median, robust sigma and count over ``1.5h < |phase| < 0.25``
    of its light curve's flux-sorted row ``lc_index``
    (:func:`~jaxvet.core.order_stats.sort_by_value`; ``h = D/(2P)``), ``batch`` at a time."""

    def one(args):
        li, a, p, hh = args
        return _baseline_one(stime[li], sflux[li], n_valid[li], a, p, hh)

    return jax.lax.map(one, (lc_index, t0, period, h), batch_size=batch)


@partial(jax.jit, static_argnames=("width",))
def packed_points(lcb, sub, epoch, start, count, exp_tab, grp_tab, *, width: int):
    """Each candidate's window points packed in time order into one row (B, width).

    :func:`jaxvet.core.ephemeris.gather_packed` finds every slot's epoch by a binary search over
    the windows' cumulative counts and gathers straight from the light curve (no B x E x W
    intermediate, no scatter).  Padding slots hold a finite time (an epoch centre), flux and
    error 0, mask False.  Also gathers each point's exposure and exposure group through its
    sector.
    """
    pw = gather_packed(lcb, sub, epoch, start, count, width=width)
    # flat gathers: indexing the (B, N) rows ``sector_index[lc_index]`` first would build them
    li = sub.lc_index[:, None]
    sidx = lcb.sector_index.reshape(-1)[li * lcb.sector_index.shape[1] + pw.index]
    slot = li * exp_tab.shape[1] + sidx
    return {
        "t": pw.time,
        "f": pw.flux,
        "fe": pw.flux_err,
        "m": pw.mask,
        "exp": exp_tab.reshape(-1)[slot],
        "grp": grp_tab.reshape(-1)[slot],
    }


# -- the per-candidate kernel -----------------------------------------------------------------


def _binned_medians(bins, vals, valid, n_slots):
    """Per-bin median, robust std (1.4826 MAD, 0 below 2 points) and count (numpy medians)."""
    kb = jnp.where(valid, bins, n_slots).astype(jnp.int32)
    sk, sv = jax.lax.sort((kb, jnp.where(valid, vals, 0.0)), num_keys=2)
    cnt = jax.ops.segment_sum(jnp.ones_like(vals), kb, num_segments=n_slots + 1)[:n_slots].astype(jnp.int32)
    start = jnp.cumsum(cnt) - cnt
    n = vals.shape[0]

    def mid(sorted_vals):
        lo = sorted_vals[jnp.clip(start + (cnt - 1) // 2, 0, n - 1)]
        hi = sorted_vals[jnp.clip(start + cnt // 2, 0, n - 1)]
        return jnp.where(cnt > 0, 0.5 * (lo + hi), jnp.nan)

    med = mid(sv)
    dev = jnp.abs(vals - jnp.where(kb < n_slots, med[jnp.clip(kb, 0, n_slots - 1)], 0.0))
    _, sd = jax.lax.sort((kb, jnp.where(valid, dev, 0.0)), num_keys=2)
    rstd = jnp.where(cnt >= 2, MAD_TO_SIGMA * mid(sd), 0.0)
    return med, rstd, cnt


def _plot_profile(ph, fn, sel, n_sel, half):
    """The reference's binned profile: min(50, max(10, n//5)) bins over [-half, half]."""
    nb = jnp.minimum(N_PLOT_BINS, jnp.maximum(10, n_sel // 5))
    edges = numpy_linspace(-half, half, nb, N_PLOT_BINS)
    k = jnp.searchsorted(edges, ph, side="right", method="compare_all") - 1
    ok = sel & (k >= 0) & (k < nb)
    med, rstd, cnt = _binned_medians(k, fn, ok, N_PLOT_BINS)
    centre = (edges[:-1] + edges[1:]) / 2
    err = jnp.where(cnt > 1, rstd / jnp.sqrt(jnp.maximum(cnt, 1).astype(jnp.float64)), 0.01)
    return centre, med, err, cnt


def _fit_bin_profile(xbar, s0, sy, cnt, n_bins, t_ph):
    """Plot profile from the fit bins (trapezoid_fit): pairs of adjacent phase bins merged over
    the exposure groups, weighted mean flux ``1 - sum(w y)/sum(w)`` and its error
    ``1/sqrt(sum w)`` (weights are inverse variances), at the weighted mean phase."""
    g = xbar.shape[0] // n_bins
    half = n_bins // 2

    def fold(v):
        return v.reshape(g, half, 2).sum(axis=(0, 2))

    w = fold(s0)
    ok = w > 0
    ws = jnp.where(ok, w, 1.0)
    centre = jnp.where(ok, fold(s0 * xbar) / ws, fold(jnp.where(cnt > 0, 0.0, xbar)) / (2 * g)) * t_ph
    flux = jnp.where(ok, 1.0 - fold(sy) / ws, jnp.nan)
    err = jnp.where(ok, 1.0 / jnp.sqrt(ws), jnp.nan)
    return centre, flux, err, fold(cnt).astype(jnp.int32)


def _confidence(n_in, coverage, has_warn):
    base = jnp.where(n_in < 10, 0.2, jnp.where(n_in < 30, 0.5, jnp.where(n_in < 100, 0.7, 0.85)))
    base = jnp.where(
        coverage >= 0.8, jnp.minimum(0.95, base * 1.1), jnp.where(coverage < 0.6, base * 0.8, base)
    )
    base = jnp.where(has_warn, base * 0.9, base)
    return jnp.minimum(0.95, base)


def split_stages(st) -> bool:
    """Whether V05 runs as two programs (per-point stage, then fit): the default path, whose
    fit reads only the phase bins (``trapezoid_fit`` with the ``binned`` bootstrap)."""
    return st["method"] == "trapezoid_fit" and st["kind"] == "binned"


def points_stage(c, st):
    """Stage 1 of one candidate: everything that reads its R gathered points.

    Returns ``(p, pts)``: ``p`` holds per-candidate scalars (sampling counts, coverage,
    status, the legacy point medians) and, for ``trapezoid_fit``, the ``n_groups * n_bins``
    fit-bin arrays -- no array of width R -- so that :func:`fit_stage` on ``p`` compiles
    independently of R; ``pts`` holds the per-point arrays that the grid method and the
    point-reweighting bootstraps need inside the fit (empty on the :func:`split_stages` path).
    """
    t, f, m = c["t"], c["f"], c["m"]
    period, t0, dur = c["P"], c["t0"], c["D"]
    base_med, n_base = c["base_med"], c["n_base"]
    cand_ok = c["ok"]
    t_ph = dur / period
    h = t_ph / 2
    ph = phase(t, t0, period)
    a = jnp.abs(ph)
    fit_ref = m & (a < h * 1.2)
    n_in = jnp.sum(fit_ref, dtype=jnp.int32)
    # coverage: 20 half-open bins over [-h, h] (edges as np.linspace computes them)
    edges = numpy_linspace(-h, h, 20, 20)
    kc = jnp.searchsorted(edges, ph, side="right", method="compare_all") - 1
    inb = m & (kc >= 0) & (kc < 20)
    occ = jax.ops.segment_sum(inb.astype(jnp.int32), jnp.where(inb, kc, 20), num_segments=21)[:20]
    coverage = jnp.sum(occ > 0).astype(jnp.float64) / 20.0
    sampling_bad = (
        (n_in < st["min_points_in_transit"])
        | (n_base < MIN_BASELINE)
        | (coverage < st["min_transit_coverage"])
    )
    status = jnp.where(~cand_ok, 2, jnp.where(sampling_bad, 1, 0)).astype(jnp.int32)
    base_safe = jnp.where(jnp.isfinite(base_med) & (base_med != 0), base_med, 1.0)
    fn = exact_div(f, base_safe)
    y = 1.0 - fn
    # legacy shape metrics on the raw flux (the fallbacks to the fitted depth: :func:`_gates`)
    ing = m & (ph > -h) & (ph < -h / 2)
    bot = m & (ph > -h / 4) & (ph < h / 4)
    egr = m & (ph > h / 2) & (ph < h)
    edge = ing | egr
    p = {
        "D": dur,
        "ok": cand_ok,
        "base_med": base_med,
        "n_base": n_base,
        "key": c["key"],
        "t_ph": t_ph,
        "h": h,
        "n_in": n_in,
        "coverage": coverage,
        "status": status,
        "n_bot": jnp.sum(bot, dtype=jnp.int32),
        "n_edge": jnp.sum(edge, dtype=jnp.int32),
        "bottom_pts": 1.0 - masked_median(f, bot) / base_med,
        "edge_pts": 1.0 - masked_median(f, edge) / base_med,
    }
    if st["method"] == "grid":
        return p, {"ph": ph, "fn": fn, "fit_ref": fit_ref}
    return _fit_bins(c, p, ph, y, base_safe, st)


def _fit_bins(c, p, ph, y, base_safe, st):
    """The trapezoid_fit part of :func:`points_stage`: inverse-variance weights of the points
    within ``window`` catalogue durations (``1/flux_err^2``, or uniform weights from the
    baseline's robust scatter when any error is missing) and their phase bins
    (:func:`jaxvet.core.fit.bin_fit_points`, ``n_groups * n_bins`` slots); adds the bin sums
    to ``p``.  Returns ``(p, pts)`` as :func:`points_stage` does."""
    fe, m, ex, gp = c["fe"], c["m"], c["exp"], c["grp"]
    period, dur, base_sig = c["P"], c["D"], c["base_sig"]
    window = st["bounds"].window
    u = ph * period / dur
    sig = fe / base_safe
    win = m & (jnp.abs(u) < window)
    n_win = jnp.sum(win, dtype=jnp.int32)
    use_err = jnp.all(jnp.where(win, (sig > 0) & jnp.isfinite(sig), True)) & (n_win > 0)
    sb = base_sig / base_safe
    w_uni = jnp.where(sb > 0, 1.0 / jnp.where(sb > 0, sb, 1.0) ** 2, 1.0)
    w = jnp.where(use_err, 1.0 / jnp.where(sig > 0, sig, 1.0) ** 2, w_uni)
    w = jnp.where(win, w, 0.0)
    binned = st["kind"] == "binned"
    ids, xbar, ebar, s0, sy, syy, cnt, *mom = bin_fit_points(
        u,
        y,
        w,
        ex / dur,
        gp,
        m,
        window=window,
        n_bins=st["n_bins"],
        n_groups=st["n_groups"],
        second_moments=binned,
    )
    p.update(n_win=n_win, xbar=xbar, ebar=ebar, s0=s0, sy=sy, syy=syy, cnt=cnt)
    if binned:
        p.update(m00=mom[0], m0y=mom[1], myy=mom[2])
        return p, {}
    return p, {"ids": ids, "w": w, "y": y, "win": win}


def _boot_valid(st):
    """Bootstrap block layout: ``(n_blocks, kvalid, n_blocks_fit, kvalid_fit)``.

    The grid method maps ``n_blocks`` blocks of ``boot_block`` resamples (``kvalid`` marks the
    real ones, rows 1..n_boot); trapezoid_fit maps ``n_blocks_fit`` blocks whose row 0 is the
    original data and rows 1..n_boot the resamples (``kvalid_fit``).
    """
    n_boot = st["n_boot"]
    kb = st["boot_block"]
    n_blocks = -(-n_boot // kb)
    kvalid = (jnp.arange(n_blocks * kb) + 1) <= n_boot
    n_blocks_fit = -(-(n_boot + 1) // kb)
    rows = jnp.arange(n_blocks_fit * kb)
    kvalid_fit = (rows >= 1) & (rows <= n_boot)
    return n_blocks, kvalid, n_blocks_fit, kvalid_fit


def _grid_branch(p, pts, st, key):
    """``method="grid"``: tess-vetter's 20-point grid over ``r = tF/tT`` at the catalogue
    duration (docs/checks.md, V05) and its multinomial / Poisson bootstrap.

    Returns ``(out, view, duration_bad)``: ``out`` the scalar fit results (durations in hours,
    depth as a fraction), ``view`` the plot inputs (profile selection and (100,) model curve in
    phase units), ``duration_bad`` always False (T is fixed at the catalogue duration).
    """
    dur, t_ph, h, n_in = p["D"], p["t_ph"], p["h"], p["n_in"]
    n_boot, kb = st["n_boot"], st["boot_block"]
    n_blocks, kvalid, _, _ = _boot_valid(st)
    ph, fn, fit_ref = pts["ph"], pts["fn"], pts["fit_ref"]
    ratio, depth, chi2 = reference_grid_search(ph, fn, fit_ref, t_ph)
    rank = jnp.cumsum(fit_ref) - 1

    def block(b):
        ks = 1 + b * kb + jnp.arange(kb)
        w = bootstrap_weights(key, rank, fit_ref, n_in, ks, st["kind"])
        return reference_grid_bootstrap(ph, fn, fit_ref, t_ph, w)

    boots = jax.lax.map(block, jnp.arange(n_blocks)).reshape(-1)
    err, _, _ = percentile_halfwidth(boots, kvalid, st["ci"])
    err = jnp.where(n_boot > 10, err, 0.2)
    # least-squares depth significance (unweighted, 2 parameters)
    s_hat = jnp.where(fit_ref, reference_trapezoid_shape(ph, ratio * t_ph, t_ph), 0.0)
    sss = jnp.sum(s_hat**2)
    nu = jnp.maximum(n_in - 2, 1)
    sig_d = jnp.sqrt(jnp.maximum(chi2, 0.0) / nu / jnp.where(sss > 0, sss, 1.0))
    out = dict(
        ratio=ratio,
        ratio_err=err,
        depth=depth,
        depth_err=jnp.nan,
        t_total_h=dur * 24.0,
        t_total_err_h=jnp.nan,
        t_flat_h=ratio * (dur * 24.0),
        t_flat_err_h=jnp.nan,
        tmid_h=0.0,
        tmid_err_h=jnp.nan,
        sigma_depth=sig_d,
        n_fit=n_in,
        bound_bits=jnp.asarray(0, jnp.int32),
    )
    model_ph = jnp.linspace(-h * 1.2, h * 1.2, N_MODEL)
    view = {
        "prof_sel": fit_ref,
        "prof_half": h * 1.2,
        "n_prof": n_in,
        "model_ph": model_ph,
        "model": 1.0 - depth * reference_trapezoid_shape(model_ph, ratio * t_ph, t_ph),
        "band_lo": jnp.full((N_MODEL,), jnp.nan),
    }
    view["band_hi"] = view["band_lo"]
    return out, view, jnp.asarray(False)


def _trapezoid_bootstrap(p, pts, st, key, tables, p_start, hinv, e_plot, model_u):
    """Row 0 (the full-data BFGS polish) and the ``n_boot`` bootstrap refits of trapezoid_fit.

    Each resample (binned: Poisson counts per fit bin, :func:`jaxvet.core.fit.binned_poisson_sums`;
    ``"poisson"`` / ``"multinomial"``: point weights, Efron 1979, Hanley & MacGibbon 2006) starts
    from :func:`jaxvet.core.fit.bootstrap_starts` and runs ``n_bfgs`` BFGS steps.  Returns the
    (rows, 4) parameters ``(depth, T, r, tau)`` (T and tau in catalogue durations) and the
    (rows, 100) model depths ``depth * s(u - tau)`` at ``model_u``.  ``tables``: the binned
    bootstrap's :func:`jaxvet.core.fit.binned_bootstrap_tables` (None for point bootstraps).
    """
    bounds = st["bounds"]
    lo, hi = bounds.lower(), bounds.upper()
    kb = st["boot_block"]
    _, _, n_blocks_fit, _ = _boot_valid(st)
    xbar, ebar, s0, sy = p["xbar"], p["ebar"], p["s0"], p["sy"]
    binned = st["kind"] == "binned"
    n_slots = xbar.shape[0]
    if not binned:
        win = pts["win"]
        rank = jnp.cumsum(win) - 1
        win_w = win.astype(jnp.float64)

    def block(b):
        # rows: 0 = the original data (the point estimate's BFGS polish), 1..K = resamples
        ks = b * kb + jnp.arange(kb)
        if binned:
            s0k, syk = jax.vmap(lambda k_: binned_poisson_sums(key, k_, tables))(ks)
            s0k = jnp.where((ks == 0)[:, None], s0[None, :], s0k)
            syk = jnp.where((ks == 0)[:, None], sy[None, :], syk)
        else:
            wk = bootstrap_weights(key, rank, win, p["n_win"], ks, st["kind"])
            wk = jnp.where((ks == 0)[:, None], win_w[None, :], wk)
            s0k, syk, _ = resample_sums(pts["ids"], pts["w"], pts["y"], wk, n_slots)
        start = bootstrap_starts(xbar, ebar, s0k, syk, p_start, bounds)
        th, _, dk = bfgs_refine(start[:, 1:], xbar, ebar, s0k, syk, hinv, lo[1:], hi[1:], n_iter=st["n_bfgs"])
        pk = jnp.concatenate([dk[:, None], th], axis=1)
        curves = pk[:, 0:1] * trapezoid_shape(
            model_u[None, :] - pk[:, 3:4], pk[:, 1:2], pk[:, 2:3] * pk[:, 1:2], e_plot
        )
        return pk, curves

    pk, curves = jax.lax.map(block, jnp.arange(n_blocks_fit))
    return pk.reshape(-1, 4), curves.reshape(-1, N_MODEL)


def _trapezoid_branch(p, pts, st, key):
    """``method="trapezoid_fit"``: the exposure-integrated trapezoid (Seager & Mallen-Ornelas
    2003; Kipping 2010) fitted to the fit bins, with bootstrap percentile errors.

    Returns ``(out, view, duration_bad)`` like :func:`_grid_branch`; ``view`` holds the (100,)
    model curve and the bootstrap band ``1 - P84 .. 1 - P16`` at phases ``u * D/P``;
    ``duration_bad``: fitted T off the catalogue duration by more than ``duration_tolerance``.
    """
    dur, t_ph = p["D"], p["t_ph"]
    _, _, _, kvalid_fit = _boot_valid(st)
    bounds = st["bounds"]
    window = bounds.window
    xbar, ebar, s0, sy, syy, cnt = p["xbar"], p["ebar"], p["s0"], p["sy"], p["syy"], p["cnt"]
    binned = st["kind"] == "binned"
    tables = binned_bootstrap_tables(cnt, s0, sy, p["m00"], p["m0y"], p["myy"]) if binned else None
    p_start, hinv = trapezoid_start(xbar, ebar, s0, sy, bounds, n_adam=st["n_adam"])
    e_plot = jnp.sum(s0 * ebar) / jnp.maximum(jnp.sum(s0), 1e-300)
    model_u = jnp.linspace(-window, window, N_MODEL)
    pk, curves = _trapezoid_bootstrap(p, pts, st, key, tables, p_start, hinv, e_plot, model_u)
    p_hat = pk[0]
    # one sort for the parameters, F = r T and the 100 model-curve points
    allv = jnp.concatenate([pk, (pk[:, 1] * pk[:, 2])[:, None], curves], axis=1).T
    halfw, plo, phi = percentile_halfwidth(allv, kvalid_fit[None, :], st["ci"])
    errs = halfw[:4]
    flat_err = halfw[4]
    depth, tt, ratio, tau = p_hat[0], p_hat[1], p_hat[2], p_hat[3]
    # least-squares depth significance, errors rescaled by the reduced chi-square
    s_hat = trapezoid_shape(xbar - tau, tt, ratio * tt, ebar)
    sss = jnp.sum(s0 * s_hat**2)
    chi2 = jnp.sum(syy) - 2.0 * depth * jnp.sum(sy * s_hat) + depth**2 * sss
    nu = jnp.maximum(jnp.sum(cnt) - 4.0, 1.0)
    sig_d = jnp.sqrt(jnp.maximum(chi2, 0.0) / nu / jnp.where(sss > 0, sss, 1.0))
    dh = dur * 24.0
    out = dict(
        ratio=ratio,
        ratio_err=errs[2],
        depth=depth,
        depth_err=errs[0],
        t_total_h=tt * dh,
        t_total_err_h=errs[1] * dh,
        t_flat_h=ratio * tt * dh,
        t_flat_err_h=flat_err * dh,
        tmid_h=tau * dh,
        tmid_err_h=errs[3] * dh,
        sigma_depth=sig_d,
        n_fit=p["n_win"],
        bound_bits=bound_bits(tt, tau, bounds),
    )
    view = {
        "model_ph": model_u * t_ph,
        "model": 1.0 - depth * trapezoid_shape(model_u - tau, tt, ratio * tt, e_plot),
        "band_lo": 1.0 - phi[5:],
        "band_hi": 1.0 - plo[5:],
    }
    return out, view, jnp.abs(tt - 1.0) > st["duration_tolerance"]


def _gates(p, out, duration_bad, st):
    """Legacy shape metrics, warnings, grazing indicator, confidence and verdict (docs/checks.md,
    V05; Thompson et al. 2018 for the V-shape metric): the per-candidate output arrays."""
    n_in, coverage, status, cand_ok = p["n_in"], p["coverage"], p["status"], p["ok"]
    depth = out["depth"]
    ratio = out["ratio"]
    # legacy shape metrics: the point medians of stage 1, the fitted depth where a window is empty
    n_bot, n_edge = p["n_bot"], p["n_edge"]
    depth_bottom = jnp.where(n_bot > 0, p["bottom_pts"], depth)
    depth_edge = jnp.where(n_edge > 3, p["edge_pts"], depth_bottom * 0.5)
    shape_ratio = jnp.where(
        (depth_edge > 0) & (depth_bottom > 0), depth_bottom / jnp.where(depth_edge > 0, depth_edge, 1.0), 2.0
    )
    snr = jnp.where(
        out["sigma_depth"] > 0, depth / jnp.where(out["sigma_depth"] > 0, out["sigma_depth"], 1.0), 0.0
    )
    low_snr = (status == 0) & ~(snr >= st["min_snr"])
    low_sampling = (status == 0) & ((n_in < 30) | (coverage < 0.8))
    duration_bad = (status == 0) & duration_bad
    at_bound = jnp.where(status == 0, out["bound_bits"], 0).astype(jnp.int32)
    warn = (
        jnp.where(status == 1, WARNING_BITS["insufficient_sampling"], 0)
        | jnp.where(low_snr, WARNING_BITS["low_snr"], 0)
        | jnp.where(duration_bad, WARNING_BITS["duration_uncertain"], 0)
        | jnp.where(low_sampling, WARNING_BITS["low_sampling"], 0)
        | jnp.where(at_bound != 0, WARNING_BITS["fit_at_bound"], 0)
    ).astype(jnp.int32)
    depth_ppm = depth * 1e6
    grazing = jnp.where(
        ratio > st["grazing_ratio"],
        0,
        jnp.where((ratio > st["eb_ratio"]) & (depth_ppm < st["grazing_depth_ppm"]), 1, 2),
    ).astype(jnp.int32)
    has_warn = (warn != 0) if st["method"] == "trapezoid_fit" else jnp.asarray(False)
    conf = _confidence(n_in, coverage, has_warn)
    if st["method"] == "trapezoid_fit":
        conf = jnp.where(low_snr, jnp.minimum(conf, 0.3), conf)
    conf = jnp.where(status != 0, 0.2, conf)
    gated = (status != 0) | low_snr
    verdict = jnp.where(
        gated,
        VERDICT_CODES["insufficient"],
        jnp.where(grazing == 2, VERDICT_CODES["fail"], VERDICT_CODES["pass"]),
    ).astype(jnp.int32)
    measured = status == 0

    def meas(v):
        return jnp.where(measured, v, jnp.nan)

    return {
        "shape_status": status,
        "verdict": verdict,
        "confidence": conf,
        "warnings": warn,
        "fit_bound_bits": at_bound,
        "grazing_code": jnp.where(measured, grazing, -1).astype(jnp.int32),
        "n_in_transit": jnp.where(cand_ok, n_in, 0).astype(jnp.int32),
        "n_baseline": jnp.where(cand_ok, p["n_base"], 0).astype(jnp.int32),
        "transit_coverage": jnp.where(cand_ok, coverage, 0.0),
        "n_fit_points": out["n_fit"].astype(jnp.int32),
        "baseline_median": p["base_med"],
        "tflat_ttotal_ratio": meas(ratio),
        "tflat_ttotal_ratio_err": meas(out["ratio_err"]),
        "depth_ppm": meas(depth_ppm),
        "depth_ppm_err": meas(out["depth_err"] * 1e6),
        "t_total_hours": meas(out["t_total_h"]),
        "t_total_hours_err": meas(out["t_total_err_h"]),
        "t_flat_hours": meas(out["t_flat_h"]),
        "t_flat_hours_err": meas(out["t_flat_err_h"]),
        "tmid_offset_hours": meas(out["tmid_h"]),
        "tmid_offset_hours_err": meas(out["tmid_err_h"]),
        "snr": meas(snr),
        "depth_bottom": meas(depth_bottom),
        "depth_edge": meas(depth_edge),
        "shape_ratio": meas(shape_ratio),
        "n_bottom_points": jnp.where(measured, n_bot, 0).astype(jnp.int32),
        "n_edge_points": jnp.where(measured, n_edge, 0).astype(jnp.int32),
    }


def _plot_arrays(p, pts, st, view):
    """The plot arrays: binned profile (50 or n_groups * n_bins / 2 bins), (100,) model, band."""
    if st["method"] == "trapezoid_fit":
        # the fit's own phase bins (no per-point sort: cheap for thousands of epochs)
        centre, med, err, pcnt = _fit_bin_profile(
            p["xbar"], p["s0"], p["sy"], p["cnt"], st["n_bins"], p["t_ph"]
        )
    else:
        centre, med, err, pcnt = _plot_profile(
            pts["ph"], pts["fn"], view["prof_sel"], view["n_prof"], view["prof_half"]
        )
    return {
        "plot_binned_phase": centre,
        "plot_binned_flux": med,
        "plot_binned_flux_err": err,
        "plot_binned_count": pcnt,
        "plot_model_phase": view["model_ph"],
        "plot_model_flux": view["model"],
        "plot_band_lo": view["band_lo"],
        "plot_band_hi": view["band_hi"],
    }


def fit_stage(p, pts, st):
    """Stage 2 of one candidate: fit, bootstrap, metrics, gates and verdict from
    :func:`points_stage`'s ``(p, pts)``; with ``pts`` empty (the :func:`split_stages` path) it
    reads only per-candidate scalars and fit-bin arrays.  Returns the per-candidate output
    arrays (scalars, plus (50,) / (n_groups * n_bins / 2,) / (100,) plot arrays when ``plot``)."""
    key = jax.random.wrap_key_data(p["key"])
    branch = _grid_branch if st["method"] == "grid" else _trapezoid_branch
    out, view, duration_bad = branch(p, pts, st, key)
    res = _gates(p, out, duration_bad, st)
    if st["plot"]:
        res.update(_plot_arrays(p, pts, st, view))
    return res


def _candidate(c, st):
    """Everything V05 computes for one candidate (both stages in one trace)."""
    return fit_stage(*points_stage(c, st), st)


@partial(jax.jit, static_argnames=("st_items", "batch"))
def kernel(inputs, thr, st_items, batch):
    """One program per chunk: the grid method and the point-reweighting bootstraps.

    ``inputs``: the chunk's (B, R) packed points (``t``, ``f``, ``fe``, ``m``, ``exp``, ``grp``) and
    (B,) candidate scalars (``P``, ``t0``, ``D`` in days, ``ok``, ``base_med``, ``base_sig``,
    ``n_base``, ``key``); ``thr``: the traced thresholds; returns :func:`fit_stage`'s arrays with
    a leading B axis, mapped ``batch`` candidates at a time."""
    st = {**dict(st_items), **thr}
    return jax.lax.map(lambda c: _candidate(c, st), inputs, batch_size=batch)


@partial(jax.jit, static_argnames=("st_items", "batch"))
def kernel_points(inputs, thr, st_items, batch):
    """Stage 1 of the :func:`split_stages` path (compiled per packed width R): ``inputs`` as in
    :func:`kernel`; returns :func:`points_stage`'s ``p`` (B, ...) -- no array of width R."""
    st = {**dict(st_items), **thr}
    return jax.lax.map(lambda c: points_stage(c, st)[0], inputs, batch_size=batch)


#: candidates per vectorised block of the fit stage; fixed (not chosen from the chunk), so a
#: candidate's fit runs the same machine code whatever the size of the run
FIT_BATCH = 8


@partial(jax.jit, static_argnames=("st_items", "batch"))
def kernel_fit(p, thr, st_items, batch):
    """Stage 2 of the :func:`split_stages` path: :func:`fit_stage` on :func:`kernel_points`'s
    ``p``, ``batch`` (:data:`FIT_BATCH`) candidates at a time; its shapes do not depend on R."""
    st = {**dict(st_items), **thr}
    return jax.lax.map(lambda c: fit_stage(c, {}, st), p, batch_size=batch)
