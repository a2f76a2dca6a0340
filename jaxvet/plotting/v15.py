"""V15 plot: the phase-folded transit window with the binned left and right halves."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult


def plot_transit_asymmetry(result: CheckResult, ax=None):
    """Window points (``plot_data``: phase, flux - baseline + 1), the bin means of each half
    (``raw["left_bin_means"]``/``raw["right_bin_means"]``) and each half's mean over its
    range.  Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    raw = result.raw or {}
    pd = raw.get("plot_data") or {}
    if "phase" not in pd:
        ax.text(0.5, 0.5, f"V15 {result.status}: no plot data ({', '.join(result.notes)})", ha="center",
                va="center", transform=ax.transAxes, fontsize=8)  # fmt: skip
        return ax
    ax.plot(pd["phase"], pd["flux"], ".", ms=2, color="0.6", label="window points")
    for side, colour in (("left", "C0"), ("right", "C3")):
        lo, hi = pd[f"{side}_bin_phase_range"]
        means = [np.nan if v is None else v for v in raw.get(f"{side}_bin_means", [])]
        if means:
            edges = np.linspace(lo, hi, len(means) + 1)
            ax.plot(0.5 * (edges[1:] + edges[:-1]), 1.0 + np.asarray(means), "o", color=colour, ms=4,
                    label=f"{side} bins")  # fmt: skip
        ax.hlines(pd[f"{side}_bin_mean"], lo, hi, color=colour, lw=2)
    ax.axvline(0.0, color="k", lw=0.5)
    ax.set_xlabel("phase")
    ax.set_ylabel("flux - baseline + 1")
    ax.set_title(f"V15 asymmetry {result.metrics.get('asymmetry_sigma')} sigma", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return ax
