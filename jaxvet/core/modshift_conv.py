"""ModShift by convolution (V11): exovetter 0.0.16's ``compute_modshift_metrics`` on padded rows.

Coughlin's ModShift (Coughlin et al. 2016, ApJS 224, 12, §4.3; Thompson et al. 2018, ApJS 235,
38, §3.2.3) convolves the phase-folded light curve with the transit model and reads the
strongest dips and the strongest brightening off the result.  exovetter's version, reproduced
here for one candidate on its ``(N,)`` light-curve row (``jax.vmap`` it over a batch), is:

* phases in days ``fmod(t - epoch0, P)``, ``epoch0`` the epoch moved to just before the first
  time (exovetter's ``compute_phases(offset=0)``); ``n_bins = int(10 P 24 / D_h)`` bins with
  edges ``(i/n_bins) P`` (numpy ``histogram``: left-closed, the last bin closed); only the
  non-empty bins are kept (so the kept count varies per candidate: padded and masked here);
* the binned flux is the *sum* of the median-normalised flux (``f/median - 1``) per bin; the
  model is exovetter's box (``-depth`` on ``[P i + epoch - D/2, P i + epoch + D/2]``) averaged
  per bin and divided by minus its trapezoid integral over the kept bin phases (days);
* ``conv`` = ``np.convolve(concat(flux, flux), -model, 'valid')`` without its last value, a
  circular convolution over the *kept* bins: ``conv[k] = -sum_m model[m] flux[(k - 1 - m) mod
  n_kept]``.  The model is non-zero only in the bins holding box points (at most
  :data:`MODEL_SLOTS`, see :func:`circular_conv`), so the sum runs over those;
* primary = argmin conv; the kept bins within ``2 D`` of it (circular, with the largest kept
  phase as the period) are zeroed, secondary = argmin, zeroed likewise, tertiary = argmin;
  both ``3 D`` ranges zeroed, positive = argmax (none if everything left is zero);
* the scatter ``sigma`` is the std of the flux of the points whose phase is *not* within
  ``2 D`` of the primary's and secondary's bin **indices** taken as days (exovetter passes the
  indices where it means phases); significances ``conv/sigma``;
* ``false_alarm_threshold = sqrt(2) erfcinv(D/P)``; ``Fred = std(conv)/std(binned flux)``.

Exactness: phases use the IEEE division and an exact remainder
(:func:`~jaxvet.core.numerics.floor_mod`), products are rounded on their own, and the bin of a
point is an arithmetic estimate corrected against the exact edges, so bin membership equals
numpy's; sums differ from numpy's (cumulative-sum differences, pairwise reductions) in the last
bits only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.numerics import exact_div, floor_mod, rounded_mul
from jaxvet.core.scatter import lane_segment_sum, materialise

__all__ = [
    "BTJD_OFFSET",
    "HOUR_IN_DAYS",
    "MODEL_SLOTS",
    "ERR_EMPTY",
    "ERR_NO_BINS",
    "ERR_MODEL",
    "ERR_RMS",
    "ERR_SIGMA",
    "ERROR_MESSAGES",
    "c_fmod",
    "exovetter_phase",
    "box_model",
    "fold_bins",
    "circular_conv",
    "mark_phase_range",
    "key_events",
    "modshift_convolution",
]

#: exovetter's BTJD offset: the epoch goes through ``(t0 + 2457000) - 2457000`` (days)
BTJD_OFFSET = 2457000.0
#: astropy's hour -> day scale (``(x * u.hour).to_value(u.day)`` multiplies by it)
HOUR_IN_DAYS = 1.0 / 24.0
#: static slots for the non-zero model bins (the box covers at most ~14 bins: bins are >= D/10)
MODEL_SLOTS = 32
#: error codes (0: none) and exovetter's messages for them
ERR_EMPTY, ERR_NO_BINS, ERR_MODEL, ERR_RMS, ERR_SIGMA = 1, 2, 3, 4, 5
ERROR_MESSAGES = {
    ERR_EMPTY: "zero-size array to reduction operation minimum which has no identity",
    ERR_NO_BINS: "zero-size array to reduction operation maximum which has no identity",
    ERR_MODEL: "model must contain all finite values",
    ERR_RMS: "RMS calculation failed",
    ERR_SIGMA: "sigma must be positive",
}


def c_fmod(x, p):
    """C's ``fmod(x, p)`` for ``p > 0`` (the remainder with the sign of ``x``), exactly."""
    r = floor_mod(jnp.abs(x), p)
    return jnp.where(x < 0, -r, r)


