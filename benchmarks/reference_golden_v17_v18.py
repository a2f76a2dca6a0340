"""Golden values of the reference's V17 (ephemeris reliability regime) and V18 (ephemeris
sensitivity sweep) for jaxvet.

Run with a Python that has tess-vetter 0.3.20 installed (never a jaxvet dependency)::

    REFERENCE_PYTHON benchmarks/reference_golden_v17_v18.py \
        [--data-dir ../shared/data/tic188646744] [--out tests/data/reference_v17_v18.json]

Light curves are loaded and stitched as ``benchmarks/reference_golden.py`` does, for the two
TOI-5807 subsets (all four sectors; sectors 82+83).  Candidates: TOI-5807.01 on both subsets
and ``N_RANDOM`` random ephemerides (``candidates.draw_candidates``, seed ``SEED``), alternating
between the subsets.

* V17 runs through ``VettingSession.run`` (the registry wrapper), full ``raw`` kept.
* V18 is gated by the reference on ``celerite2`` being importable (not installed here, so the
  session skips it; that status is recorded as ``V18_session_status``).  Its values come from
  the wrapper's ``run`` method called directly (the same code the session would run).
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
from tess_vetter.validation.checks_extended_wrapped import EphemerisSensitivitySweepCheck
from tess_vetter.validation.registry import CheckConfig, CheckInputs

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
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "reference_v17_v18.json"
SEED = 1718
N_RANDOM = 20


def _run(lc: Any, period: float, t0: float, dur_h: float, omitted: list[str], tag: str) -> dict[str, Any]:
    eph = btv.Ephemeris(period_days=period, t0_btjd=t0, duration_hours=dur_h)
    cand = btv.Candidate(ephemeris=eph, depth_ppm=250.0)
    session = btv.VettingSession.from_api(
        lc=lc, candidate=cand, stellar=btv.StellarParams(**STELLAR_KW), network=False,
        preset="extended", tic_id=TIC_ID,
    )
    out: dict[str, Any] = {"V17": result_to_dict(session.run("V17"), omitted, f"{tag}.V17")}
    try:
        out["V18_session_status"] = session.run("V18").status
    except Exception as e:  # noqa: BLE001 - recorded, not fatal
        out["V18_session_status"] = f"{type(e).__name__}: {e}"
    inputs = CheckInputs(lc=lc.to_internal(), candidate=_internal_candidate(period, t0, dur_h))
    r = EphemerisSensitivitySweepCheck().run(inputs, CheckConfig())
    out["V18"] = result_to_dict(r, omitted, f"{tag}.V18")
    return out


def _internal_candidate(period: float, t0: float, dur_h: float) -> Any:
    from tess_vetter.domain.detection import TransitCandidate

    return TransitCandidate(period=period, t0=t0, duration_hours=dur_h, depth=250e-6, snr=0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    omitted: list[str] = []
    ds = btv.load_local_dataset(Path(args.data_dir))
    lcs = {name: stitch_sectors(ds, secs)[0] for name, secs in SUBSETS.items()}
    toi = {
        name: _run(lc, PERIOD_DAYS, T0_BTJD, DURATION_HOURS, omitted, f"toi.{name}")
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
        row.update(_run(lcs[sub], p, t0, d, omitted, f"random[{i}]"))
        random_rows.append(row)
        v17, v18 = row["V17"]["metrics"], row["V18"]["metrics"]
        print(i, v17["uniqueness_regime"], v18.get("metric_variance"), flush=True)
    out = {
        "provenance": {
            "generator": "benchmarks/reference_golden_v17_v18.py",
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "tess_vetter_version": tess_vetter.__version__,
            "numpy_version": np.__version__,
            "seed": SEED,
            "n_random": N_RANDOM,
            "notes": [
                "V17: VettingSession.run result (the wrapper's metrics are unrounded floats)",
                "V18: EphemerisSensitivitySweepCheck.run called directly (the session skips it "
                "without celerite2; see V18_session_status)",
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
        print(name, "V17", r["V17"]["metrics"], "\n   V18", r["V18"]["metrics"], r["V18"]["notes"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
