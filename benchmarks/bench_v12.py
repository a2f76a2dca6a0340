"""V12 (SWEET) time per candidate: jaxvet against the reference, in one run.

    python benchmarks/bench_v12.py [--n 256] [--n-reference 16] [--out results/v12_sweet_cpu.json]

Workload: the four TOI-5807 sectors (73805 points) and random candidates from
``candidates.draw_candidates(n, seed, t_first)`` (P ~ U[1, 20) d, D ~ U[1, 6) h).  jaxvet:
``jaxvet.vet(lc, cands, ["V12"], estimate_depth=False)``, a first call (compilation included)
then ``--reps`` warm calls, the fastest reported.  The reference: tess-vetter 0.3.20's
``VettingSession.run("V12")`` (exovetter 0.0.16 ``Sweet``) on the first ``--n-reference`` of the
same candidates, one at a time, on the light curve ``benchmarks/reference_golden.py`` stitches.
Wall (``perf_counter``) and process CPU (``process_time``) per candidate; a measurement, no
assertion.  Needs both jaxvet and the reference libraries importable.
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


def _reference(d: Path, cs, n: int) -> tuple[float, float]:
    import tess_vetter.api as btv
    from reference_golden import STELLAR_KW, SUBSETS, TIC_ID, stitch_sectors

    lc = stitch_sectors(btv.load_local_dataset(d), SUBSETS["all_sectors"])[0]

    def one(i):
        eph = btv.Ephemeris(period_days=float(cs.period_days[i]), t0_btjd=float(cs.t0_btjd[i]),
                            duration_hours=float(cs.duration_hours[i]))  # fmt: skip
        s = btv.VettingSession.from_api(lc=lc, candidate=btv.Candidate(ephemeris=eph, depth_ppm=250.0),
                                        stellar=btv.StellarParams(**STELLAR_KW), network=False,
                                        preset="extended", tic_id=TIC_ID)  # fmt: skip
        assert s.run("V12").status == "ok"

    one(0)  # imports and caches outside the timing
    return _time(lambda: [one(i) for i in range(n)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--n-reference", type=int, default=16)
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

    def run():
        return jaxvet.vet(lc, cands, ["V12"], seed=0, estimate_depth=False)

    first, _ = _time(run)
    warm = [_time(run) for _ in range(args.reps)]
    wall, cpu = min(w for w, _ in warm), min(c for _, c in warm)
    ref_wall, ref_cpu = _reference(d, cs, args.n_reference)
    out = {
        "generator": "benchmarks/bench_v12.py",
        "cpu": cpu_model(),
        "n_points": int(lc.valid.sum()),
        "n": args.n,
        "n_reference": args.n_reference,
        "seed": args.seed,
        "jaxvet": {
            "first_call_s": round(first, 2),
            "warm_ms_per_candidate": round(1e3 * wall / args.n, 3),
            "warm_cpu_ms_per_candidate": round(1e3 * cpu / args.n, 3),
        },
        "reference": {
            "ms_per_candidate": round(1e3 * ref_wall / args.n_reference, 3),
            "cpu_ms_per_candidate": round(1e3 * ref_cpu / args.n_reference, 3),
        },
    }
    print(json.dumps(out, indent=1), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
