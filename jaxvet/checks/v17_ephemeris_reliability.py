"""V17 ephemeris reliability regime: is the signal unique to this (P, t0)?

A real periodic transit scores far above the same template slid to other phases, peaks
sharply at its period and survives removing its few largest contributors; a systematic or a
single outlier does not (the phase-shift / "inverted and scrambled" null tests of Coughlin et
al. 2016, ApJS 224, 12 and Thompson et al. 2018, ApJS 235, 38).  The reference (tess-vetter
0.3.20 ``compute_reliability_regime_numpy`` via its V17 wrapper; docs/checks.md) scores the
smooth template (:mod:`jaxvet.core.template_score`) at

1. the candidate's ephemeris (``score``, ``depth_hat``, ``depth_sigma``);
2. ``n_phase_shifts`` t0's ``t0 + P k/(n+1)`` (k = 1..n; strategy ``grid``) or
   ``t0 + P u`` with ``u ~ default_rng(random_seed).uniform`` (``random``, u < 1e-3 raised by
   1e-3): ``z = (score - mean)/std`` (ddof 0, NaN for std 0), ``p = (#null >= score + 1)/(n+1)``;
3. ``period_jitter_n`` periods ``clip(P (1 + linspace(-f, f, n)), 0.05, 1000)`` (n made odd)
   at fixed t0: best, second best, ``peak_to_next = |best|/|second|``;
4. 0.5P and 2P (raw only, when within [0.05, 1000] d);
5. the ``t0_scan_n`` t0's ``t0 + linspace(-h, h, n)``, ``h`` = ``t0_scan_half_span_minutes``
   (default 1.5 D): best t0, curvature of the parabola through the best point and its
   neighbours, FWHM of the scan above ``(peak + median)/2``;

and the point contributions ``|w tmpl y|``: top-k fractions, ``effective_n = exp(entropy)``,
and the ablation drops ``max(0, (|s| - |s_k|)/|s|)`` after removing the top k points.
``uniqueness_regime``: ``peak_to_next > strong_ratio`` (1.5) strong, ``>= moderate_ratio`` (1.1)
moderate, ``>= marginal_ratio`` (1.0) marginal, else (or NaN) confused.

How it runs: all ``1 + n_shift + n_period + 2 + n_scan`` ephemerides of every candidate are one
(B, K) array.  The template's sigmoid is clipped, so beyond ``D/2 + 60 max(ingress D, 1e-6)/
sharpness`` (0.9 D by default) from every transit centre it is one constant; each fit is summed
over the points of its transit windows only, plus that constant times the light curve's totals
outside them (:mod:`jaxvet.core.template_windows`; only rounding order differs from the whole
sum).  The windows are read in tiles of ``TILE`` consecutive points, ``N_TILE`` tiles per step
of a ``while_loop`` that runs to each ephemeris' own tile count, so one compiled program serves
every window size; its only static key is the epoch count (a host bound, 256 x 4^k).
Candidates are sorted by their window size and run in chunks of 8; the contributions, top-k
and ablations take two such passes over the base ephemeris' windows.  A candidate whose epochs
overflow, or whose k-th largest contribution does not beat every point outside the windows
(too few in-window points), is recomputed over its whole row (:func:`_full_kernel`, the K axis
in chunks sized by the engine's element budget).  No Python loop over trials.
Quirk kept: the metric ``top_5_fraction_abs`` is always 0.0 (the reference looks it up under
a key its dict does not have); the real value is ``raw["concentration"]["top_5_fraction_abs"]``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.checks.v15_transit_asymmetry import phase_fold_exact
from jaxvet.core.numerics import exact_div, linspace_edge, rounded_mul
from jaxvet.core.row_trim import trim_rows, trimmed_width
from jaxvet.core.template_score import scores_for_ephemerides, smooth_template, template_fit, template_weights
from jaxvet.core.template_windows import (
    cell_table,
    epoch_ranges,
    fit_sums,
    packed_points,
    score_windows,
    tail_half_width,
    tail_value,
    tile_points,
    tile_table,
)
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import assemble, element_budget
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import (
    CheckOptions,
    at_least,
    boolean,
    counts,
    in_range,
    one_of,
    option,
    optional_positive,
    positive,
)
from jaxvet.errors import JaxvetInputError
from jaxvet.results import OK, VERDICT_NONE, CheckResult

__all__ = ["SPEC", "V17Options", "compute", "format", "REGIMES"]

ID = "V17"
NAME = "Ephemeris Reliability Regime"
REGIMES = ("strong", "moderate", "marginal", "confused")
_HARMONICS = (0.5, 2.0)
#: lookup cells per light curve for the transit windows (a few points each at 2-min cadence)
N_CELLS = 1 << 18
#: window points per tile (one contiguous slice) and tiles summed per step of the while loops
#: (any window size runs in one program)
TILE = 32
N_TILE = 32
#: a step of the ephemeris map holds 1/_LANE_SHARE of the engine's element budget (2^18 on a
#: CPU: the per-step tiles stay in cache; 2^16 and 2^20 measured slower)
_LANE_SHARE = 16
#: the smallest static epoch count, and its growth factor (few compiled programs)
_MIN_EPOCHS = 256



@dataclass(frozen=True)
class V17Options(CheckOptions):
    """V17 options (the reference wrapper's ``extra_params`` and regime cut-offs)."""

    check_id: ClassVar[str] = ID
    n_phase_shifts: int = option(200, at_least(1))
    phase_shift_strategy: str = option("grid", one_of("grid", "random"))
    random_seed: int = option(0, at_least(0))
    period_jitter_frac: float = option(0.002, in_range(0.0, 0.5, closed=(True, False)), traced=True)
    period_jitter_n: int = option(21, at_least(3))
    include_harmonics: bool = option(True, boolean)
    ablation_top_ns: tuple = option((1, 3, 5), counts)
    contribution_top_n: int = option(10, at_least(1))
    t0_scan_n: int = option(81, at_least(1))
    t0_scan_half_span_minutes: float | None = option(None, optional_positive)
    ingress_egress_fraction: float = option(0.2, positive, traced=True)
    sharpness: float = option(30.0, positive, traced=True)
    strong_ratio: float = option(1.5, traced=True)
    moderate_ratio: float = option(1.1, traced=True)
    marginal_ratio: float = option(1.0, traced=True)

    def validate(self) -> None:
        if not self.strong_ratio >= self.moderate_ratio >= self.marginal_ratio:
            raise JaxvetInputError(
                f"V17 options need strong_ratio >= moderate_ratio >= marginal_ratio, got "
                f"{self.strong_ratio!r}, {self.moderate_ratio!r}, {self.marginal_ratio!r}"
            )

    @property
    def n_periods(self) -> int:
        return self.period_jitter_n + (self.period_jitter_n % 2 == 0)

    @property
    def top_k(self) -> int:
        return max(max(self.ablation_top_ns), self.contribution_top_n, 10)


def shift_phases(opts: V17Options) -> np.ndarray:
    """The reference's phase offsets of the null t0's (host numpy, (n_phase_shifts,))."""
    n = int(opts.n_phase_shifts)
    if opts.phase_shift_strategy == "random":
        u = np.random.default_rng(int(opts.random_seed)).uniform(0.0, 1.0, size=n)
        return np.where(u < 1e-3, u + 1e-3, u)
    return np.arange(1, n + 1, dtype=np.float64) / (float(n) + 1.0)


def _ephemerides(cfg, P, t0, D_h, thr, phases):
    """The (B, K) periods and t0's: base, shifts, period grid, harmonics, t0 scan."""
    col = lambda a: a[:, None]  # noqa: E731
    n_per, n_scan = cfg["n_periods"], cfg["t0_scan_n"]
    shift_t0 = col(t0) + rounded_mul(phases[None, :], col(P))
    frac = thr["period_jitter_frac"]
    i = jnp.arange(n_per, dtype=jnp.float64)
    lin = linspace_edge(-frac, exact_div(frac - (-frac), jnp.float64(n_per - 1)), i, n_per - 1, frac)
    grid = jnp.clip(col(P) * (1.0 + lin[None, :]), 0.05, 1000.0)
    if cfg["half_span_minutes"] is None:
        hsm = D_h * 60.0 * 1.5
    else:
        hsm = jnp.full_like(P, cfg["half_span_minutes"])
    hs = col(exact_div(hsm, jnp.float64(24.0 * 60.0)))
    j = jnp.arange(n_scan, dtype=jnp.float64)[None, :]
    if n_scan > 1:
        scan = col(t0) + linspace_edge(-hs, exact_div(hs - (-hs), jnp.float64(n_scan - 1)), j, n_scan - 1, hs)
    else:
        scan = col(t0) + (-hs) + 0.0 * j
    harm = col(P) * jnp.asarray(_HARMONICS)[None, :]
    b = P.shape[0]
    same = lambda m: jnp.broadcast_to(col(P), (b, m))  # noqa: E731
    periods = jnp.concatenate([col(P), same(phases.shape[0]), grid, harm, same(scan.shape[1])], 1)
    t0s = jnp.concatenate([col(t0), shift_t0, jnp.broadcast_to(col(t0), (b, n_per + 2)), scan], 1)
    return periods, t0s, grid, scan, hsm


def _scan_shape(scan_t0, s):
    """Best index, curvature (2a of the parabola through best-1..best+1) and FWHM (minutes)."""
    n = s.shape[1]
    best = jnp.argmax(s, axis=1)
    rows = jnp.arange(s.shape[0])
    at = lambda a, k: a[rows, jnp.clip(k, 0, n - 1)]  # noqa: E731
    x0, x1, x2 = at(scan_t0, best - 1), at(scan_t0, best), at(scan_t0, best + 1)
    y0, y1, y2 = at(s, best - 1), at(s, best), at(s, best + 1)
    curv = 2.0 * ((y2 - y1) / (x2 - x1) - (y1 - y0) / (x1 - x0)) / (x2 - x0)
    curv = jnp.where((best > 0) & (best < n - 1), curv, jnp.nan)
    thresh = (at(s, best) + jnp.median(s, axis=1)) / 2.0
    k = jnp.arange(n)[None, :]
    below = s < thresh[:, None]
    left = jnp.max(jnp.where(below & (k < best[:, None]), k, 0), axis=1)
    right = jnp.min(jnp.where(below & (k > best[:, None]), k, n - 1), axis=1)
    fwhm = (at(scan_t0, right) - at(scan_t0, left)) * 24.0 * 60.0
    fwhm = jnp.where((n >= 5) & (left != best) & (right != best), fwhm, jnp.nan)
    return best, curv, fwhm


def _contributions(cfg, tmpl, y, w, m, n_valid, s0):
    """Top-k contribution sums, concentration and the ablation scores (B, A) over whole rows."""
    c = jnp.where(m, jnp.abs(w * tmpl * y), 0.0)
    vals, idx = jax.lax.top_k(jnp.where(m, c, -1.0), cfg["top_k"])
    rows = jnp.arange(c.shape[0])[:, None]
    rank = jnp.full(c.shape, cfg["top_k"], jnp.int32)
    rank = rank.at[rows, idx].set(jnp.arange(cfg["top_k"], dtype=jnp.int32))
    n_rm = _n_removed(cfg, n_valid)
    keep = m[:, None, :] & ~(rank[:, None, :] < n_rm[..., None])
    s_ab, _, _ = template_fit(tmpl[:, None, :], y[:, None, :], w[:, None, :], where=keep)
    total = jnp.sum(c, axis=1)
    tot = jnp.where(total > 0, total, 1.0)[:, None]
    p = c / tot
    entropy = -jnp.sum(jnp.where(m, p * jnp.log(p + 1e-12), 0.0), axis=1)
    return _contribution_metrics(cfg, vals, s_ab, s0, total, entropy, n_rm)


def _n_removed(cfg, n_valid):
    """Points removed by each ablation (B, A): ``ablation_top_ns`` clipped to [1, n_valid]."""
    return jnp.clip(jnp.asarray(cfg["ablation_top_ns"])[None, :], 1, jnp.maximum(n_valid, 0)[:, None])


def _contribution_metrics(cfg, vals, s_ab, s0, total, entropy, n_rm):
    """The contribution quantities from the top-k values (B, k), the ablation scores (B, A), the
    base score, the total ``sum |w tmpl y|`` and the entropy ``-sum p log(p + 1e-12)`` (B,)."""
    top_cum = jnp.cumsum(jnp.maximum(vals, 0.0), axis=1)
    base = jnp.abs(s0)[:, None]
    drop = jnp.maximum((base - jnp.abs(s_ab)) / jnp.maximum(base, 1e-12), 0.0)
    ok = total > 0
    tot = jnp.where(ok, total, 1.0)
    nan = jnp.nan
    return {
        "top_cum": top_cum, "abs_total": total,
        "max_point_fraction_abs": jnp.where(ok, vals[:, 0] / tot, nan),
        "top_5_fraction_abs": jnp.where(ok, top_cum[:, min(5, cfg["top_k"]) - 1] / tot, nan),
        "effective_n_points": jnp.where(ok, jnp.exp(entropy), nan),
        "ablation_n_removed": n_rm.astype(jnp.int32) + jnp.zeros((vals.shape[0], 1), jnp.int32),
        "ablation_score": s_ab, "ablation_drop": drop,
        "max_ablation_score_drop_fraction": jnp.max(drop, axis=1),
    }  # fmt: skip


def _in_transit(t, tmpl, y, w, m, P, t0, D):
    """Points within D/2 of the transit and their share of ``|w tmpl y|`` (unnormalised)."""
    aph = jnp.abs(phase_fold_exact(t, t0[:, None], P[:, None]))
    inn = m & (aph < exact_div(D, P)[:, None] * 1.0 / 2.0)
    c = jnp.where(m, jnp.abs(w * tmpl * y), 0.0)
    return jnp.sum(inn, axis=1, dtype=jnp.int32), jnp.sum(jnp.where(inn, c, 0.0), axis=1)


def _finish(cfg, sub, thr, phases, eph, fits, contrib, n_in, in_frac, n_valid):
    """The V17 quantities from the (B, K) scores ``fits`` and the contributions."""
    P, t0 = sub[1], sub[2]
    periods, _, grid, scan_t0, hsm = eph
    s, dep, sig = fits
    n_sh, n_per = phases.shape[0], cfg["n_periods"]
    s0 = s[:, 0]
    null = s[:, 1 : 1 + n_sh]
    mu = jnp.mean(null, axis=1)
    sd = jnp.sqrt(jnp.mean((null - mu[:, None]) ** 2, axis=1))
    pv = (jnp.sum(null >= s0[:, None], axis=1) + 1.0) / (n_sh + 1.0)
    o = 1 + n_sh
    ps = s[:, o : o + n_per]
    bi = jnp.argmax(ps, axis=1)
    k = jnp.arange(n_per)[None, :]
    best = jnp.max(ps, axis=1)
    second = jnp.max(jnp.where(k == bi[:, None], -jnp.inf, ps), axis=1)
    ptn = jnp.where(jnp.isfinite(second) & (jnp.abs(second) > 0), jnp.abs(best) / jnp.abs(second), jnp.nan)
    regime = jnp.where(ptn > thr["strong_ratio"], 0, jnp.where(ptn >= thr["moderate_ratio"], 1,
                       jnp.where(ptn >= thr["marginal_ratio"], 2, 3)))  # fmt: skip
    at_in = jnp.argmin(jnp.abs(grid - P[:, None]), axis=1)
    rows = jnp.arange(P.shape[0])
    hs = s[:, o + n_per : o + n_per + 2]
    ts = s[:, o + n_per + 2 :]
    tb, curv, fwhm = _scan_shape(scan_t0, ts)
    t_in = jnp.argmin(jnp.abs(scan_t0 - t0[:, None]), axis=1)
    ok = contrib["abs_total"] > 0
    return {
        "status": jnp.full(P.shape, OK, jnp.int32), "verdict": jnp.full(P.shape, VERDICT_NONE, jnp.int32),
        "n_valid": n_valid, "score": s0, "depth_hat": dep[:, 0], "depth_sigma": sig[:, 0],
        "null_scores": null, "null_mean": mu, "null_std": sd,
        "null_z": jnp.where(sd > 0, (s0 - mu) / jnp.where(sd > 0, sd, 1.0), jnp.nan), "null_p": pv,
        "period_grid": grid, "period_scores": ps, "best_period": grid[rows, bi], "best_score": best,
        "second_best_score": second, "period_score_at_input": ps[rows, at_in], "peak_to_next": ptn,
        "regime": regime.astype(jnp.int32), "harmonic_periods": periods[:, o + n_per : o + n_per + 2],
        "harmonic_scores": hs, "t0_scan": scan_t0, "t0_scan_scores": ts, "t0_best": scan_t0[rows, tb],
        "t0_score_best": ts[rows, tb], "t0_score_at_input": ts[rows, t_in], "t0_curvature": curv,
        "t0_fwhm_minutes": fwhm, "t0_half_span_minutes": hsm, "n_in_transit": n_in,
        "in_transit_contribution_abs": jnp.where(
            ok, in_frac / jnp.where(ok, contrib["abs_total"], 1.0), jnp.nan),
        **contrib,
    }  # fmt: skip


def _full_kernel(cfg, rows, sub, thr, phases):
    """V17 over the whole light-curve rows (the exact fallback of the window path).  ``rows``:
    ``(time, flux, flux_err, mask)``, each ``(L, N)``; ``sub``: (li, P, t0, D, D_h), each (C,)."""
    li, P, t0, D, D_h = sub
    time, flux, flux_err, mask = rows
    t, m = time[li], mask[li]
    y, w = template_weights(flux[li], flux_err[li])
    sh, ing = thr["sharpness"], thr["ingress_egress_fraction"]
    eph = _ephemerides(cfg, P, t0, D_h, thr, phases)
    fits = scores_for_ephemerides(t, y, w, m, eph[0], eph[1], D, sh, ing, chunk=cfg["chunk"])
    tmpl = smooth_template(t, t0[:, None], P[:, None], D[:, None], sh, ing)
    n_valid = jnp.sum(m, axis=1, dtype=jnp.int32)
    contrib = _contributions(cfg, tmpl, y, w, m, n_valid, fits[0][:, 0])
    n_in, in_frac = _in_transit(t, tmpl, y, w, m, P, t0, D)
    return _finish(cfg, sub, thr, phases, eph, fits, contrib, n_in, in_frac, n_valid)


def _base_window(cfg, packed, li, tab, n_valid, P, t0, D, hw, sh, ing, *, n_ep):
    """The base ephemeris' point contributions over its windows, ``N_TILE`` tiles at a time (two
    ``while_loop`` passes: top-k, totals and in-transit sums, then the entropy and the
    ablation sums, which need the total and the top-k).  One candidate; returns its
    contributions (:func:`_contribution_metrics`, before the batch axis), ``(n_in,
    in_frac)``, the k-th largest in-window contribution and the slots' ``(sum w y, sum w,
    sum |w y|)``."""
    lo, cnt, _ = epoch_ranges(*tab[:5], P, t0, hw, n_ep=n_ep)
    tile0, n_tiles = tile_table(cnt, tile=TILE)
    k = cfg["top_k"]
    nb = (n_tiles + N_TILE - 1) // N_TILE

    def points(b):
        q = b * N_TILE + jnp.arange(N_TILE, dtype=jnp.int32)
        got = tile_points(packed, li, lo, cnt, tile0, n_tiles, q, tile=TILE)
        j, t, y, w, ok = (a.reshape(-1) for a in got)
        tmpl = smooth_template(t, t0, P, D, sh, ing)
        return jnp.where(ok, j, -1), ok, t, y, w, tmpl, jnp.where(ok, jnp.abs(w * tmpl * y), 0.0)

    def first(carry):
        b, vals, top_j, acc = carry
        j, ok, t, y, w, tmpl, c = points(b)
        vals, pos = jax.lax.top_k(jnp.concatenate([vals, jnp.where(ok, c, -1.0)]), k)
        top_j = jnp.concatenate([top_j, j])[pos]
        inn = ok & (jnp.abs(phase_fold_exact(t, t0, P)) < exact_div(D, P) * 1.0 / 2.0)
        part = [jnp.sum(c), jnp.sum(jnp.where(ok, jnp.abs(w * y), 0.0)), jnp.sum(w * y), jnp.sum(w),
                jnp.sum(jnp.where(inn, c, 0.0)), jnp.sum(inn).astype(jnp.float64)]  # fmt: skip
        return b + 1, vals, top_j, acc + jnp.stack(part)

    init = (jnp.int32(0), jnp.full((k,), -1.0), jnp.full((k,), -1, jnp.int32), jnp.zeros(6))
    _, vals, top_j, acc = jax.lax.while_loop(lambda cr: cr[0] < nb, first, init)
    n_rm = _n_removed(cfg, n_valid[None])[0]
    tail = (tab[5][0] - acc[2], tab[5][1] - acc[3], tab[6] - acc[1])
    total_abs = acc[0] + tail_value() * tail[2]
    tot = jnp.where(total_abs > 0, total_abs, 1.0)

    def second(carry):
        b, ent, num, den = carry
        j, ok, _, y, w, tmpl, c = points(b)
        eq = j[:, None] == top_j[None, :]
        rank = jnp.where(jnp.any(eq, axis=1), jnp.argmax(eq, axis=1), k)
        keep = ok[None, :] & ~(rank[None, :] < n_rm[:, None])
        wt = w * tmpl
        p = c / tot
        ent = ent - jnp.sum(jnp.where(ok, p * jnp.log(p + 1e-12), 0.0))
        return (b + 1, ent, num + jnp.sum(jnp.where(keep, wt * y, 0.0), axis=1),
                den + jnp.sum(jnp.where(keep, wt * tmpl, 0.0), axis=1))  # fmt: skip

    z = jnp.zeros(n_rm.shape)
    init = (jnp.int32(0), jnp.float64(0.0), z, z)
    _, ent, num, den = jax.lax.while_loop(lambda cr: cr[0] < nb, second, init)
    cv = tail_value()
    s_ab = fit_sums(num + cv * tail[0], den + cv * cv * tail[1])[0]
    # the tail's p log(p + 1e-12) with p ~ 1e-26: p log(1e-12)
    ent = ent - (cv * tail[2] / tot) * jnp.log(1e-12)
    return vals, s_ab, total_abs, ent, n_rm, (acc[5].astype(jnp.int32), acc[4])


def _window_kernel(cfg, packed, tabs, sub, thr, phases, *, n_ep):
    """V17 on the transit windows (:mod:`jaxvet.core.template_windows`), ``N_TILE`` tiles at a
    time for every ephemeris (``n_ep`` epochs each, enough for the 0.5 P harmonic).
    ``packed``: the ``(L, N, 3)`` rows of ``(t, y, w)``; ``tabs``: per light curve ``(table,
    t_first, g, seg_lo, seg_hi, (sum w y, sum w), sum w|y|, max w|y|, n_valid)``.  Adds
    ``needs_full`` (the candidates whose epochs or top-k contributions the window path cannot
    give exactly)."""
    li, P, t0, D, D_h = sub
    sh, ing = thr["sharpness"], thr["ingress_egress_fraction"]
    eph = _ephemerides(cfg, P, t0, D_h, thr, phases)
    hw = tail_half_width(D, sh, ing)
    c = tail_value()
    kk = eph[0].shape[1]
    lanes = element_budget() // (_LANE_SHARE * 4 * P.shape[0] * TILE * N_TILE)  # ephemerides per step
    n_ch = -(-kk // int(min(max(lanes, 1), kk)))
    kc = -(-kk // n_ch)

    def cand(li, pa, ta, p, t, d, h):
        tab = jax.tree.map(lambda a: a[li], tabs[:7])
        score = functools.partial(score_windows, packed, li, tab[:6], duration=d, sharpness=sh, ingress=ing,
                                  hw=h, c=c, n_ep=n_ep, tile=TILE, n_tile=N_TILE)  # fmt: skip
        pad = n_ch * kc - kk
        pp = jnp.pad(pa, (0, pad), mode="edge").reshape(n_ch, kc)
        tt = jnp.pad(ta, (0, pad), mode="edge").reshape(n_ch, kc)
        fa = jax.lax.map(lambda x: jax.vmap(score)(x[0], x[1]), (pp, tt))
        fa = jax.tree.map(lambda a: a.reshape(-1)[:kk], fa)
        return fa, _base_window(cfg, packed, li, tab, tabs[8][li], p, t, d, h, sh, ing, n_ep=n_ep)

    fa, (vals, s_ab, total, ent, n_rm, inside) = jax.vmap(cand)(li, eph[0], eph[1], P, t0, D, hw)
    fits = fa[:3]
    contrib = _contribution_metrics(cfg, vals, s_ab, fits[0][:, 0], total, ent, n_rm)
    out = _finish(cfg, sub, thr, phases, eph, fits, contrib, *inside, tabs[8][li])
    # top-k over the slots is the light curve's when its k-th value beats every tail point
    out["needs_full"] = ~jnp.all(fa[3], axis=1) | ~(vals[:, -1] > c * tabs[7][li])
    return out


def _tables(time, flux, flux_err, mask, n_valid, seg_lo, seg_hi):
    """Per light curve: the window-lookup table, the data segments and the totals the window
    path's tails need."""
    y, w = template_weights(flux, flux_err)
    wy = jnp.where(mask, w * y, 0.0)
    table, t_first, g = jax.vmap(functools.partial(cell_table, n_cells=N_CELLS))(time, n_valid)
    sums = (jnp.sum(wy, axis=1), jnp.sum(jnp.where(mask, w, 0.0), axis=1))
    absy = jnp.abs(wy)
    return table, t_first, g, seg_lo, seg_hi, sums, jnp.sum(absy, axis=1), jnp.max(absy, axis=1), n_valid


_tables_jit = jax.jit(_tables)
_packed_jit = jax.jit(functools.partial(packed_points, tile=TILE))


@functools.cache
def _kernel_for(cfg_items: tuple):
    """The jitted window kernel for the static settings ``cfg_items`` (window sizes static)."""
    fn = functools.partial(_window_kernel, dict(cfg_items))
    return jax.jit(fn, static_argnames=("n_ep",))


@functools.cache
def _full_kernel_for(cfg_items: tuple):
    return jax.jit(functools.partial(_full_kernel, dict(cfg_items)))


def _chunk(b: int, n: int, k: int) -> int:
    """Columns of the K axis per step so (B, chunk, N) fits the element budget (a power of two)."""
    c = max(1, element_budget() // max(1, 4 * b * n))
    c = 1 << (c.bit_length() - 1)
    return int(min(c, 1 << (max(k, 1) - 1).bit_length()))


def static_config(opts: V17Options, b: int, n: int) -> tuple:
    """The kernel's static settings for ``b`` candidates on rows of ``n`` points (hashable)."""
    k = 1 + int(opts.n_phase_shifts) + opts.n_periods + 2 + int(opts.t0_scan_n)
    return (
        ("n_periods", opts.n_periods), ("t0_scan_n", int(opts.t0_scan_n)),
        ("half_span_minutes", opts.t0_scan_half_span_minutes), ("top_k", opts.top_k),
        ("ablation_top_ns", opts.ablation_top_ns), ("chunk", _chunk(b, n, k)),
    )  # fmt: skip


def _geometry(ctx: VetContext) -> list[tuple]:
    """Host, per light curve: (span, lookup cell, smallest time step, segment lengths, n_valid)."""
    out = []
    for lc in ctx.lightcurves:
        t = np.asarray(lc.time[lc.valid], np.float64)
        if t.size < 2:
            out.append((0.0, 1e-9, 1e-9, np.zeros(1), int(t.size)))
            continue
        d = np.diff(t)
        span = float(t[-1] - t[0])
        cuts = np.flatnonzero(d > 0.25)
        lo = np.concatenate([[0], cuts + 1])
        hi = np.concatenate([cuts, [t.size - 1]])
        pos = d[d > 0]
        dt = float(pos.min()) if pos.size else 1e-9
        out.append((span, max(span / N_CELLS, 1e-9), dt, t[hi] - t[lo], t.size))
    return out


def _epoch_bucket(n: int) -> int:
    """The smallest of ``_MIN_EPOCHS 4^k`` that is >= ``n``."""
    b = _MIN_EPOCHS
    while b < n:
        b *= 4
    return b


def _epoch_keys(ctx: VetContext, opts: V17Options) -> list[tuple]:
    """Host, per candidate: ``(n_ep, slots)``.  ``n_ep`` is a static epoch count bounding the
    epochs its ephemerides visit, at periods down to half of ``P (1 - period_jitter_frac)``
    (the 0.5 P harmonic): at most ``floor((len + 2 hw)/q) + 3`` epochs meet a data segment of
    length ``len`` (rounded up to :func:`_epoch_bucket`); ``slots ~ n_valid 2 hw/P`` orders
    the candidates by window size, so a chunk's while loops run for similar counts."""
    geo = ctx.cached("V17:geometry", lambda: _geometry(ctx), per_chunk=False)
    f = float(opts.period_jitter_frac)
    sh, ing = float(opts.sharpness), float(opts.ingress_egress_fraction)
    n = len(ctx.candidates)
    lc_of = np.asarray(ctx.candidates_lc_index)[:n]
    p = np.array([c.period_days for c in ctx.candidates], np.float64)
    d = np.array([c.duration_hours for c in ctx.candidates], np.float64) / 24.0
    hw = (d / 2.0 + 60.0 * np.maximum(d * ing, 1e-6) / sh) * (1 + 1e-6) + 1e-6
    q = 0.5 * np.minimum(p, np.maximum(p * (1.0 - f), 0.05))
    n_raw = np.zeros(n, np.int64)
    slots = np.zeros(n, np.float64)
    for li in np.unique(lc_of).tolist():  # per light curve (its segments), candidates as an axis
        _, g, _, segs, nv = geo[int(li)]
        m = lc_of == li
        n_raw[m] = np.sum(np.floor((segs[None, :] + 2.0 * hw[m, None] + 6.0 * g) / q[m, None]) + 3, axis=1)
        slots[m] = np.minimum(float(nv), nv * 2.0 * hw[m] / p[m])
    rung = {v: _epoch_bucket(v) for v in np.unique(n_raw).tolist()}  # a few distinct counts
    return [(rung[e], w) for e, w in zip(n_raw.tolist(), slots.tolist(), strict=True)]


def _groups(keys: list, cap: int = 8) -> list[tuple]:
    """Candidates sorted by key in chunks of ``cap``, each with the largest first entry of its
    keys: ``(n_ep, rows, padded rows)`` (the last chunk padded with its first row; a batch of
    at most ``cap`` candidates is one chunk)."""
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    out = []
    for lo in range(0, len(order), cap):
        part = order[lo : lo + cap]
        pad = part + [part[0]] * (cap - len(part))
        out.append((max(keys[i][0] for i in part), np.asarray(part, np.int64), np.asarray(pad, np.int64)))
    return out


def compute(ctx: VetContext, opts: V17Options | None = None) -> dict:
    """Device arrays of the V17 quantities per candidate (leading axis: the chunk's candidates)."""
    opts = V17Options.for_context(ctx, opts)
    cb, lcb = ctx.cb, ctx.lcb
    n = ctx.n_candidates
    dh = np.ones(cb.size)
    dh[:n] = [c.duration_hours for c in ctx.candidates]
    phases = jnp.asarray(shift_phases(opts))
    thr = {kk: jnp.asarray(v) for kk, v in opts.traced().items()}
    width = ctx.cached("V17:width", lambda: trimmed_width(lcb.n_valid, lcb.n_points), per_chunk=False)
    rows = trim_rows(width, lcb.time, lcb.flux, lcb.flux_err, lcb.mask)
    tabs = ctx.cached(
        "V17:tables", lambda: _tables_jit(*rows, lcb.n_valid, lcb.seg_lo, lcb.seg_hi), per_chunk=False
    )
    packed = ctx.cached("V17:packed", lambda: _packed_jit(*rows[:3]), per_chunk=False)
    cand = (cb.lc_index, cb.period, cb.t0, cb.duration, jnp.asarray(dh))
    cfg = static_config(opts, cb.size, int(lcb.time.shape[1]))
    fn = _kernel_for(cfg)

    groups = _groups(_epoch_keys(ctx, opts))
    parts = []
    for n_ep, _, idx in groups:
        sub = tuple(a[jnp.asarray(idx)] for a in cand)
        parts.append(fn(packed, tabs, sub, thr, phases, n_ep=n_ep))
    out = assemble(parts, [g[1] for g in groups], n)
    full = np.flatnonzero(np.asarray(out.pop("needs_full")))
    if full.size:  # the exact fallback over the whole rows, for the few candidates that need it
        size = bucket_size(full.size, 1)
        idx = np.concatenate([full, np.full(size - full.size, full[0])])
        sub = tuple(a[jnp.asarray(idx)] for a in cand)
        got = _full_kernel_for(cfg)(rows, sub, thr, phases)
        at = jnp.asarray(full)
        out = {k: v.at[at].set(got[k][: full.size]) for k, v in out.items()}
    return out


def _f(x) -> float:
    return float(x)


def _top_fractions(a: dict, b: int, opts: V17Options) -> dict[str, float]:
    """The reference's ``top_contribution_fractions`` (keys collapse for tiny light curves)."""
    n = int(a["n_valid"][b])
    ctn = int(max(5, min(int(opts.contribution_top_n), n)))
    total = float(a["abs_total"][b]) + 1e-18
    out = {}
    for k in (1, 3, 5, min(10, ctn), ctn):
        kk = int(max(1, min(k, n)))
        out[f"top_{kk}_fraction"] = float(a["top_cum"][b][kk - 1]) / total if n > 0 else 0.0
    return out


def _schedulability(null_pct, ptn, max_drop, top5, t0_best, t0_delta) -> dict:
    """The reference's threshold-free ``schedulability_summary`` (raw only)."""
    clip01 = lambda v: float(np.clip(v, 0.0, 1.0)) if math.isfinite(v) else 0.0  # noqa: E731
    comps = {
        "signal_vs_phase_null": clip01(null_pct),
        "period_localization": max(ptn, 0.0) / (1.0 + max(ptn, 0.0)) if math.isfinite(ptn) else 0.0,
        "point_robustness": clip01(1.0 - max_drop),
        "contribution_dispersion": clip01(1.0 - top5),
        "t0_alignment": clip01(1.0 - abs(t0_delta) / max(abs(t0_best), 1e-12))
        if math.isfinite(t0_best) and math.isfinite(t0_delta) else 0.0,
    }  # fmt: skip
    weights = {"signal_vs_phase_null": 0.35, "period_localization": 0.20, "point_robustness": 0.20,
               "contribution_dispersion": 0.15, "t0_alignment": 0.10}  # fmt: skip
    scalar = sum(weights[k] * comps[k] for k in weights) / sum(weights.values())
    inputs = {"null_percentile": null_pct, "period_peak_to_next": ptn,
              "max_ablation_score_drop_fraction": max_drop, "top_5_contribution_fraction": top5,
              "t0_score_best": t0_best, "t0_delta_score": t0_delta}  # fmt: skip
    prov = {"kind": "ephemeris_schedulability_scalar", "version": "v1", "policy_free": True,
            "source": "EphemerisReliabilityRegimeResult", "component_weights": weights,
            "input_signals": inputs}  # fmt: skip
    return {"scalar": float(scalar), "components": comps, "provenance": prov}


def _raw(a: dict, b: int, opts: V17Options, top: dict) -> dict:
    g = lambda k: float(a[k][b])  # noqa: E731
    harm = {}
    if opts.include_harmonics:
        for j, mult in enumerate(_HARMONICS):
            ph = float(a["harmonic_periods"][b][j])
            if 0.05 <= ph <= 1000.0:
                harm[f"period_x{mult:g}"] = {"period_days": ph, "score": float(a["harmonic_scores"][b][j])}
    abl = [
        {"n_removed": int(a["ablation_n_removed"][b][j]), "score": float(a["ablation_score"][b][j]),
         "score_drop_fraction": float(a["ablation_drop"][b][j])}
        for j in range(len(opts.ablation_top_ns))
    ]  # fmt: skip
    t0_best, t0_in = g("t0_score_best"), g("t0_score_at_input")
    keys = ("in_transit_contribution_abs", "max_point_fraction_abs", "top_5_fraction_abs",
            "effective_n_points")  # fmt: skip
    conc = {k: g(k) for k in keys}
    conc["n_in_transit"] = int(a["n_in_transit"][b])
    pv = g("null_p")
    top5 = top.get("top_5_fraction", conc["top_5_fraction_abs"])
    return {
        "base": {"score": g("score"), "depth_hat": g("depth_hat"), "depth_sigma": g("depth_sigma"),
                 "depth_hat_ppm": g("depth_hat") * 1e6, "depth_sigma_ppm": g("depth_sigma") * 1e6},
        "phase_shift_null": {"n_trials": int(opts.n_phase_shifts), "strategy": opts.phase_shift_strategy,
                             "null_mean": g("null_mean"), "null_std": g("null_std"), "z_score": g("null_z"),
                             "p_value_one_sided": pv},
        "null_percentile": 1.0 - pv,
        "period_neighborhood": {
            "period_grid_days": [float(x) for x in a["period_grid"][b]],
            "scores": [float(x) for x in a["period_scores"][b]],
            "best_period_days": g("best_period"), "best_score": g("best_score"),
            "score_at_input": g("period_score_at_input"), "second_best_score": g("second_best_score"),
            "peak_to_next": g("peak_to_next")},
        "harmonics": harm, "concentration": conc, "top_contribution_fractions": top, "ablation": abl,
        "max_ablation_score_drop_fraction": g("max_ablation_score_drop_fraction"),
        "t0_sensitivity": {"backend": "jax", "t0_best_btjd": g("t0_best"), "score_at_input": t0_in,
                           "score_best": t0_best, "delta_score": t0_best - t0_in,
                           "curvature": g("t0_curvature"),
                           "fwhm_minutes": g("t0_fwhm_minutes"), "n_grid": int(opts.t0_scan_n),
                           "half_span_minutes": g("t0_half_span_minutes")},
        "schedulability_summary": _schedulability(1.0 - pv, g("peak_to_next"),
                                                  g("max_ablation_score_drop_fraction"), top5, t0_best,
                                                  t0_best - t0_in),
        "label": "ok", "warnings": [],
    }  # fmt: skip


def format(ctx: VetContext, opts: V17Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    opts = V17Options.for_context(ctx, opts)
    results = []
    for b, cand in enumerate(ctx.candidates):
        g = functools.partial(lambda bb, k: float(a[k][bb]), b)
        ptn = g("peak_to_next")
        regime = REGIMES[int(a["regime"][b])]
        pct = 100.0 / ptn if math.isfinite(ptn) and ptn > 0.0 else math.nan
        note = (f"Competing period has {pct:.1f}% of top score" if math.isfinite(pct)
                else "Competing period fraction is undefined for this run")  # fmt: skip
        metrics = {
            "score": g("score"), "depth_hat_ppm": g("depth_hat") * 1e6,
            "depth_sigma_ppm": g("depth_sigma") * 1e6,
            "phase_shift_null_p_value": g("null_p"), "phase_shift_null_z": g("null_z"),
            "null_percentile": 1.0 - g("null_p"),
            "period_neighborhood_best_period_days": g("best_period"),
            "period_neighborhood_best_score": g("best_score"),
            "period_neighborhood_second_best_score": g("second_best_score"),
            "period_peak_to_next_ratio": ptn,
            "max_ablation_score_drop_fraction": g("max_ablation_score_drop_fraction"),
            "top_5_fraction_abs": 0.0,  # the reference's quirk (see the module docstring)
            "n_in_transit": int(a["n_in_transit"][b]), "effective_n_points": g("effective_n_points"),
            "uniqueness_regime": regime, "interpretation_note": note,
        }  # fmt: skip
        raw = _raw(a, b, opts, _top_fractions(a, b, opts))
        shifts = shift_phases(opts)
        t0s = cand.t0_btjd + shifts * cand.period_days
        raw["plot_data"] = {
            "version": 1,
            "phase_shifts": [0.0] + [float(x) for x in (t0s - cand.t0_btjd) / cand.period_days],
            "null_scores": [g("score")] + [float(x) for x in a["null_scores"][b]],
            "period_neighborhood": raw["period_neighborhood"]["period_grid_days"],
            "neighborhood_scores": raw["period_neighborhood"]["scores"],
        }
        raw["provenance"] = {"ingress_egress_fraction": float(opts.ingress_egress_fraction),
                             "sharpness": float(opts.sharpness)}  # fmt: skip
        flags = {"marginal": ["V17_REGIME_MARGINAL"], "confused": ["V17_REGIME_CONFUSED"]}.get(regime, [])
        results.append(
            CheckResult(
                id=ID,
                name=NAME,
                status="ok",
                confidence=None,
                verdict=None,
                flags=flags,
                metrics=metrics,
                raw={**raw, "_metrics_only": True},
            )  # fmt: skip
        )
    return results


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V17Options,
    summary_metrics=(
        "peak_to_next", "null_z", "score", "max_ablation_score_drop_fraction", "effective_n_points",
    ),
    description="Smooth-template score vs phase shifts, neighbouring periods, ablations and a t0 scan",
)  # fmt: skip
