"""A/B of per-check cost between two checkouts: ``bench_checks.py`` run alternately on each.

    git worktree add ../jaxvet-old 9ba3aea
    python benchmarks/bench_ab.py --old ../jaxvet-old --new . --pairs 2 \\
        --checks V01:300,V02:300,V04:300,V05:300,V21:300,V03:300,V08:50,V09:20,V25:20 \\
        --out benchmarks/results/checks_ab_cpu.json

For each ``CHECK:N`` entry and each of ``--pairs`` rounds, ``bench_checks.py --n N --checks
CHECK`` runs once with ``PYTHONPATH`` at the old checkout and once at the new one, one right
after the other (alternating which goes first), so both see the same machine load.  Per
revision the lowest warm process-CPU ms per candidate over the rounds is kept (CPU time, not
wall: on a shared machine wall time follows the load); ``change`` = new / old - 1.  The load
average before and after each run is recorded.  No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def _revision(path: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=path)
    return out.stdout.strip() or "unknown"


def _one(checkout: Path, check: str, n: int, reps: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        env = dict(os.environ, PYTHONPATH=str(checkout))
        cmd = [sys.executable, str(HERE / "bench_checks.py"), "--n", str(n), "--reps", str(reps),
               "--checks", check, "--out", str(out), *extra]
        before = _load()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        rec = json.loads(out.read_text())["checks"][check]
    return {**rec, "load_before_after": [before, _load()]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="checkout of the old revision")
    ap.add_argument("--new", default=str(HERE.parent), help="checkout of the new revision")
    ap.add_argument("--checks", default="V01:300,V04:300,V05:300,V21:300")
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--out", default=None)
    args, extra = ap.parse_known_args(argv)
    old, new = Path(args.old).resolve(), Path(args.new).resolve()
    revs = {"old": _revision(old), "new": _revision(new)}
    # the command as anyone reruns it: checkouts named by their revision, not by a local path
    rest = " ".join(extra)
    command = (f"python benchmarks/bench_ab.py --old <checkout of {revs['old']}> "
               f"--new <checkout of {revs['new']}> --pairs {args.pairs} --reps {args.reps} "
               f"--checks {args.checks} {rest}").strip()
    result = {"command": command,
              "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M"),
              "revisions": revs, "timer": "process CPU (time.process_time), fastest warm call / n",
              "checks": {}}
    for item in args.checks.split(","):
        check, n = item.split(":")
        runs = {"old": [], "new": []}
        for k in range(args.pairs):
            order = ("old", "new") if k % 2 == 0 else ("new", "old")
            for side in order:
                runs[side].append(_one(old if side == "old" else new, check, int(n), args.reps, extra))
        best = {s: min(r["warm_cpu_ms_per_candidate"] for r in runs[s]) for s in runs}
        result["checks"][check] = {"n": int(n), "old_cpu_ms": best["old"], "new_cpu_ms": best["new"],
                                   "change": round(best["new"] / best["old"] - 1.0, 3), "runs": runs}
        print(f"{check:5s} n={n:>5s} old {best['old']:9.3f}  new {best['new']:9.3f}  "
              f"change {100 * (best['new'] / best['old'] - 1):+6.1f} %", flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
