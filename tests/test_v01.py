"""V01 odd/even depth: numpy oracle, seed 003 test matrix, TOI-5807 reference values, plots.

The synthetic scenarios are 2-min TESS-like light curves (jaxvet.synthetic) with known truth;
all of them run in one batch (one compile).  Where seed 003's expected confidence differs from
the reference's confidence model (which V01 keeps for parity) the test asserts the reference
model's value and says so.
"""

from __future__ import annotations

import dataclasses
import functools

import matplotlib.pyplot as plt
import numpy as np
import pytest

from jaxvet.checks import v01_odd_even
from jaxvet.data import Candidate
from jaxvet.engine.context import VetContext
from jaxvet.errors import JaxvetInputError
from jaxvet.plotting.v01 import plot_odd_even, plot_odd_even_epochs, plot_odd_even_folded
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles import per_epoch_oracle as orc
from tests.test_epochs import host_arrays, random_batch

SPEC = v01_odd_even.SPEC
D_H = 3.0

#: seed 003 §6 test matrix: (sectors, P, t0, even depth ppm, odd/even ratio, white ppm, extras)
SCENARIOS = {
    "nominal": dict(sectors=(1, 2), P=5.0, t0=2001.0, depth=1000.0, white=1000.0),  # 5 odd / 5 even
    "low_n": dict(sectors=(1,), P=6.0, t0=2002.0, depth=1000.0, white=1300.0),  # 2 / 2
    "eb_deep": dict(sectors=(1, 2), P=5.0, t0=2001.0, depth=5000.0, ratio=0.4, white=1000.0),
    "eb_shallow": dict(sectors=(1, 2), P=5.0, t0=2001.0, depth=1500.0, ratio=800 / 1500, white=2000.0),
    "grazing": dict(sectors=(1,), P=4.5, t0=2002.0, depth=200.0, tflat=0.0, white=150.0),  # 3 / 3, V-shaped
    "systematics": dict(sectors=(1, 2), P=6.5, t0=2003.0, depth=1000.0, ratio=1.2, white=500.0, red=400.0),
    "sparse": dict(sectors=(1,), P=9.0, t0=2004.0, depth=1000.0, white=1000.0),  # 1 odd / 2 even
    "single_parity": dict(sectors=(1, 2), P=5.0, t0=2001.0, depth=1000.0, white=1000.0, even_only=True),
}


def scenario_lc(name, seed=0):
    s = SCENARIOS[name]
    lc = simulate_lightcurve(seed, sectors=s["sectors"], white_ppm=s["white"], red_ppm=s.get("red", 0.0))
    lc = inject_transits(
        lc, s["P"], s["t0"], D_H, s["depth"], tflat_ratio=s.get("tflat", 0.7),
        odd_even_ratio=s.get("ratio", 1.0), supersample=1, seed=seed,
    )  # fmt: skip
    if s.get("even_only"):
        k = np.round((lc.time - s["t0"]) / s["P"])
        lc = lc.select((np.mod(k, 2) == 0) & (np.abs(lc.time - (s["t0"] + k * s["P"])) < 1.0))
    return lc


N_NULL = 16  # random ephemerides on a light curve without transits


@functools.lru_cache(maxsize=1)
def matrix(seed=0):
    names = list(SCENARIOS)
    lcs = [scenario_lc(n, seed) for n in names]
    cands = [Candidate(SCENARIOS[n]["P"], SCENARIOS[n]["t0"], D_H, id=n) for n in names]
    lci = list(range(len(names)))
    lcs.append(simulate_lightcurve(seed + 99, sectors=(1, 2), white_ppm=1000.0, red_ppm=200.0))
    rng = np.random.default_rng(seed)
    for k in range(N_NULL):
        P = float(rng.uniform(3.1, 9.0))
        cands.append(
            Candidate(P, 2000.0 + float(rng.uniform(0, P)), float(rng.uniform(2.5, 5.0)), id=f"null{k}")
        )
        lci.append(len(lcs) - 1)
    names += [c.id for c in cands[len(names) :]]
    ctx = VetContext.build(lcs, cands, lc_index=lci)
    arrays = SPEC.compute(ctx)
    results = SPEC.finish(ctx, {k: np.asarray(v) for k, v in arrays.items()})
    return dict(zip(names, results, strict=True)), arrays, lcs, cands, ctx


def _oracle(lc, c):
    t, f, e = host_arrays(lc)
    return orc.v01(t, f, e, c.period_days, c.t0_btjd, c.duration_hours)


