"""Cadence coverage of transit windows: which epochs hold data, the cadence, the missing fraction.

Kernels of V13 (data gaps; tess-vetter 0.3.20 ``check_data_gaps``, docs/checks.md), over the
host epoch plan of :func:`jaxvet.core.windows.plan_windows` (B x E integers, no point data):

* :func:`epochs_with_data`: for every planned epoch ``k`` of every candidate, whether some
  point of its light curve has ``floor((t - t0 + P/2)/P) == k`` -- the reference lists exactly
  those epochs (``np.unique`` of the epoch numbers of the observed times).  The epoch number is
  a monotone function of time (every float operation in it is monotone), so one batched
  binary search per epoch over the sorted light-curve row decides it exactly, with the same
  float arithmetic as the reference: no sweep over the points.
* :func:`median_positive_step`: numpy's median of the positive time steps of each row of
  time-ordered points (the reference's ``_median_dt_days``); NaN when a row has none.  The
  reference form of what :func:`window_cadences` computes per window (its test oracle).
* :func:`step_index` and :func:`window_cadences`: that median for the points of per-epoch
  windows (first point, count), each an O(log N) range query on a wavelet matrix of the
  light curve's steps built once (:mod:`jaxvet.core.range_select`), not a gather and a sort.
* :func:`missing_fraction`: ``expected = clamp(floor(2 hw / max(1e-12, dt)) + 1, lo, hi)``
  cadences in a window of half-width ``hw`` at cadence ``dt`` and
  ``missing = clip(1 - n/expected, 0, 1)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.numerics import exact_div
from jaxvet.core.order_stats import bisect, bisect_steps, masked_median
from jaxvet.core.range_select import RangeIndex, build_range_index, range_median
from jaxvet.data import CandidateBatch, LightCurveBatch

__all__ = [
    "CADENCE_EPS",
    "epochs_with_data",
    "median_positive_step",
    "step_index",
    "window_cadences",
    "missing_fraction",
]

#: floor of the cadence in the expected-count division (reference ``_EPS``)
CADENCE_EPS = 1e-12


@jax.jit
def epochs_with_data(lcb: LightCurveBatch, cb: CandidateBatch, epoch, epoch_valid):
    """(B, E) bool: planned epoch ``epoch[b, e]`` holds a point of candidate ``b``'s light curve
    whose epoch number ``floor((t - t0 + P/2)/P)`` equals it (exact, by binary search)."""
    n = lcb.time.shape[1]
    flat = lcb.time.reshape(-1)
    base = (cb.lc_index * n)[:, None]
    length = lcb.n_valid[cb.lc_index][:, None]
    P, t0 = cb.period[:, None], cb.t0[:, None]
    lo = jnp.zeros(epoch.shape, jnp.int32)
    hi = jnp.broadcast_to(length, epoch.shape).astype(jnp.int32)

    def ep_at(i):  # floor((t - t0 + P/2)/P) with an IEEE division (numpy's epoch numbers)
        t = flat[jnp.clip(base + i, 0, flat.shape[0] - 1)]
        return jnp.floor(exact_div(t - t0 + P / 2.0, P))

    first = bisect([(lo, hi, lambda mid: ep_at(mid) < epoch)], bisect_steps(n))[0]
    return epoch_valid & (first < length) & (ep_at(first) == epoch)


def median_positive_step(t, mask):
    """Median of the positive steps ``t[i+1] - t[i]`` between consecutive valid points of each
    row (R, W) of ascending times; ``(median, n_steps)``, NaN where a row has no positive step."""
    dt = t[:, 1:] - t[:, :-1]
    ok = mask[:, 1:] & mask[:, :-1] & jnp.isfinite(dt) & (dt > 0)
    return masked_median(dt, ok), jnp.sum(ok, axis=1, dtype=jnp.int32)


@jax.jit
def step_index(time, mask) -> RangeIndex:
    """:class:`~jaxvet.core.range_select.RangeIndex` of the time steps ``t[i+1] - t[i]`` of each
    row (L, N) of ascending times; a step counts when both points are valid and it is finite and
    positive (the steps of :func:`median_positive_step`).  Built once per light-curve batch."""
    dt = time[:, 1:] - time[:, :-1]
    ok = mask[:, 1:] & mask[:, :-1] & jnp.isfinite(dt) & (dt > 0)
    pad = lambda a, v: jnp.concatenate([a, jnp.full((a.shape[0], 1), v, a.dtype)], axis=1)  # noqa: E731
    return build_range_index(pad(dt, 0.0), pad(ok, False))


def window_cadences(steps: RangeIndex, lc_index, start, count):
    """:func:`median_positive_step` of the windows of points ``start .. start + count - 1`` of
    light-curve row ``lc_index`` (arrays broadcast together), from the :func:`step_index` of the
    rows: O(log N) per window, no gather or sort.  NaN where a window has no positive step."""
    lo = jnp.asarray(start, jnp.int32)
    hi = lo + jnp.maximum(jnp.asarray(count, jnp.int32) - 1, 0)
    return range_median(steps, lc_index, lo, hi)[0]


def missing_fraction(n_observed, half_window, cadence, min_expected, max_expected):
    """Expected cadences and missing fraction of windows ``|t - t_c| <= half_window`` (days)
    holding ``n_observed`` points at ``cadence`` (days); all arguments broadcast.  Returns
    ``(expected, missing)`` (float64 integers and fractions in [0, 1])."""
    raw = jnp.floor((2.0 * half_window) / jnp.maximum(CADENCE_EPS, cadence)) + 1.0
    expected = jnp.maximum(min_expected, jnp.minimum(max_expected, raw))
    missing = jnp.clip(1.0 - n_observed / expected, 0.0, 1.0)
    return expected, missing
