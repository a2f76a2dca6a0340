"""Whole-process benchmark and profile of the ``jaxvet vet`` command line.

Run from the repository root in the jaxvet environment (tess-vetter installed for the reference)::

    python benchmarks/bench_cli.py                        # timing, about 5 minutes on 2 cores
    python benchmarks/bench_cli.py --profile              # + cProfile and per-stage times

Workload: the four TOI-5807 sector CSVs (``--data-dir``, else ``$JAXVET_DATA_DIR``, else
``../shared/data``) and ``benchmarks/candidates.py::draw_candidates(n, seed, t_first)``
(P ~ U[1, 20) d, D ~ U[1, 6) h) written to a candidate table, vetted with::

    jaxvet vet <4 sector csv> --candidates cands.csv --checks V01,V04,V05,V21 --json out.json --quiet

What is measured, each run a fresh process (wall and CPU seconds of the child, ``wait4``):

* ``sizes`` (default 500 and 2,000 candidates) with a warm persistent compilation cache
  (``JAXVET_CACHE_DIR``, filled by one untimed run of each size first): the marginal cost per
  candidate is ``(t(n_large) - t(n_small)) / (n_large - n_small)``, the fixed cost
  ``t(n_small) - n_small x marginal``;
* one candidate (the first draw of seed 0) through ``--period/--t0/--duration-hours``: cold
  (fresh cache directory) and warm (same directory again);
* the reference's whole process on that candidate in the same run:
  ``python benchmarks/reference_timing.py --n-candidates 1 --no-warmup`` (Python start, imports,
  reading and stitching the sectors, V01, V04, V05, V21);
* ``--profile``: the CLI run in-process under cProfile per size (warm cache; with
  ``--profile-fills-cache`` the profile is the first run, compilation included), with the time of every stage
  (read, each check's device work -- each check's dispatch blocked until ready, so the stages
  do not overlap --, host formatting, the variability assessment, disposition, ``to_dict``,
  ``json.dumps``, writing, the summary) and the top functions by cumulative time.

Writes ``benchmarks/results/bench_cli_cpu.json`` (``--out``; ``--profile-out`` for the profile,
default ``benchmarks/results/cli_profile_cpu.json``).  Timings are never asserted.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from candidates import TOI5807_SECTORS, cpu_model, data_dir, draw_candidates  # noqa: E402

CHECKS = "V01,V04,V05,V21"
T_FIRST = 2797.1034851753184  # first time stamp of the stitched four sectors (candidates.py)


def sector_files(d: Path) -> list[str]:
    return [str(d / f"sector{s}_pdcsap.csv") for s in TOI5807_SECTORS]


def write_candidates(path: Path, n: int, seed: int) -> None:
    cs = draw_candidates(n, seed, T_FIRST)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "period_days", "t0_btjd", "duration_hours"])
        for i, (p, t0, d) in enumerate(zip(cs.period_days, cs.t0_btjd, cs.duration_hours, strict=True)):
            w.writerow([i, repr(float(p)), repr(float(t0)), repr(float(d))])


def run_child(cmd: list[str], env: dict, timeout: float = 900) -> dict:
    """Wall and CPU seconds (user + system, all threads) of one child process (children run one
    at a time, so the change of ``RUSAGE_CHILDREN`` is this child's)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    rec = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "returncode": p.returncode}
    if p.returncode:
        rec["stderr_tail"] = p.stderr[-2000:]
    return rec


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def vet_cmd(files: list[str], cands: Path, out_json: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jaxvet.cli",
        "vet",
        *files,
        "--candidates",
        str(cands),
        "--checks",
        CHECKS,
        "--json",
        str(out_json),
        "--quiet",
    ]


def one_cmd(files: list[str], out_json: Path) -> list[str]:
    cs = draw_candidates(1, 0, T_FIRST)
    return [
        sys.executable,
        "-m",
        "jaxvet.cli",
        "vet",
        *files,
        "--period",
        repr(float(cs.period_days[0])),
        "--t0",
        repr(float(cs.t0_btjd[0])),
        "--duration-hours",
        repr(float(cs.duration_hours[0])),
        "--checks",
        CHECKS,
        "--json",
        str(out_json),
        "--quiet",
    ]


# ------------------------------------------------------------------------------------------
# in-process profile (worker)
# ------------------------------------------------------------------------------------------
_STAGES = {
    "read_lightcurves": ("jaxvet.io", "read_lightcurves"),
    "read_candidates": ("jaxvet.io", "read_candidates"),
    "variability": ("jaxvet.detrending", "assess_variability"),
    "dispose_many": ("jaxvet.engine.runner", "dispose_many"),
    "report_to_dict": ("jaxvet.outputs.report.VetReport", "to_dict"),
    "json_dumps": ("json", "dumps"),
    "json_text": ("jaxvet.cli.main", "dumps_report"),
    "format_summary": ("jaxvet.cli.main", "format_summary"),
}


def _timer(fn, key: str, log: dict, block: bool = False):
    import jax

    def wrapped(*a, **kw):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*a, **kw)
        if block:
            out = jax.block_until_ready(out)
        w, u = log.get(key, (0.0, 0.0))
        log[key] = (w + time.perf_counter() - t, u + time.process_time() - c)
        return out

    return wrapped


