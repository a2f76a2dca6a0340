"""Wall-time benchmark of the numpy reference (tess-vetter 0.3.20) on random candidates.

Run with the reference virtualenv::

    REFERENCE_PYTHON benchmarks/reference_timing.py \
        --n-candidates 20 --seed 0 --out benchmarks/results/reference_timing_n20_s0.json

Workload (one candidate at a time, exactly as the reference is used; it has no batching):

* light curve: the four TOI-5807 sectors stitched with ``btv.stitch_lightcurves``
  (73,805 points), loaded with ``btv.load_local_dataset`` (quality == 0 rows),
* candidates: ``benchmarks/candidates.py::draw_candidates(N, seed, t_first)`` (pure numpy,
  shared with the jaxvet benchmark so both time the same ephemerides),
* per candidate, timed with ``time.perf_counter``:

  - ``v21_measure``: per-sector (unstitched) ``get_in_transit_mask`` (buffer 1.0) +
    ``get_out_of_transit_mask`` (buffer_factor 3.0) + ``measure_transit_depth`` for the
    4 sectors (tutorial notebook 23 / seed 000),
  - ``setup``: ``Candidate`` + ``VettingSession.from_api(preset='extended',
    network=False, stellar, tic_id, context={'sector_measurements': ...})``,
  - ``V01``, ``V04``, ``V05``, ``V21``: ``session.run(id)`` each,
  - ``V21_total`` = ``v21_measure`` + ``V21``,
  - ``total`` = setup + V01 + V04 + V05 + V21_total
    (``total_checks_only`` = V01 + V04 + V05 + V21_total, without session setup);
  wall time (``times_ms``, ``summary_ms``) and this process's CPU time (``time.process_time``:
  ``cpu_times_ms``, ``summary_cpu_ms``) -- on a shared machine the CPU time is the steadier figure.

The candidate depth is left unset (the reference then uses its 0.001 default); it does
not enter V01/V04/V05/V21. One untimed warm-up pass on the TOI-5807 ephemeris is run
first. The JSON also stores every candidate's check status/flags/metrics so the jaxvet
benchmark can cross-validate its results on the same random ephemerides.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import tess_vetter
import tess_vetter.api as btv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from candidates import DEFAULT_DATA_DIR, cpu_model, draw_candidates, load_stitched_numpy  # noqa: E402
from reference_golden import stitch_sectors  # noqa: E402

TIC_ID = 188646744
STELLAR_KW = dict(radius=1.65, mass=1.47, teff=6816.0, logg=4.17)
TOI_EPHEMERIS = (14.2423724, 3540.26317, 4.046)
CHECKS = ("V01", "V04", "V05", "V21")
OUT_BUFFER = 3.0


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def run_candidate(
    lc: Any, sector_lcs: list[tuple[int, Any]], stellar: Any,
    period: float, t0: float, dur_h: float,
) -> tuple[dict[str, float], dict[str, Any], dict[str, float]]:
    pc = time.perf_counter
    cpu = time.process_time
    times: dict[str, float] = {}
    cpu_times: dict[str, float] = {}

    t_a, c_a = pc(), cpu()
    meas = []
    for sector, lc_s in sector_lcs:
        in_tr = btv.get_in_transit_mask(lc_s.time, period, t0, dur_h)
        out_tr = btv.get_out_of_transit_mask(lc_s.time, period, t0, dur_h,
                                             buffer_factor=OUT_BUFFER)
        d, de = btv.measure_transit_depth(lc_s.flux, in_tr, out_tr)
        meas.append({"sector": int(sector), "depth_ppm": float(d * 1e6),
                     "depth_err_ppm": float(de * 1e6)})
    t_b, c_b = pc(), cpu()
    times["v21_measure"] = t_b - t_a
    cpu_times["v21_measure"] = c_b - c_a

    t_a, c_a = pc(), cpu()
    cand = btv.Candidate(
        ephemeris=btv.Ephemeris(period_days=period, t0_btjd=t0, duration_hours=dur_h)
    )
    session = btv.VettingSession.from_api(
        lc=lc, candidate=cand, stellar=stellar, network=False, preset="extended",
        tic_id=TIC_ID, context={"sector_measurements": meas},
    )
    t_b, c_b = pc(), cpu()
    times["setup"] = t_b - t_a
    cpu_times["setup"] = c_b - c_a

    results: dict[str, Any] = {"sector_measurements": meas}
    for cid in CHECKS:
        t_a, c_a = pc(), cpu()
        r = session.run(cid)
        t_b, c_b = pc(), cpu()
        times[cid] = t_b - t_a
        cpu_times[cid] = c_b - c_a
        results[cid] = {
            "status": r.status,
            "confidence": _jsonable(r.confidence),
            "flags": list(r.flags),
            "metrics": _jsonable(dict(r.metrics)),
        }
    times["V21_total"] = times["v21_measure"] + times["V21"]
    times["total_checks_only"] = times["V01"] + times["V04"] + times["V05"] + times["V21_total"]
    times["total"] = times["setup"] + times["total_checks_only"]
    cpu_times["V21_total"] = cpu_times["v21_measure"] + cpu_times["V21"]
    cpu_times["total_checks_only"] = sum(cpu_times[k] for k in ("V01", "V04", "V05", "V21_total"))
    cpu_times["total"] = cpu_times["setup"] + cpu_times["total_checks_only"]
    return times, results, cpu_times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-candidates", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--no-warmup", action="store_true")
    args = ap.parse_args(argv)

    import scipy

    ds = btv.load_local_dataset(args.data_dir)
    sectors = sorted(ds.lc_by_sector)
    lc, _ = stitch_sectors(ds, tuple(sectors))
    # the numpy-only loader used by the jaxvet benchmark must see the identical LC
    np_lc = load_stitched_numpy(args.data_dir, tuple(sectors))
    for key in ("time", "flux", "flux_err"):
        assert np.array_equal(np.asarray(getattr(lc, key)), np_lc[key]), key
    n_points = int(np.asarray(lc.time).size)
    t_first = float(np.asarray(lc.time)[0])
    sector_lcs = [(int(s), ds.lc_by_sector[s]) for s in sectors]
    stellar = btv.StellarParams(**STELLAR_KW)

    cands = draw_candidates(args.n_candidates, args.seed, t_first)

    if not args.no_warmup:
        run_candidate(lc, sector_lcs, stellar, *TOI_EPHEMERIS)

    per_cand = []
    for i, (p, t0, d) in enumerate(zip(cands.period_days, cands.t0_btjd, cands.duration_hours, strict=False)):
        times, results, cpu_times = run_candidate(lc, sector_lcs, stellar, float(p), float(t0), float(d))
        per_cand.append({
            "index": i,
            "period_days": float(p), "t0_btjd": float(t0), "duration_hours": float(d),
            "times_ms": {k: v * 1e3 for k, v in times.items()},
            "cpu_times_ms": {k: v * 1e3 for k, v in cpu_times.items()},
            "results": results,
        })

    keys = ["v21_measure", "setup", "V01", "V04", "V05", "V21", "V21_total",
            "total_checks_only", "total"]
    def summarise(field: str) -> dict[str, dict[str, float]]:
        out_s = {}
        for k in keys:
            vals = [c[field][k] for c in per_cand]
            if vals:
                out_s[k] = {
                    "median_ms": statistics.median(vals),
                    "mean_ms": statistics.fmean(vals),
                    "min_ms": min(vals),
                    "max_ms": max(vals),
                }
        return out_s

    summary = summarise("times_ms")
    summary_cpu = summarise("cpu_times_ms")
    status_counts: dict[str, dict[str, int]] = {}
    for cid in CHECKS:
        cnt: dict[str, int] = {}
        for c in per_cand:
            s = c["results"][cid]["status"]
            cnt[s] = cnt.get(s, 0) + 1
        status_counts[cid] = cnt

    out = {
        "provenance": {
            "generator": "benchmarks/reference_timing.py",
            "command": "python benchmarks/reference_timing.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "tess_vetter_version": tess_vetter.__version__,
            "numpy_version": np.__version__,
            "scipy_version": scipy.__version__,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "timer": ("time.perf_counter (wall) and time.process_time (process CPU, *cpu* fields), "
                      "single run per candidate")
            + (" after one untimed warm-up" if not args.no_warmup else ", no warm-up"),
        },
        "workload": {
            "n_candidates": args.n_candidates,
            "seed": args.seed,
            "n_points": n_points,
            "sectors": sectors,
            "t_first_btjd": t_first,
            "checks": list(CHECKS),
            "candidate_distribution": "P~U[1,20) d; t0=t_first+U[0,1)*P; D~U[1,6) h "
                                      "(benchmarks/candidates.py draw order)",
        },
        "summary_ms": summary,
        "summary_cpu_ms": summary_cpu,
        "status_counts": status_counts,
        "candidates": per_cand,
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=1) + "\n")

    print(f"reference tess-vetter {tess_vetter.__version__}: {args.n_candidates} candidates, "
          f"seed {args.seed}, {n_points} points, cpu={cpu_model()} x{os.cpu_count()}")
    print(f"{'stage':<18}{'median ms':>12}{'mean ms':>12}{'min ms':>10}{'max ms':>10}")
    for k, v in summary.items():
        print(f"{k:<18}{v['median_ms']:>12.2f}{v['mean_ms']:>12.2f}"
              f"{v['min_ms']:>10.2f}{v['max_ms']:>10.2f}")
    print("status counts:", status_counts)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
