"""V05 plot: the phase-folded, binned transit with the fitted trapezoid and its bootstrap band.

Drawn entirely from ``result.raw["plot_data"]`` (no recomputation): ``binned_phase``,
``binned_flux``, ``binned_flux_err`` (the reference's binned profile), ``trapezoid_phase`` /
``trapezoid_flux`` (the fitted model), ``band_lo`` / ``band_hi`` (16th/84th percentiles of the
bootstrap models, ``trapezoid_fit`` only) and ``period_days`` (to label hours from mid-transit).
"""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult

__all__ = ["plot_transit_shape"]


def plot_transit_shape(result: CheckResult, ax=None):
    """Binned phase-folded flux, fitted trapezoid and bootstrap band; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    raw = result.raw or {}
    pd = raw.get("plot_data") or {}
    period = pd.get("period_days")
    scale = 24.0 * float(period) if period else 1.0
    unit = "hours from mid-transit" if period else "phase"

    def arr(key):
        v = pd.get(key) or []
        return np.array([np.nan if x is None else x for x in v], dtype=float)

    bp, bf, be = arr("binned_phase"), arr("binned_flux"), arr("binned_flux_err")
    mp, mf = arr("trapezoid_phase"), arr("trapezoid_flux")
    lo, hi = arr("band_lo"), arr("band_hi")
    if bp.size:
        ax.errorbar(
            bp * scale,
            (bf - 1.0) * 1e6,
            yerr=be * 1e6,
            fmt="o",
            ms=3,
            color="0.3",
            lw=0.8,
            label="binned data",
        )
    if lo.size and hi.size and np.isfinite(lo).any():
        ax.fill_between(
            mp * scale,
            (lo - 1.0) * 1e6,
            (hi - 1.0) * 1e6,
            color="C1",
            alpha=0.3,
            lw=0,
            label="bootstrap 68% band",
        )
    if mp.size:
        ax.plot(mp * scale, (mf - 1.0) * 1e6, color="C1", lw=1.8, label="trapezoid fit")
    m = result.metrics
    ratio = m.get("tflat_ttotal_ratio")
    err = m.get("tflat_ttotal_ratio_err")
    title = "V05 transit shape"
    if ratio is not None and m.get("status") == "ok":
        title += f": tF/tT = {ratio:.3f} +- {err:.3f}" if err is not None else f": tF/tT = {ratio:.3f}"
        if m.get("grazing_indicator"):
            title += f" ({m['grazing_indicator']})"
    elif m.get("status"):
        title += f" ({m['status']})"
    bound = m.get("fit_at_bound") or []
    if bound:
        title += "\nfit at its bound: " + ", ".join(bound)
    ax.set_title(title, fontsize=10, color="C3" if bound else "k")
    ax.set_xlabel(unit)
    ax.set_ylabel("relative flux - 1 [ppm]")
    ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
    if bp.size or mp.size:
        ax.legend(fontsize=8, loc="lower left")
    return ax
