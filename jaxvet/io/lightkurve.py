"""lightkurve ``LightCurve`` / ``LightCurveCollection`` objects (Lightkurve Collaboration 2018).

Fluxes held as astropy ``MaskedQuantity`` (lightkurve issues #1339, #1161, #988) are
supported: masked values become NaN.  lightkurve itself is never imported here.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from jaxvet.data import ABSOLUTE_JD_MIN, BJD_OFFSET, LightCurve
from jaxvet.errors import JaxvetInputError
from jaxvet.io._common import BKJD_OFFSET, JaxvetDataWarning, Parsed, plain_array
from jaxvet.io.build import finish
from jaxvet.io.fits import prefixed_target
from jaxvet.io.stitching import combine

_MISSIONS = {"TESS": "TESS", "KEPLER": "Kepler", "K2": "K2"}


def _lk_meta(meta, *keys):
    for k in keys:
        v = meta.get(k) if hasattr(meta, "get") else None
        if v is not None and str(v).strip() not in ("", "None"):
            return v
    return None


def _time_btjd_from_jd(t, notes: list[str]) -> np.ndarray:
    # two-part Julian date keeps full float64 precision: BTJD = (jd1 - 2457000) + jd2
    jd1 = np.asarray(t.jd1, dtype=np.float64)
    jd2 = np.asarray(t.jd2, dtype=np.float64)
    out = (jd1 - BJD_OFFSET) + jd2
    finite = out[np.isfinite(out)]
    if (
        getattr(t, "format", None) == "jd"
        and finite.size
        and np.median(finite) < ABSOLUTE_JD_MIN - BJD_OFFSET
    ):
        # lightkurve's generic LightCurve reads bare numbers as JD; values below
        # 2,400,000 (before 1858) are relative times, most likely BTJD.
        out = jd1 + jd2
        msg = "lightkurve time is in format 'jd' but < 2,400,000: values taken as BTJD"
        notes.append(msg)
        warnings.warn(msg, JaxvetDataWarning, stacklevel=6)
    mask = getattr(t, "mask", None)
    if mask is not None and np.ndim(mask) == 1 and np.any(mask):
        out = out.copy()
        out[np.asarray(mask, bool)] = np.nan
    scale = getattr(t, "scale", None)
    if scale not in (None, "tdb"):
        notes.append(f"lightkurve time scale is {scale!r}, not TDB")
    return out


def _lk_time_btjd(t, mission: str | None, notes: list[str]) -> np.ndarray:
    if hasattr(t, "jd1") and hasattr(t, "jd2"):
        return _time_btjd_from_jd(t, notes)
    arr = plain_array(t, "time")
    if mission in ("Kepler", "K2"):
        notes.append("plain time values of a Kepler/K2 object taken as BKJD")
        return arr + (BKJD_OFFSET - BJD_OFFSET)
    return arr


def _lk_sector(meta, mission, notes: list[str]) -> tuple[int | None, str]:
    for key in ("SECTOR", "QUARTER", "CAMPAIGN"):
        v = _lk_meta(meta, key)
        if v is None:
            continue
        try:
            sec = int(v)
        except (TypeError, ValueError):
            continue
        if key != "SECTOR":
            notes.append(f"{mission or 'Kepler'} {key.lower()} {sec} used as the sector id")
        return sec, f"meta {key}"
    return None, "unknown"


def _lk_mission(meta) -> str | None:
    mission = _lk_meta(meta, "MISSION", "TELESCOP")
    mission = _MISSIONS.get(str(mission).upper(), mission)
    if mission == "Kepler" and _lk_meta(meta, "CAMPAIGN") is not None:
        return "K2"
    return mission


def _lk_collection(obj, *, quality_bitmask, sector, stitch, flux_err_placeholder) -> LightCurve:
    items = list(obj)
    if not items:
        raise JaxvetInputError("empty LightCurveCollection")
    if sector is not None:
        raise JaxvetInputError("sector= cannot be given for a collection")
    lcs = [
        from_lightkurve(x, quality_bitmask=quality_bitmask, flux_err_placeholder=flux_err_placeholder)
        for x in items
    ]
    labels = [lc.source or f"lightcurve[{i}]" for i, lc in enumerate(lcs)]
    return combine(lcs, labels, normalize=stitch)


def _lk_parse(obj, label) -> Parsed:
    meta = getattr(obj, "meta", {}) or {}
    notes: list[str] = []
    mission = _lk_mission(meta)
    time = _lk_time_btjd(obj.time, mission, notes)
    flux = plain_array(obj.flux, "flux")
    err_q = getattr(obj, "flux_err", None)
    flux_err = (
        plain_array(err_q, "flux_err", unit=getattr(obj.flux, "unit", None)) if err_q is not None else None
    )
    quality = None
    if "quality" in getattr(obj, "colnames", ()):
        quality = plain_array(obj["quality"], "quality")  # masked -> NaN -> flag 0
    sec, source = _lk_sector(meta, mission, notes)
    tid = _lk_meta(meta, "TICID", "TARGETID", "KEPLERID")
    target = (
        prefixed_target(str(label), mission) if label is not None else (str(tid) if tid is not None else None)
    )
    return Parsed(
        time=time,
        flux=flux,
        flux_err=flux_err,
        quality=quality,
        format="lightkurve",
        sector=sec,
        sector_source=source,
        mission=mission,
        target=target,
        time_column="time",
        time_system="BTJD",
        flux_column=str(_lk_meta(meta, "FLUX_ORIGIN") or "flux"),
        flux_err_column="flux_err" if flux_err is not None else None,
        quality_column="quality" if quality is not None else None,
        metadata={
            k: meta.get(k)
            for k in ("MISSION", "TELESCOP", "OBJECT", "SECTOR", "QUARTER", "CAMPAIGN")
            if k in meta
        },
        notes=notes,
    )


def from_lightkurve(
    obj,
    *,
    quality_bitmask="default",
    sector: int | None = None,
    stitch: bool = True,
    flux_err_placeholder: str = "estimate",
) -> LightCurve:
    """Convert a lightkurve ``LightCurve`` (or a ``LightCurveCollection`` / list of them).

    Fluxes may be ``Quantity`` or ``MaskedQuantity`` (masked cadences become NaN and are then
    masked by ``.valid``); flux_err is converted to the flux's unit.  Times come from the
    astropy ``Time`` as BTJD in full precision.  The sector id comes from ``meta`` SECTOR,
    else QUARTER, else CAMPAIGN (or ``sector=``).  A collection is stitched like
    :func:`jaxvet.io.read_lightcurves`.
    """
    if isinstance(obj, list | tuple) or type(obj).__name__ == "LightCurveCollection":
        return _lk_collection(
            obj,
            quality_bitmask=quality_bitmask,
            sector=sector,
            stitch=stitch,
            flux_err_placeholder=flux_err_placeholder,
        )
    if not (hasattr(obj, "time") and hasattr(obj, "flux")):
        raise JaxvetInputError(f"expected a lightkurve LightCurve, got {type(obj).__name__}")
    meta = getattr(obj, "meta", {}) or {}
    fname = _lk_meta(meta, "FILENAME")
    label = _lk_meta(meta, "LABEL", "OBJECT")
    where = os.path.basename(str(fname)) if fname else f"lightkurve {label or type(obj).__name__}"
    return finish(
        _lk_parse(obj, label),
        where=where,
        name=where,
        quality_bitmask=quality_bitmask,
        sector=sector,
        flux_err_placeholder=flux_err_placeholder,
    )
