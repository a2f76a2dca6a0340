"""jaxvet.core.fit: reference grid search (exact), binning, trapezoid fits vs scipy, bootstrap weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.core import fit
from tests.oracles import v05_oracle as O

# -- reference grid search ---------------------------------------------------------------------

_grid_batch = jax.jit(jax.vmap(fit.reference_grid_search, in_axes=(0, 0, 0, 0)))
_grid_boot = jax.jit(jax.vmap(fit.reference_grid_bootstrap, in_axes=(0, 0, 0, 0, 0)))


def _random_transit_batch(rng, b, m):
    """Random padded batch of phase-folded transits (phase units) with noise; varied fill."""
    tt = rng.uniform(0.005, 0.05, b)
    ph = rng.uniform(-0.6, 0.6, (b, m)) * tt[:, None]
    ratio = rng.uniform(0, 1, b)
    depth = rng.uniform(2e-4, 5e-3, b)
    flux = np.empty((b, m))
    for i in range(b):
        flux[i] = 1 - depth[i] * O.ref_shape(ph[i], ratio[i] * tt[i], tt[i]) + rng.normal(0, 3e-4, m)
    n = rng.integers(12, m + 1, b)
    mask = np.arange(m)[None, :] < n[:, None]
    return tt, ph, flux, mask


def test_reference_grid_search_matches_oracle():
    rng = np.random.default_rng(11)
    tt, ph, flux, mask = _random_transit_batch(rng, 6, 256)
    mask[3] = False  # an empty candidate
    r, d, c = map(np.asarray, _grid_batch(ph, flux, mask, tt))
    for i in range(len(tt)):
        want = O.ref_grid(ph[i][mask[i]], flux[i][mask[i]], tt[i])
        assert r[i] == want[0]
        assert d[i] == pytest.approx(want[1], rel=1e-12)
        if np.isfinite(want[2]):
            assert c[i] == pytest.approx(want[2], rel=1e-10)
        else:
            assert not np.isfinite(c[i])
    assert (r[3], d[3]) == (0.5, 0.001)


def test_reference_grid_bootstrap_matches_resampled_oracle():
    rng = np.random.default_rng(12)
    tt, ph, flux, mask = _random_transit_batch(rng, 6, 256)
    k = 20
    w = np.zeros((6, k, 256))
    for i in range(6):
        n = int(mask[i].sum())
        for j in range(k):
            w[i, j, :n] = np.bincount(rng.integers(0, n, n), minlength=n)
    got = np.asarray(_grid_boot(ph, flux, mask, tt, w))
    agree = 0
    for i in range(6):
        n = int(mask[i].sum())
        for j in range(k):
            idx = np.repeat(np.arange(n), w[i, j, :n].astype(int))
            agree += got[i, j] == O.ref_grid(ph[i][idx], flux[i][idx], tt[i])[0]
    # exact except for (rare) grid points whose chi-square ties to ~1e-15 relative
    assert agree >= 6 * k - 1


# -- bootstrap weights -----------------------------------------------------------------------


def test_poisson_weights_statistics_and_prefix_consistency():
    key = jax.random.key(3)
    w = np.asarray(jax.jit(jax.vmap(lambda k: fit.poisson_weights(key, k, 4096)))(jnp.arange(50)))
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.var() == pytest.approx(1.0, abs=0.02)
    assert (w == 0).mean() == pytest.approx(np.exp(-1), abs=0.01)
    short = np.asarray(fit.poisson_weights(key, 7, 100))
    np.testing.assert_array_equal(short, w[7, :100])
    assert not np.array_equal(w[0], w[1])


def test_multinomial_weights_resample_n_points():
    key = jax.random.key(5)
    n = 37
    rank = jnp.arange(64)
    mask = rank < n
    draw = jax.jit(fit.bootstrap_weights, static_argnames=("kind",))
    w = np.asarray(draw(key, rank, mask, n, jnp.arange(1, 201), kind="multinomial"))
    assert np.all(w.sum(axis=1) == n)
    assert np.all(w[:, n:] == 0)
    assert w[:, :n].mean() == pytest.approx(1.0, abs=0.02)
    assert w[:, :n].var() == pytest.approx(1 - 1 / n, abs=0.05)
    # the draws do not depend on the padded size
    w2 = np.asarray(draw(key, jnp.arange(128), jnp.arange(128) < n, n, jnp.arange(1, 5), kind="multinomial"))
    np.testing.assert_array_equal(w2[:, :64], w[:4])


def test_percentile_halfwidth_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 33))
    m = rng.uniform(size=(5, 33)) < 0.8
    h, lo, hi = map(np.asarray, fit.percentile_halfwidth(jnp.asarray(x), jnp.asarray(m), 0.68))
    for i in range(5):
        v = x[i][m[i]]
        assert lo[i] == np.percentile(v, (1 - 0.68) / 2 * 100)
        assert hi[i] == np.percentile(v, (1 + 0.68) / 2 * 100)
        assert h[i] == pytest.approx((hi[i] - lo[i]) / 2)


# -- trapezoid fit ---------------------------------------------------------------------------


def _synthetic_points(rng, b, m, sigma=4e-4, exposure=0.02):
    truth = np.stack(
        [
            rng.uniform(1e-3, 5e-3, b),
            rng.uniform(0.6, 1.2, b),
            rng.uniform(0.05, 0.95, b),
            rng.uniform(-0.05, 0.05, b),
        ],
        axis=1,
    )
    u = rng.uniform(-0.9, 0.9, (b, m))
    y = np.stack(
        [
            truth[i, 0]
            * O.trapezoid_avg(u[i] - truth[i, 3], truth[i, 1], truth[i, 2] * truth[i, 1], exposure)
            for i in range(b)
        ]
    )
    y += rng.normal(0, sigma, (b, m))
    w = np.full((b, m), 1 / sigma**2)
    return truth, u, y, w, np.full((b, m), exposure)


_bin = jax.jit(
    jax.vmap(lambda u, y, w, e, g, m: fit.bin_fit_points(u, y, w, e, g, m, window=0.9, n_bins=64, n_groups=2))
)


def test_binning_matches_oracle():
    rng = np.random.default_rng(2)
    _, u, y, w, e = _synthetic_points(rng, 6, 400)
    g = rng.integers(0, 2, (6, 400))
    e = np.where(g == 1, 0.05, e)
    m = rng.uniform(size=(6, 400)) < 0.9
    ids, xbar, ebar, s0, sy, syy, cnt = map(np.asarray, _bin(u, y, w, e, g, m))
    for i in range(6):
        ox, oe, os0, osy, osyy, ocnt = O.bin_points(
            u[i][m[i]], y[i][m[i]], w[i][m[i]], e[i][m[i]], g[i][m[i]], 0.9, 64, 2
        )
        ok = os0 > 0
        np.testing.assert_array_equal(cnt[i], ocnt)
        np.testing.assert_allclose(s0[i], os0, rtol=1e-12)
        np.testing.assert_allclose(sy[i], osy, rtol=1e-10, atol=1e-6)
        np.testing.assert_allclose(syy[i], osyy, rtol=1e-10)
        np.testing.assert_allclose(xbar[i][ok], ox[ok], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ebar[i][ok], oe[ok], rtol=1e-12)


def test_fit_matches_scipy_least_squares():
    """Grid -> optax Adam -> BFGS reaches scipy's multi-start least-squares optimum."""
    rng = np.random.default_rng(7)
    b = 6
    truth, u, y, w, e = _synthetic_points(rng, b, 400)
    g = np.zeros((b, 400), int)
    m = np.ones((b, 400), bool)
    _, xbar, ebar, s0, sy, _, _ = _bin(u, y, w, e, g, m)
    bounds = fit.TrapezoidBounds()
    p, c, _ = map(np.asarray, fit.fit_trapezoid_batch(xbar, ebar, s0, sy, bounds))
    xbar, ebar, s0, sy = map(np.asarray, (xbar, ebar, s0, sy))
    for i in range(b):
        po, _ = O.fit_binned(xbar[i], ebar[i], s0[i], sy[i], bounds.lower(), bounds.upper())
        c_or = O.chi2_binned(po, xbar[i], ebar[i], s0[i], sy[i])
        c_us = O.chi2_binned(p[i], xbar[i], ebar[i], s0[i], sy[i])
        assert c_us == pytest.approx(c[i], abs=1e-6 * abs(c[i]))  # our objective is the oracle's
        assert c_us <= c_or + 1e-3
        tol = np.array([2e-6, 2e-3, 3e-3, 5e-4])
        assert np.all(np.abs(p[i] - po) <= tol + 2e-3 * np.abs(po)), (p[i], po, c_us - c_or)


