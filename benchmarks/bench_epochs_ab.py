"""In-process A/B of the per-epoch table: this tree's ``measure_epochs`` against an older checkout's.

    PYTHONPATH=$PWD python benchmarks/bench_epochs_ab.py <checkout of 9ba3aea> --n 300 --reps 6

The older package is copied to a temporary directory as ``jaxvet_old`` (its modules import
each other relatively), so both tables are measured in one process, alternately, on the same
light curves (the four TOI-5807 sectors) and candidates (``draw_candidates(n, 0, t_first)``,
padded to ``bucket_size(n, 8)``).  Prints the warm process-CPU seconds of each call
(``time.process_time``, blocking on the table) and the new/old ratios of their minimum and median:
alternating in one process makes the ratio far less sensitive to a shared machine's load than
separate runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from candidates import TOI5807_SECTORS, data_dir, draw_candidates  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old_checkout")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(Path(args.old_checkout) / "jaxvet", tmp / "jaxvet_old")
    sys.path.insert(0, str(tmp))
    import jax
    import jaxvet_old
    import jaxvet_old.epochs as old_epochs
    import numpy as np

    import jaxvet
    import jaxvet.core.epochs as new_epochs
    from jaxvet.data import Candidate, CandidateBatch, LightCurveBatch, bucket_size

    d = data_dir(args.data_dir)
    files = [str(d / f"sector{s}_pdcsap.csv") for s in TOI5807_SECTORS]
    pad = bucket_size(args.n, 8)

    def batches(pkg, lcb_cls, cb_cls, cand_cls):
        lc = pkg.read_lightcurves(files)
        lcs = lc if isinstance(lc, list | tuple) else [lc]
        cands = draw_candidates(args.n, 0, float(lcs[0].time[0])).as_list()
        cb = cb_cls.from_candidates([cand_cls(**c) for c in cands], pad_to=pad)
        return lcb_cls.from_lightcurves(lcs), cb

    new = batches(jaxvet, LightCurveBatch, CandidateBatch, Candidate)
    od = jaxvet_old.data
    old = batches(jaxvet_old, od.LightCurveBatch, od.CandidateBatch, od.Candidate)
    fns = {
        "this_tree": lambda: new_epochs.measure_epochs(*new),
        "old": lambda: old_epochs.measure_epochs(*old),
    }
    for f in fns.values():
        jax.block_until_ready(f())
    cpu = {k: [] for k in fns}
    for _ in range(args.reps):
        for k, f in fns.items():
            c = time.process_time()
            jax.block_until_ready(f())
            cpu[k].append(time.process_time() - c)
    out = {k: sorted(round(x, 3) for x in v) for k, v in cpu.items()}
    out["ratio_min"] = round(min(cpu["this_tree"]) / min(cpu["old"]), 3)
    out["ratio_median"] = round(float(np.median(cpu["this_tree"]) / np.median(cpu["old"])), 3)
    print(json.dumps(out), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
