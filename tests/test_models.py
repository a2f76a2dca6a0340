"""jaxvet.core.models: exposure-averaged trapezoid, reference grid shape, limb-darkened transit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.core import models
from jaxvet.core.models import trapezoid_profile
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles import v05_oracle as O
from tests.oracles.injection_oracle import trapezoid_instant

_shape_jit = jax.jit(models.trapezoid_shape)
_grad_jit = jax.jit(models.trapezoid_shape_grad)


def test_trapezoid_matches_exact_exposure_average():
    rng = np.random.default_rng(0)
    for _ in range(6):
        t_total = rng.uniform(0.05, 0.3)
        t_flat = rng.uniform(0, 1) * t_total
        e = rng.choice([0.0, 0.0014, 0.0069, 0.0208, 0.4 * t_total])
        x = rng.uniform(-0.3, 0.3, 200)
        got = np.asarray(_shape_jit(x, t_total, t_flat, e))
        want = O.trapezoid_avg(x, t_total, t_flat, e)
        np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)


def test_trapezoid_limits_and_flux():
    x = np.linspace(-0.2, 0.2, 401)
    box = np.asarray(models.trapezoid_shape(x, 0.2, 0.2, 0.0))
    np.testing.assert_array_equal(box, (np.abs(x) < 0.1).astype(float))
    v = np.asarray(models.trapezoid_shape(x, 0.2, 0.0, 0.0))
    np.testing.assert_allclose(v, np.clip(1 - np.abs(x) / 0.1, 0, 1), atol=1e-15)
    f = np.asarray(models.trapezoid_flux(x, 0.01, 0.2, 0.1, t_mid=0.02, exposure=0.01))
    np.testing.assert_allclose(f, 1 - 0.01 * O.trapezoid_avg(x - 0.02, 0.2, 0.1, 0.01), atol=1e-14)
    # the box limit is continuous with a vanishing ramp
    a = np.asarray(models.trapezoid_shape(x, 0.2, 0.2, 0.01))
    b = np.asarray(models.trapezoid_shape(x, 0.2, 0.2 - 1e-6, 0.01))
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_trapezoid_grad_matches_autodiff_and_fd():
    x = jnp.linspace(-0.15, 0.15, 301)
    auto = jax.jit(
        jax.vmap(jax.grad(models.trapezoid_shape, argnums=(0, 1, 2)), in_axes=(0, None, None, None))
    )
    for t_total, t_flat, e in [(0.2, 0.1, 0.01), (0.2, 0.0, 0.01), (0.17, 0.05, 0.03)]:
        s, d_t, d_f, d_x = _grad_jit(x, t_total, t_flat, e)
        np.testing.assert_allclose(s, _shape_jit(x, t_total, t_flat, e), atol=1e-14)
        g = auto(x, t_total, t_flat, e)
        np.testing.assert_allclose(d_x, g[0], atol=1e-9)
        np.testing.assert_allclose(d_t, g[1], atol=1e-9)
        if t_flat > 0:
            np.testing.assert_allclose(d_f, g[2], atol=1e-9)
        h = 1e-7
        fd = (
            O.trapezoid_avg(np.asarray(x), t_total + h, t_flat, e)
            - O.trapezoid_avg(np.asarray(x), t_total - h, t_flat, e)
        ) / (2 * h)
        np.testing.assert_allclose(d_t, fd, atol=2e-5 / e)


def test_trapezoid_lightcurve_matches_synthetic_injection():
    lc = simulate_lightcurve(seed=1, sectors=(1,), white_ppm=0.0, cadence_min=30.0)
    inj = inject_transits(lc, 3.1, 2001.3, 3.0, 2500.0, tflat_ratio=0.4, supersample=41)
    model = jax.jit(models.trapezoid_lightcurve)(
        lc.time, 3.1, 2001.3, 2500e-6, 3.0 / 24, 0.4 * 3.0 / 24, 30.0 / 1440
    )
    # supersampling with 41 sub-exposures vs the exact average: error <~ depth/41^2 * few
    np.testing.assert_allclose(np.asarray(model), inj.flux, atol=2500e-6 * 2e-3)
    assert np.max(np.abs(np.asarray(model) - inj.flux)) > 0  # the two are independent computations
    # batched: (B, N) times against (B, 1) parameters
    tb = np.stack([lc.time[:500], lc.time[:500]])
    fb = models.trapezoid_lightcurve(tb, np.array([[3.1], [2.0]]), 2001.3, 1e-3, 0.1, 0.05)
    assert fb.shape == (2, 500)
    np.testing.assert_allclose(
        fb[1], models.trapezoid_lightcurve(lc.time[:500], 2.0, 2001.3, 1e-3, 0.1, 0.05)
    )


def test_reference_shape_is_bit_exact():
    rng = np.random.default_rng(3)
    for _ in range(5):
        tt = rng.uniform(0.002, 0.05)
        ph = rng.uniform(-0.6 * tt, 0.6 * tt, 300)
        # include the quirky boundary |phase| == F/2
        for ratio in np.linspace(0, 1, 20):
            tf = ratio * tt
            p = ph.copy()
            p[:2] = [tf / 2, -tf / 2]
            got = np.asarray(models.reference_trapezoid_shape(p, tf, tt))
            np.testing.assert_array_equal(got, O.ref_shape(p, tf, tt))


def _ld_bruteforce(z, p, u1, u2, n=700):
    """Blocked flux by direct integration over a grid on the planet disk."""
    g = (np.arange(n) + 0.5) / n * 2 - 1
    xx, yy = np.meshgrid(g * p, g * p)
    inside = xx**2 + yy**2 <= p**2
    r = np.sqrt((xx + z) ** 2 + yy**2)
    mu = np.sqrt(np.clip(1 - r**2, 0, None))
    inten = np.where(r < 1, 1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2, 0.0)
    cell = (2 * p / n) ** 2
    return np.sum(inten * inside) * cell / (np.pi * (1 - u1 / 3 - u2 / 6))


def test_uniform_overlap_exact():
    for p, z in [(0.1, 0.5), (0.1, 0.95), (0.1, 1.05), (0.1, 1.2), (0.3, 0.8), (1.5, 0.3)]:
        g = (np.arange(1200) + 0.5) / 1200 * 2 - 1
        xx, yy = np.meshgrid(g * p, g * p)
        inside = (xx**2 + yy**2 <= p**2) & ((xx + z) ** 2 + yy**2 <= 1)
        want = inside.sum() * (2 * p / 1200) ** 2 / np.pi
        assert float(models.uniform_overlap(p, z)) == pytest.approx(want, abs=4e-4 * max(p, 1) ** 2)


def test_ld_transit_vs_bruteforce():
    p, b, u1, u2 = 0.05, 0.3, 0.4, 0.25
    t14 = 0.12
    v = 2 * np.sqrt((1 + p) ** 2 - b**2) / t14
    dts = np.array([0.0, 0.03, 0.05, 0.058, 0.0615])
    got = 1 - np.asarray(jax.jit(models.ld_transit_flux)(dts, p, b, t14, u1, u2))
    for dt, g in zip(dts, got, strict=True):
        z = np.sqrt(b**2 + (v * dt) ** 2)
        assert g == pytest.approx(_ld_bruteforce(z, p, u1, u2), rel=3e-3, abs=1e-6)
    # a large, grazing companion (eclipsing-binary-like geometry)
    zs = np.array([0.9, 1.1, 1.3])
    got = np.asarray(jax.jit(models._occulted_flux)(jnp.full(3, 0.5), jnp.asarray(zs), u1, u2))
    for z, g in zip(zs, got, strict=True):
        assert g == pytest.approx(_ld_bruteforce(z, 0.5, u1, u2), rel=3e-3)
    # contact points: zero outside T14, grazing chords have F/T = 0
    assert float(models.ld_transit_flux(t14 / 2 + 1e-6, p, b, t14)) == 1.0
    assert float(models.tflat_ttotal_from_geometry(0.05, 0.99)) == 0.0
    want = np.sqrt(((1 - p) ** 2 - b**2) / ((1 + p) ** 2 - b**2))
    assert float(models.tflat_ttotal_from_geometry(p, b)) == pytest.approx(want)


@settings(max_examples=60, deadline=None)
@given(
    t_total=st.floats(1e-3, 1.0),
    frac=st.floats(0.0, 1.0),
    e=st.sampled_from([0.0, 1e-4, 1e-3, 0.05]),
    x=st.lists(st.floats(-2.0, 2.0), min_size=16, max_size=16),
)
def test_trapezoid_bounded_symmetric(t_total, frac, e, x):
    x = np.asarray(x)
    s = np.asarray(_shape_jit(x, t_total, frac * t_total, e))
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s, np.asarray(_shape_jit(-x, t_total, frac * t_total, e)), atol=1e-12)
    far = np.asarray(_shape_jit(x * 0 + t_total / 2 + e + 1e-3, t_total, frac * t_total, e))
    assert np.all(far == 0.0)
    g = np.asarray(_grad_jit(x, t_total, frac * t_total, e))
    assert np.all(np.isfinite(g))


def test_trapezoid_profile_matches_numpy_oracle():
    """The one trapezoid profile (used by the synthetic generators and the injections) against
    a plain-numpy piecewise-linear trapezoid at zero exposure, box and V included."""
    x = np.linspace(-0.1, 0.1, 777)
    for ratio in (0.0, 0.3, 1.0):
        np.testing.assert_allclose(
            np.asarray(trapezoid_profile(x, 0.15, ratio)), trapezoid_instant(x, 0.15, ratio), atol=1e-14
        )
