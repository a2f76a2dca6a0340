"""Per-check warm time per candidate, in one process: a quick A/B between two checkouts.

    python benchmarks/bench_checks.py --n 1000 --checks V01,V02,V04,V05,V21 --out results/checks.json

Workload: the four TOI-5807 sectors (``--data-dir``, else ``$JAXVET_DATA_DIR/tic188646744``, else
``../shared/data/tic188646744``) and ``--n`` random candidates from
``candidates.draw_candidates(n, seed, t_first)`` (P ~ U[1, 20) d, D ~ U[1, 6) h).  Each check runs
alone through ``jaxvet.vet(..., estimate_depth=False)``: one first call (compilation included),
then ``--reps`` warm calls; the fastest warm call / n is reported (wall and process CPU time).

To compare with another revision, run the same command with ``PYTHONPATH`` pointing at a
checkout of it (``git worktree add ../jaxvet-old REV``), alternating the two so that both see
the same machine load.  No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from candidates import TOI5807_SECTORS, cpu_model, data_dir, draw_candidates  # noqa: E402


def _time(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--checks", default="V01,V02,V04,V05,V21")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)

    import jaxvet
    from jaxvet.data import Candidate

    d = data_dir(args.data_dir)
    lc = jaxvet.read_lightcurves([str(d / f"sector{s}_pdcsap.csv") for s in TOI5807_SECTORS])
    cs = draw_candidates(args.n, args.seed, float(lc.time[0]))
    cands = [Candidate(**c) for c in cs.as_list()]
    out = {"jaxvet": jaxvet.__file__, "n": args.n, "cpu": cpu_model(), "checks": {}}
    for cid in args.checks.split(","):
        def run(cid=cid):
            return jaxvet.vet(lc, cands, [cid], seed=0, estimate_depth=False)

        first, _ = _time(run)
        warm = [_time(run) for _ in range(args.reps)]
        wall, cpu = min(w for w, _ in warm), min(c for _, c in warm)
        out["checks"][cid] = {
            "first_call_s": round(first, 2),
            "warm_ms_per_candidate": round(1e3 * wall / args.n, 3),
            "warm_cpu_ms_per_candidate": round(1e3 * cpu / args.n, 3),
        }
        print(cid, out["checks"][cid], flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
