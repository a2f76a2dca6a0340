"""The prefix-sum variability kernel against its definition (jaxvet.core.variability.oot_variability)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxvet
from jaxvet.core import variability_prefix as vp
from jaxvet.core.variability import lightcurve_scales, max_bins, oot_variability
from jaxvet.data import LightCurveBatch


def _lightcurve(seed: int, n: int, t_start: float, gaps: list[tuple[float, float]]):
    """A spotted star (sinusoid + white noise, 2-min cadence) with data gaps."""
    rng = np.random.default_rng(seed)
    t = t_start + np.arange(n) * (2.0 / 1440.0)
    for lo, hi in gaps:
        t = t[(t < t_start + lo) | (t > t_start + hi)]
    f = 1.0 + 3e-3 * np.sin(2 * np.pi * t / 2.7) + 5e-4 * rng.standard_normal(t.size)
    return jaxvet.LightCurve(t, f, np.full_like(t, 5e-4))


def _candidates(seed: int, n: int, t_first: float):
    rng = np.random.default_rng(seed)
    period = rng.uniform(0.3, 6.0, n)
    dur = rng.uniform(0.03, 0.5, n)  # includes D >= P/2 (the engine's guard) and overlapping windows
    return period, t_first + rng.uniform(-2.0, 2.0, n) * period, dur


@pytest.mark.parametrize("seed", [0, 1])
def test_prefix_kernel_matches_the_definition(seed):
    lcs = [
        _lightcurve(seed, 9000, 1000.0, [(3.0, 3.4), (5.0, 5.1), (7.2, 9.0)]),
        _lightcurve(seed + 10, 5000, 1003.0, [(1.0, 1.26)]),
    ]
    lcb = LightCurveBatch.from_lightcurves(lcs)
    n = 96
    period, t0, dur = _candidates(seed, n, 1000.0)
    li = np.arange(n) % 2
    hw = 0.75 * dur
    depth = np.where(np.arange(n) % 3 == 0, 2e-3, np.nan)
    seg_t = (np.asarray(lcb.seg_lo)[li], np.asarray(lcb.seg_hi)[li])
    nb = max_bins(*seg_t, dur)
    ne = vp.max_epochs(*seg_t, period, t0, hw)
    seg = tuple(jnp.asarray(a) for a in vp.segment_index_bounds(np.asarray(lcb.time), np.asarray(lcb.mask)))
    args = tuple(jnp.asarray(a) for a in (period, t0, dur, hw, depth))
    lj = jnp.asarray(li, jnp.int32)

    @partial(jax.jit, static_argnames=("nb",))
    def old(lcb, lj, p, t_0, d, h, dep, nb):
        sc = lightcurve_scales(lcb.time, lcb.flux, lcb.mask)
        rows = (lcb.time[lj], lcb.flux[lj], lcb.mask[lj])
        return oot_variability(*rows, tuple(s[lj] for s in sc), p, t_0, d, h, dep, 0.4, nb_max=nb)

    @partial(jax.jit, static_argnames=("nb", "ne"))
    def new(lcb, seg, lj, p, t_0, d, h, dep, nb, ne):
        sc = lightcurve_scales(lcb.time, lcb.flux, lcb.mask)
        pre = vp.lightcurve_prefix(lcb.flux, lcb.mask, sc[0])
        return vp.oot_variability_prefix(
            lcb.time, pre, seg, lj, sc, p, t_0, d, h, dep, 0.4, nb_max=nb, n_epochs=ne
        )

    a = jax.device_get(old(lcb, lj, *args, nb=nb))
    b = jax.device_get(new(lcb, seg, lj, *args, nb=nb, ne=ne))
    np.testing.assert_array_equal(a["n_bins"], b["n_bins"])
    np.testing.assert_array_equal(a["flag"], b["flag"])
    for k in ("sigma_var", "sigma_white", "depth", "ratio"):
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-15, equal_nan=True, err_msg=k)
    assert np.isfinite(a["depth"]).sum() > n // 2 and a["flag"].any() and not a["flag"].all()
