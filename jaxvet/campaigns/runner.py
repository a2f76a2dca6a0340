"""The campaign runner: plan the chunks, resume from the parts on disk, vet, summarise.

One runner serves every kind of campaign: :func:`run_chunks` owns the chunk loop, the
resumable parts (``out/results/part-CCCCC.parquet``) and the ``config.json`` check, the
progress bar, the timings, the multi-process split and the error policy; a
:class:`CampaignKind` says how one chunk's injections are drawn, simulated and vetted into a
part table, and how the rows are summarised.  Light-curve injections (:func:`run_campaign`,
the kind :class:`_LightCurveCampaign`) and pixel injections
(:func:`jaxvet.campaigns.pixel.run_pixel_campaign`) are the two kinds.

See :mod:`jaxvet.campaigns.lightcurve` for what a campaign computes and writes, and
``docs/campaigns.md`` for multi-device and multi-process runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import jax
import numpy as np

from jaxvet.campaigns.config import (
    DEFAULT_CHECKS,
    CampaignConfig,
    auto_chunk_size,
    fingerprint,
    load_lightcurves,
    resolve_specs,
    round_to_devices,
)
from jaxvet.campaigns.injection import InjectionConfig, base_stats
from jaxvet.campaigns.parts import (
    list_parts,
    part_ok,
    part_path,
    read_results,
    remove_temp_files,
    to_astropy,
    write_json,
    write_part,
)
from jaxvet.campaigns.rows import chunk_rows
from jaxvet.campaigns.summary import DEFAULT_PERIOD_BINS, DEFAULT_SNR_BINS, parse_bins, summarize
from jaxvet.checks import get_check
from jaxvet.data import LightCurveBatch, bucket_size
from jaxvet.engine.context import CheckSpec
from jaxvet.errors import JaxvetInputError

__all__ = ["run_campaign", "run_chunks", "open_campaign", "CampaignKind", "CampaignDir", "mesh_sharding",
           "resolve_campaign_options"]

_SUMMARY_FILES = ("summary.json", "rates_vs_snr.png", "rates_vs_period.png")


def mesh_sharding(devices):
    """(batch-axis sharding, replicated sharding) over a 1-D mesh ``"batch"`` of ``devices``."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.asarray(devices), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch")), NamedSharding(mesh, PartitionSpec())


def resolve_campaign_options(specs: Sequence[CheckSpec], options: Mapping[str, Mapping[str, Any]]) -> dict:
    """Every campaign check's validated options (checked once, before anything compiles).

    A key that is not a check id, a misspelled option or a bad value raises JaxvetInputError.
    """
    ids = {s.id for s in specs}
    for key, value in options.items():
        if key not in ids:
            get_check(key)  # unknown ids raise naming the id
        if not isinstance(value, Mapping):
            raise JaxvetInputError(f"options[{key!r}] must be a mapping of option names, got {value!r}")
    options = {(k if k in ids else get_check(k).id): v for k, v in options.items()}
    return {s.id: s.resolve_options(options.get(s.id)) for s in specs}


def _processes(process_index, process_count, out, overwrite, resume) -> tuple[int, int, bool]:
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
    return pidx, pcount, resume


