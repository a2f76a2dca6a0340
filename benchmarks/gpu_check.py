"""The whole GPU verification of jaxvet in one call: install, parity tests, GPU vs CPU, scale.

On a machine with jax + CUDA and no package registry (stage the wheels and the data first, on a
machine with one: ``benchmarks/gpu_prepare.sh``, which fills the git-ignored ``.gpu/``)::

    python3 benchmarks/gpu_check.py                     # defaults: the full GPU run (about 8 min)
    JAX_PLATFORMS=cpu python benchmarks/gpu_check.py --sizes 100,400 --campaign 256 \\
        --compare-n 16 --budget-s 400                   # the same script, small, on a CPU

Steps (each in its own subprocess with what is left of ``--budget-s``; the JSON is rewritten after
each step, so a step cut short by the budget still leaves the earlier ones):

1. ``environment``: python / jax versions, backend, devices; astropy installed from
   ``.gpu/wheels`` when it is missing (``pip install --no-index``).
2. ``parity_tests``: the reference-parity tests (``pytest -k "reference or golden or
   matches"`` over the check test files), on the default backend, with the data in
   ``.gpu/data`` (or ``--data-dir``).
3. ``gpu_vs_cpu``: ``vet`` on ``--compare-n`` random candidates with ``--compare-checks``, once on
   the default backend and once with ``JAX_PLATFORMS=cpu``; the largest relative difference over
   every numeric metric (``|a - b| / max(|a|, |b|)``, 0 where both are 0), and every metric above
   ``--rtol`` (1e-9) by name.
4. ``suite``: ``vet`` with ``--checks`` (V01,V04,V05,V21; 100 bootstraps) at each of ``--sizes``
   candidates on the four TOI-5807 sectors: first call (compile included) and a warm call, in
   microseconds per candidate; peak device memory where the backend reports it.
5. ``campaign``: a ``--campaign``-injection V01+V04+V05 campaign (after a warm-up campaign of one
   chunk): injections per second.
6. ``bandwidth``: bytes a candidate of the warm suite must read at least (its transit windows of
   time, flux and error, 8 bytes each, once per check) against the device's memory bandwidth
   (``--bandwidth-gbs``; H100 SXM 3350, H200 4800 GB/s): the bound in microseconds per candidate
   and the measured time's distance to it.

Writes ``$OUT/gpu_check.json`` (else ``--out``). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from candidates import DEFAULT_DATA_DIR, TOI5807_SECTORS  # noqa: E402

PARITY_TESTS = [
    "tests/test_v01.py",
    "tests/test_v02.py",
    "tests/test_v03.py",
    "tests/test_v04.py",
    "tests/test_v05.py",
    "tests/test_v21.py",
    "tests/test_v13.py",
    "tests/test_v15.py",
    "tests/test_v16.py",
    "tests/test_v19.py",
]
BANDWIDTH_GBS = {"H100": 3350.0, "H200": 4800.0}


# ------------------------------------------------------------------------------------------
# worker side (imports jax / jaxvet): one step, result as JSON on stdout's last line
# ------------------------------------------------------------------------------------------
def _load(data_dir: Path):
    import jaxvet

    files = [str(data_dir / f"sector{s}_pdcsap.csv") for s in TOI5807_SECTORS]
    return jaxvet.read_lightcurves(files)


def _candidates(n: int, seed: int, t_first: float):
    from candidates import draw_candidates

    import jaxvet

    cs = draw_candidates(n, seed, t_first)
    return [
        jaxvet.Candidate(period_days=float(p), t0_btjd=float(t0), duration_hours=float(d), id=str(i))
        for i, (p, t0, d) in enumerate(zip(cs.period_days, cs.t0_btjd, cs.duration_hours, strict=True))
    ]


def _peak_device_bytes():
    import jax

    try:
        stats = jax.local_devices()[0].memory_stats()
    except (AttributeError, RuntimeError, NotImplementedError):
        return None
    return None if not stats else stats.get("peak_bytes_in_use")


def worker_metrics(args) -> dict:
    """Every finite numeric metric of a ``vet`` run, keyed ``candidate/check/metric``."""
    import jaxvet

    lc = _load(Path(args.data_dir))
    cands = _candidates(args.compare_n, args.seed, float(lc.time[0]))
    report = jaxvet.vet(lc, cands, args.compare_checks, seed=args.seed)
    out = {}
    for i, row in enumerate(report.results):
        for cid, res in row.items():
            for k, v in (res.metrics or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[f"{i}/{cid}/{k}"] = float(v)
            out[f"{i}/{cid}/status"] = str(res.status)
    import jax

    return {"backend": jax.default_backend(), "metrics": out}


def worker_suite(args) -> None:
    """One JSON line per size of ``--sizes`` (one process: programs compiled once are reused)."""
    import jax

    import jaxvet

    lc = _load(Path(args.data_dir))
    for n in [int(x) for x in args.sizes.split(",") if x]:
        cands = _candidates(n, args.seed, float(lc.time[0]))
        times = []
        for _ in range(2):
            t = time.perf_counter()
            jaxvet.vet(lc, cands, args.checks, seed=args.seed, chunk_size=args.chunk_size)
            times.append(time.perf_counter() - t)
        row = {
            "n": n,
            "backend": jax.default_backend(),
            "first_s": times[0],
            "warm_s": times[1],
            "warm_us_per_candidate": 1e6 * times[1] / n,
            "peak_device_bytes": _peak_device_bytes(),
            "mean_window_points": _window_points(lc, cands),
        }
        print(json.dumps(row), flush=True)


def _window_points(lc, cands) -> float:
    """Mean number of light-curve points within one duration of a transit centre, per candidate."""
    import numpy as np

    t = np.asarray(lc.time)
    n = []
    for c in cands[:200]:
        ph = np.abs(((t - c.t0_btjd + 0.5 * c.period_days) % c.period_days) - 0.5 * c.period_days)
        n.append(int(np.sum(ph <= c.duration_hours / 24.0)))
    return float(np.mean(n))


def worker_campaign(args) -> dict:
    import tempfile

    import jax

    from jaxvet.campaigns.lightcurve import run_campaign

    lc = _load(Path(args.data_dir))
    stellar = dict(stellar_radius=1.65, stellar_mass=1.47)
    common = dict(checks="V01,V04,V05", seed=args.seed, injection=stellar, plots=False, progress=False)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        first = run_campaign(
            lc, n_injections=args.chunk_size, out=Path(d) / "warm", chunk_size=args.chunk_size, **common
        )
        warm_s = time.perf_counter() - t
        t = time.perf_counter()
        run_campaign(lc, n_injections=args.n, out=Path(d) / "run", chunk_size=args.chunk_size, **common)
        wall = time.perf_counter() - t
    return {
        "backend": jax.default_backend(),
        "n_injections": args.n,
        "chunk_size": args.chunk_size,
        "warmup_campaign_s": warm_s,
        "warmup_rows": len(first),
        "wall_s": wall,
        "injections_per_s": args.n / wall,
        "peak_device_bytes": _peak_device_bytes(),
    }


def worker(args) -> int:
    if args.worker == "suite":
        worker_suite(args)
    else:
        fn = {"metrics": worker_metrics, "campaign": worker_campaign}[args.worker]
        print(json.dumps(fn(args)))
    return 0


# ------------------------------------------------------------------------------------------
# orchestration
# ------------------------------------------------------------------------------------------
class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def _json_lines(text) -> list:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    rows = []
    for line in (text or "").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _run(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run ``cmd``; ``result``: its last JSON stdout line, ``results``: every one (kept on a timeout)."""
    t = time.perf_counter()
    e = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.update(env or {})
    if timeout < 5:
        return {"skipped": "budget spent"}
    try:
        p = subprocess.run(cmd, cwd=REPO, env=e, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        return {"timed_out_s": timeout, "results": _json_lines(exc.stdout), "stderr_tail": err[-2000:]}
    out = {"rc": p.returncode, "wall_s": time.perf_counter() - t, "results": _json_lines(p.stdout)}
    if out["results"]:
        out["result"] = out["results"][-1]
    else:
        out["stdout_tail"] = p.stdout[-3000:]
    if p.returncode:
        out["stderr_tail"] = p.stderr[-3000:]
    return out


def _worker_cmd(args, name: str, **kw) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--data-dir", str(args.data_dir)]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return cmd


def ensure_astropy(wheels: Path) -> dict:
    try:
        import astropy

        return {"astropy": astropy.__version__, "installed_from_wheels": False}
    except ImportError:
        pass
    if not wheels.is_dir():
        return {
            "astropy": None,
            "note": f"no astropy and no wheel folder {wheels.name}/ (run gpu_prepare.sh)",
        }
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels), "astropy"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return {
        "astropy_install_rc": p.returncode,
        "installed_from_wheels": True,
        "stderr_tail": p.stderr[-1500:],
    }


