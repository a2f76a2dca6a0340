"""Benchmark: the default pixel campaign (64 injections, V08 + V09), whole run and steady chunks.

Run with the jaxvet virtualenv (CPU by default)::

    python benchmarks/bench_pixel_campaign.py [--n-injections 64] [--chunk-size 16] [--steady 4]

Measured: :func:`jaxvet.campaigns.pixel.run_pixel_campaign` on the defaults (seed 0) -- wall
time, process CPU time (all threads: the load-independent cost on a shared machine), the
summary's injections per second, the priming (compilation) time and the per-chunk times -- then,
in the same process (programs compiled), ``--steady`` more chunks vetted one after the other
(wall and CPU each).  The load average is recorded before and after.  Prints one JSON line; a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from jaxvet.campaigns import pixel as pc
from jaxvet.campaigns.runner import resolve_campaign_options


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-injections", type=int, default=64)
    ap.add_argument("--chunk-size", type=int, default=16)
    ap.add_argument("--steady", type=int, default=4)
    args = ap.parse_args()
    k = args.chunk_size
    load0 = os.getloadavg()
    t, c = time.perf_counter(), time.process_time()
    tab = pc.run_pixel_campaign(args.n_injections, seed=0, chunk_size=k, progress=False)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    timing = tab.meta["summary"]["timing"]
    specs = pc._resolve_checks(pc.DEFAULT_CHECKS)
    rng_par, stamp_cfg = pc._resolve_ranges({})
    opts = {name: dict(v) for name, v in pc.DEFAULT_OPTIONS.items()}
    checked = resolve_campaign_options(specs, opts)
    shapes = pc.prime_shapes(specs, 0, pc.PIXEL_KINDS, rng_par, stamp_cfg, opts, checked, k)
    seconds = {"simulate": 0.0}
    steady = []
    for j in range(args.steady):
        ids = np.arange(k * j, k * (j + 1))
        t, c = time.perf_counter(), time.process_time()
        pc._vet_chunk(ids, 0, pc.PIXEL_KINDS, rng_par, stamp_cfg, specs, opts, checked, seconds, shapes)
        steady.append({"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c})
    print(json.dumps({
        "n_injections": args.n_injections, "chunk_size": k, "campaign_wall_s": wall, "campaign_cpu_s": cpu,
        "injections_per_s": timing["injections_per_s"], "prime_s": timing["seconds_by_stage"].get("prime"),
        "chunk_seconds": timing["chunk_seconds"], "chunk_cpu_seconds": timing["chunk_cpu_seconds"],
        "steady_chunks": steady, "load_before": load0, "load_after": os.getloadavg(),
    }))


if __name__ == "__main__":
    main()
