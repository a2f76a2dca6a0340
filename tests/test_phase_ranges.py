"""Index ranges of phase windows (jaxvet.core.phase_ranges) and the multi-range sums and medians
of jaxvet.core.range_select, against brute force over the points."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxvet.core.numerics import floor_divmod
from jaxvet.core.phase_ranges import (
    centered_key,
    crowding,
    mod_key,
    phase_search,
    plan_cycles,
    time_grid,
)
from jaxvet.core.range_select import (
    build_prefix_sums,
    build_range_index,
    range_sums,
    ranges_median,
)


def _row(seed=0, n=400, width=512):
    """One padded row of ascending times with gaps, repeated stamps and near-ties."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([0.0, 2 / 1440, 10 / 1440, 0.3, 1.5], size=n - 1, p=[0.1, 0.5, 0.3, 0.07, 0.03])
    t = 2000.0 + np.concatenate([[0.0], np.cumsum(steps)])
    pad = np.full(width - n, 1e9)
    return np.concatenate([t, pad])[None, :], np.array([n], np.int32)


def test_phase_search_equals_brute_force():
    time, n_valid = _row()
    t = time[0, : n_valid[0]]
    grid = time_grid(time, n_valid)
    crowd = crowding(time, n_valid)
    assert crowd >= 2  # repeated stamps
    P, t0 = 0.7312, 2000.123
    cyc = np.arange(-2.0, 30.0)[:, None] * np.ones((1, 7))
    ph_mod = np.array([0.0, 0.1, 0.35, 0.5, 0.999, 1.0, 1.3])[None, :] * np.ones_like(cyc)
    ph_cen = np.array([-0.7, -0.5, -0.2, 0.0, 0.2, 0.5, 0.61])[None, :] * np.ones_like(cyc)
    for key, phase, rng in ((mod_key, ph_mod, (0.0, 1.0)), (centered_key, ph_cen, (-0.5, 0.5))):
        c_pt, p_pt = (np.asarray(x) for x in key(jnp.asarray(t), t0, P))
        for strict in (False, True):
            got = phase_search(
                grid, jnp.asarray(time.reshape(-1)), jnp.zeros(cyc.shape, jnp.int32), n_valid[0], key, t0, P,
                jnp.asarray(cyc), jnp.asarray(phase), strict, phase_range=rng, crowd=crowd,
            )  # fmt: skip
            above = (c_pt[None, None, :] > cyc[..., None]) | (
                (c_pt[None, None, :] == cyc[..., None])
                & ((p_pt > phase[..., None]) if strict else (p_pt >= phase[..., None]))
            )
            want = np.where(above.any(-1), above.argmax(-1), t.size)
            np.testing.assert_array_equal(np.asarray(got), want)


def test_keys_match_numpy_folds():
    time, n_valid = _row(1)
    t = time[0, : n_valid[0]]
    P, t0 = 1.37, 2003.5
    q, ph = (np.asarray(x) for x in mod_key(jnp.asarray(t), t0, P))
    np.testing.assert_array_equal(ph, ((t - t0) % P) / P)
    np.testing.assert_array_equal(q, np.asarray(floor_divmod(jnp.asarray(t - t0), P)[0]))
    c, phc = (np.asarray(x) for x in centered_key(jnp.asarray(t), t0, P))
    ref = ((t - t0) / P) % 1.0
    np.testing.assert_array_equal(phc, np.where(ref > 0.5, ref - 1.0, ref))
    assert np.all(np.diff(c) >= 0) and np.all(np.diff(q) >= 0)


def test_plan_cycles_covers_every_point():
    time, n_valid = _row(2)
    t = time[0, : n_valid[0]]
    seg_lo, seg_hi = np.array([[t[0]]]), np.array([[t[-1]]])
    P = np.array([0.9, 3.3])
    t0 = np.array([2000.2, 1990.0])
    own, cyc, n = plan_cycles(seg_lo, seg_hi, np.zeros(2, int), P, t0, np.ones(2, bool), 0.0, 1.0)
    assert own.size >= n and np.all(own[n:] == 2)
    for b in range(2):
        q = np.floor((t - t0[b]) / P[b])
        assert set(q) <= set(cyc[:n][own[:n] == b])


def test_ranges_median_and_sums():
    rng = np.random.default_rng(3)
    vals = rng.standard_normal((2, 300))
    vals[0, :40] = 0.5  # ties
    valid = np.ones((2, 300), bool)
    index = build_range_index(jnp.asarray(vals), jnp.asarray(valid))
    lo = np.array([0, 50, 120, 0, 10, 30, 200])
    hi = np.array([20, 90, 121, 300, 20, 60, 260])
    sign = np.array([1, 1, 1, 1, -1, -1, -1])
    group = np.array([0, 0, 0, 1, 1, 1, 3])  # group 3: outside, ignored
    med, cnt = ranges_median(index, jnp.array([0, 1]), jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(sign),
                             jnp.asarray(group))  # fmt: skip
    g0 = np.concatenate([vals[0, 0:20], vals[0, 50:90], vals[0, 120:121]])
    keep = np.ones(300, bool)
    keep[10:20] = keep[30:60] = False
    g1 = vals[1, keep]
    np.testing.assert_array_equal(np.asarray(med), [np.median(g0), np.median(g1)])
    np.testing.assert_array_equal(np.asarray(cnt), [g0.size, g1.size])
    ps = build_prefix_sums(jnp.asarray(np.stack([vals, vals**2], -1)))
    got = np.asarray(range_sums(ps, jnp.array([0, 1]), jnp.array([5, 100]), jnp.array([77, 101])))
    np.testing.assert_allclose(got[0], [vals[0, 5:77].sum(), (vals[0, 5:77] ** 2).sum()], rtol=1e-14)
    np.testing.assert_allclose(got[1], [vals[1, 100], vals[1, 100] ** 2], rtol=1e-15)
