"""Time jaxvet's batched box search against astropy's BoxLeastSquares (fast method) and compare them.

On one TESS sector of TOI-5807 (sector 83, 2-min cadence) and on KOI-1003 (Kepler Q2):
periods from ``--min-period`` to ``--max-period`` on ``jaxvet.search.period_grid`` (astropy
``autoperiod`` spacing times ``--frequency-factor``), durations 1, 2, 4, 6 h, oversample 10,
likelihood objective, weights 1/flux_err^2.  jaxvet runs one copy and a batch of ``--copies``
copies (the light curve with fresh noise permutations, as a campaign's scrambled copies would
be); astropy runs the single copy.  Reports first (compile) and warm wall times, process CPU
times, and the agreement of the periodograms.  Writes ``results/bench_box_search_<backend>.json``.

    python benchmarks/bench_box_search.py [--copies 4] [--frequency-factor 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import jaxvet
from jaxvet.data import LightCurve
from jaxvet.search import box_search, period_grid

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
DURATIONS = np.array([1.0, 2.0, 4.0, 6.0]) / 24.0


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def _agreement(ours, ref):
    rel = np.abs(ours.power[0] - ref.power) / np.abs(ref.power)
    i = int(np.argmax(ref.power))
    return {
        "n_periods": int(ref.power.size),
        "fraction_equal_1e-9": float(np.mean(rel < 1e-9)),
        "fraction_ours_ge_astropy": float(np.mean(ours.power[0] >= ref.power * (1 - 1e-9))),
        "same_best_period": bool(int(ours["period_index"][0]) == i),
        "best_period_days": float(ref.period[i]),
        "best_power_rel_diff": float(abs(ours["power"][0] - ref.power[i]) / ref.power[i]),
        "best_depth_rel_diff": float(abs(ours["depth"][0] - ref.depth[i]) / ref.depth[i]),
        "best_t0_diff_days": float(abs(ours["t0"][0] - ref.transit_time[i])),
        "best_depth_ppm": float(ref.depth[i] * 1e6),
    }


def _copies(lc: LightCurve, n: int, seed: int = 0) -> list[LightCurve]:
    rng = np.random.default_rng(seed)
    v = lc.valid
    out = [lc]
    for _ in range(n - 1):
        p = rng.permutation(int(v.sum()))
        out.append(
            LightCurve(time=lc.time[v], flux=lc.flux[v][p], flux_err=lc.flux_err[v][p], sector=lc.sector[v])
        )
    return out


def run_one(name, lc, args) -> dict:
    from astropy.timeseries import BoxLeastSquares

    v = lc.valid
    periods = period_grid(
        float(np.ptp(lc.time[v])),
        args.min_period,
        args.max_period,
        DURATIONS[0],
        frequency_factor=args.frequency_factor,
    )
    ours, first_s, first_cpu = _timed(lambda: box_search(lc, periods=periods, durations=DURATIONS))
    ours, warm_s, warm_cpu = _timed(lambda: box_search(lc, periods=periods, durations=DURATIONS))
    ref, ast_s, ast_cpu = _timed(
        lambda: BoxLeastSquares(lc.time[v], lc.flux[v], lc.flux_err[v]).power(periods, DURATIONS)
    )
    res = {
        "n_points": int(v.sum()),
        "n_periods": int(periods.size),
        "n_durations": int(DURATIONS.size),
        "jaxvet_first_s": first_s,
        "jaxvet_warm_s": warm_s,
        "jaxvet_warm_cpu_s": warm_cpu,
        "astropy_s": ast_s,
        "astropy_cpu_s": ast_cpu,
        "agreement": _agreement(ours, ref),
    }
    if args.copies > 1:
        batch = _copies(lc, args.copies)
        box_search(batch, periods=periods, durations=DURATIONS)
        _, b_s, b_cpu = _timed(lambda: box_search(batch, periods=periods, durations=DURATIONS))
        res.update(
            batch_copies=args.copies,
            batch_warm_s=b_s,
            batch_warm_cpu_s=b_cpu,
            batch_warm_s_per_copy=b_s / args.copies,
        )
    print(name, json.dumps(res))
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--min-period", type=float, default=1.0)
    ap.add_argument("--max-period", type=float, default=12.0)
    ap.add_argument("--frequency-factor", type=float, default=1.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from jaxvet.io import read_lightcurves

    targets = {
        "TOI-5807 sector 83": read_lightcurves([str(DATA / "tic188646744" / "sector83_pdcsap.csv")]),
        "KOI-1003 Kepler Q2": read_lightcurves([str(DATA / "tic122374527" / "Kepler_Q2.csv")]),
    }
    out = {
        "jaxvet_version": jaxvet.__version__,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "args": vars(args),
        "durations_hours": (DURATIONS * 24).tolist(),
        "results": {name: run_one(name, lc, args) for name, lc in targets.items()},
    }
    path = Path(
        args.out or ROOT / "benchmarks" / "results" / f"bench_box_search_{jax.default_backend()}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
