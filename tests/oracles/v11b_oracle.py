"""Plain-numpy V11b (ModShift uniqueness) written from docs/checks.md and
../shared/reference-semantics.md §6.10: loops over bins and epochs, no jaxvet kernels.

``v11b(t, f, e, P, t0, dh)`` returns a dict of the metrics (NaN where undefined) plus
``status`` ("ok"/"error") and ``warnings``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcinv


def _wmean(y, e):
    w = 1 / e**2
    return np.sum(w * y) / np.sum(w)


def _wstd(y, e):
    if len(y) < 2:
        return np.nan
    w = 1 / e**2
    n = len(y)
    m = np.sum(w * y) / np.sum(w)
    return np.sqrt(np.sum(w * (y - m) ** 2) / ((n - 1) * np.sum(w) / n))


def _cdist(a, b):
    d = np.abs(a - b)
    return np.minimum(d, 1 - d)


def _bins(t, f, e, ph, P, t0, q, zpt, n_bins):
    pp = np.where(ph < 0, ph + 1, ph)
    edges = np.linspace(0, 1, n_bins + 1)
    cen = 0.5 * (edges[1:] + edges[:-1])
    dep, err, nep = np.full(n_bins, np.nan), np.full(n_bins, np.nan), np.zeros(n_bins, int)
    for b, c in enumerate(cen):
        sel = _cdist(pp, c) < q / 2
        if not sel.any():
            continue
        dep[b] = zpt - _wmean(f[sel], e[sel])
        err[b] = 1 / np.sqrt(np.sum(1 / e[sel] ** 2))
        nep[b] = np.unique(np.round((t[sel] - t[sel].min()) / P)).size
    return cen, pp, dep, err, nep


def _chases_chi(t, f, e, ph, P, t0, q, pri, frac):
    ep = np.round((t - t0) / P)
    eps = np.unique(ep)
    out = np.abs(ph) > q
    if eps.size < 3 or out.sum() < 3:
        return np.nan, np.nan
    zpt = _wmean(f[out], e[out])
    ses = (zpt - f) / e
    ch, obs = [], []
    for k in eps:
        it = (ep == k) & (np.abs(ph) < q)
        if it.any():
            tt, ts = t[it].mean(), ses[it].mean()
            if not np.isfinite(ts) or ts <= 0:
                ch.append(1.0)
            else:
                sig = (ep == k) & (np.abs(ph) > q) & (np.abs(ph) < 0.1) & (np.abs(ses) > frac * ts)
                ch.append(np.abs(t[sig] - tt).min() / (0.1 * P) if sig.any() else 1.0)
        if it.sum() >= 2:
            d = zpt - _wmean(f[it], e[it])
            de = 1 / np.sqrt(np.sum(1 / e[it] ** 2))
            exp = pri / np.sqrt(eps.size)
            if np.isfinite(d / de) and np.isfinite(exp) and exp > 0:
                obs.append((d / de, exp))
    med = float(np.median(ch)) if ch else np.nan
    if len(obs) < 3:
        return med, np.nan
    o = np.array(obs)
    chi2 = np.sum((o[:, 0] - o[:, 1]) ** 2 / np.abs(o[:, 1]))
    return med, (pri / np.sqrt(chi2 / (len(obs) - 1)) if chi2 > 0 else np.nan)


def v11b(t, f, e, P, t0, dh, *, n_tce=20000, frac=0.5, n_bins=200):
    t, f, e = (np.asarray(x, float) for x in (t, f, e))
    ok = np.isfinite(t) & np.isfinite(f) & np.isfinite(e) & (e > 0)
    t, f, e = t[ok], f[ok], e[ok]
    if t.size < 10:
        return {"status": "error", "warnings": ["INSUFFICIENT_VALID_DATA"]}
    warn = []
    q = dh / 24 / P
    if q >= 0.5:
        q = 0.49
        warn.append("DURATION_TOO_LONG")
    n_tr = np.unique(np.round((t - t0) / P)).size
    if n_tr < 3:
        warn.append("FEW_TRANSITS")
    ph = np.mod(t - t0, P) / P
    ph = np.where(ph > 0.5, ph - 1, ph)
    it = np.abs(ph) < q
    n_in, n_out = int(it.sum()), int((~it).sum())
    if n_out < 3:
        return {"status": "error", "warnings": warn + ["INSUFFICIENT_OUT_OF_TRANSIT"], "n_in": n_in}
    zpt = _wmean(f[~it], e[~it])
    cen, pp, bdep, berr, bnep = _bins(t, f, e, ph, P, t0, q, zpt, n_bins)
    idx = np.clip(np.floor(pp * n_bins).astype(int), 0, n_bins - 1)
    dep, err = bdep[idx], berr[idx]
    sw = _wstd(f[~it], e[~it])
    far = (np.abs(cen - 0.5) > 2 * q) & (cen > 2 * q) & np.isfinite(bdep)
    sr = np.std(bdep[far]) if (np.isfinite(bdep).sum() > 2 and far.sum() > 2) else sw
    with np.errstate(divide="ignore", invalid="ignore"):
        mes = dep / np.sqrt(sw**2 / n_in + sr**2 / np.maximum(bnep[idx], 1))
    fin = np.isfinite(mes)
    cand = np.flatnonzero(fin & it)
    pri = sec = ter = pos = np.nan
    p_pri, p_sec = 0.0, 0.5
    if cand.size:
        i = cand[np.argmax(mes[cand])]
        pri, p_pri = mes[i], ph[i]
        dp = _cdist(ph, p_pri)
        c2 = np.flatnonzero(fin & (dp >= 2 * q))
        sec, p_sec = (0.0, 0.5) if c2.size == 0 else (mes[c2[np.argmax(mes[c2])]], ph[c2[np.argmax(mes[c2])]])
        ds = _cdist(ph, p_sec)
        c3 = fin & (dp >= 2 * q) & (ds >= 2 * q)
        ter = mes[c3].max() if c3.any() else 0.0
        c4 = fin & (dp >= 3 * q) & (ds >= 3 * q)
        pos = (-mes[c4]).max() if c4.any() else 0.0
    sel = (_cdist(ph, p_pri) >= 2 * q) & (_cdist(ph, p_sec) >= q) & np.isfinite(dep)
    fred = np.nan
    if sel.sum() >= 3:
        white = _wstd(f[sel], e[sel])
        if np.isfinite(white) and white > 0:
            fred = np.sqrt(n_in) * _wstd(dep[sel], err[sel]) / white
    fa1 = np.sqrt(2) * erfcinv(np.clip(q * (1 / n_tce), 1e-15, 2 - 1e-15))
    fa2 = np.sqrt(2) * erfcinv(np.clip(q, 1e-15, 2 - 1e-15))
    good = np.isfinite(fred) and fred > 0
    if not good:
        warn.append("FRED_INVALID")
    med, chi = _chases_chi(t, f, e, ph, P, t0, q, pri, frac)
    out = {
        "sig_pri": pri, "sig_sec": sec, "sig_ter": ter, "sig_pos": pos, "fred": fred,
        "fa1": fa1, "fa2": fa2,
        "ms1": pri / fred - fa1 if good else np.nan, "ms2": pri - ter - fa2, "ms3": pri - pos - fa2,
        "ms4": sec / fred - fa1 if good else np.nan, "ms5": sec - ter - fa2, "ms6": sec - pos - fa2,
        "med_chases": med, "chi": chi, "n_in": n_in, "n_out": n_out, "n_transits": n_tr,
    }  # fmt: skip
    if not np.isfinite(pri):
        return {"status": "error", "warnings": warn + ["PRIMARY_SIGNAL_INVALID"], **out}
    return {"status": "ok", "warnings": warn, **out}
