"""One-pass kernels of V16: box + harmonic normal-equation sums against explicit design
matrices, and the blocked per-bin medians against the sorting ones (same values)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxvet.core.bin_medians import blocked_bin_medians
from jaxvet.core.box_harmonic import box_harmonic_sums, trig_pairs
from jaxvet.core.ephemeris import phase_nearest
from jaxvet.core.order_stats import sorted_bin_medians


@pytest.mark.parametrize("n_harm,half", [(2, 0.1), (1, 0.3), (3, 0.7)])
def test_box_harmonic_sums_match_design_matrix(n_harm, half):
    rng = np.random.default_rng(n_harm)
    t = np.sort(rng.uniform(1500.0, 1530.0, 3000))
    y = rng.normal(0, 1e-3, t.size)
    w = np.where(rng.uniform(size=t.size) < 0.9, rng.uniform(0.5, 2.0, t.size), 0.0)
    period, t0 = 2.3, 1501.1
    s = box_harmonic_sums(jnp.asarray(t), jnp.asarray(y), (jnp.asarray(w), jnp.asarray(w * w)), period, t0,
                          half, n_harm=n_harm)  # fmt: skip
    ph, orbit = (np.asarray(a) for a in phase_nearest(jnp.asarray(t), t0, period))
    prim = np.abs(ph * period) < half
    ps = ph - 0.5
    sec = np.abs((ps - np.round(ps)) * period) < half
    odd = orbit % 2 == 1
    arg = 2 * np.pi * np.arange(1, n_harm + 1)[None, :] / period * t[:, None]
    q = np.stack([np.cos(arg), np.sin(arg)], -1).reshape(t.size, 2 * n_harm)
    for r, a in enumerate((w, w * w)):
        want = {
            "trig": [np.sum(a * q[:, i] * q[:, j]) for i, j in trig_pairs(n_harm)],
            "trig_y": q.T @ (a * y), "box_trig": q.T @ (a * prim), "box": np.sum(a * prim),
            "box_y": np.sum(a * y * prim), "odd": np.sum(a * (prim & odd)), "even": np.sum(a * (prim & ~odd)),
            "odd_y": np.sum(a * y * (prim & odd)), "even_y": np.sum(a * y * (prim & ~odd)),
            "sec": np.sum(a * sec), "sec_y": np.sum(a * y * sec), "sec_odd": np.sum(a * (sec & prim & odd)),
            "sec_even": np.sum(a * (sec & prim & ~odd)),
        }  # fmt: skip
        for k, v in want.items():
            np.testing.assert_allclose(np.asarray(s[k][r]), v, rtol=1e-11, atol=1e-13 * np.sum(a), err_msg=k)
    if half < period / 4:
        assert float(s["sec_odd"][0]) == 0.0 and float(s["sec_even"][0]) == 0.0  # exact zeros


@pytest.mark.parametrize("n,n_bins,block", [(5000, 240, 512), (777, 20, 64), (3000, 2000, 256)])
def test_blocked_bin_medians_equal_sorted(n, n_bins, block):
    rng = np.random.default_rng(n)
    x = jnp.sort(jnp.asarray(rng.normal(size=n).round(2)))  # ties
    bins = rng.integers(0, n_bins + 1, n)
    bins[: n // 3] = n_bins  # left out
    bins[rng.uniform(size=n) < 0.2] = 3  # one crowded bin
    want, wc = sorted_bin_medians(x, jnp.asarray(bins), n_bins)
    got, gc = blocked_bin_medians(x, jnp.asarray(bins), n_bins, block=block)
    np.testing.assert_array_equal(np.asarray(gc), np.asarray(wc))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
