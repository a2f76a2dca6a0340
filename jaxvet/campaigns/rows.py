"""One chunk of a light-curve campaign: build its injections, vet them, tabulate the rows.

The ``K`` injected rows and candidates of a chunk are built on the device in one program
(:func:`jaxvet.campaigns.injection.build_injection_batch`); every check is dispatched on them
(the checks in threads, as :func:`jaxvet.vet` does), and the results of all checks come back
to the host in one copy per chunk.  Host views of the injected light curves and candidates are
built only if a check asks for them.  Each row gets the run-level signal record of
:func:`jaxvet.vet` (:mod:`jaxvet.engine.signal`: the whole-light-curve depth, its SNR, the
transits on the data and the flags ``NO_SIGNAL`` / ``NO_TRANSIT_ON_DATA``, columns ``signal_*``)
and its ``disposition`` (class and reasons) from the shipped policy on the formatted results of
the checks that policy names and those flags, as ``vet`` disposes a candidate.  The scalar
metrics of every formatted result that are not summary columns are added too (``<id>_<metric>``),
so that the rows can be disposed again offline under another policy.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.campaigns.injection import KINDS, PARAM_COLUMNS, InjectionConfig, build_injection_batch
from jaxvet.core.depth import sector_transit_depths
from jaxvet.data import Candidate, LightCurve, LightCurveBatch
from jaxvet.engine.context import CheckSpec, VetContext, to_host
from jaxvet.engine.runner import resolve_threads
from jaxvet.engine.signal import signal_records, transits_on_data
from jaxvet.results import STATUS_NAMES, VERDICT_NAMES

__all__ = ["chunk_rows", "vet_chunk"]


class _LazyRows(Sequence):
    """A read-only sequence of ``n`` items built on demand by ``_item(i)`` (slices give lists)."""

    _n: int

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return self._item(i % self._n)


class _RowLightCurves(_LazyRows):
    """``ctx.lightcurves``: row ``i`` of the injected batch as a host LightCurve, on demand.

    Time, errors and sectors are those of the row's base light curve (host arrays, shared);
    only the injected flux comes from the device, in one transfer for the whole chunk.
    """

    def __init__(self, lcb: LightCurveBatch, n: int, base: Sequence[LightCurve], row_base: np.ndarray):
        self._lcb, self._n, self._row_base = lcb, n, row_base
        self._base = base
        self._flux = None
        self._cache: dict[int, LightCurve] = {}
        self._valid: dict[int, np.ndarray] = {}

    def _item(self, i):
        if i not in self._cache:
            if self._flux is None:
                self._flux = np.asarray(self._lcb.flux)
            li = int(self._row_base[i])
            base = self._base[li]
            if li not in self._valid:
                self._valid[li] = base.valid
            v = self._valid[li]
            m = int(v.sum())
            self._cache[i] = LightCurve(
                time=base.time[v],
                flux=self._flux[i, :m],
                flux_err=base.flux_err[v],
                sector=base.sector[v],
                target=base.target,
                source="injection",
                quality_bitmask=base.quality_bitmask,
            )
        return self._cache[i]


class _Candidates(_LazyRows):
    """``ctx.candidates``: the injected ephemerides as :class:`Candidate`, on demand."""

    def __init__(self, params: Mapping[str, np.ndarray], n: int, cfg: InjectionConfig):
        self._p, self._n, self._cfg = params, n, cfg

    def _item(self, i):
        p = self._p
        r, m = self._cfg.stellar_radius, self._cfg.stellar_mass
        return Candidate(
            period_days=float(p["period_days"][i]),
            t0_btjd=float(p["t0_btjd"][i]),
            duration_hours=float(p["duration_hours"][i]),
            depth_ppm=float(p["depth_ppm"][i]),
            stellar_radius=None if math.isnan(r) else r,
            stellar_mass=None if math.isnan(m) else m,
            id=f"inj{int(p['injection_id'][i])}",
        )


def _status_columns(spec: CheckSpec, host, n: int, cols: dict) -> None:
    """Status, verdict and summary-metric columns of ``spec`` from its host tree (None: errored)."""
    if host is None:
        status = np.full(n, STATUS_NAMES.index("error"))
        verdict = np.full(n, -1)
        metrics = {m: np.full(n, np.nan) for m in spec.summary_metrics}
    else:
        status = np.asarray(host["status"])[:n].astype(np.int64)
        verdict = np.asarray(host["verdict"])[:n].astype(np.int64)
        metrics = {}
        for m in spec.summary_metrics:
            v = np.asarray(host[m])[:n]
            metrics[m] = v.astype(np.float64) if v.dtype != object else v
    cols[f"{spec.id}_status"] = np.asarray([STATUS_NAMES[int(s)] for s in status], dtype=object)
    cols[f"{spec.id}_verdict"] = np.asarray(
        ["none" if int(v) < 0 else VERDICT_NAMES[int(v)] for v in verdict], dtype=object
    )
    for m, v in metrics.items():
        cols[f"{spec.id}_{m}"] = np.asarray([str(x) for x in v], dtype=object) if v.dtype == object else v


def _whole_depths(lcb: LightCurveBatch, cb):
    """(B, 3) depth, error and in-transit points of the reference's depth estimate on each row's
    whole light curve (every valid point one "sector"), as :func:`jaxvet.vet`'s signal record."""
    whole = dataclasses.replace(
        lcb,
        sector=jnp.where(lcb.mask, 0, -1).astype(lcb.sector.dtype),
        sector_index=jnp.where(lcb.mask, 0, lcb.sector_ids.shape[1]).astype(lcb.sector_index.dtype),
        sector_ids=jnp.full_like(lcb.sector_ids, -1).at[:, 0].set(0),
    )
    sd = sector_transit_depths(whole, cb)
    return jnp.stack([sd.depth[:, 0], sd.err[:, 0], sd.n_in[:, 0].astype(sd.depth.dtype)], -1)


