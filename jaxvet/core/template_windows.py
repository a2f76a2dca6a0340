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
the ranges are made disjoint and counted
(:func:`epoch_ranges`) and read in tiles of consecutive points (:func:`tile_table`,
:func:`tile_points`, one contiguous slice each), a fixed number of tiles per step of a
``while_loop`` that runs to the ephemeris' own tile count, so the compiled program does not
depend on the window sizes.  An epoch list that does not fit its static length is reported, and the
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
    "tile_table",
    "tile_points",
    "window_tail",
    "fit_sums",
    "packed_points",
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
    disjoint, increasing point-index ranges ``lo_k .. lo_k + cnt_k - 1``: ``(lo, cnt, fits)``,
    ``lo``/``cnt`` (n_ep,) int.

    Only the epochs near a data segment (``seg_lo/seg_hi``, (G,) times; padding segments have
    ``lo > hi``) are visited, at most ``n_ep``; ``fits`` is False when the windows need more
    epochs."""
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
    return lo, cnt, cum[-1] <= n_ep


def tile_table(cnt, *, tile: int):
    """The windows of :func:`epoch_ranges` cut into tiles of ``tile`` consecutive points:
    ``(first, n_tiles)``, the first tile of each epoch (n_ep,) and the tile count."""
    n_t = (cnt + tile - 1) // tile
    cum = jnp.cumsum(n_t)
    return cum - n_t, cum[-1]


def tile_points(packed, li, lo, cnt, first, n_tiles, q, *, tile: int):
    """Points of tiles ``q`` (Q,) of light-curve row ``li`` of ``packed`` ((L, N + tile, 3),
    :func:`packed_points`): ``(idx, t, y, w, ok)``, each (Q, tile); ``w`` = 0 and ``ok`` False
    off the windows."""
    k = jnp.sum(first[None, :] <= q[:, None], axis=1) - 1  # the epoch of each tile
    o = (q - first[k]) * tile
    i = jnp.arange(tile, dtype=jnp.int32)
    base = lo[k] + o
    ok = (q < n_tiles)[:, None] & (o[:, None] + i[None, :] < cnt[k][:, None])
    idx = base[:, None] + i[None, :]
    # one gather from the flattened rows (no batch dimension: the fastest form on a CPU)
    r = packed.reshape(-1, 3).at[li * packed.shape[1] + idx].get(mode="promise_in_bounds")
    return idx, r[..., 0], r[..., 1], jnp.where(ok, r[..., 2], 0.0), ok


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


def packed_points(time, flux, flux_err, *, tile: int):
    """``(L, N + tile, 3)`` rows of ``(t, y, w)``
    (:func:`~jaxvet.core.template_score.template_weights`; ``tile`` rows of zeros after, so
    every tile slice of :func:`tile_points` is in bounds), read by :func:`tile_points`."""
    y, w = template_weights(flux, flux_err)
    r = jnp.stack([time, y, w], axis=-1)
    return jnp.pad(r, ((0, 0), (0, tile), (0, 0)))


def score_windows(packed, li, tabs, period, t0, duration, sharpness, ingress, hw, c, *, n_ep, tile, n_tile):
    """The template fit of one candidate at one ephemeris ``period``/``t0`` on light-curve row
    ``li`` (``packed``: :func:`packed_points`; ``tabs``: that row's :func:`cell_table`
    ``(table, t_first, g)``, segments ``(seg_lo, seg_hi)`` and totals ``(sum w y, sum w)``),
    its windows summed ``n_tile`` tiles of ``tile`` points at a time (a ``while_loop``, so one
    compiled program serves any window size): ``(score, depth_hat, depth_sigma, fits)``."""
    table, t_first, g, seg_lo, seg_hi, sums = tabs
    lo, cnt, fits = epoch_ranges(table, t_first, g, seg_lo, seg_hi, period, t0, hw, n_ep=n_ep)
    first, n_tiles = tile_table(cnt, tile=tile)

    def body(carry):
        b, acc = carry
        q = b * n_tile + jnp.arange(n_tile, dtype=jnp.int32)
        _, t, y, w, _ = tile_points(packed, li, lo, cnt, first, n_tiles, q, tile=tile)
        tmpl = smooth_template(t, t0, period, duration, sharpness, ingress)
        wt = w * tmpl
        part = jnp.stack([jnp.sum(wt * y), jnp.sum(wt * tmpl), jnp.sum(w * y), jnp.sum(w)])
        return b + 1, acc + part

    nb = (n_tiles + n_tile - 1) // n_tile
    _, acc = jax.lax.while_loop(lambda cr: cr[0] < nb, body, (jnp.int32(0), jnp.zeros(4, jnp.float64)))
    tail_num, tail_den = c * (sums[0] - acc[2]), c * c * (sums[1] - acc[3])
    return (*fit_sums(acc[0] + tail_num, acc[1] + tail_den), fits)
