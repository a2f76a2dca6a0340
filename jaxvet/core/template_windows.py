"""The smooth-template fit (:mod:`jaxvet.core.template_score`) summed over transit windows only.

The template's sigmoid argument is clipped at -60, so beyond ``H = D/2 + 60 max(ingress D,
1e-6)/sharpness`` from every transit centre the template is one constant ``c = 1/(1 + e^60)``
(:func:`tail_value`).  The fit's sums then split exactly into the points within ``H`` of a
centre (evaluated point by point, as the full sum does) and a tail ``c sum(w y)`` / ``c^2
sum(w)`` over the others, taken as the light curve's totals minus the window's.  The tail is
``~1e-26`` of an in-window term, so only rounding order differs from the full sum.

The windows of one ephemeris are found without a pass over the light curve: a per light-curve
table of first indices at ``n_cells`` equal time steps (:func:`cell_table`) gives each epoch a
conservative index range (a few extra points, which the template evaluates to ``c`` anyway);
the ranges are made disjoint, counted and laid end to end on a virtual slot axis
(:func:`epoch_ranges`), which is read ``block`` slots at a time (:func:`block_slots`) in a
``while_loop`` up to the ephemeris' own slot count, so the compiled program does not depend on
the window sizes.  An epoch list that does not fit its static length is reported, and the
caller falls back to the full sum.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.template_score import smooth_template, template_weights

__all__ = [
    "tail_value",
    "tail_half_width",
    "cell_table",
    "epoch_ranges",
    "block_slots",
    "n_blocks",
    "window_tail",
    "fit_sums",
    "packed_points",
    "window_points",
    "score_windows",
]

_EPS = 1e-12
#: the clip of the template's sigmoid argument (template_score.smooth_template)
_CLIP = 60.0
#: relative widening of the window (rounding of the phases, ~1e-13 d, is far below it)
_WIDEN = 1e-9


def tail_value():
    """The template beyond the window: the sigmoid at the clipped argument -60."""
    x = jnp.float64(-_CLIP)
    return jnp.clip(1.0 / (1.0 + jnp.exp(-x)), 0.0, 1.0)


def tail_half_width(duration, sharpness, ingress_fraction):
    """Days from a transit centre beyond which the template equals :func:`tail_value`
    (widened by a relative 1e-9 and 1e-9 d)."""
    k_inv = jnp.maximum(duration * ingress_fraction, 1e-6) / sharpness
    h = duration / 2.0 + _CLIP * k_inv
    return h * (1.0 + _WIDEN) + _WIDEN


def cell_table(time, n_valid, *, n_cells: int):
    """Per light-curve row ``(N,)`` (valid points first, time-sorted, padding after): the first
    index with ``t >= t_first + j g`` for ``j = 0 .. n_cells`` (``g = span/n_cells``; the last
    entry is ``n_valid``).  Returns ``(table, t_first, g)``."""
    last = jnp.maximum(n_valid - 1, 0)
    t_first, t_last = time[0], time[last]
    g = jnp.maximum((t_last - t_first) / n_cells, 1e-9)
    edges = t_first + g * jnp.arange(n_cells + 1, dtype=jnp.float64)
    table = jnp.searchsorted(time, edges, side="left").astype(jnp.int32)
    table = jnp.minimum(table, n_valid).at[n_cells].set(n_valid)
    return table, t_first, g


def _lookup(table, t_first, g, x, off: int):
    n_cells = table.shape[0] - 1
    j = jnp.floor((x - t_first) / g) + off
    return table[jnp.clip(j, 0, n_cells).astype(jnp.int32)]


def epoch_ranges(table, t_first, g, seg_lo, seg_hi, period, t0, hw, *, n_ep: int):
    """The windows ``|t - (t0 + e P)| <= hw`` of one ephemeris (one light-curve row) as
    disjoint, increasing point-index ranges, laid end to end in a virtual slot axis:
    ``(start, off, total, fits)``, ``start``/``off`` (n_ep,) int.

    Only the epochs near a data segment (``seg_lo/seg_hi``, (G,) times; padding segments have
    ``lo > hi``) are visited, at most ``n_ep``; epoch ``k`` holds slots ``start_k ..
    start_{k+1} - 1`` and slot ``j`` of it is point ``j + off_k``; ``total`` slots are used;
    ``fits`` is False when the windows need more epochs."""
    e_lo = jnp.ceil((seg_lo - hw - t0) / period) - 1.0
    e_hi = jnp.floor((seg_hi + hw - t0) / period) + 1.0
    n_s = jnp.clip(e_hi - e_lo + 1.0, 0.0, n_ep + 1.0).astype(jnp.int32)
    cum = jnp.cumsum(n_s)
    first = cum - n_s
    i = jnp.arange(n_ep, dtype=jnp.int32)
    seg = jnp.minimum(jnp.sum(i[:, None] >= cum[None, :], axis=1), seg_lo.shape[0] - 1)
    used = i < cum[-1]
    e = jnp.where(used, e_lo[seg] + (i - first[seg]).astype(jnp.float64), 0.0)
    c = t0 + e * period
    lo = _lookup(table, t_first, g, c - hw, -1)
    hi = jax.lax.cummax(jnp.where(used, _lookup(table, t_first, g, c + hw, 2), 0))
    lo = jnp.maximum(lo, jnp.concatenate([jnp.zeros((1,), jnp.int32), hi[:-1]]))
    cnt = jnp.where(used, jnp.maximum(hi - lo, 0), 0)
    start = jnp.cumsum(cnt) - cnt
    total = start[-1] + cnt[-1]
    return start, lo - start, total, cum[-1] <= n_ep


def block_slots(start, off, total, b, *, block: int):
    """Point indices of slots ``b block .. (b + 1) block - 1`` of :func:`epoch_ranges`'
    windows: ``(idx, ok)``, (block,) each (``ok`` marks the used slots, in increasing index
    order).  The offsets of the epochs starting inside the block are scattered as steps and
    summed (empty epochs cancel out)."""
    j0 = b * block
    k0 = jnp.sum(start <= j0) - 1
    step = off - jnp.concatenate([jnp.zeros((1,), off.dtype), off[:-1]])
    inside = (start > j0) & (start < j0 + block)
    marks = jnp.zeros((block,), jnp.int32).at[jnp.where(inside, start - j0, block)].add(step, mode="drop")
    j = j0 + jnp.arange(block, dtype=jnp.int32)
    ok = j < total
    idx = j + off[jnp.maximum(k0, 0)] + jnp.cumsum(marks)
    return jnp.where(ok, idx, 0), ok


def n_blocks(total, block: int):
    """Slot blocks of ``block`` covering ``total`` slots."""
    return (total + block - 1) // block


def window_tail(y, w, sums, c):
    """The fit's sums over the points outside the window slots (last axis; ``w`` is 0 on unused
    slots): ``(c sum w y, c^2 sum w)`` from the row's totals ``sums = (sum w y, sum w)``."""
    return c * (sums[0] - jnp.sum(w * y, axis=-1)), c * c * (sums[1] - jnp.sum(w, axis=-1))