def _install_stage_timers(log: dict) -> None:
    import dataclasses
    import importlib

    import jaxvet.cli.main  # noqa: F401
    import jaxvet.engine.runner  # noqa: F401
    from jaxvet.checks import CHECK_MODULES, get_check
    from jaxvet.outputs.report import VetReport

    for key, (mod, name) in _STAGES.items():
        if mod.endswith("VetReport"):
            VetReport.to_dict = _timer(VetReport.to_dict, key, log)
            continue
        m = importlib.import_module(mod)
        setattr(m, name, _timer(getattr(m, name), key, log))
    for cid in CHECKS.split(","):
        spec = get_check(cid)
        new = dataclasses.replace(
            spec,
            compute=_timer(spec.compute, f"{cid}_device", log, block=True),
            format=_timer(spec.format, f"{cid}_format", log),
        )
        importlib.import_module(f"jaxvet.checks.{CHECK_MODULES[cid]}").SPEC = new
    import pathlib

    pathlib.Path.write_text = _timer(pathlib.Path.write_text, "write_json_file", log)


def profile_worker(args) -> None:
    import cProfile
    import pstats

    os.environ["JAXVET_THREADS"] = "1"  # one thread: the profile sees every stage
    log: dict[str, tuple[float, float]] = {}
    _install_stage_timers(log)
    from jaxvet.cli.main import main

    argv = json.loads(args.argv)
    pr = cProfile.Profile()
    c0, t0 = time.process_time(), time.perf_counter()
    pr.enable()
    rc = main(argv)
    pr.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    st = pstats.Stats(pr)
    rows = []
    for (file, line, name), (_cc, nc, tt, ct, _callers) in st.stats.items():
        short = file.split("/jaxvet/", 1)[-1] if "/jaxvet/" in file else Path(file).name
        rows.append(
            {
                "function": f"{short}:{line}({name})",
                "calls": nc,
                "tottime_s": round(tt, 4),
                "cumtime_s": round(ct, 4),
            }
        )
    by_cum = sorted(
        (r for r in rows if "/" in r["function"] or "jaxvet" in r["function"]), key=lambda r: -r["cumtime_s"]
    )[:40]
    by_tot = sorted(rows, key=lambda r: -r["tottime_s"])[:25]
    out = {
        "returncode": rc,
        "main_wall_s": wall,
        "main_cpu_s": cpu,
        "stages_wall_s": {k: round(v[0], 4) for k, v in sorted(log.items(), key=lambda kv: -kv[1][1])},
        "stages_cpu_s": {k: round(v[1], 4) for k, v in sorted(log.items(), key=lambda kv: -kv[1][1])},
        "top_cumulative": by_cum,
        "top_self": by_tot,
    }
    Path(args.profile_json).write_text(json.dumps(out, indent=1))


