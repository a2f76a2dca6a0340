"""Peak memory of ``jaxvet.vet`` on many candidates: is it bounded?

    python benchmarks/bench_memory.py --sizes 10000,100000 --checks V01,V04,V05,V21

Workload: the four TOI-5807 sectors stitched (``--data-dir``, else ``$JAXVET_DATA_DIR/tic188646744``,
else ``../shared/data/tic188646744``) and ``n`` random candidates from
``candidates.draw_candidates(n, seed, t_first)`` (P ~ U[1, 20) d, D ~ U[1, 6) h).

Each size runs in a fresh subprocess: read the light curve, build the candidates, one
``vet(lc, cands, checks, seed=0)`` call (compilation included), then the report's JSON-able rows
are counted.  Recorded per size: peak RSS (``ru_maxrss``), RSS sampled every 0.5 s while
``vet`` runs (the largest sample, and the sample at the end), wall and process CPU time, and the
load averages.  The memory target of the speed issue is <= 4 GB peak RSS at 100,000 candidates.
Writes ``benchmarks/results/memory_cpu.json`` (``--out``).  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_vet import git_state, load_lc, make_candidates, peak_rss_mib, rss_now_mib  # noqa: E402
from candidates import cpu_model, data_dir  # noqa: E402

DEFAULT_OUT = HERE / "results" / "memory_cpu.json"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def worker(n: int, checks: str, data: str | None) -> dict:
    """One size in this process: returns its measurements."""
    import jax

    import jaxvet

    lc, _ = load_lc(data_dir(data))
    cands = make_candidates(n, 0, float(lc.time[0]))
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(rss_now_mib())
            stop.wait(0.5)

    rss_before = rss_now_mib()
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    w, c = time.perf_counter(), time.process_time()
    report = jaxvet.vet(lc, cands, checks, seed=0)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    stop.set()
    th.join()
    n_results = sum(len(r) for r in report.results)
    return {
        "n": n,
        "checks": checks.split(","),
        "backend": jax.default_backend(),
        "rss_before_vet_mib": round(rss_before, 1),
        "rss_max_sampled_mib": round(max(samples, default=float("nan")), 1),
        "rss_after_vet_mib": round(rss_now_mib(), 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "vet_wall_s": round(wall, 2),
        "vet_cpu_s": round(cpu, 2),
        "ms_per_candidate_wall": round(1e3 * wall / n, 3),
        "n_results": n_results,
        "load_after": _load(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--checks", default="V01,V04,V05,V21")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.checks, args.data_dir)))
        return 0
    runs = []
    for n in (int(s) for s in args.sizes.split(",")):
        load_before = _load()
        cmd = [sys.executable, __file__, "--worker", str(n), "--checks", args.checks]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            runs.append({"n": n, "error": p.stderr[-2000:], "load_before": load_before})
        else:
            runs.append({**json.loads(p.stdout.strip().splitlines()[-1]), "load_before": load_before})
        print(json.dumps(runs[-1]), flush=True)
    import jax

    import jaxvet

    res = {
        "generator": "benchmarks/bench_memory.py",
        "command": " ".join(
            ["python benchmarks/bench_memory.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": git_state(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jaxvet": jaxvet.__version__,
        },
        "target": "peak RSS <= 4096 MiB at 100,000 candidates",
        "runs": runs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
