"""V03 plot: observed transit duration against the stellar-density expectation."""

from __future__ import annotations

from jaxvet.results import CheckResult


def plot_duration_consistency(result: CheckResult, ax=None):
    """Observed duration and expected duration (with its 20% error) as two points.

    Draws ``raw["plot_data"]`` (``observed_hours``, ``expected_hours``, ``expected_hours_err``,
    ``duration_ratio``).  Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    pd = (result.raw or {}).get("plot_data") or {}
    if "observed_hours" not in pd:
        ax.text(
            0.5, 0.5, f"V03 {result.status}: no plot data", ha="center", va="center", transform=ax.transAxes
        )
        return ax
    obs, exp, err = pd["observed_hours"], pd["expected_hours"], pd.get("expected_hours_err", 0.0)
    corrected = (result.metrics or {}).get("density_corrected", False)
    ax.errorbar(
        [1],
        [exp],
        yerr=[err],
        fmt="s",
        color="C1",
        capsize=6,
        label="expected (" + ("stellar density" if corrected else "solar-type host") + ")",
    )
    ax.plot([0], [obs], "o", color="C0", ms=8, label="observed")
    ax.axhspan(exp - err, exp + err, color="C1", alpha=0.12)
    ax.set_xticks([0, 1], ["observed", "expected"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylim(0, max(obs, exp + err) * 1.25)
    ax.set_ylabel("transit duration [h]")
    ax.set_title(f"V03 duration ratio {pd.get('duration_ratio', float('nan')):.3f}")
    ax.legend(loc="lower right", fontsize=8)
    return ax
