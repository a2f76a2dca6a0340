"""Golden values of the reference's V13 (data gaps) and V15 (transit asymmetry) for jaxvet.

Run with a Python that has tess-vetter 0.3.20 installed (never a jaxvet dependency)::

    REFERENCE_PYTHON benchmarks/reference_golden_v13_v15.py \
        [--data-dir ../shared/data/tic188646744] [--out tests/data/reference_v13_v15.json]

Light curves are loaded and stitched exactly as ``benchmarks/reference_golden.py`` does
(``btv.load_local_dataset``, quality-zero rows, ``btv.stitch_lightcurves``), for the two
TOI-5807 subsets (all four sectors; sectors 82+83).  Each check runs through
``VettingSession.run`` (the registry wrapper: legacy result -> CheckResult) on

* TOI-5807.01 (both subsets), with the full ``raw`` (worst epochs, plot data);
* ``N_RANDOM`` random ephemerides (``candidates.draw_candidates``: P ~ U[1, 20) d,
  D ~ U[1, 6) h, t0 within one period after the first time stamp; seed ``SEED``), alternating
  between the two subsets; V15's 600-point plot arrays are left out for these (size).

For every run the reference's *unrounded* internals are recorded too: the legacy check
function is called a second time with its module's ``round`` shadowed by the identity, so
the same code path returns full-precision numbers (``unrounded``).  jaxvet's tests compare
their internal arrays with these to 1e-9 relative and their formatted metrics with the
rounded ``metrics`` exactly.
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
from tess_vetter.validation import lc_false_alarm_checks as lfa

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
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "reference_v13_v15.json"
SEED = 1315
N_RANDOM = 20
CHECKS = ("V13", "V15")


def _unrounded(lc_internal: Any, period: float, t0: float, dur_h: float) -> dict[str, Any]:
    """Full-precision details of both legacy checks (module ``round`` shadowed)."""
    out = {}
    lfa.round = lambda x, nd=None: x  # module globals shadow the builtin
    try:
        for cid, fn in (("V13", lfa.check_data_gaps), ("V15", lfa.check_transit_asymmetry)):
            r = fn(lc_internal, period, t0, dur_h)
            d = {k: v for k, v in r.details.items() if not k.startswith("_") and k != "plot_data"}
            d["confidence"] = r.confidence
            out[cid] = d
    finally:
        del lfa.round
    return out


def _run(lc: Any, period: float, t0: float, dur_h: float, omitted: list[str], tag: str,
         keep_plot: bool) -> dict[str, Any]:
    eph = btv.Ephemeris(period_days=period, t0_btjd=t0, duration_hours=dur_h)
    cand = btv.Candidate(ephemeris=eph, depth_ppm=250.0)
    session = btv.VettingSession.from_api(
        lc=lc, candidate=cand, stellar=btv.StellarParams(**STELLAR_KW), network=False,
        preset="extended", tic_id=TIC_ID,
    )
    out: dict[str, Any] = {}
    for cid in CHECKS:
        d = result_to_dict(session.run(cid), omitted, f"{tag}.{cid}")
        pd = (d.get("raw") or {}).get("plot_data")
        if not keep_plot and cid == "V15" and pd:
            for k in ("phase", "flux"):
                if k in pd:
                    pd[k + "_len"] = len(pd.pop(k))
        out[cid] = d
    out["unrounded"] = _unrounded(lc.to_internal(), period, t0, dur_h)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    omitted: list[str] = []
    ds = btv.load_local_dataset(Path(args.data_dir))
    lcs = {name: stitch_sectors(ds, secs)[0] for name, secs in SUBSETS.items()}
    toi = {
        name: _run(lc, PERIOD_DAYS, T0_BTJD, DURATION_HOURS, omitted, f"toi.{name}", True)
        for name, lc in lcs.items()
    }
    t_first = float(np.asarray(lcs["all_sectors"].time)[0])
    cs = draw_candidates(N_RANDOM, SEED, t_first)
    names = list(SUBSETS)
    random_rows = []
    for i in range(N_RANDOM):
        p, t0, d = float(cs.period_days[i]), float(cs.t0_btjd[i]), float(cs.duration_hours[i])
        sub = names[i % len(names)]
        row = {"subset": sub, "period_days": p, "t0_btjd": t0, "duration_hours": d}
        row.update(_run(lcs[sub], p, t0, d, omitted, f"random[{i}]", False))
        random_rows.append(row)
    out = {
        "provenance": {
            "generator": "benchmarks/reference_golden_v13_v15.py",
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "tess_vetter_version": tess_vetter.__version__,
            "numpy_version": np.__version__,
            "seed": SEED,
            "n_random": N_RANDOM,
            "notes": [
                "metrics/notes/flags/confidence: the reference CheckResult (rounded per its contract)",
                "unrounded: the legacy details recomputed with the module's round() disabled",
                "random rows: V15 plot_data phase/flux replaced by their lengths",
            ],
            "omitted_non_json_values": omitted,
        },
        "inputs": {"ephemeris": {"period_days": PERIOD_DAYS, "t0_btjd": T0_BTJD,
                                 "duration_hours": DURATION_HOURS},
                   "subsets": {k: list(v) for k, v in SUBSETS.items()}},
        "toi5807": toi,
        "random": random_rows,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    for name, r in toi.items():
        print(name, "V13", r["V13"]["metrics"], "\n   V15", r["V15"]["metrics"], r["V15"]["notes"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
