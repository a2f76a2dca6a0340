"""Plots of an injection campaign's summary: recovery and rejection rates against SNR or period.

Drawn from the ``summary.json`` dictionary written by :func:`jaxvet.campaigns.lightcurve.run_campaign`
(no recomputation).  For planets the *recovery rate* is the fraction of decided verdicts that
are not ``fail`` (the check keeps the planet); for eclipsing binaries the *rejection rate* is the
fail fraction.  Error bars are Wilson score intervals (Wilson 1927, JASA 22, 209) at 68%.
Functions accept ``ax=`` and return the axes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["plot_campaign_rates", "plot_disposition_rates", "save_campaign_plots", "wilson_interval"]

_KIND_STYLE = {
    "planet": ("-", "o", "planets kept"),
    "eb": ("--", "s", "EBs rejected"),
    "inverted": (":", "v", "inverted rejected"),
    "scrambled": ("-.", "D", "scrambled rejected"),
}


def wilson_interval(k, n, z: float = 1.0):
    """Wilson score interval of a binomial proportion ``k/n`` (arrays); NaN where n = 0."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo = np.where(n > 0, centre - half, np.nan)
    hi = np.where(n > 0, centre + half, np.nan)
    return lo, hi


def _centre(lo, hi, log: bool):
    if hi is None or not math.isfinite(hi):
        return lo * 1.5 if lo > 0 else lo + 1.0
    if log and lo > 0:
        return math.sqrt(lo * hi)
    if log and lo <= 0:
        return hi / 2.0
    return 0.5 * (lo + hi)


def _minor_label(v, _pos=None) -> str:
    """Label the 2x and 5x minor ticks of a log axis (``2``, ``50``, ...), leave the rest blank."""
    if not v > 0:
        return ""
    lead = round(v / 10 ** math.floor(math.log10(v)))
    return f"{v:g}" if lead in (2, 5) else ""


