"""``jaxvet demo``: vet a simulated planet and a simulated eclipsing binary, offline.

Builds two realistic simulated multi-sector TESS light curves (2-min cadence, orbit and sector
gaps, white + correlated noise): one with a transiting planet, one with an eclipsing binary
whose alternate eclipses differ in depth and which shows a secondary eclipse, so that at the
catalogued (half) period it looks like a planet candidate.  Both are vetted in one batch with
every light-curve check; a summary is printed and JSON plus plots are written.  When the real
TOI-5807 data is found (``$JAXVET_DATA_DIR`` or ``../shared/data``) it is vetted too, with the
sector-83 pixel stamp for V08/V09/V25 when present.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jaxvet.checks import available_checks, get_check
from jaxvet.cli.summary import format_summary
from jaxvet.data import Candidate
from jaxvet.errors import JaxvetInputError
from jaxvet.io.datasets import toi5807_candidate, toi5807_dir
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve

__all__ = ["run_demo", "demo_targets"]


def demo_targets(seed: int = 0):
    """Two simulated targets (planet, eclipsing binary) and their candidates."""
    base = dict(sectors=(40, 41, 42), t_start=2400.0, white_ppm=400.0, red_ppm=120.0, red_timescale_hours=4.0)
    planet_lc = simulate_lightcurve(seed, target="SIM-PLANET", **base)
    planet_lc = inject_transits(planet_lc, 3.853, 2401.7, 2.9, 1800.0, tflat_ratio=0.75, seed=seed)
    eb_lc = simulate_lightcurve(seed + 1, target="SIM-EB", **base)
    # an EB at twice the catalogued period: alternate eclipses 6000 / 3300 ppm, V-shaped, a secondary
    eb_lc = inject_transits(
        eb_lc,
        2.417,
        2400.9,
        3.2,
        6000.0,
        tflat_ratio=0.05,
        odd_even_ratio=0.55,
        secondary_depth_ppm=900.0,
        seed=seed,
    )
    cands = [
        Candidate(3.853, 2401.7, 2.9, stellar_radius=1.0, stellar_mass=1.0, id="SIM-PLANET.01"),
        Candidate(2.417, 2400.9, 3.2, stellar_radius=1.0, stellar_mass=1.0, id="SIM-EB.01"),
    ]
    return [planet_lc, eb_lc], cands


def _run(label, lightcurves, candidates, lc_index, out_dir: Path, tpfs=(), seed=0):
    from jaxvet.engine.runner import vet
    from jaxvet.plotting import save_check_plots

    checks = [c for c in available_checks() if not get_check(c).needs_tpf or tpfs]
    t = time.perf_counter()
    report = vet(lightcurves, candidates, checks, lc_index=lc_index, tpfs=tpfs, seed=seed)
    dt = time.perf_counter() - t
    print(
        f"\n== {label}: {len(candidates)} candidate(s), checks {', '.join(checks)} ({dt:.1f} s incl. compile)"
    )
    print(format_summary(report, details=True))
    out_dir.mkdir(parents=True, exist_ok=True)
    slug = label.lower().replace(" ", "_")
    (out_dir / f"{slug}.json").write_text(report.to_json())
    n = 0
    for c, res in zip(report.candidates, report.results, strict=True):
        n += len(save_check_plots(res, out_dir / "plots", prefix=f"{c.id}_"))
    print(f"  wrote {out_dir / (slug + '.json')} and {n} plot(s) in {out_dir / 'plots'}")
    return report


def run_demo(out_dir="jaxvet-demo-output", use_real_data: bool = True, seed: int = 0) -> int:
    out = Path(out_dir)
    lcs, cands = demo_targets(seed)
    print("jaxvet demo: simulated 3-sector TESS light curves (2-min cadence, white + red noise)")
    _run("simulated", lcs, cands, [0, 1], out, seed=seed)
    data = toi5807_dir() if use_real_data else None
    if data is not None:
        from jaxvet.io.readers import read_lightcurves

        lc = read_lightcurves(sorted(data.glob("sector*_pdcsap.csv")))
        tpfs = []
        stamp = data / "sector83_tpf.npz"
        if stamp.exists():
            from jaxvet.pixels import read_tpf

            try:
                tpfs = [read_tpf(stamp)]
            except (JaxvetInputError, OSError) as exc:  # unreadable stamp: the demo goes on without pixels
                print(f"  (pixel stamp not used: {exc})", file=sys.stderr)
        _run("TOI-5807 real data", [lc], [toi5807_candidate()], 0, out, tpfs=tpfs, seed=seed)
    else:
        print("\n(real TOI-5807 data not found: set JAXVET_DATA_DIR to vet it too)")
    summary = {"output_dir": str(out.resolve()), "real_data": str(data) if data else None}
    print("\n" + json.dumps(summary))
    return 0
