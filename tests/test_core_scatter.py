"""jaxvet.core.scatter: the lane segment sums/minima against jax.ops' plain ones, and
materialise as the identity."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.scatter import lane_segment_min, lane_segment_sum, materialise


def _ids(rng, n, k):
    # runs of repeated ids (time-sorted points into bins), some out of range (dropped)
    seg = np.sort(rng.integers(0, k, n))
    seg[rng.random(n) < 0.05] = k
    seg[:3] = -1
    return seg.astype(np.int32)


def test_lane_segment_sum_and_min_match_plain():
    rng = np.random.default_rng(0)
    for n, k, lanes in ((1, 1, 4), (1001, 37, 4), (4096, 600, 2), (777, 5, 8)):
        x = rng.standard_normal(n)
        seg = _ids(rng, n, k)
        ok = (seg >= 0) & (seg < k)
        want = np.zeros(k)
        np.add.at(want, seg[ok], x[ok])
        got = np.asarray(jax.jit(lane_segment_sum, static_argnums=(2, 3))(x, seg, k, lanes))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        plain = jax.ops.segment_min(jnp.asarray(x), jnp.where(ok, seg, k), num_segments=k)
        got_min = jax.jit(lane_segment_min, static_argnums=(2, 3))(x, seg, k, lanes)
        assert np.array_equal(np.asarray(got_min), np.asarray(plain))


def test_materialise_is_the_identity():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 5))
    b = rng.integers(-9, 9, 7).astype(np.int32)
    c = np.array([True, False, True])
    out = jax.jit(materialise)(a, b, c)
    for x, y in zip(out, (a, b, c), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(np.asarray(x), y)
