"""Shared random-candidate generator for the TOI-5807 benchmarks (pure numpy).

Both the reference benchmark (``benchmarks/reference_timing.py``, run with the
tess-vetter venv) and the jaxvet benchmark import this module so that they time
the *same* candidate ephemerides on the *same* light curve. It must stay free of
any tess-vetter / jaxvet / jax import.

Draw order (part of the contract; do not reorder)::

    rng = np.random.default_rng(seed)
    period_days    = rng.uniform(1.0, 20.0, n)          # P ~ U[1, 20) d
    t0_frac        = rng.uniform(0.0, 1.0, n)
    t0_btjd        = t_first + t0_frac * period_days    # within one period after t_first
    duration_hours = rng.uniform(1.0, 6.0, n)           # D ~ U[1, 6) h

``t_first`` is the first time stamp of the stitched light curve
(2797.1034851753184 BTJD for all four TOI-5807 sectors).
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _load_datasets():
    """``jaxvet/io/datasets.py`` loaded by file path (stdlib only: no jaxvet / jax import)."""
    path = Path(__file__).resolve().parents[1] / "jaxvet" / "io" / "datasets.py"
    spec = importlib.util.spec_from_file_location("_jaxvet_datasets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_DATASETS = _load_datasets()
TOI5807_SECTORS = _DATASETS.TOI5807_SECTORS
#: TOI-5807.01 ephemeris and star (``jaxvet.io.datasets.TOI5807``).
TOI5807 = _DATASETS.TOI5807
_SHARED = _DATASETS.find_shared_data()
#: The TOI-5807 directory by the data-directory rule of ``jaxvet.io.datasets``.
DEFAULT_DATA_DIR = (
    (_DATASETS.toi5807_dir(_SHARED) or _SHARED / _DATASETS.TOI5807_DIRNAME)
    if _SHARED is not None
    else Path(__file__).resolve().parents[2] / "shared" / "data" / _DATASETS.TOI5807_DIRNAME
)

PERIOD_RANGE_DAYS = (1.0, 20.0)
DURATION_RANGE_HOURS = (1.0, 6.0)


@dataclass(frozen=True)
class CandidateSet:
    period_days: np.ndarray
    t0_btjd: np.ndarray
    duration_hours: np.ndarray
    seed: int
    t_first: float

    def __len__(self) -> int:
        return int(self.period_days.shape[0])

    def as_list(self) -> list[dict[str, float]]:
        return [
            {
                "period_days": float(p),
                "t0_btjd": float(t),
                "duration_hours": float(d),
            }
            for p, t, d in zip(self.period_days, self.t0_btjd, self.duration_hours, strict=False)
        ]


def data_dir(arg: str | None = None) -> Path:
    """The TOI-5807 directory: ``arg``, else :data:`DEFAULT_DATA_DIR` (``$JAXVET_DATA_DIR`` -- the
    shared data directory or ``tic188646744`` itself -- else ``shared/data`` beside the repository)."""
    return Path(arg) if arg else DEFAULT_DATA_DIR


def draw_candidates(n: int, seed: int, t_first: float) -> CandidateSet:
    """Draw ``n`` random candidate ephemerides (see module docstring for the exact draw order)."""
    n = int(n)
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = np.random.default_rng(int(seed))
    period = rng.uniform(PERIOD_RANGE_DAYS[0], PERIOD_RANGE_DAYS[1], n)
    t0_frac = rng.uniform(0.0, 1.0, n)
    t0 = float(t_first) + t0_frac * period
    duration = rng.uniform(DURATION_RANGE_HOURS[0], DURATION_RANGE_HOURS[1], n)
    return CandidateSet(
        period_days=period.astype(np.float64),
        t0_btjd=t0.astype(np.float64),
        duration_hours=duration.astype(np.float64),
        seed=int(seed),
        t_first=float(t_first),
    )


def read_sector_csv(path: str | Path) -> dict[str, object]:
    """Read one tutorial ``sector{N}_pdcsap.csv``; keeps only rows with quality == 0.

    Mirrors the reference loader: '#' lines are comments (``# sector: N`` gives the
    sector), values are parsed with Python ``float``/``int``.
    """
    path = Path(path)
    sector = None
    rows: list[str] = []
    with path.open() as fh:
        for line in fh:
            s = line.strip()
            if not s:
                continue
            if s.startswith("#"):
                body = s[1:].strip()
                if body.startswith("sector:"):
                    sector = int(body.split(":", 1)[1])
                continue
            rows.append(s)
    reader = csv.DictReader(rows)
    t, f, e, q = [], [], [], []
    for row in reader:
        t.append(float(row["time_btjd"]))
        f.append(float(row["flux"]))
        e.append(float(row["flux_err"]))
        q.append(int(row.get("quality") or "0"))
    time = np.asarray(t, dtype=np.float64)
    flux = np.asarray(f, dtype=np.float64)
    flux_err = np.asarray(e, dtype=np.float64)
    quality = np.asarray(q, dtype=np.int32)
    ok = quality == 0
    return {
        "sector": sector,
        "time": time[ok],
        "flux": flux[ok],
        "flux_err": flux_err[ok],
    }


def load_stitched_numpy(
    data_dir: str | Path = DEFAULT_DATA_DIR, sectors: tuple[int, ...] = TOI5807_SECTORS
) -> dict[str, np.ndarray]:
    """Stitch the tutorial CSVs with numpy only (per-sector median normalisation, time sort).

    Equivalent to the reference ``stitch_lightcurves`` for these files (every factor is 1.0);
    ``reference_timing.py`` asserts bit-equality against the reference stitcher.
    """
    data_dir = Path(data_dir)
    ts, fs, es, ss = [], [], [], []
    for sec in sorted(sectors):
        d = read_sector_csv(data_dir / f"sector{sec}_pdcsap.csv")
        flux = d["flux"]
        flux_err = d["flux_err"]
        finite = np.isfinite(flux)
        factor = float(np.median(flux[finite])) if finite.any() else float("nan")
        if np.isfinite(factor) and factor > 0:
            flux = flux / factor
            flux_err = flux_err / factor
        ts.append(d["time"])
        fs.append(flux)
        es.append(flux_err)
        ss.append(np.full(d["time"].shape, sec, dtype=np.int32))
    time = np.concatenate(ts)
    order = np.argsort(time)
    return {
        "time": time[order],
        "flux": np.concatenate(fs)[order],
        "flux_err": np.concatenate(es)[order],
        "sector": np.concatenate(ss)[order],
    }


if __name__ == "__main__":  # pragma: no cover - convenience printout
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-candidates", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    a = ap.parse_args()
    lc = load_stitched_numpy(a.data_dir)
    cs = draw_candidates(a.n_candidates, a.seed, float(lc["time"][0]))
    print(json.dumps({"n_points": int(lc["time"].size), "t_first": cs.t_first,
                      "candidates": cs.as_list()}, indent=2))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), for the benchmark records."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
