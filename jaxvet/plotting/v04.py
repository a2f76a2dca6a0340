"""Plot for V04 (depth stability), drawn only from ``result.raw["plot_data"]``."""

from __future__ import annotations

import numpy as np

from jaxvet.plotting.v01 import finish_depth_axes
from jaxvet.results import CheckResult

__all__ = ["plot_depth_stability"]

#: y-range of the residual axis: the used, non-outlier epochs' residuals plus this many errors
_YPAD_ERRORS = 3.0


def _arr(values) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], float)


def plot_depth_stability(result: CheckResult, ax=None):
    """Per-epoch *box* depths (the verdict's statistic) as residuals from their weighted mean
    (over the epochs the verdict's chi-square uses: covered, and without the MAD outliers when
    it leaves them out).

    The shaded band is the typical per-epoch error (median of the box errors: white + red noise
    + the systematic floor), what a stable planet's epochs scatter within; error bars are each
    epoch's own.  Epochs excluded for partial coverage are hollow grey, MAD outlier epochs are
    circled red, and the epoch carrying at least half of the chi-square (if one does) is starred.
    Epochs beyond the axis range (damaged transits) are drawn as triangles at its edge.  Results
    without box depths (fewer than 2 measured transits) show the reference depths instead.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    raw = result.raw or {}
    if "plot_data" not in raw:
        raise ValueError(f"{result.id} result has no raw['plot_data'] to plot (status={result.status!r})")
    pd = raw["plot_data"]
    t = np.asarray(pd["epoch_times_btjd"], float)
    box = _arr(pd.get("box_depths_ppm", []))
    mean = pd.get("box_mean_ppm")
    if t.size and box.size == t.size and mean is not None:
        _residuals(ax, pd, t, box, _arr(pd["box_errs_ppm"]), float(mean))
        parts = [("chi2_box_reduced", ": chi2_box={}")]
        if result.metrics.get("n_outliers_flagged"):
            parts.append(("chi2_box_reduced_excl_outliers", " (excl. outliers {})"))
        ax = finish_depth_axes(ax, result, "time [BTJD]", "depth stability", parts)
        ax.set_ylabel("box depth - weighted mean [ppm]")
        ax.legend(fontsize=6, loc="upper left", ncol=2, framealpha=0.8)
        return ax
    if t.size:
        d = np.asarray(pd["depths_ppm"], float)
        ax.errorbar(t, d, yerr=pd["depth_errs_ppm"], fmt="o", color="k", capsize=2, label="per-epoch depth")
        m = pd.get("mean_depth_ppm")
        if m is not None:
            ax.axhline(m, color="tab:blue", lw=1.2, label=f"mean {m:.0f} ppm")
    return finish_depth_axes(
        ax, result, "time [BTJD]", "depth stability", (("chi2_reduced", ": chi2_red={}"),)
    )


def _residuals(ax, pd: dict, t, box, err, mean: float) -> None:
    res = box - mean
    n = t.size
    excl = np.asarray(pd.get("excluded", [False] * n), bool)[:n]
    out_t = pd.get("outlier_epoch_times_btjd") or []
    outl = np.isin(t, out_t)
    core = ~excl & ~outl & np.isfinite(res)
    typical = float(np.nanmedian(err[~excl])) if np.any(~excl) else float(np.nanmedian(err))
    span = np.nanmax(np.abs(res[core]) + err[core]) if core.any() else typical
    lim = max(span, _YPAD_ERRORS * typical) * 1.15
    ax.axhspan(
        -typical, typical, color="tab:blue", alpha=0.15, label=f"typical epoch error +-{typical:.0f} ppm"
    )
    ax.axhline(0.0, color="tab:blue", lw=1.2, label=f"weighted mean {mean:.0f} ppm")
    inside = np.abs(res) <= lim
    for sel, kw in (
        (~excl & inside, dict(fmt="o", color="k", label="box depth")),
        (excl & inside, dict(fmt="o", color="0.55", mfc="white", label=_excl_label(pd))),
    ):
        if sel.any():
            ax.errorbar(t[sel], res[sel], yerr=err[sel], capsize=2, **kw)
    off = ~inside & np.isfinite(res)
    if off.any():
        for ti, ri, ex in zip(t[off], res[off], excl[off], strict=True):
            yi = np.sign(ri) * lim
            ax.plot(
                ti, yi, "^" if ri > 0 else "v", color="0.55" if ex else "k", ms=7, mfc="white" if ex else "k"
            )
        if (off & excl).any() and not (excl & inside).any():
            ax.plot([], [], "o", color="0.55", mfc="white", label=_excl_label(pd))
        vals = ", ".join(f"{ti:.2f}: {ri:+.0f}" for ti, ri in zip(t[off], res[off], strict=True))
        ax.text(
            0.01, 0.02, f"beyond the axis (BTJD: ppm) {vals}", transform=ax.transAxes, fontsize=6, va="bottom"
        )
    yc = np.clip(res, -lim, lim)
    if outl.any():
        ax.plot(t[outl], yc[outl], "o", mfc="none", mec="tab:red", ms=12, label="MAD outlier")
    k = pd.get("chi2_dominating_idx")
    if k is not None and 0 <= k < n:
        ax.plot(t[k], yc[k], "*", color="tab:orange", ms=14, label="dominates chi-square")
    ax.set_ylim(-lim * 1.3, lim * 1.7)  # room for the off-axis note and the legend


def _excl_label(pd: dict) -> str:
    thr = pd.get("min_epoch_coverage")
    return f"partial (coverage < {thr:g}), excluded" if thr is not None else "excluded"
