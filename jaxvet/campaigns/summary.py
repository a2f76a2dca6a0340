"""Campaign summaries: verdict counts and rates per kind, check and bin (light curves and pixels).

``n`` counts the decided verdicts (pass/warn/fail); ``fail_fraction = n_fail / n`` (None when
``n`` is 0); ``n_insufficient`` counts ``insufficient`` verdicts; ``n_no_verdict`` the checks
that ran but give no verdict; ``n_not_ok`` the skipped or errored checks; ``n_total`` every row
of the selection.  Bins are half-open ``[lo, hi)``; ``hi = None`` in JSON is an open bin.

Dispositions (docs/disposition.md): ``disposition_rates`` counts the rows' classes per kind and
SNR bin (one row with ``snr_bin`` None per false-alarm kind, :data:`FALSE_ALARM_KINDS`);
``disposition_effectiveness`` is the Kepler DR25 effectiveness E, the fraction of false alarms
not called PC (Thompson et al. 2018, ApJS 235, 38), and :func:`estimated_reliability` turns E
into the reliability of a list of observed candidates.

Pixel campaigns (:mod:`jaxvet.campaigns.pixel`): :func:`pixel_campaign_summary` gives the same
verdict counts per kind and check, with the off-target and localization fractions, overall and
per separation bin; :func:`pixel_summary` is their ``summary.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxvet.campaigns.injection import FALSE_ALARM_KINDS
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
    "FALSE_ALARM_KINDS",
    "disposition_counts",
    "disposition_rates",
    "disposition_effectiveness",
    "estimated_reliability",
    "report_reliability",
    "DEFAULT_SEPARATION_BINS",
    "pixel_rates",
    "pixel_campaign_summary",
    "pixel_summary",
]

_DISPOSITION_CLASSES = ("PC", "FP", "FA", "undetermined")

DEFAULT_SNR_BINS = (0.0, 3.0, 5.0, 7.1, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, math.inf)
DEFAULT_PERIOD_BINS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, math.inf)
#: separation bin edges [px] of a pixel campaign's summary
DEFAULT_SEPARATION_BINS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


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
        # a false-alarm kind (no injected SNR) is one unbinned row (edges null); by period it is binned
        unbinned = by == "snr" and k in FALSE_ALARM_KINDS
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


def disposition_counts(classes: np.ndarray) -> dict[str, int]:
    """``{"n", "n_PC", "n_FP", "n_FA", "n_undetermined"}`` of an array of class names."""
    out = {"n": int(classes.size)}
    for c in _DISPOSITION_CLASSES:
        out[f"n_{c}"] = int(np.sum(classes == c))
    return out


def _kinds(table, kinds: Sequence[str]) -> list[str]:
    present = [str(k) for k in dict.fromkeys(column(table, "kind").astype(str).tolist())]
    return list(dict.fromkeys([*kinds, *present]))


def disposition_rates(table, kinds: Sequence[str], bins, by: str = "snr") -> list[dict]:
    """Per (kind, bin of ``by``: ``"snr"`` or ``"period"``): :func:`disposition_counts` of the
    ``disposition`` column; a false-alarm kind (:data:`FALSE_ALARM_KINDS`) gets one row with
    the bin None (its SNR is that of a search peak, not of an injected signal)."""
    x = column(table, "snr" if by == "snr" else "period_days").astype(float)
    kind = column(table, "kind").astype(str)
    cls = column(table, "disposition").astype(str)
    key = "snr_bin" if by == "snr" else "period_bin"
    out = []
    for k in _kinds(table, kinds):
        if k in FALSE_ALARM_KINDS:
            out.append({"kind": k, key: None, **disposition_counts(cls[kind == k])})
            continue
        for lo, hi in zip(bins[:-1], bins[1:], strict=True):
            sel = (kind == k) & (x >= lo) & (x < hi)
            edges = [float(lo), None if not math.isfinite(hi) else float(hi)]
            out.append({"kind": k, key: edges, **disposition_counts(cls[sel])})
    return out


def disposition_effectiveness(table) -> dict | None:
    """DR25 effectiveness: the fraction of false-alarm rows (:data:`FALSE_ALARM_KINDS`) not
    dispositioned PC, overall and per kind; None when the table has no false-alarm rows."""
    kind = column(table, "kind").astype(str)
    cls = column(table, "disposition").astype(str)
    fa = np.isin(kind, FALSE_ALARM_KINDS)
    if not fa.any():
        return None

    def eff(sel):
        n = int(sel.sum())
        return {"n": n, "n_not_PC": int(np.sum(sel & (cls != "PC"))),
                "effectiveness": float(np.sum(sel & (cls != "PC")) / n) if n else None}

    return {**eff(fa), "by_kind": {k: eff(kind == k) for k in FALSE_ALARM_KINDS if (kind == k).any()}}


def estimated_reliability(n_pc_obs: int, n_fp_obs: int, effectiveness: float) -> float | None:
    """Reliability of a list of observed PCs (Thompson et al. 2018, ApJS 235, 38):
    ``R = 1 - (N_FP / N_PC) (1 - E) / E``.

    ``n_pc_obs``: candidates of the list called PC; ``n_fp_obs``: those called false alarms
    (the population E measures); ``effectiveness`` E: :func:`disposition_effectiveness`.  The
    fraction of the list's PCs that are not false alarms, under the assumption that false
    alarms in the list resemble the campaign's inverted and scrambled ones.  None when there is
    no PC or E is 0; can be negative when E is poorly measured (few false-alarm rows).
    """
    if n_pc_obs <= 0 or not effectiveness or effectiveness <= 0:
        return None
    return 1.0 - (n_fp_obs / n_pc_obs) * (1.0 - effectiveness) / effectiveness


def report_reliability(report, effectiveness: float, classes: Sequence[str] = ("FA",)) -> float | None:
    """:func:`estimated_reliability` of a :class:`~jaxvet.outputs.VetReport`'s candidates: N_PC
    its PCs, N_FP those whose class is in ``classes`` (default the false alarms, ``FA``)."""
    if report.dispositions is None:
        raise JaxvetInputError("report_reliability: the report has no dispositions (vet with a policy)")
    got = [d["class"] for d in report.dispositions]
    return estimated_reliability(got.count("PC"), sum(got.count(c) for c in classes), effectiveness)


def summarize(table, config, timing: Mapping[str, Any] | None = None) -> dict:
    """The summary dictionary of a light-curve campaign (``summary.json``).

    ``config`` is its :class:`~jaxvet.campaigns.lightcurve.CampaignConfig`.
    """
    checks = list(config.checks)
    kinds = list(config.injection.kinds)
    overall = campaign_rates(table, checks, kinds, (-math.inf, math.inf))
    for row in overall:
        row.pop("snr_bin", None)
    names = table.column_names if hasattr(table, "column_names") else list(getattr(table, "colnames", table))
    disp = {}
    if "disposition" in names:
        from jaxvet.disposition import default_policy

        disp = {
            "disposition_policy": default_policy().id,
            "disposition_rates": disposition_rates(table, kinds, config.snr_bins, by="snr"),
            "disposition_rates_by_period": disposition_rates(table, kinds, config.period_bins, by="period"),
            "disposition_effectiveness": disposition_effectiveness(table),
        }
    return {
        "schema_version": 1,
        "n_rows": int(table.num_rows if hasattr(table, "num_rows") else len(table)),
        "snr_definition": (
            "depth / (1.4826 MAD of the base light curve's valid flux) * sqrt(valid points in transit)"
        ),
        "rates": campaign_rates(table, checks, kinds, config.snr_bins, by="snr"),
        "rates_by_period": campaign_rates(table, checks, kinds, config.period_bins, by="period"),
        "overall": overall,
        **disp,
        "config": config.to_dict(),
        "timing": dict(timing or {}),
    }


# --------------------------------------------------------------------------------------------
# pixel campaigns
# --------------------------------------------------------------------------------------------
#: the verdict counts of a pixel-campaign rate row, in order (see :func:`verdict_counts`)
_PIXEL_RATE_KEYS = (
    "n", "n_total", "n_fail", "n_warn", "n_pass", "n_insufficient", "n_no_verdict", "n_not_ok",
    "fail_fraction", "warn_fraction",
)


def pixel_rates(cols: Mapping[str, np.ndarray], sel: np.ndarray, checks: Sequence[str]) -> list[dict]:
    """Per check of ``checks``: :func:`verdict_counts` of the rows ``sel`` with the check's
    off-target fraction (V08: and its significant-shift fraction), then one ``"any"`` row (rows
    flagged off target by any check, rows localized on the target)."""
    out = []
    for cid in checks:
        v = np.asarray(cols[f"{cid}_verdict"]).astype(str)[sel]
        st = np.asarray(cols[f"{cid}_status"]).astype(str)[sel]
        counts = verdict_counts(v, st)
        r = {"check": cid, **{name: counts[name] for name in _PIXEL_RATE_KEYS}}
        if f"{cid}_off_target" in cols:
            flagged = np.asarray(cols[f"{cid}_off_target"], bool)[sel]
            r["off_target_fraction"] = float(flagged.mean()) if flagged.size else None
        if cid == "V08":
            sig = np.asarray(cols["V08_significance_sigma"], float)[sel]
            r["significant_shift_fraction"] = float(np.mean(sig >= 3.0)) if sig.size else None
        out.append(r)
    flagged = np.asarray(cols["flagged_off_target"], bool)[sel]
    local = np.asarray(cols["localized_on_target"], bool)[sel]
    out.append(
        {
            "check": "any",
            "n_total": int(sel.sum()),
            "off_target_fraction": float(flagged.mean()) if flagged.size else None,
            "localized_on_target_fraction": float(local.mean()) if local.size else None,
        }
    )
    return out


def pixel_campaign_summary(
    cols: Mapping[str, Any], kinds, checks, separation_bins=DEFAULT_SEPARATION_BINS
) -> dict:
    """Rates per kind and check (overall and by separation bin) from a pixel campaign's result
    columns (a mapping of arrays; the last bin is closed)."""
    kind = np.asarray(cols["kind"]).astype(str)
    sep = np.asarray(cols["separation_px"], float)
    overall, by_sep = [], []
    for k in kinds:
        sel = kind == k
        for r in pixel_rates(cols, sel, checks):
            overall.append({"kind": k, **r})
        for lo, hi in zip(separation_bins[:-1], separation_bins[1:], strict=True):
            last = hi == separation_bins[-1]
            s = sel & (sep >= lo) & ((sep <= hi) if last else (sep < hi))
            for r in pixel_rates(cols, s, checks):
                by_sep.append({"kind": k, "separation_px_bin": [float(lo), float(hi)], **r})
    return {"overall": overall, "by_separation": by_sep}


def pixel_summary(table, config: Mapping[str, Any], timing: Mapping[str, Any], *,
                  offset_threshold_px: float) -> dict:
    """The summary dictionary of a pixel campaign (``summary.json``): definitions, rates,
    configuration, timings.  ``config`` is the campaign's configuration (``kinds``, ``checks``,
    ``separation_bins``, ...); ``offset_threshold_px`` V08's off-target distance."""
    names = table.column_names if hasattr(table, "column_names") else list(table)
    cols = {name: column(table, name) for name in names}
    return {
        "schema_version": 1,
        "n_rows": int(len(cols["kind"])),
        "definitions": {
            "fail_fraction": "n_fail / (n_pass + n_warn + n_fail)",
            "off_target_fraction": "rows flagged off target / all rows of the kind (or bin)",
            "V09_off_target": "V09 verdict warn or fail",
            "V08_off_target": (
                "centroid-offset source position (c_out - shift (1 - delta)/delta, delta = stamp flux "
                f"depth) > {offset_threshold_px} px from the target at >= 3 sigma"
            ),
            "significant_shift_fraction": "V08 significance_sigma >= 3 (not a localization by itself)",
        },
        **pixel_campaign_summary(cols, config["kinds"], config["checks"], tuple(config["separation_bins"])),
        "config": config,
        "timing": dict(timing),
    }
