"""Masked statistics against numpy on random padded batches."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.core import noise, stats


def _random_padded(rng, b=6, n=37):
    x = rng.normal(size=(b, n))
    counts = rng.integers(0, n + 1, size=b)
    counts[0], counts[1] = 1, 2  # edge counts
    mask = np.arange(n)[None, :] < counts[:, None]
    # scramble positions: masks need not be a prefix
    perm = rng.permutation(n)
    return x, mask[:, perm], counts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_median_mad_std_percentile_match_numpy(seed):
    rng = np.random.default_rng(seed)
    x, mask, _ = _random_padded(rng)
    x_pad = np.where(mask, x, 1e30)  # padding values must not leak
    med = np.asarray(stats.masked_median(jnp.asarray(x_pad), jnp.asarray(mask)))
    mad = np.asarray(stats.masked_mad(jnp.asarray(x_pad), jnp.asarray(mask)))
    std = np.asarray(stats.masked_std(jnp.asarray(x_pad), jnp.asarray(mask)))
    rs = np.asarray(stats.robust_std(jnp.asarray(x_pad), jnp.asarray(mask)))
    for q in (2.5, 16.0, 50.0, 84.0, 97.5):
        pct = np.asarray(stats.masked_percentile(jnp.asarray(x_pad), jnp.asarray(mask), q))
        for i in range(x.shape[0]):
            v = x[i][mask[i]]
            if v.size:
                assert pct[i] == pytest.approx(np.percentile(v, q), rel=1e-12, abs=1e-15)
    for i in range(x.shape[0]):
        v = x[i][mask[i]]
        if v.size == 0:
            assert np.isnan(med[i])
            continue
        assert med[i] == np.median(v)
        assert mad[i] == pytest.approx(np.median(np.abs(v - np.median(v))), rel=1e-14)
        assert std[i] == pytest.approx(np.std(v), rel=1e-12)
        expected_rs = 1.4826 * np.median(np.abs(v - np.median(v))) if v.size >= 2 else 0.0
        assert rs[i] == pytest.approx(expected_rs, rel=1e-14)


def test_median_excluding_matches_numpy():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        vals = np.sort(rng.normal(size=n))
        m = int(rng.integers(0, n))
        ex = rng.choice(n, size=m, replace=False)
        cap = m + 3
        ranks = np.zeros(cap, np.int32)
        ranks[:m] = ex
        emask = np.arange(cap) < m
        med, n_rem = stats.median_excluding(
            jnp.asarray(vals), jnp.int32(n), jnp.asarray(ranks), jnp.asarray(emask)
        )
        keep = np.setdiff1d(np.arange(n), ex)
        assert int(n_rem) == n - m
        assert float(med) == np.median(vals[keep])


def test_median_excluding_with_offset_block():
    vals = np.array([9.0, 9.0, 1.0, 2.0, 3.0, 4.0, 5.0, -7.0])  # block [2:7) is the "sector"
    med, _ = stats.median_excluding(
        jnp.asarray(vals), jnp.int32(5), jnp.asarray([0, 4]), jnp.asarray([True, True]), 2
    )
    assert float(med) == np.median([2.0, 3.0, 4.0])


def test_weighted_mean_and_chi2_sf():
    rng = np.random.default_rng(3)
    x, mask, _ = _random_padded(rng)
    w = rng.uniform(0.1, 2.0, size=x.shape)
    wm = np.asarray(stats.weighted_mean(jnp.asarray(x), jnp.asarray(w), jnp.asarray(mask)))
    for i in range(x.shape[0]):
        if mask[i].any():
            assert wm[i] == pytest.approx(np.average(x[i][mask[i]], weights=w[i][mask[i]]), rel=1e-12)
    for chi2, dof in [(31.3207, 3), (3.84, 1), (0.5, 10), (200.0, 50)]:
        assert float(stats.chi2_sf(chi2, dof)) == pytest.approx(scipy.stats.chi2.sf(chi2, dof), rel=1e-10)
    assert float(stats.chi2_sf(5.0, 0)) == 1.0


def _red_noise_oracle(res, t, bin_days):
    """Reference §5.5, written from the spec."""
    n = res.size
    if n < 10 or bin_days <= 0:
        return 1.0, False
    order = np.argsort(t)
    t, res = t[order], res[order]
    span = t[-1] - t[0]
    if span < 2 * bin_days:
        return 1.0, False
    n_bins = max(3, int(span / bin_days))
    edges = np.linspace(t[0], t[-1], n_bins + 1)
    means, counts = [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        sel = (t >= a) & (t < b)
        if sel.sum() >= 3:
            means.append(res[sel].mean())
            counts.append(sel.sum())
    if len(means) < 3:
        return 1.0, False
    observed = np.std(means)
    expected = 1.4826 * np.median(np.abs(res - np.median(res))) / np.sqrt(np.mean(counts))
    if expected <= 0:
        return 1.0, False
    return max(1.0, observed / expected), True


@pytest.mark.parametrize("seed", range(6))
def test_red_noise_inflation_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 200))
    t = np.sort(rng.uniform(0, 2.0, n))
    res = rng.normal(size=n) * 1e-3 + (0.003 * np.sin(t * 9) if seed % 2 else 0.0)
    bin_days = float(rng.uniform(0.05, 0.6))
    cap = 64
    pad = 256
    tt = np.full(pad, 0.0)
    rr = np.zeros(pad)
    mm = np.zeros(pad, bool)
    tt[:n], rr[:n], mm[:n] = t, res, True
    beta, ok = noise.red_noise_inflation(
        jnp.asarray(rr), jnp.asarray(tt), jnp.asarray(mm), bin_days, max_bins=cap
    )
    beta_o, ok_o = _red_noise_oracle(res, t, bin_days)
    if int(max(3, int((t[-1] - t[0]) / bin_days))) <= cap:
        assert bool(ok) == ok_o
        assert float(beta) == pytest.approx(beta_o, rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=30))
def test_masked_median_property(values):
    n = 32
    x = np.zeros(n)
    m = np.zeros(n, bool)
    x[: len(values)] = values
    m[: len(values)] = True
    med = float(stats.masked_median(jnp.asarray(x), jnp.asarray(m)))
    if values:
        assert med == pytest.approx(float(np.median(values)), rel=1e-12, abs=1e-9)
    else:
        assert np.isnan(med)
