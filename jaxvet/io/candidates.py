"""Candidate tables: ``id,period_days,t0_btjd,duration_hours[,depth_ppm][,stellar_radius,stellar_mass]``."""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np

from jaxvet.data import ABSOLUTE_JD_MIN, BJD_OFFSET, Candidate
from jaxvet.errors import DataFileError
from jaxvet.io._common import (
    MISSING_TOKENS,
    JaxvetDataWarning,
    check_file,
    norm_name,
    path_str,
    read_text,
    time_offset_for,
)

_CAND_REQUIRED = ("period_days", "t0_btjd", "duration_hours")
_CAND_OPTIONAL = ("depth_ppm", "stellar_radius", "stellar_mass")
# column -> (cells that are bad, what a good value is)
_CAND_RULES = {
    "period_days": (lambda v: ~(np.isfinite(v) & (v > 0)), "must be a finite positive number"),
    "duration_hours": (lambda v: ~(np.isfinite(v) & (v > 0)), "must be a finite positive number"),
    "t0_btjd": (lambda v: ~np.isfinite(v), "must be a finite number"),
    "depth_ppm": (np.isinf, "must be finite (or empty)"),
    "stellar_radius": (
        lambda v: ~(np.isnan(v) | (np.isfinite(v) & (v > 0))),
        "must be a finite positive number (or empty)",
    ),
    "stellar_mass": (
        lambda v: ~(np.isnan(v) | (np.isfinite(v) & (v > 0))),
        "must be a finite positive number (or empty)",
    ),
}


def _to_floats(values: list[str]) -> tuple[np.ndarray, int | None]:
    """Float array (empty/'nan' -> NaN) and the index of the first unparseable value."""
    try:
        return np.array(values, dtype=np.float64), None
    except ValueError:
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        s = v.strip()
        if s.lower() in MISSING_TOKENS:
            out[i] = np.nan
            continue
        try:
            out[i] = float(s)
        except ValueError:
            return out, i
    return out, None


def _table_rows(path, where: str) -> tuple[list[str], list[list[str]], list[int]]:
    """(normalised header, rows, line numbers of the rows); comment and blank lines skipped."""
    text = read_text(check_file(path), "a text CSV")
    lines, linenos = [], []
    for k, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith("#"):
            lines.append(line)
            linenos.append(k)
    if not lines:
        raise DataFileError(f"{where}: empty file (0 rows)")
    rows = list(csv.reader(lines))
    header = [norm_name(h) for h in rows[0]]
    missing = [c for c in _CAND_REQUIRED if c not in header]
    if missing:
        raise DataFileError(
            f"{where}: missing column(s) {', '.join(missing)} (columns: {', '.join(header)}); "
            f"expected id,{','.join(_CAND_REQUIRED)}[,depth_ppm,stellar_radius,stellar_mass]"
        )
    if len(rows) == 1:
        raise DataFileError(f"{where}: no candidate rows (0 rows)")
    for r, ln in zip(rows[1:], linenos[1:], strict=True):
        if len(r) != len(header):
            raise DataFileError(
                f"{where}: line {ln} has {len(r)} fields, expected {len(header)} ({', '.join(header)})"
            )
    return header, rows[1:], linenos[1:]


def _ids(header: list[str], cols: list[tuple[str, ...]], n: int) -> np.ndarray:
    if "id" not in header:
        return np.array([str(i + 1) for i in range(n)], dtype=object)
    ids = np.array([s.strip() for s in cols[header.index("id")]], dtype=object)
    empty = ids == ""
    if empty.any():
        ids[empty] = [str(i + 1) for i in np.nonzero(empty)[0]]
    return ids


def read_candidate_arrays(path, *, t0_time_system: str = "btjd") -> dict[str, np.ndarray]:
    """Read a candidate CSV into validated column arrays (no per-row objects).

    Columns: ``id`` (optional; default the 1-based row number), ``period_days``, ``t0_btjd``,
    ``duration_hours`` (required), ``depth_ppm``, ``stellar_radius``, ``stellar_mass``
    (optional; empty cells mean unknown -> NaN).  Other columns are ignored.  Returns
    ``{"id": str array, "period_days": ..., ...}`` with t0 converted to BTJD when given as
    absolute BJD.  ``t0_time_system`` (``"btjd"``, ``"bkjd"``, ``"bjd"``, ...) says what the other
    t0 values are (a Kepler table in BKJD: ``"bkjd"``).  A bad value raises
    :class:`DataFileError` naming the file, line, id, field and value.
    """
    t0_offset = time_offset_for(t0_time_system)[0]
    where = path_str(path)
    header, body, body_lines = _table_rows(path, where)
    cols = list(zip(*body, strict=True))
    n = len(body)
    ids = _ids(header, cols, n)
    out: dict[str, np.ndarray] = {"id": ids}
    for name in _CAND_REQUIRED + _CAND_OPTIONAL:
        if name not in header:
            out[name] = np.full(n, np.nan)  # only optional columns can be absent here
            continue
        strs = cols[header.index(name)]
        vals, bad = _to_floats(list(strs))
        rule, what = _CAND_RULES[name]
        badm = np.zeros(n, bool) if bad is not None else rule(vals)
        if bad is not None or badm.any():
            i = bad if bad is not None else int(np.argmax(badm))
            what = "must be a number" if bad is not None else what
            raise DataFileError(
                f"{where}: line {body_lines[i]} (candidate id {ids[i]!r}): {name} {what}, got {strs[i]!r}"
            )
        if name == "t0_btjd":
            vals = np.where(vals >= ABSOLUTE_JD_MIN, vals - BJD_OFFSET, vals + t0_offset)
        out[name] = vals
    uniq, counts = np.unique(ids.astype(str), return_counts=True)
    if np.any(counts > 1):
        dup = [str(u) for u in uniq[counts > 1][:5]]
        warnings.warn(f"{where}: duplicate candidate ids {dup}", JaxvetDataWarning, stacklevel=2)
    return out


def read_candidates(path, *, t0_time_system: str = "btjd") -> list[Candidate]:
    """Read a candidate CSV (see :func:`read_candidate_arrays`) into :class:`Candidate` objects.

    ``id,period_days,t0_btjd,duration_hours[,depth_ppm][,stellar_radius,stellar_mass]``; a
    bad row raises :class:`DataFileError` (a ``JaxvetInputError``) naming the row's id, the
    field and the value.  For very large tables,
    ``CandidateBatch.from_arrays(**read_candidate_arrays(path))``-style use avoids per-row
    objects entirely.  ``t0_time_system`` as in :func:`read_candidate_arrays`.
    """
    cols = read_candidate_arrays(path, t0_time_system=t0_time_system)

    def opt(a: np.ndarray) -> list:
        return [None if math.isnan(v) else v for v in a.tolist()]

    depth, rad, mass = opt(cols["depth_ppm"]), opt(cols["stellar_radius"]), opt(cols["stellar_mass"])
    rows = zip(
        cols["id"].tolist(),
        cols["period_days"].tolist(),
        cols["t0_btjd"].tolist(),
        cols["duration_hours"].tolist(),
        strict=True,
    )
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
        for i, (cid, p, t0, d) in enumerate(rows)
    ]
