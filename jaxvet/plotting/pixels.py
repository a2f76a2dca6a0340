"""Pixel-level plots: V08 centroid shift, V09 difference image, V25 per-sector comparison.

All functions draw from ``result.raw["plot_data"]`` only (no recomputation).  The single-panel
functions accept ``ax=`` and return the axes; :func:`plot_localization_consistency` returns a
Figure (side by side: one column per sector, V08 on top, V09 below).
"""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult

__all__ = ["plot_centroid_shift", "plot_difference_image", "plot_localization_consistency"]


def _img(v):
    a = np.asarray(v if v is not None else [[np.nan]], dtype=float)
    return a if a.ndim == 2 else np.full((1, 1), np.nan)


def _message(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


GUARD_FLAGS = ("SATURATED_TARGET", "TOO_FEW_TRANSITS", "TOO_FEW_IN_TRANSIT_CADENCES")


def _guard_line(result: CheckResult) -> str:
    """A title line naming the evidence guards that made the verdict insufficient ('' if none)."""
    hit = [f for f in GUARD_FLAGS if f in (result.flags or [])]
    return ("\ninsufficient: " + ", ".join(hit)) if hit else ""


def _draw_centroid(pd: dict, ax, show_colorbar: bool, arrow_scale: float | None):
    img = _img(pd.get("reference_image"))
    im = ax.imshow(img, origin="lower", cmap="viridis", interpolation="nearest")
    if show_colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="flux (out of transit)")
    oc, orow = pd.get("out_centroid_col"), pd.get("out_centroid_row")
    ic, irow = pd.get("in_centroid_col"), pd.get("in_centroid_row")
    if pd.get("target_col") is not None:
        ax.plot(pd["target_col"], pd["target_row"], "w+", ms=10, mew=1.5, label="stamp centre")
    if oc is not None and orow is not None:
        ax.plot(oc, orow, "o", mfc="none", mec="cyan", ms=8, mew=1.5, label="out-of-transit centroid")
    if ic is not None and irow is not None:
        ax.plot(ic, irow, "x", color="red", ms=8, mew=1.5, label="in-transit centroid")
        if oc is not None and orow is not None:
            dx, dy = ic - oc, irow - orow
            d = float(np.hypot(dx, dy))
            if d > 0:
                s = arrow_scale if arrow_scale is not None else min(2.0 / d, 1000.0)
                ax.annotate(
                    "",
                    xy=(oc + s * dx, orow + s * dy),
                    xytext=(oc, orow),
                    arrowprops=dict(arrowstyle="->", color="red", lw=1.5),
                )
                ax.text(0.02, 0.02, f"shift x{s:.0f}", color="w", fontsize=7, transform=ax.transAxes)
    ax.set_xlabel("column [px]")
    ax.set_ylabel("row [px]")


def plot_centroid_shift(
    result: CheckResult, ax=None, show_colorbar: bool = True, arrow_scale: float | None = None
):
    """V08: out-of-transit reference image with the in/out centroids (shift arrow magnified)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    pd = (result.raw or {}).get("plot_data")
    if result.status != "ok" or not pd:
        return _message(ax, f"V08 {result.status}: {', '.join(result.flags) or 'no plot data'}")
    _draw_centroid(pd, ax, show_colorbar, arrow_scale)
    m = result.metrics or {}
    sh, sig = m.get("centroid_shift_pixels"), m.get("significance_sigma")
    title = "V08 centroid shift"
    if sh is not None:
        title += f': {sh:.4f} px ({sh * 21.0:.2f}")'
        if sig is not None:
            title += f", {sig:.1f}$\\sigma$"
    title += _guard_line(result)
    ax.set_title(title, fontsize=10, color="C3" if _guard_line(result) else "k")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
    return ax


def _draw_diff(pd: dict, ax, show_colorbar: bool):
    img = _img(pd.get("difference_image"))
    lim = np.nanmax(np.abs(img)) if np.isfinite(img).any() else 1.0
    im = ax.imshow(img, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    if show_colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="out - in flux [e-/s]")
    tp = pd.get("target_position")
    if tp and tp[0] is not None:
        ax.plot(tp[1], tp[0], "k+", ms=12, mew=2, label="target")
    fp = pd.get("flux_peak_pixel")
    if fp:
        ax.plot(fp[1], fp[0], "s", mfc="none", mec="k", ms=10, mew=1.2, label="max deficit pixel")
    dc = pd.get("diff_centroid")
    if dc and dc[0] is not None:
        ax.plot(dc[1], dc[0], "*", color="gold", mec="k", ms=12, label="deficit centroid")
    rp = pd.get("max_depth_pixel")
    if rp:
        ax.plot(rp[1], rp[0], "x", color="grey", ms=7, label="reference arg-max (ppm)")
    ax.set_xlabel("column [px]")
    ax.set_ylabel("row [px]")


def plot_difference_image(result: CheckResult, ax=None, show_colorbar: bool = True):
    """V09: the (local-baseline) difference image with target, deficit peak and centroid."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    pd = (result.raw or {}).get("plot_data")
    if result.status != "ok" or not pd:
        return _message(ax, f"V09 {result.status}: {', '.join(result.flags) or 'no plot data'}")
    _draw_diff(pd, ax, show_colorbar)
    m = result.metrics or {}
    off, sig = m.get("diff_offset_pixels"), m.get("diff_offset_sigma")
    title = f"V09 difference image ({pd.get('difference_baseline', 'local')} baseline)"
    if off is not None:
        title += f"\noffset {off:.2f} px" + (f" ({sig:.1f}$\\sigma$)" if sig is not None else "")
    title += _guard_line(result)
    ax.set_title(title, fontsize=10, color="C3" if _guard_line(result) else "k")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
    return ax