def _assert_like_oracle(r, want):
    ref_keys = [k for k in want["metrics"]]
    assert {k: r.metrics[k] for k in ref_keys} == want["metrics"]
    assert r.notes == want["notes"]
    assert r.flags == want["flags"]
    assert r.confidence == want["confidence"]
    assert r.verdict == want["verdict"]
    assert r.status == "ok" and r.id == "V01" and r.name == "odd_even_depth"


# ------------------------------------------------------------------------------------------
# oracle agreement on the shared random batch (3 light curves, guards, fallbacks, caps)
# ------------------------------------------------------------------------------------------
def test_random_batch_matches_oracle():
    lcs, cands, lci, ctx, _ = random_batch()
    results = SPEC.run(ctx)
    verdicts = set()
    for r, c, li in zip(results, cands, lci, strict=True):
        want = _oracle(lcs[li], c)
        _assert_like_oracle(r, want)
        if "median_odd" in want:
            assert r.raw["epoch_depths_odd_ppm"] == want["epoch_depths_odd_ppm"]
            assert r.raw["epoch_depths_even_ppm"] == want["epoch_depths_even_ppm"]
        verdicts.add(r.verdict)
    assert {"insufficient", "pass"} <= verdicts


def test_summary_metrics_are_batch_arrays():
    res, arrays, _, cands, _ = matrix()
    for m in SPEC.summary_metrics:
        a = np.asarray(arrays[m])
        assert a.shape == (len(cands),) and np.issubdtype(a.dtype, np.number), m
    assert np.asarray(arrays["status"]).shape == (len(cands),)


# ------------------------------------------------------------------------------------------
# seed 003 test matrix (known truth)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_matrix_matches_oracle(name):
    res, _, lcs, cands, _ = matrix()
    i = list(SCENARIOS).index(name)
    _assert_like_oracle(res[name], _oracle(lcs[i], cands[i]))


def test_true_planet_nominal_passes():
    r = matrix()[0]["nominal"]
    m = r.metrics
    assert (m["n_odd_transits"], m["n_even_transits"]) == (5, 5)
    assert r.verdict == "pass" and r.flags == [] and r.notes == []
    assert m["oe_box_sigma"] < 3 and m["oe_box_rel_diff"] < 0.5
    # box depth = mean over the trapezoid (70% flat) = 0.85 x 1000 ppm; the reference's
    # median depth is biased shallow at this per-point SNR (ramp points pull the median up)
    assert abs(m["depth_odd_box_ppm"] - 850) < 150 and abs(m["depth_even_box_ppm"] - 850) < 150
    assert 500 < m["depth_odd_ppm"] < 1100 and 500 < m["depth_even_ppm"] < 1100
    # per-parity uncertainty ~50 ppm as in the seed's "1000 +- 50"
    assert 25 < m["depth_err_odd_box_ppm"] < 80
    # seed: confidence 0.85; the reference model gives 0.7 for 5 transits per parity
    # (x1.05 when delta_sigma < 1) -- V01 keeps the reference model
    assert r.confidence == (0.735 if m["delta_sigma"] < 1 else 0.7)


def test_true_planet_low_n_passes_with_low_confidence():
    r = matrix()[0]["low_n"]
    assert (r.metrics["n_odd_transits"], r.metrics["n_even_transits"]) == (2, 2)
    assert r.verdict == "pass" and r.confidence == 0.5 and r.flags == []


@pytest.mark.parametrize("name,lo,hi", [("eb_deep", 10.0, np.inf), ("eb_shallow", 3.0, 10.0)])
def test_eclipsing_binary_at_twice_the_period_fails(name, lo, hi):
    r = matrix()[0][name]
    m = r.metrics
    assert r.verdict == "fail"
    assert lo < m["oe_box_sigma"] < hi
    assert m["depth_even_box_ppm"] > m["depth_odd_box_ppm"]
    assert m["delta_sigma"] > 3  # the reference statistic sees it too
    assert r.confidence == 0.7  # 5 per parity, no warnings, delta_sigma >= 1


def test_grazing_shallow_consistent_passes():
    r = matrix()[0]["grazing"]
    m = r.metrics
    assert (m["n_odd_transits"], m["n_even_transits"]) == (3, 3)
    assert r.verdict == "pass"
    # V-shaped: the box depth is about half the 200 ppm maximum
    assert 60 < m["depth_odd_box_ppm"] < 140 and 60 < m["depth_even_box_ppm"] < 140
    # seed: confidence 0.6; the reference model gives 0.5 for 3 transits per parity
    assert r.confidence == 0.5


