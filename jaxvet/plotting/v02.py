"""V02 plot: the phase-folded, binned light curve with the secondary window and measured depth."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult


def plot_secondary_eclipse(result: CheckResult, ax=None):
    """Binned phase curve (phase 0..1, primary at 0 and 1) with the secondary window shaded.

    Draws ``raw["plot_data"]``: binned flux / baseline with 1-sigma errors over a y-range that
    holds the primary transit, the reference's search window (0.35-0.65), the local secondary
    box and its baseline ring, the baseline level 1 and the reference's secondary level
    ``1 - depth`` across the window; an inset zooms on the local window (per-event normalised
    profile and the local depth).  Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
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
    pw = pd.get("primary_transit_phase") or pd.get("primary_window", [-0.05, 0.05])
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
    local = pd.get("local") or {}
    _mark_local(ax, local, label=True)
    # the y-range holds every bin, the primary transit included
    top, bottom = flux + np.nan_to_num(err), flux - np.nan_to_num(err)
    ylo, yhi = float(np.nanmin(bottom)), float(np.nanmax(top))
    if np.isfinite(ylo) and np.isfinite(yhi) and yhi > ylo:
        pad = 0.05 * (yhi - ylo)
        ax.set_ylim(ylo - pad, yhi + pad)
    if local.get("phase"):
        _local_inset(ax, local, m)
    ax.set_xlim(0, 1)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("orbital phase")
    ax.set_ylabel("normalised flux")
    verdict = f" [{result.verdict}]" if result.verdict else ""
    ax.set_title(
        f"V02 secondary eclipse{verdict}: coverage {m.get('secondary_phase_coverage', 0):.2f}, "
        f"{m.get('n_secondary_events_effective', 0)} events"
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0.0)
    return ax


def _mark_local(ax, local: dict, *, label: bool) -> None:
    """Shade the local baseline ring and the secondary box (phase units)."""
    if not local.get("box"):
        return
    (b0, b1), (r0, r1) = local["box"], local["baseline"]
    ax.axvspan(r0, b0, color="C2", alpha=0.18, lw=0, label="local baseline" if label else None)
    ax.axvspan(b1, r1, color="C2", alpha=0.18, lw=0)
    ax.axvspan(b0, b1, color="C3", alpha=0.22, lw=0, label="secondary box" if label else None)


def _local_inset(ax, local: dict, m: dict):
    """Zoom on the local window: the per-event normalised profile, box, baseline, local depth."""
    ins = ax.inset_axes([0.3, 0.06, 0.4, 0.44])
    ins.plot(local["phase"], local["flux"], ".", ms=3, color="C0", label="local profile")
    _mark_local(ins, local, label=False)
    ins.axhline(1.0, color="k", lw=0.6, ls=":")
    d = local.get("depth_ppm")
    if d is not None:
        b0, b1 = local["box"]
        ins.hlines(1.0 - d * 1e-6, b0, b1, color="C3", lw=2, label="local depth")
        sig = m.get("secondary_local_depth_sigma")
        sig_txt = "" if sig is None else f", {sig:.1f} sigma"
        ins.set_title(f"local: {d:.0f} ppm{sig_txt}", fontsize=7)
    else:
        ins.set_title("local: not measured", fontsize=7)
    r0, r1 = local["baseline"]
    ins.set_xlim(r0, r1)
    ins.tick_params(labelsize=6)
    ins.ticklabel_format(axis="y", useOffset=False)
    return ins
