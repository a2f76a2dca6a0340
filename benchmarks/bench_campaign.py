"""Benchmark: a 10,000-injection campaign on the four TOI-5807 sectors with V01, V04 and V05.

Run with the jaxvet virtualenv (CPU by default)::

    python benchmarks/bench_campaign.py [--n-injections 10000] [--chunk-size K]
        [--out DIR] [--resume] [--cache-dir DIR | --no-cache]

Workload: the four TOI-5807 sectors stitched (73,805 points, padded to N = 131,072;
``$JAXVET_DATA_DIR`` or ``../shared/data/tic188646744`` beside the repository), ``n`` injections (planets and
eclipsing binaries in equal expectation; P log-uniform in [1, 20] d, D uniform in [1, 6] h,
target SNR log-uniform in [5, 100], impact uniform in [0, 0.9]; seed 0), each vetted with V01,
V04 and V05 (default options: V05 fits a trapezoid and bootstraps it 100 times).

Measured (``jaxvet.campaigns.lightcurve.run_campaign`` timings, every chunk written to parquet as in a real
run): total wall time, injections per second, seconds per stage (injection build and each
check), per-chunk wall times -- the first chunks carry the XLA compilations of every new shape
bucket, so the median of the last half of the chunks is reported as the warm per-chunk cost --
and the recovery/rejection rates of the summary.  The machine's load average is recorded
before and after, because the 2-core CI machine may be shared.

Writes ``benchmarks/results/campaign_toi5807.json``.  A measurement, not a test: no assertion
on timings.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from candidates import data_dir  # noqa: E402

SECTORS = (55, 75, 82, 83)
STELLAR = dict(stellar_radius=1.65, stellar_mass=1.47)


def _loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-injections", type=int, default=10_000)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--checks", default="V01,V04,V05")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=None, help="campaign directory (default: a temporary one, removed)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--cache-dir", default=None, help="persistent XLA compilation cache directory")
    ap.add_argument("--no-cache", action="store_true", help="no persistent compilation cache (cold compile)")
    ap.add_argument("--json", default=str(HERE / "results" / "campaign_toi5807.json"))
    args = ap.parse_args(argv)

    t_import = time.perf_counter()
    import jax

    from jaxvet import __version__
    from jaxvet._config import enable_compilation_cache
    from jaxvet.campaigns.lightcurve import run_campaign
    from jaxvet.io import read_lightcurves

    cache = None
    if not args.no_cache:
        cache = enable_compilation_cache(args.cache_dir)
    cache_entries_before = len(list(Path(cache).iterdir())) if cache and Path(cache).is_dir() else 0
    d = data_dir(args.data_dir)
    files = [d / f"sector{s}_pdcsap.csv" for s in SECTORS]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        print(f"bench_campaign: TOI-5807 data not found: {missing}", file=sys.stderr)
        return 2
    lc = read_lightcurves([str(f) for f in files])
    import_s = time.perf_counter() - t_import

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="jaxvet-bench-campaign-"))
    load_before = _loadavg()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    progress = {"wall": [], "cpu": [], "last": (t0, cpu0)}

    def on_chunk_done(chunk: int, n_done: int) -> None:
        # a progress record survives an interrupted benchmark (resume it with --resume)
        now, cnow = time.perf_counter(), time.process_time()
        progress["wall"].append(now - progress["last"][0])
        progress["cpu"].append(cnow - progress["last"][1])
        progress["last"] = (now, cnow)
        n_new = len(progress["wall"])
        tail = progress["cpu"][n_new // 2 :]
        partial = {
            "benchmark": "campaign_toi5807",
            "status": "in progress (partial; the final record replaces this)",
            "n_injections": args.n_injections,
            "chunks_done_total": n_done,
            "chunks_computed_this_run": n_new,
            "elapsed_wall_s": now - t0,
            "elapsed_cpu_s": cnow - cpu0,
            "chunk_wall_s": progress["wall"],
            "chunk_cpu_s": progress["cpu"],
            "warm_chunk_cpu_s_median_last_half": statistics.median(tail),
            "load_average_now": _loadavg(),
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(partial, indent=1))

    table = run_campaign(
        lc,
        n_injections=args.n_injections,
        checks=args.checks,
        seed=args.seed,
        chunk_size=args.chunk_size,
        out=out,
        resume=args.resume,
        injection=STELLAR,
        progress=True,
        on_chunk_done=on_chunk_done,
    )
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    load_after = _loadavg()
    summary = table.meta["summary"]
    timing = summary["timing"]
    chunks = timing.get("chunk_seconds", [])
    cpu_chunks = timing.get("chunk_cpu_seconds", [])
    half = chunks[len(chunks) // 2 :] if chunks else []
    cpu_half = cpu_chunks[len(cpu_chunks) // 2 :] if cpu_chunks else []
    k = timing["chunk_size"]
    warm_chunk = statistics.median(half) if half else None
    warm_cpu_chunk = statistics.median(cpu_half) if cpu_half else None
    n_cores = os.cpu_count() or 1
    result = {
        "benchmark": "campaign_toi5807",
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "jaxvet_version": __version__,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(x) for x in jax.local_devices()],
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "persistent_cache": str(cache) if cache else None,
        "persistent_cache_entries_before": cache_entries_before,
        "workload": {
            "light_curve": "TOI-5807 (TIC 188646744) sectors 55, 75, 82, 83 stitched",
            "n_points": int(lc.n_valid),
            "n_injections": args.n_injections,
            "checks": args.checks.split(","),
            "seed": args.seed,
            "chunk_size": k,
            "n_chunks_computed": len(chunks),
            "injection": summary["config"]["injection"],
        },
        "setup_s": import_s,
        "wall_s": wall,
        "injections_per_s": (timing["n_computed"] / wall) if wall > 0 else None,
        "seconds_by_stage": timing["seconds_by_stage"],
        "first_chunk_s": chunks[0] if chunks else None,
        "warm_chunk_s_median_last_half": warm_chunk,
        "warm_injections_per_s": (k / warm_chunk) if warm_chunk else None,
        "cpu_s": cpu,
        "warm_chunk_cpu_s_median_last_half": warm_cpu_chunk,
        "warm_cpu_s_per_injection": (warm_cpu_chunk / k) if warm_cpu_chunk else None,
        "estimated_idle_wall_s_for_n": ((cpu / n_cores) if cpu > 0 else None),
        "chunk_seconds": chunks,
        "chunk_cpu_seconds": cpu_chunks,
        "rates_overall": summary["overall"],
        "notes": (
            "wall_s includes every XLA compilation (new (epochs, window) shape buckets keep appearing "
            "during the first chunks); warm_* is the steady state. cpu_s is the process CPU time (all "
            "threads); estimated_idle_wall_s_for_n = cpu_s / cpu_count is what the run would take on "
            "an otherwise idle machine if XLA kept every core busy (a lower bound). With --resume, "
            "the timings cover the chunks computed in this invocation only. Results under "
            f"{'a temporary directory (removed)' if not args.out else out}."
        ),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    print(
        f"{args.n_injections} injections, checks {args.checks}: {wall:.0f} s wall "
        f"({result['injections_per_s']:.1f} inj/s overall"
        + (f", warm {result['warm_injections_per_s']:.1f} inj/s" if warm_chunk else "")
        + f"); wrote {args.json}",
        file=sys.stderr,
    )
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