def test_strong_systematics_within_noise_passes():
    r = matrix()[0]["systematics"]
    m = r.metrics
    assert (m["n_odd_transits"], m["n_even_transits"]) == (4, 4)
    assert r.verdict == "pass" and m["oe_box_sigma"] < 3
    # the correlated noise is measured and dominates the per-parity error
    assert m["sigma_red_ppm"] > 100
    assert m["depth_err_odd_box_ppm"] > m["sigma_white_ppm"] / np.sqrt(m["n_odd_points"]) * 2


def test_sparse_data_is_insufficient():
    r = matrix()[0]["sparse"]
    m = r.metrics
    assert (m["n_odd_transits"], m["n_even_transits"]) == (1, 2)
    assert r.verdict == "insufficient" and r.flags == ["INSUFFICIENT_DATA"] and r.confidence == 0.2
    assert "Only 1 odd transit(s), need 2" in r.notes and "insufficient_data_for_odd_even_check" in r.notes
    # the reference writes 0.0 for these; nothing was measured, so jaxvet gives None (JSON null)
    assert all(m[k] is None for k in v01_odd_even.UNMEASURED_METRICS)
    assert r.raw["plot_data"]["mean_odd_ppm"] is None


def test_single_parity_is_insufficient_with_note():
    r = matrix()[0]["single_parity"]
    m = r.metrics
    assert (m["n_odd_transits"], m["n_even_transits"]) == (0, 5)
    assert r.verdict == "insufficient" and r.flags == ["INSUFFICIENT_DATA"]
    # seed: confidence 0.1; the reference model gives 0.2 for any insufficient result
    assert r.confidence == 0.2
    assert r.notes[-1] == "single_parity_epochs"
    assert r.raw["plot_data"]["odd_epochs"] == [] and len(r.raw["plot_data"]["even_epochs"]) == 5


def test_eb_detection_robust_across_noise_draws():
    """The verdicts hold for other noise realisations too (not one lucky seed)."""
    res = matrix.__wrapped__(seed=11)[0]
    assert res["nominal"].verdict == "pass" and res["eb_deep"].verdict == "fail"
    assert res["eb_shallow"].verdict == "fail" and res["grazing"].verdict == "pass"


def test_no_transit_candidates_rarely_fail():
    """Random ephemerides on a transit-free light curve: both parity depths are ~0, so the
    relative difference is ~1 -- the significance gate keeps that from failing them."""
    res, _, _, _, ctx = matrix()
    nulls = [res[f"null{k}"] for k in range(N_NULL)]
    assert sum(r.verdict == "fail" for r in nulls) <= 2
    assert np.median([r.metrics["oe_box_rel_diff"] for r in nulls if r.verdict != "insufficient"]) > 0.5
    literal = SPEC.run(dataclasses.replace(ctx, options={"V01": {"rel_diff_min_sigma": 0.0}}))
    literal = {c.id: r for c, r in zip(ctx.candidates, literal, strict=True)}
    n_fail = sum(literal[f"null{k}"].verdict == "fail" for k in range(N_NULL))
    assert n_fail >= N_NULL // 2  # the seed's literal rule fails most transit-free candidates


def test_thresholds_are_options():
    res, _, _, _, ctx = matrix()
    r = SPEC.run(dataclasses.replace(ctx, options={"V01": {"oe_sigma_threshold": 1e-6}}))[0]
    assert r.verdict == "fail"  # any difference at all now fails
    assert r.metrics["oe_box_sigma"] == res["nominal"].metrics["oe_box_sigma"]
    r = SPEC.run(dataclasses.replace(ctx, options={"V01": {"min_transits_per_parity": 6}}))[0]
    assert r.verdict == "insufficient" and "Only 5 odd transit(s), need 6" in r.notes


@pytest.mark.parametrize(
    "opts,match",
    [
        ({"method": "trapezoid"}, "method"),
        ({"oe_sigma_threshold": -1}, "oe_sigma_threshold"),
        ({"min_transits_per_parity": 0}, "min_transits_per_parity"),
        ({"bogus": 1}, "unknown V01 option"),
    ],
)
def test_bad_options_rejected(opts, match):
    ctx = matrix()[4]
    with pytest.raises(JaxvetInputError, match=match):
        SPEC.compute(dataclasses.replace(ctx, options={"V01": opts}))


