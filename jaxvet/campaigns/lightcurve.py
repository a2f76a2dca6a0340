"""Injection-recovery campaigns: thousands to millions of synthetic signals, every one vetted.

``jaxvet campaign LC_FILE ... --n-injections N --kinds planet,eb --checks V01,V04,V05 --out DIR``
(or :func:`run_campaign` from Python) plants ``N`` synthetic planets and eclipsing binaries
(:mod:`jaxvet.campaigns.injection`) into real light curves -- or, with no file, into the simulated light
curve of ``jaxvet demo`` -- vets each one with the chosen checks, and aggregates how often every
check keeps real planets and rejects eclipsing binaries, as a function of SNR and period.

How a campaign runs
-------------------
* Injections are processed in chunks of ``K`` (``--chunk-size``; default: as many as keep one
  ``K x N`` float64 array near 2**24 elements).  For each chunk one jitted program builds the
  ``K`` injected light-curve rows and candidates on the device; then every check's batched
  ``compute`` runs on them (each injection is its own light-curve row, so memory is bounded).
* Parameters and random keys derive from ``(seed, injection_id)`` with ``jax.random.fold_in``:
  they do not depend on the chunking, the device count or the resume point; a check's own
  bootstrap keys derive from ``(seed, injection_id)`` too (``VetContext.candidate_ids``).
* Every chunk's rows go to ``DIR/results/part-NNNNN.parquet`` (chunk ``NNNNN``), written
  atomically: a temporary file in the same directory, ``fsync``, ``os.replace`` -- a crash or
  Ctrl-C never leaves a half-written part.  ``DIR/config.json`` holds the configuration;
  ``--resume`` skips the chunks whose part exists (and has the right number of rows) and refuses
  a different configuration, so an interrupted-and-resumed run has exactly the rows of an
  uninterrupted one.
* ``DIR/summary.json`` holds, for each kind, check and SNR bin, ``{"kind", "check", "snr_bin":
  [lo, hi], "n", "n_insufficient", "fail_fraction", ...}`` under ``"rates"`` (``n`` counts the
  decided verdicts pass/warn/fail; ``fail_fraction = fails / n``; ``hi = null`` is an open bin),
  the same by period under ``"rates_by_period"``, the configuration and timings.  Plots of the
  recovery (planets kept = 1 - fail fraction) and rejection (eclipsing binaries failed) rates
  against SNR and period are written beside it (``rates_vs_snr.png``, ``rates_vs_period.png``).
* A tqdm progress bar with rate and ETA goes to stderr.

Devices
-------
The chunk axis is sharded over every local JAX device (a 1-D :class:`jax.sharding.Mesh` named
``"batch"`` and ``NamedSharding(mesh, P("batch"))``; the base light curves are replicated), so a
chunk runs on all GPUs (or host devices) at once; the chunk size is rounded up to a multiple of
the device count.  For several hosts, start one process per host with the same arguments after
``jax.distributed.initialize(...)`` (see ``docs/campaigns.md``): process ``i`` of ``n`` computes
the chunks ``c`` with ``c % n == i`` on its local devices and writes their parts to the shared
``--out`` directory; process 0 waits for all processes and writes the summary.  Without
``jax.distributed`` (a batch-system job array), ``--process-index i --process-count n`` gives
the same split; each job skips parts that exist and the job that completes the set writes the
summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
import types
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxvet._version import __version__
from jaxvet.campaigns.injection import (
    KINDS,
    PARAM_COLUMNS,
    InjectionConfig,
    base_stats,
    build_injection_batch,
)
from jaxvet.checks import get_check
from jaxvet.data import Candidate, LightCurve, LightCurveBatch, bucket_size
from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.engine.runner import resolve_threads
from jaxvet.errors import JaxvetInputError
from jaxvet.results import STATUS_NAMES, VERDICT_NAMES, to_jsonable

__all__ = [
    "run_campaign",
    "CampaignConfig",
    "add_campaign_arguments",
    "run_campaign_command",
    "campaign_rates",
    "read_results",
    "summarize",
    "DEFAULT_SNR_BINS",
    "DEFAULT_PERIOD_BINS",
    "DEFAULT_CHECKS",
]

DEFAULT_CHECKS = ("V01", "V04", "V05")
DEFAULT_SNR_BINS = (0.0, 3.0, 5.0, 7.1, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, math.inf)
DEFAULT_PERIOD_BINS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, math.inf)
#: elements of one (K x N) array a chunk aims at
TARGET_CHUNK_ELEMENTS = 2**24
CONFIG_VERSION = 1
PART_PREFIX = "part-"


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class CampaignConfig:
    """Everything that determines a campaign's rows (``identity``) plus summary settings."""

    n_injections: int
    checks: tuple[str, ...]
    seed: int
    chunk_size: int
    injection: InjectionConfig
    lightcurves: list[dict]
    options: dict
    snr_bins: tuple[float, ...] = DEFAULT_SNR_BINS
    period_bins: tuple[float, ...] = DEFAULT_PERIOD_BINS

    def identity(self) -> dict:
        """The part that must match for ``--resume`` (JSON-normalised)."""
        return json.loads(
            json.dumps(
                to_jsonable(
                    {
                        "config_version": CONFIG_VERSION,
                        "n_injections": self.n_injections,
                        "checks": list(self.checks),
                        "seed": self.seed,
                        "chunk_size": self.chunk_size,
                        "injection": self.injection.to_dict(),
                        "lightcurves": self.lightcurves,
                        "options": self.options,
                    }
                ),
                sort_keys=True,
            )
        )

    def to_dict(self) -> dict:
        d = self.identity()
        d["snr_bins"] = _bins_json(self.snr_bins)
        d["period_bins"] = _bins_json(self.period_bins)
        d["jaxvet_version"] = __version__
        d["jax_version"] = jax.__version__
        return d

    @property
    def n_chunks(self) -> int:
        return -(-self.n_injections // self.chunk_size)

    def chunk_ids(self, c: int) -> np.ndarray:
        lo = c * self.chunk_size
        return np.arange(lo, min(lo + self.chunk_size, self.n_injections), dtype=np.int64)


def _bins_json(bins) -> list:
    return [None if not math.isfinite(b) else float(b) for b in bins]


def _parse_bins(name: str, bins) -> tuple[float, ...]:
    if isinstance(bins, str):
        bins = [b for b in bins.split(",") if b.strip()]
    try:
        out = tuple(
            math.inf if (b is None or str(b).strip().lower() in ("inf", "none")) else float(b) for b in bins
        )
    except (TypeError, ValueError):
        raise JaxvetInputError(f"{name} must be numbers (ascending), got {bins!r}") from None
    if (
        len(out) < 2
        or any(not (b < c) for b, c in zip(out, out[1:], strict=False))
        or any(math.isnan(b) for b in out)
    ):
        raise JaxvetInputError(f"{name} must be at least two strictly ascending edges, got {bins!r}")
    return out


def _fingerprint(lc: LightCurve) -> dict:
    v = lc.valid
    h = hashlib.sha256()
    for a in (lc.time[v], lc.flux[v], lc.flux_err[v], lc.sector[v].astype(np.int64)):
        h.update(np.ascontiguousarray(a).tobytes())
    return {
        "target": lc.target,
        "source": lc.source,
        "n_valid": int(v.sum()),
        "sectors": lc.sectors,
        "sha256": h.hexdigest(),
    }


def _demo_lightcurve(seed: int = 0) -> LightCurve:
    """The base light curve of ``jaxvet demo`` (3 simulated sectors, white + red noise, no signal)."""
    from jaxvet.synthetic.lightcurves import simulate_lightcurve

    return simulate_lightcurve(
        seed,
        sectors=(40, 41, 42),
        t_start=2400.0,
        white_ppm=400.0,
        red_ppm=120.0,
        red_timescale_hours=4.0,
        target="SIM-DEMO",
    )


def _load_lightcurves(lightcurves) -> list[LightCurve]:
    if lightcurves is None:
        return [_demo_lightcurve(0)]
    if isinstance(lightcurves, LightCurve):
        return [lightcurves]
    if isinstance(lightcurves, (str, os.PathLike)):
        lightcurves = [lightcurves]
    items = list(lightcurves)
    if not items:
        return [_demo_lightcurve(0)]
    if all(isinstance(x, LightCurve) for x in items):
        return items
    if all(isinstance(x, (str, os.PathLike)) for x in items):
        from jaxvet.io import read_lightcurves

        return [read_lightcurves([str(x) for x in items])]
    out = []
    for x in items:  # a mix: each entry is one target (a LightCurve or a list of its files)
        if isinstance(x, LightCurve):
            out.append(x)
        else:
            from jaxvet.io import read_lightcurves

            out.append(read_lightcurves([str(p) for p in (x if isinstance(x, (list, tuple)) else [x])]))
    return out


def _resolve_specs(checks) -> list[CheckSpec]:
    if isinstance(checks, str) and checks.strip().lower() == "all":
        from jaxvet.checks import available_checks

        checks = [c for c in available_checks() if not get_check(c).needs_tpf]
    if isinstance(checks, str):
        checks = [c for c in checks.split(",") if c.strip()]
    specs: list[CheckSpec] = []
    for c in checks:
        spec = c if isinstance(c, CheckSpec) else get_check(c)
        if spec.needs_tpf:
            raise JaxvetInputError(
                f"check {spec.id} needs pixel data; campaigns inject into light curves only"
            )
        if any(s.id == spec.id for s in specs):
            continue
        specs.append(spec)
    if not specs:
        raise JaxvetInputError(f"no checks in {checks!r}")
    return specs


def _auto_chunk_size(n_points: int, n_devices: int) -> int:
    k = max(8, min(1024, TARGET_CHUNK_ELEMENTS // max(n_points, 1)))
    k = 1 << (k.bit_length() - 1)  # power of two (floor)
    return _round_to_devices(k, n_devices)


def _round_to_devices(k: int, n_devices: int) -> int:
    return -(-int(k) // n_devices) * n_devices


# --------------------------------------------------------------------------------------------
# lazy host views for VetContext (checks read them only if they need host data)
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# parts on disk
# --------------------------------------------------------------------------------------------
def _part_path(results_dir: Path, c: int) -> Path:
    return results_dir / f"{PART_PREFIX}{c:05d}.parquet"


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write_bytes(path: Path, writer: Callable[[Any], None]) -> None:
    """Write via ``writer(fileobj)`` to a temp file beside ``path``, fsync, ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _write_part(path: Path, table) -> None:
    import pyarrow.parquet as pq

    _atomic_write_bytes(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def _write_json(path: Path, obj) -> None:
    text = json.dumps(to_jsonable(obj), indent=1, sort_keys=False)
    _atomic_write_bytes(path, lambda fh: fh.write(text.encode()))


def _part_ok(path: Path, n_expected: int) -> bool:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows == n_expected
    except Exception:  # noqa: BLE001 - unreadable part: recompute it
        return False


def read_results(out_dir) -> Any:
    """All rows of a campaign directory (its parts, in injection order) as a pyarrow Table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rd = Path(out_dir) / "results"
    parts = sorted(rd.glob(f"{PART_PREFIX}*.parquet"))
    if not parts:
        raise JaxvetInputError(f"no result parts in {rd}")
    return pa.concat_tables([pq.read_table(p) for p in parts])


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------
def _col(table, name) -> np.ndarray:
    if hasattr(table, "column_names"):  # pyarrow
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False))
    return np.asarray(table[name])


def campaign_rates(table, checks: Sequence[str], kinds: Sequence[str], bins, by: str = "snr") -> list[dict]:
    """Per (kind, check, bin of ``by``): counts of verdicts and the fail fraction.

    ``n`` counts decided verdicts (pass/warn/fail); ``fail_fraction = n_fail / n`` (None when
    ``n`` is 0); ``n_insufficient`` counts ``insufficient`` verdicts; ``n_total`` all rows of
    the bin, including skipped/errored checks and checks without a verdict.
    """
    x = _col(table, "snr" if by == "snr" else "period_days").astype(float)
    kind = _col(table, "kind").astype(str)
    key = "snr_bin" if by == "snr" else "period_bin"
    out = []
    for k in kinds:
        for cid in checks:
            verdict = _col(table, f"{cid}_verdict").astype(str)
            status = _col(table, f"{cid}_status").astype(str)
            for lo, hi in zip(bins[:-1], bins[1:], strict=True):
                sel = (kind == k) & (x >= lo) & (x < hi)
                v = verdict[sel]
                n_fail = int(np.sum(v == "fail"))
                n_warn = int(np.sum(v == "warn"))
                n_pass = int(np.sum(v == "pass"))
                n = n_fail + n_warn + n_pass
                out.append(
                    {
                        "kind": k,
                        "check": cid,
                        key: [float(lo), None if not math.isfinite(hi) else float(hi)],
                        "n": n,
                        "n_insufficient": int(np.sum(v == "insufficient")),
                        "fail_fraction": (n_fail / n) if n else None,
                        "warn_fraction": (n_warn / n) if n else None,
                        "pass_fraction": (n_pass / n) if n else None,
                        "n_fail": n_fail,
                        "n_warn": n_warn,
                        "n_pass": n_pass,
                        "n_no_verdict": int(np.sum((v == "none") & (status[sel] == "ok"))),
                        "n_not_ok": int(np.sum(status[sel] != "ok")),
                        "n_total": int(sel.sum()),
                    }
                )
    return out


def summarize(table, config: CampaignConfig, timing: Mapping[str, Any] | None = None) -> dict:
    """The summary dictionary written to ``summary.json``."""
    checks = list(config.checks)
    kinds = list(config.injection.kinds)
    overall = campaign_rates(table, checks, kinds, (-math.inf, math.inf))
    for row in overall:
        row.pop("snr_bin", None)
    return {
        "schema_version": 1,
        "n_rows": int(table.num_rows if hasattr(table, "num_rows") else len(table)),
        "snr_definition": (
            "depth / (1.4826 MAD of the base light curve's valid flux) * sqrt(valid points in transit)"
        ),
        "rates": campaign_rates(table, checks, kinds, config.snr_bins, by="snr"),
        "rates_by_period": campaign_rates(table, checks, kinds, config.period_bins, by="period"),
        "overall": overall,
        "config": config.to_dict(),
        "timing": dict(timing or {}),
    }


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------
def _mesh_sharding(devices):
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.asarray(devices), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())


def _chunk_rows(
    c: int,
    cfg: CampaignConfig,
    specs: Sequence[CheckSpec],
    base,
    stats,
    base_lcs: Sequence[LightCurve],
    targets: Sequence[str | None],
    sharding,
    check_seconds: dict,
    warned: set,
):
    """Build, vet and tabulate one chunk; returns a pyarrow Table."""
    import pyarrow as pa

    ids = cfg.chunk_ids(c)
    n = ids.size
    t = time.perf_counter()
    batch = build_injection_batch(
        base, stats, ids, cfg.seed, cfg.injection, pad_to=cfg.chunk_size, sharding=sharding
    )
    params = {k: np.asarray(v)[:n] for k, v in batch.params.items()}
    check_seconds["inject"] = check_seconds.get("inject", 0.0) + time.perf_counter() - t
    row_targets = [targets[int(i)] for i in params["lc_index"]]
    ctx = VetContext(
        lightcurves=_RowLightCurves(batch.lcb, n, base_lcs, params["lc_index"]),
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
    for name in PARAM_COLUMNS:
        if name == "kind":
            continue
        a = params[name]
        cols[name] = a.astype(np.int32) if name in ("lc_index", "n_in_transit") else a.astype(np.float64)
    def run_check(spec):
        t = time.perf_counter()
        try:
            arrays = spec.compute(ctx)
            status = np.asarray(arrays["status"])[:n].astype(np.int64)
            verdict = np.asarray(arrays["verdict"])[:n].astype(np.int64)
            metrics = {}
            for m in spec.summary_metrics:
                v = np.asarray(arrays[m])[:n]
                metrics[m] = v.astype(np.float64) if v.dtype != object else v
        except JaxvetInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing check never aborts the campaign
            if spec.id not in warned:
                warned.add(spec.id)
                print(f"jaxvet campaign: check {spec.id} raised {type(exc).__name__}: {exc}", file=sys.stderr)
            status = np.full(n, STATUS_NAMES.index("error"))
            verdict = np.full(n, -1)
            metrics = {m: np.full(n, np.nan) for m in spec.summary_metrics}
        return status, verdict, metrics, time.perf_counter() - t

    # the checks are independent programs: run them together (as vet() does; JAXVET_THREADS=1
    # runs them one after the other), so one compiles or does host work while another runs
    n_threads = min(resolve_threads(None, len(specs)), len(specs))
    if n_threads > 1:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="jaxvet-campaign") as pool:
            done = list(pool.map(run_check, specs))
    else:
        done = [run_check(spec) for spec in specs]
    for spec, (status, verdict, metrics, seconds) in zip(specs, done, strict=True):
        # wall seconds inside each check (they overlap when the checks run in threads)
        check_seconds[spec.id] = check_seconds.get(spec.id, 0.0) + seconds
        cols[f"{spec.id}_status"] = np.asarray([STATUS_NAMES[int(s)] for s in status], dtype=object)
        cols[f"{spec.id}_verdict"] = np.asarray(
            ["none" if int(v) < 0 else VERDICT_NAMES[int(v)] for v in verdict], dtype=object
        )
        for m, v in metrics.items():
            if v.dtype == object:
                cols[f"{spec.id}_{m}"] = np.asarray([str(x) for x in v], dtype=object)
            else:
                cols[f"{spec.id}_{m}"] = v
    return pa.table({k: pa.array(v) for k, v in cols.items()})


def _to_astropy(table):
    from astropy.table import Table

    out = Table()
    for name in table.column_names:
        a = table.column(name).to_numpy(zero_copy_only=False)
        if a.dtype == object:
            a = a.astype(str)
        out[name] = a
    return out


def run_campaign(
    lightcurves=None,
    *,
    n_injections: int = 1000,
    kinds: str | Sequence[str] | None = None,
    checks: str | Sequence[str | CheckSpec] = DEFAULT_CHECKS,
    seed: int = 0,
    chunk_size: int | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    injection: InjectionConfig | Mapping[str, Any] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    snr_bins=None,
    period_bins=None,
    plots: bool = True,
    progress: bool = True,
    devices: Sequence[Any] | None = None,
    return_table: bool = True,
    on_chunk_done: Callable[[int, int], None] | None = None,
    process_index: int | None = None,
    process_count: int | None = None,
):
    """Run an injection-recovery campaign; returns an astropy Table (or the results path).

    Parameters
    ----------
    lightcurves : host :class:`~jaxvet.data.LightCurve` (or a list: one per target), file
        paths of one target (read with :func:`jaxvet.io.read_lightcurves`), or None for the
        simulated light curve of ``jaxvet demo``.
    n_injections, kinds, checks, seed : what to run (``kinds`` overrides ``injection.kinds``;
        ``checks`` are ids or :class:`~jaxvet.engine.context.CheckSpec` objects).
    chunk_size : injections per device batch (default: automatic, see module docs).
    out : output directory (parts, config, summary, plots); None keeps results in memory.
    resume : continue the campaign in ``out`` (same configuration required).
    overwrite : discard an existing campaign in ``out`` instead of refusing.
    injection : :class:`~jaxvet.campaigns.injection.InjectionConfig` or a dict for
        :meth:`InjectionConfig.create` (parameter ranges, grids, shape).
    options : per-check options, as for :func:`jaxvet.engine.runner.vet`.
    snr_bins, period_bins : bin edges of the summary.
    on_chunk_done : called as ``on_chunk_done(chunk_index, n_done_chunks)`` after each part is
        written (an exception raised there stops the run like a crash would).
    devices : JAX devices to shard chunks over (default: all local devices).
    process_index, process_count : multi-host work split (default: ``jax.process_index()``,
        ``jax.process_count()``).
    return_table : return the rows as an astropy Table (True) or ``out/results`` (False).
    """
    t_start = time.perf_counter()
    n_injections = int(n_injections)
    if n_injections < 1:
        raise JaxvetInputError(f"n_injections must be >= 1, got {n_injections}")
    if not (0 <= int(seed) < 2**32):
        raise JaxvetInputError(f"seed must be in [0, 2**32), got {seed}")
    if chunk_size is not None and int(chunk_size) < 1:
        raise JaxvetInputError(f"chunk_size must be >= 1, got {chunk_size}")
    if isinstance(injection, InjectionConfig):
        inj = injection
    else:
        inj = InjectionConfig.create(**dict(injection or {}))
    if kinds is not None:
        inj = dataclasses.replace(inj, kinds=InjectionConfig.create(kinds=kinds).kinds)
        inj.validate()
    specs = _resolve_specs(checks)
    lcs = _load_lightcurves(lightcurves)
    devices = list(devices) if devices is not None else jax.local_devices()
    n_dev = len(devices)
    if (process_index is None) != (process_count is None):
        raise JaxvetInputError("give both process_index and process_count (or neither)")
    pidx = jax.process_index() if process_index is None else int(process_index)
    pcount = jax.process_count() if process_count is None else int(process_count)
    if not 0 <= pidx < pcount:
        raise JaxvetInputError(f"process_index {pidx} out of range for process_count {pcount}")
    if pcount > 1 and out is None:
        raise JaxvetInputError("a multi-process campaign needs --out on a shared filesystem")
    if pcount > 1 and not overwrite:
        resume = True  # processes share DIR: each skips what exists, the configuration must match

    out_dir = Path(out) if out is not None else None
    cfg_path = out_dir / "config.json" if out_dir is not None else None
    stored = None
    if cfg_path is not None and cfg_path.exists():
        try:
            stored = json.loads(cfg_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise JaxvetInputError(f"cannot read {cfg_path}: {exc}") from None
        if not resume and not overwrite:
            raise JaxvetInputError(
                f"{out_dir} already holds a campaign; pass --resume to continue it, --overwrite to "
                "replace it, or choose another --out"
            )
    if chunk_size is None and resume and stored is not None:
        chunk_size = int(stored.get("chunk_size", 0)) or None
    base_lcb = LightCurveBatch.from_lightcurves(lcs)
    if chunk_size is None:
        k = _auto_chunk_size(base_lcb.n_points, n_dev)
        k = min(k, _round_to_devices(bucket_size(n_injections, 8), n_dev))
    else:
        k = _round_to_devices(int(chunk_size), n_dev)
    cfg = CampaignConfig(
        n_injections=n_injections,
        checks=tuple(s.id for s in specs),
        seed=int(seed),
        chunk_size=k,
        injection=inj,
        lightcurves=[_fingerprint(lc) for lc in lcs],
        options={str(k_): dict(v) for k_, v in (options or {}).items()},
        snr_bins=_parse_bins("snr_bins", snr_bins) if snr_bins is not None else DEFAULT_SNR_BINS,
        period_bins=_parse_bins("period_bins", period_bins)
        if period_bins is not None
        else DEFAULT_PERIOD_BINS,
    )

    results_dir = out_dir / "results" if out_dir is not None else None
    mine = [c for c in range(cfg.n_chunks) if c % pcount == pidx]
    done = set()
    if out_dir is not None:
        has_parts = results_dir.is_dir() and any(results_dir.glob(f"{PART_PREFIX}*.parquet"))
        if stored is not None and resume and not overwrite:
            stored_id = {k_: stored.get(k_) for k_ in cfg.identity()}
            if stored_id != cfg.identity():
                diff = sorted(k_ for k_ in cfg.identity() if stored_id.get(k_) != cfg.identity()[k_])
                raise JaxvetInputError(
                    f"cannot resume {out_dir}: configuration differs in {', '.join(diff)} "
                    "(use the same arguments, or --overwrite / a new --out)"
                )
        if has_parts and stored is None and not overwrite:
            raise JaxvetInputError(
                f"{results_dir} holds result parts but no config.json; use --overwrite or another --out"
            )
        if has_parts and not resume and not overwrite:
            raise JaxvetInputError(
                f"{results_dir} already holds result parts; pass --resume, --overwrite or another --out"
            )
        results_dir.mkdir(parents=True, exist_ok=True)
        if overwrite and pidx == 0:
            for p in results_dir.glob(f"{PART_PREFIX}*.parquet"):
                p.unlink()
            for name in ("summary.json", "rates_vs_snr.png", "rates_vs_period.png"):
                (out_dir / name).unlink(missing_ok=True)
        _write_json(cfg_path, cfg.to_dict())  # (every process: same content, atomic)
        for p in results_dir.glob(f".{PART_PREFIX}*.tmp"):  # debris of a killed writer
            try:
                p.unlink()
            except OSError:
                pass
        if resume and not overwrite:
            for c in mine:
                p = _part_path(results_dir, c)
                if p.exists():
                    if _part_ok(p, cfg.chunk_ids(c).size):
                        done.add(c)
                    else:
                        p.unlink()
    todo = [c for c in mine if c not in done]

    if n_dev > 1:
        sharding, replicated = _mesh_sharding(devices)
        base = jax.device_put(base_lcb, replicated)
    else:
        sharding, replicated = None, None
        base = jax.device_put(base_lcb, devices[0])
    stats = base_stats(lcs, base)
    if replicated is not None:
        stats = jax.device_put(stats, replicated)
    targets = [lc.target or lc.source or f"lc{i}" for i, lc in enumerate(lcs)]

    n_mine = sum(cfg.chunk_ids(c).size for c in mine)
    n_done = sum(cfg.chunk_ids(c).size for c in done)
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=n_mine,
            initial=n_done,
            desc="campaign",
            unit="inj",
            file=sys.stderr,
            dynamic_ncols=True,
            smoothing=0.1,
        )
    check_seconds: dict[str, float] = {}
    chunk_seconds: list[float] = []
    chunk_cpu_seconds: list[float] = []  # process CPU time (all threads): load-independent cost
    warned: set = set()
    memory_parts = {}
    t_loop = time.perf_counter()
    n_new = 0
    try:
        for j, c in enumerate(todo):
            t_chunk, cpu_chunk = time.perf_counter(), time.process_time()
            table = _chunk_rows(c, cfg, specs, base, stats, lcs, targets, sharding, check_seconds, warned)
            chunk_seconds.append(time.perf_counter() - t_chunk)
            chunk_cpu_seconds.append(time.process_time() - cpu_chunk)
            if results_dir is not None:
                _write_part(_part_path(results_dir, c), table)
            else:
                memory_parts[c] = table
            n_new += table.num_rows
            if bar is not None:
                bar.update(table.num_rows)
            if on_chunk_done is not None:
                on_chunk_done(c, len(done) + j + 1)
    finally:
        if bar is not None:
            bar.close()
    loop_s = time.perf_counter() - t_loop

    if pcount > 1:
        if jax.process_count() > 1:  # jax.distributed: meet, then process 0 summarises
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("jaxvet-campaign-done")
            if pidx != 0:
                return results_dir
        else:  # independent jobs (e.g. a batch array): the one that completes the set summarises
            missing = [c for c in range(cfg.n_chunks) if not _part_path(results_dir, c).exists()]
            if missing:
                print(
                    f"jaxvet campaign: process {pidx} of {pcount} done; {len(missing)} chunk(s) left to the "
                    "other processes (the last to finish writes the summary)",
                    file=sys.stderr,
                )
                return results_dir

    import pyarrow as pa

    if results_dir is not None:
        table = read_results(out_dir)
    else:
        table = pa.concat_tables([memory_parts[c] for c in sorted(memory_parts)])
    timing = {
        "wall_s": time.perf_counter() - t_start,
        "loop_s": loop_s,
        "n_computed": n_new,
        "injections_per_s": (n_new / loop_s) if loop_s > 0 and n_new else None,
        "seconds_by_stage": check_seconds,
        "chunk_seconds": chunk_seconds,
        "chunk_cpu_seconds": chunk_cpu_seconds,
        "n_devices": n_dev,
        "backend": jax.default_backend(),
        "chunk_size": cfg.chunk_size,
    }
    summary = summarize(table, cfg, timing)
    if out_dir is not None:
        _write_json(out_dir / "summary.json", summary)
        if plots:
            from jaxvet.plotting.campaign import save_campaign_plots

            save_campaign_plots(summary, out_dir)
    if return_table:
        t = _to_astropy(table)
        t.meta["summary"] = summary
        return t
    return results_dir


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
_PARAM_ARGS = (
    (
        "--period",
        "period_days",
        "orbital period [d]: LO:HI[:log], a grid a,b,c, or a value (default 1:20:log)",
    ),
    ("--duration-hours", "duration_hours", "total duration [h] (default 1:6)"),
    ("--snr", "snr", "target SNR (default 5:100:log); ignored when --depth-ppm is given"),
    ("--depth-ppm", "depth_ppm", "mid-transit depth [ppm] instead of a target SNR"),
    ("--impact", "impact", "impact parameter (default 0:0.9)"),
    ("--eb-depth-ratio", "eb_depth_ratio", "EB odd/even depth factor (default 0.3:0.7)"),
    ("--eb-secondary-ratio", "eb_secondary_ratio", "EB secondary depth / primary depth (default 0.05:0.3)"),
    ("--eb-secondary-phase", "eb_secondary_phase", "EB secondary eclipse phase (default 0.48:0.52)"),
)


def add_campaign_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``jaxvet campaign`` arguments to ``parser``."""
    parser.description = (
        "Inject synthetic planets and eclipsing binaries into light curves, vet every one, and "
        "aggregate the checks' recovery/rejection rates (resumable; parquet output)."
    )
    parser.add_argument(
        "lc_files",
        nargs="*",
        metavar="LC_FILE",
        help="light-curve files of one target (several = sectors); none = the simulated demo light curve",
    )
    parser.add_argument("--n-injections", type=int, default=1000, help="number of injections (default 1000)")
    parser.add_argument(
        "--kinds", default="planet,eb", help="comma-separated kinds: planet, eb (default both)"
    )
    parser.add_argument("--kind-weights", help="relative frequency of each kind, e.g. 1,1")
    parser.add_argument(
        "--checks",
        default=",".join(DEFAULT_CHECKS),
        help="check ids, or 'all' light-curve checks (default V01,V04,V05)",
    )
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument("--chunk-size", type=int, help="injections per device batch (default: automatic)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted campaign in DIR")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing campaign in DIR")
    parser.add_argument(
        "--process-index", type=int, help="this job's index when N independent jobs share DIR (see docs)"
    )
    parser.add_argument("--process-count", type=int, help="number of independent jobs sharing DIR")
    g = parser.add_argument_group("injected signals")
    for flag, _, help_ in _PARAM_ARGS:
        g.add_argument(flag, help=help_)
    g.add_argument(
        "--shape", choices=("trapezoid", "limb_darkened"), default="trapezoid", help="transit shape"
    )
    g.add_argument("--limb-darkening", help="quadratic limb darkening u1,u2 (default 0.4,0.26)")
    g.add_argument("--stellar-radius", type=float, help="stellar radius [R_sun] given to the checks")
    g.add_argument("--stellar-mass", type=float, help="stellar mass [M_sun] given to the checks")
    g.add_argument("--sectors", help="only use these sectors of the light curve, e.g. 82,83")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="CHECK.KEY=VALUE",
        help="a check option, e.g. V05.n_bootstrap=20 (repeatable)",
    )
    s = parser.add_argument_group("summary")
    s.add_argument("--snr-bins", help="SNR bin edges, e.g. 0,5,10,20,inf")
    s.add_argument("--period-bins", help="period bin edges [d]")
    s.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _injection_from_args(args) -> dict:
    kw: dict[str, Any] = {"kinds": args.kinds, "shape": args.shape}
    for flag, name, _ in _PARAM_ARGS:
        v = getattr(args, flag.lstrip("-").replace("-", "_"))
        if v is not None:
            kw[name] = v
    if args.kind_weights:
        kw["kind_weights"] = args.kind_weights
    if args.limb_darkening:
        kw["limb_darkening"] = args.limb_darkening
    if args.stellar_radius is not None:
        kw["stellar_radius"] = args.stellar_radius
    if args.stellar_mass is not None:
        kw["stellar_mass"] = args.stellar_mass
    return kw


def _parse_options(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["V05.n_bootstrap=20", ...]`` -> ``{"V05": {"n_bootstrap": 20}}`` (JSON values, else strings)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        cid, dot, name = key.strip().partition(".")
        if not sep or not dot or not cid or not name:
            raise JaxvetInputError(f"--option must look like CHECK.KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(cid.strip().upper(), {})[name.strip()] = value
    return out


def _print_rates(summary: dict) -> None:
    rows = summary["overall"]
    print(f"{'kind':<8} {'check':<6} {'n':>7} {'insuff':>7} {'fail':>7}", file=sys.stderr)
    for r in rows:
        ff = "-" if r["fail_fraction"] is None else f"{r['fail_fraction']:.3f}"
        print(f"{r['kind']:<8} {r['check']:<6} {r['n']:>7} {r['n_insufficient']:>7} {ff:>7}", file=sys.stderr)


def run_campaign_command(args) -> int:
    """Entry point of ``jaxvet campaign`` (called by :mod:`jaxvet.cli`)."""
    lcs = _load_lightcurves(args.lc_files or None)
    if getattr(args, "sectors", None):
        from jaxvet.io import parse_sector_list

        wanted = parse_sector_list(args.sectors)
        lcs = [lc.select_sectors(wanted) for lc in lcs]
    inj = InjectionConfig.create(**_injection_from_args(args))
    print(
        f"jaxvet {__version__} campaign: {args.n_injections} injections ({', '.join(inj.kinds)}) into "
        f"{', '.join(lc.target or lc.source or '?' for lc in lcs)}; checks {args.checks}; "
        f"{len(jax.local_devices())} {jax.default_backend()} device(s)",
        file=sys.stderr,
    )
    t = run_campaign(
        lcs,
        n_injections=args.n_injections,
        checks=args.checks,
        seed=args.seed,
        chunk_size=args.chunk_size,
        out=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        injection=inj,
        options=_parse_options(getattr(args, "option", None) or []),
        snr_bins=args.snr_bins,
        period_bins=args.period_bins,
        plots=not args.no_plots,
        progress=not args.no_progress,
        process_index=getattr(args, "process_index", None),
        process_count=getattr(args, "process_count", None),
    )
    summary = t.meta.get("summary") if hasattr(t, "meta") else None
    if summary:
        _print_rates(summary)
        tm = summary["timing"]
        rate = tm.get("injections_per_s")
        print(
            f"wrote {args.out}/results ({summary['n_rows']} rows), summary.json"
            + ("" if args.no_plots else ", rates_vs_snr.png, rates_vs_period.png")
            + (f"; {rate:.1f} injections/s" if rate else ""),
            file=sys.stderr,
        )
    return 0


class _CallableModule(types.ModuleType):
    """``jaxvet.campaign(...)`` runs :func:`run_campaign`; ``jaxvet.campaign.*`` stays the module."""

    def __call__(self, *args, **kwargs):
        return run_campaign(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