def _signal_columns(
    batch, params: Mapping[str, np.ndarray], base: Sequence[LightCurve], n: int, cols: dict
) -> list[list[str]]:
    """The rows' signal records (columns ``signal_depth_ppm``, ``signal_snr``,
    ``signal_n_transits``, ``signal_flags``); returns each row's run-level flags."""
    measured = np.asarray(_whole_depths(batch.lcb, batch.cb))[:n]
    n_tr = np.zeros(n, int)
    li = params["lc_index"].astype(np.int64)
    for row in np.unique(li):  # one vectorised call per base light curve
        sel = np.nonzero(li == row)[0]
        lc = base[int(row)]
        t = np.sort(np.asarray(lc.time)[np.asarray(lc.valid)])
        n_tr[sel] = transits_on_data(
            t, params["period_days"][sel], params["t0_btjd"][sel], params["duration_hours"][sel] / 24.0
        )
    rec = signal_records(*measured.T, n_tr)
    nan = float("nan")
    cols["signal_depth_ppm"] = np.asarray([nan if r["depth_ppm"] is None else r["depth_ppm"] for r in rec])
    cols["signal_snr"] = np.asarray([r["snr"] if r["snr"] is not None else nan for r in rec])
    cols["signal_n_transits"] = n_tr.astype(np.int32)
    cols["signal_flags"] = np.asarray([";".join(r["flags"]) for r in rec], dtype=object)
    return [r["flags"] for r in rec]


def _scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, np.integer, np.floating, np.bool_))


def _metric_columns(results: Sequence[Mapping[str, Any]], cols: dict) -> None:
    """``<id>_<metric>`` columns for every scalar metric of the formatted results not already a
    column: numbers and booleans as float (NaN where missing), text as text, a metric missing in
    every row of the chunk as nulls (so that the parts of a campaign concatenate).  A metric that
    is a list or a mapping in any row of the chunk (None in others) is not a column."""
    names: dict[str, set] = {}
    nested: dict[str, set] = {}
    for res in results:
        for cid, r in res.items():
            names.setdefault(cid, set()).update(k for k, v in r.metrics.items() if _scalar(v))
            nested.setdefault(cid, set()).update(k for k, v in r.metrics.items() if not _scalar(v))
    for cid in sorted(names):
        for m in sorted(names[cid] - nested[cid]):
            key = f"{cid}_{m}"
            if key in cols:
                continue
            vals = [res[cid].metrics.get(m) if cid in res else None for res in results]
            if all(v is None for v in vals):
                cols[key] = np.asarray(vals, dtype=object)
            elif any(isinstance(v, str) for v in vals):
                cols[key] = np.asarray(["" if v is None else str(v) for v in vals], dtype=object)
            else:
                cols[key] = np.asarray([np.nan if v is None else float(v) for v in vals], np.float64)


def _disposition_columns(
    ctx: VetContext,
    specs: Sequence[CheckSpec],
    host: Mapping[str, Any],
    opts: Mapping[str, Any],
    n: int,
    cols: dict,
    flags: Sequence[Sequence[str]],
) -> None:
    """``disposition`` and ``disposition_reasons`` columns: the default policy
    (:mod:`jaxvet.disposition`) on each row's formatted results and its run-level ``flags``
    (a check that errored contributes nothing), plus the metric columns of every check."""
    from jaxvet.disposition import default_policy, dispose_many

    policy = default_policy()
    results: list[dict] = [{} for _ in range(n)]
    for spec in specs:
        if host.get(spec.id) is not None:
            for j, r in enumerate(spec.finish(ctx, host[spec.id], opts.get(spec.id))[:n]):
                results[j][spec.id] = r
    disp = dispose_many(results, flags, policy)
    cols["disposition"] = np.asarray([d["class"] for d in disp], dtype=object)
    cols["disposition_reasons"] = np.asarray([";".join(d["reasons"]) for d in disp], dtype=object)
    _metric_columns(results, cols)


