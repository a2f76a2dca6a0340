"""TESS sector ids from the observing times, for files that carry none.

TESS observes one sector for two spacecraft orbits (about 27.3 d), with a downlink gap between
the orbits and between sectors (Ricker et al. 2015, J. Astron. Telesc. Instrum. Syst. 1,
014003).  Sector 1 began at 1325.3 BTJD; over sectors 1-83 the sector starts follow
``1325.3 + 27.26 (s - 1)`` BTJD to within about 4 d, a small fraction of a sector.  A table
without sector information is cut at its data gaps (> 0.5 d) and each piece is given the
sector whose centre on that schedule is nearest the piece's mid-time.
"""

from __future__ import annotations

import numpy as np

from jaxvet.io._common import Parsed

#: BTJD of the start of TESS sector 1.
TESS_SECTOR1_START_BTJD = 1325.3
#: Mean length of a TESS sector over sectors 1-83 [days].
TESS_SECTOR_DAYS = 27.26
#: Data gaps longer than this [days] may separate sectors.
SECTOR_GAP_DAYS = 0.5


def tess_sectors_from_time(time: np.ndarray) -> np.ndarray | None:
    """Per-cadence TESS sector ids estimated from BTJD times (shape of ``time``), or None.

    None when a time is not finite or is before sector 1 (not TESS data).  NaN-free times are
    required; pieces between gaps > :data:`SECTOR_GAP_DAYS` get one id each.
    """
    t = np.asarray(time, dtype=np.float64)
    if t.size == 0 or not np.all(np.isfinite(t)) or t[0] < TESS_SECTOR1_START_BTJD - 1.0:
        return None
    cut = np.nonzero(np.diff(t) > SECTOR_GAP_DAYS)[0] + 1
    lo = np.concatenate([[0], cut])
    hi = np.concatenate([cut, [t.size]]) - 1
    mid = 0.5 * (t[lo] + t[hi])
    centre0 = TESS_SECTOR1_START_BTJD + 0.5 * TESS_SECTOR_DAYS
    piece_sector = np.rint((mid - centre0) / TESS_SECTOR_DAYS).astype(np.int64) + 1
    return np.repeat(piece_sector, hi - lo + 1)


def split_tess_sectors(parsed: Parsed) -> Parsed:
    """``parsed`` with per-cadence sector ids from its times when it has no sector information.

    Only TESS (or unknown-mission) tables whose every time is finite and in the TESS era are
    split; others are returned unchanged.
    """
    if parsed.sector is not None or parsed.sector_column is not None:
        return parsed
    if parsed.mission not in (None, "TESS"):
        return parsed
    sectors = tess_sectors_from_time(parsed.time)
    if sectors is None:
        return parsed
    ids = sorted({int(s) for s in np.unique(sectors)})
    parsed.sector_column = sectors
    parsed.sector_source = "time (TESS sector schedule)"
    parsed.notes.append(f"no sector id in the file: TESS sectors {ids} estimated from the times")
    return parsed
