"""V20 ghost features: does the transit look like a ghost or scattered light on the stamp?

An optical ghost or scattered light dims a broad, smooth region of the detector, not a point
source: its difference image is flat across the aperture, uncorrelated with the PRF, about as
deep outside the aperture as inside, or dominated by gradients at the stamp edges.  Reference
semantics (tess-vetter's ``compute_ghost_features``, docs/checks.md):

* difference image = per-pixel nanmedian of the out-of-transit frames minus that of the
  in-transit frames, in-transit ``|phase| <= (D/2)/P`` (inclusive, phase ``((t - t0) mod P)/P``
  shifted to (-0.5, 0.5]), out-of-transit its complement;
* the stamp's 2-D pipeline ``aperture_mask`` (without one: ``SKIPPED:NO_APERTURE_MASK``):
  ``in_aperture_depth`` and ``out_aperture_depth`` (annulus ``3 <= d < 6`` about
  ``(nr//2, nc//2)``), ``aperture_contrast``, ``spatial_uniformity``, ``prf_likeness``
  (Gaussian, sigma 1 px), ``edge_gradient_strength``, ``background_trend`` and the two scores
  ``ghost_like_score`` and ``scattered_light_risk``
  (:func:`jaxvet.core.apertures.image_features`).

The reference puts cadences with a NaN time in its out-of-transit set; jaxvet uses the valid
cadences of the stamp (finite time, at least one finite pixel), as every pixel check does.
Frames without a finite pixel change no median, so the two agree whenever no cadence has a NaN
time with finite pixels.

Verdict (jaxvet policy; the reference is metrics-only; traced thresholds): ``insufficient`` with
fewer than ``min_in_transit_cadences`` (10) in-transit cadences or no finite in-aperture depth,
``fail`` when ``ghost_like_score >= ghost_fail`` (0.7), ``warn`` when ``ghost_like_score >=
ghost_warn`` (0.5) or ``scattered_light_risk >= scattered_light_warn`` (0.5), else ``pass``.

Batched: every (candidate, stamp) pair in one jitted kernel per stamp group; the out-of-transit
medians come from each stamp's sorted pixel series minus the in-transit ranks
(:func:`jaxvet.core.pixels.median_excluding_frames`), so nothing is re-sorted per candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet import stamps as sx
from jaxvet.checks import _pixel_pairs as pp
from jaxvet.core import pixels as px
from jaxvet.core.apertures import image_features
from jaxvet.core.ephemeris import phase_mod
from jaxvet.data import bucket_size
from jaxvet.engine.chunks import map_rows
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.options import CheckOptions, at_least, finite, option, positive
from jaxvet.errors import JaxvetInputError
from jaxvet.results import OK, CheckResult, graded_verdict, skipped_result
from jaxvet.stamps import PAIR_BUDGET_SCALE

ID = "V20"
NAME = "ghost_features"
#: the reference metrics, in its order
FEATURES = (
    "ghost_like_score",
    "scattered_light_risk",
    "aperture_contrast",
    "spatial_uniformity",
    "prf_likeness",
    "edge_gradient_strength",
    "background_trend",
    "in_aperture_depth",
    "out_aperture_depth",
)


@dataclass(frozen=True)
class V20Options(CheckOptions):
    """V20 options; every number is traced (no option recompiles the kernel)."""

    check_id: ClassVar[str] = "V20"
    annulus_inner: float = option(3.0, positive, traced=True)
    annulus_outer: float = option(6.0, positive, traced=True)
    prf_sigma: float = option(1.0, positive, traced=True)
    ghost_warn: float = option(0.5, finite, traced=True)
    ghost_fail: float = option(0.7, finite, traced=True)
    scattered_light_warn: float = option(0.5, finite, traced=True)
    min_in_transit_cadences: int = option(10, at_least(1), traced=True)
    quality_bitmask: int = option(0, at_least(0))

    def validate(self) -> None:
        if not self.annulus_inner < self.annulus_outer:
            raise JaxvetInputError(
                f"V20 options annulus_inner ({self.annulus_inner!r}) must be < annulus_outer "
                f"({self.annulus_outer!r})"
            )


__all__ = ["SPEC", "V20Options", "ghost_features_stamps", "FEATURES"]


# ---------------------------------------------------------------------------------------------
# kernel
# ---------------------------------------------------------------------------------------------
def _pair_kernel(st, pb, a, thr, *, n_in_pad):
    """V20 for one (candidate, stamp) pair: images (P,), features and counts (scalars)."""
    k = a["k"]
    t, valid = pb.time[k], pb.mask[k]
    P, t0, D = a["period"], a["t0"], a["duration"]
    ph = phase_mod(t, t0, P)
    ph = jnp.where(ph > 0.5, ph - 1.0, ph)
    intr = valid & (jnp.abs(ph) <= (D / 2.0) / P) & a["ok"]
    n_in = jnp.sum(intr, dtype=jnp.int32)
    n_out = jnp.where(a["ok"], pb.n_valid[k] - n_in, 0)
    oi, mi = px.compact(intr, n_in_pad)
    in_img, _ = px.frames_median(pb.flux[k], oi, mi)
    out_img, _ = px.median_excluding_frames(st.vs[k], st.rank_p[k], st.n_fin[k], oi, mi)
    real = pb.pix_mask[k]
    diff = jnp.where(real, out_img - in_img, jnp.nan)
    annulus = (thr["annulus_inner"], thr["annulus_outer"])
    feats = image_features(
        diff,
        real,
        pb.aperture[k],
        pb.row[k],
        pb.col[k],
        pb.n_rows[k],
        pb.n_cols[k],
        annulus,
        thr["prf_sigma"],
    )
    return dict(diff_image=diff, n_in=n_in, n_out=n_out, **feats)


@partial(jax.jit, static_argnames=("n_in_pad",))
def _chunk(a, st, pb, thr, **static):
    return jax.vmap(lambda aa: _pair_kernel(st, pb, aa, thr, **static))(a)


def _n_in_pad(ctx: VetContext, pairs: pp.PairBatch, prep: sx.Prepared) -> int:
    """Bucketed in-transit set width from one host look at the pairs' stamps (with a margin)."""
    cb = pairs.cb
    P, t0, D = (np.asarray(v)[: pairs.n] for v in (cb.period, cb.t0, cb.duration))
    n_max = 1
    for st in np.unique(pairs.stamp):
        t = prep.preps[int(st)].window_time
        sel = pairs.stamp == st
        ph = np.mod((t[None, :] - t0[sel, None]) / P[sel, None], 1.0)
        ph = np.where(ph > 0.5, ph - 1.0, ph)
        n = np.sum(np.abs(ph) <= (D[sel, None] / 2 / P[sel, None]) * (1 + 1e-7) + 1e-12, axis=1)
        n_max = max(n_max, int(n.max(initial=0)))
    t_pad = pairs.group.pb.n_cadences
    return ctx.shapes.at_least("V20.n_in_pad", min(bucket_size(n_max, 16), t_pad))


