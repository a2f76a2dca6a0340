"""FITS light curves: TESS SPOC ``*_lc.fits``, Kepler/K2 ``*_llc.fits``, lightkurve ``to_fits()``.

Time systems follow the header keywords ``BJDREFI``/``BJDREFF`` (Kepler Archive Manual,
Thompson et al. 2016; TESS Science Data Products Description, Twicken et al. 2020):
``BJD = TIME + BJDREFI + BJDREFF``, so BTJD = TIME + BJDREFI + BJDREFF - 2457000 (Kepler BKJD:
TIME - 2167).  Flux: PDCSAP_FLUX, else SAP_FLUX, else FLUX (the first that is not all NaN).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from jaxvet.data import BJD_OFFSET
from jaxvet.errors import DataFileError
from jaxvet.io._common import BKJD_OFFSET, Parsed, time_offset_for

_META_KEYS = (
    "TELESCOP",
    "MISSION",
    "OBJECT",
    "TICID",
    "KEPLERID",
    "SECTOR",
    "QUARTER",
    "CAMPAIGN",
    "CREATOR",
)
_NAME_PREFIX = {"TESS": "TIC", "K2": "EPIC", "Kepler": "KIC"}


def int_header(header, key) -> int | None:
    """``header[key]`` as an int, or None when absent, boolean or not an integer."""
    if header is None or key not in header:
        return None
    v = header[key]
    if isinstance(v, bool):
        return None
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def _float_header(header, key) -> float | None:
    if header is None or key not in header:
        return None
    try:
        return float(header[key])
    except (TypeError, ValueError):
        return None


def _header_value(first, second, key, convert):
    """``convert(first, key)``, else ``convert(second, key)``."""
    v = convert(first, key)
    return convert(second, key) if v is None else v


def _fits_mission(primary) -> str | None:
    mission = str(primary.get("MISSION", "") or "").strip()
    telescop = str(primary.get("TELESCOP", "") or "").strip()
    m = (mission or telescop).upper()
    if m == "K2" or (telescop.upper() == "KEPLER" and int_header(primary, "CAMPAIGN") is not None):
        return "K2"
    if m.startswith("KEPLER"):
        return "Kepler"
    if m.startswith("TESS"):
        return "TESS"
    return mission or telescop or None


def prefixed_target(name: str, mission: str | None) -> str:
    """A bare catalogue number gets the mission's prefix (TIC / KIC / EPIC)."""
    prefix = _NAME_PREFIX.get(mission or "")
    return f"{prefix} {name}" if name.isdigit() and prefix else name


def _fits_target(primary, ext, mission) -> str | None:
    tic = int_header(primary, "TICID")
    if tic is not None:
        return f"TIC {tic}"
    kid = int_header(primary, "KEPLERID")
    if kid is not None:
        return f"{'EPIC' if mission == 'K2' else 'KIC'} {kid}"
    for h in (primary, ext):
        obj = str(h.get("OBJECT", "") or "").strip() if h is not None else ""
        if obj:
            return prefixed_target(obj, mission)
    return None


def _open_table(p: Path):
    """(primary header, table header, column names, {NAME: array}) of the light-curve table."""
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(p, memmap=False, lazy_load_hdus=False) as hdul:
                table = None
                for hdu in hdul[1:]:
                    if isinstance(hdu, fits.BinTableHDU | fits.TableHDU) and hdu.columns is not None:
                        names = [c.upper() for c in hdu.columns.names]
                        if "TIME" in names and (table is None or hdu.name == "LIGHTCURVE"):
                            table = hdu
                if table is None:
                    hdus = ", ".join(h.name or type(h).__name__ for h in hdul)
                    raise DataFileError(f"{p}: no light-curve table with a TIME column (HDUs: {hdus})")
                colnames = list(table.columns.names)
                cols = {c.upper(): np.array(table.data[c]) for c in colnames}
                return hdul[0].header.copy(), table.header.copy(), colnames, cols
    except DataFileError:
        raise
    # The one broad except of jaxvet.io: astropy reports a corrupt or truncated FITS file with
    # OSError, VerifyError, ValueError, TypeError, IndexError, ... depending on where it breaks.
    except Exception as e:
        raise DataFileError(f"{p}: not a readable FITS file ({type(e).__name__}: {e})") from None


def _column(p: Path, cols: dict, name: str) -> np.ndarray:
    arr = cols[name]
    if arr.ndim != 1:
        raise DataFileError(
            f"{p}: column {name} has shape {arr.shape}: this looks like a target pixel file "
            "(one image per cadence), not a light curve"
        )
    return arr.astype(np.float64)


def _fits_flux(p: Path, cols: dict, flux_column, listing: str, notes: list[str]):
    """(column name, flux array): the requested column, else the first usable of the defaults."""
    if isinstance(flux_column, str) and flux_column.lower() != "auto":
        fname = flux_column.upper()
        if fname not in cols:
            raise DataFileError(f"{p}: no column {flux_column!r} (columns: {listing})")
        return fname, _column(p, cols, fname)
    present = [c for c in ("PDCSAP_FLUX", "SAP_FLUX", "FLUX") if c in cols]
    if not present:
        raise DataFileError(f"{p}: no flux column (columns: {listing})")
    for c in present:
        f = _column(p, cols, c)
        if np.isfinite(f).any():
            return c, f
        notes.append(f"{c} is all NaN; falling back to the next flux column")
    return present[0], _column(p, cols, present[0])


