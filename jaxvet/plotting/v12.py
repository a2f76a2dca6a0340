"""V12 plot: the light curve folded on P with the sinusoid fits at P/2, P and 2P."""

from __future__ import annotations

import numpy as np

from jaxvet.results import CheckResult

_FITS = (("half_period_fit", "P/2", "snr_half_period", "C1"), ("at_period_fit", "P", "snr_at_period", "C3"),
         ("double_period_fit", "2P", "snr_double_period", "C2"))  # fmt: skip
#: phase bins of the binned-mean overlay
N_BINS = 30


def plot_sweet(result: CheckResult, ax=None):
    """The 600 folded points of ``plot_data`` (flux over its median, ppm), their means in 30
    phase bins and the three fits (2, 1 and 0.5 cycles per phase), each labelled with SWEET's
    SNR at that trial period; the y range follows the bin means and fits.  Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    pd = (result.raw or {}).get("plot_data") or {}
    if not pd.get("phase"):
        why = ", ".join(result.flags + result.notes)
        ax.text(0.5, 0.5, f"V12 {result.status}: no plot data ({why})", ha="center", va="center",
                transform=ax.transAxes, fontsize=8)  # fmt: skip
        return ax
    ph = np.asarray(pd["phase"])
    order = np.argsort(ph, kind="stable")
    ppm = lambda key: (np.asarray(pd[key])[order] - 1.0) * 1e6  # noqa: E731
    flux = ppm("flux")
    ax.plot(ph[order], flux, ".", ms=2, color="0.75", label="flux (folded on P)")
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    k = np.clip(np.searchsorted(edges, ph[order], side="right") - 1, 0, N_BINS - 1)
    cnt = np.bincount(k, minlength=N_BINS)
    means = np.bincount(k, weights=flux, minlength=N_BINS) / np.maximum(cnt, 1)
    centre = 0.5 * (edges[1:] + edges[:-1])
    ax.plot(centre[cnt > 0], means[cnt > 0], "o", ms=3, color="k", label=f"{N_BINS}-bin means")
    span = [np.abs(means[cnt > 0]).max(initial=0.0)]
    for key, label, snr_key, colour in _FITS:
        if pd.get(key):
            snr = pd.get(snr_key)
            snr_s = "nan" if snr is None or not np.isfinite(snr) else f"{snr:.2f}"
            ax.plot(ph[order], ppm(key), "-", color=colour, lw=1.5, label=f"{label} fit (SNR {snr_s})")
            span.append(np.abs(ppm(key)).max(initial=0.0))
    lim = 1.5 * max(span)
    if np.isfinite(lim) and lim > 0:
        ax.set_ylim(-lim, lim)  # the bin means and fits; single points may lie outside
    ax.set_xlabel("phase")
    ax.set_ylabel("flux / median - 1 (ppm)")
    verdict = result.verdict or "none"
    ax.set_title(f"V12 SWEET: {verdict}  (threshold {result.raw.get('threshold_sigma', 3.0):g} sigma)",
                 fontsize=9)  # fmt: skip
    ax.legend(loc="lower right", fontsize=7)
    return ax
