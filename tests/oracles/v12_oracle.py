"""Plain-numpy oracle of the reference V12 (exovetter 0.0.16 SWEET as tess-vetter 0.3.20 wraps it),
written from the spec (reference semantics §6.11): one candidate at a time, a loop over the three
trial periods, numpy's own means, medians, ``fmod``, ``inv`` and ``lstsq``.  ``t``/``f`` are the
valid points in time order."""

from __future__ import annotations

import numpy as np

WARN = (
    "WARN: SWEET test finds signal at HALF transit period",
    "WARN: SWEET test finds signal at the transit period",
    "WARN: SWEET test finds signal at TWICE the transit period",
)
OK = "OK: SWEET finds no out-of-transit variability at transit period"


def _clip(y, n_sigma):
    idx = np.zeros(len(y), bool)
    old = 0
    for _ in range(10000):
        mean, std = np.mean(y[~idx]), np.std(y[~idx])
        new = idx | (np.abs(y - mean) > n_sigma * std)
        if new.sum() == old:
            return new
        old, idx = new.sum(), new
    return idx


def scatter(y):
    d = np.diff(y)
    d = d[~_clip(d, 5.0)]
    return float(1.4826 * np.median(np.abs(d - np.mean(d))) / np.sqrt(2))


def sweet(t, f, P, t0, dur_h, threshold=3.0):
    """(amp (3, 3) rows [amp, unc, snr], message, scatter, n_out) or None when it cannot fit."""
    t = np.asarray(t, float)
    y = np.asarray(f, float) - np.mean(f)
    epoch = (t0 + 2457000.0) - 2457000.0
    dur = dur_h * (1 / 24)
    ks = np.arange(np.floor((t.min() - epoch) / P), np.ceil((t.max() - epoch) / P) + 1)
    intr = np.zeros(t.size, bool)
    for k in ks:
        intr |= np.abs(t - (epoch + P * k)) < 0.5 * dur
    y = y[~intr]
    y = y - np.mean(y) if y.size else y
    if y.size <= 2:
        return None
    s = scatter(y)
    rows = []
    for per in (0.5 * P, P, 2.0 * P):
        ph = np.fmod(t - epoch + per, per)[~intr]
        w = 2 * np.pi / ph.max()
        x = np.column_stack([np.sin(w * ph), np.cos(w * ph)])
        a = np.linalg.inv((x / s).T @ (x / s))
        p = ((x / s).T @ (y / s)) @ a
        var = np.sum((y - x @ p) ** 2) / (y.size - 2)
        amp, unc = np.hypot(p[0], p[1]), np.sqrt(2 * var / y.size)
        rows.append([amp, unc, amp / unc])
    amp = np.array(rows)
    lines = [m for m, snr in zip(WARN, amp[:, 2], strict=True) if snr > threshold]
    return amp, "\n".join(lines) if lines else OK, s, int(y.size)


def plot_fits(t, f, P, t0):
    """The reference's plot data: phase, normalised flux and the fits at 2, 1, 0.5 cycles."""
    ph = ((t - t0) / P) % 1.0
    fl = f / np.nanmedian(f)
    if ph.size > 600:
        idx = np.linspace(0, ph.size - 1, 600).astype(int)
        ph, fl = ph[idx], fl[idx]
    fits = []
    for k in (2.0, 1.0, 0.5):
        w = 2.0 * np.pi * k * ph
        x = np.column_stack([np.sin(w), np.cos(w), np.ones_like(w)])
        fits.append(x @ np.linalg.lstsq(x, fl, rcond=None)[0])
    return ph, fl, fits