def _fits_time(p: Path, primary, ext, mission, time_format: str, notes: list[str]) -> tuple[float, str]:
    """(offset to BTJD [d], time system); notes a TIMEREF that is not barycentric."""
    unit = str(ext.get("TIMEUNIT", "d") or "d").strip().lower()
    if unit not in ("d", "day", "days"):
        raise DataFileError(f"{p}: TIMEUNIT is {unit!r}; only days are supported")
    if time_format != "auto":
        offset, system = time_offset_for(time_format)
    else:
        offset, system = _fits_offset(primary, ext, mission, notes)
    timeref = str(ext.get("TIMEREF", "") or "").strip().upper()
    if timeref and timeref != "SOLARSYSTEM":
        notes.append(f"TIMEREF is {timeref!r}, not barycentric (SOLARSYSTEM)")
    return offset, system


def _fits_offset(primary, ext, mission, notes: list[str]) -> tuple[float, str]:
    """(offset to BTJD [d], time system) from the BJDREFI/BJDREFF keywords, else the mission."""
    bjdrefi = _header_value(ext, primary, "BJDREFI", _float_header)
    if bjdrefi is not None:
        bjdreff = _float_header(ext, "BJDREFF")
        if bjdreff is None:
            bjdreff = _float_header(primary, "BJDREFF") or 0.0
        offset = (bjdrefi - BJD_OFFSET) + bjdreff
        ref = bjdrefi + bjdreff
        system = {BJD_OFFSET: "BTJD", BKJD_OFFSET: "BKJD"}.get(ref, f"BJD-{ref:g}")
        if offset != 0.0:
            notes.append(
                f"times converted from {system} (BJDREFI={bjdrefi:.0f}, BJDREFF={bjdreff:.10g}) to BTJD: "
                f"t {offset:+.10g} d"
            )
        return offset, system
    if mission in ("Kepler", "K2"):
        notes.append(
            f"no BJDREFI keyword: TELESCOP/MISSION {mission} -> times taken as BKJD, converted to BTJD"
        )
        return BKJD_OFFSET - BJD_OFFSET, "BKJD"
    if mission == "TESS":
        notes.append("no BJDREFI keyword: TESS times taken as BTJD")
        return 0.0, "BTJD"
    notes.append("no BJDREFI keyword and unknown mission: times taken as BTJD (or absolute BJD)")
    return 0.0, "auto"


def _fits_sector(primary, ext, mission, notes: list[str]) -> tuple[int | None, str]:
    """(sector / quarter / campaign number, where it came from)."""
    for key in ("SECTOR", "QUARTER", "CAMPAIGN"):
        v = _header_value(primary, ext, key, int_header)
        if v is not None:
            if key != "SECTOR":
                notes.append(f"{mission or 'Kepler'} {key.lower()} {v} used as the sector id")
            return v, f"header {key}"
    return None, "unknown"


def _fits_format(primary, mission) -> str:
    if "lightkurve" in str(primary.get("CREATOR", "") or "").lower():
        return "lightkurve-fits"
    if mission == "TESS":
        return "tess-spoc-fits"
    if mission in ("Kepler", "K2"):
        return f"{mission.lower()}-fits"
    return "fits"


def read_fits(p: Path, flux_column, time_format: str) -> Parsed:
    """Parse a FITS light curve (times in BTJD; sector = SECTOR, QUARTER or CAMPAIGN)."""
    primary, ext, colnames, cols = _open_table(p)
    if len(cols["TIME"]) == 0:
        raise DataFileError(f"{p}: empty light-curve table (0 rows)")
    notes: list[str] = []
    mission = _fits_mission(primary)
    fname, flux = _fits_flux(p, cols, flux_column, ", ".join(colnames), notes)
    err_name = f"{fname}_ERR" if f"{fname}_ERR" in cols else None
    q_name = next((c for c in ("QUALITY", "SAP_QUALITY") if c in cols), None)
    # integer flags; LightCurve turns missing (NaN) flags into 0
    quality = cols[q_name] if q_name is not None and cols[q_name].ndim == 1 else None
    time = _column(p, cols, "TIME")
    offset, system = _fits_time(p, primary, ext, mission, time_format, notes)
    sector, source = _fits_sector(primary, ext, mission, notes)
    return Parsed(
        time=time + offset if offset else time,
        flux=flux,
        flux_err=_column(p, cols, err_name) if err_name else None,
        quality=quality,
        format=_fits_format(primary, mission),
        sector=sector,
        sector_source=source,
        mission=mission,
        target=_fits_target(primary, ext, mission),
        time_column="TIME",
        time_system=system,
        time_offset=offset,
        flux_column=fname,
        flux_err_column=err_name,
        quality_column=q_name,
        metadata={k: primary.get(k) for k in _META_KEYS if k in primary},
        notes=notes,
    )