def _stored_config(out_dir: Path | None, resume: bool, overwrite: bool) -> dict | None:
    cfg_path = out_dir / "config.json" if out_dir is not None else None
    if cfg_path is None or not cfg_path.exists():
        return None
    try:
        stored = json.loads(cfg_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise JaxvetInputError(f"cannot read {cfg_path}: {exc}") from None
    if not resume and not overwrite:
        raise JaxvetInputError(
            f"{out_dir} already holds a campaign; pass --resume to continue it, --overwrite to "
            "replace it, or choose another --out"
        )
    return stored


def _injection(injection, kinds) -> InjectionConfig:
    inj = injection
    if not isinstance(injection, InjectionConfig):
        inj = InjectionConfig.create(**dict(injection or {}))
    if kinds is not None:
        inj = dataclasses.replace(inj, kinds=InjectionConfig.create(kinds=kinds).kinds)
        inj.validate()
    return inj


def _config(n_injections, specs, seed, chunk_size, inj, lcs, base_lcb, options, snr_bins, period_bins,
            n_dev) -> CampaignConfig:
    if chunk_size is None:
        k = auto_chunk_size(base_lcb.n_points, n_dev)
        k = min(k, round_to_devices(bucket_size(n_injections, 8), n_dev))
    else:
        k = round_to_devices(int(chunk_size), n_dev)
    return CampaignConfig(
        n_injections=n_injections,
        checks=tuple(s.id for s in specs),
        seed=int(seed),
        chunk_size=k,
        injection=inj,
        lightcurves=[fingerprint(lc) for lc in lcs],
        options={str(k_): dict(v) for k_, v in (options or {}).items()},
        snr_bins=parse_bins("snr_bins", snr_bins) if snr_bins is not None else DEFAULT_SNR_BINS,
        period_bins=(
            parse_bins("period_bins", period_bins) if period_bins is not None else DEFAULT_PERIOD_BINS
        ),
    )


def _prepare_dir(out_dir: Path, cfg, stored, mine, *, resume, overwrite, pidx) -> set:
    """Check ``out_dir`` against ``cfg``, write ``config.json``; returns the chunks already done."""
    results_dir = out_dir / "results"
    has_parts = results_dir.is_dir() and bool(list_parts(results_dir))
    if stored is not None and resume and not overwrite:
        stored_id = {k_: stored.get(k_) for k_ in cfg.identity()}
        if stored_id != cfg.identity():
            diff = sorted(k_ for k_ in cfg.identity() if stored_id.get(k_) != cfg.identity()[k_])
            raise JaxvetInputError(
                f"cannot resume {out_dir}: it holds a campaign with a different configuration "
                f"({', '.join(diff)} differ); use the same arguments, a new directory, or overwrite it"
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
        for p in list_parts(results_dir):
            p.unlink()
        for name in _SUMMARY_FILES:
            (out_dir / name).unlink(missing_ok=True)
    write_json(out_dir / "config.json", cfg.to_dict())  # (every process: same content, atomic)
    remove_temp_files(results_dir)
    done = set()
    if resume and not overwrite:
        for c in mine:
            p = part_path(results_dir, c)
            if p.exists():
                if part_ok(p, cfg.chunk_ids(c).size):
                    done.add(c)
                else:
                    p.unlink()
    return done


def _device_inputs(lcs, base_lcb, devices, inj: InjectionConfig) -> dict[str, Any]:
    """The base light curves and their statistics on the devices (replicated over a mesh)."""
    if len(devices) > 1:
        sharding, replicated = mesh_sharding(devices)
        base = jax.device_put(base_lcb, replicated)
    else:
        sharding, replicated = None, None
        base = jax.device_put(base_lcb, devices[0])
    stats = base_stats(lcs, base)
    if replicated is not None:
        stats = jax.device_put(stats, replicated)
    targets = [lc.target or lc.source or f"lc{i}" for i, lc in enumerate(lcs)]
    fa = None
    if inj.has_false_alarms:
        from jaxvet.campaigns.false_alarms import plan_false_alarms

        fa = plan_false_alarms(lcs, inj)
    return {"base": base, "stats": stats, "lcs": lcs, "targets": targets, "sharding": sharding,
            "false_alarms": fa}


class CampaignKind(Protocol):
    """The per-kind piece of a campaign: how a chunk's injections become a part table.

    ``config`` plans the chunks (:class:`~jaxvet.campaigns.config.ChunkPlan`) and gives the
    ``identity()`` a resumed run must match and the ``to_dict()`` written to ``config.json``.
    Everything else -- the chunk loop, the parts and their resuming, the configuration check,
    the progress bar, the timings, the multi-process split and the error policy -- is the
    runner's (:func:`run_chunks`).
    """

    label: str  #: the progress bar's description
    config: Any

    def stage_seconds(self) -> dict[str, float]:
        """The ``seconds_by_stage`` record a run starts from."""

    def setup(self) -> None:
        """Called once after the campaign directory is checked, before the chunk loop."""

    def prepare(self, seconds: dict[str, float]) -> None:
        """Called once in the chunk loop, before the first chunk that is vetted (not when every
        part exists); its time counts in ``loop_s``."""

    def chunk_table(self, c: int, seconds: dict[str, float], warned: set, *, record_errors: bool):
        """Draw, simulate and vet chunk ``c``'s injections as one batch: its rows (pyarrow)."""

    def summarize(self, table, timing: dict[str, Any]) -> dict:
        """``summary.json`` of all the rows (``timing``: the runner's record, see :func:`run_chunks`)."""

    def write_outputs(self, out_dir: Path, table, summary: dict) -> None:
        """Files the kind writes beside ``summary.json`` (plots, one merged table)."""


@dataclasses.dataclass
class CampaignDir:
    """Where a campaign writes (``out_dir`` None: in memory) and how it treats what is there."""

    out_dir: Path | None
    stored: dict | None  #: the ``config.json`` already there (None: none)
    resume: bool
    overwrite: bool
    pidx: int
    pcount: int


def open_campaign(out, *, resume: bool, overwrite: bool, process_index: int | None = None,
                  process_count: int | None = None) -> CampaignDir:
    """The campaign directory ``out`` (None: in memory), its stored configuration, this process's
    share; an existing campaign without ``resume`` or ``overwrite`` is refused."""
    pidx, pcount, resume = _processes(process_index, process_count, out, overwrite, resume)
    out_dir = Path(out) if out is not None else None
    stored = _stored_config(out_dir, resume, overwrite)
    return CampaignDir(out_dir, stored, resume, overwrite, pidx, pcount)


def _run_chunks(todo, kind: CampaignKind, results_dir, *, bar, on_chunk_done, n_done_before,
                record_errors) -> dict[str, Any]:
    """Vet the chunks ``todo``; each part is written as soon as it is done (or kept in memory)."""
    timing: dict[str, Any] = {"seconds_by_stage": kind.stage_seconds(), "chunk_seconds": [],
                              "chunk_cpu_seconds": []}
    warned: set = set()
    memory_parts = {}
    n_new = 0
    t_loop = time.perf_counter()
    try:
        for j, c in enumerate(todo):
            if j == 0:
                kind.prepare(timing["seconds_by_stage"])
            t_chunk, cpu_chunk = time.perf_counter(), time.process_time()
            table = kind.chunk_table(c, timing["seconds_by_stage"], warned, record_errors=record_errors)
            timing["chunk_seconds"].append(time.perf_counter() - t_chunk)
            # process CPU time (all threads): load-independent cost
            timing["chunk_cpu_seconds"].append(time.process_time() - cpu_chunk)
            if results_dir is not None:
                write_part(part_path(results_dir, c), table)
            else:
                memory_parts[c] = table
            n_new += table.num_rows
            if bar is not None:
                bar.update(table.num_rows)
            if on_chunk_done is not None:
                on_chunk_done(c, n_done_before + j + 1)
    finally:
        if bar is not None:
            bar.close()
    loop_s = time.perf_counter() - t_loop
    timing.update(loop_s=loop_s, n_computed=n_new,
                  injections_per_s=(n_new / loop_s) if loop_s > 0 and n_new else None)
    return {"timing": timing, "memory_parts": memory_parts}


def _progress_bar(progress: bool, todo, cfg, mine, done, label: str):
    if not (progress and todo):
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=sum(cfg.chunk_ids(c).size for c in mine),
        initial=sum(cfg.chunk_ids(c).size for c in done),
        desc=label,
        unit="inj",
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
    )


def _others_pending(cfg, results_dir, pidx, pcount) -> bool:
    """With several processes: whether this one leaves the summary to another."""
    if pcount <= 1:
        return False
    if jax.process_count() > 1:  # jax.distributed: meet, then process 0 summarises
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("jaxvet-campaign-done")
        return pidx != 0
    # independent jobs (e.g. a batch array): the one that completes the set summarises
    missing = [c for c in range(cfg.n_chunks) if not part_path(results_dir, c).exists()]
    if missing:
        print(
            f"jaxvet campaign: process {pidx} of {pcount} done; {len(missing)} chunk(s) left to the "
            "other processes (the last to finish writes the summary)",
            file=sys.stderr,
        )
    return bool(missing)


def run_chunks(kind: CampaignKind, where: CampaignDir, *, t_start: float, progress: bool = True,
               on_chunk_done: Callable[[int, int], None] | None = None, record_errors: bool = False):
    """Run the chunks of ``kind`` (light curves or pixels) not done yet, then summarise.

    Chunk ``c`` of ``kind.config`` goes to ``out/results/part-CCCCC.parquet`` (atomic); a
    resumed run checks ``out/config.json`` against ``kind.config.identity()`` and skips the parts
    that read back whole.  Process ``pidx`` of ``pcount`` does the chunks ``c % pcount == pidx``.
    A check that raises stops the run (the parts written so far stay) unless ``record_errors``
    (the kind records it in the part).  Returns ``(pyarrow table of all rows, summary)``, or
    None when another process writes the summary.  The timing record given to
    ``kind.summarize``: ``wall_s`` (since ``t_start``), ``loop_s``, ``n_computed``,
    ``n_resumed``, ``injections_per_s``, ``seconds_by_stage``, ``chunk_seconds``,
    ``chunk_cpu_seconds``.
    """
    cfg = kind.config
    out_dir = where.out_dir
    results_dir = out_dir / "results" if out_dir is not None else None
    mine = [c for c in range(cfg.n_chunks) if c % where.pcount == where.pidx]
    done = set()
    if out_dir is not None:
        done = _prepare_dir(out_dir, cfg, where.stored, mine, resume=where.resume,
                            overwrite=where.overwrite, pidx=where.pidx)
    todo = [c for c in mine if c not in done]
    kind.setup()
    out_ = _run_chunks(todo, kind, results_dir,
                       bar=_progress_bar(progress, todo, cfg, mine, done, kind.label),
                       on_chunk_done=on_chunk_done, n_done_before=len(done), record_errors=record_errors)
    if _others_pending(cfg, results_dir, where.pidx, where.pcount):
        return None
    import pyarrow as pa

    if results_dir is not None:
        table = read_results(out_dir)
    else:
        table = pa.concat_tables([out_["memory_parts"][c] for c in sorted(out_["memory_parts"])])
    t = out_["timing"]
    timing = {"wall_s": time.perf_counter() - t_start, **t,
              "n_resumed": sum(int(cfg.chunk_ids(c).size) for c in done)}
    summary = kind.summarize(table, timing)
    if out_dir is not None:
        write_json(out_dir / "summary.json", summary)
        kind.write_outputs(out_dir, table, summary)
    return table, summary


def _check_counts(n_injections, seed, chunk_size) -> int:
    """Validate the campaign's counts (naming the argument); ``n_injections`` as an int."""
    n_injections = int(n_injections)
    if n_injections < 1:
        raise JaxvetInputError(f"n_injections must be >= 1, got {n_injections}")
    if not (0 <= int(seed) < 2**32):
        raise JaxvetInputError(f"seed must be in [0, 2**32), got {seed}")
    if chunk_size is not None and int(chunk_size) < 1:
        raise JaxvetInputError(f"chunk_size must be >= 1, got {chunk_size}")
    return n_injections


@dataclasses.dataclass
class _LightCurveCampaign:
    """Light-curve injections (:mod:`jaxvet.campaigns.rows`): the per-kind piece of :func:`run_campaign`."""

    config: CampaignConfig
    specs: list
    opts: dict
    lcs: list
    base_lcb: LightCurveBatch
    devices: list
    plots: bool
    label: str = "campaign"
    run: dict | None = None  #: the device inputs (:func:`_device_inputs`), set by :meth:`setup`

    def stage_seconds(self) -> dict[str, float]:
        return {}

    def setup(self) -> None:
        self.run = _device_inputs(self.lcs, self.base_lcb, self.devices, self.config.injection)

    def prepare(self, seconds) -> None:
        return None

    def chunk_table(self, c, seconds, warned, *, record_errors):
        return chunk_rows(c, self.config, self.specs, self.opts, self.run, seconds, warned,
                          record_errors=record_errors)

    def summarize(self, table, timing):
        keys = ("wall_s", "loop_s", "n_computed", "injections_per_s", "seconds_by_stage", "chunk_seconds",
                "chunk_cpu_seconds")
        t = {k: timing[k] for k in keys}
        t.update(n_devices=len(self.devices), backend=jax.default_backend(),
                 chunk_size=self.config.chunk_size)
        return summarize(table, self.config, t)

    def write_outputs(self, out_dir, table, summary) -> None:
        if self.plots:
            from jaxvet.plotting.campaign import save_campaign_plots

            save_campaign_plots(summary, out_dir)


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
    record_errors: bool = False,
    mask=None,
    mask_pad: float | None = None,
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
    record_errors : a check that raises stops the campaign (default); with True, its
        exception (type and message) is recorded in the chunk's ``error`` column, its rows get
        status ``error`` and the campaign goes on.
    mask, mask_pad : known transits to mask out of every base light curve before injecting
        (as for :func:`jaxvet.vet`; see docs/masking.md).  Masked cadences are invalid for the
        injections too: an injected transit that falls into a masked window loses those points.
        The masked light curves' fingerprints enter the configuration, so ``resume`` refuses
        a different mask.
    """
    t_start = time.perf_counter()
    n_injections = _check_counts(n_injections, seed, chunk_size)
    inj = _injection(injection, kinds)
    specs = resolve_specs(checks)
    opts = resolve_campaign_options(specs, dict(options or {}))
    lcs = load_lightcurves(lightcurves)
    if mask is not None:
        from jaxvet.masking import DEFAULT_MASK_PAD, apply_masks

        pad = DEFAULT_MASK_PAD if mask_pad is None else mask_pad
        lcs = [apply_masks(lc, mask, pad=pad)[0] for lc in lcs]
    devices = list(devices) if devices is not None else jax.local_devices()
    where = open_campaign(out, resume=resume, overwrite=overwrite, process_index=process_index,
                          process_count=process_count)
    if chunk_size is None and where.resume and where.stored is not None:
        chunk_size = int(where.stored.get("chunk_size", 0)) or None
    base_lcb = LightCurveBatch.from_lightcurves(lcs)
    cfg = _config(n_injections, specs, seed, chunk_size, inj, lcs, base_lcb, options, snr_bins, period_bins,
                  len(devices))
    kind = _LightCurveCampaign(cfg, specs, opts, lcs, base_lcb, devices, plots)
    done = run_chunks(kind, where, t_start=t_start, progress=progress, on_chunk_done=on_chunk_done,
                      record_errors=record_errors)
    results_dir = where.out_dir / "results" if where.out_dir is not None else None
    if done is None:
        return results_dir
    table, summary = done
    if return_table:
        t = to_astropy(table)
        t.meta["summary"] = summary
        return t
    return results_dir
