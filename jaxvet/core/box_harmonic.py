"""Normal-equation sums of box templates plus harmonics, for many ephemerides in one pass.

The model-competition fits (transit box, box plus ``n_harm`` harmonics of the period, odd/even
primary boxes plus a secondary box) are weighted least squares over every valid point.  Each
fit and its residual sum of squares depend on the points only through a few sums (Lawson &
Hanson 1974, ch. 1): with columns ``X`` and weights ``a``,

    chi2_a(beta) = sum a y^2 - 2 beta . (X^T A y) + beta^T (X^T A X) beta,

so one fused pass over the points per candidate gives every Gram matrix, right-hand side and
residual sum of the three models, for several weightings at once (``a`` = the fit weights, the
likelihood's inverse variances, 1 for the unweighted RMS).  ``sum a y^2`` does not depend on the
candidate (:func:`lightcurve_sums`, once per light curve).  The harmonics come from one
:func:`jaxvet.core.numerics.sincos` per point and angle addition.

Box templates follow the reference's V16 (tess-vetter 0.3.20): ``phi = x - floor(x + 0.5)``,
``x = (t - t0)/P`` (:func:`jaxvet.core.ephemeris.phase_nearest`); primary ``|phi P| < half``,
secondary ``|phi' P| < half`` with ``phi' = (phi - 0.5) - round(phi - 0.5)``; odd epochs by
the parity of ``floor(x + 0.5)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.ephemeris import phase_nearest
from jaxvet.core.numerics import sincos

__all__ = ["lightcurve_sums", "box_harmonic_sums", "trig_pairs"]


def trig_pairs(n_harm: int) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i <= j``, of the ``2 n_harm`` harmonic columns
    ``[cos w t, sin w t, cos 2wt, sin 2wt, ...]`` (the upper triangle of their Gram block)."""
    k = 2 * n_harm
    return [(i, j) for i in range(k) for j in range(i, k)]


def lightcurve_sums(y, weights):
    """``sum a y^2`` per weighting: ``y`` (..., N), ``weights`` a tuple of (..., N) arrays (zero
    off the valid points).  Returns (..., n_weights)."""
    return jnp.stack([jnp.sum(a * y * y, -1) for a in weights], -1)


def box_harmonic_sums(t, y, weights, period, t0, half, *, n_harm: int):
    """Per-candidate sums of one light-curve row (N,) (``weights`` zero off the valid points):
    a dict of (n_weights,) arrays

    * ``trig`` (n_w, P): ``sum a q_i q_j`` over :func:`trig_pairs`; ``trig_y`` (n_w, 2H):
      ``sum a y q_i``;
    * ``box`` (n_w,), ``box_y``: ``sum a T``, ``sum a y T`` (T the primary box);
      ``box_trig`` (n_w, 2H): ``sum a T q_i``;
    * ``odd``, ``odd_y``, ``even``, ``even_y``: the same over the odd- and even-epoch primary
      points; ``sec``, ``sec_y`` over the secondary box; ``sec_odd``, ``sec_even``: ``sum a S
      T_odd`` and ``sum a S T_even`` (overlaps of the boxes, zero unless ``half > P/4``).

    Every sum is formed directly (never as a difference), so an empty template gives an exact 0.
    """
    ph, orbit = phase_nearest(t, t0, period)
    prim = jnp.abs(ph * period) < half
    ps = ph - 0.5
    ps = ps - jnp.round(ps)
    sec = jnp.abs(ps * period) < half
    odd = (orbit - 2.0 * jnp.floor(orbit / 2.0)) == 1.0  # Python's parity, exact for integral floats
    s1, c1 = sincos((2.0 * jnp.pi / period) * t)
    cols = [c1, s1]
    for _ in range(n_harm - 1):
        c, s = cols[-2], cols[-1]
        cols += [c * c1 - s * s1, s * c1 + c * s1]
    prods = [cols[i] * cols[j] for i, j in trig_pairs(n_harm)]
    terms = {}
    for a in weights:
        ay = a * y
        at, aty = jnp.where(prim, a, 0.0), jnp.where(prim, ay, 0.0)
        ato, ate = jnp.where(odd, at, 0.0), jnp.where(odd, 0.0, at)
        a_s = jnp.where(sec, a, 0.0)
        parts = {
            "trig": [a * p for p in prods],
            "trig_y": [ay * q for q in cols],
            "box_trig": [at * q for q in cols],
            "box": [at],
            "box_y": [aty],
            "odd": [ato],
            "odd_y": [jnp.where(odd, aty, 0.0)],
            "even": [ate],
            "even_y": [jnp.where(odd, 0.0, aty)],
            "sec": [a_s],
            "sec_y": [jnp.where(sec, ay, 0.0)],
            "sec_odd": [jnp.where(sec, ato, 0.0)],
            "sec_even": [jnp.where(sec, ate, 0.0)],
        }
        for k, v in parts.items():
            terms.setdefault(k, []).append(v)
    flat = [x for per_w in terms.values() for v in per_w for x in v]
    # one variadic reduction: every sum in one loop over the points (separate sums would each
    # re-read materialised columns)
    sums = iter(jax.lax.reduce(tuple(flat), (0.0,) * len(flat), _add, (t.ndim - 1,)))
    out = {}
    for k, per_w in terms.items():
        rows = [jnp.stack([next(sums) for _ in v], -1) for v in per_w]
        out[k] = jnp.stack(rows, -2) if k in _VECTOR else jnp.stack(rows, -2)[..., 0]
    return out


_VECTOR = ("trig", "trig_y", "box_trig")


def _add(xs, ys):
    return tuple(x + y for x, y in zip(xs, ys, strict=True))