def plot_campaign_rates(summary: dict, x: str = "snr", checks=None, ax=None):
    """Recovery (planets) and rejection (EBs) rate per check against SNR or period.

    ``x`` is ``"snr"`` (from ``summary["rates"]``) or ``"period"`` (``summary["rates_by_period"]``).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    key, rows_key, label = {
        "snr": ("snr_bin", "rates", "injected SNR"),
        "period": ("period_bin", "rates_by_period", "period [d]"),
    }[x]
    rows = summary.get(rows_key, [])
    all_checks = list(dict.fromkeys(r["check"] for r in rows))
    checks = all_checks if checks is None else [c for c in checks if c in all_checks]
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    drew = False
    for ci, cid in enumerate(checks):
        for kind in dict.fromkeys(r["kind"] for r in rows):
            sel = [r for r in rows if r["check"] == cid and r["kind"] == kind and r["n"] > 0 and r[key]]
            if not sel:
                continue
            xs = np.array([_centre(r[key][0], r[key][1], True) for r in sel])
            n = np.array([r["n"] for r in sel], float)
            n_fail = np.array([r["n_fail"] for r in sel], float)
            k = n - n_fail if kind == "planet" else n_fail
            y = k / n
            lo, hi = wilson_interval(k, n)
            ls, mk, what = _KIND_STYLE.get(kind, (":", "^", kind))
            ax.errorbar(
                xs,
                y,
                yerr=[np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)],
                color=colors[ci % len(colors)],
                ls=ls,
                marker=mk,
                ms=4,
                capsize=2,
                label=f"{cid}: {what}",
            )
            drew = True
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(label)
    ax.set_ylabel("fraction of decided verdicts")
    n_rows = summary.get("n_rows")
    ax.set_title(
        f"Injection campaign: recovery and rejection vs {label}"
        + (f" ({n_rows} injections)" if n_rows else "")
    )
    ax.grid(alpha=0.3, which="both")
    if drew:
        ax.legend(fontsize=8, ncol=2)
    else:
        ax.text(0.5, 0.5, "no decided verdicts", transform=ax.transAxes, ha="center")
    return ax


def _disposition_curve(ax, rows, key, kind, want, label, style):
    sel = [r for r in rows if r["kind"] == kind and r[key] is not None and r["n"] > 0]
    if not sel:
        return False
    xs = np.array([_centre(r[key][0], r[key][1], True) for r in sel])
    n = np.array([r["n"] for r in sel], float)
    k = np.array([sum(r[f"n_{c}"] for c in want) for r in sel], float)
    y = k / n
    lo, hi = wilson_interval(k, n)
    ax.errorbar(xs, y, yerr=[np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)], ls=style[0],
                marker=style[1], ms=4, capsize=2, label=label)
    return True


def plot_disposition_rates(summary: dict, axes=None):
    """Dispositions of a campaign (``summary["disposition_rates"]``): planets kept as PC against
    injected SNR and period, EBs called FP against SNR, and each false-alarm kind's fraction not
    called PC (the DR25 effectiveness).  Returns the three axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 4.5))
    by_snr = summary.get("disposition_rates", [])
    by_p = summary.get("disposition_rates_by_period", [])
    policy = summary.get("disposition_policy", "")
    _disposition_curve(axes[0], by_snr, "snr_bin", "planet", ("PC",), "planets kept (PC)", ("-", "o"))
    _disposition_curve(axes[0], by_snr, "snr_bin", "eb", ("FP",), "EBs rejected (FP)", ("--", "s"))
    _disposition_curve(axes[0], by_snr, "snr_bin", "eb", ("FP", "FA"), "EBs not PC", (":", "^"))
    _disposition_curve(axes[1], by_p, "period_bin", "planet", ("PC",), "planets kept (PC)", ("-", "o"))
    _disposition_curve(axes[1], by_p, "period_bin", "eb", ("FP",), "EBs rejected (FP)", ("--", "s"))
    for ax, label in ((axes[0], "injected SNR"), (axes[1], "period [d]")):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.set_xlabel(label)
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("fraction of injections")
        ax.grid(alpha=0.3, which="both")
        if ax.lines:
            ax.legend(fontsize=8)
    fa = [r for r in by_snr if r.get("snr_bin", 0) is None and r["n"] > 0]
    if fa:
        n = np.array([r["n"] for r in fa], float)
        k = n - np.array([r["n_PC"] for r in fa], float)
        lo, hi = wilson_interval(k, n)
        y = k / n
        axes[2].bar(range(len(fa)), y, yerr=[np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)], capsize=3)
        axes[2].set_xticks(range(len(fa)), [f"{r['kind']} (n={r['n']})" for r in fa])
    else:
        axes[2].text(0.5, 0.5, "no false-alarm rows", transform=axes[2].transAxes, ha="center")
    axes[2].set_ylim(0, 1.03)
    axes[2].set_ylabel("false alarms not called PC")
    axes[0].set_title(f"dispositions vs SNR [{policy}]", fontsize=10)
    axes[1].set_title("dispositions vs period", fontsize=10)
    axes[2].set_title("false-alarm rejection (effectiveness)", fontsize=10)
    return axes


def save_campaign_plots(summary: dict, out_dir) -> list[Path]:
    """Write ``rates_vs_snr.png`` and ``rates_vs_period.png`` into ``out_dir``, and
    ``dispositions.png`` (:func:`plot_disposition_rates`) when the summary has dispositions."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for x, name in (("snr", "rates_vs_snr.png"), ("period", "rates_vs_period.png")):
        fig, ax = plt.subplots(figsize=(8, 5))
        plot_campaign_rates(summary, x=x, ax=ax)
        fig.tight_layout()
        path = out_dir / name
        tmp = out_dir / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(path)
        written.append(path)
    if summary.get("disposition_rates"):
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
        plot_disposition_rates(summary, axes=axes)
        fig.tight_layout()
        path, tmp = out_dir / "dispositions.png", out_dir / ".dispositions.tmp.png"
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(path)
        written.append(path)
    return written
