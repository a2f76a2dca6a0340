"""Index-based running median: the median of the ``w`` neighbouring *entries* (not times).

For entry ``i`` of a compacted row of ``n`` values the window is ``[max(0, i - h),
min(n, i + h + 1))`` with ``h = w // 2`` -- truncated at both ends, like
``np.median(x[start:end])`` in a loop (tess-vetter's ``running_median`` detrender).  ``w`` is
traced per row; ``width`` (static, odd, >= every ``w``) sizes the gathered windows, which are
sorted and read at the middle of their valid entries.  Rows are processed ``block`` entries at
a time (``lax.map``), so the largest intermediate is (rows, block, width).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxvet.core.order_stats import masked_sorted, sorted_median

__all__ = ["running_median"]


def running_median(x, n, w, *, width: int, block: int = 1024):
    """Running median of the first ``n`` entries of each row of ``x`` (R, N) over windows of
    ``w`` (R,) entries (odd); entries at or beyond ``n`` are NaN."""
    r, m = x.shape
    h = (w // 2)[:, None, None]
    nn = n[:, None, None]
    offs = jnp.arange(width) - width // 2
    n_blocks = -(-m // block)
    starts = jnp.arange(n_blocks) * block

    def one(s):
        i = s + jnp.arange(block)  # (block,)
        j = i[:, None] + offs[None, :]  # (block, width)
        ok = (jnp.abs(offs)[None, None, :] <= h) & (j[None] >= 0) & (j[None] < nn)
        vals = jnp.take_along_axis(x[:, None, :], jnp.clip(j, 0, m - 1)[None].repeat(r, 0), axis=2)
        med = sorted_median(masked_sorted(vals, ok), jnp.sum(ok, axis=-1))
        return jnp.where(i[None, :] < n[:, None], med, jnp.nan)

    out = jax.lax.map(one, starts)  # (n_blocks, R, block)
    return out.transpose(1, 0, 2).reshape(r, -1)[:, :m]