def exovetter_phase(t, t_min, period, epoch):
    """exovetter ``compute_phases(t, P, epoch, offset=0)``: phase in days, ``[0, P)`` for
    ``t >= t_min``; ``t_min`` is the first time of the light curve."""
    n = exact_div(jnp.abs(t_min - epoch), period)
    e_lo = epoch - rounded_mul(jnp.ceil(n), period)
    e_hi = epoch + rounded_mul(jnp.floor(n), period)
    epoch0 = jnp.where(epoch > t_min, e_lo, e_hi)
    return c_fmod(t - epoch0, period)


def box_model(t, valid, t_min, t_max, period, epoch, dur_days, depth, *, n_back: int):
    """exovetter ``create_box_model``: ``-depth`` subtracted once per box ``[P i + e, P i + e +
    D]`` (``e = epoch - D/2``, ``i`` over the epochs of the light curve) holding the point.

    Each point checks the boxes ``k - n_back .. k + 1`` with ``k = floor((t - e)/P)`` (static
    ``n_back >= ceil(D/P)`` covers overlapping boxes; the outer two absorb rounding), in
    ascending order like exovetter's loop."""
    e = epoch - rounded_mul(dur_days, 0.5)
    e0 = jnp.floor(exact_div(t_min - e, period))
    e1 = jnp.floor(exact_div(t_max - e, period))
    k = jnp.floor(exact_div(t - e, period))
    out = jnp.zeros_like(t)
    for off in range(-n_back, 2):  # a handful of static offsets (not a loop over epochs)
        i = k + off
        a = rounded_mul(period, i) + e
        hit = valid & (i >= e0) & (i <= e1) & (a <= t) & (t <= a + dur_days)
        out = jnp.where(hit, out - depth, out)
    return out


def fold_bins(phase, valid, period, n_bins, values, *, n_slots: int):
    """exovetter ``fold_and_bin_data``: per-bin counts and sums of each of ``values`` over the
    ``n_bins`` (traced, ``<= n_slots``) bins, the empty bins dropped.

    Returns ``(edge, counts, sums, n_kept)``: ``(n_slots,)`` arrays of the kept bins packed
    first in phase order (left edge in days, count as a float, one sum per value), padding
    after (edge ``inf``, zeros).  One scatter per value (the counts in integers, the sums in
    interleaved lanes, :func:`~jaxvet.core.scatter.lane_segment_sum`), then the kept bins
    gathered to the front."""
    nb = jnp.maximum(n_bins, 1).astype(jnp.float64)
    i = jnp.arange(n_slots + 1, dtype=jnp.float64)
    edges = rounded_mul(exact_div(i, nb + 0.0 * i), period)
    k = jnp.clip(jnp.floor(exact_div(phase, period) * nb), 0, nb - 1).astype(jnp.int32)
    top = jnp.maximum(n_bins, 1).astype(jnp.int32) - 1
    k = jnp.where((k > 0) & (phase < edges[k]), k - 1, k)
    k = jnp.where((k < top) & (phase >= edges[jnp.minimum(k + 1, n_slots)]), k + 1, k)
    inside = valid & (phase >= 0.0) & (phase <= period)
    (seg,) = materialise(jnp.where(inside, k, n_slots))
    count = jnp.zeros(n_slots, jnp.int32).at[seg].add(1, mode="drop")
    sums = [lane_segment_sum(jnp.where(inside, v, 0.0), seg, n_slots) for v in values]
    keep = count > 0
    n_kept = jnp.sum(keep)
    (src,) = jnp.nonzero(keep, size=n_slots, fill_value=0)
    kept = jnp.arange(n_slots) < n_kept
    edge = jnp.where(kept, edges[src], jnp.inf)
    cnt = jnp.where(kept, count[src], 0).astype(jnp.float64)
    return edge, cnt, [jnp.where(kept, x[src], 0.0) for x in sums], n_kept


