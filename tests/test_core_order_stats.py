"""The order-statistics, noise and window kernels: ``f(x[m]) == f(x, where=m)`` and numpy parity."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxvet.core import noise, order_stats, stats


def _data(seed, n=41):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    m = rng.random(n) < 0.6
    m[:2] = True
    return x, m


MASKED = {
    "masked_median": order_stats.masked_median,
    "masked_mad": order_stats.masked_mad,
    "robust_std": order_stats.robust_std,
    "masked_percentile": lambda x, where=None: order_stats.masked_percentile(x, q=16.0, where=where),
    "masked_kth": lambda x, where=None: order_stats.masked_kth(x, 3, where=where),
    "masked_mean": stats.masked_mean,
    "masked_std": stats.masked_std,
    "masked_sum": stats.masked_sum,
}

MOMENTS = ("masked_mean", "masked_std", "masked_sum")


@pytest.mark.parametrize("name", sorted(MASKED))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_where_mask_equals_selection(name, seed):
    f = MASKED[name]
    x, m = _data(seed)
    sel = float(f(jnp.asarray(x[m])))
    masked = float(f(jnp.asarray(np.where(m, x, 1e30)), where=jnp.asarray(m)))
    if name in MOMENTS:  # sums: the zeros in the masked slots change the summation order
        assert masked == pytest.approx(sel, rel=1e-14)
    else:  # order statistics select the same values: exact
        assert masked == sel


def test_weighted_mean_where():
    x, m = _data(4)
    w = np.linspace(0.5, 2.0, x.size)
    sel = float(stats.weighted_mean(jnp.asarray(x[m]), jnp.asarray(w[m])))
    got = float(stats.weighted_mean(jnp.asarray(x), jnp.asarray(w), where=jnp.asarray(m)))
    assert got == pytest.approx(sel, rel=1e-13)


def test_order_key_round_trip_and_order():
    x = np.array([-np.inf, -3.5, -0.0, 0.0, 1e-300, 2.0, np.inf])
    k = np.asarray(order_stats.order_key(jnp.asarray(x)))
    assert np.all(np.diff(k) > 0)
    back = np.asarray(order_stats.from_order_key(jnp.asarray(k), jnp.float64))
    assert np.array_equal(back.view(np.int64), x.view(np.int64))


def test_median_excluding_where_and_segments():
    rng = np.random.default_rng(7)
    vals = np.sort(rng.normal(size=50))
    ex = np.sort(rng.choice(50, size=9, replace=False))
    ranks = np.concatenate([ex, np.zeros(3, int)])
    keep = np.arange(ranks.size) < ex.size
    expected = np.median(np.delete(vals, ex))
    med, n_rem = order_stats.median_excluding(
        jnp.asarray(vals), jnp.int32(50), jnp.asarray(ranks), where=jnp.asarray(keep)
    )
    assert float(med) == expected and int(n_rem) == 41
    g = ex - np.arange(ex.size)
    seg, _ = order_stats.median_excluding_segments(
        lambda pos: jnp.asarray(vals)[jnp.clip(pos, 0, 49)],
        jnp.asarray([50]),
        jnp.asarray(g, jnp.int32),
        jnp.asarray([0]),
        jnp.asarray([ex.size]),
    )
    assert float(seg[0]) == expected


def test_batched_searchsorted_matches_numpy():
    rng = np.random.default_rng(3)
    rows = [np.sort(rng.uniform(0, 10, n)) for n in (5, 17, 1)]
    flat = np.concatenate(rows)
    start = np.cumsum([0] + [r.size for r in rows[:-1]])
    q = rng.uniform(-1, 11, (3, 6))
    for side in ("left", "right"):
        got = np.asarray(
            order_stats.batched_searchsorted(
                jnp.asarray(flat), jnp.asarray(start)[:, None], jnp.asarray([r.size for r in rows])[:, None],
                jnp.asarray(q), side=side,
            )
        )  # fmt: skip
        for i, r in enumerate(rows):
            assert np.array_equal(got[i], np.searchsorted(r, q[i], side=side))


def test_mad_selection_and_rank_index_match_numpy():
    x, m = _data(5, n=64)
    xs = np.sort(x[m])
    n = xs.size
    xs_pad = np.concatenate([xs, np.full(64 - n, np.inf)])[None, :]
    med = np.median(xs)
    spec, finish = order_stats.mad_select_spec(
        jnp.asarray(xs_pad), jnp.asarray([n]), jnp.asarray([[med]]), jnp.asarray([[0.0]])
    )
    i = order_stats.bisect([spec], order_stats.bisect_steps(64))[0]
    assert float(finish(i)[0, 0]) == np.median(np.abs(xs - med))
    order = np.argsort(x)
    tree = order_stats.RankIndex(jnp.asarray(x[order]), jnp.asarray(m[order])[None, :])
    k = jnp.asarray([(n - 1) // 2, n // 2])
    assert float(np.mean(np.asarray(tree.lookup(jnp.zeros(2, jnp.int32), k)))) == med
    dev = order_stats.rank_index_abs_deviation(tree, 0, jnp.asarray(med), k, order_stats.bisect_steps(64))
    assert float(0.5 * (dev[0] + dev[1])) == np.median(np.abs(xs - med))


def test_red_noise_ordered_and_unordered_agree():
    rng = np.random.default_rng(11)
    t = np.sort(rng.uniform(0, 3.0, 200))
    r = rng.normal(size=200) * 1e-3 + 0.002 * np.sin(t * 7)
    m = np.ones(200, bool)
    beta_u, ok_u = noise.red_noise_inflation(jnp.asarray(r), jnp.asarray(t), jnp.asarray(m), 0.2)
    edges, nb, ok_pre = noise.red_noise_edges(
        jnp.asarray([t[0]]), jnp.asarray([t[-1]]), jnp.asarray([200]), jnp.asarray([0.2]), 64
    )
    pos = jnp.asarray(np.searchsorted(t, np.asarray(edges[0]), side="left"))[None, :]
    cs_cnt = jnp.cumsum(jnp.ones((1, 200)), axis=1)
    cs_res = jnp.cumsum(jnp.asarray(r)[None, :], axis=1)
    rs = order_stats.robust_std(jnp.asarray(r))[None]
    beta_o, ok_o = noise.red_noise_from_pos(pos, nb, ok_pre, cs_cnt, cs_res, rs)
    assert bool(ok_u) and bool(ok_o[0])
    assert float(beta_o[0]) == pytest.approx(float(beta_u), rel=1e-12)


def test_masked_median_by_keys_is_numpys_median_of_the_masked_rows():
    """The bisection median equals numpy's median of ``x[m]`` (and of ``x[m] - offset``), with
    ties, negative zeros and an empty row; the count is the mask's."""
    from jaxvet.core.order_stats import masked_median_by_keys

    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 37))
    x[1, ::3] = x[1, 0]  # ties
    x[2, :5] = -0.0
    m = rng.random((6, 37)) < 0.6
    m[3] = False  # empty row
    m[4] = False
    m[4, 7] = True  # one point
    med, n = masked_median_by_keys(jnp.asarray(x), jnp.asarray(m))
    med_off, _ = masked_median_by_keys(jnp.asarray(x), jnp.asarray(m), 1.0)
    for r in range(6):
        assert int(n[r]) == int(m[r].sum())
        if m[r].any():
            assert float(med[r]) == float(np.median(x[r][m[r]]))
            assert float(med_off[r]) == float(np.median(x[r][m[r]] - 1.0))
        else:
            assert np.isnan(float(med[r]))
