"""V11 plot: the ModShift significance series over phase with its four events."""

from __future__ import annotations

from jaxvet.results import CheckResult

_EVENTS = (("pri", "primary", "C3"), ("sec", "secondary", "C1"), ("ter", "tertiary", "C2"),
           ("pos", "positive", "C0"))  # fmt: skip


def plot_modshift(result: CheckResult, ax=None):
    """The convolution of the folded light curve with the box model in units of the point scatter
    (``plot_data``: min/max per phase bin), the primary, secondary, tertiary and positive events
    and the false-alarm threshold in units of the series' scatter ``u`` around zero.  Returns the
    axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    pd = (result.raw or {}).get("plot_data") or {}
    if "significance_phase" not in pd:
        why = ", ".join(result.notes or result.flags)
        ax.text(0.5, 0.5, f"V11 {result.status}: no plot data ({why})", ha="center", va="center",
                transform=ax.transAxes, fontsize=8)  # fmt: skip
        return ax
    ph = pd["significance_phase"]
    ax.fill_between(ph, pd["significance_min"], pd["significance_max"], step="mid", color="0.6", lw=0,
                    label="conv / sigma (min-max)")  # fmt: skip
    for key, label, colour in _EVENTS:
        p, s = pd["event_phase"].get(key), pd["event_sigma"].get(key)
        if p is None or s is None or s != s:
            continue
        ax.plot([p], [s], "v" if s < 0 else "^", color=colour, ms=7, label=f"{label} {s:.4g}")
    fa, u = pd.get("false_alarm_threshold"), pd.get("significance_scatter")
    if fa is not None and u is not None and u == u:
        ax.axhspan(-fa * u, fa * u, color="C4", alpha=0.2, lw=0, label=f"+-FA x scatter ({fa:.3g} x {u:.3g})")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("phase")
    ax.set_ylabel("significance (conv / point scatter)")
    ratio = result.metrics.get("secondary_primary_ratio")
    ax.set_title(f"V11 ModShift: sec/pri {ratio}, verdict {result.verdict}", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return ax