def circular_conv(flux, model, kept, n_kept):
    """``np.convolve(concat(flux, flux), -model, 'valid')[:-1]`` over the ``n_kept`` kept bins,
    through the (at most :data:`MODEL_SLOTS`) non-zero model bins.  Returns ``(conv, n_nonzero)``
    (a count above :data:`MODEL_SLOTS` means the sum is incomplete).

    The kept series is laid out circularly over ``2 S`` slots (``S = flux.shape[0]``,
    ``ext[i] = flux[(i - S) mod n_kept]``); non-zero model bin ``m`` contributes the contiguous
    window ``ext[S - 1 - m : 2 S - 1 - m]`` (one dynamic slice per non-zero bin, in a loop of
    ``n_nonzero`` steps)."""
    n_slots = flux.shape[0]
    nz = kept & (model != 0)
    (m,) = jnp.nonzero(nz, size=MODEL_SLOTS, fill_value=0)
    n_nz = jnp.sum(nz)
    w = -model[m]
    n = jnp.maximum(n_kept, 1)
    ext = flux[jnp.mod(jnp.arange(2 * n_slots) - n_slots, n)]

    def add(s, acc):
        return acc + jax.lax.dynamic_slice(ext, (n_slots - 1 - m[s],), (n_slots,)) * w[s]

    conv = jax.lax.fori_loop(0, jnp.minimum(n_nz, MODEL_SLOTS), add, jnp.zeros_like(flux))
    return jnp.where(kept, conv, 0.0), n_nz


def mark_phase_range(ph, kept, p0, gap, p_max):
    """exovetter ``mark_phase_range``: kept bins within ``gap`` of ``p0``, wrapping at ``p_max``."""
    idx = ((p0 - gap) < ph) & (ph < (p0 + gap))
    idx |= (p0 < gap) & (ph > (p_max - (gap - p0)))
    idx |= ((p0 + gap) > p_max) & (ph < ((p0 + gap) - p_max))
    return idx & kept


def key_events(ph, conv, kept, n_kept, tw):
    """exovetter ``find_indices_of_key_locations``: bin indices of the primary, secondary,
    tertiary and positive events (``pos`` is -1 when everything left is zero)."""
    p_max = ph[jnp.maximum(n_kept - 1, 0)]

    iota = jnp.arange(conv.shape[0])

    def first(xs, v):  # argmin's first index as two plain reductions (vectorised); with a
        # NaN in ``xs`` the minimum is NaN and, as with argmin, the first NaN's index is returned
        hit = jnp.where(jnp.isnan(v), jnp.isnan(xs), xs == v)
        return jnp.min(jnp.where(hit, iota, conv.shape[0] - 1))

    def amin(x):
        xs = jnp.where(kept, x, jnp.inf)
        return first(xs, jnp.min(xs))

    i0 = amin(conv)
    c1 = jnp.where(mark_phase_range(ph, kept, ph[i0], 2 * tw, p_max), 0.0, conv)
    i1 = amin(c1)
    c2 = jnp.where(mark_phase_range(ph, kept, ph[i1], 2 * tw, p_max), 0.0, c1)
    i2 = amin(c2)
    gap3 = mark_phase_range(ph, kept, ph[i0], 3 * tw, p_max)
    gap3 |= mark_phase_range(ph, kept, ph[i1], 3 * tw, p_max)
    c3 = jnp.where(gap3, 0.0, c2)
    x3 = jnp.where(kept, c3, -jnp.inf)
    i3 = first(x3, jnp.max(x3))
    has_pos = jnp.any(kept & (c3 != 0))
    return i0, i1, i2, jnp.where(has_pos, i3, -1)


def _pop_std(x, sel):
    n = jnp.sum(sel).astype(jnp.float64)
    m = jnp.sum(jnp.where(sel, x, 0.0)) / n
    return jnp.sqrt(jnp.sum(jnp.where(sel, (x - m) ** 2, 0.0)) / n)


