"""Dispositions of the named real targets with the shipped policy (docs/disposition.md).

TOI-5807.01 (4 TESS sectors), WASP-18 b (TESS S2 + S3, the exovetter files) and KOI-1003 (a
Kepler Q2 eclipsing binary, at the period of its strongest astropy BoxLeastSquares peak).
Writes benchmarks/results/disposition_targets.json with each target's class, reasons, the
verdicts of the checks that ran and their scalar metrics.
Usage: ``python benchmarks/disposition_targets.py [--out PATH] [--checks V01,V05,...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

import jaxvet
import jaxvet.io
from jaxvet.checks import available_checks, get_check

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("JAXVET_DATA_DIR", ROOT.parent / "shared" / "data"))


def _bls_peak(lc, pmin=0.3, pmax=10.0):
    from astropy.timeseries import BoxLeastSquares

    t, f = np.asarray(lc.time)[lc.valid], np.asarray(lc.flux)[lc.valid]
    durations = np.array([0.04, 0.08, 0.12, 0.2])
    bls = BoxLeastSquares(t, f)
    periods = np.exp(np.linspace(np.log(pmin), np.log(pmax), 20000))
    res = bls.power(periods, durations, objective="snr")
    k = int(np.argmax(res.power))
    return float(res.period[k]), float(res.transit_time[k]), float(res.duration[k] * 24), float(res.power[k])


def targets():
    toi = DATA / "tic188646744"
    lc_toi = jaxvet.read_lightcurves([str(toi / f"sector{s}_pdcsap.csv") for s in (55, 75, 82, 83)])
    w18 = DATA / "tic100100827"
    lc_w18 = jaxvet.read_lightcurves([str(w18 / "wasp18b.fits"), str(w18 / "wasp18b_flat_lightcurve.csv")])
    lc_koi = jaxvet.read_lightcurve(str(DATA / "tic122374527" / "Kepler_Q2.csv"))
    p, t0, d, power = _bls_peak(lc_koi)
    return [
        ("TOI-5807.01", lc_toi, jaxvet.Candidate(14.2423724, 3540.26317, 4.046, id="TOI-5807.01"), "PC"),
        ("WASP-18 b", lc_w18, jaxvet.Candidate(0.9414526, 1375.169883, 2.1437, id="WASP-18b"), "PC"),
        ("KOI-1003", lc_koi, jaxvet.Candidate(p, t0, d, id="KOI-1003-BLS"), "FP"),
    ]


def _scalar_metrics(rep) -> dict:
    """Every check's status, verdict and scalar metrics (to re-dispose under another policy)."""
    out: dict = {}
    for cid, r in rep[0].items():
        ms = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.metrics.items()
              if v is None or isinstance(v, (bool, int, float, str))}
        out[cid] = {"status": r.status, "verdict": r.verdict, "metrics": ms}
    return out


def _row(name, expected, cand, rep, seconds):
    d = rep.dispositions[0]
    return {
        "target": name, "expected": expected, "class": d["class"], "reasons": d["reasons"],
        "policy": d["policy"], "candidate": {"period_days": cand.period_days, "t0_btjd": cand.t0_btjd,
                                             "duration_hours": cand.duration_hours,
                                             "depth_ppm": cand.depth_ppm},
        "verdicts": {cid: (r.verdict or r.status) for cid, r in rep[0].items()},
        "results": _scalar_metrics(rep),
        "signal_snr": rep.signal[0]["snr"], "seconds": round(seconds, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "disposition_targets.json"))
    ap.add_argument("--checks", default=None,
                    help="comma-separated light-curve checks (default: all; pixel checks run only with all)")
    args = ap.parse_args()
    lc_checks = [c for c in available_checks() if not get_check(c).needs_tpf]
    if args.checks:
        lc_checks = [get_check(c).id for c in args.checks.split(",")]
    stamp = DATA / "tic188646744" / "sector83_tpf.npz"
    rows = []
    for name, lc, cand, expected in targets():
        with_stamp = name == "TOI-5807.01" and stamp.exists() and not args.checks
        tpfs = [jaxvet.io.read_tpf(str(stamp))] if with_stamp else []
        checks = "all" if tpfs else lc_checks
        # as given (no depth: V11/V11b skip, as the reference's do), then with the run's own depth
        t = time.perf_counter()
        rep = jaxvet.vet(lc, [cand], checks, seed=0, tpfs=tpfs)
        rows.append(_row(name, expected, cand, rep, time.perf_counter() - t))
        with_depth = dataclasses.replace(cand, depth_ppm=rep.signal[0]["depth_ppm"])
        t = time.perf_counter()
        rep = jaxvet.vet(lc, [with_depth], checks, seed=0, tpfs=tpfs)
        rows.append(_row(name, expected, with_depth, rep, time.perf_counter() - t))
        for r in rows[-2:]:
            print(f"{name} (depth {r['candidate']['depth_ppm']}): {r['class']} (expected {expected}) "
                  f"reasons={r['reasons']}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out = {"jaxvet_version": jaxvet.__version__, "light_curve_checks": lc_checks, "targets": rows}
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
