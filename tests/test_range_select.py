"""The wavelet-matrix range order statistics (jaxvet.core.range_select) against numpy."""

import jax.numpy as jnp
import numpy as np

from jaxvet.core.coverage import median_positive_step, step_index, window_cadences
from jaxvet.core.range_select import build_range_index, range_kth, range_median


def test_range_median_and_kth_match_numpy_with_ties_and_invalid_entries():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 20, (3, 1000)).astype(float) * 0.1
    x[0, :7] = np.nan  # invalid entries are never returned
    valid = (rng.random((3, 1000)) > 0.2) & np.isfinite(x)
    idx = build_range_index(jnp.asarray(x), jnp.asarray(valid))
    row = rng.integers(0, 3, 400)
    lo = rng.integers(0, 1001, 400)
    hi = np.minimum(1000, lo + rng.integers(0, 300, 400))
    med, n = range_median(idx, jnp.asarray(row), jnp.asarray(lo), jnp.asarray(hi))
    sel = [x[r, a:b][valid[r, a:b]] for r, a, b in zip(row, lo, hi, strict=True)]
    ref = [np.median(v) if v.size else np.nan for v in sel]
    assert np.array_equal(np.asarray(med), np.array(ref), equal_nan=True)
    assert np.array_equal(np.asarray(n), [v.size for v in sel])
    k = np.array([rng.integers(0, max(v.size, 1)) for v in sel])
    got = np.asarray(range_kth(idx, jnp.asarray(row), jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(k)))
    has = np.array([v.size > 0 for v in sel])
    assert np.array_equal(got[has], [np.sort(v)[j] for v, j in zip(sel, k, strict=True) if v.size])


def test_window_cadences_equal_median_positive_step_of_the_gathered_window():
    rng = np.random.default_rng(2)
    t = np.cumsum(
        rng.choice([0.0, 0.00139, 0.0013901, 0.5, -0.1], size=(2, 600), p=[0.05, 0.5, 0.35, 0.05, 0.05]), 1
    )
    mask = np.ones_like(t, bool)
    mask[1, 550:] = False
    steps = step_index(jnp.asarray(t), jnp.asarray(mask))
    start = rng.integers(0, 550, 200)
    count = rng.integers(0, 50, 200)
    row = rng.integers(0, 2, 200)
    got = np.asarray(window_cadences(steps, jnp.asarray(row), jnp.asarray(start), jnp.asarray(count)))
    w = np.arange(50)[None, :]
    m = w < count[:, None]
    ti = np.where(m, t[row[:, None], np.minimum(start[:, None] + w, 599)], 0.0)
    ref = np.asarray(
        median_positive_step(
            jnp.asarray(ti), jnp.asarray(m & mask[row[:, None], np.minimum(start[:, None] + w, 599)])
        )[0]
    )
    assert np.array_equal(got, ref, equal_nan=True)


def test_rank_medians_of_a_subset_and_of_a_complement():
    from jaxvet.core.range_select import complement_rank_median, subset_rank_median

    rng = np.random.default_rng(3)
    n_pts, n_total = 700, 650  # ranks 0 .. n_total-1 are the valid points of the sorted row
    sorted_row = np.sort(rng.integers(0, 40, n_pts).astype(float))  # ties in value
    ranks = np.stack([rng.permutation(n_total)[:300] for _ in range(6)]).astype(np.int32)
    sel = rng.random((6, 300)) < np.array([0.0, 0.003, 0.5, 0.9, 1.0, 0.2])[:, None]
    lo, hi, n = subset_rank_median(jnp.asarray(ranks), jnp.asarray(sel), n_pts)
    for b in range(6):
        v = sorted_row[ranks[b][sel[b]]]
        assert int(n[b]) == v.size
        if v.size:
            assert 0.5 * (sorted_row[int(lo[b])] + sorted_row[int(hi[b])]) == np.median(v)
    lo, hi, n = complement_rank_median(jnp.asarray(ranks), jnp.asarray(sel), jnp.full(6, n_total), n_pts)
    for b in range(6):
        keep = np.setdiff1d(np.arange(n_total), ranks[b][sel[b]])
        assert int(n[b]) == keep.size
        assert 0.5 * (sorted_row[int(lo[b])] + sorted_row[int(hi[b])]) == np.median(sorted_row[keep])
