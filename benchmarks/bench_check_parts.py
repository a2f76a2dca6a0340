"""First and warm process-CPU time of one check, and of named functions inside it.

    python benchmarks/bench_check_parts.py V02 --n 20,100,300 \\
        --parts jaxvet.core.secondary._apply,jaxvet.checks.v02_secondary_eclipse._v02_kernel

Workload as in ``bench_checks.py``: the four TOI-5807 sectors and ``draw_candidates(n, 0, t_first)``,
the check alone through ``jaxvet.vet(..., estimate_depth=False)`` (variability assessment off
where the revision has it); ``--repeat K`` warm calls, the fastest reported.  Each ``--parts``
entry ``module.attr`` is replaced by a wrapper that adds the process time of the call and of
``jax.block_until_ready`` on its result, so a caller that looks the name up in that module at
call time is timed.  ``--options`` is a JSON mapping of the check's options.  For an A/B run
the same command with ``PYTHONPATH`` at each checkout.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from candidates import TOI5807_SECTORS, data_dir, draw_candidates  # noqa: E402


def _wrap(spec: str, acc: dict) -> None:
    import jax

    mod_name, name = spec.rsplit(".", 1)
    mod = importlib.import_module(mod_name)
    fn = getattr(mod, name)

    def timed(*a, **k):
        c = time.process_time()
        r = fn(*a, **k)
        jax.block_until_ready(r)
        acc[spec] = acc.get(spec, 0.0) + time.process_time() - c
        acc[spec + " calls"] = acc.get(spec + " calls", 0) + 1
        return r

    setattr(mod, name, timed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("check")
    ap.add_argument("--n", default="100", help="comma-separated batch sizes")
    ap.add_argument("--parts", default="", help="comma-separated module.attr to time inside")
    ap.add_argument("--options", default=None, help="JSON options of the check")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--repeat", type=int, default=1, help="warm calls (the minimum is reported)")
    args = ap.parse_args(argv)

    import jaxvet
    from jaxvet.data import Candidate

    d = data_dir(args.data_dir)
    lc = jaxvet.read_lightcurves([str(d / f"sector{s}_pdcsap.csv") for s in TOI5807_SECTORS])
    ns = [int(x) for x in args.n.split(",")]
    cands = [Candidate(**c) for c in draw_candidates(max(ns), 0, float(lc.time[0])).as_list()]
    kw = {"seed": 0, "estimate_depth": False}
    if "variability_threshold" in inspect.signature(jaxvet.vet).parameters:
        kw["variability_threshold"] = None
    if args.options:
        kw["options"] = {args.check: json.loads(args.options)}
    acc: dict = {}
    for spec in filter(None, args.parts.split(",")):
        _wrap(spec, acc)
    for n in ns:
        row = {"check": args.check, "n": n}
        warm = []
        for label in ("first", *["warm"] * max(1, args.repeat)):
            acc.clear()
            c = time.process_time()
            jaxvet.vet(lc, cands[:n], [args.check], **kw)
            cpu = round(time.process_time() - c, 3)
            if label == "warm":
                warm.append(cpu)
            if label == "first" or cpu <= min(warm):
                row[f"{label}_cpu_s"] = cpu
                row[f"{label}_parts_cpu_s"] = {k: round(v, 3) for k, v in acc.items()}
        row["warm_cpu_s_all"] = warm
        row["warm_cpu_ms_per_candidate"] = round(1e3 * row["warm_cpu_s"] / n, 2)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