def plot_localization_consistency(result: CheckResult, ax=None, fig=None, show_colorbar: bool = False):
    """V25: per-sector V08 (top) and V09 (bottom) panels side by side; returns the Figure.

    A multi-panel figure cannot live in one axes: when ``ax`` is given (the generic
    ``plot_check(result, ax=...)`` call), its figure is used and ``ax`` itself is removed.
    """
    import matplotlib.pyplot as plt

    pd = (result.raw or {}).get("plot_data") or {}
    sectors = pd.get("sectors") or []
    n = max(len(sectors), 1)
    if ax is not None and fig is None:
        fig = ax.figure
        ax.remove()
    if fig is None:
        fig = plt.figure(figsize=(4.2 * n + 0.5, 8.8))
    axes = fig.subplots(2, n, squeeze=False)
    if not sectors:
        _message(axes[0, 0], f"V25 {result.status}: {', '.join(result.flags) or 'no sectors'}")
        axes[1, 0].set_axis_off()
        return fig
    for j, sp in enumerate(sectors):
        lab = sp.get("label", j)
        ax8, ax9 = axes[0, j], axes[1, j]
        if sp.get("v08"):
            _draw_centroid(sp["v08"], ax8, show_colorbar, None)
            m8 = sp.get("v08_metrics") or {}
            sh, sg = m8.get("centroid_shift_pixels"), m8.get("significance_sigma")
            t = f"V08 centroid shift (sector {lab})"
            if sh is not None:
                t += f"\n{sh:.4f} px" + (f", {sg:.1f}$\\sigma$" if sg is not None else "")
            ax8.set_title(t, fontsize=9)
        else:
            _message(ax8, f"sector {lab}: no V08 plot data")
        if sp.get("v09"):
            _draw_diff(sp["v09"], ax9, show_colorbar)
            m9 = sp.get("v09_metrics") or {}
            off = m9.get("diff_offset_pixels")
            t = f"V09 difference image (sector {lab})"
            if off is not None:
                t += f"\noffset {off:.2f} px"
                if m9.get("diff_offset_sigma") is not None:
                    t += f" ({m9['diff_offset_sigma']:.1f}$\\sigma$)"
            if sp.get("disagrees"):
                t += "  [disagrees]"
            ax9.set_title(t, fontsize=9, color="C3" if sp.get("disagrees") else "k")
        else:
            _message(ax9, f"sector {lab}: V09 {sp.get('v09_status', 'n/a')}")
        if j == 0:
            ax8.legend(loc="upper right", fontsize=6, framealpha=0.6)
            if sp.get("v09"):
                ax9.legend(loc="upper right", fontsize=6, framealpha=0.6)
    m = result.metrics or {}
    p = m.get("chi2_p_value")
    fig.suptitle(
        f"V25 localization consistency: {m.get('consistency_class', '?')}"
        + (f"  (p = {p:.3g}, {m.get('frame', '')} frame)" if p is not None else ""),
        fontsize=11,
    )
    fig.tight_layout()
    return fig
