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
  time-ordered points (the reference's ``_median_dt_days``); NaN when a row has none.
* :func:`window_cadence_rows`: that median for the points of per-epoch windows, gathered from
  the light-curve rows by (first point, count) inside the same program.
* :func:`missing_fraction`: ``expected = clamp(floor(2 hw / max(1e-12, dt)) + 1, lo, hi)``
  cadences in a window of half-width ``hw`` at cadence ``dt`` and
  ``missing = clip(1 - n/expected, 0, 1)``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxvet.core.numerics import exact_div
from jaxvet.core.order_stats import bisect, bisect_steps, masked_median
from jaxvet.data import CandidateBatch, LightCurveBatch

__all__ = [
    "CADENCE_EPS",
    "epochs_with_data",
    "median_positive_step",
    "window_cadence_rows",
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


@partial(jax.jit, static_argnames=("width",))
def window_cadence_rows(time_flat, n_points: int, lc_index, start, count, *, width: int):
    """:func:`median_positive_step` of R windows: points ``start .. start+count-1`` (R,) of
    light-curve row ``lc_index`` in the flattened (L*N,) ``time_flat``; ``width`` >= max count.
    Returns (R,) medians (NaN without a positive step)."""
    w = jnp.arange(width, dtype=jnp.int32)[None, :]
    mask = w < count[:, None]
    idx = (lc_index * n_points + start)[:, None] + jnp.where(mask, w, 0)
    t = jnp.where(mask, time_flat[jnp.clip(idx, 0, time_flat.shape[0] - 1)], 0.0)
    return median_positive_step(t, mask)[0]


def missing_fraction(n_observed, half_window, cadence, min_expected, max_expected):
    """Expected cadences and missing fraction of windows ``|t - t_c| <= half_window`` (days)
    holding ``n_observed`` points at ``cadence`` (days); all arguments broadcast.  Returns
    ``(expected, missing)`` (float64 integers and fractions in [0, 1])."""
    raw = jnp.floor((2.0 * half_window) / jnp.maximum(CADENCE_EPS, cadence)) + 1.0
    expected = jnp.maximum(min_expected, jnp.minimum(max_expected, raw))
    missing = jnp.clip(1.0 - n_observed / expected, 0.0, 1.0)
    return expected, missing