def fit_sums(num, den):
    """``(score, depth_hat, depth_sigma)`` from the fit's sums (template_score.template_fit)."""
    den = den + _EPS
    depth = num / den
    sigma = jnp.sqrt(1.0 / den)
    return depth / jnp.maximum(sigma, _EPS), depth, sigma


def packed_points(time, flux, flux_err):
    """``(..., N, 3)`` rows of ``(t, y, w)`` (:func:`~jaxvet.core.template_score.template_weights`),
    gathered one slot at a time by :func:`window_points`."""
    y, w = template_weights(flux, flux_err)
    return jnp.stack([time, y, w], axis=-1)


def window_points(packed, idx, ok):
    """``(t, y, w)`` of window slots ``idx`` of one ``(N, 3)`` row of :func:`packed_points`
    (``w`` = 0 on unused slots)."""
    r = packed.at[idx].get(mode="promise_in_bounds", indices_are_sorted=True)
    return r[..., 0], r[..., 1], jnp.where(ok, r[..., 2], 0.0)


def score_windows(packed, tabs, period, t0, duration, sharpness, ingress, hw, c, *, n_ep, block):
    """The template fit of one candidate at one ephemeris ``period``/``t0`` on its light-curve
    row (``packed``: :func:`packed_points`; ``tabs``: :func:`cell_table`'s ``(table, t_first,
    g)``, the segments ``(seg_lo, seg_hi)`` and the totals ``(sum w y, sum w)``), its windows
    summed ``block`` slots at a time (a ``while_loop``, so one compiled program serves any
    window size): ``(score, depth_hat, depth_sigma, fits)``."""
    table, t_first, g, seg_lo, seg_hi, sums = tabs
    start, off, total, fits = epoch_ranges(table, t_first, g, seg_lo, seg_hi, period, t0, hw, n_ep=n_ep)

    def body(carry):
        b, acc = carry
        t, y, w = window_points(packed, *block_slots(start, off, total, b, block=block))
        tmpl = smooth_template(t, t0, period, duration, sharpness, ingress)
        wt = w * tmpl
        part = jnp.stack([jnp.sum(wt * y), jnp.sum(wt * tmpl), jnp.sum(w * y), jnp.sum(w)])
        return b + 1, acc + part

    nb = n_blocks(total, block)
    _, acc = jax.lax.while_loop(lambda cr: cr[0] < nb, body, (jnp.int32(0), jnp.zeros(4, jnp.float64)))
    tail_num, tail_den = c * (sums[0] - acc[2]), c * c * (sums[1] - acc[3])
    return (*fit_sums(acc[0] + tail_num, acc[1] + tail_den), fits)
