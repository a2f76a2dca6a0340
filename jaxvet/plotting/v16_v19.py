"""V16 and V19 plots: the folded light curve with the three competing models; the box scores at
the five harmonics."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult


def plot_model_competition(result: CheckResult, ax=None):
    """Binned median flux vs phase ``((t - t0) mod P)/P`` (shifted to [-0.5, 0.5)) with the
    transit, transit + sinusoid and EB-like models of ``plot_data``.  Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    pd = (result.raw or {}).get("plot_data") or {}
    ph = np.asarray(pd.get("phase", []), dtype=float)
    if ph.size == 0:
        ax.text(0.5, 0.5, f"V16 {result.status}: no binned data", ha="center", va="center",
                transform=ax.transAxes)
        return ax
    x = np.where(ph >= 0.5, ph - 1.0, ph)
    order = np.argsort(x)
    ppm = lambda k: (np.asarray(pd[k], dtype=float)[order] - 1.0) * 1e6  # noqa: E731
    ax.plot(x[order], ppm("flux"), ".", color="0.4", ms=4, label="binned median flux")
    for key, color, label in (("transit_model", "C0", "transit only"),
                              ("sinusoid_model", "C1", "transit + sinusoid"),
                              ("eb_like_model", "C3", "EB-like")):
        ax.plot(x[order], ppm(key), "-", color=color, lw=1.2, label=label)
    ax.set_xlabel("phase")
    ax.set_ylabel("flux - 1 [ppm]")
    m = result.metrics
    if m:
        ax.set_title(f"V16 model competition: {m.get('model_competition_label')} "
                     f"(winner {m.get('winner')}, dBIC {m.get('winner_margin_bic', float('nan')):.1f})")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.8)
    return ax


def plot_alias_diagnostics(result: CheckResult, ax=None):
    """Box score at P, P/2, 2P, P/3 and 3P (bars; P in dark blue, the best other harmonic in
    orange).  Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    pd = (result.raw or {}).get("plot_data") or {}
    labels = list(pd.get("harmonic_labels", []))
    scores = np.asarray(pd.get("harmonic_scores", []), dtype=float)
    if not labels:
        ax.text(0.5, 0.5, f"V19 {result.status}: no scores", ha="center", va="center", transform=ax.transAxes)
        return ax
    best = result.metrics.get("best_other_harmonic")
    colors = ["C0" if lab == "P" else ("C1" if lab == best else "0.6") for lab in labels]
    periods = pd.get("harmonic_periods", [])
    ax.bar(range(len(labels)), scores, color=colors)
    ax.set_xticks(range(len(labels)), [f"{lab}\n{p:.3f} d" for lab, p in zip(labels, periods, strict=True)])
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_ylabel("box score [sigma]")
    m = result.metrics
    ratio = m.get("best_other_over_base_score_ratio")
    ratio_s = "inf" if ratio is None or not np.isfinite(ratio) else f"{ratio:.3f}"
    ax.set_title(f"V19 alias diagnostics: best other {best}, ratio {ratio_s}, "
                 f"{m.get('n_phase_shift_events')} phase-shift event(s)")
    return ax
