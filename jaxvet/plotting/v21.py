"""V21 plot: per-sector depths with errors, the weighted mean, outlier sectors marked."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult


def plot_sector_consistency(result: CheckResult, ax=None):
    """Per-sector depth (ppm) with 1-sigma errors; weighted mean line; outliers in red.

    In the spirit of the reference's ``plot_sector_consistency``.  Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    pd = (result.raw or {}).get("plot_data") or {}
    sectors = np.asarray(pd.get("sectors", []), dtype=int)
    depths = np.asarray(pd.get("depths_ppm", []), dtype=float)
    errs = np.asarray(pd.get("depth_errs_ppm", []), dtype=float)
    outl = set(pd.get("outlier_sectors", []))
    if sectors.size == 0:
        ax.text(0.5, 0.5, f"V21 {result.status}: no sector measurements", ha="center", va="center",
                transform=ax.transAxes)
        return ax
    x = np.arange(sectors.size)
    is_out = np.array([s in outl for s in sectors])
    ax.errorbar(x[~is_out], depths[~is_out], yerr=errs[~is_out], fmt="o", color="C0", capsize=3,
                label="sector depth")
    if is_out.any():
        ax.errorbar(x[is_out], depths[is_out], yerr=errs[is_out], fmt="s", color="C3", capsize=3,
                    label="outlier sector")
    mean = pd.get("weighted_mean_ppm")
    if mean is not None and np.isfinite(mean):
        ax.axhline(mean, color="k", ls="--", lw=1, label=f"weighted mean {mean:.1f} ppm")
    ax.set_xticks(x, [f"S{s}" for s in sectors])
    ax.set_xlabel("sector")
    ax.set_ylabel("depth [ppm]")
    m = result.metrics
    if m:
        ax.set_title(f"V21 sector consistency: {m.get('consistency_class')}  "
                     f"p = {m.get('chi2_p_value', float('nan')):.3g}")
    hi = np.nanmax(depths + np.nan_to_num(errs))
    lo = np.nanmin(depths - np.nan_to_num(errs))
    if np.isfinite(hi) and np.isfinite(lo) and hi > lo:
        pad = hi - lo
        ax.set_ylim(lo - 0.1 * pad, hi + 0.6 * pad)  # headroom: the legend never hides a sector
    ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
    return ax
