"""Text light-curve tables: the shared ``sector*_pdcsap.csv`` format and generic tables.

The tess-vetter tutorial CSV has ``# key: value`` metadata lines and the header
``time_btjd,flux,flux_err,quality``.  Generic comma / tab / semicolon / whitespace tables may
have a header row; columns are found by header name (``time``, ``time_btjd``, ``btjd``,
``bjd``, ``bkjd``, ``mjd``; ``flux``, ``pdcsap_flux``, ``sap_flux``; ``flux_err``, ``err``;
``quality``; ``sector``), else by position (time, flux, flux_err[, quality]).  Absolute BJD
(>= 2,400,000) is converted to BTJD.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxvet.data import ABSOLUTE_JD_MIN
from jaxvet.errors import DataFileError
from jaxvet.io._common import MISSING_TOKENS, Parsed, norm_name, read_text, time_offset_for

# header name -> time system ("auto": decide from the values)
TIME_NAMES = {
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
_SECTOR_FILENAME = (
    re.compile(r"sector[_-]?0*(\d+)", re.IGNORECASE),
    re.compile(r"-s0*(\d{1,4})-", re.IGNORECASE),
)


@dataclass
class _Columns:
    """Indices (into the numeric table) and display names of the columns used."""

    time: int
    flux: int
    err: int | None
    quality: int | None
    names: tuple[str, str, str | None, str | None]
    time_kind: str = "auto"
    sector: np.ndarray | None = None


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    if delim == ",":
        return next(csv.reader([line]))
    return line.split(delim)


def _is_number(tok: str) -> bool:
    t = tok.strip()
    if t.lower() in MISSING_TOKENS:
        return t != ""  # 'nan' is a number, an empty field is not evidence either way
    try:
        float(t)
    except ValueError:
        return False
    return True


def _parse_metadata(comments: list[str]) -> dict:
    meta = {}
    for c in comments:
        m = re.match(r"^([A-Za-z_][\w .-]*?)\s*[:=]\s*(.*)$", c.lstrip("#").strip())
        if m:
            meta[m.group(1).strip().lower()] = m.group(2).strip()
    return meta


def _float_or_nan(p: Path, lineno: int, name: str, tok: str) -> float:
    t = tok.strip()
    if t.lower() in MISSING_TOKENS:
        return np.nan
    try:
        return float(t)
    except ValueError:
        raise DataFileError(f"{p}: line {lineno}: cannot read {name} value {t!r} as a number") from None


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
        out[i] = [_float_or_nan(p, linenos[i], names[j], tok) for j, tok in enumerate(toks)]
    return out


def _split_lines(p: Path, text: str) -> tuple[list[str], list[str], list[int]]:
    """(leading comment lines, data lines, their 1-based line numbers); blank lines dropped."""
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
    return comments, body, linenos


def _find_header(p: Path, comments, body, linenos, delim, notes):
    """(header names or None, data lines, line numbers, column count)."""
    toks = [t.strip() for t in _split(body[0], delim)]
    if not all(_is_number(t) or t == "" for t in toks):
        header = [norm_name(t) for t in toks]
        if len(body) == 1:
            raise DataFileError(f"{p}: no data rows (0 rows; header {', '.join(header)})")
        return header, body[1:], linenos[1:], len(header)
    if comments:  # a header written as the last comment line ("# time flux flux_err")
        cand = [norm_name(t) for t in _split(comments[-1].lstrip("#").strip(), delim)]
        if len(cand) == len(toks) and any(c in TIME_NAMES for c in cand):
            notes.append("column names taken from the last comment line")
            return cand, body, linenos, len(toks)
    return None, body, linenos, len(toks)


def _flux_index_by_name(p: Path, header: list[str], flux_column, listing: str) -> int:
    ncols = len(header)
    if isinstance(flux_column, str) and flux_column.lower() != "auto":
        want = norm_name(flux_column)
        if want not in header:
            raise DataFileError(f"{p}: no column {flux_column!r} (columns: {listing})")
        return header.index(want)
    if isinstance(flux_column, int | np.integer) and not isinstance(flux_column, bool):
        if not 0 <= int(flux_column) < ncols:
            raise DataFileError(f"{p}: flux_column index {flux_column} out of range ({ncols} columns)")
        return int(flux_column)
    f_idx = next((header.index(n) for n in _FLUX_NAMES if n in header), None)
    if f_idx is None:
        raise DataFileError(f"{p}: no flux column (columns: {listing})")
    return f_idx


def _columns_by_header(p: Path, header: list[str], data: np.ndarray, flux_column, listing: str) -> _Columns:
    t_idx = next((header.index(n) for n in TIME_NAMES if n in header), None)
    if t_idx is None:
        raise DataFileError(f"{p}: no time column (columns: {listing})")
    f_idx = _flux_index_by_name(p, header, flux_column, listing)
    fname = header[f_idx]
    err_idx = None
    for cand in (f"{fname}_err", f"{fname}_error", f"e_{fname}", *_ERR_NAMES):
        if cand in header and header.index(cand) not in (t_idx, f_idx):
            err_idx = header.index(cand)
            break
    q_idx = next((header.index(n) for n in _QUALITY_NAMES if n in header), None)
    return _Columns(
        time=t_idx,
        flux=f_idx,
        err=err_idx,
        quality=q_idx,
        names=(
            header[t_idx],
            fname,
            header[err_idx] if err_idx is not None else None,
            header[q_idx] if q_idx is not None else None,
        ),
        time_kind=TIME_NAMES[header[t_idx]],
        sector=data[:, header.index("sector")] if "sector" in header else None,
    )


def _columns_by_position(p: Path, data: np.ndarray, flux_column, notes: list[str]) -> _Columns:
    ncols = data.shape[1]
    if ncols < 2:
        raise DataFileError(f"{p}: needs at least 2 columns (time, flux), found {ncols}")
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
    q_idx = None
    if ncols >= 4 and f_idx == 1:
        qf = data[:, 3][np.isfinite(data[:, 3])]
        if qf.size and np.all(qf == np.round(qf)) and np.all(qf >= 0):
            q_idx = 3
        else:
            notes.append("column 4 is not an integer quality flag: ignored")
    if ncols > 4:
        notes.append(f"{ncols - 4} extra column(s) ignored")
    used = (("time", True), ("flux", True), ("flux_err", err_idx), ("quality", q_idx))
    notes.append("no header row: columns read by position as " + ", ".join(n for n, ok in used if ok))
    return _Columns(
        time=0,
        flux=f_idx,
        err=err_idx,
        quality=q_idx,
        names=(
            "column 1",
            f"column {f_idx + 1}",
            "column 3" if err_idx is not None else None,
            "column 4" if q_idx is not None else None,
        ),
    )


def _text_time(time: np.ndarray, time_kind: str, time_format: str, notes: list[str]):
    """(time in BTJD, offset [d], system): from ``time_format``, the column name, else the values."""
    if time_format != "auto":
        offset, system = time_offset_for(time_format)
    elif time_kind == "auto":
        finite = time[np.isfinite(time)]
        if finite.size and np.median(finite) >= ABSOLUTE_JD_MIN:
            offset, system = time_offset_for("bjd")
        else:
            offset, system = 0.0, "BTJD"
            if finite.size and np.median(finite) < 0:
                notes.append("times are negative: taken as BTJD (pass time_format= if they are not)")
    else:
        offset, system = time_offset_for(time_kind)
    if offset:
        time = time + offset
        notes.append(f"times converted from {system} to BTJD: t {offset:+.10g} d")
    return time, offset, system


def _text_sector(p: Path, meta: dict, sector_col) -> tuple[int | None, str]:
    if sector_col is not None:
        return None, "column sector"
    if "sector" in meta and re.fullmatch(r"\d+", meta["sector"]):
        return int(meta["sector"]), "metadata sector"
    for rx in _SECTOR_FILENAME:
        m = rx.search(p.name)
        if m:
            return int(m.group(1)), "file name"
    return None, "unknown"


def _text_target(meta: dict) -> str | None:
    for key in ("tic_id", "ticid", "tic"):
        if meta.get(key):
            return f"TIC {meta[key]}" if meta[key].isdigit() else meta[key]
    return meta.get("object") or None


def read_text_table(p: Path, flux_column, time_format: str) -> Parsed:
    """Parse a text light-curve table (times in BTJD)."""
    text = read_text(p, "a text table or FITS file")
    comments, body, linenos = _split_lines(p, text)
    first = body[0]
    delim = "," if "," in first else "\t" if "\t" in first else ";" if ";" in first else None
    notes: list[str] = []
    header, body, linenos, ncols = _find_header(p, comments, body, linenos, delim, notes)
    meta = _parse_metadata(comments)
    names = header if header is not None else [f"column {j + 1}" for j in range(ncols)]
    data = _parse_numbers(p, body, linenos, delim, ncols, names)
    listing = ", ".join(n if n else "<unnamed>" for n in names)
    if header is not None:
        cols = _columns_by_header(p, header, data, flux_column, listing)
    else:
        cols = _columns_by_position(p, data, flux_column, notes)
    time, offset, system = _text_time(data[:, cols.time].copy(), cols.time_kind, time_format, notes)
    sector, source = _text_sector(p, meta, cols.sector)
    tutorial = header is not None and "time_btjd" in header and "data_ref" in meta
    return Parsed(
        time=time,
        flux=data[:, cols.flux].copy(),
        flux_err=data[:, cols.err].copy() if cols.err is not None else None,
        quality=data[:, cols.quality] if cols.quality is not None else None,
        format="tess-vetter-csv" if tutorial else "text",
        sector=sector,
        sector_column=cols.sector,
        sector_source=source,
        mission="TESS" if "tic_id" in meta else None,
        target=_text_target(meta),
        time_column=cols.names[0],
        time_system=system,
        time_offset=offset,
        flux_column=cols.names[1],
        flux_err_column=cols.names[2],
        quality_column=cols.names[3],
        metadata=meta,
        notes=notes,
    )
