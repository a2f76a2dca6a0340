"""V13 plot: the missing-cadence fraction of the worst transit epochs."""

from __future__ import annotations

from jaxvet.results import CheckResult


def plot_data_gaps(result: CheckResult, ax=None):
    """Missing fraction per epoch (``raw["worst_epochs"]``: the epochs with the largest missing
    fraction, at most ``max_epoch_rows``), bars at the transit centres; epochs whose window holds
    no point (outside the data coverage) hatched.  Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    rows = sorted((result.raw or {}).get("worst_epochs") or [], key=lambda r: r["epoch_index"])
    if not rows:
        ax.text(0.5, 0.5, f"V13 {result.status}: no epochs", ha="center", va="center", transform=ax.transAxes)
        return ax
    x = list(range(len(rows)))
    miss = [r["missing_frac"] for r in rows]
    cov = [r["n_observed"] > 0 for r in rows]
    pick = lambda keep: ([i for i, c in zip(x, cov, strict=True) if c == keep],  # noqa: E731
                         [v for v, c in zip(miss, cov, strict=True) if c == keep])
    ax.bar(*pick(True), color="C0", label="in coverage")
    if not all(cov):
        ax.bar(*pick(False), color="0.8", hatch="//", edgecolor="0.5", label="no point in window")
    ax.axhline(0.25, color="C3", ls="--", lw=1, label="0.25")
    ax.set_xticks(x, [f"{r['epoch_index']}\n{r['t_center_btjd']:.1f}" for r in rows], fontsize=7)
    ax.set_xlabel("epoch / centre [BTJD]")
    ax.set_ylabel("missing cadence fraction")
    ax.set_ylim(0, 1.05)
    hours = ((result.raw or {}).get("plot_data") or {}).get("transit_window_hours")
    m = result.metrics or {}
    ax.set_title(f"V13 window {hours:.1f} h: max {m.get('missing_frac_max')}, "
                 f"in coverage {m.get('missing_frac_max_in_coverage')}", fontsize=9)  # fmt: skip
    ax.legend(loc="upper right", fontsize=7)
    return ax
