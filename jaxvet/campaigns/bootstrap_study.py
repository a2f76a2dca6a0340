"""Bootstrap studies: confidence intervals on V01/V04/V21 statistics by resampling whole units.

For one candidate, :func:`bootstrap_statistics` resamples whole *transits* (epochs) or whole
*sectors* with replacement -- e.g. 10,000 resamples in one call -- and recomputes a check's
aggregate statistic for every resample, giving its bootstrap distribution, percentiles and a
percentile confidence interval (Efron 1979, Ann. Statist. 7, 1; Efron & Tibshirani 1993,
*An Introduction to the Bootstrap*, ch. 13).  Resampling whole transits or sectors keeps the
correlated (red) noise inside each unit intact -- a block bootstrap (Kuensch 1989, Ann. Statist.
17, 1217) with the natural blocks of a transit light curve.

Design
------
1. Per-unit quantities are measured once: per-epoch depths, uncertainties and sums with the
   shared V01/V04 kernel :func:`jaxvet.core.epochs.measure_epochs`; per-sector depths with the
   reference estimator :func:`jaxvet.core.depth.sector_transit_depths` (as V21 does).
2. A resample is a vector of multinomial *counts* over the units: unit ``j`` of resample ``r``
   draws a unit uniformly from its stratum, with the key ``fold_in(key(seed), r)`` -- so sample
   ``r`` does not depend on ``n_resamples`` or on the batch size.  Counts over sectors become
   counts over epochs through the sector-membership matrix (``C_epoch = C_sector @ M``).
3. V01 is evaluated by its own aggregate (:func:`jaxvet.checks.v01_odd_even.odd_even_statistics`)
   on the epoch table of each resample (:func:`resampled_table`: epoch ``j`` repeated
   ``counts[r, j]`` times), so a resample gets exactly V01's medians, coverage gate and noise
   model.  V04's and V21's statistics are written as functions of the counts: sums are matrix
   products ``C @ x``, and medians of the resampled multiset are weighted order statistics (one
   sort of the units, then cumulative counts).  All resamples of a block are evaluated in one
   vectorised call; with all counts equal to 1 the same code gives the observed value (the
   checks' own metrics).

Statistics (``"CHECK.name"``)
-----------------------------
* V01 (parity-stratified for ``unit="transit"``: odd epochs are drawn among odd ones, even
  among even, so both parities keep their counts): ``delta_sigma``, ``rel_diff``,
  ``depth_odd_ppm``, ``depth_even_ppm``, ``depth_err_odd_ppm``, ``depth_err_even_ppm``,
  ``delta_ppm`` (the reference's per-epoch-median method) and ``oe_box_sigma``,
  ``oe_box_rel_diff`` (the OE_box statistic of :mod:`jaxvet.checks.v01_odd_even`, over the
  epochs that pass its coverage gate, with its red-noise floor; default V01 options).  A
  resample with fewer than 2 transits or 20 in-transit points in a parity, or fewer than 2
  covered transits in a parity, is *insufficient* (NaN).
* V04 (epochs with a positive depth): ``chi2_reduced``, ``mean_depth_ppm``,
  ``depth_scatter_ppm``, ``rms_scatter``, ``d_mean_w_ppm``, ``d_med_ppm``,
  ``expected_scatter_ppm``, ``s_max``, ``s_median``, ``dom_ratio``, ``dom_frac``, ``dmm``,
  ``dmm_abs``.  Fewer than 2 epochs gives NaN.
* V21 (``unit="sector"`` only): ``chi2_p_value``, ``chi2``,
  ``weighted_mean_ppm`` over the positive-depth sectors; a resampled sector counts once per
  draw.  Fewer than 2 positive draws gives NaN.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.stats import chi2_sf
from jaxvet.data import Candidate, CandidateBatch, LightCurve, LightCurveBatch, bucket_size
from jaxvet.errors import JaxvetInputError

__all__ = [
    "STATISTICS",
    "UNITS",
    "bootstrap_statistics",
    "draw_counts",
    "weighted_median",
    "v01_statistics",
    "v04_statistics",
    "v21_statistics",
]

UNITS = ("transit", "sector")
_V01 = (
    "delta_sigma",
    "rel_diff",
    "depth_odd_ppm",
    "depth_even_ppm",
    "depth_err_odd_ppm",
    "depth_err_even_ppm",
    "delta_ppm",
    "oe_box_sigma",
    "oe_box_rel_diff",
)
_V04 = (
    "chi2_reduced",
    "mean_depth_ppm",
    "depth_scatter_ppm",
    "rms_scatter",
    "d_mean_w_ppm",
    "d_med_ppm",
    "expected_scatter_ppm",
    "s_max",
    "s_median",
    "dom_ratio",
    "dom_frac",
    "dmm",
    "dmm_abs",
)
_V21 = ("chi2_p_value", "chi2", "weighted_mean_ppm")
#: every supported "CHECK.statistic"
STATISTICS = (
    tuple(f"V01.{s}" for s in _V01) + tuple(f"V04.{s}" for s in _V04) + tuple(f"V21.{s}" for s in _V21)
)
#: elements of the (resamples x units) blocks evaluated per call
_MAX_BLOCK = 1 << 22


# --------------------------------------------------------------------------------------------
# resampling
# --------------------------------------------------------------------------------------------
@partial(jax.jit, static_argnames=("n_units",))
def _counts_kernel(root, r_ids, stratum, order, offset, size, *, n_units: int):
    """Multinomial counts (R, U): each active unit slot draws one unit of its own stratum."""
    active = stratum >= 0
    s = jnp.where(active, stratum, 0)

    def one(r):
        u = jax.random.uniform(jax.random.fold_in(root, r), (n_units,), jnp.float64)
        k = jnp.minimum(jnp.floor(u * size[s]).astype(jnp.int32), size[s] - 1)
        member = order[jnp.clip(offset[s] + k, 0, n_units - 1)]
        return jnp.zeros(n_units, jnp.int32).at[member].add(active.astype(jnp.int32))

    return jax.vmap(one)(r_ids)


def draw_counts(seed: int, resample_ids, stratum) -> jax.Array:
    """Bootstrap counts ``(R, U)`` for resamples ``resample_ids`` over ``U`` units.

    ``stratum[j]`` (int) is unit ``j``'s stratum, ``-1`` for a unit that is never drawn.  Each
    stratum keeps its size: its ``n_s`` slots draw ``n_s`` units from it with replacement.
    Resample ``r`` uses the key ``fold_in(key(seed), r)`` (independent of batching).
    """
    stratum = np.asarray(stratum, np.int64)
    u = stratum.size
    big = np.iinfo(np.int64).max
    order = np.argsort(np.where(stratum >= 0, stratum, big), kind="stable").astype(np.int32)
    n_s = int(stratum.max(initial=-1)) + 1
    size = np.array([np.sum(stratum == i) for i in range(max(n_s, 1))], np.int32)
    offset = (np.cumsum(size) - size).astype(np.int32)
    root = jax.random.key(int(seed) % 2**32)
    return _counts_kernel(
        root,
        jnp.asarray(np.asarray(resample_ids, np.uint32)),
        jnp.asarray(stratum.astype(np.int32)),
        jnp.asarray(order),
        jnp.asarray(offset),
        jnp.asarray(np.maximum(size, 1)),
        n_units=u,
    )


def weighted_median(values, counts, select):
    """numpy median of the multiset holding ``values[j]`` ``counts[r, j]`` times (where ``select``).

    ``values`` (U,), ``counts`` (R, U), ``select`` (U,) bool; returns ``(median (R,), n (R,))``
    with NaN where the multiset is empty.  One sort of the U values serves every resample.
    """
    v = jnp.where(select, values, jnp.inf)
    order = jnp.argsort(v)
    vs = v[order]
    cs = jnp.where(select[None, :], counts, 0)[:, order]
    cum = jnp.cumsum(cs, axis=1)
    n = cum[:, -1]
    last = vs.shape[0] - 1

    def kth(k):
        return vs[jnp.clip(jnp.sum(cum <= k[:, None], axis=1), 0, last)]

    med = 0.5 * (kth((n - 1) // 2) + kth(n // 2))
    return jnp.where(n > 0, med, jnp.nan), n


# --------------------------------------------------------------------------------------------
# statistics as functions of the counts
# --------------------------------------------------------------------------------------------
#: per-epoch fields of an EpochTable (and of its VariantTables): gathered per resample
_TABLE_EPOCH = ("epoch", "center", "n_in", "cadence", "coverage", "med_in", "sum_f_in", "sum_fw_in",
                "sum_w_in", "min_err_in")
#: the boolean per-epoch fields that say an epoch is present: False on a resample's empty slots
_PRESENT = ("slot",)
_VARIANT_PRESENT = ("used_global", "processed", "ok", "rn_applied", "rn_warn", "local_ok")


def resampled_table(tab, counts, *, width: int):
    """The :class:`~jaxvet.core.epochs.EpochTable` of ``R`` resamples of a one-row table.

    Row ``r`` holds epoch ``j`` ``counts[r, j]`` times (in epoch order), then empty slots up to
    ``width`` (>= every row's total); per-candidate fields are repeated.  V01's own aggregate
    (:func:`jaxvet.checks.v01_odd_even.odd_even_statistics`) on this table is V01 on the
    resampled multiset of transits: the same medians, coverage gate and noise model.
    """
    r = counts.shape[0]
    cum = jnp.cumsum(counts, axis=1)
    pos = jnp.arange(width)
    idx = jnp.clip(jax.vmap(lambda c: jnp.searchsorted(c, pos, side="right"))(cum), 0, counts.shape[1] - 1)
    filled = pos[None, :] < cum[:, -1:]

    def per_epoch(a):
        return a[0][idx]

    def per_row(a):
        return jnp.broadcast_to(a[0], (r, *a.shape[1:]))

    def variant(v):
        kw = {f.name: per_epoch(getattr(v, f.name)) for f in dataclasses.fields(v) if f.name != "half_window"}
        kw.update({k: kw[k] & filled for k in _VARIANT_PRESENT})
        return dataclasses.replace(v, half_window=per_row(v.half_window), **kw)

    kw = {k: per_epoch(getattr(tab, k)) for k in _TABLE_EPOCH}
    kw["slot"] = per_epoch(tab.slot) & filled
    kw.update({k: per_row(getattr(tab, k)) for k in ("guard", "active", "fold_sum", "fold_cnt",
                                                     "fold_half_range")})
    return dataclasses.replace(tab, v01=variant(tab.v01), v04=variant(tab.v04), **kw)


#: bootstrap name -> V01 aggregate name (and the ppm scale)
_V01_NAMES = {
    "delta_sigma": ("delta_sigma_raw", 1.0),
    "rel_diff": ("rel_diff_raw", 1.0),
    "depth_odd_ppm": ("median_odd", 1e6),
    "depth_even_ppm": ("median_even", 1e6),
    "depth_err_odd_ppm": ("sigma_odd", 1e6),
    "depth_err_even_ppm": ("sigma_even", 1e6),
    "delta_ppm": ("delta", 1e6),
    "oe_box_sigma": ("oe_box_sigma", 1.0),
    "oe_box_rel_diff": ("oe_box_rel_diff", 1.0),
}


@partial(jax.jit, static_argnames=("width",))
def v01_statistics(counts, tab, thr, min_tr, min_pts, *, width: int):
    """V01 statistics ``(R,)`` of epoch counts ``(R, E)`` over a one-row epoch table: V01's own
    aggregate on :func:`resampled_table`; NaN where a resample is insufficient."""
    from jaxvet.checks.v01_odd_even import odd_even_statistics

    h = odd_even_statistics(resampled_table(tab, counts, width=width), thr, min_tr, min_pts)
    bad = h["insufficient"] | h["gated_low"]
    return {k: jnp.where(bad, jnp.nan, h[name] * scale) for k, (name, scale) in _V01_NAMES.items()}


@jax.jit
def v04_statistics(counts, u):
    """V04 statistics for epoch counts ``(R, E)`` over the epochs with ``u["ok"]`` (depth > 0)."""
    sel = u["ok"]
    c = jnp.where(sel[None, :], counts, 0).astype(jnp.float64)
    d = jnp.where(sel, u["depth"], 0.0)
    s = jnp.where(sel, u["sigma"], 1.0)
    n = jnp.sum(c, axis=1)
    nn = jnp.maximum(n, 1.0)
    mean = (c @ d) / nn
    med, _ = weighted_median(u["depth"], counts, sel)
    std = jnp.sqrt(jnp.sum(c * (d[None, :] - mean[:, None]) ** 2, axis=1) / nn)  # two-pass
    s_ok = jnp.isfinite(s) & (s > 0)
    snr = jnp.where(s_ok, jnp.abs(d) / (jnp.where(s_ok, s, 1.0) + 1e-12), 0.0)
    used = c > 0
    s_max = jnp.max(jnp.where(used, snr[None, :], -jnp.inf), axis=1)
    s_med, _ = weighted_median(snr, counts, sel)
    ss2 = c @ (snr * snr)
    s_rms = jnp.sqrt(ss2 / nn)
    w = 1.0 / (s * s + 1e-12)
    d_mean_w = (c @ (w * d)) / (c @ w)
    chi_terms = jnp.where(s_ok, ((d[None, :] - mean[:, None]) / jnp.where(s_ok, s, 1.0)[None, :]) ** 2, 0.0)
    bad_sigma = jnp.any(used & ~s_ok[None, :], axis=1)
    chi2 = jnp.where(bad_sigma, 0.0, jnp.sum(c * chi_terms, axis=1))
    out = {
        "chi2_reduced": chi2 / jnp.maximum(n - 1.0, 1.0),
        "mean_depth_ppm": mean * 1e6,
        "depth_scatter_ppm": std * 1e6,
        "rms_scatter": jnp.where(mean > 0, std / jnp.where(mean > 0, mean, 1.0), 0.0),
        "d_mean_w_ppm": d_mean_w * 1e6,
        "d_med_ppm": med * 1e6,
        "expected_scatter_ppm": jnp.sqrt(c @ (s * s)) / nn * 1e6,
        "s_max": s_max,
        "s_median": s_med,
        "dom_ratio": s_max / (s_rms + 1e-12),
        "dom_frac": s_max**2 / (ss2 + 1e-12),
        "dmm": d_mean_w / (med + 1e-12),
        "dmm_abs": jnp.abs(d_mean_w - med) / (jnp.abs(med) + 1e-12),
    }
    return {k: jnp.where(n >= 2, v, jnp.nan) for k, v in out.items()}


@jax.jit
def v21_statistics(counts, u):
    """V21 chi-square consistency for sector counts ``(R, S)`` (positive-depth sectors)."""
    ok = u["valid"] & jnp.isfinite(u["depth_ppm"]) & jnp.isfinite(u["err_ppm"]) & (u["err_ppm"] > 0)
    pos = ok & (u["depth_ppm"] > 0)
    c = jnp.where(pos[None, :], counts, 0).astype(jnp.float64)
    err = jnp.where(pos, u["err_ppm"], 1.0)
    d = jnp.where(pos, u["depth_ppm"], 0.0)
    w = 1.0 / err**2
    sw = c @ w
    mu = (c @ (w * d)) / jnp.where(sw > 0, sw, 1.0)
    chi2 = jnp.sum(c * ((d[None, :] - mu[:, None]) / err[None, :]) ** 2, axis=1)
    n = jnp.sum(c, axis=1)
    dof = n - 1.0
    ok = (n >= 2) & (dof > 0)
    p = chi2_sf(chi2, jnp.maximum(dof, 1.0))
    return {
        "chi2_p_value": jnp.where(ok, p, jnp.nan),
        "chi2": jnp.where(ok, chi2, jnp.nan),
        "weighted_mean_ppm": jnp.where(sw > 0, mu, jnp.nan),
    }


# --------------------------------------------------------------------------------------------
# per-unit measurements (once per candidate)
# --------------------------------------------------------------------------------------------
def _v01_arguments(stratum, membership, *, n_epochs: int) -> dict:
    """V01's default thresholds (traced) and the static width of a resampled epoch table: the
    table's epochs, or for sector units every sector drawn as the one with the most epochs."""
    from jaxvet.checks.v01_odd_even import V01Options

    opts = V01Options.from_mapping(None)
    width = n_epochs
    if membership is not None:
        per_sector = np.asarray(membership).sum(axis=1)
        width = max(width, int(per_sector.max(initial=0)) * int(np.sum(np.asarray(stratum) >= 0)))
    return dict(
        thr=opts.traced(),
        min_tr=np.int64(opts.min_transits_per_parity),
        min_pts=np.int64(opts.min_points_in_transit_per_parity),
        width=bucket_size(width, 16),
    )


def _epoch_units(lcb: LightCurveBatch, cb: CandidateBatch) -> dict:
    from jaxvet.core.epochs import measure_epochs

    tab = measure_epochs(lcb, cb)
    g = lambda a: np.asarray(a)[0]  # noqa: E731
    v04 = tab.v04
    u01 = {"epoch": g(tab.epoch), "ok": g(tab.v01.ok)}  # the strata; V01 reads the table itself
    ok04 = g(v04.ok) & (np.nan_to_num(g(v04.depth)) > 0)
    u04 = {
        "ok": ok04,
        "depth": np.where(ok04, g(v04.depth), 0.0),
        "sigma": np.where(ok04, g(v04.sigma), 1.0),
    }
    return {"V01": u01, "V04": u04, "table": tab, "center": g(tab.center), "active": bool(g(tab.active))}


def _sector_units(lcb: LightCurveBatch, cb: CandidateBatch) -> dict:
    from jaxvet.core.depth import sector_transit_depths

    sd = sector_transit_depths(lcb, cb)
    sector = np.asarray(sd.sector)[0]
    n_in = np.asarray(sd.n_in)[0]
    present = sector >= 0
    return {
        "sector": sector,
        "valid": present & (n_in > 0),  # V21: quality_weight = 1 only with in-transit points
        "depth_ppm": np.asarray(sd.depth)[0] * 1e6,
        "err_ppm": np.asarray(sd.err)[0] * 1e6,
    }


def _epoch_sector_matrix(lc: LightCurve, centers: np.ndarray, sectors: np.ndarray) -> np.ndarray:
    """M (S, E): epoch e belongs to the sector whose data span contains (or is nearest to) it."""
    v = lc.valid
    t, sec = lc.time[v], lc.sector[v]
    m = np.zeros((sectors.size, centers.size))
    spans = []
    for s in sectors:
        ts = t[sec == s]
        spans.append((ts.min(), ts.max()) if ts.size and s >= 0 else (np.inf, -np.inf))
    spans = np.asarray(spans)
    for e, tc in enumerate(centers):
        if not np.isfinite(tc):
            continue
        dist = np.maximum(spans[:, 0] - tc, 0) + np.maximum(tc - spans[:, 1], 0)
        dist = np.where(np.isfinite(dist), dist, np.inf)
        if np.isfinite(dist).any():
            m[int(np.argmin(dist)), e] = 1.0
    return m


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def _parse_statistics(statistic) -> list[tuple[str, str]]:
    items = [statistic] if isinstance(statistic, str) else list(statistic)
    if not items:
        raise JaxvetInputError("statistic: give at least one of " + ", ".join(STATISTICS))
    out = []
    for s in items:
        key = str(s).strip()
        cid, _, name = key.partition(".")
        cid = cid.upper()
        if f"{cid}.{name}" not in STATISTICS:
            raise JaxvetInputError(f"statistic {s!r} is not supported; choose from {', '.join(STATISTICS)}")
        out.append((cid, name))
    return out


def _check_arguments(lc, candidate, stats, unit, n_resamples, seed, ci, percentiles, batch_size) -> None:
    """Raise JaxvetInputError naming the first bad argument of :func:`bootstrap_statistics`."""
    if not isinstance(lc, LightCurve):
        raise JaxvetInputError(f"lc must be a jaxvet LightCurve, got {type(lc).__name__}")
    if not isinstance(candidate, Candidate):
        raise JaxvetInputError(f"candidate must be a jaxvet Candidate, got {type(candidate).__name__}")
    if unit not in UNITS:
        raise JaxvetInputError(f"unit must be one of {UNITS}, got {unit!r}")
    if int(n_resamples) < 1:
        raise JaxvetInputError(f"n_resamples must be >= 1, got {n_resamples}")
    if not (0 <= int(seed) < 2**32):
        raise JaxvetInputError(f"seed must be in [0, 2**32), got {seed}")
    if not (0.0 < float(ci) < 1.0):
        raise JaxvetInputError(f"ci must be in (0, 1), got {ci}")
    for q in percentiles:
        if not (0.0 <= float(q) <= 100.0):
            raise JaxvetInputError(f"percentiles must be in [0, 100], got {q}")
    if batch_size is not None and int(batch_size) < 1:
        raise JaxvetInputError(f"batch_size must be >= 1, got {batch_size}")
    if unit == "transit" and any(cid == "V21" for cid, _ in stats):
        raise JaxvetInputError("V21 statistics are per sector: use unit='sector'")


def _strata(lc: LightCurve, unit: str, ep, sec):
    """Per check: the stratum of every unit (-1 = not resampled), unit labels, sector->epoch map."""
    if unit == "transit":
        u01 = ep["V01"]
        odd = np.mod(u01["epoch"], 2) == 1
        strata = {
            "V01": np.where(u01["ok"], odd.astype(np.int64), -1),
            "V04": np.where(ep["V04"]["ok"], 0, -1),
        }
        unit_labels = {"V01": u01["epoch"], "V04": ep["V01"]["epoch"]}
        membership = None
    else:
        strata_s = np.where(sec["sector"] >= 0, 0, -1)
        strata = {k: strata_s for k in ("V01", "V04")}
        strata["V21"] = np.where(sec["valid"], 0, -1)
        unit_labels = {"V01": sec["sector"], "V04": sec["sector"], "V21": sec["sector"]}
        membership = _epoch_sector_matrix(lc, ep["center"], sec["sector"]) if ep is not None else None

    return strata, unit_labels, membership


def _sample_summary(x: np.ndarray, percentiles, ci: float) -> dict:
    """Finite count, mean, std, percentiles and the central ``ci`` interval of samples ``x`` (R,)."""
    fin = np.isfinite(x)
    qs = [float(q) for q in percentiles]
    lo_q, hi_q = 50.0 * (1.0 - float(ci)), 50.0 * (1.0 + float(ci))
    pv = np.percentile(x[fin], qs + [lo_q, hi_q]) if fin.any() else np.full(len(qs) + 2, np.nan)
    return {
        "n_finite": int(fin.sum()),
        "mean": float(np.mean(x[fin])) if fin.any() else float("nan"),
        "std": float(np.std(x[fin])) if fin.any() else float("nan"),
        "percentiles": {q: float(v) for q, v in zip(qs, pv[: len(qs)], strict=True)},
        "ci": [float(pv[-2]), float(pv[-1])],
        "ci_level": float(ci),
    }


def bootstrap_statistics(
    lc: LightCurve,
    candidate: Candidate,
    statistic: str | Sequence[str] = "V04.chi2_reduced",
    *,
    n_resamples: int = 10_000,
    unit: str = "transit",
    seed: int = 0,
    ci: float = 0.68,
    percentiles: Sequence[float] = (2.5, 16.0, 50.0, 84.0, 97.5),
    return_samples: bool = True,
    batch_size: int | None = None,
) -> dict:
    """Bootstrap distribution of one or more V01/V04/V21 statistics for one candidate.

    Parameters
    ----------
    lc : the candidate's (stitched) host light curve.
    candidate : its :class:`~jaxvet.data.Candidate`.
    statistic : ``"V04.chi2_reduced"``, ... (see :data:`STATISTICS`) or a list of them.
    n_resamples : number of bootstrap resamples (all evaluated in vectorised calls).
    unit : ``"transit"`` (resample epochs; parity-stratified for V01) or ``"sector"``.
    seed : resample ``r`` uses ``fold_in(key(seed), r)``; same seed, same samples.
    ci : central confidence level of the percentile interval.
    percentiles : extra percentiles to report.
    batch_size : resamples per device call (default: blocks of ~4M count elements).

    Returns
    -------
    For one statistic, a dict with ``statistic``, ``unit``, ``n_resamples``, ``seed``,
    ``observed`` (the statistic on the data itself), ``samples`` (float64 array, NaN where a
    resample is insufficient), ``n_finite``, ``mean``, ``std``, ``percentiles`` (``{q: value}``),
    ``ci`` (``[lo, hi]``), ``ci_level``, ``n_units`` and ``units`` (the epochs or sectors
    resampled).  For a list, a dict mapping each statistic to such a dict.
    """
    stats = _parse_statistics(statistic)
    _check_arguments(lc, candidate, stats, unit, n_resamples, seed, ci, percentiles, batch_size)
    n_resamples = int(n_resamples)
    lcb = LightCurveBatch.from_lightcurves([lc])
    cb = CandidateBatch.from_candidates([candidate])
    checks = {cid for cid, _ in stats}
    ep = _epoch_units(lcb, cb) if checks & {"V01", "V04"} else None
    sec = _sector_units(lcb, cb) if (unit == "sector" or "V21" in checks) else None

    strata, unit_labels, membership = _strata(lc, unit, ep, sec)

    results = {}
    groups: dict[str, list[str]] = {}
    for cid, name in stats:
        groups.setdefault(cid, []).append(name)
    for cid, names in groups.items():
        stratum = strata[cid]
        n_units = int(stratum.size)
        m_dev = jnp.asarray(membership) if membership is not None and cid in ("V01", "V04") else None
        if cid == "V01":
            units_dev = ep["table"]
            fn = partial(v01_statistics, **_v01_arguments(stratum, membership, n_epochs=len(ep["V01"]["ok"])))
        else:
            units_dev = {k: jnp.asarray(v) for k, v in (ep[cid] if cid == "V04" else sec).items()}
            fn = {"V04": v04_statistics, "V21": v21_statistics}[cid]

        def evaluate(counts_units, fn=fn, units_dev=units_dev, m_dev=m_dev):
            if m_dev is not None:  # sector counts -> epoch counts: C_epoch = C_sector @ M
                counts_units = jnp.round(counts_units.astype(jnp.float64) @ m_dev).astype(jnp.int32)
            return fn(counts_units, units_dev)

        observed_counts = (stratum >= 0).astype(np.int32)[None, :]
        observed = {k: float(np.asarray(v)[0]) for k, v in evaluate(jnp.asarray(observed_counts)).items()}
        bs = int(batch_size) if batch_size is not None else max(1, _MAX_BLOCK // max(n_units, 1))
        samples = {k: np.empty(n_resamples) for k in names}
        for lo in range(0, n_resamples, bs):
            ids = np.arange(lo, min(lo + bs, n_resamples))
            block = evaluate(draw_counts(seed, ids, stratum))
            for k in names:
                samples[k][lo : lo + ids.size] = np.asarray(block[k])
        n_used = int(np.sum(stratum >= 0))
        for name in names:
            res = _sample_summary(samples[name], percentiles, ci)
            res = {"statistic": f"{cid}.{name}", "unit": unit, "n_resamples": n_resamples, "seed": int(seed),
                   "observed": observed[name] if math.isfinite(observed[name]) else float("nan"), **res,
                   "n_units": n_used,
                   "units": [int(v) for v in np.asarray(unit_labels[cid])[stratum >= 0]]}
            if return_samples:
                res["samples"] = samples[name]
            results[f"{cid}.{name}"] = res
    if isinstance(statistic, str):
        return results[next(iter(results))]
    return results