def ghost_features_pairs(ctx: VetContext, pairs: pp.PairBatch, prep: sx.Prepared, opts: V20Options) -> dict:
    """The V20 kernel for the (candidate, stamp) pairs of one stamp group (device arrays)."""
    cb = pairs.cb
    ok = np.asarray(cb.valid)
    n_in_pad = _n_in_pad(ctx, pairs, prep)
    arrays = pp.candidate_columns(cb, ok)
    npix = pairs.group.pb.n_pixels
    chunk = pp.pair_chunk(ctx, 2 * n_in_pad * npix, cb.size, scale=PAIR_BUDGET_SCALE)
    fn = partial(_chunk, n_in_pad=n_in_pad)
    return map_rows(fn, arrays, cb.size, chunk, args=(pairs.group.stats, pairs.group.pb, opts.traced()))


#: V20 for every candidate and stamp slot: ``(ctx, prep, opts) ->`` device arrays (B, S, ...)
ghost_features_stamps = pp.kernel_over_stamps(ghost_features_pairs)


# ---------------------------------------------------------------------------------------------
# check contract
# ---------------------------------------------------------------------------------------------
SUMMARY = ("ghost_like_score", "scattered_light_risk", "aperture_contrast", "in_aperture_depth")


def _verdict(per: dict, opts: V20Options):
    t = opts.traced()
    ghost, risk = per["ghost_like_score"], per["scattered_light_risk"]
    enough = (per["n_in"] >= t["min_in_transit_cadences"]) & jnp.isfinite(per["in_aperture_depth"])
    warn = (ghost >= t["ghost_warn"]) | (risk >= t["scattered_light_warn"])
    return graded_verdict(enough, ghost >= t["ghost_fail"], warn)


