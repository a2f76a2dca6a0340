"""Per-bin medians of one ascending row without sorting it by bin.

:func:`jaxvet.core.order_stats.sorted_bin_medians` sorts ``(bin, position)`` keys, ``O(N log N)``
per row.  When the row is already ascending (a light curve sorted by flux once) the median of a
bin is its ``k``-th member in row order, which a two-level count finds: a histogram of the bins
per block of ``block`` consecutive positions (one scatter-add), its running sum over the blocks
locates the block holding the ``k``-th member of each bin, and a prefix count inside that one
block gives the position.  ``O(N + n_bins (N/block + block))`` per row, the same values as the
sort.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["blocked_bin_medians"]

#: slots per sub-block of the in-block search (a multiple of it divides ``block``)
_SUB = 16


def blocked_bin_medians(sorted_x, bins, n_bins: int, *, block: int = 256):
    """numpy medians of the values of one ascending row (N,) grouped by ``bins`` (N,) int in
    ``[0, n_bins]`` (``n_bins`` = left out).  Returns ``(median, count)``, (n_bins,) each (NaN,
    0 for an empty bin); equal to :func:`jaxvet.core.order_stats.sorted_bin_medians`."""
    n = sorted_x.shape[-1]
    if block % _SUB:
        raise ValueError(f"block must be a multiple of {_SUB}, got {block}")
    nb = -(-n // block)
    b = jnp.clip(bins, 0, n_bins).astype(jnp.int32)
    b = jnp.concatenate([b, jnp.full((nb * block - n,), n_bins, jnp.int32)])
    blk = jnp.arange(nb * block, dtype=jnp.int32) // block
    hist = jnp.zeros(nb * (n_bins + 1), jnp.int32).at[blk * (n_bins + 1) + b].add(1)
    hist = hist.reshape(nb, n_bins + 1)
    cum = jnp.cumsum(hist, axis=0)[:, :n_bins]  # (nb, n_bins) members up to each block's end
    count = cum[-1]
    k = jnp.stack([(count - 1) // 2, count // 2])  # (2, n_bins) ranks of the two middle members
    j = jnp.sum(cum[None, :, :] <= k[:, None, :], axis=1)  # block holding member k
    j = jnp.minimum(j, nb - 1)
    prev = jnp.where(j > 0, jnp.take_along_axis(cum, jnp.maximum(j - 1, 0), axis=0), 0)
    r = k - prev  # rank inside that block
    seg = b.reshape(nb, block // _SUB, _SUB)[j]  # (2, n_bins, block/16, 16)
    eq = seg == jnp.arange(n_bins, dtype=jnp.int32)[None, :, None, None]
    sub = jnp.cumsum(jnp.sum(eq, -1, dtype=jnp.int32), -1)  # members up to each 16-slot's end
    s = jnp.minimum(jnp.sum(sub <= r[..., None], -1), block // _SUB - 1)
    r = r - jnp.where(s > 0, jnp.take_along_axis(sub, jnp.maximum(s - 1, 0)[..., None], -1)[..., 0], 0)
    hits = jnp.cumsum(jnp.take_along_axis(eq, s[..., None, None], -2)[..., 0, :], -1, dtype=jnp.int32)
    pos = s * _SUB + jnp.argmax(hits > r[..., None], axis=-1)
    v = sorted_x[jnp.clip(j * block + pos, 0, n - 1)]
    return jnp.where(count > 0, 0.5 * (v[0] + v[1]), jnp.nan), count
