"""Floating-point helpers for kernels that must agree with numpy bit for bit.

XLA's CPU and GPU back ends rewrite arithmetic in ways numpy does not:

* ``x / c`` with a broadcast scalar ``c`` becomes ``x * (1/c)`` (off by an ulp in about 30% of
  cases) -- :func:`exact_div` keeps the true division;
* ``a * b + c`` is contracted into one fused multiply-add (one rounding instead of two), so a
  grid edge numpy puts at exactly 0.0 comes out as ``2e-19`` and a point on the edge falls into
  the neighbouring bin -- :func:`rounded_mul` rounds the product on its own.

:func:`numpy_linspace` builds ``np.linspace`` edges with both rules, for traced end points.
:func:`floor_mod` is numpy's ``x % p`` (floor modulo) without XLA's element-wise ``fmod``, which
costs ~60 ns per float64 on a CPU (30x more than the rest of a phase fold).  :func:`sincos` is
``(sin x, cos x)`` from one shared range reduction and two polynomials that XLA vectorises,
within ~1 ulp: on a CPU about 5x cheaper than ``jnp.sin`` plus ``jnp.cos`` (10-12 ns against
50-54 ns of process CPU time per float64 for the pair; jitted, float64, 64 x 3 x 131072 values
uniform in +-1e4, warm, 2-core CPU at load average 15).
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = [
    "exact_div",
    "rounded_mul",
    "numpy_linspace",
    "linspace_edge",
    "floor_mod",
    "floor_divmod",
    "sincos",
]


def exact_div(a, b):
    """``a / b`` with IEEE division even when ``b`` is a broadcast scalar.

    XLA's algebraic simplifier rewrites ``x / broadcast(c)`` as ``x * broadcast(1/c)``; the
    divisor is made elementwise (``b + 0*a`` is exact for finite ``a``) so the division stays.
    """
    a = jnp.asarray(a)
    return a / (b + 0.0 * a)


def rounded_mul(a, b):
    """``a * b`` rounded to float64 before any later addition (no FMA contraction).

    The select on ``p == p`` is an identity (a NaN product stays NaN), but it stands between
    the multiply and a following add, so the compiler cannot fuse them into one FMA.
    """
    p = jnp.asarray(a) * b
    return jnp.where(p == p, p, jnp.nan)


def linspace_edge(start, step, i, num_div, stop):
    """Edge ``i`` of ``np.linspace(start, stop, num_div + 1)`` given its ``step``:
    ``i*step + start`` with two roundings, ``stop`` at ``i == num_div`` (numpy's rule)."""
    i = jnp.asarray(i)
    return jnp.where(i == num_div, stop, rounded_mul(i.astype(jnp.float64), step) + start)


def numpy_linspace(start, stop, num_div, n_slots: int):
    """``np.linspace(start, stop, num_div + 1)`` for a traced ``num_div <= n_slots``.

    Returns ``(n_slots + 1,)`` edges, bit-identical to numpy's, then ``+inf`` beyond
    ``num_div``.  ``start``/``stop`` are scalars (use ``jax.vmap`` for batches).
    """
    i = jnp.arange(n_slots + 1, dtype=jnp.float64)
    step = exact_div(stop - start, num_div)
    e = linspace_edge(start, step, i, num_div, stop)
    return jnp.where(i <= num_div, e, jnp.inf)


#: Veltkamp's splitting constant for float64, 2^27 + 1
_SPLIT = 134217729.0


def _split(a):
    """``a = hi + lo`` exactly, each with at most 26 significant bits (Veltkamp split)."""
    c = rounded_mul(_SPLIT, a)
    hi = c - (c - a)
    return hi, a - hi


def floor_divmod(x, p):
    """``(q, r)``: numpy's ``x % p`` (``r``) for ``p > 0``, bit for bit, and the floor quotient
    ``q`` it belongs to (float64 integers; ``x = q p + r`` exactly except in the rounded case
    below, where ``q = -1``).  ``r``: the exact floor remainder in [0, p), except
    that ``-p < x < 0`` gives ``round(x + p)`` (which can be ``p`` itself), as numpy's
    ``fmod(x, p) + p`` does.

    ``q = floor(x/p)`` (IEEE division) and ``r = x - q p`` computed exactly with Dekker's product
    ``q p = h + l`` (Dekker 1971, Numer. Math. 18, 224; products rounded on their own, no FMA):
    when ``|x| >= p`` the true remainder is a multiple of p's unit in the last place below 2p, so
    it is representable and ``(x - h) - l`` is exact.  A correctly rounded division never falls
    below an integer the true quotient reaches, so ``q`` is never too small; when it is one too
    large, ``r`` is in [-p, 0) and ``r + p`` (exact) is the remainder.  Agrees with numpy on 3e7
    random and adversarial values (near-multiples of p, ``+-0``, ``+-1e-300``; measured) and in
    tests/test_core_alias_kernels.py; subnormal ``x`` (which XLA's CPU back end flushes to zero)
    are the exception.
    """
    x = jnp.asarray(x)
    q = jnp.floor(exact_div(x, p))
    h = rounded_mul(q, p)
    qh, ql = _split(q)
    ph, pl = _split(p + 0.0 * x)
    err = ((rounded_mul(qh, ph) - h) + rounded_mul(qh, pl) + rounded_mul(ql, ph)) + rounded_mul(ql, pl)
    r = (x - h) - err
    neg = r < 0
    return jnp.where(neg, q - 1.0, q), jnp.where(neg, r + p, r)


def floor_mod(x, p):
    """numpy's ``x % p`` for ``p > 0``, bit for bit (the remainder of :func:`floor_divmod`)."""
    return floor_divmod(x, p)[1]


#: pi/2 in three pieces (fdlibm's ``pio2_1``, ``pio2_2``, ``pio2_2t``): the first two have 33
#: significant bits, so ``k * piece`` is exact for ``|k| < 2^20``
_PIO2 = (1.57079632673412561417e00, 6.07710050630396597660e-11, 2.02226624879595063154e-21)
# fmt: off
#: Taylor coefficients of sin (r, r^3, ..., r^17) and cos (1, r^2, ..., r^18): on ``|r| <= pi/4``
#: the first omitted terms are below 1e-19
_SIN = (
    1.0, -0.16666666666666666, 0.008333333333333333, -0.0001984126984126984,
    2.7557319223985893e-06, -2.505210838544172e-08, 1.6059043836821613e-10, -7.647163731819816e-13,
    2.8114572543455206e-15,
)
_COS = (
    1.0, -0.5, 0.041666666666666664, -0.001388888888888889, 2.48015873015873e-05,
    -2.755731922398589e-07, 2.08767569878681e-09, -1.1470745597729725e-11, 4.779477332387385e-14,
    -1.5619206968586225e-16,
)
# fmt: on


def _horner(z, coeffs):
    acc = jnp.full_like(z, coeffs[-1])
    for c in coeffs[-2::-1]:
        acc = acc * z + c
    return acc


def sincos(x):
    """``(sin(x), cos(x))`` elementwise, within ~1 ulp of 1 (absolute) for ``|x| < 1.6e6``.

    ``k = round(x / (pi/2))``, ``r = x - k pi/2`` with pi/2 in three pieces (Cody & Waite 1980,
    *Software Manual for the Elementary Functions*, ch. 8), Taylor polynomials of sin and cos on
    ``|r| <= pi/4`` and the quadrant ``k mod 4`` picking and negating them.  Beyond
    ``|x| = 2^20 pi/2`` the reduction loses accuracy; NaN and inf give NaN.
    """
    x = jnp.asarray(x)
    k = jnp.round(x * (2.0 / jnp.pi))
    r = ((x - k * _PIO2[0]) - k * _PIO2[1]) - k * _PIO2[2]
    z = r * r
    s = r * _horner(z, _SIN)
    c = _horner(z, _COS)
    q = k - 4.0 * jnp.floor(k * 0.25)  # k mod 4, exact for integral k (XLA's fmod is slow)
    swap = (q == 1.0) | (q == 3.0)
    a, b = jnp.where(swap, c, s), jnp.where(swap, s, c)
    return jnp.where(q >= 2.0, -a, a), jnp.where((q == 1.0) | (q == 2.0), -b, b)