# ------------------------------------------------------------------------------------------
# orchestrator
# ------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="500,2000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument(
        "--profile-fills-cache",
        action="store_true",
        help="no untimed run before the profile: the profile (compilation included) fills the cache",
    )
    ap.add_argument("--skip-one", action="store_true", help="skip the one-candidate and reference runs")
    ap.add_argument("--out", default=str(HERE / "results" / "bench_cli_cpu.json"))
    ap.add_argument("--profile-out", default=str(HERE / "results" / "cli_profile_cpu.json"))
    ap.add_argument("--label", default="")
    ap.add_argument("--worker-argv", dest="argv")
    ap.add_argument("--worker-profile-json", dest="profile_json")
    args = ap.parse_args()
    if args.argv:
        profile_worker(args)
        return 0
    files = sector_files(data_dir(args.data_dir))
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="jaxvet-bench-cli-"))
    env = dict(os.environ, JAXVET_CACHE_DIR=str(tmp / "xla"), PYTHONPATH=str(REPO))
    env.pop("JAXVET_NO_CACHE", None)
    res: dict = {
        "benchmark": "jaxvet vet CLI, whole process",
        "command": " ".join(["python", "benchmarks/bench_cli.py", *sys.argv[1:]]),
        "cli_command": "jaxvet vet <4 sector csv> --candidates cands.csv --checks "
        f"{CHECKS} --json out.json --quiet",
        "label": args.label,
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "cpu": cpu_model(),
        "n_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": loadavg(),
        "runs": {},
    }
    prof: dict = {
        "command": res["command"] + " (with --profile)",
        "date_utc": res["date_utc"],
        "commit": res["commit"],
        "loadavg_start": loadavg(),
        "sizes": {},
    }
    try:
        for n in sizes:
            cands = tmp / f"cands_{n}.csv"
            write_candidates(cands, n, args.seed)
            cmd = vet_cmd(files, cands, tmp / f"out_{n}.json")
            if not (args.profile and args.profile_fills_cache):
                run_child(cmd, env)  # fills the compilation cache for this size (untimed)
            if args.profile:
                pj = tmp / f"prof_{n}.json"
                wcmd = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--worker-argv",
                    json.dumps(cmd[3:]),
                    "--worker-profile-json",
                    str(pj),
                ]
                rec = run_child(wcmd, env)
                p = json.loads(pj.read_text()) if pj.exists() else {"error": rec}
                p["process"] = rec
                p["loadavg"] = loadavg()
                prof["sizes"][str(n)] = p
                print(
                    f"[profile n={n}] {rec} cpu stages {p.get('stages_cpu_s')}", file=sys.stderr, flush=True
                )
            rec = run_child(cmd, env)
            out_json = tmp / f"out_{n}.json"
            rec["json_bytes"] = out_json.stat().st_size if out_json.exists() else None
            rec["loadavg"] = loadavg()
            res["runs"][str(n)] = rec
            print(f"[cli n={n}] {rec}", file=sys.stderr, flush=True)
        if len(sizes) >= 2:
            a, b = str(sizes[0]), str(sizes[-1])
            dn = sizes[-1] - sizes[0]
            for k in ("wall_s", "cpu_s"):
                m = (res["runs"][b][k] - res["runs"][a][k]) / dn
                res[f"marginal_ms_per_candidate_{k[:-2]}"] = round(1e3 * m, 3)
                res[f"fixed_s_{k[:-2]}"] = round(res["runs"][a][k] - sizes[0] * m, 3)
        if not args.skip_one:
            one = {}
            cache1 = tmp / "xla_one"
            env1 = dict(env, JAXVET_CACHE_DIR=str(cache1))
            for label in ("cold_cache", "warm_cache"):
                one[label] = run_child(one_cmd(files, tmp / "one.json"), env1)
                print(f"[cli one {label}] {one[label]}", file=sys.stderr, flush=True)
            ref_cmd = [
                sys.executable,
                str(HERE / "reference_timing.py"),
                "--n-candidates",
                "1",
                "--no-warmup",
                "--seed",
                "0",
                "--out",
                str(tmp / "ref.json"),
                "--data-dir",
                str(data_dir(args.data_dir)),
            ]
            one["reference_whole_process"] = run_child(ref_cmd, dict(os.environ))
            one["reference_command"] = (
                "python benchmarks/reference_timing.py --n-candidates 1 --no-warmup --seed 0"
            )
            print(f"[reference one] {one['reference_whole_process']}", file=sys.stderr, flush=True)
            r = one["reference_whole_process"]
            for label in ("cold_cache", "warm_cache"):
                one[f"{label}_over_reference_wall"] = round(one[label]["wall_s"] / r["wall_s"], 3)
                one[f"{label}_over_reference_cpu"] = round(one[label]["cpu_s"] / r["cpu_s"], 3)
            one["targets"] = {
                "cold_le_2x_reference": one["cold_cache_over_reference_wall"] <= 2.0,
                "warm_le_half_reference": one["warm_cache_over_reference_wall"] <= 0.5,
            }
            res["one_candidate"] = one
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["loadavg_end"] = loadavg()
    if "marginal_ms_per_candidate_wall" in res:
        res["target_marginal_le_2ms"] = res["marginal_ms_per_candidate_wall"] <= 2.0
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    if args.profile:
        prof["loadavg_end"] = loadavg()
        Path(args.profile_out).write_text(json.dumps(prof, indent=1) + "\n")
    print(json.dumps({k: v for k, v in res.items() if k not in ("runs",)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
