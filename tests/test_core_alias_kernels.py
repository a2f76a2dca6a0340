"""Core kernels of V16/V19: numpy's floor modulo without fmod, subset and per-bin medians of a
sorted row, weighted least squares through normal equations (against numpy lstsq)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvet.core.ephemeris import phase_mod
from jaxvet.core.linear import weighted_lstsq
from jaxvet.core.numerics import floor_mod
from jaxvet.core.order_stats import sorted_bin_medians, sorted_subset_median


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_floor_mod_is_numpy_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.2, 60.0, 6) * np.array([1, 1, 1e-3, 1, 1e3, 1]) / np.array([1, 3, 1, 7, 1, 2])
    x = rng.uniform(-2000, 2000, 100_000)
    k = rng.integers(-500, 500, 20_000).astype(float)
    near = k * p[0] + rng.choice([0.0, 1e-13, -1e-13, 5e-16, -5e-16, 1e-300, -1e-300], k.size)
    specials = np.array([0.0, -0.0, p[0], -p[0], 2 * p[0], -2 * p[0], 1e-300, -1e-300,
                         np.nextafter(p[0], 0), -np.nextafter(p[0], 0)])  # (XLA flushes subnormals)
    x = np.concatenate([x, near, specials])
    got = np.asarray(jax.jit(jax.vmap(floor_mod, in_axes=(None, 0)))(jnp.asarray(x), jnp.asarray(p)))
    want = x[None, :] % p[:, None]
    np.testing.assert_array_equal(got, want)
    assert got[0][-3] == p[0]  # -1e-300 % p is round(p - 1e-300) = p in numpy, not 0
    t = rng.uniform(1000, 4000, 50_000)
    fold = jax.jit(jax.vmap(phase_mod, in_axes=(None, 0, 0)))
    ph = np.asarray(fold(jnp.asarray(t), jnp.asarray(p + 1000), jnp.asarray(p)))
    np.testing.assert_array_equal(ph, ((t[None, :] - (p + 1000)[:, None]) % p[:, None]) / p[:, None])


def test_sorted_subset_and_bin_medians():
    rng = np.random.default_rng(3)
    v = np.sort(rng.standard_normal(1001))
    sel = rng.random(1001) < 0.3
    med, n = sorted_subset_median(jnp.asarray(v), jnp.asarray(sel))
    assert int(n) == sel.sum() and float(med) == np.median(v[sel])
    med0, n0 = sorted_subset_median(jnp.asarray(v), jnp.zeros(1001, bool))
    assert int(n0) == 0 and np.isnan(float(med0))
    bins = rng.integers(0, 9, 1001)  # bin 8 = left out
    meds, counts = sorted_bin_medians(jnp.asarray(v), jnp.asarray(bins), 8)
    for b in range(8):
        assert int(counts[b]) == (bins == b).sum()
        assert float(meds[b]) == np.median(v[bins == b])


def test_weighted_lstsq_matches_numpy_and_zero_columns():
    rng = np.random.default_rng(4)
    n = 500
    t = np.sort(rng.uniform(0, 30, n))
    x = np.stack([(np.abs(t % 3 - 1.5) < 0.2).astype(float), np.cos(t), np.sin(t), np.zeros(n)], 1)
    y = x[:, :3] @ np.array([1e-3, 2e-4, -1e-4]) + 1e-4 * rng.standard_normal(n)
    w = 1.0 / rng.uniform(1e-4, 3e-4, n) ** 2
    mask = rng.random(n) < 0.9
    got = np.asarray(weighted_lstsq(jnp.asarray(x), jnp.asarray(y), jnp.asarray(w), jnp.asarray(mask)))
    sw = np.sqrt(w[mask])
    want = np.linalg.lstsq(x[mask] * sw[:, None], y[mask] * sw, rcond=None)[0]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)
    assert got[3] == 0.0  # a zero column: numpy's minimum-norm coefficient
