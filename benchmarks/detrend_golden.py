"""Golden trends from wotan for jaxvet's sliding biweight / median (tests/test_detrend.py).

Run in a virtualenv with wotan (the ``bench`` extra; never a runtime dependency of jaxvet)::

    python benchmarks/detrend_golden.py [--data-dir ../shared/data] \
        [--out tests/data/detrend_wotan_golden.npz]

Cases (each: ``time``, ``flux``, ``mask`` (True = excluded from the trend, wotan's ``mask``),
``window``, ``break_tolerance`` and wotan's trend):

* ``koi1003`` -- KOI-1003, Kepler Q2 (1117 long-cadence points, a spotted eclipsing binary),
  biweight, window 0.75 d (3 x 6 h), its eclipses (P 8.36 d, t0 -1994.734 BTJD, 6 h) masked
  with pad 0.5 as jaxvet masks them;
* ``toi5807_s83`` -- the first 3000 points of TOI-5807's TESS S83 2-min PDCSAP light curve,
  biweight, window 0.5 d, no mask;
* ``synthetic`` -- 2400 points with two gaps (0.6 d and 2 d) and an irregular cadence, a
  1 % sinusoid (P 2.7 d), 500 ppm noise, 5 % outliers and a 2000 ppm, 3 h transit every
  3.1 d, biweight, window 0.4 d, the transits masked; and ``synthetic_median`` the same with
  the running median.

wotan is called as ``flatten(time, flux, method=..., window_length=w, edge_cutoff=0,
break_tolerance=bt, mask=mask, return_trend=True)``.  The file records wotan's version.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

BTJD = 2457000.0


def _transit_mask(t, period, t0, duration_days, pad=0.5):
    ph = np.remainder(t - t0 + 0.5 * period, period) - 0.5 * period
    return np.abs(ph) < 0.5 * duration_days * (1.0 + pad)


def _koi1003(data: Path):
    raw = np.loadtxt(data / "tic122374527" / "Kepler_Q2.csv", delimiter=",")
    t, f = raw[:, 0] - BTJD, raw[:, 1]
    ok = np.isfinite(t) & np.isfinite(f)
    t, f = t[ok], f[ok]
    return t, f, _transit_mask(t, 8.36, -1994.734, 0.25), 0.75, 0.375


def _toi5807(data: Path):
    raw = np.loadtxt(data / "tic188646744" / "sector83_pdcsap.csv", delimiter=",", comments="#", skiprows=13)
    t, f = raw[:3000, 0], raw[:3000, 1]
    ok = np.isfinite(t) & np.isfinite(f)
    return t[ok], f[ok], np.zeros(int(ok.sum()), bool), 0.5, 0.25


def _synthetic(seed: int = 7):
    rng = np.random.default_rng(seed)
    dt = rng.uniform(0.004, 0.010, 2400)
    t = 3000.0 + np.cumsum(dt)
    t[800:] += 0.6
    t[1700:] += 2.0
    f = 1.0 + 0.01 * np.sin(2 * np.pi * t / 2.7) + 5e-4 * rng.standard_normal(t.size)
    out = rng.random(t.size) < 0.05
    f[out] += rng.choice([-1, 1], out.sum()) * rng.uniform(0.002, 0.01, out.sum())
    intr = _transit_mask(t, 3.1, 3000.4, 0.125, pad=0.0)
    f[intr] -= 0.002
    return t, f, _transit_mask(t, 3.1, 3000.4, 0.125), 0.4, 0.2


def main(argv=None) -> int:
    import wotan
    from wotan import flatten

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", default="tests/data/detrend_wotan_golden.npz")
    args = ap.parse_args(argv)
    data = Path(args.data_dir)
    cases = {
        "koi1003": ("biweight", _koi1003(data)),
        "toi5807_s83": ("biweight", _toi5807(data)),
        "synthetic": ("biweight", _synthetic()),
        "synthetic_median": ("median", _synthetic()),
    }
    arrays, meta = {}, {}
    for name, (method, (t, f, mask, w, bt)) in cases.items():
        trend = flatten(t, f, method=method, window_length=w, edge_cutoff=0, break_tolerance=bt,
                        mask=mask, return_trend=True)[1]
        for key, value in (("time", t), ("flux", f), ("mask", mask), ("trend", trend)):
            arrays[f"{name}.{key}"] = np.asarray(value)
        meta[name] = {"method": method, "window": w, "break_tolerance": bt, "n": int(t.size)}
    arrays["meta"] = np.array(json.dumps({"wotan_version": getattr(wotan, "__version__", None)
                                          or _dist_version(), "cases": meta}))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: {json.dumps(meta)}")
    return 0


def _dist_version():
    from importlib.metadata import version

    return version("wotan")


if __name__ == "__main__":
    raise SystemExit(main())
