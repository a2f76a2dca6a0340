"""Tests of jaxvet.campaigns.bootstrap_study: counts, weighted statistics vs a numpy oracle, real data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.campaigns.bootstrap_study import (
    STATISTICS,
    bootstrap_statistics,
    draw_counts,
    v01_statistics,
    v04_statistics,
    v21_statistics,
    weighted_median,
)
from jaxvet.data import Candidate, LightCurve
from jaxvet.errors import JaxvetInputError
from tests.oracles import bootstrap_oracle as oracle

TOI = dict(
    period_days=14.2423724, t0_btjd=3540.26317, duration_hours=4.046, stellar_radius=1.65, stellar_mass=1.47
)


def _random_counts(rng, n_res, n_units, active):
    c = np.zeros((n_res, n_units), np.int32)
    idx = np.nonzero(active)[0]
    for r in range(n_res):
        np.add.at(c[r], rng.choice(idx, size=idx.size), 1)
    return c


# ---- resampling --------------------------------------------------------------------------------
def test_draw_counts_preserves_strata_and_is_batch_independent():
    stratum = np.array([0, 1, -1, 0, 1, 0, 1, 1, -1, 0])
    c = np.asarray(draw_counts(3, np.arange(4000), stratum))
    assert c.shape == (4000, 10)
    assert np.all(c[:, stratum == -1] == 0)
    np.testing.assert_array_equal(c[:, stratum == 0].sum(1), 4)  # each stratum keeps its size
    np.testing.assert_array_equal(c[:, stratum == 1].sum(1), 4)
    # multinomial: each unit drawn 1 time on average, variance n p (1 - p) = 4 * 1/4 * 3/4
    np.testing.assert_allclose(c[:, stratum >= 0].mean(0), 1.0, atol=0.05)
    np.testing.assert_allclose(c[:, stratum >= 0].var(0), 0.75, atol=0.06)
    # resample r depends only on (seed, r)
    np.testing.assert_array_equal(np.asarray(draw_counts(3, np.arange(1500, 2000), stratum)), c[1500:2000])
    assert not np.array_equal(np.asarray(draw_counts(4, np.arange(500), stratum)), c[:500])


_wmed = jax.jit(weighted_median)  # (XLA flushes subnormals to zero: none are drawn)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-5, 5, allow_nan=False, allow_subnormal=False), min_size=1, max_size=9),
    data=st.data(),
)
def test_weighted_median_equals_median_of_expanded_sample(values, data):
    n = len(values)
    counts = np.asarray(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    sel = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pad = 9 - n  # one padded shape (padding slots are never selected)
    v = np.concatenate([values, np.full(pad, 7.0)])
    med, cnt = _wmed(
        v, np.concatenate([counts, np.full(pad, 3)])[None, :], np.concatenate([sel, np.zeros(pad, bool)])
    )
    (exp,) = oracle.expand(counts, np.asarray(values), select=sel)
    assert int(cnt[0]) == exp.size
    if exp.size:
        assert float(med[0]) == np.median(exp)
    else:
        assert np.isnan(float(med[0]))


# ---- statistics of a resample vs the numpy oracle (random units) --------------------------------
def _random_epoch_units(rng, e=14):
    ok = rng.random(e) > 0.15
    return {
        "epoch": np.arange(e) - 3.0,
        "ok": ok,
        "depth": rng.normal(500e-6, 80e-6, e),
        "sigma": rng.uniform(30e-6, 90e-6, e),
        "baseline": rng.uniform(0.999, 1.001, e),
        "n_in": rng.integers(5, 40, e).astype(float),
        "sum_f_in": rng.uniform(5, 40, e),
        "sum_fw_in": rng.uniform(1e8, 2e8, e),
        "sum_w_in": rng.uniform(1e8, 2e8, e),
        "err_ok": np.ones(e, bool),
        "pink_n": rng.integers(20, 80, e).astype(float),
        "pink_sum_r": rng.normal(0, 1e-4, e),
        "pink_sum_r2": rng.uniform(1e-6, 3e-6, e),
        "pink_sum_m": rng.normal(0, 1e-4, e),
        "pink_sum_m2": rng.uniform(1e-8, 3e-8, e),
        "pink_sum_invc": rng.uniform(0.5, 1.0, e),
        "pink_nbins": rng.integers(4, 12, e).astype(float),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_v04_statistics_match_oracle(seed):
    rng = np.random.default_rng(seed)
    u = _random_epoch_units(rng)
    counts = _random_counts(rng, 30, u["ok"].size, u["ok"])
    counts[0] = u["ok"]  # the observed sample
    u04 = {"ok": u["ok"] & (u["depth"] > 0), "depth": u["depth"], "sigma": u["sigma"]}
    got04 = {k: np.asarray(v) for k, v in v04_statistics(counts, u04).items()}
    for r in range(counts.shape[0]):
        want = oracle.v04(counts[r], u04["ok"], u04["depth"], u04["sigma"])
        for k in got04:
            if want is None:
                assert np.isnan(got04[k][r]), k
            else:
                assert got04[k][r] == pytest.approx(want[k], rel=1e-10, abs=1e-12), (r, k)


def _v01_table_and_units(lc, cand):
    """TOI-5807's epoch table and the per-epoch units the numpy oracle reads from it."""
    from jaxvet.core.epochs import measure_epochs
    from jaxvet.data import CandidateBatch, LightCurveBatch

    tab = measure_epochs(LightCurveBatch.from_lightcurves([lc]), CandidateBatch.from_candidates([cand]))
    g = lambda a: np.asarray(a)[0]  # noqa: E731
    v = tab.v01
    u = {
        "epoch": g(tab.epoch), "ok": g(v.ok), "depth": np.nan_to_num(g(v.depth)),
        "sigma": np.nan_to_num(g(v.sigma)), "n_in": g(tab.n_in).astype(float),
        "baseline": np.where(g(v.ok), g(v.baseline), 1.0), "sum_f_in": np.nan_to_num(g(tab.sum_f_in)),
        "sum_fw_in": np.nan_to_num(g(tab.sum_fw_in)), "sum_w_in": np.nan_to_num(g(tab.sum_w_in)),
    }  # fmt: skip
    return tab, u


