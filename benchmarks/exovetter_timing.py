"""Time exovetter's odd/even vetter (the quantity jaxvet's V01 reports) on the benchmark candidates.

Run with the reference virtualenv (exovetter 0.0.16 installed by ``pip install ".[bench]"``)::

    REFERENCE_PYTHON benchmarks/exovetter_timing.py [--n-candidates 20] [--seed 0]

exovetter's ``OddEven`` (Thompson et al. 2018 §A.3 style: odd and even transits phase-folded and
their box depths compared, ``odd_depth``, ``even_depth``, ``diff``/``sigma``) is run one candidate
at a time on the four TOI-5807 sectors stitched with numpy (``candidates.load_stitched_numpy``),
for the random candidates of ``candidates.draw_candidates`` -- the ephemerides ``bench_vet.py``
and ``reference_timing.py`` time.  Wall (``perf_counter``) and CPU (``process_time``) per
candidate; writes ``benchmarks/results/exovetter_timing_n{N}_s{seed}.json``.  A measurement,
no assertion.  exovetter computes no equivalent of V04, V05 or V21, so only V01 is compared.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from candidates import draw_candidates, load_stitched_numpy  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-candidates", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import astropy.units as u
    import exovetter
    import lightkurve as lk
    import numpy as np
    from exovetter import const as exo_const
    from exovetter import vetters
    from exovetter.tce import Tce

    d = load_stitched_numpy()
    ok = np.isfinite(d["flux"]) & np.isfinite(d["time"])
    from astropy.time import Time

    lc = lk.LightCurve(
        time=Time(d["time"][ok], format="btjd", scale="tdb"), flux=d["flux"][ok], flux_err=d["flux_err"][ok]
    )
    cands = draw_candidates(args.n_candidates, args.seed, float(d["time"][0]))
    rows = []
    for p, t0, dh in zip(cands.period_days, cands.t0_btjd, cands.duration_hours, strict=True):
        tce = Tce(
            period=float(p) * u.day,
            epoch=float(t0) * u.day,
            epoch_offset=exo_const.btjd,
            duration=float(dh) * u.hour,
            depth=1000 * exo_const.ppm,
        )
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            res = vetters.OddEven().run(tce, lc)
            status = "ok"
        except Exception as exc:  # a failing candidate is recorded, not fatal
            res, status = {}, f"error: {type(exc).__name__}: {exc}"
        w1, c1 = time.perf_counter(), time.process_time()
        rows.append(
            {
                "period_days": float(p),
                "t0_btjd": float(t0),
                "duration_hours": float(dh),
                "wall_ms": 1e3 * (w1 - w0),
                "cpu_ms": 1e3 * (c1 - c0),
                "status": status,
                "result": {k: np.asarray(v, dtype=float).tolist() for k, v in dict(res).items()},
            }
        )
    wall = [r["wall_ms"] for r in rows]
    cpu = [r["cpu_ms"] for r in rows]
    out = {
        "generator": "benchmarks/exovetter_timing.py",
        "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "exovetter": getattr(exovetter, "__version__", "unknown"),
        "python": platform.python_version(),
        "n_points": int(ok.sum()),
        "n_candidates": len(rows),
        "seed": args.seed,
        "odd_even_ms": {
            "wall_mean": statistics.fmean(wall),
            "wall_median": statistics.median(wall),
            "cpu_mean": statistics.fmean(cpu),
            "cpu_median": statistics.median(cpu),
        },
        "statuses": {s: sum(r["status"] == s for r in rows) for s in {r["status"] for r in rows}},
        "candidates": rows,
    }
    default = HERE / "results" / f"exovetter_timing_n{len(rows)}_s{args.seed}.json"
    path = Path(args.out) if args.out else default
    path.write_text(json.dumps(out, indent=1))
    print(f"exovetter OddEven: {out['odd_even_ms']}  statuses {out['statuses']}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
