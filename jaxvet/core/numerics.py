"""Floating-point helpers for kernels that must agree with numpy bit for bit.

XLA's CPU and GPU back ends rewrite arithmetic in ways numpy does not:

* ``x / c`` with a broadcast scalar ``c`` becomes ``x * (1/c)`` (off by an ulp in about 30% of
  cases) -- :func:`exact_div` keeps the true division;
* ``a * b + c`` is contracted into one fused multiply-add (one rounding instead of two), so a
  grid edge numpy puts at exactly 0.0 comes out as ``2e-19`` and a point on the edge falls into
  the neighbouring bin -- :func:`rounded_mul` rounds the product on its own.

:func:`numpy_linspace` builds ``np.linspace`` edges with both rules, for traced end points.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["exact_div", "rounded_mul", "numpy_linspace", "linspace_edge"]


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