@pytest.mark.realdata
def test_v01_resamples_match_the_numpy_oracle_and_known_truth(toi5807_lc):
    """Per-epoch-median statistics of random resamples equal the numpy oracle's; doubling every
    epoch (known truth) leaves every depth unchanged and shrinks the median errors by sqrt(2)."""
    from jaxvet.campaigns.bootstrap_study import _v01_arguments

    tab, u = _v01_table_and_units(toi5807_lc, Candidate(**TOI))
    rng = np.random.default_rng(3)
    odd = np.mod(u["epoch"], 2) == 1
    counts = np.zeros((25, u["ok"].size), np.int32)
    for sel in (u["ok"] & odd, u["ok"] & ~odd):  # parity-stratified, as the study draws them
        counts += _random_counts(rng, 25, sel.size, sel)
    counts[0] = u["ok"]
    counts[1] = 2 * u["ok"]
    args = _v01_arguments(np.where(u["ok"], odd, -1), None, n_epochs=2 * u["ok"].size)
    got = {k: np.asarray(v) for k, v in v01_statistics(jnp.asarray(counts), tab, **args).items()}
    ref = ("delta_sigma", "rel_diff", "depth_odd_ppm", "depth_even_ppm", "depth_err_odd_ppm",
           "depth_err_even_ppm", "delta_ppm")  # fmt: skip
    for r in range(counts.shape[0]):
        want = oracle.v01(counts[r], {**u, **_oracle_box_fillers(u)})
        for k in ref:
            assert got[k][r] == pytest.approx(want[k], rel=1e-10, abs=1e-12), (r, k)
    for k in ("depth_odd_ppm", "depth_even_ppm", "delta_ppm"):
        assert got[k][1] == pytest.approx(got[k][0], rel=1e-12), k
    # the box statistic goes through the red-noise variance (a difference of sums), so its
    # rounding follows the compiler's summation order: 8e-12 apart at -O0, the oracle's 1e-10 here
    assert got["oe_box_rel_diff"][1] == pytest.approx(got["oe_box_rel_diff"][0], rel=1e-10)
    for k in ("depth_err_odd_ppm", "depth_err_even_ppm"):
        assert got[k][1] == pytest.approx(got[k][0] / np.sqrt(2.0), rel=1e-12), k


def _oracle_box_fillers(u):
    """The oracle's OE_box inputs, which the per-epoch-median metrics compared here never read."""
    z = np.zeros(u["ok"].size)
    return {
        "err_ok": z == 0, "pink_n": z + 30.0, "pink_sum_r": z, "pink_sum_r2": z + 1e-6,
        "pink_sum_m": z, "pink_sum_m2": z + 1e-8, "pink_sum_invc": z + 1.0, "pink_nbins": z + 4.0,
    }  # fmt: skip


