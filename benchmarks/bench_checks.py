"""Per-check warm time per candidate, in one process: a quick A/B between two checkouts.

    python benchmarks/bench_checks.py --n 1000 --checks V01,V02,V04,V05,V21 --out results/checks.json

Workload: the four TOI-5807 sectors (``--data-dir``, else ``$JAXVET_DATA_DIR/tic188646744``, else
``../shared/data/tic188646744``) and ``--n`` random candidates from
``candidates.draw_candidates(n, seed, t_first)`` (P ~ U[1, 20) d, D ~ U[1, 6) h).  Each check runs
alone through ``jaxvet.vet(..., estimate_depth=False)``: one first call (compilation included),
then ``--reps`` warm calls; the fastest warm call / n is reported (wall and process CPU time).
With ``--n-small`` the first N candidates are timed too, and the marginal time per candidate
``(t(n) - t(N)) / (n - N)`` is reported: costs paid once per ``vet`` call (preparing a pixel
stamp) cancel.
The pixel checks (V08, V09, V25) vet every candidate on one stamp, ``--tpf`` (default: the
sector 83 stamp of the same folder); ``--sectors`` picks the light curves (default all four).

``jaxvet.vet`` also assesses every candidate's out-of-transit variability (the report's
``variability`` record, a flag on V02/V04) whatever the checks; the check is timed alone with it
switched off (``variability_threshold=None``) unless ``--with-variability`` is given, so that
revisions without the assessment compare like for like (the JSON records which).  For the same
reason ``vet()``'s disposition of each candidate (``jaxvet.disposition``, a host-side step after
the checks) is replaced by a no-op in the timed process unless ``--with-disposition`` is given.

To compare with another revision, run the same command with ``PYTHONPATH`` pointing at a
checkout of it (``git worktree add ../jaxvet-old REV``), alternating the two so that both see
the same machine load.  No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
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


def _revision(where: Path) -> str:
    """The short git revision of the checkout holding ``where`` (``"unknown"`` outside one)."""
    try:
        r = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return r.stdout.strip()


def _disposition_step(keep: bool) -> str:
    """Leave ``vet()``'s disposition step in place (``keep``) or replace it by a no-op;
    returns what the JSON records ("timed", "skipped", or "absent" in a revision without it)."""
    import jaxvet

    if not (Path(jaxvet.__file__).parent / "disposition").is_dir():
        return "absent"
    import jaxvet.engine.runner as runner

    if keep:
        return "timed"
    runner.dispose_many = lambda results, flags, policy: [None] * len(results)
    return "skipped"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--checks", default="V01,V02,V04,V05,V21")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--sectors", default=",".join(str(s) for s in TOI5807_SECTORS))
    ap.add_argument("--tpf", default=None, help="pixel stamp for V08/V09/V25 (.npz)")
    ap.add_argument("--n-small", type=int, default=0,
                    help="also time the first N candidates (marginal ms per candidate)")
    ap.add_argument("--label", default=None, help="what to call the jaxvet timed (default: its git revision)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--with-disposition", action="store_true",
                    help="keep vet()'s disposition step (default: replaced by a no-op, see above)")
    ap.add_argument("--with-variability", action="store_true",
                    help="keep vet()'s variability assessment in the timed calls (default: off)")
    args = ap.parse_args(argv)

    import jaxvet
    from jaxvet.data import Candidate
    from jaxvet.pixels import read_tpf

    d = data_dir(args.data_dir)
    sectors = [int(s) for s in args.sectors.split(",")]
    lc = jaxvet.read_lightcurves([str(d / f"sector{s}_pdcsap.csv") for s in sectors])
    cs = draw_candidates(args.n, args.seed, float(lc.time[0]))
    cands = [Candidate(**c) for c in cs.as_list()]
    checks = args.checks.split(",")
    tpf = None
    if {"V08", "V09", "V25"} & set(checks):
        tpf = Path(args.tpf) if args.tpf else d / "sector83_tpf.npz"
    tpfs = [read_tpf(str(tpf))] if tpf is not None else []
    label = args.label or _revision(Path(jaxvet.__file__).parent)
    extra = {}
    if "variability_threshold" in inspect.signature(jaxvet.vet).parameters and not args.with_variability:
        extra["variability_threshold"] = None  # time the check alone
    disposition = _disposition_step(args.with_disposition)
    out = {"jaxvet": label, "n": args.n, "cpu": cpu_model(), "sectors": sectors,
           "tpf": None if tpf is None else tpf.name, "variability_assessed": not extra,
           "disposition": disposition, "checks": {}}
    for cid in checks:
        def run(cid=cid, n=args.n):
            return jaxvet.vet(lc, cands[:n], [cid], tpfs=tpfs, seed=0, estimate_depth=False, **extra)

        first, _ = _time(run)
        warm = [_time(run) for _ in range(args.reps)]
        wall, cpu = min(w for w, _ in warm), min(c for _, c in warm)
        out["checks"][cid] = {
            "first_call_s": round(first, 2),
            "warm_ms_per_candidate": round(1e3 * wall / args.n, 3),
            "warm_cpu_ms_per_candidate": round(1e3 * cpu / args.n, 3),
        }
        if 0 < args.n_small < args.n:  # (t(n) - t(n_small)) / (n - n_small): per-call costs cancel
            run(n=args.n_small)
            small = [_time(lambda: run(n=args.n_small)) for _ in range(args.reps)]
            dn = args.n - args.n_small
            out["checks"][cid].update(
                n_small=args.n_small,
                marginal_ms_per_candidate=round(1e3 * (wall - min(w for w, _ in small)) / dn, 3),
                marginal_cpu_ms_per_candidate=round(1e3 * (cpu - min(c for _, c in small)) / dn, 3),
            )
        print(cid, out["checks"][cid], flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
