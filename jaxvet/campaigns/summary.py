"""Campaign summaries: verdict counts and rates per kind, check and bin (light curves and pixels).

``n`` counts the decided verdicts (pass/warn/fail); ``fail_fraction = n_fail / n`` (None when
``n`` is 0); ``n_insufficient`` counts ``insufficient`` verdicts; ``n_no_verdict`` the checks
that ran but give no verdict; ``n_not_ok`` the skipped or errored checks; ``n_total`` every row
of the selection.  Bins are half-open ``[lo, hi)``; ``hi = None`` in JSON is an open bin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxvet.errors import JaxvetInputError

__all__ = [
    "DEFAULT_SNR_BINS",
    "DEFAULT_PERIOD_BINS",
    "verdict_counts",
    "campaign_rates",
    "summarize",
    "bins_json",
    "parse_bins",
    "column",
]

DEFAULT_SNR_BINS = (0.0, 3.0, 5.0, 7.1, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, math.inf)
DEFAULT_PERIOD_BINS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, math.inf)


def bins_json(bins) -> list:
    """Bin edges for JSON (an infinite edge becomes None)."""
    return [None if not math.isfinite(b) else float(b) for b in bins]


def parse_bins(name: str, bins) -> tuple[float, ...]:
    """Bin edges from ``"0,5,inf"`` or a sequence; at least two strictly ascending edges."""
    if isinstance(bins, str):
        bins = [b for b in bins.split(",") if b.strip()]
    try:
        out = tuple(
            math.inf if (b is None or str(b).strip().lower() in ("inf", "none")) else float(b) for b in bins
        )
    except (TypeError, ValueError):
        raise JaxvetInputError(f"{name} must be numbers (ascending), got {bins!r}") from None
    if (
        len(out) < 2
        or any(not (b < c) for b, c in zip(out, out[1:], strict=False))
        or any(math.isnan(b) for b in out)
    ):
        raise JaxvetInputError(f"{name} must be at least two strictly ascending edges, got {bins!r}")
    return out


def column(table, name) -> np.ndarray:
    """Column ``name`` of a pyarrow Table, astropy Table or mapping of arrays, as numpy."""
    if hasattr(table, "column_names"):  # pyarrow
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False))
    return np.asarray(table[name])


def verdict_counts(verdict: np.ndarray, status: np.ndarray) -> dict[str, Any]:
    """Counts and fractions of the verdict names ``verdict`` (status names ``status``), shape (n,)."""
    n_fail, n_warn, n_pass = (int(np.sum(verdict == x)) for x in ("fail", "warn", "pass"))
    n = n_fail + n_warn + n_pass
    return {
        "n": n,
        "n_insufficient": int(np.sum(verdict == "insufficient")),
        "fail_fraction": (n_fail / n) if n else None,
        "warn_fraction": (n_warn / n) if n else None,
        "pass_fraction": (n_pass / n) if n else None,
        "n_fail": n_fail,
        "n_warn": n_warn,
        "n_pass": n_pass,
        "n_no_verdict": int(np.sum((verdict == "none") & (status == "ok"))),
        "n_not_ok": int(np.sum(status != "ok")),
        "n_total": int(verdict.size),
    }


def campaign_rates(table, checks: Sequence[str], kinds: Sequence[str], bins, by: str = "snr") -> list[dict]:
    """Per (kind, check, bin of ``by``: ``"snr"`` or ``"period"``): :func:`verdict_counts`."""
    x = column(table, "snr" if by == "snr" else "period_days").astype(float)
    kind = column(table, "kind").astype(str)
    key = "snr_bin" if by == "snr" else "period_bin"
    out = []
    for k in kinds:
        # a kind without values (the false-alarm kinds' null SNR) is one unbinned row (edges null)
        unbinned = bool(np.any(kind == k)) and not np.any(np.isfinite(x[kind == k]))
        for cid in checks:
            verdict = column(table, f"{cid}_verdict").astype(str)
            status = column(table, f"{cid}_status").astype(str)
            for lo, hi in [(-math.inf, math.inf)] if unbinned else zip(bins[:-1], bins[1:], strict=True):
                sel = (kind == k) & (((x >= lo) & (x < hi)) | unbinned)
                edges = None if unbinned else [float(lo), None if not math.isfinite(hi) else float(hi)]
                row = {"kind": k, "check": cid, key: edges}
                row.update(verdict_counts(verdict[sel], status[sel]))
                out.append(row)
    return out


def summarize(table, config, timing: Mapping[str, Any] | None = None) -> dict:
    """The summary dictionary of a light-curve campaign (``summary.json``).

    ``config`` is its :class:`~jaxvet.campaigns.lightcurve.CampaignConfig`.
    """
    checks = list(config.checks)
    kinds = list(config.injection.kinds)
    overall = campaign_rates(table, checks, kinds, (-math.inf, math.inf))
    for row in overall:
        row.pop("snr_bin", None)
    return {
        "schema_version": 1,
        "n_rows": int(table.num_rows if hasattr(table, "num_rows") else len(table)),
        "snr_definition": (
            "depth / (1.4826 MAD of the base light curve's valid flux) * sqrt(valid points in transit)"
        ),
        "rates": campaign_rates(table, checks, kinds, config.snr_bins, by="snr"),
        "rates_by_period": campaign_rates(table, checks, kinds, config.period_bins, by="period"),
        "overall": overall,
        "config": config.to_dict(),
        "timing": dict(timing or {}),
    }
