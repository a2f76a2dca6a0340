"""Plot for V04 (depth stability), drawn only from ``result.raw["plot_data"]``."""

from __future__ import annotations

import numpy as np

from jaxvet.plotting.v01 import finish_depth_axes
from jaxvet.results import CheckResult

__all__ = ["plot_depth_stability"]


def plot_depth_stability(result: CheckResult, ax=None):
    """Depth of each measured transit against time, with the weighted mean and the band
    ``mean +- expected_scatter`` (the reference's error of the mean); flagged outlier epochs are
    circled and the dominating epoch is starred."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    raw = result.raw or {}
    if "plot_data" not in raw:
        raise ValueError(f"{result.id} result has no raw['plot_data'] to plot (status={result.status!r})")
    pd = raw["plot_data"]
    t = np.asarray(pd["epoch_times_btjd"], float)
    d = np.asarray(pd["depths_ppm"], float)
    e = np.asarray(pd["depth_errs_ppm"], float)
    if t.size:
        ax.errorbar(t, d, yerr=e, fmt="o", color="k", capsize=2, label="per-epoch depth")
        mean = pd.get("weighted_mean_depth_ppm")
        label = "weighted mean"
        if mean is None:
            mean, label = pd.get("mean_depth_ppm", 0.0), "mean"
        band = pd.get("expected_scatter_ppm") or 0.0
        ax.axhline(mean, color="tab:blue", lw=1.2, label=f"{label} {mean:.0f} ppm")
        ax.axhspan(mean - band, mean + band, color="tab:blue", alpha=0.15, label="expected scatter")
        out_t = pd.get("outlier_epoch_times_btjd") or []
        if out_t:
            sel = np.isin(t, out_t)
            ax.plot(t[sel], d[sel], "o", mfc="none", mec="tab:red", ms=12, label="outlier")
        k = pd.get("dominating_epoch_idx")
        if k is not None and 0 <= k < t.size:
            ax.plot(t[k], d[k], "*", color="tab:orange", ms=12, label="dominating epoch")
    parts = (("chi2_reduced", ": chi2_red={}"),)
    return finish_depth_axes(ax, result, "time [BTJD]", "depth stability", parts)
