"""Shared pieces of the readers: constants, provenance record, file checks, array coercion.

Everything here runs on the host.  Bad input raises :class:`jaxvet.errors.DataFileError`
whose message starts with the file.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jaxvet.data import BJD_OFFSET, DEFAULT_QUALITY_BITMASK, LightCurve
from jaxvet.errors import DataFileError, JaxvetInputError

#: Kepler/K2 BKJD = BJD - 2454833.
BKJD_OFFSET = 2454833.0
#: MJD = JD - 2400000.5.
MJD_OFFSET = 2400000.5

#: lightkurve ``TessQualityFlags`` bitmasks ("default" equals ``jaxvet.data.DEFAULT_QUALITY_BITMASK``).
TESS_QUALITY_BITMASKS = {"none": 0, "default": DEFAULT_QUALITY_BITMASK, "hard": 24319, "hardest": 65535}
#: lightkurve ``KeplerQualityFlags`` bitmasks (Kepler and K2 use the same bit meanings).
KEPLER_QUALITY_BITMASKS = {"none": 0, "default": 1130799, "hard": 1664431, "hardest": 2096639}

#: Strings read as a missing value (NaN) in text tables.
MISSING_TOKENS = {"", "nan", "na", "n/a", "null", "none", "--", "-nan"}

#: Offset added to times of each system to get BTJD, and the system's display name.
TIME_SYSTEMS = {
    "btjd": (0.0, "BTJD"),
    "bjd": (-BJD_OFFSET, "BJD"),
    "jd": (-BJD_OFFSET, "BJD"),
    "bkjd": (BKJD_OFFSET - BJD_OFFSET, "BKJD"),
    "mjd": (MJD_OFFSET - BJD_OFFSET, "MJD"),
}


class JaxvetDataWarning(UserWarning):
    """Suspicious but usable input data (placeholder errors, duplicate sector ids, ...)."""


@dataclass(frozen=True)
class ReadInfo:
    """What a reader did to produce a light curve (provenance, conversions, notes).

    Held by :attr:`jaxvet.data.LightCurve.provenance`.  ``sector_label`` is how the mission
    names its observing units ("sector" for TESS, "quarter" for Kepler, "campaign" for K2).
    """

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

    @property
    def sector_label(self) -> str:
        return sector_label(self.mission)


def sector_label(mission: str | None) -> str:
    """ "quarter" (Kepler), "campaign" (K2), else "sector"."""
    return {"Kepler": "quarter", "K2": "campaign"}.get(mission or "", "sector")


def read_info(lc: LightCurve) -> ReadInfo | None:
    """The :class:`ReadInfo` of a light curve returned by a reader here (None otherwise).

    The same as ``lc.provenance``.  Derived light curves (``lc.select(...)``, ``stitch([...])``
    called directly) carry none.
    """
    return getattr(lc, "provenance", None)


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


def time_offset_for(time_format: str) -> tuple[float, str]:
    """(offset to BTJD [days], system name) of ``"btjd"``, ``"bjd"``, ``"jd"``, ``"bkjd"``, ``"mjd"``."""
    tf = str(time_format).strip().lower()
    if tf not in TIME_SYSTEMS:
        raise JaxvetInputError(
            f"time_format must be 'auto' or one of {sorted(TIME_SYSTEMS)}, got {time_format!r}"
        )
    return TIME_SYSTEMS[tf]


def _to_value(v, unit):
    """The numbers of an astropy Quantity, in ``unit`` when it converts."""
    if unit is None or v.unit is None:
        return v.value
    from astropy.units import UnitsError

    try:
        return v.to_value(unit)
    except UnitsError:  # incompatible units: keep the numbers as they are
        return v.value


def plain_array(value, name: str, unit=None) -> np.ndarray:
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
        v = _to_value(v, unit)
    try:
        arr = np.array(v, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise JaxvetInputError(f"{name} must be numeric: {e}") from None
    if arr.ndim != 1:
        raise JaxvetInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if mask is not None and mask.shape == arr.shape:
        arr[mask] = np.nan
    return arr


def robust_p2p_scatter(flux: np.ndarray) -> float:
    """Robust point-to-point scatter: 1.4826 MAD of first differences / sqrt(2)."""
    f = flux[np.isfinite(flux)]
    if f.size < 3:
        return float("nan")
    d = np.diff(f)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def norm_name(name: str) -> str:
    """A column name as matched: stripped of blanks, quotes and ``#``, lower case."""
    return name.strip().strip("\"'#").strip().lower()


def path_str(path) -> str:
    return os.fspath(path) if isinstance(path, str | os.PathLike) else str(path)


def check_file(path, kind: str = "file") -> Path:
    """``path`` as a Path; JaxvetInputError when it is not a str or PathLike, DataFileError when
    it is missing or a directory (``kind`` names the file expected in the messages, e.g.
    ``"TPF file"``)."""
    if not isinstance(path, str | os.PathLike):
        raise JaxvetInputError(f"expected a {kind} path, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataFileError(f"{path_str(path)}: file not found")
    if p.is_dir():
        raise DataFileError(f"{path_str(path)}: is a directory, not a {kind}")
    return p


def _gunzip_head(p: Path, head: bytes, read) -> bytes:
    if head[:2] != b"\x1f\x8b":
        return head
    try:
        return read()
    except (OSError, EOFError) as e:
        raise DataFileError(f"{p}: corrupt gzip file ({e})") from None


def read_bytes(p: Path) -> bytes:
    """The file's bytes, gunzipped when gzip-compressed."""
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataFileError(f"{p}: cannot read file ({e.strerror or e})") from None
    return _gunzip_head(p, raw, lambda: gzip.decompress(raw))


def read_text(p: Path, what: str) -> str:
    """The file decoded as UTF-8 (BOM dropped); DataFileError when empty or binary."""
    raw = read_bytes(p)
    if not raw.strip():
        raise DataFileError(f"{p}: empty file (0 rows)")
    if b"\x00" in raw[:65536]:
        raise DataFileError(f"{p}: binary content (NUL bytes): not {what}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataFileError(f"{p}: not {what} (undecodable byte at offset {e.start})") from None


def _gz_head(p: Path) -> bytes:
    with gzip.open(p, "rb") as fh:
        return fh.read(2880)


def sniff(p: Path) -> str:
    """'fits' or 'text' by content (the extension only breaks ties)."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(2880)
    except OSError as e:
        raise DataFileError(f"{p}: cannot read file ({e.strerror or e})") from None
    head = _gunzip_head(p, head, lambda: _gz_head(p))
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
    if p.name.lower().endswith((".fits", ".fit", ".fts", ".fits.gz")):
        raise DataFileError(f"{p}: not a readable FITS file (no SIMPLE card at the start)")
    return "text"


@dataclass
class Parsed:
    """A parser's result before it becomes a :class:`LightCurve` (times already in BTJD)."""

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
