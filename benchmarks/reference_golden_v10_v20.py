"""Golden values of the reference's V10 (aperture dependence) and V20 (ghost features).

Run with a Python that has tess-vetter 0.3.20 installed (never a jaxvet dependency)::

    REFERENCE_PYTHON benchmarks/reference_golden_v10_v20.py \
        [--data-dir ../shared/data/tic188646744] [--out tests/data/reference_v10_v20.json]

The sector-83 light curve and TPF stamp of TOI-5807 are loaded with the reference loader
(``btv.load_local_dataset``, as ``benchmarks/reference_golden.py`` does; the stamp's pickled WCS
header is unpickled there and nowhere in jaxvet).  Both checks run through
``VettingSession.run`` (the registry wrapper, preset ``extended``) on

* TOI-5807.01 (P 14.2423724 d, t0 3540.26317 BTJD, D 4.046 h);
* ``N_RANDOM`` random ephemerides (``candidates.draw_candidates``: P ~ U[1, 20) d,
  D ~ U[1, 6) h, t0 within one period after the stamp's first cadence; seed ``SEED``).

Neither check rounds its metrics, so ``metrics`` are the full-precision values.  V20's raw
``plot_data.difference_image`` is kept (13 x 11 floats per candidate).
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
    PIXEL_SECTOR,
    STELLAR_KW,
    T0_BTJD,
    TIC_ID,
    result_to_dict,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "reference_v10_v20.json"
SEED = 1020
N_RANDOM = 16
DEPTH_PPM = 255.559
CHECKS = ("V10", "V20")


def _run(lc: Any, tpf: Any, period: float, t0: float, dur_h: float, omitted: list[str], tag: str) -> dict:
    eph = btv.Ephemeris(period_days=period, t0_btjd=t0, duration_hours=dur_h)
    cand = btv.Candidate(ephemeris=eph, depth_ppm=DEPTH_PPM)
    session = btv.VettingSession.from_api(
        lc=lc,
        candidate=cand,
        stellar=btv.StellarParams(**STELLAR_KW),
        tpf=tpf,
        network=False,
        preset="extended",
        tic_id=TIC_ID,
    )
    return {cid: result_to_dict(session.run(cid), omitted, f"{tag}.{cid}") for cid in CHECKS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    omitted: list[str] = []
    ds = btv.load_local_dataset(Path(args.data_dir))
    lc0 = ds.lc_by_sector[PIXEL_SECTOR]
    lc = btv.LightCurve(
        time=lc0.time, flux=lc0.flux, flux_err=lc0.flux_err, quality=np.zeros(len(lc0.time), dtype=np.int32)
    )
    tpf = ds.tpf_by_sector[PIXEL_SECTOR]
    tpf_time = np.asarray(tpf.time, dtype=np.float64)
    toi = _run(lc, tpf, PERIOD_DAYS, T0_BTJD, DURATION_HOURS, omitted, "toi")
    t_first = float(tpf_time[np.isfinite(tpf_time)][0])
    cs = draw_candidates(N_RANDOM, SEED, t_first)
    rows = []
    for i in range(N_RANDOM):
        p, t0, d = float(cs.period_days[i]), float(cs.t0_btjd[i]), float(cs.duration_hours[i])
        row = {"period_days": p, "t0_btjd": t0, "duration_hours": d}
        row.update(_run(lc, tpf, p, t0, d, omitted, f"random[{i}]"))
        rows.append(row)
    out = {
        "provenance": {
            "generator": "benchmarks/reference_golden_v10_v20.py",
            "command": "python benchmarks/reference_golden_v10_v20.py"
            + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "tess_vetter_version": tess_vetter.__version__,
            "numpy_version": np.__version__,
            "seed": SEED,
            "n_random": N_RANDOM,
            "t_first_btjd": t_first,
            "notes": [
                "metrics/notes/flags/confidence/raw: the reference CheckResult via VettingSession.run "
                "(preset extended, network off)",
                "V10 and V20 round nothing: metrics are full precision",
                "the TPF is the reference loader's sector-83 stamp (flux cast to float64)",
            ],
            "omitted_non_json_values": omitted,
        },
        "inputs": {
            "sector": PIXEL_SECTOR,
            "tpf_shape": list(np.asarray(tpf.flux).shape),
            "ephemeris": {"period_days": PERIOD_DAYS, "t0_btjd": T0_BTJD, "duration_hours": DURATION_HOURS},
            "depth_ppm": DEPTH_PPM,
        },
        "toi5807": toi,
        "random": rows,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    for cid in CHECKS:
        print(cid, toi[cid]["status"], toi[cid]["flags"], toi[cid]["metrics"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