def modshift_convolution(t, fz, valid, period, epoch, dur_h, depth, n_bins, *, n_slots: int, n_back: int):
    """All of exovetter's ModShift for one candidate: ``t``/``fz`` ``(N,)`` (valid points first,
    time-sorted; ``fz`` the median-normalised flux minus 1), ``epoch`` exovetter's epoch (days),
    ``dur_h`` hours, ``depth`` the box depth, ``n_bins`` ``int(10 P 24/D_h)`` (traced; below 1
    it gives ``ERR_NO_BINS`` and the series of one bin).

    Returns a dict: event bin indices ``pri/sec/ter/pos`` and phases (days), ``sigma_*``,
    ``Fred``, ``sigma`` (the scatter), ``error`` (0 or an ``ERR_*`` code, exovetter's check
    order), ``n_kept``, ``n_model_bins``, and the ``(n_slots,)`` series ``bin_phase``/``conv``."""
    n = jnp.sum(valid)
    t_min = t[0]
    t_max = t[jnp.maximum(n - 1, 0)]
    dur_days = rounded_mul(dur_h, HOUR_IN_DAYS)
    model_t = box_model(t, valid, t_min, t_max, period, epoch, dur_days, depth, n_back=n_back)
    phase = exovetter_phase(t, t_min, period, epoch)
    folded = fold_bins(phase, valid, period, n_bins, (fz, model_t), n_slots=n_slots)
    edge, cnt, (bflux, bmsum), n_kept = folded
    kept = jnp.arange(n_slots) < n_kept
    bmodel = jnp.where(kept, bmsum / jnp.maximum(cnt, 1), 0.0)
    x = jnp.where(kept, edge, 0.0)
    pair = kept[1:]
    integral = -jnp.sum(jnp.where(pair, (x[1:] - x[:-1]) * (bmodel[1:] + bmodel[:-1]) / 2.0, 0.0))
    bmodel = jnp.where(kept, exact_div(bmodel, integral), 0.0)
    model_ok = jnp.all(jnp.where(kept, jnp.isfinite(bmodel), True))
    conv, n_model = circular_conv(bflux, jnp.where(model_ok, bmodel, 0.0), kept, n_kept)
    tw = exact_div(dur_h, 24.0)  # true divisions, as exovetter's (not x * (1/24))
    i0, i1, i2, i3 = key_events(x, conv, kept, n_kept, tw)
    g = exact_div(2.0 * dur_h, 24.0)
    pri, sec = i0.astype(jnp.float64), i1.astype(jnp.float64)
    near = ((pri - g < phase) & (phase < pri + g)) | ((sec - g < phase) & (phase < sec + g))
    rest = valid & ~near
    sigma = _pop_std(fz, rest)
    error = jnp.where(sigma <= 0, ERR_SIGMA, 0)  # exovetter's order of checks, last first
    error = jnp.where(jnp.sum(rest) == 0, ERR_RMS, error)
    error = jnp.where(~model_ok, ERR_MODEL, error)
    error = jnp.where(n_bins < 1, ERR_NO_BINS, error)
    error = jnp.where(n == 0, ERR_EMPTY, error)
    sig = exact_div(conv, sigma)
    fred = _pop_std(conv, kept) / _pop_std(bflux, kept)
    return {
        "error": error.astype(jnp.int32),
        "pri": i0, "sec": i1, "ter": i2, "pos": i3,
        "phase_pri": x[i0], "phase_sec": x[i1], "phase_ter": x[i2],
        "phase_pos": jnp.where(i3 >= 0, x[jnp.maximum(i3, 0)], jnp.nan),
        "sigma_pri": sig[i0], "sigma_sec": sig[i1], "sigma_ter": sig[i2],
        "sigma_pos": jnp.where(i3 >= 0, sig[jnp.maximum(i3, 0)], jnp.nan),
        "Fred": fred, "sigma": sigma, "n_kept": n_kept, "n_model_bins": n_model,
        "bin_phase": jnp.where(kept, edge, jnp.nan), "conv": jnp.where(kept, conv, jnp.nan),
    }  # fmt: skip
