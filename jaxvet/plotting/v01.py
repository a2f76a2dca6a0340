"""Plots for V01 (odd/even depth), drawn only from ``result.raw["plot_data"]``."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult

__all__ = ["plot_odd_even_epochs", "plot_odd_even_folded", "plot_odd_even"]

_ODD, _EVEN = "tab:red", "tab:blue"


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    return ax


def _pd(result: CheckResult) -> dict:
    raw = result.raw or {}
    if "plot_data" not in raw:
        raise ValueError(f"{result.id} result has no raw['plot_data'] to plot (status={result.status!r})")
    return raw["plot_data"]


def plot_odd_even_epochs(result: CheckResult, ax=None):
    """Per-epoch depths (ppm) with errors, coloured by parity, and the two parity levels.

    The solid lines are the reference's parity levels (medians of the per-epoch depths); the
    dashed lines are the OE_box weighted-mean box depths, when available.  Epochs whose
    in-transit points cover less than ``min_epoch_coverage`` of the transit (partial transits,
    left out of OE_box) are drawn hollow; epochs dropped from the verdict's OE_box as MAD
    outliers of their parity (``dropped_epochs``) are crossed out.
    """
    ax = _axes(ax)
    pd = _pd(result)
    thr = pd.get("min_epoch_coverage")
    for name, color in (("odd", _ODD), ("even", _EVEN)):
        ep = np.asarray(pd[f"{name}_epochs"], float)
        if ep.size:
            d = np.asarray(pd[f"{name}_depths_ppm"], float)
            e = np.asarray(pd[f"{name}_errs_ppm"], float)
            excl = np.asarray(pd.get(f"{name}_excluded", [False] * ep.size), bool)
            ax.errorbar(
                ep[~excl], d[~excl], yerr=e[~excl], fmt="o", color=color, capsize=2, label=f"{name} epochs",
            )  # fmt: skip
            if excl.any():
                lab = (
                    f"{name}: partial (coverage < {thr:g}), not in OE_box"
                    if thr is not None
                    else f"{name}: excluded"
                )
                ax.errorbar(
                    ep[excl], d[excl], yerr=e[excl], fmt="o", color=color, mfc="white", capsize=2, label=lab
                )
            drop = np.asarray(pd.get(f"{name}_dropped", [False] * ep.size), bool)
            if drop.any():
                lab = f"{name}: outlier, dropped from the verdict"
                ax.plot(ep[drop], d[drop], "x", color="k", ms=9, mew=1.5, label=lab)
        level = pd.get(f"mean_{name}_ppm")
        if level and ep.size:
            ax.axhline(level, color=color, lw=1.2, label=f"{name} median {level:.0f} ppm")
        box = pd.get(f"box_depth_{name}_ppm")
        if box is not None and np.isfinite(box):
            ax.axhline(box, color=color, lw=1.0, ls="--", label=f"{name} box {box:.0f} ppm")
    parts = (
        ("delta_sigma", ": delta_sigma={}"),
        ("oe_box_sigma", ", OE_box={}"),
        ("oe_box_sigma_robust", ", robust={}"),
    )
    return finish_depth_axes(ax, result, "epoch", "odd/even", parts)


def finish_depth_axes(ax, result: CheckResult, xlabel: str, what: str, metrics):
    """Axis labels, the title ``"<id> <what>..., [verdict]"`` (``metrics``: pairs of a metric name
    and a format for its value, skipped when absent) and the legend of a per-epoch depth plot."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("depth [ppm]")
    title = f"{result.id} {what}"
    for name, fmt in metrics:
        if result.metrics.get(name) is not None:
            title += fmt.format(result.metrics[name])
    if result.verdict:
        title += f" [{result.verdict}]"
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return ax


def plot_odd_even_folded(result: CheckResult, ax=None):
    """Phase-folded, binned normalised flux of odd vs even transits around mid-transit."""
    ax = _axes(ax)
    pd = _pd(result)
    x = np.asarray(pd.get("fold_bin_centers_hours", []), float)
    for name, color in (("odd", _ODD), ("even", _EVEN)):
        y = np.asarray([np.nan if v is None else v for v in pd.get(f"fold_{name}_flux", [])], float)
        if y.size and np.isfinite(y).any():
            ax.plot(x, (y - 1.0) * 1e6, "o-", ms=3, lw=1, color=color, label=f"{name}")
        box = pd.get(f"box_depth_{name}_ppm")
        if box is not None and np.isfinite(box):
            ax.axhline(-box, color=color, ls="--", lw=0.8)
    dur = pd.get("duration_hours")
    if dur:
        for s in (-0.5, 0.5):
            ax.axvline(s * dur, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("hours from mid-transit")
    ax.set_ylabel("relative flux [ppm]")
    ax.set_title(f"{result.id} phase-folded odd vs even", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return ax


def plot_odd_even(result: CheckResult, ax=None):
    """Both panels side by side (``ax`` may be a pair of axes); returns the figure.

    This is the multi-panel plotter for :func:`jaxvet.plotting.plot_check`.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2, figsize=(12, 4))
    plot_odd_even_epochs(result, ax=ax[0])
    plot_odd_even_folded(result, ax=ax[1])
    return ax[0].figure