def compute(ctx: VetContext, opts: V20Options) -> dict:
    """Device tree: ``ps_<name>`` (B, S) per slot, the first slot's summary."""

    def finish(per, prep):
        has_ap = np.array([s.aperture_mask is not None for s in prep.stamps])[sx.slot_stamps(ctx)]
        ok = jnp.asarray(has_ap) & (per["n_in"] > 0) & (per["n_out"] > 0)
        return pp.slot_tree(pp.with_verdict(per, ok, _verdict(per, opts)), {m: m for m in SUMMARY})

    return pp.stamp_check(ctx, opts, SUMMARY, ghost_features_stamps, finish)


def _skipped(g, stamp) -> CheckResult:
    if stamp.aperture_mask is None:
        return skipped_result(
            ID, NAME, "NO_APERTURE_MASK", notes=["TPF aperture_mask missing; cannot compute ghost features"]
        )
    why = "No in-transit data points found" if int(g("n_in")) == 0 else "No out-of-transit data points found"
    return sx.insufficient_result(ID, NAME, why, stamp)


def _float(v) -> float:
    """A metric as the reference writes it (``inf`` stays ``inf``; NaN stays NaN)."""
    return float(v)


def sector_result(
    ctx: VetContext, a: dict, i: int, s: int, prep: sx.Prepared, opts: V20Options
) -> CheckResult:
    """Format candidate ``i`` on its stamp slot ``s`` as a V20 result."""
    g = lambda name: a[f"ps_{name}"][i, s]  # noqa: E731
    stamp = prep.preps[int(sx.slot_stamps(ctx)[i, s])].stamp
    if int(g("status")) != OK:
        return _skipped(g, stamp)
    ref = {m: _float(g(m)) for m in FEATURES}
    ref["aperture_pixels_used"] = int(g("aperture_pixels_used"))
    metrics = {
        **ref,
        "aperture_sign_consistent": bool(g("aperture_sign_consistent")),
        "n_in_transit_cadences": int(g("n_in")),
        "n_out_of_transit_cadences": int(g("n_out")),
        "sector": stamp.sector,
    }
    nr, nc = stamp.stamp_shape
    diff = np.asarray(g("diff_image"))[: nr * nc].reshape(nr, nc)
    crop, r0, c0 = sx.crop(diff)
    ap = np.asarray(stamp.aperture_mask)[r0 : r0 + crop.shape[0], c0 : c0 + crop.shape[1]]
    raw = {
        "sector": stamp.sector,
        **ref,
        "aperture_sign_consistent": metrics["aperture_sign_consistent"],
        "stamp_shape": [nr, nc],
        "tpf_shape": list(stamp.shape),
        "plot_data": {
            "version": 1,
            "difference_image": crop.astype(float).tolist(),
            "aperture_mask": ap.astype(bool).tolist(),
            "in_aperture_depth": ref["in_aperture_depth"],
            "out_aperture_depth": ref["out_aperture_depth"],
            "ghost_like_score": ref["ghost_like_score"],
            "scattered_light_risk": ref["scattered_light_risk"],
            "sector": stamp.sector,
        },
    }
    return pp.slot_result(
        (ID, NAME),
        g,
        confidence=None,
        flags=[],
        metrics=metrics,
        raw=raw,
        notes=list(stamp.notes),
    )


def format(ctx: VetContext, opts: V20Options, a: dict) -> list[CheckResult]:
    """One result per candidate from the host copy ``a`` of :func:`compute`."""
    return sx.format_per_stamp(ctx, opts, a, sector_result, (ID, NAME), "ghost-feature analysis")


SPEC = CheckSpec(
    ID,
    NAME,
    compute,
    format,
    options=V20Options,
    summary_metrics=SUMMARY,
    needs_tpf=True,
    description="Ghost features: difference-image shape scores for ghosts and scattered light",
)
