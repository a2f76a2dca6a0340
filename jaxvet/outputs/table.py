"""A vetting report as a table: one row per candidate, columns per check.

Columns: ``id``, ``period_days``, ``t0_btjd``, ``duration_hours``, ``depth_ppm``, the run's signal
record where it was measured (``signal_depth_ppm``, ``signal_snr``, ``n_transits_on_data`` and the
candidate ``flags`` such as ``NO_SIGNAL``, :mod:`jaxvet.engine.signal`), then for every
check ``<ID>_status``, ``<ID>_verdict``, ``<ID>_flags`` (the flags joined with ``;``) and
``<ID>_<metric>`` for each scalar metric the check reports (e.g. ``V21_chi2_p_value``,
``V01_delta_sigma``).  A metric a candidate lacks (a skipped check, an insufficient result) is
NaN in a numeric column (an integer metric with a missing value becomes a float column), masked
in a boolean column and empty in a text column.  After the checks: ``variability_sigma_var_ppm``,
``variability_ratio`` and ``variability_flag`` (docs/detrending.md) and, when the run detrended,
``detrend_window_days``; when the run dispositioned its candidates (docs/disposition.md):
``disposition`` (``PC``/``FP``/``FA``/``undetermined``), ``disposition_reasons`` (the reason
codes joined with ``;``) and ``disposition_policy`` (``name@version``).
Units follow the metric's name (``_days``, ``_hours``, ``_btjd``: time; ``_pixels``/``_px``:
pixels; ``_arcsec``, ``_deg``); ``_ppm`` columns are parts per million (described, no unit).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxvet.errors import JaxvetInputError

__all__ = ["report_table", "write_table", "TABLE_FORMATS"]

#: file extension -> astropy ``Table.write`` format
TABLE_FORMATS = {".parquet": "parquet", ".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits"}

_BASE = ("id", "period_days", "t0_btjd", "duration_hours", "depth_ppm")


def _unit(name: str):
    import astropy.units as u

    for suffix, unit in (("_days", u.day), ("_btjd", u.day), ("_hours", u.hour), ("_pixels", u.pix),
                         ("_px", u.pix), ("_arcsec", u.arcsec), ("_deg", u.deg)):
        if name.endswith(suffix):
            return unit
    return None


def _description(name: str) -> str:
    if name.endswith("_ppm"):
        return "parts per million"
    if name.endswith("_btjd"):
        return "BJD_TDB - 2457000"
    return ""


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, np.bool_, np.integer, np.floating))


def _column(values: list[Any]):
    """A column from per-row values (None = missing), typed by the present values."""
    from astropy.table import Column, MaskedColumn

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        data = np.array([bool(v) if v is not None else False for v in values])
        return MaskedColumn(data, mask=[v is None for v in values])
    ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present)
    if present and ints and len(present) == len(values):
        return Column(np.array(values, np.int64))
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in present):
        return Column(np.array([float(v) if v is not None else math.nan for v in values], np.float64))
    return Column(np.array(["" if v is None else str(v) for v in values], dtype=str))


def _metric_names(report, cid: str) -> list[str]:
    names: dict[str, None] = {}
    for res in report.results:
        r = res.get(cid)
        if r is not None:
            for k, v in r.metrics.items():
                if _is_scalar(v):
                    names.setdefault(k, None)
    return list(names)


def report_table(report):
    """The astropy Table of a :class:`~jaxvet.outputs.VetReport` (see the module docstring)."""
    from astropy.table import Table

    n = len(report)
    cols: dict[str, list[Any]] = {
        "id": [report.candidate_id(i) for i in range(n)],
        "period_days": [c.period_days for c in report.candidates],
        "t0_btjd": [c.t0_btjd for c in report.candidates],
        "duration_hours": [c.duration_hours for c in report.candidates],
        "depth_ppm": [report.depth_ppm(i) for i in range(n)],
    }
    if getattr(report, "signal", None) is not None:  # the run's own depth measurement and flags
        cols["signal_depth_ppm"] = [s["depth_ppm"] for s in report.signal]
        cols["signal_snr"] = [s["snr"] for s in report.signal]
        cols["n_transits_on_data"] = [s["n_transits_on_data"] for s in report.signal]
    if getattr(report, "signal", None) is not None or getattr(report, "variability", None) is not None:
        cols["flags"] = [";".join(report.flags(i)) for i in range(n)]
    for cid in report.checks:
        rs = [res.get(cid) for res in report.results]
        cols[f"{cid}_status"] = [r.status if r else "" for r in rs]
        cols[f"{cid}_verdict"] = [(r.verdict or "") if r else "" for r in rs]
        cols[f"{cid}_flags"] = [";".join(r.flags) if r else "" for r in rs]
        for m in _metric_names(report, cid):
            vals = [r.metrics.get(m) if r else None for r in rs]
            cols[f"{cid}_{m}"] = [v if _is_scalar(v) else None for v in vals]
    for key in ("sigma_var_ppm", "ratio", "flag") if report.variability is not None else ():
        cols[f"variability_{key}"] = [v[key] for v in report.variability]
    if report.detrending is not None:
        cols["detrend_window_days"] = [d["window_days"] for d in report.detrending["candidates"]]
    if getattr(report, "dispositions", None) is not None:
        cols["disposition"] = [d["class"] for d in report.dispositions]
        cols["disposition_reasons"] = [";".join(d["reasons"]) for d in report.dispositions]
        cols["disposition_policy"] = [d["policy"] for d in report.dispositions]
    t = Table()
    for name, vals in cols.items():
        col = _column(vals)
        unit = _unit(name)
        if unit is not None and col.dtype.kind == "f":
            col.unit = unit
        col.description = _description(name)
        t[name] = col
    t.meta["checks"] = list(report.checks)
    return t


def write_table(report, path) -> Path:
    """Write the table to ``path``; the format follows the extension (:data:`TABLE_FORMATS`)."""
    path = Path(path)
    fmt = TABLE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise JaxvetInputError(
            f"table file {str(path)!r}: unknown extension {path.suffix!r}; use one of {sorted(TABLE_FORMATS)}"
        )
    table = report_table(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "fits":
        for name in table.colnames:  # FITS has no masked booleans: store them as 0/1/-1
            if table[name].dtype.kind == "b" and getattr(table[name], "mask", None) is not None:
                mask = np.asarray(table[name].mask)
                table[name] = np.where(mask, -1, np.asarray(table[name]).astype(np.int16))
    table.write(path, format=fmt, overwrite=True)
    return path
