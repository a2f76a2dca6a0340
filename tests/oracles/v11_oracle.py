"""Plain-numpy V11 (exovetter ModShift as tess-vetter wraps it), written from docs/checks.md and
../shared/reference-semantics.md §6.9: numpy histograms and ``np.convolve``, a loop over the
box epochs, no jaxvet kernels.

``v11(t, f, P, t0, dh, depth_ppm)`` (valid points, time-sorted) returns a dict with ``status``
("ok"/"skipped"/"error"), ``message`` for errors, and for ok results the event indices
``pri/sec/ter/pos`` (``pos`` None without a positive event), phases (days), ``sigma_*``,
``Fred``, ``fa``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcinv


def _phases(t, P, epoch):
    n = np.abs(np.min(t) - epoch) / P
    e0 = epoch - np.ceil(n) * P if epoch > np.min(t) else epoch + np.floor(n) * P
    return np.fmod(t - e0, P)


def _box(t, P, epoch, dur_days, depth):
    start = epoch - dur_days * 0.5
    out = np.zeros_like(t)
    for i in range(int(np.floor((t.min() - start) / P)), int(np.floor((t.max() - start) / P)) + 1):
        a = P * i + start
        out[(a <= t) & (t <= a + dur_days)] -= depth
    return out


def _fold(phase, y, P, nb):
    edges = np.arange(nb + 1) / float(nb) * P
    cnt = np.histogram(phase, bins=edges)[0]
    s = np.histogram(phase, bins=edges, weights=y)[0]
    k = cnt > 0
    return edges[:-1][k], s[k], cnt[k]


def _mark(ph, i0, gap):
    p0, pmax = ph[i0], ph.max()
    idx = (p0 - gap < ph) & (ph < p0 + gap)
    if p0 < gap:
        idx |= ph > pmax - (gap - p0)
    if p0 + gap > pmax:
        idx |= ph < p0 + gap - pmax
    return idx


def v11(t, f, P, t0, dh, depth_ppm):
    t, f = np.asarray(t, float), np.asarray(f, float)
    if len(t) >= 2 and t.min() >= 0 and t.max() <= 1.1 * P:
        return {"status": "skipped"}
    if len(t) == 0:
        return {
            "status": "error",
            "message": "zero-size array to reduction operation minimum which has no identity",
        }
    med = np.median(f)
    fz = (f + 1 if np.isclose(med, 0) else f / med) - 1
    epoch = (t0 + 2457000.0) - 2457000.0
    dur_days = dh * (1 / 24.0)
    nb = int(10 * P * 24 / dh)
    if nb < 1:
        return {
            "status": "error",
            "message": "zero-size array to reduction operation maximum which has no identity",
        }
    phase = _phases(t, P, epoch)
    bph, bflux, cnt = _fold(phase, fz, P, nb)
    _, msum, _ = _fold(phase, _box(t, P, epoch, dur_days, (depth_ppm / 1e6) * 1e6 * 1e-6), P, nb)
    with np.errstate(all="ignore"):
        model = (msum / cnt) / -np.trapezoid(msum / cnt, bph)
    if not np.all(np.isfinite(model)):
        return {"status": "error", "message": "model must contain all finite values"}
    conv = np.convolve(np.concatenate([bflux, bflux]), -model, mode="valid")[:-1]
    tw = dh / 24.0
    c = conv.copy()
    i0 = int(np.argmin(c))
    c[_mark(bph, i0, 2 * tw)] = 0
    i1 = int(np.argmin(c))
    c[_mark(bph, i1, 2 * tw)] = 0
    i2 = int(np.argmin(c))
    c[_mark(bph, i0, 3 * tw) | _mark(bph, i1, 3 * tw)] = 0
    i3 = int(np.argmax(c)) if np.any(c) else None
    g = 2 * dh / 24.0
    near = ((i0 - g < phase) & (phase < i0 + g)) | ((i1 - g < phase) & (phase < i1 + g))
    if not np.any(~near):
        return {"status": "error", "message": "RMS calculation failed"}
    sigma = np.std(fz[~near])
    if sigma <= 0:
        return {"status": "error", "message": "sigma must be positive"}
    out = {"status": "ok", "pri": i0, "sec": i1, "ter": i2, "pos": i3}
    for k, i in (("pri", i0), ("sec", i1), ("ter", i2), ("pos", i3)):
        out[f"phase_{k}"] = np.nan if i is None else float(bph[i])
        out[f"sigma_{k}"] = np.nan if i is None else float(conv[i] / sigma)
    out["Fred"] = float(np.std(conv) / np.std(bflux))
    out["fa"] = float(erfcinv(dh / 24.0 / P) * np.sqrt(2))
    out["n_transits"] = int((t.max() - t.min()) / P) if len(t) >= 2 else 0
    return out