@pytest.mark.realdata
def test_v01_observed_is_the_check_on_wasp18b_partial_epochs(shared_data):
    """WASP-18 b has two partial transits that V01's coverage gate drops from OE_box: the study's
    observed OE_box is V01's own (the gate and the red-noise floor included)."""
    import jaxvet
    from jaxvet.checks import get_check
    from jaxvet.engine.context import VetContext

    d = shared_data / "tic100100827"
    lc = jaxvet.read_lightcurves([d / "wasp18b.fits", d / "wasp18b_flat_lightcurve.csv"], split_sectors=True)
    cand = Candidate(0.9414526, 1375.169883, 2.1437)
    a01 = get_check("V01").compute(VetContext.build([lc], [cand]))
    assert int(np.asarray(a01["n_epochs_excluded"])[0]) >= 2  # the gate is active here
    res = bootstrap_statistics(lc, cand, ["V01.oe_box_sigma", "V01.delta_sigma"], n_resamples=64, seed=0)
    for k in ("oe_box_sigma", "delta_sigma"):
        assert res[f"V01.{k}"]["observed"] == pytest.approx(float(np.asarray(a01[k])[0]), rel=1e-10), k
    assert res["V01.oe_box_sigma"]["n_finite"] == 64


def test_v21_statistics_match_oracle():
    rng = np.random.default_rng(5)
    s = 6
    u = {
        "valid": np.array([True, True, True, False, True, True]),
        "depth_ppm": np.array([250.0, 310.0, -20.0, 100.0, 280.0, 190.0]),
        "err_ppm": rng.uniform(15, 40, s),
    }
    counts = _random_counts(rng, 40, s, u["valid"])
    got = {k: np.asarray(v) for k, v in v21_statistics(counts, u).items()}
    for r in range(counts.shape[0]):
        want = oracle.v21(counts[r], u["valid"], u["depth_ppm"], u["err_ppm"])
        for k in ("chi2_p_value", "chi2"):
            if want is None:
                assert np.isnan(got[k][r])
            else:
                assert got[k][r] == pytest.approx(want[k], rel=1e-9, abs=1e-300), (r, k)


