"""Wall-time / memory benchmark of ``jaxvet.vet`` against the numpy reference (tess-vetter 0.3.20).

Run with the jaxvet virtualenv (CPU, about 10 minutes on a 2-core machine)::

    python benchmarks/bench_vet.py            # from the repository root, in the jaxvet environment

Workload: the four TOI-5807 sectors stitched (73,805 points; ``--data-dir``, else
``$JAXVET_DATA_DIR/tic188646744``, else ``../shared/data/tic188646744`` beside the repository)
and random candidate ephemerides from
``benchmarks/candidates.py::draw_candidates(n, seed, t_first)`` (P ~ U[1, 20) d,
D ~ U[1, 6) h) -- the same draws the reference benchmark (``reference_timing.py``) times.

What is measured (each batch size in a fresh subprocess, so compile time and peak RSS belong to
that batch size alone):

* per check (V01, V04, V05, V21 -- whichever modules exist in ``jaxvet/checks/``):
  ``vet(lc, cands, [check], seed=0, chunk_size=..., estimate_depth=False)`` called twice; the
  first call includes tracing + XLA compilation, the second ("warm", repeated up to 5 times while
  it is short, median reported) is the marginal cost;
* the suite: ``vet(lc, cands, checks, seed=0, chunk_size=...)`` (all checks + the depth estimate
  the report carries), first call (after the per-check calls, so it holds only the remaining
  compiles) and warm calls;
* the depth estimate alone (``jaxvet.engine.runner.estimate_depths_ppm``);
* peak RSS of the worker (``resource.getrusage``) and its RSS before any vetting;
* ``compile_s`` = sum over checks of (first - warm) + (suite first - suite warm) + (depth first -
  depth warm): the one-off cost per new shape bucket within one process.

Results are materialised: ``vet`` returns formatted host-side ``CheckResult`` objects, which
requires every device array to be ready.

Also: the reference (``reference_timing.py`` under ``--reference-python``, 20 candidates), jaxvet
on exactly those 20 candidates with a parity spot-check of the shared metrics, a full
``jaxvet vet`` CLI run on one candidate (cold and warm persistent cache, ``JAXVET_CACHE_DIR``), and
scaling with light-curve length (the light curve subsampled / tiled to 2^14 ... 2^17 points).

Writes ``benchmarks/results/bench_vet_cpu.json`` and ``benchmarks/results/scaling_cpu.png``.
No timing assertion anywhere: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from candidates import (  # noqa: E402
    TOI5807_SECTORS,
    cpu_model,
    data_dir,
    draw_candidates,
    load_stitched_numpy,
)

DEFAULT_CHECKS = ("V01", "V04", "V05", "V21")
DEFAULT_SIZES = (1, 10, 100, 1000, 10000)
DEFAULT_LENGTHS = (2**14, 2**15, 2**16, 2**17)
TOI_EPHEMERIS = dict(period=14.2423724, t0=3540.26317, duration_hours=4.046)
MARK = "@@BENCH_JSON@@"


# ------------------------------------------------------------------------------------------
# helpers shared by orchestrator and workers
# ------------------------------------------------------------------------------------------
def sector_files(d: Path) -> list[Path]:
    return [d / f"sector{s}_pdcsap.csv" for s in TOI5807_SECTORS]


def rss_now_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def git_state() -> dict:
    def g(*a):
        try:
            return subprocess.run(
                ["git", *a], cwd=REPO, capture_output=True, text=True, timeout=20
            ).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""

    return {
        "commit": g("rev-parse", "HEAD"),
        "dirty_files": [l for l in g("status", "--porcelain").splitlines() if l],
    }


# ------------------------------------------------------------------------------------------
# worker side (imports jax / jaxvet)
# ------------------------------------------------------------------------------------------
def load_lc(d: Path):
    """The stitched TOI-5807 light curve as a jaxvet LightCurve."""
    try:
        from jaxvet.io import read_lightcurves

        return read_lightcurves([str(p) for p in sector_files(d)]), "jaxvet.io.read_lightcurves"
    except ImportError:
        from jaxvet.data import LightCurve

        a = load_stitched_numpy(d)
        lc = LightCurve(time=a["time"], flux=a["flux"], flux_err=a["flux_err"], sector=a["sector"])
        return lc, "benchmarks.candidates.load_stitched_numpy + jaxvet.data.LightCurve"


def make_candidates(n: int, seed: int, t_first: float):
    import jaxvet

    cs = draw_candidates(n, seed, t_first)
    return [
        jaxvet.Candidate(period_days=float(p), t0_btjd=float(t0), duration_hours=float(d), id=str(i))
        for i, (p, t0, d) in enumerate(zip(cs.period_days, cs.t0_btjd, cs.duration_hours, strict=True))
    ]


_CPU_LOG: list[float] = []  # process CPU seconds (all threads) of each timed() call


def timed(fn):
    """Wall seconds of ``fn()`` (and its process CPU seconds appended to ``_CPU_LOG``)."""
    c = time.process_time()
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    _CPU_LOG.append(time.process_time() - c)
    return dt, out


def _first_and_warm(fn, n: int) -> dict:
    """First call (compile included) and warm calls of ``fn``: wall and CPU, per candidate."""
    first, _ = timed(fn)
    first_cpu = _CPU_LOG[-1]
    w = warm_times(fn, first)
    return {
        "first_call_s": first,
        "first_call_cpu_s": first_cpu,
        "warm_s": w,
        "warm_median_s": statistics.median(w),
        "marginal_ms_per_candidate": 1e3 * statistics.median(w) / n,
        "marginal_cpu_ms_per_candidate": 1e3 * statistics.median(_CPU_LOG[-len(w) :]) / n,
    }


def warm_times(fn, first_s: float, max_total_s: float = 3.0, max_reps: int = 5) -> list[float]:
    """Warm repeats after the first call: at least one; up to ``max_reps`` while their sum is short.

    The matching CPU times are the last ``len(result)`` entries of ``_CPU_LOG``.
    """
    out: list[float] = []
    for _ in range(max_reps):
        dt, _ = timed(fn)
        out.append(dt)
        if sum(out) > max_total_s:
            break
    return out


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def resize_lc(lc, n_points: int):
    """Uniformly subsample (n < len) or tile with time-shifted copies (n > len) to n points."""
    import numpy as np

    from jaxvet.data import LightCurve

    t, f, e, s = lc.time, lc.flux, lc.flux_err, lc.sector
    n0 = t.shape[0]
    if n_points <= n0:
        idx = np.unique(np.round(np.linspace(0, n0 - 1, n_points)).astype(np.int64))
        return LightCurve(time=t[idx], flux=f[idx], flux_err=e[idx], sector=s[idx])
    reps = -(-n_points // n0)
    span = float(np.nanmax(t) - np.nanmin(t)) + 10.0
    ts, fs, es, ss = [], [], [], []
    for k in range(reps):
        ts.append(t + k * span)
        fs.append(f)
        es.append(e)
        ss.append(s + 1000 * k)
    cat = lambda xs: np.concatenate(xs)[:n_points]  # noqa: E731
    return LightCurve(time=cat(ts), flux=cat(fs), flux_err=cat(es), sector=cat(ss))


def worker(args) -> dict:
    import jax
    import numpy as np

    from jaxvet.engine.runner import estimate_depths_ppm, vet

    checks = [c for c in args.checks.split(",") if c]
    d = data_dir(args.data_dir)
    t_load, (lc, loader) = timed(lambda: load_lc(d))
    if args.worker == "length":
        lc = resize_lc(lc, args.n_points)
    t_first = float(np.nanmin(lc.time))
    cands = make_candidates(args.n, args.seed, t_first)
    out: dict = {
        "mode": args.worker,
        "n_candidates": args.n,
        "n_points": int(len(lc.time)),
        "loader": loader,
        "load_s": t_load,
        "chunk_size": args.chunk_size,
        "checks": checks,
        "rss_before_vet_mib": rss_now_mib(),
        "loadavg_start": loadavg(),
        "jax_devices": [str(x) for x in jax.devices()],
    }
    run_kw = dict(seed=args.seed, chunk_size=args.chunk_size)

    per_check = {}
    if args.worker == "size":
        for cid in checks:
            fn = lambda cid=cid: vet(lc, cands, [cid], estimate_depth=False, **run_kw)  # noqa: E731
            first, rep = timed(fn)
            first_cpu = _CPU_LOG[-1]
            w = warm_times(fn, first)
            wm = statistics.median(w)
            wcpu = statistics.median(_CPU_LOG[-len(w) :])
            statuses: dict[str, int] = {}
            for r in rep.results:
                statuses[r[cid].status] = statuses.get(r[cid].status, 0) + 1
            per_check[cid] = {
                "first_call_s": first,
                "first_call_cpu_s": first_cpu,
                "warm_s": w,
                "warm_median_s": wm,
                "marginal_ms_per_candidate": 1e3 * wm / args.n,
                "warm_cpu_median_s": wcpu,
                "marginal_cpu_ms_per_candidate": 1e3 * wcpu / args.n,
                "throughput_cand_per_s": args.n / wm if wm > 0 else None,
                "statuses": statuses,
                "peak_rss_mib_so_far": peak_rss_mib(),
            }
            print(
                f"[worker n={args.n}] {cid}: first {first:.2f}s warm {wm:.3f}s "
                f"({1e3 * wm / args.n:.2f} ms/cand) statuses {statuses}",
                file=sys.stderr,
                flush=True,
            )
        fn = lambda: estimate_depths_ppm(lc, cands)  # noqa: E731
        per_check["depth_estimate"] = _first_and_warm(fn, args.n)
    out["per_check"] = per_check
    if args.v05_grid and "V05" in checks:
        # the reference-compatible V05 method (20-point grid at the catalogue duration), not in the suite
        fn = lambda: vet(  # noqa: E731
            lc,
            cands,
            ["V05"],
            estimate_depth=False,
            options={"V05": {"method": "grid"}},
            **run_kw,
        )
        out["variants"] = {"V05_method_grid": _first_and_warm(fn, args.n)}
        print(
            f"[worker n={args.n}] V05 method=grid: first {first:.2f}s warm {statistics.median(w):.3f}s",
            file=sys.stderr,
            flush=True,
        )

    fn = lambda: vet(lc, cands, checks, **run_kw)  # noqa: E731
    first, rep = timed(fn)
    first_cpu = _CPU_LOG[-1]
    if per_check and first > 10.0:
        # every check and the depth estimate were compiled above at these shapes: the first suite
        # call is already a warm call; one sample saves minutes at large batches
        w, wcpu = [first], first_cpu
        out["suite_single_sample"] = True
    else:
        w = warm_times(fn, first)
        wcpu = statistics.median(_CPU_LOG[-len(w) :])
    wm = statistics.median(w)
    out["suite"] = {
        "first_call_s": first,
        "first_call_cpu_s": first_cpu,
        "warm_s": w,
        "warm_median_s": wm,
        "warm_min_s": min(w),
        "marginal_ms_per_candidate": 1e3 * wm / args.n,
        "warm_cpu_median_s": wcpu,
        "marginal_cpu_ms_per_candidate": 1e3 * wcpu / args.n,
        "throughput_cand_per_s": args.n / wm if wm > 0 else None,
    }
    out["compile_s"] = sum(
        max(v["first_call_s"] - v["warm_median_s"], 0.0) for v in per_check.values()
    ) + max(first - wm, 0.0)  # per-shape trace + compile (+ first-run allocation) within this process
    out["first_call_total_s"] = sum(v["first_call_s"] for v in per_check.values()) + first
    out["peak_rss_mib"] = peak_rss_mib()
    out["loadavg_end"] = loadavg()
    if args.profile:
        out["profile_warm_suite"] = profile_call(fn)
    print(
        f"[worker n={args.n} N={out['n_points']}] suite: first {first:.2f}s warm {wm:.3f}s "
        f"({1e3 * wm / args.n:.2f} ms/cand) peak RSS {out['peak_rss_mib']:.0f} MiB",
        file=sys.stderr,
        flush=True,
    )
    if args.dump_metrics:
        out["results"] = [
            {
                cid: {
                    "status": r[cid].status,
                    "verdict": r[cid].verdict,
                    "flags": list(r[cid].flags),
                    "metrics": r[cid].metrics,
                }
                for cid in checks
            }
            for r in rep.results
        ]
    return out


def profile_call(fn, top: int = 25) -> list[dict]:
    """cProfile one warm call; the jaxvet functions with the largest cumulative time.

    JAX dispatch is asynchronous, so device time shows up where the host waits for a result
    (``np.asarray`` in the caller): cumulative times of the jaxvet functions are the useful view.
    """
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    fn()
    pr.disable()
    st = pstats.Stats(pr)
    rows = []
    for (file, line, name), (_cc, nc, tt, ct, _callers) in st.stats.items():
        if "/jaxvet/" in file or "numpy.asarray" in name or "block_until_ready" in name:
            short = file.split("/jaxvet/", 1)[-1] if "/jaxvet/" in file else file
            rows.append(
                {"function": f"{short}:{line}({name})", "calls": nc, "tottime_s": tt, "cumtime_s": ct}
            )
    rows.sort(key=lambda r: -r["cumtime_s"])
    return rows[:top]


# ------------------------------------------------------------------------------------------
# orchestrator
# ------------------------------------------------------------------------------------------
def run_worker(extra: list[str], timeout: float, common: list[str]) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *common, *extra]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=max(timeout, 5))
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return {
            "error": f"timed out after {timeout:.0f} s",
            "stderr_tail": err[-2000:],
            "wall_s": time.perf_counter() - t,
        }
    wall = time.perf_counter() - t
    sys.stderr.write(
        p.stderr[-3000:]
        if p.returncode
        else "".join(l + "\n" for l in p.stderr.splitlines() if l.startswith("[worker"))
    )
    for line in p.stdout.splitlines():
        if line.startswith(MARK):
            res = json.loads(line[len(MARK) :])
            res["wall_s"] = wall
            return res
    why = "killed by SIGKILL (out of memory?)" if p.returncode in (-9, 137) else f"exit status {p.returncode}"
    return {"error": why, "stderr_tail": p.stderr[-2000:], "wall_s": wall}


def run_reference(args, out_path: Path) -> dict:
    if not args.reference_python:
        return {"skipped": "no --reference-python (or $JAXVET_REFERENCE_PYTHON) given"}
    py = Path(args.reference_python)
    if not py.exists():
        return {"skipped": f"reference python {py} not found"}
    cmd = [
        str(py),
        str(HERE / "reference_timing.py"),
        "--n-candidates",
        str(args.n_reference),
        "--seed",
        str(args.seed),
        "--out",
        str(out_path),
        "--data-dir",
        str(data_dir(args.data_dir)),
    ]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return {"skipped": f"reference run failed (exit {p.returncode})", "stderr_tail": p.stderr[-2000:]}
    ref = json.loads(out_path.read_text())
    ref["wall_s"] = time.perf_counter() - t
    print(p.stdout, file=sys.stderr)
    return ref


def run_cli(args, checks: list[str]) -> dict:
    exe = Path(sys.executable).with_name("jaxvet")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "jaxvet.cli"]
    files = [str(p) for p in sector_files(data_dir(args.data_dir))]
    cache = Path(tempfile.mkdtemp(prefix="jaxvet-bench-cache-"))
    out: dict = {"cache_dir": "fresh temporary directory (JAXVET_CACHE_DIR)", "runs": []}
    try:
        cmd = [
            *base,
            "vet",
            *files,
            "--period",
            str(TOI_EPHEMERIS["period"]),
            "--t0",
            str(TOI_EPHEMERIS["t0"]),
            "--duration-hours",
            str(TOI_EPHEMERIS["duration_hours"]),
            "--checks",
            ",".join(checks),
            "--json",
            str(cache / "out.json"),
        ]
        out["command"] = " ".join(
            ["JAXVET_CACHE_DIR=<fresh dir>", *cmd[:1], "vet", "<4 sector csv>", *cmd[2 + len(files) :]]
        )
        env = dict(os.environ, JAXVET_CACHE_DIR=str(cache / "xla"))
        env.pop("JAXVET_NO_CACHE", None)
        for label in ("cold_cache", "warm_cache"):
            t = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            wall = time.perf_counter() - t
            inner = [l for l in p.stderr.splitlines() if l.strip().startswith("done in")]
            out["runs"].append(
                {
                    "cache": label,
                    "wall_s": wall,
                    "returncode": p.returncode,
                    "cli_reported": inner[-1].strip() if inner else None,
                    "stderr_tail": p.stderr[-1500:] if p.returncode else None,
                }
            )
            print(f"[cli] {label}: {wall:.1f} s (rc {p.returncode})", file=sys.stderr, flush=True)
        n_files = sum(1 for _ in (cache / "xla").rglob("*") if _.is_file()) if (cache / "xla").exists() else 0
        out["cache_entries_after"] = n_files
        # import-only floor: python + jax + jaxvet start-up
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import jaxvet, jaxvet.vet, jaxvet.io"], capture_output=True, timeout=120
        )
        out["import_only_s"] = time.perf_counter() - t
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return out


def parity(ref: dict, jv: dict, checks: list[str]) -> dict:
    """Max |relative difference| of numeric metrics shared by the reference and jaxvet results."""
    import math

    out: dict = {}
    rc = ref.get("candidates") or []
    jr = jv.get("results") or []
    for cid in checks:
        worst, n_cmp, status_match, worst_key = 0.0, 0, 0, None
        for a, b in zip(rc, jr, strict=False):
            ra, rb = a["results"].get(cid), b.get(cid)
            if not ra or not rb:
                continue
            status_match += ra["status"] == rb["status"]
            for k, va in (ra.get("metrics") or {}).items():
                vb = (rb.get("metrics") or {}).get(k)
                if isinstance(va, bool) or isinstance(vb, bool):
                    continue
                if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
                    if not (math.isfinite(va) and math.isfinite(vb)):
                        continue
                    rel = abs(va - vb) / max(abs(va), abs(vb), 1e-12)
                    n_cmp += 1
                    if rel > worst:
                        worst, worst_key = rel, k
        out[cid] = {
            "n_compared_values": n_cmp,
            "max_rel_diff": worst,
            "worst_metric": worst_key,
            "status_agree": status_match,
            "n_candidates": min(len(rc), len(jr)),
        }
    return out


def predict_s(runs: list[dict], n: int, checks: list[str]) -> float:
    """Worker wall time for ``checks`` at batch ``n``, scaled from the batch sizes already run.

    For every check (and the depth estimate) the latest run that timed it gives its compile
    cost (first - warm call) and its per-candidate cost; ~3 calls per check at batch ``n``
    (per-check first and warm, suite) plus 15 s of start-up.
    """
    done = [r for r in runs if "suite" in r and "per_check" in r]
    if not done:
        return 0.0
    total = 15.0 + done[-1].get("load_s", 0.0)
    for c in [*checks, "depth_estimate"]:
        src = next((r for r in reversed(done) if c in r["per_check"]), None)
        if src is None:
            continue
        pc = src["per_check"][c]
        total += max(pc["first_call_s"] - pc["warm_median_s"], 0.0)
        total += 3.2 * pc["warm_median_s"] / src["n_candidates"] * n
    return total


def make_plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = [r for r in res["batch_sizes"] if "suite" in r and "checks_subset" not in r]
    if sizes:
        ns = [r["n_candidates"] for r in sizes]
        a1.loglog(ns, [r["suite"]["warm_median_s"] for r in sizes], "o-", lw=2, label="suite (warm)")
        a1.loglog(
            ns,
            [
                r["suite"]["first_call_s"] + sum(v["first_call_s"] for v in r["per_check"].values())
                for r in sizes
            ],
            "s--",
            color="gray",
            label="first calls (incl. compile)",
        )
        for cid in res["checks"]:
            pts = [
                (r["n_candidates"], r["per_check"][cid]["warm_median_s"])
                for r in res["batch_sizes"]
                if cid in r.get("per_check", {})
            ]
            if pts:
                a1.loglog(*zip(*pts, strict=True), ".:", label=f"{cid} (warm)")
        ref = res.get("reference_per_candidate_ms", {}).get("suite_mean")
        if ref:
            xs = [min(ns), max(ns)]
            a1.loglog(
                xs, [ref * x / 1e3 for x in xs], "k-", alpha=0.5, label=f"reference (mean {ref:.0f} ms/cand)"
            )
            a1.loglog(xs, [ref * x / 1e5 for x in xs], "k--", alpha=0.3, label="reference / 100 (target)")
    a1.set_xlabel("candidates per vet() call")
    a1.set_ylabel("wall time [s]")
    a1.set_title("time vs batch size (TOI-5807, 73,805 points, CPU)")
    a1.legend(fontsize=7)
    a1.grid(True, which="both", alpha=0.3)
    lens = [r for r in res["lc_length_scaling"]["runs"] if "suite" in r]
    if lens:
        a2.loglog(
            [r["n_points"] for r in lens],
            [r["suite"]["warm_median_s"] for r in lens],
            "o-",
            lw=2,
            label=f"suite warm, {res['lc_length_scaling']['n_candidates']} candidates",
        )
        a2.loglog(
            [r["n_points"] for r in lens],
            [r["suite"]["first_call_s"] for r in lens],
            "s--",
            color="gray",
            label="first call (incl. compile)",
        )
        a2.legend(fontsize=8)
    a2.set_xlabel("light-curve points")
    a2.set_ylabel("wall time [s]")
    a2.set_title("time vs light-curve length")
    a2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


REF_KEY = {"V01": "V01", "V04": "V04", "V05": "V05", "V21": "V21_total"}


def attach_reference(res: dict, ref: dict, ref_path: Path, checks: list[str]) -> None:
    """Store the reference run and its per-candidate figures (wall ``*_ms``; CPU ``cpu_*``)."""
    ref_ms: dict = {}
    if "summary_ms" not in ref:
        res["reference"] = ref
        res["reference_per_candidate_ms"] = ref_ms
        return
    for field, prefix in (("summary_ms", ""), ("summary_cpu_ms", "cpu_")):
        sm = ref.get(field)
        if not sm:
            continue
        for cid in checks:
            if REF_KEY.get(cid) in sm:
                ref_ms[f"{prefix}{cid}_median"] = sm[REF_KEY[cid]]["median_ms"]
                ref_ms[f"{prefix}{cid}_mean"] = sm[REF_KEY[cid]]["mean_ms"]
        if set(checks) == set(REF_KEY) and "total_checks_only" in sm:
            ref_ms[f"{prefix}suite_median"] = sm["total_checks_only"]["median_ms"]
            ref_ms[f"{prefix}suite_mean"] = sm["total_checks_only"]["mean_ms"]
        else:  # a subset of the four checks: sum of the per-check figures
            ref_ms[f"{prefix}suite_median"] = sum(sm[REF_KEY[c]]["median_ms"] for c in checks if c in REF_KEY)
            ref_ms[f"{prefix}suite_mean"] = sum(sm[REF_KEY[c]]["mean_ms"] for c in checks if c in REF_KEY)
        ref_ms[f"{prefix}all_four_total_median"] = sm["total"]["median_ms"]
        ref_ms[f"{prefix}all_four_total_mean"] = sm["total"]["mean_ms"]
    res["reference"] = {
        "path": str(ref_path.relative_to(REPO)) if ref_path.is_relative_to(REPO) else str(ref_path),
        "provenance": ref["provenance"],
        "workload": ref["workload"],
        "summary_ms": ref["summary_ms"],
        "summary_cpu_ms": ref.get("summary_cpu_ms"),
        "status_counts": ref["status_counts"],
        "wall_s": ref.get("wall_s"),
    }
    res["reference_per_candidate_ms"] = ref_ms


def score(res: dict) -> None:
    """Per-run summary rows (speed-ups vs the reference) and the target status."""
    ref_ms = res.get("reference_per_candidate_ms", {})
    checks = res["checks"]
    summary = []
    rows_in = list(res["batch_sizes"])
    if "suite" in res.get("reference_candidates_run", {}):
        rows_in.append(dict(res["reference_candidates_run"], label="the reference's own 20 candidates"))
    for r in rows_in:
        if "suite" not in r:
            continue
        su = r["suite"]
        row = {
            "n_candidates": r["n_candidates"],
            "label": r.get("label", "batch size sweep"),
            "checks": r.get("checks_subset", checks),
            "suite_marginal_ms_per_candidate": su["marginal_ms_per_candidate"],
            "suite_marginal_cpu_ms_per_candidate": su.get("marginal_cpu_ms_per_candidate"),
            "throughput_cand_per_s": su["throughput_cand_per_s"],
            "first_call_total_s": r["first_call_total_s"],
            "compile_s": r["compile_s"],
            "peak_rss_mib": r["peak_rss_mib"],
        }
        # mean vs mean: a batch's time / n is a mean over its candidates, so the like-for-like
        # reference figure is its mean per-candidate time (the median ratio is also given)
        for prefix, jv in (
            ("", su["marginal_ms_per_candidate"]),
            ("cpu_", su.get("marginal_cpu_ms_per_candidate")),
        ):
            if ref_ms.get(f"{prefix}suite_mean") and jv and "checks_subset" not in r:
                row[f"{prefix}speedup_vs_reference_suite"] = ref_ms[f"{prefix}suite_mean"] / jv
                row[f"{prefix}speedup_vs_reference_suite_median"] = ref_ms[f"{prefix}suite_median"] / jv
            for cid in checks:
                pc = r["per_check"].get(cid)
                if pc and ref_ms.get(f"{prefix}{cid}_mean"):
                    v = (
                        pc["marginal_ms_per_candidate"]
                        if not prefix
                        else pc.get("marginal_cpu_ms_per_candidate")
                    )
                    if v:
                        row[f"{prefix}speedup_vs_reference_{cid}"] = ref_ms[f"{prefix}{cid}_mean"] / v
        summary.append(row)
    res["summary"] = summary
    best = max(summary, key=lambda x: x.get("speedup_vs_reference_suite", 0), default=None)
    best_cpu = max(summary, key=lambda x: x.get("cpu_speedup_vs_reference_suite", 0), default=None)
    runs = (res.get("cli") or {}).get("runs") or [{}]
    cli_cold = runs[0].get("wall_s")
    cli_warm = runs[-1].get("wall_s") if len(runs) > 1 else None
    tgt: dict = {}
    if best and "speedup_vs_reference_suite" in best:
        tgt["cpu_suite_speedup_ge_100"] = {
            "best_speedup_wall": best["speedup_vs_reference_suite"],
            "at_batch": best["n_candidates"],
            "best_speedup_cpu_time": (best_cpu or {}).get("cpu_speedup_vs_reference_suite"),
            "met": best["speedup_vs_reference_suite"] >= 100,
        }
    else:
        tgt["cpu_suite_speedup_ge_100"] = None
    tgt["cli_startup_plus_compile_lt_20s"] = (
        None
        if cli_cold is None
        else {"cold_cache_s": cli_cold, "warm_cache_s": cli_warm, "met": cli_cold < 20}
    )
    tgt["gpu_ge_10000x_at_batch_ge_10000"] = (
        "not measured: no GPU in this session" if not res["machine"]["gpu_available"] else "see batch_sizes"
    )
    res["targets"] = tgt


def rescore_reference(args) -> int:
    """Re-run only the reference, then recompute the ratios of an existing results file."""
    out = Path(args.out)
    res = json.loads(out.read_text())
    ref_path = out.with_name(f"reference_timing_n{args.n_reference}_s{args.seed}.json")
    ref = run_reference(args, ref_path)
    if "summary_ms" not in ref:
        print(f"reference not available: {ref}", file=sys.stderr)
        return 1
    res.setdefault("history", []).append(
        {
            "rescored_reference_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "previous_reference_summary_ms": (res.get("reference") or {}).get("summary_ms"),
            "loadavg": loadavg(),
        }
    )
    attach_reference(res, ref, ref_path, res["checks"])
    score(res)
    out.write_text(json.dumps(res, indent=1, default=float) + "\n")
    if args.plot:
        make_plot(res, Path(args.plot))
    print_table(res)
    print(f"rescored {out}", file=sys.stderr)
    return 0


def orchestrate(args) -> int:
    t_start = time.perf_counter()
    deadline = t_start + args.budget_s

    def left() -> float:
        return deadline - time.perf_counter()

    os.environ.setdefault("JAXVET_NO_CACHE", "1")  # in-process compile only; the CLI test sets its own cache
    import jax
    import jaxlib
    import numpy as np

    from jaxvet.checks import available_checks

    avail = available_checks()
    wanted = [c.strip().upper() for c in args.checks.split(",") if c.strip()]
    checks = [c for c in wanted if c in avail]
    missing = [c for c in wanted if c not in avail]
    print(f"checks: {checks} (missing modules: {missing})", file=sys.stderr, flush=True)
    if not checks:
        print("no requested check module is present; nothing to benchmark", file=sys.stderr)
        return 1
    import jaxvet

    res: dict = {
        "generator": "benchmarks/bench_vet.py",
        "command": " ".join([Path(sys.executable).as_posix(), "benchmarks/bench_vet.py", *sys.argv[1:]]),
        "machine": {
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "numpy": np.__version__,
            "jaxvet": jaxvet.__version__,
            "jax_devices": [str(d) for d in jax.devices()],
            "jax_default_backend": jax.default_backend(),
            "gpu_available": jax.default_backend() == "gpu",
            "x64": bool(jax.config.jax_enable_x64),
            "loadavg_start": loadavg(),
            "note": "wall times are affected by other processes on this machine (see loadavg_* per run); "
            "*_cpu_* figures are this process's CPU seconds (all threads), less sensitive to that",
        },
        "git": git_state(),
        "workload": {
            "data_dir": str(data_dir(args.data_dir)),
            "seed": args.seed,
            "candidate_distribution": "benchmarks/candidates.py draw_candidates(n, seed, t_first): "
            "P~U[1,20) d, t0=t_first+U[0,1)*P, D~U[1,6) h",
            "chunk_size": args.chunk_size,
            "vet_call": "jaxvet.engine.runner.vet(lc, candidates, checks, seed=0, chunk_size=chunk_size)",
            "vet_threads": os.environ.get("JAXVET_THREADS") or "default: all checks + depth estimate at once",
        },
        "checks": checks,
        "checks_missing": missing,
        "budget_s": args.budget_s,
    }
    common = ["--seed", str(args.seed), "--chunk-size", str(args.chunk_size), "--checks", ",".join(checks)]
    if args.data_dir:
        common += ["--data-dir", args.data_dir]

    # 1. reference (numpy) on N candidates, and jaxvet on exactly those candidates
    ref_path = Path(args.out).with_name(f"reference_timing_n{args.n_reference}_s{args.seed}.json")
    ref = {"skipped": "--skip-reference"} if args.skip_reference else run_reference(args, ref_path)
    attach_reference(res, ref, ref_path, checks)
    ref_ms = res["reference_per_candidate_ms"]
    print(
        f"reference per-candidate ms: {ref_ms}  [{time.perf_counter() - t_start:.0f}s]",
        file=sys.stderr,
        flush=True,
    )

    refset = run_worker(
        ["--worker", "size", "--n", str(args.n_reference), "--dump-metrics", "--v05-grid"],
        min(left(), 300),
        common,
    )
    if "results" in refset:
        res["parity_on_reference_candidates"] = parity(ref, refset, checks) if "candidates" in ref else None
        refset.pop("results")
    res["reference_candidates_run"] = refset

    # 2. CLI start-up + compile, cold vs warm persistent cache
    if not args.skip_cli:
        res["cli"] = run_cli(args, checks)
    print(f"[{time.perf_counter() - t_start:.0f}s elapsed]", file=sys.stderr, flush=True)

    # 3. batch sizes
    sizes = [int(s) for s in args.sizes.split(",") if s]
    lengths = [int(s) for s in args.lengths.split(",") if s] if not args.skip_scaling else []
    res["batch_sizes"] = []
    prev = None
    reserve_for_lengths = 0.0
    done_runs = res["batch_sizes"]
    for n in sizes:
        if lengths and prev and prev["n_candidates"] >= args.length_candidates:
            per = prev["suite"]["warm_median_s"] / prev["n_candidates"]
            reserve_for_lengths = len(lengths) * (prev["compile_s"] + 20.0 + 3 * per * args.length_candidates)
        avail_s = left() - reserve_for_lengths
        # drop the most expensive checks (at the previous size) until the prediction fits
        subset = list(checks)
        if prev is not None:
            cost = {c: prev["per_check"].get(c, {}).get("warm_median_s", 0.0) for c in subset}
            while subset and predict_s(done_runs, n, subset) > avail_s:
                subset.remove(max(subset, key=lambda c: cost[c]))
        pred = predict_s(done_runs, n, subset or checks)
        if not subset:
            cheapest = min(predict_s(done_runs, n, [c]) for c in checks)
            entry = {
                "n_candidates": n,
                "skipped": f"no check fits: the cheapest alone was predicted at {cheapest:.0f} s "
                f"(the suite at {predict_s(done_runs, n, checks):.0f} s); "
                f"remaining budget {avail_s:.0f} s",
                "predicted_s": predict_s(done_runs, n, checks),
            }
            print(f"[n={n}] skipped: {entry['skipped']}", file=sys.stderr, flush=True)
            res["batch_sizes"].append(entry)
            continue
        extra = ["--profile"] if n == args.profile_n else []
        if subset != checks:
            extra += ["--checks", ",".join(subset)]
            print(
                f"[n={n}] only {subset}: the full suite was predicted at "
                f"{predict_s(done_runs, n, checks):.0f} s, {avail_s:.0f} s left",
                file=sys.stderr,
                flush=True,
            )
        r = run_worker(["--worker", "size", "--n", str(n), *extra], max(avail_s, 30), common)
        r.setdefault("n_candidates", n)
        if pred:
            r["predicted_s"] = pred
        if subset != checks:
            r["checks_subset"] = subset
            r["full_suite_predicted_s"] = predict_s(done_runs, n, checks)
        res["batch_sizes"].append(r)
        if "suite" in r and subset == checks:
            prev = r
        print(
            f"[n={n}] done, wall {r.get('wall_s', 0):.0f}s; {left():.0f}s of budget left",
            file=sys.stderr,
            flush=True,
        )

    # 4. light-curve length scaling (suite, fixed candidate count)
    res["lc_length_scaling"] = {
        "n_candidates": args.length_candidates,
        "runs": [],
        "method": "uniform subsample (fewer points) or time-shifted tiled copies "
        "(more points) of the stitched TOI-5807 light curve",
    }
    for npts in lengths:
        if left() < 20:
            res["lc_length_scaling"]["runs"].append({"n_points": npts, "skipped": "budget exhausted"})
            continue
        r = run_worker(
            ["--worker", "length", "--n", str(args.length_candidates), "--n-points", str(npts)],
            left(),
            common,
        )
        r.setdefault("n_points", npts)
        res["lc_length_scaling"]["runs"].append(r)

    # 5. summary: ratios vs the reference, targets
    score(res)
    res["wall_s"] = time.perf_counter() - t_start
    res["machine"]["loadavg_end"] = loadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=float) + "\n")
    if args.plot:
        make_plot(res, Path(args.plot))
    print_table(res)
    print(f"wrote {out}" + (f" and {args.plot}" if args.plot else ""), file=sys.stderr)
    return 0


def print_table(res: dict) -> None:
    ref = res.get("reference_per_candidate_ms", {})
    print(
        f"\nreference per candidate: mean {ref.get('suite_mean', float('nan')):.1f} ms, median "
        f"{ref.get('suite_median', float('nan')):.1f} ms, "
        f"CPU mean {ref.get('cpu_suite_mean', float('nan')):.1f} ms "
        f"({', '.join(res['checks'])}); speedup = reference mean / jaxvet (wall; cpu)"
    )
    print(
        f"{'batch':>7} {'first s':>9} {'compile s':>9} {'warm s':>9} {'ms/cand':>9} {'cpu ms/c':>9} "
        f"{'cand/s':>9} {'RSS MiB':>8} {'speedup':>8}  per-check ms/cand"
    )
    for r in res["batch_sizes"] + (
        [res["reference_candidates_run"]] if "reference_candidates_run" in res else []
    ):
        if "suite" not in r:
            print(f"{r['n_candidates']:>7}  {r.get('skipped') or r.get('error')}")
            continue
        if "checks_subset" in r:
            print(f"{r['n_candidates']:>7}  (checks {','.join(r['checks_subset'])} only)")
        s = r["suite"]
        sp = ref.get("suite_mean", float("nan")) / s["marginal_ms_per_candidate"]
        spc = ref.get("cpu_suite_mean", float("nan")) / s["marginal_cpu_ms_per_candidate"]
        if "checks_subset" in r:  # not comparable with the four-check reference total
            sp = spc = float("nan")
        pc = " ".join(f"{k}={v['marginal_ms_per_candidate']:.2f}" for k, v in r["per_check"].items())
        print(
            f"{r['n_candidates']:>7} {r['first_call_total_s']:>9.2f} {r['compile_s']:>9.2f} "
            f"{s['warm_median_s']:>9.3f} {s['marginal_ms_per_candidate']:>9.2f} "
            f"{s['marginal_cpu_ms_per_candidate']:>9.2f} {s['throughput_cand_per_s']:>9.1f} "
            f"{r['peak_rss_mib']:>8.0f} {sp:>6.2f};{spc:<5.2f} {pc}"
        )
    for r in res.get("lc_length_scaling", {}).get("runs", []):
        if "suite" in r:
            su = r["suite"]
            print(f"  N={r['n_points']:>7}: warm {su['warm_median_s']:.3f}s first {su['first_call_s']:.2f}s")
        else:
            print(f"  N={r['n_points']:>7}: {r.get('skipped') or r.get('error')}")
    for run in (res.get("cli") or {}).get("runs", []):
        print(f"  CLI {run['cache']}: {run['wall_s']:.1f} s ({run['cli_reported']})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checks", default=",".join(DEFAULT_CHECKS))
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    ap.add_argument("--lengths", default=",".join(map(str, DEFAULT_LENGTHS)))
    ap.add_argument(
        "--length-candidates", type=int, default=100, help="candidates per light-curve-length run"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-size", type=int, default=1024)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--budget-s", type=float, default=600.0, help="wall-clock budget for the whole run")
    ap.add_argument(
        "--reference-python",
        default=os.environ.get("JAXVET_REFERENCE_PYTHON"),
        help="python of an environment with tess-vetter installed (pip install '.[bench]'); "
        "default $JAXVET_REFERENCE_PYTHON; the reference side is skipped when neither is given",
    )
    ap.add_argument("--n-reference", type=int, default=20)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument(
        "--rescore-reference",
        action="store_true",
        help="only re-run the reference and recompute the ratios in an existing --out file",
    )
    ap.add_argument(
        "--profile-n", type=int, default=100, help="cProfile the warm suite call at this batch size"
    )
    ap.add_argument("--out", default=str(HERE / "results" / "bench_vet_cpu.json"))
    ap.add_argument("--plot", default=str(HERE / "results" / "scaling_cpu.png"))
    # internal: one measurement in a fresh process
    ap.add_argument("--worker", choices=("size", "length"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--n-points", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--dump-metrics", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--v05-grid", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        os.environ.setdefault("JAXVET_NO_CACHE", "1")
        res = worker(args)
        print(MARK + json.dumps(res, default=float), flush=True)
        return 0
    if args.rescore_reference:
        return rescore_reference(args)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
