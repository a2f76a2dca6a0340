"""V02 plot: the phase-folded, binned light curve with the secondary window and measured depth."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult


def plot_secondary_eclipse(result: CheckResult, ax=None):
    """Binned phase curve (phase 0..1, primary at 0 and 1) with the secondary window shaded.

    Draws ``raw["plot_data"]``: binned flux / baseline with 1-sigma errors, the search window
    (0.35-0.65) and its adjacent baseline, the baseline level 1 and the measured secondary level
    ``1 - depth`` across the window.  Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    pd = (result.raw or {}).get("plot_data") or {}
    phase = np.asarray(pd.get("phase", []), dtype=float)
    flux = np.asarray(pd.get("flux", []), dtype=float)
    err = np.asarray(pd.get("flux_err", []), dtype=float)
    lo, hi = pd.get("secondary_window", [0.35, 0.65])
    if phase.size == 0:
        note = result.metrics.get("note", "no data") if result.metrics else result.status
        ax.text(0.5, 0.5, f"V02: {note}", ha="center", va="center", transform=ax.transAxes)
        ax.axvspan(lo, hi, color="C1", alpha=0.15)
        ax.set_xlim(0, 1)
        ax.set_xlabel("orbital phase")
        return ax
    ax.axvspan(lo, hi, color="C1", alpha=0.15, label="secondary window")
    pw = pd.get("primary_window", [-0.05, 0.05])
    ax.axvspan(0.0, pw[1], color="0.6", alpha=0.2, label="primary transit")
    ax.axvspan(1.0 + pw[0], 1.0, color="0.6", alpha=0.2)
    ax.errorbar(
        phase,
        flux,
        yerr=err,
        fmt=".",
        ms=3,
        color="C0",
        ecolor="C0",
        elinewidth=0.6,
        alpha=0.8,
        label="binned flux",
    )
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    depth_ppm = pd.get("secondary_depth_ppm")
    m = result.metrics or {}
    if depth_ppm is not None and np.isfinite(depth_ppm):
        ax.hlines(
            1.0 - depth_ppm * 1e-6,
            lo,
            hi,
            color="C3",
            lw=2,
            label=f"secondary depth {depth_ppm:.1f} ppm ({m.get('secondary_depth_sigma', 0):.1f} sigma)",
        )
    # zoom the y-range on the out-of-transit level so the secondary is visible
    oot = (phase > 0.1) & (phase < 0.9)
    if oot.any():
        f = flux[oot]
        pad = 4.0 * float(np.nanmedian(err[oot])) if err.size else 0.0
        ylo, yhi = float(np.nanmin(f)) - pad, float(np.nanmax(f)) + pad
        if np.isfinite(ylo) and np.isfinite(yhi) and yhi > ylo:
            ax.set_ylim(ylo, yhi)
    ax.set_xlim(0, 1)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("orbital phase")
    ax.set_ylabel("normalised flux")
    verdict = f" [{result.verdict}]" if result.verdict else ""
    ax.set_title(
        f"V02 secondary eclipse{verdict}: coverage {m.get('secondary_phase_coverage', 0):.2f}, "
        f"{m.get('n_secondary_events_effective', 0)} events"
    )
    ax.legend(loc="lower left", fontsize=8)
    return ax
