"""Weighted linear least squares over padded points: small normal equations per row.

A fit of ``y ~ X beta`` with weights ``w`` (``chi2 = sum w (y - X beta)^2``) over the valid
points of a padded row reduces to the K x K normal equations ``(X^T W X) beta = X^T W y``
(Lawson & Hanson 1974, ch. 1).  For the few columns of the model-competition templates (K <= 9)
forming them is one pass over the points and the solve is negligible; both broadcast over
leading (batch) axes, so a ``vmap`` or a batch axis fits every candidate at once.

Rank deficiency.  A template column without any point in it (no in-transit point, no odd epoch
observed) is exactly zero.  numpy's ``lstsq`` (SVD) then returns the minimum-norm solution, in
which that coefficient is 0; :func:`solve_normal_equations` reproduces this by giving such a
column a unit diagonal and a zero right-hand side.  The other columns are Jacobi-scaled
(unit diagonal) before the LU solve, so columns of very different norms (a box template and
unit sinusoids weighted by 1/err^2 ~ 1e7) do not lose precision.  The coefficients then agree
with an SVD solution to about ``cond(X)^2 eps`` relative.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["weighted_normal_equations", "solve_normal_equations", "weighted_lstsq"]


def weighted_normal_equations(design, y, w, mask):
    """``(X^T W X, X^T W y)`` over the ``mask`` points: ``design`` (..., N, K), ``y``, ``w``,
    ``mask`` (..., N).  Returns (..., K, K) and (..., K)."""
    wm = jnp.where(mask, w, 0.0)
    xw = jnp.where(mask[..., None], design, 0.0) * wm[..., None]
    g = jnp.einsum("...nk,...nl->...kl", xw, jnp.where(mask[..., None], design, 0.0))
    b = jnp.einsum("...nk,...n->...k", xw, jnp.where(mask, y, 0.0))
    return g, b


def solve_normal_equations(g, b):
    """Solve ``g beta = b`` (symmetric positive semi-definite, (..., K, K)); exactly zero
    columns get coefficient 0 (numpy ``lstsq``'s minimum-norm answer); non-finite results
    become 0."""
    diag = jnp.diagonal(g, axis1=-2, axis2=-1)
    live = diag > 0
    d = jnp.where(live, 1.0 / jnp.sqrt(jnp.where(live, diag, 1.0)), 0.0)
    gs = g * d[..., :, None] * d[..., None, :]
    k = g.shape[-1]
    gs = gs + jnp.eye(k, dtype=g.dtype) * (~live)[..., None, :]
    beta = d * jnp.linalg.solve(gs, (d * b)[..., None])[..., 0]
    return jnp.where(jnp.isfinite(beta), beta, 0.0)


def weighted_lstsq(design, y, w, mask):
    """Coefficients (..., K) minimising ``sum_mask w (y - X beta)^2``."""
    return solve_normal_equations(*weighted_normal_equations(design, y, w, mask))