# ------------------------------------------------------------------------------------------
# guard, real data
# ------------------------------------------------------------------------------------------
def test_guard_duration_over_half_period():
    lcs, cands, lci, ctx, _ = random_batch()
    guarded = [i for i, c in enumerate(cands) if c.duration_days >= 0.5 * c.period_days]
    results = SPEC.run(ctx)
    for i in guarded:
        r = results[i]
        assert r.verdict == "insufficient" and r.confidence == 0.2
        assert r.flags == ["INSUFFICIENT_DATA", "DURATION_TOO_LONG"]
        assert r.notes == ["duration_too_long_relative_to_period", "insufficient_data_for_odd_even_check"]
        assert r.metrics["n_odd_transits"] == 0 and r.metrics["oe_box_sigma"] is None
        assert all(r.metrics[k] is None for k in v01_odd_even.UNMEASURED_METRICS)


@pytest.fixture(scope="module")
def toi_results(toi5807_subsets):
    ctx, lcs = toi5807_subsets
    return dict(zip(("all_sectors", "sectors_82_83"), SPEC.run(ctx), strict=True)), lcs


@pytest.mark.parametrize("subset", ["all_sectors", "sectors_82_83"])
def test_toi5807_matches_reference(toi_results, reference_golden, subset):
    r = toi_results[0][subset]
    g = reference_golden["subsets"][subset]["checks"]["V01"]
    assert {k: r.metrics[k] for k in g["metrics"]} == g["metrics"]
    assert r.confidence == g["confidence"] and r.flags == g["flags"] and r.notes == g["notes"]
    for k in ("epoch_depths_odd_ppm", "epoch_depths_even_ppm"):
        assert r.raw[k] == g["raw"][k]
    for k, v in g["raw"]["plot_data"].items():
        if isinstance(v, list):
            np.testing.assert_allclose(r.raw["plot_data"][k], v, rtol=1e-9)
        else:
            assert r.raw["plot_data"][k] == pytest.approx(v, rel=1e-9)
    assert r.verdict == "pass"  # TOI-5807.01: consistent odd/even depths


def test_toi5807_oe_box_agrees_with_oracle(toi_results):
    res, lcs = toi_results
    from tests.conftest import TOI5807

    for (name, r), lc in zip(res.items(), lcs, strict=True):
        t, f, e = host_arrays(lc)
        want = orc.v01(t, f, e, TOI5807["period_days"], TOI5807["t0_btjd"], TOI5807["duration_hours"])
        assert r.metrics["oe_box_sigma"] == round(want["oe_box_sigma"], 3), name
        assert r.metrics["sigma_white_ppm"] == round(want["sigma_white"] * 1e6, 2), name


# ------------------------------------------------------------------------------------------
# plots
# ------------------------------------------------------------------------------------------
def test_plots_render_from_plot_data():
    res = matrix()[0]
    for name in ("eb_deep", "single_parity"):
        r = res[name]
        fig = plot_odd_even(r)
        a0, a1 = fig.axes[:2]
        assert a0.get_xlabel() == "epoch" and "hours" in a1.get_xlabel()
        n_odd = len(r.raw["plot_data"]["odd_epochs"])
        assert len(a0.containers) == (2 if n_odd else 1)  # one errorbar per parity present
        plt.close(fig)
    r = res["eb_deep"]
    fig, ax = plt.subplots()
    assert plot_odd_even_epochs(r, ax=ax) is ax
    assert plot_odd_even_folded(r, ax=plt.subplots()[1]).get_lines()
    folded = r.raw["plot_data"]
    odd = np.array(folded["fold_odd_flux"], float)
    even = np.array(folded["fold_even_flux"], float)
    mid = np.abs(np.array(folded["fold_bin_centers_hours"])) < 0.5
    assert np.nanmean(even[mid]) < np.nanmean(odd[mid]) < 1.0  # even eclipses are deeper
    plt.close("all")


def test_plot_without_plot_data_raises():
    from jaxvet.results import skipped_result

    with pytest.raises(ValueError, match="plot_data"):
        plot_odd_even_epochs(skipped_result("V01", "odd_even_depth", "NO_DATA"))


def test_misspelled_option_raises_naming_it():
    ctx = matrix()[4]
    with pytest.raises(JaxvetInputError, match="oe_sigma_treshold"):
        SPEC.run(dataclasses.replace(ctx, options={"V01": {"oe_sigma_treshold": 2.0}}))


def test_threshold_change_does_not_recompile():
    ctx = matrix()[4]
    SPEC.run(ctx)
    before = v01_odd_even._v01_kernel._cache_size()
    for thr in (1.0, 2.5, 7.0):
        opts = {"oe_sigma_threshold": thr, "rel_diff_threshold": thr / 4, "rel_diff_min_sigma": thr / 2}
        SPEC.run(dataclasses.replace(ctx, options={"V01": opts}))
    assert v01_odd_even._v01_kernel._cache_size() == before
