"""Bundled real data sets: where the shared data directory is, and the TOI-5807 tutorial target.

This module imports only the standard library at module level, so that scripts run outside
jaxvet's environment (the reference-library benchmarks) can load it by file path for the same
ephemeris and data-directory rule.  The readers are imported inside the functions that need
them.

Data-directory rule: ``$JAXVET_DATA_DIR`` when set, else ``shared/data`` beside the
repository (``<repo>/../shared/data``), else ``../shared/data`` relative to the working
directory.  The files and their provenance are listed in the data directory's
``PROVENANCE.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "TOI5807",
    "TOI5807_SECTORS",
    "TOI5807_DIRNAME",
    "find_shared_data",
    "toi5807_dir",
    "toi5807_files",
    "load_toi5807",
    "toi5807_candidate",
]

#: TOI-5807.01 (TIC 188646744), the tutorial target of the reference library: ephemeris
#: (period [d], mid-transit time [BTJD], duration [h]) and stellar radius / mass [solar units].
TOI5807 = {
    "id": "TOI-5807.01",
    "period_days": 14.2423724,
    "t0_btjd": 3540.26317,
    "duration_hours": 4.046,
    "stellar_radius": 1.65,
    "stellar_mass": 1.47,
}
#: TESS sectors of the TOI-5807 PDCSAP light curves ``sector{N}_pdcsap.csv``.
TOI5807_SECTORS = (55, 75, 82, 83)
#: Sub-directory of the shared data directory holding the TOI-5807 files.
TOI5807_DIRNAME = "tic188646744"


def find_shared_data() -> Path | None:
    """The shared real-data directory (see the module docstring for the rule), or None."""
    env = os.environ.get("JAXVET_DATA_DIR")
    repo = Path(__file__).resolve().parents[2]
    candidates = [Path(env).expanduser()] if env else []
    candidates += [repo.parent / "shared" / "data", Path.cwd().resolve().parent / "shared" / "data"]
    for d in candidates:
        if d.is_dir():
            return d.resolve()
    return None


def _missing(base: Path):
    from jaxvet.errors import DataFileError

    return DataFileError(
        f"{base}: TOI-5807 files sector{{55,75,82,83}}_pdcsap.csv not found "
        f"(expected in {TOI5807_DIRNAME}/ or the directory itself)"
    )


def toi5807_dir(data_dir=None) -> Path | None:
    """The directory holding ``sector{55,75,82,83}_pdcsap.csv``, or None when not found.

    ``data_dir`` is the shared data directory or the ``tic188646744`` directory itself
    (default :func:`find_shared_data`).
    """
    base = Path(data_dir) if data_dir is not None else find_shared_data()
    if base is None:
        return None
    for d in (base / TOI5807_DIRNAME, base):
        if all((d / f"sector{s}_pdcsap.csv").is_file() for s in TOI5807_SECTORS):
            return d
    return None


def toi5807_files(data_dir=None) -> list[Path]:
    """The four TOI-5807 CSV paths, in sector order; DataFileError when they are absent."""
    d = toi5807_dir(data_dir)
    if d is None:
        from jaxvet.errors import DataFileError

        base = Path(data_dir) if data_dir is not None else find_shared_data()
        if base is None:
            raise DataFileError(
                "TOI-5807 data not found: set JAXVET_DATA_DIR or pass data_dir= "
                "(looked for <repo>/../shared/data and <cwd>/../shared/data)"
            )
        raise _missing(base)
    return [d / f"sector{s}_pdcsap.csv" for s in TOI5807_SECTORS]


def load_toi5807(data_dir=None, *, sectors: Iterable[int] | None = None):
    """TOI-5807 (TIC 188646744) PDCSAP sectors 55, 75, 82, 83, stitched (73,805 cadences).

    ``data_dir`` is the shared data directory (default :func:`find_shared_data`) or the
    ``tic188646744`` directory itself; ``sectors`` picks a subset (e.g. ``[82, 83]``).
    Returns a :class:`jaxvet.data.LightCurve`.
    """
    from jaxvet.errors import JaxvetInputError
    from jaxvet.io.readers import read_lightcurves

    files = toi5807_files(data_dir)
    if sectors is not None:
        wanted = {int(s) for s in sectors}
        unknown = wanted - set(TOI5807_SECTORS)
        if unknown:
            raise JaxvetInputError(f"TOI-5807 has sectors {list(TOI5807_SECTORS)}, not {sorted(unknown)}")
        files = [f for f, s in zip(files, TOI5807_SECTORS, strict=True) if s in wanted]
    return read_lightcurves(files, stitch=True)


def toi5807_candidate(depth_ppm: float | None = None):
    """TOI-5807.01 as a :class:`jaxvet.data.Candidate` (tutorial ephemeris and star)."""
    from jaxvet.data import Candidate

    return Candidate(depth_ppm=depth_ppm, **TOI5807)
