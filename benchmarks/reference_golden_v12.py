"""Golden values of the reference's V12 (exovetter SWEET, as tess-vetter wraps it).

Run with a Python that has tess-vetter 0.3.20 and exovetter 0.0.16 installed (never jaxvet
dependencies)::

    REFERENCE_PYTHON benchmarks/reference_golden_v12.py \
        [--data-dir ../shared/data/tic188646744] [--out tests/data/reference_v12.json]

Light curves are loaded and stitched exactly as ``benchmarks/reference_golden.py`` does, for
the two TOI-5807 subsets (all four sectors; sectors 82+83).  V12 runs through
``VettingSession.run`` (the registry wrapper) on

* TOI-5807.01 (both subsets), depth 255.559 ppm (the tutorial's stitched estimate);
* ``N_RANDOM`` random ephemerides (``candidates.draw_candidates``: P ~ U[1, 20) d,
  D ~ U[1, 6) h, t0 within one period after the first time stamp; seed ``SEED``), alternating
  between the two subsets, depth 250 ppm.

The metrics are unrounded SNRs (the reference rounds only the inputs summary).  The 600-point
``plot_data`` lists are kept whole for TOI-5807 and cut to their first ``PLOT_HEAD`` entries
(plus their lengths) for the random ephemerides, to keep the file small.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tess_vetter
import tess_vetter.api as btv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from candidates import DEFAULT_DATA_DIR, draw_candidates  # noqa: E402
from reference_golden import (  # noqa: E402
    DURATION_HOURS,
    PERIOD_DAYS,
    STELLAR_KW,
    SUBSETS,
    T0_BTJD,
    TIC_ID,
    result_to_dict,
    stitch_sectors,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "reference_v12.json"
SEED = 1212
N_RANDOM = 20
TOI_DEPTH_PPM = 255.559
RANDOM_DEPTH_PPM = 250.0
PLOT_HEAD = 40


def _shrink(d: dict[str, Any]) -> dict[str, Any]:
    pd = (d.get("raw") or {}).get("plot_data")
    if isinstance(pd, dict):
        for k in list(pd):
            if isinstance(pd[k], list):
                pd[f"{k}_len"] = len(pd[k])
                pd[k] = pd[k][:PLOT_HEAD]
    return d


def _run(
    lc: Any, period: float, t0: float, dur_h: float, depth_ppm: float, omitted: list[str], tag: str
) -> dict[str, Any]:
    eph = btv.Ephemeris(period_days=period, t0_btjd=t0, duration_hours=dur_h)
    cand = btv.Candidate(ephemeris=eph, depth_ppm=depth_ppm)
    session = btv.VettingSession.from_api(
        lc=lc,
        candidate=cand,
        stellar=btv.StellarParams(**STELLAR_KW),
        network=False,
        preset="extended",
        tic_id=TIC_ID,
    )
    return result_to_dict(session.run("V12"), omitted, f"{tag}.V12")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    omitted: list[str] = []
    ds = btv.load_local_dataset(Path(args.data_dir))
    lcs = {name: stitch_sectors(ds, secs)[0] for name, secs in SUBSETS.items()}
    toi = {
        name: _run(lc, PERIOD_DAYS, T0_BTJD, DURATION_HOURS, TOI_DEPTH_PPM, omitted, f"toi.{name}")
        for name, lc in lcs.items()
    }
    t_first = float(np.asarray(lcs["all_sectors"].time)[0])
    cs = draw_candidates(N_RANDOM, SEED, t_first)
    names = list(SUBSETS)
    random_rows = []
    for i in range(N_RANDOM):
        p, t0, d = float(cs.period_days[i]), float(cs.t0_btjd[i]), float(cs.duration_hours[i])
        sub = names[i % len(names)]
        row = {
            "subset": sub,
            "period_days": p,
            "t0_btjd": t0,
            "duration_hours": d,
            "depth_ppm": RANDOM_DEPTH_PPM,
            "V12": _shrink(_run(lcs[sub], p, t0, d, RANDOM_DEPTH_PPM, omitted, f"random[{i}]")),
        }
        random_rows.append(row)
    import exovetter

    out = {
        "provenance": {
            "generator": "benchmarks/reference_golden_v12.py",
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "tess_vetter_version": tess_vetter.__version__,
            "exovetter_version": getattr(exovetter, "__version__", "unknown"),
            "numpy_version": np.__version__,
            "seed": SEED,
            "n_random": N_RANDOM,
            "notes": [
                "metrics/notes/flags/confidence/raw: the reference CheckResult via VettingSession.run",
                "V12 SNRs are unrounded; raw.raw_metrics.amp is exovetter's (3, 3) [amp, unc, snr]",
                f"random rows: plot_data lists cut to their first {PLOT_HEAD} entries (+ *_len)",
            ],
            "omitted_non_json_values": omitted,
        },
        "inputs": {
            "ephemeris": {
                "period_days": PERIOD_DAYS,
                "t0_btjd": T0_BTJD,
                "duration_hours": DURATION_HOURS,
                "depth_ppm": TOI_DEPTH_PPM,
            },
            "subsets": {k: list(v) for k, v in SUBSETS.items()},
        },
        "toi5807": toi,
        "random": random_rows,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    for name, r in toi.items():
        print(name, r["status"], r["confidence"], r["metrics"], r["flags"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