# ---- boundary validation -------------------------------------------------------------------------
def _tiny_lc():
    t = np.linspace(1000.0, 1010.0, 200)
    return LightCurve(t, np.ones_like(t), np.full_like(t, 1e-4), sector=1)


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(statistic="V04.nope"), "V04.nope"),
        (dict(statistic="V09.depth"), "not supported"),
        (dict(statistic=[]), "statistic"),
        (dict(statistic="V21.chi2_p_value", unit="transit"), "unit='sector'"),
        (dict(unit="epoch"), "unit"),
        (dict(n_resamples=0), "n_resamples"),
        (dict(ci=1.5), "ci"),
        (dict(seed=-3), "seed"),
        (dict(percentiles=(50, 101)), "percentiles"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_bad_arguments_are_rejected(kw, needle):
    with pytest.raises(JaxvetInputError, match=needle):
        bootstrap_statistics(_tiny_lc(), Candidate(3.0, 1001.0, 2.0), **kw)


def test_bad_objects_are_rejected():
    with pytest.raises(JaxvetInputError, match="lc"):
        bootstrap_statistics(np.ones(5), Candidate(3.0, 1001.0, 2.0))
    with pytest.raises(JaxvetInputError, match="candidate"):
        bootstrap_statistics(_tiny_lc(), {"period_days": 3.0})
    assert "V04.chi2_reduced" in STATISTICS and "V21.chi2_p_value" in STATISTICS


# ---- real data: TOI-5807 (observed values reproduce tess-vetter's metrics) ----------------------
@pytest.mark.realdata
def test_toi5807_transit_bootstrap(toi5807_lc, reference_golden):
    ref = reference_golden["subsets"]["all_sectors"]["checks"]
    cand = Candidate(**TOI)
    names = ["V04.chi2_reduced", "V04.mean_depth_ppm", "V04.expected_scatter_ppm", "V04.depth_scatter_ppm"]
    names += [
        "V04.dom_frac",
        "V04.s_max",
        "V04.d_med_ppm",
        "V01.delta_sigma",
        "V01.depth_odd_ppm",
        "V01.rel_diff",
    ]
    res = bootstrap_statistics(toi5807_lc, cand, names, n_resamples=10_000, seed=1)
    v04 = ref["V04"]["metrics"]
    pd = ref["V04"]["raw"]["plot_data"]
    obs = {k: v["observed"] for k, v in res.items()}
    assert obs["V04.mean_depth_ppm"] == pytest.approx(pd["mean_depth_ppm"], rel=1e-10)
    assert obs["V04.expected_scatter_ppm"] == pytest.approx(pd["expected_scatter_ppm"], rel=1e-10)
    for k, nd in (
        ("chi2_reduced", 2),
        ("depth_scatter_ppm", 1),
        ("dom_frac", 3),
        ("s_max", 3),
        ("d_med_ppm", 2),
    ):
        assert round(obs[f"V04.{k}"], nd) == v04[k], k
    v01 = ref["V01"]["metrics"]
    assert round(obs["V01.delta_sigma"], 2) == v01["delta_sigma"]
    assert round(obs["V01.depth_odd_ppm"], 1) == v01["depth_odd_ppm"]
    assert round(obs["V01.rel_diff"], 2) == v01["rel_diff"]
    # ... and jaxvet's own checks, unrounded (including V01's OE_box with pink-noise errors)
    from jaxvet.checks import get_check
    from jaxvet.engine.context import VetContext

    ctx = VetContext.build([toi5807_lc], [cand])
    a01 = get_check("V01").compute(ctx)
    for k in ("delta_sigma", "depth_odd_ppm", "rel_diff"):
        assert obs[f"V01.{k}"] == pytest.approx(float(np.asarray(a01[k])[0]), rel=1e-10), k
    oe = bootstrap_statistics(
        toi5807_lc, cand, ["V01.oe_box_sigma", "V01.oe_box_rel_diff"], n_resamples=10_000
    )
    for k in ("oe_box_sigma", "oe_box_rel_diff"):
        assert oe[f"V01.{k}"]["observed"] == pytest.approx(float(np.asarray(a01[k])[0]), rel=1e-10), k
    a04 = get_check("V04").compute(ctx)
    for k in ("chi2_reduced", "mean_depth_ppm", "dom_frac", "s_max"):
        if k in a04:
            assert obs[f"V04.{k}"] == pytest.approx(float(np.asarray(a04[k])[0]), rel=1e-10), k
    r = res["V04.mean_depth_ppm"]
    assert r["n_units"] == v04["n_transits_measured"] == 8 and r["n_finite"] == 10_000
    # known truth: the bootstrap standard error of a mean is the population std / sqrt(N)
    assert r["std"] == pytest.approx(pd_std_over_sqrt_n(pd["depths_ppm"]), rel=0.04)
    assert r["ci"][0] < r["observed"] < r["ci"][1]
    assert r["percentiles"][50.0] == pytest.approx(r["observed"], rel=0.02)
    # parity-stratified V01 resamples keep 4 + 4 transits: never insufficient
    assert res["V01.delta_sigma"]["n_finite"] == 10_000
    # same seed, same samples; another seed, other samples
    again = bootstrap_statistics(
        toi5807_lc, cand, "V04.mean_depth_ppm", n_resamples=500, seed=1, batch_size=128
    )
    np.testing.assert_array_equal(again["samples"], r["samples"][:500])
    other = bootstrap_statistics(toi5807_lc, cand, "V04.mean_depth_ppm", n_resamples=500, seed=2)
    assert not np.array_equal(other["samples"], again["samples"])


def pd_std_over_sqrt_n(depths):
    d = np.asarray(depths, float)
    return d.std() / np.sqrt(d.size)


@pytest.mark.realdata
def test_toi5807_sector_bootstrap_of_v21(toi5807_lc, reference_golden):
    ref = reference_golden["subsets"]["all_sectors"]["checks"]["V21"]["metrics"]
    res = bootstrap_statistics(
        toi5807_lc,
        Candidate(**TOI),
        ["V21.chi2_p_value", "V04.chi2_reduced"],
        unit="sector",
        n_resamples=10_000,
    )
    p = res["V21.chi2_p_value"]
    assert p["observed"] == pytest.approx(ref["chi2_p_value"], rel=1e-9)
    assert p["units"] == [55, 75, 82, 83]
    assert p["n_finite"] == 10_000
    # a resample drawing one sector 4 times has chi2 = 0, p = 1: probability 4/4^4
    assert np.mean(p["samples"] == 1.0) == pytest.approx(4 / 256, abs=0.006)
    assert 0.0 <= p["ci"][0] <= p["ci"][1] <= 1.0
    v = res["V04.chi2_reduced"]
    v04_ref = reference_golden["subsets"]["all_sectors"]["checks"]["V04"]["metrics"]
    assert round(v["observed"], 2) == v04_ref["chi2_reduced"]
    assert v["n_units"] == 4 and v["n_finite"] > 9_000
