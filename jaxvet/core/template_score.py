"""The smooth-template matched filter ("smooth template score") of V17 and V18.

A box transit with sigmoid edges, ``tmpl = sigmoid(k (D/2 - |dt|))`` with
``k = sharpness/max(ingress_fraction D, 1e-6)`` and the sigmoid argument clipped to +-60
(``dt``: days from the nearest transit centre), is fitted to ``y = 1 - flux`` by weighted least
squares (weights ``w = 1/max(err^2, 1e-12)``):

    depth_hat = sum(w tmpl y) / (sum(w tmpl^2) + 1e-12),   depth_sigma = sqrt(1/denominator),
    score = depth_hat / max(depth_sigma, 1e-12)

-- the matched-filter S/N of a known template (e.g. Kovacs, Zucker & Mazeh 2002, A&A 391, 369
for the box; the smooth edges follow tess-vetter 0.3.20 ``score_fixed_period_numpy``).

Kernels take padded rows (..., N) with a ``where=`` mask and broadcast ephemerides, so one
call scores many (period, t0) pairs; :func:`scores_for_ephemerides` scores a (B, K) grid of
them in chunks of K so memory stays at ``chunk x N`` per candidate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.numerics import exact_div

__all__ = ["template_weights", "smooth_template", "template_fit", "scores_for_ephemerides"]

_EPS = 1e-12


def template_weights(flux, flux_err):
    """``y = 1 - flux`` and ``w = 1/max(err^2, 1e-12)`` (same shapes)."""
    return 1.0 - flux, 1.0 / jnp.maximum(flux_err * flux_err, _EPS)


def smooth_template(t, t0, period, duration, sharpness, ingress_fraction):
    """Sigmoid-edged box template in [0, 1] at times ``t`` (days); ephemeris arguments broadcast
    against ``t`` (``duration`` in days)."""
    half = duration / 2.0
    k = sharpness / jnp.maximum(duration * ingress_fraction, 1e-6)
    ph = exact_div(t - t0, period)
    ph = ph - jnp.floor(ph + 0.5)
    dt = jnp.abs(ph * period)
    x = jnp.clip(k * (half - dt), -60.0, 60.0)
    return jnp.clip(1.0 / (1.0 + jnp.exp(-x)), 0.0, 1.0)


def template_fit(tmpl, y, w, *, where):
    """Weighted template fit over the last axis: ``(score, depth_hat, depth_sigma)``.

    ``tmpl``, ``y``, ``w`` and ``where`` broadcast to (..., N); points outside ``where`` do
    not count."""
    wt = w * tmpl
    denom = jnp.sum(jnp.where(where, wt * tmpl, 0.0), axis=-1) + _EPS
    depth = jnp.sum(jnp.where(where, wt * y, 0.0), axis=-1) / denom
    sigma = jnp.sqrt(1.0 / denom)
    return depth / jnp.maximum(sigma, _EPS), depth, sigma


def scores_for_ephemerides(t, y, w, mask, periods, t0s, duration, sharpness, ingress_fraction,
                           *, chunk: int):
    """Template fits of each candidate at K ephemerides.

    ``t, y, w, mask``: (B, N) rows; ``periods, t0s``: (B, K); ``duration``, ``sharpness``,
    ``ingress_fraction``: (B,) or scalars.  Returns ``(score, depth_hat, depth_sigma)``, each
    (B, K).  The K axis is processed ``chunk`` columns at a time (``lax.map``), so the largest
    intermediate is (B, chunk, N).
    """
    b, kk = periods.shape
    n_chunks = -(-kk // chunk)
    pad = n_chunks * chunk - kk
    pp = jnp.pad(periods, ((0, 0), (0, pad)), constant_values=1.0)
    tt = jnp.pad(t0s, ((0, 0), (0, pad)), constant_values=0.0)
    pp = pp.reshape(b, n_chunks, chunk).transpose(1, 0, 2)
    tt = tt.reshape(b, n_chunks, chunk).transpose(1, 0, 2)
    d = jnp.broadcast_to(jnp.asarray(duration, jnp.float64), (b,))[:, None, None]
    s = jnp.broadcast_to(jnp.asarray(sharpness, jnp.float64), (b,))[:, None, None]
    f = jnp.broadcast_to(jnp.asarray(ingress_fraction, jnp.float64), (b,))[:, None, None]

    def one(args):
        p, t0 = args  # (B, chunk)
        tmpl = smooth_template(t[:, None, :], t0[..., None], p[..., None], d, s, f)
        return template_fit(tmpl, y[:, None, :], w[:, None, :], where=mask[:, None, :])

    out = jax.lax.map(one, (pp, tt))
    return tuple(o.transpose(1, 0, 2).reshape(b, -1)[:, :kk] for o in out)