@jax.jit
def _boot_block(ids, xbar, ebar, w, y, p_hat, hinv):
    bounds = fit.TrapezoidBounds()
    lo, hi = bounds.lower(), bounds.upper()
    n = w.shape[0]
    wk = fit.bootstrap_weights(jax.random.key(0), jnp.arange(n), jnp.ones(n, bool), n, jnp.arange(1, 9))
    s0k, syk, _ = fit.resample_sums(ids, w, y, wk, xbar.shape[0])
    start = fit.bootstrap_starts(xbar, ebar, s0k, syk, p_hat, bounds)
    th, ck, dk = fit.bfgs_refine(start[:, 1:], xbar, ebar, s0k, syk, hinv, lo[1:], hi[1:], n_iter=5)
    return wk, s0k, syk, jnp.concatenate([dk[:, None], th], axis=1), ck


def test_bootstrap_refits_reach_resample_optimum():
    """A resample's BFGS refit (5 steps, full-data inverse Hessian) reaches its optimum."""
    rng = np.random.default_rng(8)
    _, u, y, w, e = _synthetic_points(rng, 6, 400, sigma=6e-4)
    ids, xbar, ebar, s0, sy, _, _ = _bin(u, y, w, e, np.zeros((6, 400), int), np.ones((6, 400), bool))
    bounds = fit.TrapezoidBounds()
    p_all, _, hinv = fit.fit_trapezoid_batch(xbar, ebar, s0, sy, bounds)
    p_hat = p_all[0]
    wk, s0k, syk, pk, ck = _boot_block(
        ids[0], xbar[0], ebar[0], jnp.asarray(w[0]), jnp.asarray(y[0]), p_hat, hinv[0]
    )
    xb, eb = np.asarray(xbar[0]), np.asarray(ebar[0])
    for j in range(8):
        s0j, syj = np.asarray(s0k[j]), np.asarray(syk[j])
        # resample sums equal the sums over the reweighted points
        wj = np.asarray(wk[j])
        inwin = np.abs(u[0]) < 0.9
        np.testing.assert_allclose(s0j.sum(), np.sum(wj * w[0] * inwin), rtol=1e-12)
        np.testing.assert_allclose(syj.sum(), np.sum(wj * w[0] * y[0] * inwin), rtol=1e-9)
        po, _ = O.fit_binned(
            xb,
            eb,
            s0j,
            syj,
            bounds.lower(),
            bounds.upper(),
            starts=[tuple(float(v) for v in np.asarray(p_hat)[1:])],
        )
        c_or = O.chi2_binned(po, xb, eb, s0j, syj)
        assert float(ck[j]) <= c_or + 0.01  # converged to within 0.01 in chi-square
        assert float(ck[j]) == pytest.approx(O.chi2_binned(np.asarray(pk[j]), xb, eb, s0j, syj), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 40),
    scale=st.sampled_from([0.0, 1e-6, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_degenerate_inputs_stay_finite(n, scale, seed):
    rng = np.random.default_rng(seed)
    m = np.arange(48) < n
    u = rng.uniform(-1.2, 1.2, 48)
    y = scale * rng.normal(size=48)
    w = np.where(rng.uniform(size=48) < 0.5, 0.0, 1.0)
    tile = lambda a: np.repeat(np.asarray(a)[None], 6, axis=0)  # noqa: E731  (one compiled batch shape)
    u6 = np.concatenate([np.pad(u, (0, 352))[None]] * 6)
    y6 = np.concatenate([np.pad(y, (0, 352))[None]] * 6)
    w6 = np.concatenate([np.pad(w, (0, 352), constant_values=1.0)[None]] * 6)
    m6 = np.concatenate([np.pad(m, (0, 352))[None]] * 6)
    _, xbar, ebar, s0, sy, _, _ = _bin(u6, y6, w6, np.full((6, 400), 0.01), np.zeros((6, 400), int), m6)
    p, c, hinv = fit.fit_trapezoid_batch(xbar, ebar, s0, sy, fit.TrapezoidBounds())
    p = np.asarray(p)
    assert (
        np.all(np.isfinite(p))
        and np.all(np.isfinite(np.asarray(c)))
        and np.all(np.isfinite(np.asarray(hinv)))
    )
    lo, hi = fit.TrapezoidBounds().lower(), fit.TrapezoidBounds().upper()
    assert np.all(p[:, 0] >= 0)  # the depth is not bounded above (nonsense data may exceed 1)
    assert np.all(p[:, 1:] >= lo[1:] - 1e-12) and np.all(p[:, 1:] <= hi[1:] + 1e-12)
    r, d, _ = _grid_batch(
        tile(u6[0][:256] * 0.01), tile(1 - y6[0][:256]), tile(m6[0][:256]), np.full(6, 0.02)
    )
    assert np.all(np.isfinite(np.asarray(r))) and np.all(np.asarray(d) > 0)
