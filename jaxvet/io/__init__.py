"""Readers for real light-curve files and candidate tables.

Everything here runs on the host, once, at the boundary: it turns a file (or a lightkurve
object, or plain arrays) into a validated :class:`jaxvet.data.LightCurve` in BTJD, or a
candidate CSV into :class:`jaxvet.data.Candidate` objects.  Bad input raises
:class:`jaxvet.errors.DataFileError` (a :class:`~jaxvet.errors.JaxvetInputError`) whose message
starts with the file and says what is wrong; degenerate *data* (NaN cadences, flagged
cadences) is kept and masked by :attr:`LightCurve.valid`.

Supported inputs
----------------
* FITS light curves: TESS SPOC ``*_lc.fits`` (PDCSAP_FLUX, else SAP_FLUX), Kepler/K2
  ``*_llc.fits`` and files written by ``lightkurve.LightCurve.to_fits()`` (FLUX).  Time
  systems follow the FITS header keywords ``BJDREFI``/``BJDREFF`` (Kepler Archive Manual,
  Thompson et al. 2016, §2.3.2; TESS Science Data Products Description, Twicken et al. 2020):
  ``BJD = TIME + BJDREFI + BJDREFF``, so BTJD = TIME + BJDREFI + BJDREFF - 2457000 (Kepler
  BKJD: TIME - 2167).  The quality bitmasks are those of lightkurve's ``TessQualityFlags`` and
  ``KeplerQualityFlags`` (Lightkurve Collaboration 2018), chosen by mission.
* lightkurve ``LightCurve`` / ``LightCurveCollection`` objects, including fluxes held as
  astropy ``MaskedQuantity`` (lightkurve issues #1339, #1161, #988): masked values become NaN.
* Text tables: the tess-vetter tutorial CSV (``# key: value`` metadata lines, header
  ``time_btjd,flux,flux_err,quality``), and generic comma/tab/whitespace tables with or
  without a header row.  Columns are found by header name (``time``, ``time_btjd``, ``btjd``,
  ``bjd``, ``bkjd``, ``mjd``; ``flux``, ``pdcsap_flux``, ``sap_flux``; ``flux_err``, ``err``;
  ``quality``; ``sector``), else by position (time, flux, flux_err[, quality]).  Absolute BJD
  (>= 2,400,000) is converted to BTJD.
* numpy arrays (:func:`from_arrays`).

Each reader records what it did (columns used, time conversion, where the sector id came from,
notes such as "flux_err is a constant placeholder") in a :class:`ReadInfo`, retrievable with
:func:`read_info`.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import gzip
import math
import os
import re
import sys
import warnings
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jaxvet.data import BJD_OFFSET, DEFAULT_QUALITY_BITMASK, Candidate, LightCurve
from jaxvet.data import stitch as _stitch
from jaxvet.errors import DataFileError, JaxvetInputError

__all__ = [
    "BKJD_OFFSET",
    "MJD_OFFSET",
    "TESS_QUALITY_BITMASKS",
    "KEPLER_QUALITY_BITMASKS",
    "JaxvetDataWarning",
    "ReadInfo",
    "read_info",
    "read_lightcurve",
    "read_lightcurves",
    "from_lightkurve",
    "from_arrays",
    "read_candidates",
    "read_candidate_arrays",
    "find_shared_data",
    "load_toi5807",
    "parse_sector_list",
    "toi5807_candidate",
    "resolve_quality_bitmask",
]

#: Kepler/K2 BKJD = BJD - 2454833.
BKJD_OFFSET = 2454833.0
#: MJD = JD - 2400000.5.
MJD_OFFSET = 2400000.5

#: lightkurve ``TessQualityFlags`` bitmasks ("default" equals ``jaxvet.data.DEFAULT_QUALITY_BITMASK``).
TESS_QUALITY_BITMASKS = {"none": 0, "default": DEFAULT_QUALITY_BITMASK, "hard": 24319, "hardest": 65535}
#: lightkurve ``KeplerQualityFlags`` bitmasks (Kepler and K2 use the same bit meanings).
KEPLER_QUALITY_BITMASKS = {"none": 0, "default": 1130799, "hard": 1664431, "hardest": 2096639}

#: A constant flux_err this many times larger than the robust point-to-point scatter of the
#: flux is treated as a placeholder (e.g. allesfitter's ``flux_err = 1.0`` columns).
PLACEHOLDER_ERR_RATIO = 10.0

_ABSOLUTE_JD_MIN = 2_400_000.0

# TOI-5807.01 (TIC 188646744), the tutorial target of the reference (reference-semantics §4.5).
_TOI5807 = {
    "id": "TOI-5807.01",
    "period_days": 14.2423724,
    "t0_btjd": 3540.26317,
    "duration_hours": 4.046,
    "stellar_radius": 1.65,
    "stellar_mass": 1.47,
}
_TOI5807_SECTORS = (55, 75, 82, 83)


class JaxvetDataWarning(UserWarning):
    """Suspicious but usable input data (placeholder errors, duplicate sector ids, ...)."""


@dataclass(frozen=True)
class ReadInfo:
    """What a reader did to produce a light curve (provenance, conversions, notes)."""

    source: str
    format: str
    mission: str | None = None
    target: str | None = None
    sectors: tuple[int, ...] = ()
    sector_source: str = "unknown"
    time_column: str | None = None
    time_system: str | None = None
    time_offset_days: float = 0.0
    flux_column: str | None = None
    flux_err_column: str | None = None
    quality_column: str | None = None
    quality_bitmask: int = DEFAULT_QUALITY_BITMASK
    n_rows: int = 0
    n_valid: int = 0
    metadata: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    parts: tuple[ReadInfo, ...] = ()


_INFO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def read_info(lc: LightCurve) -> ReadInfo | None:
    """The :class:`ReadInfo` of a light curve returned by a reader here (None otherwise).

    Derived light curves (``lc.select(...)``, ``stitch([...])`` called directly) carry none.
    """
    try:
        return _INFO.get(lc)
    except TypeError:
        return None


def _remember(lc: LightCurve, info: ReadInfo) -> LightCurve:
    _INFO[lc] = info
    return lc


# -------------------------------------------------------------------------------------------
# small helpers
# -------------------------------------------------------------------------------------------
def resolve_quality_bitmask(quality_bitmask, mission: str | None = None) -> int:
    """``"default"``/``"hard"``/``"hardest"``/``"none"`` (per mission) or a non-negative int."""
    table = KEPLER_QUALITY_BITMASKS if (mission or "").upper() in ("KEPLER", "K2") else TESS_QUALITY_BITMASKS
    bad = f"quality_bitmask must be one of {sorted(table)} or a non-negative int"
    if quality_bitmask is None:
        return 0
    if isinstance(quality_bitmask, str):
        key = quality_bitmask.strip().lower()
        if key not in table:
            raise JaxvetInputError(f"{bad}, got {quality_bitmask!r}")
        return int(table[key])
    if isinstance(quality_bitmask, bool | float) or not isinstance(quality_bitmask, int | np.integer):
        raise JaxvetInputError(f"{bad}, got {quality_bitmask!r}")
    if int(quality_bitmask) < 0:
        raise JaxvetInputError(f"quality_bitmask must be non-negative, got {quality_bitmask!r}")
    return int(quality_bitmask)


def _plain(value, name: str, unit=None) -> np.ndarray:
    """A float64 1-D numpy copy of array-likes, Quantity, MaskedQuantity and np.ma arrays.

    Masked entries become NaN.  ``unit`` converts a Quantity to that unit first (so flux_err is
    expressed in the flux's unit).
    """
    v = value
    mask = None
    # astropy.utils.masked.Masked (MaskedQuantity, MaskedNDArray): .unmasked and .mask
    if hasattr(v, "unmasked") and hasattr(v, "mask"):
        mask = np.asarray(v.mask, dtype=bool)
        v = v.unmasked
    elif isinstance(v, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(v)
        v = v.data
    if hasattr(v, "unit") and hasattr(v, "to_value"):
        try:
            v = v.to_value(unit) if unit is not None and v.unit is not None else v.value
        except Exception:  # incompatible units: keep the numbers as they are
            v = v.value
    try:
        arr = np.array(v, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise JaxvetInputError(f"{name} must be numeric: {e}") from None
    if arr.ndim != 1:
        raise JaxvetInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if mask is not None and mask.shape == arr.shape:
        arr[mask] = np.nan
    return arr


def _robust_p2p_scatter(flux: np.ndarray) -> float:
    """Robust point-to-point scatter: 1.4826 MAD of first differences / sqrt(2)."""
    f = flux[np.isfinite(flux)]
    if f.size < 3:
        return float("nan")
    d = np.diff(f)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def _int_header(header, key):
    if header is None or key not in header:
        return None
    v = header[key]
    if isinstance(v, bool):
        return None
    try:
        iv = int(str(v).strip())
    except (TypeError, ValueError):
        return None
    return iv


def _float_header(header, key):
    if header is None or key not in header:
        return None
    try:
        return float(header[key])
    except (TypeError, ValueError):
        return None


def _path_str(path) -> str:
    return os.fspath(path) if isinstance(path, str | os.PathLike) else str(path)


def _check_file(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise JaxvetInputError(f"expected a file path, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataFileError(f"{_path_str(path)}: file not found")
    if p.is_dir():
        raise DataFileError(f"{_path_str(path)}: is a directory, not a file")
    return p


def _read_bytes(p: Path) -> bytes:
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataFileError(f"{p}: cannot read file ({e.strerror or e})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataFileError(f"{p}: corrupt gzip file ({e})") from None
    return raw


def _sniff(p: Path) -> str:
    """'fits' or 'text' by content (the extension only breaks ties)."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(2880)
    except OSError as e:
        raise DataFileError(f"{p}: cannot read file ({e.strerror or e})") from None
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(p, "rb") as fh:
                head = fh.read(2880)
        except (OSError, EOFError) as e:
            raise DataFileError(f"{p}: corrupt gzip file ({e})") from None
    if len(head) == 0:
        raise DataFileError(f"{p}: empty file (0 bytes, 0 rows)")
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if head.startswith(b"PK\x03\x04"):
        raise DataFileError(
            f"{p}: is a zip/NumPy .npz archive (a target pixel stamp?), not a light-curve file"
        )
    if head.startswith(b"\x93NUMPY"):
        raise DataFileError(f"{p}: is a NumPy .npy array, not a light-curve file; use from_arrays()")
    name = p.name.lower()
    if name.endswith((".fits", ".fit", ".fts", ".fits.gz")):
        raise DataFileError(f"{p}: not a readable FITS file (no SIMPLE card at the start)")
    return "text"


# -------------------------------------------------------------------------------------------
# intermediate result of a parser
# -------------------------------------------------------------------------------------------
@dataclass
class _Parsed:
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray | None
    quality: np.ndarray | None
    format: str
    sector: int | None = None
    sector_column: np.ndarray | None = None
    sector_source: str = "unknown"
    mission: str | None = None
    target: str | None = None
    time_column: str | None = None
    time_system: str | None = None
    time_offset: float = 0.0
    flux_column: str | None = None
    flux_err_column: str | None = None
    quality_column: str | None = None
    metadata: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# -------------------------------------------------------------------------------------------
# FITS
# -------------------------------------------------------------------------------------------
def _fits_mission(primary) -> str | None:
    mission = str(primary.get("MISSION", "") or "").strip()
    telescop = str(primary.get("TELESCOP", "") or "").strip()
    m = (mission or telescop).upper()
    if m == "K2" or (telescop.upper() == "KEPLER" and _int_header(primary, "CAMPAIGN") is not None):
        return "K2"
    if m.startswith("KEPLER"):
        return "Kepler"
    if m.startswith("TESS"):
        return "TESS"
    return mission or telescop or None


def _fits_target(primary, ext, mission) -> str | None:
    tic = _int_header(primary, "TICID")
    if tic is not None:
        return f"TIC {tic}"
    kid = _int_header(primary, "KEPLERID")
    if kid is not None:
        return f"{'EPIC' if mission == 'K2' else 'KIC'} {kid}"
    for h in (primary, ext):
        obj = str(h.get("OBJECT", "") or "").strip() if h is not None else ""
        if obj:
            if obj.isdigit():
                prefix = {"TESS": "TIC", "K2": "EPIC", "Kepler": "KIC"}.get(mission or "")
                return f"{prefix} {obj}" if prefix else obj
            return obj
    return None


def _read_fits(p: Path, flux_column, time_format: str) -> _Parsed:
    try:
        from astropy.io import fits
    except ImportError:  # pragma: no cover - astropy is a dependency
        raise DataFileError(f"{p}: reading FITS needs astropy") from None
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(p, memmap=False, lazy_load_hdus=False) as hdul:
                primary = hdul[0].header.copy()
                table = None
                for hdu in hdul[1:]:
                    if isinstance(hdu, fits.BinTableHDU | fits.TableHDU) and hdu.columns is not None:
                        names = [c.upper() for c in hdu.columns.names]
                        if "TIME" in names and (table is None or hdu.name == "LIGHTCURVE"):
                            table = hdu
                if table is None:
                    hdus = ", ".join(h.name or type(h).__name__ for h in hdul)
                    raise DataFileError(f"{p}: no light-curve table with a TIME column (HDUs: {hdus})")
                ext = table.header.copy()
                data = table.data
                colnames = list(table.columns.names)
                cols = {c.upper(): np.array(data[c]) for c in colnames}
    except DataFileError:
        raise
    except Exception as e:  # astropy raises OSError, VerifyError, ValueError, TypeError, ...
        raise DataFileError(f"{p}: not a readable FITS file ({type(e).__name__}: {e})") from None
    n = len(cols["TIME"])
    if n == 0:
        raise DataFileError(f"{p}: empty light-curve table (0 rows)")
    listing = ", ".join(colnames)
    mission = _fits_mission(primary)

    def column(name: str) -> np.ndarray:
        arr = cols[name]
        if arr.ndim != 1:
            raise DataFileError(
                f"{p}: column {name} has shape {arr.shape}: this looks like a target pixel file "
                "(one image per cadence), not a light curve"
            )
        return arr.astype(np.float64)

    # --- flux column
    if isinstance(flux_column, str) and flux_column.lower() != "auto":
        fname = flux_column.upper()
        if fname not in cols:
            raise DataFileError(f"{p}: no column {flux_column!r} (columns: {listing})")
        flux = column(fname)
    else:
        present = [c for c in ("PDCSAP_FLUX", "SAP_FLUX", "FLUX") if c in cols]
        if not present:
            raise DataFileError(f"{p}: no flux column (columns: {listing})")
        fname, flux = None, None
        for c in present:
            f = column(c)
            if np.isfinite(f).any():
                fname, flux = c, f
                break
            notes.append(f"{c} is all NaN; falling back to the next flux column")
        if flux is None:
            fname, flux = present[0], column(present[0])
    err_name = f"{fname}_ERR" if f"{fname}_ERR" in cols else None
    flux_err = column(err_name) if err_name else None
    if err_name is None:
        notes.append(f"no {fname}_ERR column: flux_err set to 0 (the reference's convention)")
    q_name = next((c for c in ("QUALITY", "SAP_QUALITY") if c in cols), None)
    quality = None
    if q_name is not None:
        q = cols[q_name]
        if q.ndim == 1:
            quality = np.nan_to_num(q.astype(np.float64), nan=0).astype(np.int64)

    # --- time system
    time = column("TIME")
    bjdrefi = _float_header(ext, "BJDREFI")
    if bjdrefi is None:
        bjdrefi = _float_header(primary, "BJDREFI")
    bjdreff = _float_header(ext, "BJDREFF")
    if bjdreff is None:
        bjdreff = _float_header(primary, "BJDREFF") or 0.0
    unit = str(ext.get("TIMEUNIT", "d") or "d").strip().lower()
    if unit not in ("d", "day", "days"):
        raise DataFileError(f"{p}: TIMEUNIT is {unit!r}; only days are supported")
    if time_format != "auto":
        offset, system = _time_offset_for(time_format, p)
    elif bjdrefi is not None:
        offset = (bjdrefi - BJD_OFFSET) + bjdreff
        system = {BJD_OFFSET: "BTJD", BKJD_OFFSET: "BKJD"}.get(
            bjdrefi + bjdreff, f"BJD-{bjdrefi + bjdreff:g}"
        )
        if offset != 0.0:
            notes.append(
                f"times converted from {system} (BJDREFI={bjdrefi:.0f}, BJDREFF={bjdreff:.10g}) to BTJD: "
                f"t {offset:+.10g} d"
            )
    elif mission in ("Kepler", "K2"):
        offset, system = BKJD_OFFSET - BJD_OFFSET, "BKJD"
        notes.append(
            f"no BJDREFI keyword: TELESCOP/MISSION {mission} -> times taken as BKJD, converted to BTJD"
        )
    elif mission == "TESS":
        offset, system = 0.0, "BTJD"
        notes.append("no BJDREFI keyword: TESS times taken as BTJD")
    else:
        offset, system = 0.0, "auto"
        notes.append("no BJDREFI keyword and unknown mission: times taken as BTJD (or absolute BJD)")
    timeref = str(ext.get("TIMEREF", "") or "").strip().upper()
    if timeref and timeref != "SOLARSYSTEM":
        notes.append(f"TIMEREF is {timeref!r}, not barycentric (SOLARSYSTEM)")

    # --- sector id
    sector, source = None, "unknown"
    for key in ("SECTOR", "QUARTER", "CAMPAIGN"):
        v = _int_header(primary, key)
        if v is None:
            v = _int_header(ext, key)
        if v is not None:
            sector, source = v, f"header {key}"
            if key != "SECTOR":
                notes.append(f"{mission or 'Kepler'} {key.lower()} {v} used as the sector id")
            break
    creator = str(primary.get("CREATOR", "") or "")
    if "lightkurve" in creator.lower():
        fmt = "lightkurve-fits"
    elif mission == "TESS":
        fmt = "tess-spoc-fits"
    elif mission in ("Kepler", "K2"):
        fmt = f"{mission.lower()}-fits"
    else:
        fmt = "fits"
    meta = {
        k: primary.get(k)
        for k in (
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
        if k in primary
    }
    return _Parsed(
        time=time + offset if offset else time,
        flux=flux,
        flux_err=flux_err,
        quality=quality,
        format=fmt,
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
        metadata=meta,
        notes=notes,
    )


# -------------------------------------------------------------------------------------------
# text tables
# -------------------------------------------------------------------------------------------
# header name -> time system ("auto": decide from the values)
_TIME_NAMES = {
    "time_btjd": "btjd",
    "btjd": "btjd",
    "time": "auto",
    "bjd_tdb": "bjd",
    "bjd": "bjd",
    "time_bjd": "bjd",
    "bkjd": "bkjd",
    "time_bkjd": "bkjd",
    "mjd": "mjd",
    "time_mjd": "mjd",
    "bmjd": "mjd",
    "jd": "bjd",
    "t": "auto",
}
_FLUX_NAMES = (
    "pdcsap_flux",
    "flux",
    "sap_flux",
    "norm_flux",
    "flux_norm",
    "normalized_flux",
    "rel_flux",
    "f",
)
_ERR_NAMES = ("flux_err", "flux_error", "err", "error", "flux_unc", "e_flux", "dflux", "sigma", "e")
_QUALITY_NAMES = ("quality", "sap_quality", "quality_flag", "quality_flags", "qual")
_MISSING_TOKENS = {"", "nan", "na", "n/a", "null", "none", "--", "-nan"}
_SECTOR_FILENAME = (
    re.compile(r"sector[_-]?0*(\d+)", re.IGNORECASE),
    re.compile(r"-s0*(\d{1,4})-", re.IGNORECASE),
)


def _time_offset_for(time_format: str, p) -> tuple[float, str]:
    tf = str(time_format).strip().lower()
    table = {
        "btjd": (0.0, "BTJD"),
        "bjd": (-BJD_OFFSET, "BJD"),
        "jd": (-BJD_OFFSET, "BJD"),
        "bkjd": (BKJD_OFFSET - BJD_OFFSET, "BKJD"),
        "mjd": (MJD_OFFSET - BJD_OFFSET, "MJD"),
    }
    if tf not in table:
        raise JaxvetInputError(f"time_format must be 'auto' or one of {sorted(table)}, got {time_format!r}")
    return table[tf]


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    if delim == ",":
        return next(csv.reader([line]))
    return line.split(delim)


def _is_number(tok: str) -> bool:
    t = tok.strip()
    if t.lower() in _MISSING_TOKENS:
        return t != ""  # 'nan' is a number, an empty field is not evidence either way
    try:
        float(t)
    except ValueError:
        return False
    return True


def _norm_name(name: str) -> str:
    return name.strip().strip("\"'#").strip().lower()


def _parse_metadata(comments: list[str]) -> dict:
    meta = {}
    for c in comments:
        s = c.lstrip("#").strip()
        m = re.match(r"^([A-Za-z_][\w .-]*?)\s*[:=]\s*(.*)$", s)
        if m:
            meta[m.group(1).strip().lower()] = m.group(2).strip()
    return meta


def _parse_numbers(p: Path, lines: list[str], linenos: list[int], delim, ncols: int, names: list[str]):
    """(rows, ncols) float64 array; fast numpy path, exact per-line error messages on failure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.loadtxt(lines, delimiter=delim, dtype=np.float64, ndmin=2, comments=None)
        if arr.shape[1] == ncols:
            return arr
    except ValueError:
        pass
    out = np.empty((len(lines), ncols), dtype=np.float64)
    for i, line in enumerate(lines):
        toks = _split(line, delim)
        if len(toks) != ncols:
            raise DataFileError(
                f"{p}: line {linenos[i]} has {len(toks)} fields, expected {ncols} ({', '.join(names)})"
            )
        for j, tok in enumerate(toks):
            t = tok.strip()
            if t.lower() in _MISSING_TOKENS:
                out[i, j] = np.nan
                continue
            try:
                out[i, j] = float(t)
            except ValueError:
                raise DataFileError(
                    f"{p}: line {linenos[i]}: cannot read {names[j]} value {t!r} as a number"
                ) from None
    return out


def _read_text(p: Path, flux_column, time_format: str) -> _Parsed:
    raw = _read_bytes(p)
    if not raw.strip():
        raise DataFileError(f"{p}: empty file (0 rows)")
    if b"\x00" in raw[:65536]:
        raise DataFileError(f"{p}: binary content (NUL bytes): not a light-curve table or FITS file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFileError(
            f"{p}: not a text table or FITS file (undecodable byte at offset {e.start})"
        ) from None
    comments: list[str] = []
    body: list[str] = []
    linenos: list[int] = []
    for k, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            if not body:
                comments.append(s)
            continue
        body.append(line)
        linenos.append(k)
    if not body:
        raise DataFileError(f"{p}: no data rows (0 rows)")
    first = body[0]
    delim = "," if "," in first else "\t" if "\t" in first else ";" if ";" in first else None
    toks = [t.strip() for t in _split(first, delim)]
    header: list[str] | None = None
    notes: list[str] = []
    if not all(_is_number(t) or t == "" for t in toks):
        header = [_norm_name(t) for t in toks]
        body, linenos = body[1:], linenos[1:]
        if not body:
            raise DataFileError(f"{p}: no data rows (0 rows; header {', '.join(header)})")
        ncols = len(header)
    else:
        ncols = len(toks)
        if comments:  # a header written as the last comment line ("# time flux flux_err")
            cand = [_norm_name(t) for t in _split(comments[-1].lstrip("#").strip(), delim)]
            if len(cand) == ncols and any(c in _TIME_NAMES for c in cand):
                header = cand
                notes.append("column names taken from the last comment line")
    meta = _parse_metadata(comments)

    names = header if header is not None else [f"column {j + 1}" for j in range(ncols)]
    data = _parse_numbers(p, body, linenos, delim, ncols, names)
    listing = ", ".join(n if n else "<unnamed>" for n in names)

    time_kind = "auto"
    sector_col = None
    q_idx = None
    err_idx = None
    if header is not None:
        t_idx = next((header.index(n) for n in _TIME_NAMES if n in header), None)
        if t_idx is None:
            raise DataFileError(f"{p}: no time column (columns: {listing})")
        time_kind = _TIME_NAMES[header[t_idx]]
        if isinstance(flux_column, str) and flux_column.lower() != "auto":
            want = _norm_name(flux_column)
            if want not in header:
                raise DataFileError(f"{p}: no column {flux_column!r} (columns: {listing})")
            f_idx = header.index(want)
        elif isinstance(flux_column, int | np.integer) and not isinstance(flux_column, bool):
            if not 0 <= int(flux_column) < ncols:
                raise DataFileError(f"{p}: flux_column index {flux_column} out of range ({ncols} columns)")
            f_idx = int(flux_column)
        else:
            f_idx = next((header.index(n) for n in _FLUX_NAMES if n in header), None)
            if f_idx is None:
                raise DataFileError(f"{p}: no flux column (columns: {listing})")
        fname = header[f_idx]
        for cand in (f"{fname}_err", f"{fname}_error", f"e_{fname}", *_ERR_NAMES):
            if cand in header and header.index(cand) not in (t_idx, f_idx):
                err_idx = header.index(cand)
                break
        q_idx = next((header.index(n) for n in _QUALITY_NAMES if n in header), None)
        if "sector" in header:
            sector_col = data[:, header.index("sector")]
        time_name, err_name = header[t_idx], header[err_idx] if err_idx is not None else None
        q_name = header[q_idx] if q_idx is not None else None
    else:
        if ncols < 2:
            raise DataFileError(f"{p}: needs at least 2 columns (time, flux), found {ncols}")
        t_idx = 0
        if isinstance(flux_column, int | np.integer) and not isinstance(flux_column, bool):
            if not 0 < int(flux_column) < ncols:
                raise DataFileError(f"{p}: flux_column index {flux_column} out of range ({ncols} columns)")
            f_idx = int(flux_column)
        elif isinstance(flux_column, str) and flux_column.lower() != "auto":
            raise DataFileError(
                f"{p}: has no header row, so flux_column={flux_column!r} cannot be found; pass a column index"
            )
        else:
            f_idx = 1
        err_idx = 2 if ncols >= 3 and f_idx == 1 else None
        if ncols >= 4 and f_idx == 1:
            qc = data[:, 3]
            qf = qc[np.isfinite(qc)]
            if qf.size and np.all(qf == np.round(qf)) and np.all(qf >= 0):
                q_idx = 3
            else:
                notes.append("column 4 is not an integer quality flag: ignored")
        if ncols > 4:
            notes.append(f"{ncols - 4} extra column(s) ignored")
        notes.append(
            "no header row: columns read by position as "
            + ", ".join(
                n
                for n, ok in (("time", True), ("flux", True), ("flux_err", err_idx), ("quality", q_idx))
                if ok
            )
        )
        time_name, fname = "column 1", f"column {f_idx + 1}"
        err_name = "column 3" if err_idx is not None else None
        q_name = "column 4" if q_idx is not None else None

    time = data[:, t_idx].copy()
    flux = data[:, f_idx].copy()
    flux_err = data[:, err_idx].copy() if err_idx is not None else None
    if err_idx is None:
        notes.append("no flux_err column: flux_err set to 0 (the reference's convention)")
    quality = None
    if q_idx is not None:
        quality = np.nan_to_num(data[:, q_idx], nan=0).astype(np.int64)

    # --- time system
    if time_format != "auto":
        offset, system = _time_offset_for(time_format, p)
    elif time_kind == "auto":
        finite = time[np.isfinite(time)]
        if finite.size and np.median(finite) >= _ABSOLUTE_JD_MIN:
            offset, system = -BJD_OFFSET, "BJD"
        else:
            offset, system = 0.0, "BTJD"
            if finite.size and np.median(finite) < 0:
                notes.append("times are negative: taken as BTJD (pass time_format= if they are not)")
    else:
        offset, system = _time_offset_for(time_kind, p)
    if offset:
        time = time + offset
        notes.append(f"times converted from {system} to BTJD: t {offset:+.10g} d")

    # --- sector id and target
    sector, source = None, "unknown"
    if sector_col is not None:
        source = "column sector"
    elif "sector" in meta and re.fullmatch(r"\d+", meta["sector"]):
        sector, source = int(meta["sector"]), "metadata sector"
    else:
        for rx in _SECTOR_FILENAME:
            m = rx.search(p.name)
            if m:
                sector, source = int(m.group(1)), "file name"
                break
    target = None
    for key in ("tic_id", "ticid", "tic"):
        if key in meta and meta[key]:
            target = f"TIC {meta[key]}" if meta[key].isdigit() else meta[key]
            break
    if target is None and meta.get("object"):
        target = meta["object"]
    fmt = "tess-vetter-csv" if header is not None and "time_btjd" in header and "data_ref" in meta else "text"
    return _Parsed(
        time=time,
        flux=flux,
        flux_err=flux_err,
        quality=quality,
        format=fmt,
        sector=sector,
        sector_column=sector_col,
        sector_source=source,
        mission="TESS" if "tic_id" in meta else None,
        target=target,
        time_column=time_name,
        time_system=system,
        time_offset=offset,
        flux_column=fname,
        flux_err_column=err_name,
        quality_column=q_name,
        metadata=meta,
        notes=notes,
    )


# -------------------------------------------------------------------------------------------
# building the LightCurve
# -------------------------------------------------------------------------------------------
def _fix_placeholder_err(
    flux: np.ndarray, flux_err: np.ndarray | None, policy: str, where: str, notes: list[str]
) -> np.ndarray | None:
    if flux_err is None:
        return None
    if policy not in ("estimate", "keep"):
        raise JaxvetInputError(f"flux_err_placeholder must be 'estimate' or 'keep', got {policy!r}")
    e = flux_err[np.isfinite(flux_err)]
    if e.size < 20 or e[0] <= 0 or np.any(e != e[0]):
        return flux_err
    scatter = _robust_p2p_scatter(flux)
    if not (np.isfinite(scatter) and scatter > 0 and e[0] > PLACEHOLDER_ERR_RATIO * scatter):
        return flux_err
    msg = (
        f"{where}: flux_err is a constant placeholder ({e[0]:g} for every cadence, "
        f"{e[0] / scatter:.3g}x the flux's point-to-point scatter {scatter:.3g})"
    )
    if policy == "estimate":
        msg += f"; replaced by that scatter estimate (flux_err_placeholder='keep' to keep {e[0]:g})"
        out = np.where(np.isfinite(flux_err), scatter, flux_err)
    else:
        msg += "; kept as is (flux_err_placeholder='keep')"
        out = flux_err
    notes.append(msg)
    warnings.warn(msg, JaxvetDataWarning, stacklevel=4)
    return out


def _make_lc(where: str, **kw) -> LightCurve:
    try:
        return LightCurve(**kw)
    except DataFileError:
        raise
    except JaxvetInputError as e:
        msg = str(e)
        raise DataFileError(msg if msg.startswith(f"{where}:") else f"{where}: {msg}") from None


def _finish(
    parsed: _Parsed, *, where: str, name: str, quality_bitmask, sector, flux_err_placeholder: str
) -> LightCurve:
    notes = parsed.notes
    bitmask = resolve_quality_bitmask(quality_bitmask, parsed.mission)
    if sector is not None:
        try:
            sec = int(sector)
        except (TypeError, ValueError):
            raise JaxvetInputError(f"sector must be an int, got {sector!r}") from None
        if sec < 0:
            raise JaxvetInputError(f"sector must be non-negative, got {sector!r}")
        if parsed.sector is not None and parsed.sector != sec:
            notes.append(
                f"sector {sec} given by the caller overrides {parsed.sector} ({parsed.sector_source})"
            )
        sector_value, source = sec, "argument"
    elif parsed.sector_column is not None:
        sc = parsed.sector_column
        if not np.all(np.isfinite(sc)) or np.any(sc < 0) or np.any(sc != np.round(sc)):
            raise DataFileError(f"{where}: sector column must hold non-negative integers")
        sector_value, source = sc.astype(np.int64), parsed.sector_source
    elif parsed.sector is not None:
        sector_value, source = parsed.sector, parsed.sector_source
    else:
        sector_value, source = 0, "unknown"
        notes.append("no sector id in the file: sector 0 (pass sector=)")
    flux_err = _fix_placeholder_err(parsed.flux, parsed.flux_err, flux_err_placeholder, where, notes)
    lc = _make_lc(
        where,
        time=parsed.time,
        flux=parsed.flux,
        flux_err=flux_err,
        quality=parsed.quality,
        sector=sector_value,
        target=parsed.target,
        source=name,
        quality_bitmask=bitmask,
    )
    info = ReadInfo(
        source=where,
        format=parsed.format,
        mission=parsed.mission,
        target=parsed.target,
        sectors=tuple(int(s) for s in np.unique(lc.sector)),
        sector_source=source,
        time_column=parsed.time_column,
        time_system=parsed.time_system,
        time_offset_days=float(parsed.time_offset),
        flux_column=parsed.flux_column,
        flux_err_column=parsed.flux_err_column,
        quality_column=parsed.quality_column,
        quality_bitmask=bitmask,
        n_rows=len(lc),
        n_valid=lc.n_valid,
        metadata=dict(parsed.metadata),
        notes=tuple(notes),
    )
    return _remember(lc, info)


def _is_lightkurve(obj) -> bool:
    if "lightkurve" not in sys.modules:
        return False
    mod = type(obj).__module__ or ""
    return mod.startswith("lightkurve")


def read_lightcurve(
    path,
    *,
    flux_column="auto",
    quality_bitmask="default",
    sector: int | None = None,
    time_format: str = "auto",
    flux_err_placeholder: str = "estimate",
) -> LightCurve:
    """Read one light-curve file (FITS or text table) into a BTJD :class:`LightCurve`.

    Parameters
    ----------
    path : file path (``.fits``/``.fits.gz`` light curves, ``.csv``/``.txt``/``.dat`` tables,
        gzip-compressed tables), or a lightkurve ``LightCurve``/``LightCurveCollection``
        (forwarded to :func:`from_lightkurve`).
    flux_column : ``"auto"`` (FITS: PDCSAP_FLUX, else SAP_FLUX, else FLUX; tables: by header
        name, else column 2), a column name, or (tables) a 0-based column index.
    quality_bitmask : ``"default"``, ``"hard"``, ``"hardest"``, ``"none"`` (lightkurve's
        per-mission bitmasks) or an int.  Flagged cadences are kept and masked by ``.valid``.
    sector : override the sector id (else: FITS ``SECTOR``/``QUARTER``/``CAMPAIGN``, a table's
        ``sector`` column or ``# sector: N`` line, a ``sector55``/``-s0055-`` file name, else 0).
    time_format : ``"auto"`` (header keywords / column name / values >= 2,400,000 are BJD), or
        ``"btjd"``, ``"bjd"``, ``"bkjd"``, ``"mjd"`` to say what the time values are.
    flux_err_placeholder : ``"estimate"`` replaces a constant flux_err that is more than 10x
        the flux's point-to-point scatter (a placeholder such as 1.0) by that robust scatter;
        ``"keep"`` keeps it.  Both warn (:class:`JaxvetDataWarning`).

    Raises
    ------
    DataFileError
        Missing, unreadable, corrupt or empty file; no time/flux column; unsorted times.
    """
    if _is_lightkurve(path):
        return from_lightkurve(
            path, quality_bitmask=quality_bitmask, sector=sector, flux_err_placeholder=flux_err_placeholder
        )
    p = _check_file(path)
    where = _path_str(path)
    if time_format != "auto":
        _time_offset_for(time_format, where)  # validate early
    kind = _sniff(p)
    parsed = (
        _read_fits(p, flux_column, time_format) if kind == "fits" else _read_text(p, flux_column, time_format)
    )
    return _finish(
        parsed,
        where=where,
        name=p.name,
        quality_bitmask=quality_bitmask,
        sector=sector,
        flux_err_placeholder=flux_err_placeholder,
    )


def _expand_paths(paths) -> list:
    if isinstance(paths, str | os.PathLike):
        s = _path_str(paths)
        if any(ch in s for ch in "*?["):
            found = sorted(glob.glob(os.path.expanduser(s)))
            if not found:
                raise DataFileError(f"{s}: no files match this pattern")
            return found
        return [paths]
    if _is_lightkurve(paths):
        return [paths]
    try:
        out = list(paths)
    except TypeError:
        raise JaxvetInputError(
            f"paths must be a path, a glob pattern or a list of paths, got {paths!r}"
        ) from None
    if not out:
        raise JaxvetInputError("read_lightcurves needs at least one path, got 0")
    return out


def _combine(lcs: list[LightCurve], labels: list[str], *, normalize: bool) -> LightCurve:
    """Stitch several light curves of one target, keeping duplicate sector ids distinct."""
    declared = set()
    for lc in lcs:
        declared.update(int(s) for s in np.unique(lc.sector))
    used: dict[int, str] = {}
    fixed: list[LightCurve] = []
    notes: list[str] = []
    for lc, label in zip(lcs, labels, strict=True):
        sec = lc.sector
        remap = {}
        for s in (int(x) for x in np.unique(sec)):
            if s not in used:
                continue
            k = 1
            while s + 1000 * k in used or s + 1000 * k in declared:
                k += 1
            remap[s] = s + 1000 * k
        if remap:
            new = sec.astype(np.int64).copy()
            for s, t in remap.items():
                new[sec == s] = t
                msg = (
                    f"{label}: sector {s} is also in {used[s]}; its cadences are kept as a distinct "
                    f"sector with id {t}"
                )
                notes.append(msg)
                warnings.warn(msg, JaxvetDataWarning, stacklevel=3)
            info = read_info(lc)
            lc = dataclasses.replace(lc, sector=new)
            if info is not None:
                _remember(lc, dataclasses.replace(info, sectors=tuple(int(s) for s in np.unique(new))))
        for s in np.unique(lc.sector):
            used.setdefault(int(s), label)
        fixed.append(lc)
    out = _stitch(fixed, normalize=normalize)
    parts = tuple(i for i in (read_info(lc) for lc in fixed) if i is not None)
    targets = {lc.target for lc in fixed if lc.target}
    if len(targets) > 1:
        msg = f"stitching light curves of different targets: {sorted(targets)}"
        notes.append(msg)
        warnings.warn(msg, JaxvetDataWarning, stacklevel=3)
    bitmasks = {lc.quality_bitmask for lc in fixed}
    if len(bitmasks) > 1:
        notes.append(f"files use different quality bitmasks {sorted(bitmasks)}; the first one is applied")
    info = ReadInfo(
        source=", ".join(labels),
        format="stitched" if normalize else "concatenated",
        mission=parts[0].mission if parts else None,
        target=out.target,
        sectors=tuple(out.sectors),
        sector_source="files",
        time_system="BTJD",
        quality_bitmask=out.quality_bitmask,
        n_rows=len(out),
        n_valid=out.n_valid,
        notes=tuple(notes) + tuple(n for part in parts for n in part.notes),
        parts=parts,
    )
    return _remember(out, info)


def read_lightcurves(paths, *, stitch: bool = True, **kwargs) -> LightCurve:
    """Read several files of one target (one per sector) into one light curve.

    ``paths`` is a list of paths (or lightkurve objects), or a glob pattern.  With
    ``stitch=True`` each sector is divided by its own median flux (``jaxvet.data.stitch``,
    the reference's policy "v1"); with ``stitch=False`` the fluxes are concatenated as read.
    Sector ids are kept per cadence.  When two files carry the same sector id, the later
    file's cadences get id ``sector + 1000*k`` (k = 1, 2, ...) and a :class:`JaxvetDataWarning`
    says so.  Keyword arguments go to :func:`read_lightcurve` (``sector=`` is not allowed).
    """
    if "sector" in kwargs:
        raise JaxvetInputError("read_lightcurves takes no sector= (each file's own sector id is used)")
    items = _expand_paths(paths)
    lcs, labels = [], []
    for item in items:
        lc = read_lightcurve(item, **kwargs)
        lcs.append(lc)
        labels.append(_path_str(item) if isinstance(item, str | os.PathLike) else (lc.source or "lightkurve"))
    return _combine(lcs, labels, normalize=stitch)


# -------------------------------------------------------------------------------------------
# lightkurve objects and arrays
# -------------------------------------------------------------------------------------------
def _lk_meta(meta, *keys):
    for k in keys:
        v = meta.get(k) if hasattr(meta, "get") else None
        if v is not None and str(v).strip() not in ("", "None"):
            return v
    return None


def _lk_time_btjd(t, mission: str | None, notes: list[str]) -> np.ndarray:
    if hasattr(t, "jd1") and hasattr(t, "jd2"):
        # two-part Julian date keeps full float64 precision: BTJD = (jd1 - 2457000) + jd2
        jd1 = np.asarray(t.jd1, dtype=np.float64)
        jd2 = np.asarray(t.jd2, dtype=np.float64)
        out = (jd1 - BJD_OFFSET) + jd2
        fmt = getattr(t, "format", None)
        finite = out[np.isfinite(out)]
        if fmt == "jd" and finite.size and np.median(finite) < _ABSOLUTE_JD_MIN - BJD_OFFSET:
            # lightkurve's generic LightCurve reads bare numbers as JD; values below
            # 2,400,000 (before 1858) are relative times, most likely BTJD.
            out = jd1 + jd2
            msg = "lightkurve time is in format 'jd' but < 2,400,000: values taken as BTJD"
            notes.append(msg)
            warnings.warn(msg, JaxvetDataWarning, stacklevel=4)
        mask = getattr(t, "mask", None)
        if mask is not None and np.ndim(mask) == 1 and np.any(mask):
            out = out.copy()
            out[np.asarray(mask, bool)] = np.nan
        scale = getattr(t, "scale", None)
        if scale not in (None, "tdb"):
            notes.append(f"lightkurve time scale is {scale!r}, not TDB")
        return out
    arr = _plain(t, "time")
    if mission in ("Kepler", "K2"):
        notes.append("plain time values of a Kepler/K2 object taken as BKJD")
        return arr + (BKJD_OFFSET - BJD_OFFSET)
    return arr


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
    :func:`read_lightcurves`.
    """
    if isinstance(obj, list | tuple) or type(obj).__name__ == "LightCurveCollection":
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
        return _combine(lcs, labels, normalize=stitch)
    if not (hasattr(obj, "time") and hasattr(obj, "flux")):
        raise JaxvetInputError(f"expected a lightkurve LightCurve, got {type(obj).__name__}")
    meta = getattr(obj, "meta", {}) or {}
    notes: list[str] = []
    mission = _lk_meta(meta, "MISSION", "TELESCOP")
    mission = {"TESS": "TESS", "KEPLER": "Kepler", "K2": "K2"}.get(str(mission).upper(), mission)
    if mission == "Kepler" and _lk_meta(meta, "CAMPAIGN") is not None:
        mission = "K2"
    fname = _lk_meta(meta, "FILENAME")
    label = _lk_meta(meta, "LABEL", "OBJECT")
    where = os.path.basename(str(fname)) if fname else f"lightkurve {label or type(obj).__name__}"
    time = _lk_time_btjd(obj.time, mission, notes)
    flux_q = obj.flux
    flux = _plain(flux_q, "flux")
    unit = getattr(flux_q, "unit", None)
    err_q = getattr(obj, "flux_err", None)
    flux_err = _plain(err_q, "flux_err", unit=unit) if err_q is not None else None
    quality = None
    colnames = getattr(obj, "colnames", ())
    if "quality" in colnames:
        q = _plain(obj["quality"], "quality")
        quality = np.nan_to_num(q, nan=0).astype(np.int64)
    sec, source = None, "unknown"
    for key in ("SECTOR", "QUARTER", "CAMPAIGN"):
        v = _lk_meta(meta, key)
        if v is not None:
            try:
                sec, source = int(v), f"meta {key}"
            except (TypeError, ValueError):
                continue
            if key != "SECTOR":
                notes.append(f"{mission or 'Kepler'} {key.lower()} {sec} used as the sector id")
            break
    target = None
    tid = _lk_meta(meta, "TICID", "TARGETID", "KEPLERID")
    if label is not None:
        target = str(label)
        if target.isdigit():
            prefix = {"TESS": "TIC", "K2": "EPIC", "Kepler": "KIC"}.get(mission or "")
            target = f"{prefix} {target}" if prefix else target
    elif tid is not None:
        target = str(tid)
    parsed = _Parsed(
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
    return _finish(
        parsed,
        where=where,
        name=where,
        quality_bitmask=quality_bitmask,
        sector=sector,
        flux_err_placeholder=flux_err_placeholder,
    )


def from_arrays(
    time,
    flux,
    flux_err=None,
    quality=None,
    sector=None,
    *,
    target: str | None = None,
    source: str | None = None,
    quality_bitmask=DEFAULT_QUALITY_BITMASK,
) -> LightCurve:
    """A :class:`LightCurve` from arrays (numpy, lists, astropy Quantity / masked arrays).

    Thin wrapper over ``LightCurve(...)``: times in BTJD (absolute BJD >= 2,400,000 is
    converted), masked values become NaN, ``quality_bitmask`` may be a name as in
    :func:`read_lightcurve`.
    """
    t = _plain(time, "time")
    f = _plain(flux, "flux")
    e = None if flux_err is None else _plain(flux_err, "flux_err", unit=getattr(flux, "unit", None))
    q = None
    if quality is not None:
        q = np.nan_to_num(_plain(quality, "quality"), nan=0).astype(np.int64)
    return LightCurve(
        time=t,
        flux=f,
        flux_err=e,
        quality=q,
        sector=sector,
        target=target,
        source=source,
        quality_bitmask=resolve_quality_bitmask(quality_bitmask),
    )


# -------------------------------------------------------------------------------------------
# candidates
# -------------------------------------------------------------------------------------------
_CAND_REQUIRED = ("period_days", "t0_btjd", "duration_hours")
_CAND_OPTIONAL = ("depth_ppm", "stellar_radius", "stellar_mass")


def _to_floats(values: list[str]) -> tuple[np.ndarray, int | None]:
    """Float array (empty/'nan' -> NaN) and the index of the first unparseable value."""
    try:
        return np.array(values, dtype=np.float64), None
    except ValueError:
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        s = v.strip()
        if s.lower() in _MISSING_TOKENS:
            out[i] = np.nan
            continue
        try:
            out[i] = float(s)
        except ValueError:
            return out, i
    return out, None


def read_candidate_arrays(path) -> dict[str, np.ndarray]:
    """Read a candidate CSV into validated column arrays (no per-row objects).

    Columns: ``id`` (optional; default the 1-based row number), ``period_days``, ``t0_btjd``,
    ``duration_hours`` (required), ``depth_ppm``, ``stellar_radius``, ``stellar_mass``
    (optional; empty cells mean unknown -> NaN).  Other columns are ignored.  Returns
    ``{"id": str array, "period_days": ..., ...}`` with t0 converted to BTJD when given as
    absolute BJD.  A bad value raises :class:`DataFileError` naming the file, line, id, field
    and value.
    """
    p = _check_file(path)
    where = _path_str(path)
    raw = _read_bytes(p)
    if not raw.strip():
        raise DataFileError(f"{where}: empty file (0 rows)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFileError(f"{where}: not a text CSV (undecodable byte at offset {e.start})") from None
    if "\x00" in text[:65536]:
        raise DataFileError(f"{where}: binary content (NUL bytes), not a candidate CSV")
    lines, linenos = [], []
    for k, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith("#"):
            lines.append(line)
            linenos.append(k)
    if not lines:
        raise DataFileError(f"{where}: empty file (0 rows)")
    rows = list(csv.reader(lines))
    header = [_norm_name(h) for h in rows[0]]
    missing = [c for c in _CAND_REQUIRED if c not in header]
    if missing:
        raise DataFileError(
            f"{where}: missing column(s) {', '.join(missing)} (columns: {', '.join(header)}); "
            f"expected id,{','.join(_CAND_REQUIRED)}[,depth_ppm,stellar_radius,stellar_mass]"
        )
    body, body_lines = rows[1:], linenos[1:]
    if not body:
        raise DataFileError(f"{where}: no candidate rows (0 rows)")
    ncol = len(header)
    for r, ln in zip(body, body_lines, strict=True):
        if len(r) != ncol:
            raise DataFileError(
                f"{where}: line {ln} has {len(r)} fields, expected {ncol} ({', '.join(header)})"
            )
    cols = list(zip(*body, strict=True))
    n = len(body)
    if "id" in header:
        ids = np.array([s.strip() for s in cols[header.index("id")]], dtype=object)
        empty = ids == ""
        if empty.any():
            ids[empty] = [str(i + 1) for i in np.nonzero(empty)[0]]
    else:
        ids = np.array([str(i + 1) for i in range(n)], dtype=object)
    out: dict[str, np.ndarray] = {"id": ids}

    def fail(i: int, name: str, value: str, what: str):
        raise DataFileError(
            f"{where}: line {body_lines[i]} (candidate id {ids[i]!r}): {name} {what}, got {value!r}"
        )

    for name in _CAND_REQUIRED + _CAND_OPTIONAL:
        if name not in header:
            if name in _CAND_OPTIONAL:
                out[name] = np.full(n, np.nan)
            continue
        strs = cols[header.index(name)]
        vals, bad = _to_floats(list(strs))
        if bad is not None:
            fail(bad, name, strs[bad], "must be a number")
        if name in ("period_days", "duration_hours"):
            badm = ~(np.isfinite(vals) & (vals > 0))
            what = "must be a finite positive number"
        elif name == "t0_btjd":
            badm = ~np.isfinite(vals)
            what = "must be a finite number"
        elif name == "depth_ppm":
            badm = np.isinf(vals)
            what = "must be finite (or empty)"
        else:
            badm = ~(np.isnan(vals) | (np.isfinite(vals) & (vals > 0)))
            what = "must be a finite positive number (or empty)"
        if badm.any():
            i = int(np.argmax(badm))
            fail(i, name, strs[i], what)
        if name == "t0_btjd":
            vals = np.where(vals >= _ABSOLUTE_JD_MIN, vals - BJD_OFFSET, vals)
        out[name] = vals
    uniq, counts = np.unique(ids.astype(str), return_counts=True)
    if np.any(counts > 1):
        dup = [str(u) for u in uniq[counts > 1][:5]]
        warnings.warn(f"{where}: duplicate candidate ids {dup}", JaxvetDataWarning, stacklevel=3)
    return out


def read_candidates(path) -> list[Candidate]:
    """Read a candidate CSV (see :func:`read_candidate_arrays`) into :class:`Candidate` objects.

    ``id,period_days,t0_btjd,duration_hours[,depth_ppm][,stellar_radius,stellar_mass]``; a
    bad row raises :class:`DataFileError` (a ``JaxvetInputError``) naming the row's id, the
    field and the value.  For very large tables,
    ``CandidateBatch.from_arrays(**read_candidate_arrays(path))``-style use avoids per-row
    objects entirely.
    """
    cols = read_candidate_arrays(path)

    def opt(a: np.ndarray) -> list:
        return [None if math.isnan(v) else v for v in a.tolist()]

    depth, rad, mass = opt(cols["depth_ppm"]), opt(cols["stellar_radius"]), opt(cols["stellar_mass"])
    return [
        Candidate(
            period_days=p,
            t0_btjd=t0,
            duration_hours=d,
            depth_ppm=depth[i],
            stellar_radius=rad[i],
            stellar_mass=mass[i],
            id=cid,
        )
        for i, (cid, p, t0, d) in enumerate(
            zip(
                cols["id"].tolist(),
                cols["period_days"].tolist(),
                cols["t0_btjd"].tolist(),
                cols["duration_hours"].tolist(),
                strict=True,
            )
        )
    ]


# -------------------------------------------------------------------------------------------
# shared data
# -------------------------------------------------------------------------------------------
def find_shared_data() -> Path | None:
    """The shared real-data directory, or None.

    The first existing directory of ``$JAXVET_DATA_DIR`` (when set), ``<repo>/../shared/data``
    relative to this package's location, and ``<cwd>/../shared/data`` (the same order as
    ``tests/conftest.py``).
    """
    env = os.environ.get("JAXVET_DATA_DIR")
    repo = Path(__file__).resolve().parent.parent
    candidates = [Path(env).expanduser()] if env else []
    candidates += [repo.parent / "shared" / "data", Path.cwd().resolve().parent / "shared" / "data"]
    for d in candidates:
        if d.is_dir():
            return d.resolve()
    return None


def _toi5807_files(data_dir) -> list[Path]:
    base = Path(data_dir) if data_dir is not None else find_shared_data()
    if base is None:
        raise DataFileError(
            "TOI-5807 data not found: set JAXVET_DATA_DIR or pass data_dir= "
            "(looked for <repo>/../shared/data and <cwd>/../shared/data)"
        )
    for d in (base / "tic188646744", base):
        files = [d / f"sector{s}_pdcsap.csv" for s in _TOI5807_SECTORS]
        if all(f.is_file() for f in files):
            return files
    raise DataFileError(
        f"{base}: TOI-5807 files sector{{55,75,82,83}}_pdcsap.csv not found "
        "(expected in tic188646744/ or the directory itself)"
    )


def parse_sector_list(text: str, option: str = "--sectors") -> list[int]:
    """``"82,83"`` -> ``[82, 83]`` (blank items ignored); errors name the option and the text."""
    try:
        return [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise JaxvetInputError(f"{option} must be comma-separated integers, got {text!r}") from None


def load_toi5807(data_dir=None, *, sectors: Iterable[int] | None = None) -> LightCurve:
    """TOI-5807 (TIC 188646744) PDCSAP sectors 55, 75, 82, 83, stitched (73,805 cadences).

    ``data_dir`` is the shared data directory (default :func:`find_shared_data`) or the
    ``tic188646744`` directory itself; ``sectors`` picks a subset (e.g. ``[82, 83]``).
    """
    files = _toi5807_files(data_dir)
    if sectors is not None:
        wanted = {int(s) for s in sectors}
        unknown = wanted - set(_TOI5807_SECTORS)
        if unknown:
            raise JaxvetInputError(f"TOI-5807 has sectors {list(_TOI5807_SECTORS)}, not {sorted(unknown)}")
        files = [f for f, s in zip(files, _TOI5807_SECTORS, strict=True) if s in wanted]
    return read_lightcurves(files, stitch=True)


def toi5807_candidate(depth_ppm: float | None = None) -> Candidate:
    """TOI-5807.01 with the tutorial ephemeris and stellar parameters (reference §4.5)."""
    return Candidate(depth_ppm=depth_ppm, **_TOI5807)
