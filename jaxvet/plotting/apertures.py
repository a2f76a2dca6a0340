"""Pixel-level plots of V10 (depth against aperture radius) and V20 (difference image with the
pipeline aperture), drawn from ``result.raw["plot_data"]`` only; each accepts ``ax=`` and returns
the axes."""

from __future__ import annotations

import numpy as np

from jaxvet.plotting.pixels import _img, _message
from jaxvet.results import CheckResult

__all__ = ["plot_aperture_dependence", "plot_ghost_features"]


def plot_aperture_dependence(result: CheckResult, ax=None):
    """V10: the transit depth in each circular aperture, the recommended radius marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    pd = (result.raw or {}).get("plot_data")
    if result.status != "ok" or not pd or not pd.get("aperture_radii_px"):
        return _message(ax, f"V10 {result.status}: {', '.join(result.flags) or 'no plot data'}")
    r = np.asarray(pd["aperture_radii_px"], float)
    d = np.asarray(pd["depths_ppm"], float)
    e = np.asarray(pd.get("depth_errs_ppm") or np.zeros_like(d), float)
    ax.errorbar(r, d, yerr=e, fmt="o-", color="C0", capsize=3, label="depth (mean over transits)")
    rec = pd.get("recommended_aperture_pixels")
    if rec is not None:
        ax.axvline(rec, color="0.5", ls="--", lw=1, label=f"recommended {rec:g} px")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("aperture radius [px]")
    ax.set_ylabel("depth [ppm]")
    m = result.metrics or {}
    stab = m.get("stability_metric")
    title = "V10 aperture dependence"
    if stab is not None:
        title += f"\nstability {stab:.2f}" + (", sign flip" if m.get("aperture_depth_sign_flip") else "")
    ax.set_title(title + (f" [{result.verdict}]" if result.verdict else ""), fontsize=10)
    ax.legend(loc="best", fontsize=7, framealpha=0.6)
    return ax


def plot_ghost_features(result: CheckResult, ax=None, show_colorbar: bool = True):
    """V20: the difference image (out - in) with the pipeline aperture outlined."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    pd = (result.raw or {}).get("plot_data")
    if result.status != "ok" or not pd:
        return _message(ax, f"V20 {result.status}: {', '.join(result.flags) or 'no plot data'}")
    img = _img(pd.get("difference_image"))
    lim = np.nanmax(np.abs(img)) if np.isfinite(img).any() else 1.0
    im = ax.imshow(img, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    if show_colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="out - in flux [e-/s]")
    ap = np.asarray(pd.get("aperture_mask") or [[False]], bool)
    if ap.shape == img.shape and ap.any():
        ax.contour(ap.astype(float), levels=[0.5], colors="k", linewidths=1.2)
    ax.set_xlabel("column [px]")
    ax.set_ylabel("row [px]")
    g, s = pd.get("ghost_like_score"), pd.get("scattered_light_risk")
    title = "V20 ghost features"
    if g is not None and s is not None:
        title += f"\nghost-like {g:.2f}, scattered light {s:.2f}"
    ax.set_title(title + (f" [{result.verdict}]" if result.verdict else ""), fontsize=10)
    return ax
