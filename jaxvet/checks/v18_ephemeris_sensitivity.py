"""V18 ephemeris sensitivity sweep: does the smooth-template score survive reasonable changes
to the light-curve preparation?

A real transit's depth and S/N barely move when the data are thinned, clipped or detrended; a
signal made by a few points or by a trend does (the pipeline-sensitivity idea of the
Robovetter's injection/inversion tests, Coughlin et al. 2016, ApJS 224, 12).  The reference
(tess-vetter 0.3.20 ``compute_sensitivity_sweep_numpy`` via its V18 wrapper) scores the smooth
template (:mod:`jaxvet.core.template_score`) on every combination of

* downsampling by ``d`` in ``downsample_levels`` (1, 2, 5): every ``d``-th point from the
  offset ``default_rng(random_seed).integers(0, d)``;
* outlier policy ``none`` or ``sigma_clip_4``: keep ``|f - median| <= 4 * 1.4826 MAD`` (the
  standard deviation when MAD = 0; nothing removed if that would leave 10 points or fewer);
* detrender ``none`` or ``running_median_0.5d``: the median of ``w = max(3, int(0.5/median
  cadence))`` (made odd) neighbouring *points* (:func:`jaxvet.core.running_median
  .running_median`), then ``f / trend * median(trend)``;

-- 12 variants ``ds{d}|ol_{o}|dt_{x}``.  A variant with fewer than 50 points fails.  With at
least 3 ok variants: ``score_spread`` and ``depth_spread`` = IQR/median of ``|score|`` and
``|depth|``; ``metric_variance`` = the larger; ``stable = metric_variance <=
stability_threshold`` (0.20; raw only); best/worst variant by ``|score|``.

The reference gates V18 on ``celerite2`` being importable (and skips it otherwise) although
none of its default variants uses celerite2; jaxvet always runs it (no optional GP variant).

How it runs: the variants depend on the light curve only, so each light-curve row gets a
(V, N) stack of compacted variant points (masks for the thinning and the clip, one running
median per detrended variant), built once per run (``ctx.cached``); each candidate is then
scored against its row's V variants at once.  No Python loop over candidates or variants in the kernels.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.numerics import exact_div
from jaxvet.core.order_stats import masked_median, masked_percentile
from jaxvet.core.running_median import running_median
from jaxvet.core.template_score import smooth_template, template_fit, template_weights
from jaxvet.engine.chunks import element_budget
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, counts, option, positive, subset_of
from jaxvet.errors import JaxvetInputError
from jaxvet.results import OK, VERDICT_NONE, CheckResult

__all__ = ["SPEC", "V18Options", "compute", "format", "variant_ids"]

ID = "V18"
NAME = "Ephemeris Sensitivity Sweep"
MIN_POINTS = 50
MIN_OK = 3
OUTLIERS = ("none", "sigma_clip_4")
DETRENDERS = ("none", "running_median_0.5d")
_SIGMA = 4.0
_WINDOW_DAYS = 0.5


@dataclass(frozen=True)
class V18Options(CheckOptions):
    """V18 options (the reference wrapper's ``extra_params``)."""

    check_id: ClassVar[str] = ID
    downsample_levels: tuple = option((1, 2, 5), counts)
    outlier_policies: tuple = option(OUTLIERS, subset_of(OUTLIERS))
    detrenders: tuple = option(DETRENDERS, subset_of(DETRENDERS))
    random_seed: int = option(0, at_least(0))
    stability_threshold: float = option(0.20, positive, traced=True)
    ingress_egress_fraction: float = option(0.2, positive, traced=True)
    sharpness: float = option(30.0, positive, traced=True)

    def validate(self) -> None:
        if len(set(self.downsample_levels)) != len(self.downsample_levels):
            raise JaxvetInputError(f"V18 option downsample_levels has repeats: {self.downsample_levels!r}")


def variants(opts: V18Options) -> list[tuple[int, str, str]]:
    """``(downsample, outlier, detrender)`` of each variant, in the reference's order."""
    return list(itertools.product(opts.downsample_levels, opts.outlier_policies, opts.detrenders))


def variant_ids(opts: V18Options) -> list[str]:
    return [f"ds{d}|ol_{o}|dt_{x}" for d, o, x in variants(opts)]


def _offset(d: int, seed: int) -> int:
    return 0 if d <= 1 else int(np.random.default_rng(seed).integers(0, d))


def _window_bound(t_host: np.ndarray, n_host: np.ndarray, opts: V18Options) -> int:
    """An odd static window width >= every variant's running-median window (host, per run):
    thinning sets the smallest cadence; clipping only lengthens it."""
    w = 3
    for row, n in zip(t_host, n_host, strict=True):
        for d in opts.downsample_levels:
            tt = row[:n][_offset(d, opts.random_seed) :: d]
            if tt.size >= 3:
                cad = float(np.median(np.diff(tt)))
                if cad > 0:
                    w = max(w, int(_WINDOW_DAYS / cad))
    w = 1 << int(np.ceil(np.log2(w + 1)))
    return w + 1


def _compact(keep, *rows):
    """Move the kept entries of each row to the front (order kept): (rows..., n_kept)."""
    order = jnp.argsort(~keep, axis=-1, stable=True)
    return [jnp.take_along_axis(r, order, axis=-1) for r in rows], jnp.sum(keep, axis=-1, dtype=jnp.int32)


def _clip_mask(f, keep):
    """The ``sigma_clip_4`` keep mask on the kept entries (R, N)."""
    med = masked_median(f, keep)
    mad = masked_median(jnp.abs(f - med[:, None]), keep)
    n = jnp.sum(keep, axis=1)
    mean = jnp.sum(jnp.where(keep, f, 0.0), axis=1) / jnp.maximum(n, 1)
    sd = jnp.sqrt(jnp.sum(jnp.where(keep, (f - mean[:, None]) ** 2, 0.0), axis=1) / jnp.maximum(n, 1))
    sig = jnp.where(mad > 0, mad * 1.4826, sd)
    clip = keep & (jnp.abs(f - med[:, None]) <= (_SIGMA * sig)[:, None])
    removed = n - jnp.sum(clip, axis=1)
    return jnp.where((removed >= n - 10)[:, None], keep, clip), jnp.where(removed >= n - 10, 0, removed)


def _variant_rows(cfg, lcb):
    """(L, V, N) compacted time, flux, error, counts, outliers removed and window widths."""
    t, f, e, m = lcb.time, lcb.flux, lcb.flux_err, lcb.mask
    pos = jnp.arange(t.shape[1])[None, :]
    outs = []
    for d, ol, dt in cfg["variants"]:  # static, a handful of variants: unrolled at trace time
        off = _offset(d, cfg["seed"])
        keep = m & (pos >= off) & ((pos - off) % d == 0)
        removed = jnp.zeros(t.shape[0], jnp.int32)
        if ol == "sigma_clip_4":
            keep, removed = _clip_mask(f, keep)
        (tv, fv, ev), n = _compact(keep, t, f, e)
        w = jnp.zeros_like(n)
        if dt != "none":
            i = jnp.arange(t.shape[1])[None, :]
            diffs = jnp.diff(tv, axis=1)
            cad = masked_median(diffs, i[:, :-1] < (n - 1)[:, None])
            w = jnp.maximum(3, jnp.floor(exact_div(jnp.float64(_WINDOW_DAYS), cad))).astype(jnp.int32)
            w = jnp.where(w % 2 == 0, w + 1, w)
            ww = jnp.minimum(w, cfg["width"])
            trend = running_median(fv, n, ww, width=cfg["width"], block=cfg["block"])
            valid = i < n[:, None]
            mt = masked_median(trend, valid)
            det = jnp.where((mt > 0)[:, None], fv / trend * mt[:, None], fv - trend + 1.0)
            fv = jnp.where((n >= 3)[:, None] & valid, det, fv)
            w = jnp.where(n >= 3, w, 0)
        outs.append((tv, fv, ev, n, removed, w))
    return [jnp.stack(z, axis=1) for z in zip(*outs, strict=True)]


@functools.cache
def _variants_for(cfg_items: tuple):
    return jax.jit(lambda lcb: _variant_rows(dict(cfg_items), lcb))


def _kernel(rows, cb, thr):
    """V18 for a chunk of candidates against their rows' variant stacks ``rows``."""
    tv, fv, ev, n, removed, w = rows
    li = cb.lc_index
    P, t0, D = cb.period, cb.t0, cb.duration
    idx = jnp.arange(tv.shape[2])

    def one(v):
        t, f, e, nv = tv[li, v], fv[li, v], ev[li, v], n[li, v]
        sh, ing = thr["sharpness"], thr["ingress_egress_fraction"]
        tmpl = smooth_template(t, t0[:, None], P[:, None], D[:, None], sh, ing)
        y, wt = template_weights(f, e)
        return template_fit(tmpl, y, wt, where=idx[None, :] < nv[:, None])

    s, dep, sig = (a.T for a in jax.lax.map(one, jnp.arange(tv.shape[1])))  # (B, V)
    nb = n[li]
    ok = (nb >= MIN_POINTS) & jnp.isfinite(s) & jnp.isfinite(dep) & jnp.isfinite(sig)
    n_ok = jnp.sum(ok, axis=1, dtype=jnp.int32)

    def spread(x):
        a = jnp.abs(x)
        q1, q3 = masked_percentile(a, ok, 25.0), masked_percentile(a, ok, 75.0)
        return (q3 - q1) / jnp.maximum(masked_median(a, ok), 1e-12)

    ss, ds = spread(s), spread(dep * 1e6)
    mv = jnp.maximum(ss, ds)
    enough = n_ok >= MIN_OK
    a = jnp.abs(s)
    return {
        "status": jnp.full(P.shape, OK, jnp.int32), "verdict": jnp.full(P.shape, VERDICT_NONE, jnp.int32),
        "score": s, "depth_hat_ppm": dep * 1e6, "depth_err_ppm": sig * 1e6, "n_points": nb,
        "n_removed_outliers": removed[li], "window_cadences": w[li], "ok": ok, "n_variants_ok": n_ok,
        "score_spread": jnp.where(enough, ss, jnp.nan), "depth_spread": jnp.where(enough, ds, jnp.nan),
        "metric_variance": jnp.where(enough, mv, jnp.nan),
        "stable": enough & (mv <= thr["stability_threshold"]),
        "best": jnp.argmax(jnp.where(ok, a, -jnp.inf), axis=1),
        "worst": jnp.argmin(jnp.where(ok, a, jnp.inf), axis=1),
    }  # fmt: skip


_kernel_jit = jax.jit(_kernel)


def static_config(opts: V18Options, width: int, n_rows: int = 1) -> tuple:
    """Static kernel settings; the running median's block keeps (rows, block, width) within the
    engine's element budget."""
    block = max(16, min(1024, element_budget() // max(1, 4 * n_rows * width)))
    block = 1 << (block.bit_length() - 1)
    return (("variants", tuple(variants(opts))), ("seed", int(opts.random_seed)), ("width", int(width)),
            ("block", block))  # fmt: skip


def compute(ctx: VetContext, opts: V18Options | None = None) -> dict:
    """Device arrays of the V18 quantities per candidate (leading axis: the chunk's candidates)."""
    opts = V18Options.for_context(ctx, opts)
    lcb = ctx.lcb
    host = ctx.cached("V18:times", lambda: (np.asarray(lcb.time), np.asarray(lcb.n_valid)), per_chunk=False)
    width = _window_bound(*host, opts)
    thr = {k: jnp.asarray(v) for k, v in opts.traced().items()}
    cfg = static_config(opts, width, int(lcb.time.shape[0]))
    # the variants depend on the light curves only: built once per run, shared by every chunk
    rows = ctx.cached(f"V18:variants:{cfg}", lambda: _variants_for(cfg)(lcb), per_chunk=False)
    out = _kernel_jit(rows, ctx.cb, thr)
    return {k: v[: ctx.n_candidates] for k, v in out.items()}


def _row(a: dict, b: int, v: int, var: tuple, vid: str) -> dict:
    d, ol, dt = var
    ok = bool(a["ok"][b][v])
    n = int(a["n_points"][b][v])
    warnings = []
    if int(a["n_removed_outliers"][b][v]) > 0:
        warnings.append(f"Removed {int(a['n_removed_outliers'][b][v])} outliers")
    if dt != "none":
        w = int(a["window_cadences"][b][v])
        warnings.append(f"Applied {dt} (window={w if w > 0 else 'N/A'} cadences)")
    s, dep, err = (float(a[k][b][v]) for k in ("score", "depth_hat_ppm", "depth_err_ppm"))
    if n < MIN_POINTS:
        reason = f"Insufficient points after transforms ({n} < {MIN_POINTS})"
    elif not ok:
        reason = f"non-finite score outputs (score={s}, depth_hat_ppm={dep}, depth_err_ppm={err})"
    else:
        reason = None
    return {
        "variant_id": vid, "status": "ok" if ok else "failed", "backend": "jax", "runtime_seconds": 0.0,
        "n_points_used": n if ok else 0, "downsample_factor": d, "outlier_policy": ol, "detrender": dt,
        "score": s if ok else None, "depth_hat_ppm": dep if ok else None,
        "depth_err_ppm": err if ok else None,
        "warnings": warnings, "failure_reason": reason,
        "variant_config": {"variant_id": vid, "downsample_factor": d, "outlier_policy": ol, "detrender": dt,
                           "detrender_bin_hours": None, "detrender_buffer_factor": None,
                           "detrender_sigma_clip": None, "is_gp": False},
        "gp_hyperparams": None, "gp_fit_diagnostics": None,
    }  # fmt: skip


def format(ctx: VetContext, opts: V18Options | None, a: dict) -> list[CheckResult]:
    """Host formatting into the reference's result contract, one result per candidate."""
    opts = V18Options.for_context(ctx, opts)
    vs, ids = variants(opts), variant_ids(opts)
    results = []
    for b in range(len(ctx.candidates)):
        n_ok = int(a["n_variants_ok"][b])
        enough = n_ok >= MIN_OK
        val = lambda k: float(a[k][b]) if enough else None  # noqa: E731,B023
        table = [_row(a, b, v, var, vid) for v, (var, vid) in enumerate(zip(vs, ids, strict=True))]
        metrics = {
            "metric_variance": val("metric_variance"),
            "score_spread_iqr_over_median": val("score_spread"),
            "depth_spread_iqr_over_median": val("depth_spread"),
            "n_variants_total": len(vs), "n_variants_ok": n_ok, "n_variants_failed": len(vs) - n_ok,
            "best_variant_id": ids[int(a["best"][b])] if enough else None,
            "worst_variant_id": ids[int(a["worst"][b])] if enough else None,
        }  # fmt: skip
        short = f"Insufficient ok variants ({n_ok}) to compute stability metrics (need >= {MIN_OK})"
        notes = [] if enough else [short]
        stable = bool(a["stable"][b])
        raw = {
            "stable": stable, **metrics, "stability_threshold": float(opts.stability_threshold),
            "notes": list(notes), "sweep_table": table,
            "plot_data": {"version": 1, "stable": stable, "n_variants_total": len(vs),
                          "n_variants_ok": n_ok, "sweep_table": table},
            "provenance": {"ingress_egress_fraction": float(opts.ingress_egress_fraction),
                           "sharpness": float(opts.sharpness)},
            "_metrics_only": True,
        }  # fmt: skip
        results.append(
            CheckResult(id=ID, name=NAME, status="ok", confidence=None, verdict=None, flags=[],
                        metrics=metrics, raw=raw, notes=notes)  # fmt: skip
        )
    return results


SPEC = CheckSpec(
    ID, NAME, compute, format,
    options=V18Options,
    summary_metrics=("metric_variance", "score_spread", "depth_spread", "n_variants_ok"),
    description="Smooth-template score over 12 thinning / clipping / detrending variants",
)  # fmt: skip
