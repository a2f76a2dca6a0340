"""Is there a transit-like signal at all?  The run-level signal record of :func:`jaxvet.vet`.

Every check answers a question about a transit (is it odd/even consistent, V-shaped, ...), and
each reports what it measured; none of them says "there is nothing here".  This module does,
per candidate, from two numbers the engine already has:

* the number of epochs ``t0 + nP`` with a valid cadence within half a duration
  (:func:`transits_on_data`), computed on the host from the sorted times;
* the reference's depth estimate on the whole light curve (``median(out) - median(in)`` and
  its error, :func:`jaxvet.core.depth.sector_transit_depths` with every point as one sector),
  the same measurement that fills ``depth_ppm`` for a candidate given without a depth.

A candidate is flagged ``NO_SIGNAL`` when its measured depth is not positive or its SNR
(depth / error) is below :data:`NO_SIGNAL_SNR` (3), and ``NO_TRANSIT_ON_DATA`` when no epoch
falls on the data (then nothing was measured).  :func:`jaxvet.vet` also warns
(:class:`~jaxvet.errors.NoTransitWarning`) for candidates with no transit on the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jaxvet.data import Candidate, LightCurve

__all__ = [
    "NO_SIGNAL",
    "NO_SIGNAL_SNR",
    "NO_TRANSIT_ON_DATA",
    "no_transit_messages",
    "signal_records",
    "transits_on_data",
]

#: flag of a candidate whose measured depth is <= 0 or whose depth SNR is below NO_SIGNAL_SNR
NO_SIGNAL = "NO_SIGNAL"
#: flag of a candidate none of whose transits falls on the data
NO_TRANSIT_ON_DATA = "NO_TRANSIT_ON_DATA"
#: depth / error below which a candidate has no measured signal
NO_SIGNAL_SNR = 3.0
#: At most this many epochs per candidate are looked at by :func:`transits_on_data`.
_MAX_EPOCHS = 20000


def transits_on_data(time: np.ndarray, period, t0, duration_days) -> np.ndarray:
    """Number of epochs ``t0 + n P`` with a cadence within half a duration, per candidate.

    time : (N,) sorted BTJD of the valid cadences.  period, t0, duration_days : (B,).
    Returns (B,) int; candidates with more than ``_MAX_EPOCHS`` epochs over the data count
    only their first ``_MAX_EPOCHS``.  Vectorised over candidates and epochs (one
    ``searchsorted`` of every epoch centre).
    """
    period = np.asarray(period, float)
    t0 = np.asarray(t0, float)
    half = 0.5 * np.asarray(duration_days, float)
    if time.size == 0:
        return np.zeros(period.shape, int)
    n_lo = np.ceil((time[0] - half - t0) / period)
    n_hi = np.floor((time[-1] + half - t0) / period)
    count = np.clip(n_hi - n_lo + 1, 0, _MAX_EPOCHS).astype(int)
    owner = np.repeat(np.arange(period.size), count)
    first = np.repeat(np.cumsum(count) - count, count)
    epoch = n_lo[owner] + (np.arange(owner.size) - first)
    mid = t0[owner] + epoch * period[owner]
    i = np.clip(np.searchsorted(time, mid), 1, max(time.size - 1, 1))
    nearest = np.minimum(np.abs(time[np.minimum(i, time.size - 1)] - mid), np.abs(time[i - 1] - mid))
    return np.bincount(owner, weights=nearest <= half[owner], minlength=period.size).astype(int)


def _valid_times(lc: LightCurve) -> np.ndarray:
    return np.sort(np.asarray(lc.time)[np.asarray(lc.valid)])


def count_transits(
    lightcurves: Sequence[LightCurve], candidates: Sequence[Candidate], lc_index: np.ndarray
) -> np.ndarray:
    """(B,) transits on the data of each candidate's own light curve."""
    li = np.asarray(lc_index, dtype=np.int64)
    out = np.zeros(len(candidates), int)
    for row in np.unique(li):  # one vectorised call per light curve (a run has a handful)
        sel = np.nonzero(li == row)[0]
        cs = [candidates[i] for i in sel]
        out[sel] = transits_on_data(
            _valid_times(lightcurves[row]),
            [c.period_days for c in cs],
            [c.t0_btjd for c in cs],
            [c.duration_days for c in cs],
        )
    return out


def signal_records(depth, err, n_in, n_transits) -> list[dict]:
    """Per-candidate signal records from the whole-light-curve depth measurement.

    depth, err : (B,) fractional depth and its error; n_in : (B,) in-transit points;
    n_transits : (B,) transits on the data.  Returns ``[{"depth_ppm", "depth_err_ppm",
    "snr", "n_in_transit", "n_transits_on_data", "flags"}, ...]``; the depth fields are None
    where nothing was measured (no in-transit point).
    """
    out = []
    for d, e, k, nt in zip(np.asarray(depth, float), np.asarray(err, float), np.asarray(n_in),
                           np.asarray(n_transits), strict=True):
        measured = int(k) > 0 and np.isfinite(d) and np.isfinite(e) and e > 0
        snr = float(d / e) if measured else None
        flags = []
        if int(nt) == 0:
            flags.append(NO_TRANSIT_ON_DATA)
        if not measured or d <= 0 or snr < NO_SIGNAL_SNR:
            flags.append(NO_SIGNAL)
        out.append({
            "depth_ppm": round(float(d) * 1e6, 3) if measured else None,
            "depth_err_ppm": round(float(e) * 1e6, 3) if measured else None,
            "snr": round(snr, 3) if measured else None,
            "n_in_transit": int(k),
            "n_transits_on_data": int(nt),
            "flags": flags,
        })
    return out


def no_transit_messages(
    lightcurves: Sequence[LightCurve],
    candidates: Sequence[Candidate],
    lc_index: np.ndarray,
    n_transits: np.ndarray,
    *,
    limit: int = 5,
    t0_hint: str = "t0 and its time system",
) -> list[str]:
    """One message per candidate (up to ``limit``, then a count) with no transit on the data."""
    bad = np.nonzero(np.asarray(n_transits) == 0)[0]
    msgs = []
    for i in bad[:limit]:
        c = candidates[i]
        t = _valid_times(lightcurves[int(lc_index[i])])
        span = f"{t[0]:.2f}-{t[-1]:.2f} BTJD" if t.size else "no valid cadences"
        msgs.append(
            f"no transit of candidate {c.id if c.id is not None else i} (P={c.period_days:g} d, "
            f"t0={c.t0_btjd:.5f} BTJD) falls on the data ({span}); check {t0_hint}"
        )
    if bad.size > limit:
        msgs.append(f"... and {bad.size - limit} more candidate(s) with no transit on the data")
    return msgs
