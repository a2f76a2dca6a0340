"""Golden values of the reference's V16 (model competition) and V19 (alias diagnostics).

Run with the virtualenv that has tess-vetter 0.3.20 installed::

    REFERENCE_PYTHON benchmarks/reference_golden_v16_v19.py \
        [--data-dir ../shared/data/tic188646744] [--out tests/data/reference_v16_v19.json]

It loads and stitches TOI-5807 exactly like ``benchmarks/reference_golden.py`` (the tutorial
flow: ``btv.load_local_dataset``, ``btv.stitch_lightcurves``, candidate depth from
``measure_transit_depth``), builds ``VettingSession.from_api(preset='extended')`` and runs V16
and V19 on

* TOI-5807.01 for all four sectors and for sectors 82+83;
* ``N_RANDOM`` random ephemerides (``benchmarks/candidates.py``: P ~ U[1, 20) d, D ~ U[1, 6) h,
  seed ``SEED``) on the all-sector light curve;
* ``N_NO_ERR`` of those on sectors 82+83 *without* flux errors (the reference's zero
  ``flux_err``: V19's unweighted fallback, V16's variance floor).

Each result is written in full (status, flags, notes, metrics, provenance, raw with plot_data).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

import numpy as np
import tess_vetter
import tess_vetter.api as btv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from candidates import draw_candidates  # noqa: E402
from reference_golden import (  # noqa: E402
    DEFAULT_DATA_DIR,
    STELLAR_KW,
    SUBSETS,
    TIC_ID,
    depth_estimate,
    make_candidate,
    result_to_dict,
    stitch_sectors,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "reference_v16_v19.json"
CHECKS = ("V16", "V19")
SEED = 1619
N_RANDOM = 20
N_NO_ERR = 5


def _session(lc, cand, stellar):
    return btv.VettingSession.from_api(
        lc=lc, candidate=cand, stellar=stellar, network=False, preset="extended", tic_id=TIC_ID
    )


def _run(session, omitted, tag):
    return {cid: result_to_dict(session.run(cid), omitted, f"{tag}.{cid}") for cid in CHECKS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    omitted: list[str] = []
    ds = btv.load_local_dataset(Path(args.data_dir))
    stellar = btv.StellarParams(**STELLAR_KW)

    subsets, lcs = {}, {}
    for name, sectors in SUBSETS.items():
        lc, _ = stitch_sectors(ds, sectors)
        lcs[name] = lc
        est = depth_estimate(np.asarray(lc.time), np.asarray(lc.flux))
        cand = make_candidate(est["depth_ppm"])
        subsets[name] = {
            "sectors": list(sectors),
            "n_points": int(len(lc.time)),
            "candidate_depth_ppm": est["depth_ppm"],
            "checks": _run(_session(lc, cand, stellar), omitted, name),
        }

    lc_all = lcs["all_sectors"]
    t_first = float(np.asarray(lc_all.time)[0])
    cs = draw_candidates(N_RANDOM, SEED, t_first)
    random_rows = []
    for i, c in enumerate(cs.as_list()):
        eph = btv.Ephemeris(**c)
        cand = btv.Candidate(ephemeris=eph, depth_ppm=250.0)
        random_rows.append({**c, "checks": _run(_session(lc_all, cand, None), omitted, f"random[{i}]")})

    lc82 = lcs["sectors_82_83"]
    lc_noerr = btv.LightCurve(time=np.asarray(lc82.time), flux=np.asarray(lc82.flux))
    no_err_rows = []
    for i, c in enumerate(cs.as_list()[:N_NO_ERR]):
        cand = btv.Candidate(ephemeris=btv.Ephemeris(**c), depth_ppm=250.0)
        no_err_rows.append({**c, "checks": _run(_session(lc_noerr, cand, None), omitted, f"no_err[{i}]")})

    import scipy

    out = {
        "provenance": {
            "generator": "benchmarks/reference_golden_v16_v19.py",
            "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "tess_vetter_version": tess_vetter.__version__,
            "numpy_version": np.__version__,
            "scipy_version": scipy.__version__,
            "seed": SEED,
            "n_random": N_RANDOM,
            "n_no_err": N_NO_ERR,
            "random_light_curve": "all_sectors (stitched, flux_err as loaded)",
            "no_err_light_curve": "sectors_82_83 stitched, LightCurve(time, flux) without flux_err",
            "omitted": omitted,
        },
        "subsets": subsets,
        "random": random_rows,
        "no_err": no_err_rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}: {len(random_rows)} random, {len(no_err_rows)} without errors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