def vet_chunk(
    ctx: VetContext,
    specs: Sequence[CheckSpec],
    opts: Mapping[str, Any],
    *,
    record_errors: bool = False,
    warned: set | None = None,
) -> tuple[dict[str, Any], dict[str, float], dict[str, str]]:
    """Dispatch every check on ``ctx`` and copy all their results to the host once.

    Returns ``(host trees by check id, dispatch seconds by check id, errors by check id)``.
    A check that raises stops the campaign, unless ``record_errors``: then its error
    (``"Type: message"``) is recorded, its tree is None and the other checks go on.
    """

    def dispatch(spec):
        t = time.perf_counter()
        if not record_errors:
            return spec.dispatch(ctx, opts.get(spec.id)), time.perf_counter() - t, None
        try:
            return spec.dispatch(ctx, opts.get(spec.id)), time.perf_counter() - t, None
        # a long campaign opted in to recording a failing check per chunk instead of stopping:
        # any exception of the check is the record (type and message), nothing is hidden
        except Exception as exc:  # noqa: BLE001
            return None, time.perf_counter() - t, f"{type(exc).__name__}: {exc}"

    n_threads = min(resolve_threads(None, len(specs)), len(specs))
    if n_threads > 1:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="jaxvet-campaign") as pool:
            done = list(pool.map(dispatch, specs))
    else:
        done = [dispatch(spec) for spec in specs]
    trees = {s.id: tree for s, (tree, _, err) in zip(specs, done, strict=True) if err is None}
    host = {cid: to_host(t) for cid, t in jax.device_get(trees).items()}  # one copy per chunk
    seconds = {s.id: sec for s, (_, sec, _) in zip(specs, done, strict=True)}
    errors = {s.id: err for s, (_, _, err) in zip(specs, done, strict=True) if err is not None}
    for cid, err in errors.items():
        if warned is not None and cid not in warned:
            warned.add(cid)
            print(f"jaxvet campaign: check {cid} raised {err}", file=sys.stderr)
    return host, seconds, errors


def chunk_rows(
    c: int,
    cfg,
    specs: Sequence[CheckSpec],
    opts: Mapping[str, Any],
    run: Mapping[str, Any],
    check_seconds: dict,
    warned: set,
    *,
    record_errors: bool = False,
):
    """Build, vet and tabulate chunk ``c`` of the campaign ``cfg``; returns a pyarrow Table.

    ``run`` holds the campaign's device inputs: ``base`` (LightCurveBatch), ``stats``,
    ``lcs`` (host base light curves), ``targets`` (names) and ``sharding`` (or None).
    """
    import pyarrow as pa

    ids = cfg.chunk_ids(c)
    n = ids.size
    t = time.perf_counter()
    batch = build_injection_batch(
        run["base"],
        run["stats"],
        ids,
        cfg.seed,
        cfg.injection,
        pad_to=cfg.chunk_size,
        sharding=run["sharding"],
    )
    if run.get("false_alarms") is not None:  # inverted / scrambled copies and their search peaks
        from jaxvet.campaigns.false_alarms import apply_false_alarms

        batch = apply_false_alarms(batch, run["base"], run["false_alarms"], cfg.seed, n)
    params = {k: np.asarray(v)[:n] for k, v in batch.params.items()}
    check_seconds["inject"] = check_seconds.get("inject", 0.0) + time.perf_counter() - t
    row_targets = [run["targets"][int(i)] for i in params["lc_index"]]
    ctx = VetContext(
        lightcurves=_RowLightCurves(batch.lcb, n, run["lcs"], params["lc_index"]),
        lcb=batch.lcb,
        candidates=_Candidates(params, n, cfg.injection),
        cb=batch.cb,
        seed=cfg.seed,
        options={k: dict(v) for k, v in cfg.options.items()},
        candidate_ids=params["injection_id"].astype(np.int64),
    )
    cols: dict[str, Any] = {
        "injection_id": params["injection_id"].astype(np.int64),
        "chunk": np.full(n, c, np.int32),
        "kind": np.asarray([KINDS[int(k)] for k in params["kind"]], dtype=object),
        "target": np.asarray([str(x) if x is not None else "" for x in row_targets], dtype=object),
    }
    for name in PARAM_COLUMNS + tuple(k for k in ("search_snr", "search_power") if k in params):
        if name == "kind":
            continue
        a = params[name]
        cols[name] = a.astype(np.int32) if name in ("lc_index", "n_in_transit") else a.astype(np.float64)
    host, seconds, errors = vet_chunk(ctx, specs, opts, record_errors=record_errors, warned=warned)
    for spec in specs:
        # wall seconds of each check's dispatch (they overlap when the checks run in threads)
        check_seconds[spec.id] = check_seconds.get(spec.id, 0.0) + seconds[spec.id]
        _status_columns(spec, host.get(spec.id), n, cols)
    t = time.perf_counter()
    flags = _signal_columns(batch, params, run["lcs"], n, cols)
    _disposition_columns(ctx, specs, host, opts, n, cols, flags)
    check_seconds["disposition"] = check_seconds.get("disposition", 0.0) + time.perf_counter() - t
    if record_errors:
        msg = "; ".join(f"{cid}: {e}" for cid, e in errors.items())
        cols["error"] = np.asarray([msg] * n, dtype=object)
    return pa.table({k: pa.array(v) for k, v in cols.items()})