def environment() -> dict:
    import platform

    import jax

    devs = jax.devices()
    return {
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devs],
        "device_kind": getattr(devs[0], "device_kind", None),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def compare(gpu: dict, cpu: dict, rtol: float) -> dict:
    a, b = gpu.get("metrics", {}), cpu.get("metrics", {})
    worst, worst_key, above, status_diff = 0.0, None, [], []
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if isinstance(x, str) or isinstance(y, str):
            if x != y:
                status_diff.append(k)
            continue
        if x != x and y != y:  # both NaN
            continue
        scale = max(abs(x), abs(y))
        d = 0.0 if scale == 0 else abs(x - y) / scale
        if d != d:
            d = float("inf")
        if d > worst:
            worst, worst_key = d, k
        if d > rtol:
            above.append({"key": k, "gpu": x, "cpu": y, "rel": d})
    return {
        "n_compared": len(set(a) & set(b)),
        "only_one_side": sorted(set(a) ^ set(b))[:20],
        "max_rel_diff": worst,
        "max_rel_key": worst_key,
        "rtol": rtol,
        "n_above_rtol": len(above),
        "above_rtol": above[:50],
        "status_differences": status_diff[:20],
        "pass": not above and not status_diff and set(a) == set(b),
    }


def bandwidth(suite: list[dict], checks: str, gbs: float | None, kind: str | None) -> dict:
    if gbs is None:
        gbs = next((v for k, v in BANDWIDTH_GBS.items() if kind and k in kind), None)
    rows = [s for s in suite if "warm_us_per_candidate" in s]
    if not rows or gbs is None:
        return {"note": "no suite result or no bandwidth figure for this device (--bandwidth-gbs)"}
    best = min(rows, key=lambda r: r["warm_us_per_candidate"])
    n_checks = len(checks.split(","))
    # time, flux, flux_err, 8 bytes each, at every point within one duration of a transit centre
    bytes_per_cand = 24.0 * best["mean_window_points"] * n_checks
    bound_us = bytes_per_cand / (gbs * 1e9) * 1e6
    return {
        "bandwidth_gbs": gbs,
        "bytes_per_candidate_lower_bound": bytes_per_cand,
        "bound_us_per_candidate": bound_us,
        "measured_us_per_candidate": best["warm_us_per_candidate"],
        "at_n": best["n"],
        "times_the_bound": best["warm_us_per_candidate"] / bound_us,
    }


