"""Dispose campaign rows again under another policy, without vetting again (host side).

A light-curve campaign row (:mod:`jaxvet.campaigns.rows`) carries, per check ``<id>``, the
columns ``<id>_status``, ``<id>_verdict`` and ``<id>_<metric>`` for every scalar metric of its
formatted result, and the run-level flags of its signal record in ``signal_flags``.  From these
:func:`row_results` rebuilds each row's :class:`~jaxvet.results.CheckResult` per check and
:func:`redispose` applies a policy to them, as the campaign itself did with the shipped one:
a policy can be compared with another on the same rows (docs/disposition.md, "Measured").
Boolean metrics come back as 0.0/1.0 (so ``== true`` holds for 1.0); a metric missing in a row
(NaN, null or a masked entry) makes its condition false, as in
:func:`~jaxvet.disposition.dispose`.  A check's summary metrics (``summary_metrics`` of its
:class:`~jaxvet.engine.context.CheckSpec`) are columns of the device results, unrounded, where
the formatted result rounds some (V04's ``chi2_box_reduced`` to 3 decimals, V05's durations to
4): a condition within that rounding of its threshold can then decide differently from the
campaign's own ``disposition`` column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxvet.disposition.evaluate import dispose_many
from jaxvet.disposition.policy import resolve_policy
from jaxvet.results import CheckResult

__all__ = ["row_results", "redispose"]


def _columns(table) -> dict[str, list]:
    if hasattr(table, "column_names"):  # pyarrow
        return {name: table.column(name).to_pylist() for name in table.column_names}
    if hasattr(table, "colnames"):  # astropy: tolist() gives Python scalars, None where masked
        return {name: table[name].tolist() for name in table.colnames}
    if isinstance(table, Mapping):
        return {k: list(v) for k, v in table.items()}
    raise TypeError(f"campaign rows: a pyarrow or astropy Table or a mapping, got {type(table).__name__}")


def _clean(v):
    """A cell as a Python scalar (numpy scalars unwrapped); None where missing."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is np.ma.masked or v == "" or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def row_results(table, checks: Sequence[str]) -> tuple[list[dict[str, CheckResult]], list[list[str]]]:
    """Each row's check results (the ``checks`` that have a ``<id>_status`` column) and its
    run-level flags.  ``table``: a pyarrow or astropy Table or a mapping of column name to
    values."""
    cols = _columns(table)
    n = len(next(iter(cols.values()))) if cols else 0
    results: list[dict[str, CheckResult]] = [{} for _ in range(n)]
    for cid in checks:
        if f"{cid}_status" not in cols:
            continue
        prefix = f"{cid}_"
        names = [k for k in cols if k.startswith(prefix) and k not in (f"{cid}_status", f"{cid}_verdict")]
        status, verdict = cols[f"{cid}_status"], cols.get(f"{cid}_verdict", [None] * n)
        for i in range(n):
            v = verdict[i]
            metrics = {k[len(prefix) :]: _clean(cols[k][i]) for k in names}
            verdict_i = None if v in (None, "none") else v
            results[i][cid] = CheckResult(cid, cid, status=status[i], verdict=verdict_i, metrics=metrics)
    flags = [[f for f in (s or "").split(";") if f] for s in cols.get("signal_flags", [""] * n)]
    return results, flags


def redispose(table, policy: Any = None) -> list[dict]:
    """The disposition of every row of a campaign ``table`` under ``policy`` (None: the shipped
    default; a :class:`~jaxvet.disposition.Policy`, a mapping or a file path)."""
    policy = resolve_policy(policy)
    results, flags = row_results(table, policy.checks())
    return dispose_many(results, flags, policy)
