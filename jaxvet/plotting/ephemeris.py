"""V17 and V18 plots, drawn from ``raw["plot_data"]``."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult


def _no_data(ax, result: CheckResult):
    ax.text(0.5, 0.5, f"{result.id} {result.status}: no plot data", ha="center", va="center",
            transform=ax.transAxes, fontsize=8)  # fmt: skip
    return ax


def plot_ephemeris_reliability(result: CheckResult, ax=None):
    """V17: the smooth-template score against the phase shift of t0 (0 = the candidate's t0,
    the red point) and, inset, against the neighbouring periods.  Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    pd = (result.raw or {}).get("plot_data") or {}
    if "null_scores" not in pd:
        return _no_data(ax, result)
    ph, s = np.asarray(pd["phase_shifts"]), np.asarray(pd["null_scores"])
    ax.plot(ph[1:], s[1:], ".", ms=3, color="0.5", label="shifted t0")
    ax.plot(ph[:1], s[:1], "o", color="C3", ms=6, label="candidate t0")
    ax.set_xlabel("t0 shift [phase]")
    ax.set_ylabel("template score")
    m = result.metrics
    ax.set_title(f"V17 {m.get('uniqueness_regime')}: z {m.get('phase_shift_null_z', float('nan')):.2f}, "
                 f"peak/next {m.get('period_peak_to_next_ratio', float('nan')):.3f}", fontsize=9)  # fmt: skip
    ins = ax.inset_axes([0.62, 0.55, 0.35, 0.4])
    ins.plot(pd["period_neighborhood"], pd["neighborhood_scores"], "-o", ms=2, color="C0", label="periods")
    ins.tick_params(labelsize=6)
    ins.set_xlabel("period [d]", fontsize=6)
    ax.legend(loc="lower left", fontsize=7)
    ax.figure.tight_layout()
    return ax


def plot_ephemeris_sensitivity(result: CheckResult, ax=None):
    """V18: |score| of every sweep variant (failed variants as empty bars).  Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    pd = (result.raw or {}).get("plot_data") or {}
    table = pd.get("sweep_table") or []
    if not table:
        return _no_data(ax, result)
    vals = [abs(r["score"]) if r["score"] is not None else 0.0 for r in table]
    colours = ["C0" if r["status"] == "ok" else "none" for r in table]
    ax.bar(range(len(table)), vals, color=colours, edgecolor="C0")
    ax.set_xticks(range(len(table)))
    ax.set_xticklabels([r["variant_id"] for r in table], rotation=70, fontsize=6, ha="right")
    ax.set_ylabel("|template score|")
    mv = result.metrics.get("metric_variance")
    title = f"V18 metric_variance {mv:.3f}" if mv is not None else "V18 (too few ok variants)"
    ax.set_title(title, fontsize=9)
    ax.figure.tight_layout()
    return ax