def orchestrate(args) -> int:
    budget = Budget(args.budget_s)
    out_dir = Path(args.out or os.environ.get("OUT") or HERE / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "gpu_check.json"
    res: dict = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "args": vars(args)}

    def save(step: str) -> None:
        res.setdefault("steps_done", []).append(step)
        path.write_text(json.dumps(res, indent=1, default=str))
        print(f"gpu_check: {step} done ({budget.left():.0f} s of the budget left)", file=sys.stderr)

    res["install"] = ensure_astropy(Path(args.wheels))
    res["environment"] = environment()
    save("environment")
    data_env = {
        "JAXVET_DATA_DIR": str(Path(args.data_dir).parent),
        "JAXVET_TEST_DEFAULT_XLA": "1",
        # several test processes share one GPU: no process takes most of its memory up front
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    }
    if not args.skip_tests:
        workers = str(max(1, min(4, (os.cpu_count() or 1) // 4)))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers]
        cmd += ["-k", "reference or golden or matches", *PARITY_TESTS]
        t = _run(cmd, min(args.tests_timeout_s, budget.left() - 60), data_env)
        t["summary_line"] = (t.get("stdout_tail") or "").strip().splitlines()[-1:] or None
        res["parity_tests"] = t
        save("parity_tests")
    kw = dict(seed=args.seed, compare_n=args.compare_n, compare_checks=args.compare_checks)
    later = args.reserve_s  # kept for the suite and the campaign
    gpu = _run(_worker_cmd(args, "metrics", **kw), min(args.compare_timeout_s, (budget.left() - later) / 2))
    cpu_env = {"JAX_PLATFORMS": "cpu"}
    cpu_timeout = min(args.compare_timeout_s, budget.left() - later)
    cpu = _run(_worker_cmd(args, "metrics", **kw), cpu_timeout, cpu_env)
    res["gpu_vs_cpu"] = {
        "default_backend": gpu.get("result", {}).get("backend"),
        "run_s": [gpu.get("wall_s"), cpu.get("wall_s")],
        **compare(gpu.get("result", {}), cpu.get("result", {}), args.rtol),
        "errors": [x.get("stderr_tail") for x in (gpu, cpu) if "result" not in x],
    }
    save("gpu_vs_cpu")
    kw = dict(sizes=args.sizes, checks=args.checks, seed=args.seed, chunk_size=args.chunk_size)
    left = budget.left() - (args.reserve_s / 2 if args.campaign else 10)
    run = _run(_worker_cmd(args, "suite", **kw), left)
    res["suite"] = run.pop("results", [])
    res["suite_run"] = run
    save("suite")
    if args.campaign:
        kw = dict(n=args.campaign, seed=args.seed, chunk_size=args.campaign_chunk)
        res["campaign"] = _run(_worker_cmd(args, "campaign", **kw), budget.left() - 5)
        save("campaign")
    kind = res["environment"].get("device_kind")
    res["bandwidth"] = bandwidth(res["suite"], args.checks, args.bandwidth_gbs, kind)
    save("bandwidth")
    print(json.dumps({k: res[k] for k in ("gpu_vs_cpu", "bandwidth") if k in res}, indent=1, default=str))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    gpu_data = REPO / ".gpu" / "data" / "tic188646744"
    ap.add_argument("--data-dir", default=str(gpu_data if gpu_data.is_dir() else DEFAULT_DATA_DIR))
    ap.add_argument("--wheels", default=str(REPO / ".gpu" / "wheels"))
    ap.add_argument("--out", default=None, help="output folder (default $OUT, else benchmarks/results)")
    ap.add_argument("--budget-s", type=float, default=470.0, help="wall-clock budget of the whole run")
    ap.add_argument("--tests-timeout-s", type=float, default=150.0)
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--checks", default="V01,V04,V05,V21")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--chunk-size", type=int, default=4096)
    ap.add_argument("--campaign", type=int, default=100_000, help="injections (0: no campaign)")
    ap.add_argument("--campaign-chunk", type=int, default=8192)
    ap.add_argument("--compare-n", type=int, default=64)
    ap.add_argument("--compare-checks", default="V01,V02,V04,V05,V21")
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--compare-timeout-s", type=float, default=100.0, help="limit of each comparison run")
    ap.add_argument("--reserve-s", type=float, default=200.0, help="budget kept for the suite and campaign")
    ap.add_argument("--bandwidth-gbs", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", choices=("metrics", "suite", "campaign"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    return orchestrate(args)


if __name__ == "__main__":
    raise SystemExit(main())
