"""Ephemeris checks of ``jaxvet vet`` done before vetting: the time system of ``--t0``, and
whether the candidates' transits fall on the data.

Kepler and K2 ephemerides are usually published in BKJD (BJD - 2454833), TESS ones in BTJD
(BJD - 2457000).  ``--t0`` is read in the system of the data's mission unless
``--time-system`` says otherwise; every conversion is reported on stderr and recorded in the
JSON output (``"conversions"``).
"""

from __future__ import annotations

import numpy as np

from jaxvet.data import ABSOLUTE_JD_MIN, BJD_OFFSET, Candidate, LightCurve
from jaxvet.engine.signal import transits_on_data
from jaxvet.io._common import BKJD_OFFSET, read_info, sector_label

__all__ = [
    "TIME_SYSTEMS",
    "data_missions",
    "resolve_t0",
    "table_conversion",
    "transits_on_data",
    "period_hints",
]

#: ``--time-system`` choices -> (days added to get BTJD, name).
TIME_SYSTEMS = {
    "btjd": (0.0, "BTJD"),
    "bkjd": (BKJD_OFFSET - BJD_OFFSET, "BKJD"),
    "bjd": (-BJD_OFFSET, "BJD"),
    "mjd": (2400000.5 - BJD_OFFSET, "MJD"),
}
#: a t0 in [MJD_RANGE) is read as a modified Julian date (BJD - 2400000.5): no BTJD or BKJD of
#: a mission is that large, and no MJD of a space photometry mission is outside it
MJD_RANGE = (40000.0, 100000.0)


def data_missions(lc: LightCurve) -> list[str]:
    """The missions of the files a light curve was read from (sorted; empty when unknown)."""
    info = read_info(lc)
    if info is None:
        return []
    parts = info.parts or (info,)
    return sorted({p.mission for p in parts if p.mission})


def units_label(missions: list[str]) -> str:
    """The data's observing units: "quarters" (Kepler), "campaigns" (K2), else "sectors"."""
    return sector_label(missions[0] if len(missions) == 1 else None) + "s"


def _default_system(missions: list[str]) -> tuple[str, str]:
    if missions and all(m in ("Kepler", "K2") for m in missions):
        return "bkjd", f"{'/'.join(missions)} data"
    return "btjd", "TESS data" if missions == ["TESS"] else "default"


def resolve_t0(t0: float, system: str | None, missions: list[str]) -> tuple[float, dict | None]:
    """(t0 in BTJD, conversion record or None) for a ``--t0`` value.

    ``system`` is ``--time-system`` (None: BKJD for Kepler/K2 data, else BTJD); values
    >= 2,400,000 are absolute BJD whatever the system, and without ``--time-system`` values in
    :data:`MJD_RANGE` are modified Julian dates.
    """
    if t0 >= ABSOLUTE_JD_MIN:
        key, why = "bjd", "value >= 2,400,000"
    elif system is None and MJD_RANGE[0] <= t0 < MJD_RANGE[1]:
        key, why = "mjd", "value in the MJD range 40,000-100,000"
    elif system is not None:
        key, why = system, "--time-system"
    else:
        key, why = _default_system(missions)
    offset, name = TIME_SYSTEMS[key]
    if key == "btjd":
        return t0, None
    out = t0 + offset
    return out, {"field": "t0", "input": t0, "time_system": name, "t0_btjd": out, "reason": why}


def table_conversion(path: str, system: str | None) -> dict | None:
    """The JSON record of a ``--candidates`` table whose t0 column is read in ``--time-system``."""
    if system is None or system == "btjd":
        return None
    name = TIME_SYSTEMS[system][1]
    return {
        "candidate": "*",
        "field": "t0_btjd",
        "source": path,
        "time_system": name,
        "reason": "--time-system",
    }


def period_hints(lc: LightCurve, candidates: list[Candidate], *, limit: int = 5) -> list[str]:
    """Warnings for candidates with no transit on the data or a duration of at least half the
    period, and hints for periods in hours.

    A period looks like hours when at most one transit falls on the data while the same number
    read as hours (``P / 24`` days) gives three or more.
    """
    time = np.sort(lc.time[lc.valid])
    if not candidates or time.size == 0:
        return []
    p = np.array([c.period_days for c in candidates])
    t0 = np.array([c.t0_btjd for c in candidates])
    dur = np.array([c.duration_days for c in candidates])
    n = transits_on_data(time, p, t0, dur)
    n_hours = transits_on_data(time, p / 24.0, t0, dur)
    span = f"{time[0]:.2f}-{time[-1]:.2f} BTJD"
    msgs = []
    for i in np.nonzero(n == 0)[0][:limit]:
        c = candidates[i]
        msgs.append(
            f"warning: no transit of candidate {c.id} (P={c.period_days:g} d, t0={c.t0_btjd:.5f} BTJD) "
            f"falls on the data ({span}); check --t0 and --time-system"
        )
    for i in np.nonzero(dur >= 0.5 * p)[0][:limit]:
        c = candidates[i]
        msgs.append(
            f"warning: candidate {c.id}: --duration-hours {c.duration_hours:g} is at least half the "
            f"period ({c.period_days:g} d = {c.period_days * 24.0:g} h); every check reports it as "
            "insufficient with flag DURATION_TOO_LONG"
        )
    for i in np.nonzero((n <= 1) & (n_hours >= 3))[0][:limit]:
        c = candidates[i]
        msgs.append(
            f"hint: candidate {c.id}: --period {c.period_days:g} (days) puts {n[i]} transit(s) on the "
            f"data; if it is in hours, use --period {c.period_days / 24.0:.6g} ({n_hours[i]} transits)"
        )
    return msgs
