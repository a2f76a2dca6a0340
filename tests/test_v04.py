"""V04 depth stability: numpy oracle, seed 002 test matrix, calibration, TOI-5807 reference, plots.

All synthetic scenarios (and the calibration ensemble) run in one batch.  Where seed 002's
expected confidence differs from the reference's confidence model (which V04 keeps for parity)
the test asserts the reference model's value and says so.
"""

from __future__ import annotations

import dataclasses
import functools

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxvet.checks import v04_depth_stability
from jaxvet.data import Candidate, CandidateBatch, LightCurve
from jaxvet.engine.context import VetContext
from jaxvet.errors import JaxvetInputError
from jaxvet.plotting.v04 import plot_depth_stability
from jaxvet.results import VERDICT_CODES
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles import per_epoch_oracle as orc
from tests.test_epochs import host_arrays, random_batch
from tests.test_v01 import GAP, GAP_KEEP, WASP18, gap_context

SPEC = v04_depth_stability.SPEC
D_H = 3.0

#: seed 002 §6.1 test matrix
SCENARIOS = {
    "stable_high_snr": dict(sectors=(1, 2), P=5.0, t0=2001.0, depth=5000.0, white=500.0),  # 10 transits
    "stable_low_snr": dict(sectors=(1, 2), P=5.0, t0=2001.0, depth=500.0, white=1000.0),
    "variable_eb_like": dict(sectors=(1, 2), P=6.5, t0=2003.0, depth=3500.0, ratio=6500 / 3500, white=500.0),
    "marginal_variability": dict(
        sectors=(1,),
        P=4.5,
        t0=2002.0,
        depth=3000.0,
        white=2400.0,
        factors={0: 1.15, 1: 0.85, 2: 1.1, 3: 0.9, 4: 1.15, 5: 0.85},
    ),  # fmt: skip
    "low_n_stable": dict(sectors=(1,), P=12.0, t0=2004.0, depth=2000.0, white=500.0),  # 2 transits
    "low_n_variable": dict(
        sectors=(1,), P=10.0, t0=2005.0, depth=2000.0, white=500.0, factors={0: 0.6, 2: 1.4}
    ),
    "single_outlier": dict(sectors=(1, 2), P=5.0, t0=2001.0, depth=3000.0, white=500.0, factors={4: 2.0}),
    "baseline_drift": dict(sectors=(1, 2), P=6.5, t0=2003.0, depth=2000.0, white=500.0, trend=0.10),
    "active_star": dict(sectors=(1, 2), P=4.2, t0=2001.0, depth=1500.0, white=500.0, red=300.0, scatter=0.05),
}
N_CALIB = 24  # stable planets (one sector, 8 transits each) for the calibration check
N_MARGINAL = 12  # extra noise draws of the marginal scenario (its statistic has sd ~1.4)
ROBUST = {"stable_high_snr": "pass", "variable_eb_like": "fail", "single_outlier": "pass"}


def scenario_lc(name, seed=0):
    s = SCENARIOS[name]
    lc = simulate_lightcurve(seed, sectors=s["sectors"], white_ppm=s["white"], red_ppm=s.get("red", 0.0))
    if s.get("trend"):
        span = lc.time[-1] - lc.time[0]
        ramp = 1.0 + s["trend"] * ((lc.time - lc.time[0]) / span - 0.5)
        lc = LightCurve(lc.time, lc.flux * ramp, lc.flux_err * ramp, lc.quality, lc.sector)
    return inject_transits(
        lc, s["P"], s["t0"], D_H, s["depth"], odd_even_ratio=s.get("ratio", 1.0),
        depth_scatter=s.get("scatter", 0.0), epoch_depth_factors=s.get("factors"), supersample=1, seed=seed,
    )  # fmt: skip


@functools.lru_cache(maxsize=1)
def matrix(seed=0):
    names = list(SCENARIOS)
    lcs = [scenario_lc(n, seed) for n in names]
    cands = [Candidate(SCENARIOS[n]["P"], SCENARIOS[n]["t0"], D_H, id=n) for n in names]
    for k in range(N_CALIB):
        lc = simulate_lightcurve(100 + k, sectors=(1,), white_ppm=800.0)
        lcs.append(inject_transits(lc, 3.0, 2001.0, D_H, 2000.0, supersample=1, seed=k))
        cands.append(Candidate(3.0, 2001.0, D_H, id=f"calib{k}"))
    for k in range(N_MARGINAL):
        lcs.append(scenario_lc("marginal_variability", seed=1000 + k))
        cands.append(
            Candidate(*(SCENARIOS["marginal_variability"][x] for x in ("P", "t0")), D_H, id=f"marg{k}")
        )
    for name in ROBUST:  # other noise draws of the headline scenarios
        lcs.append(scenario_lc(name, seed=7))
        cands.append(Candidate(SCENARIOS[name]["P"], SCENARIOS[name]["t0"], D_H, id=f"{name}@7"))
    ctx = VetContext.build(lcs, cands, lc_index=list(range(len(lcs))))
    arrays = SPEC.compute(ctx)
    results = SPEC.finish(ctx, {k: np.asarray(v) for k, v in arrays.items()})
    return dict(zip([c.id for c in cands], results, strict=True)), arrays, lcs, cands, ctx


def _oracle(lc, c, **kw):
    t, f, e = host_arrays(lc)
    return orc.v04(t, f, e, c.period_days, c.t0_btjd, c.duration_hours, **kw)


def _assert_like_oracle(r, want):
    assert {k: r.metrics[k] for k in want["metrics"]} == want["metrics"]
    assert r.notes == want["notes"]
    assert r.flags == want["flags"]
    assert r.confidence == want["confidence"]
    assert r.verdict == want["verdict"]
    assert r.status == "ok" and r.id == "V04" and r.name == "depth_stability"
    if "chi2_box" in want:
        if np.isfinite(want["chi2_box"]):
            assert r.metrics["chi2_box_reduced"] == pytest.approx(round(want["chi2_box"], 3), abs=1e-12)
        else:  # fewer than 2 covered epochs
            assert r.metrics["chi2_box_reduced"] is None and r.verdict == "insufficient"
        assert r.raw["outlier_epochs"] == want["outliers"]


# ------------------------------------------------------------------------------------------
# oracle agreement
# ------------------------------------------------------------------------------------------
def test_random_batch_matches_oracle():
    lcs, cands, lci, ctx, _ = random_batch()
    arrays = SPEC.dispatch(ctx)  # compute + the engine's duration guard
    results = SPEC.finish(ctx, arrays)
    n_full = 0
    for b, (r, c, li) in enumerate(zip(results, cands, lci, strict=True)):
        want = _oracle(lcs[li], c)
        _assert_like_oracle(r, want)
        if "chi2_box" in want:
            n_full += 1
            np.testing.assert_allclose(arrays["chi2_reduced"][b], want["chi2_red"], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(arrays["chi2_box_reduced"][b], want["chi2_box"], rtol=1e-8)
            np.testing.assert_allclose(arrays["depth_mean_ppm"][b], want["d_mean_w"] * 1e6, rtol=1e-9)
            np.testing.assert_allclose(
                r.raw["plot_data"]["depth_errs_ppm"], [x["sigma"] * 1e6 for x in want["accepted"]], rtol=1e-9
            )
            np.testing.assert_allclose(
                r.raw["plot_data"]["box_depths_ppm"], want["box"] * 1e6, rtol=1e-8, atol=1e-6
            )
    assert n_full >= 15


def test_summary_metrics_are_batch_arrays():
    _, arrays, _, cands, _ = matrix()
    for m in SPEC.summary_metrics:
        a = np.asarray(arrays[m])
        assert a.shape == (len(cands),) and np.issubdtype(a.dtype, np.number), m


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_matrix_matches_oracle(name):
    res, _, lcs, cands, _ = matrix()
    i = list(SCENARIOS).index(name)
    _assert_like_oracle(res[name], _oracle(lcs[i], cands[i]))


# ------------------------------------------------------------------------------------------
# seed 002 test matrix (known truth)
# ------------------------------------------------------------------------------------------
def test_stable_high_snr_passes():
    r = matrix()[0]["stable_high_snr"]
    m = r.metrics
    assert m["n_transits_measured"] == 10 and r.verdict == "pass"
    assert m["rms_scatter"] < 0.1 and m["chi2_box_reduced"] < 2
    assert r.confidence >= 0.8  # reference model: 10 transits -> 0.8


def test_stable_low_snr_passes():
    r = matrix()[0]["stable_low_snr"]
    assert r.metrics["n_transits_measured"] >= 8 and r.verdict == "pass"
    assert r.confidence >= 0.7


def test_eb_like_alternating_depths_fail():
    r = matrix()[0]["variable_eb_like"]
    m = r.metrics
    assert m["n_transits_measured"] == 8 and r.verdict == "fail"
    assert m["chi2_box_reduced"] > 10 and m["chi2_reduced"] > 10
    assert m["n_outliers_flagged"] == 0  # alternating depths are not "outliers"
    # the seed expects rms_scatter > 0.35; +-1500 ppm around 5000 ppm is 0.3 by construction
    assert m["rms_scatter"] > 0.2


def test_marginal_variability_warns():
    """+-15% depth scatter against ~270 ppm per-epoch errors: the statistic is non-central
    chi-square with expectation ~3 and sd ~1.4 for 6 transits, so WARN is the typical verdict of
    this genuinely marginal case -- tested over an ensemble of noise draws, not one seed."""
    res = matrix()[0]
    runs = [res["marginal_variability"]] + [res[f"marg{k}"] for k in range(N_MARGINAL)]
    assert all(r.metrics["n_transits_measured"] == 6 for r in runs)
    stat = np.array([r.metrics["chi2_box_reduced"] for r in runs])
    verdicts = [r.verdict for r in runs]
    assert 2.0 <= np.median(stat) < 4.0
    assert max(("pass", "warn", "fail"), key=verdicts.count) == "warn"
    assert all("marginal_chi2" in r.notes for r in runs if r.verdict == "warn")
    # seed: confidence ~0.5; the reference model gives 0.7 for 6 transits (no outliers)
    assert {r.confidence for r in runs if not r.raw["outlier_epochs"]} == {0.7}


def test_low_n_stable_passes_with_low_confidence():
    r = matrix()[0]["low_n_stable"]
    assert r.metrics["n_transits_measured"] == 2 and r.metrics["chi2_dof"] == 1
    assert r.verdict == "pass" and "low_n_transits" in r.notes
    # seed: confidence 0.2; the reference model gives 0.35 below 3 transits
    assert r.confidence == 0.35


def test_low_n_variable_fails():
    r = matrix()[0]["low_n_variable"]
    assert r.metrics["n_transits_measured"] == 3 and r.verdict == "fail"
    assert r.confidence == 0.55


def test_single_outlier_is_flagged_not_failed():
    r = matrix()[0]["single_outlier"]
    m = r.metrics
    assert m["n_transits_measured"] == 10
    assert r.raw["outlier_epochs"] == [4] and m["n_outliers_flagged"] == 1
    assert "Outlier epochs detected: [4]" in r.notes and "outlier_epochs_flagged" in r.notes
    # with the outlier the statistics explode; without it they are fine -> PASS (seed 002 §3.4)
    assert m["chi2_box_reduced"] > 10 and m["chi2_box_reduced_excl_outliers"] < 2
    assert r.verdict == "pass"
    assert r.confidence == round(0.8 * 0.85 * 0.95, 3)  # reference: outliers and warnings


def test_baseline_drift_corrected_by_local_baselines():
    r = matrix()[0]["baseline_drift"]
    m = r.metrics
    assert m["n_transits_measured"] == 8 and r.verdict == "pass"
    # box depth of the 70%-flat trapezoid: 0.85 x 2000 ppm, unbiased by the 10% flux ramp
    assert abs(m["depth_mean_ppm"] - 2000) < 150  # reference (median) depths, weighted mean
    assert abs(np.mean(r.raw["plot_data"]["box_depths_ppm"]) - 1700) < 100


def test_active_star_passes_with_red_noise_inflation():
    res, arrays, *_ = matrix()
    r = res["active_star"]
    m = r.metrics
    assert m["n_transits_measured"] == 12 and r.verdict == "pass"
    assert m["sigma_red_ppm"] > 50  # the correlated noise is measured ...
    i = list(res).index("active_star")
    infl = np.asarray(arrays["epoch_inflation"])[i][np.asarray(arrays["_accepted"])[i]]
    assert infl.size == 12 and np.mean(infl) > 1.2  # ... and inflates the reference errors


def test_statistics_calibration():
    """Stable planets in white noise: the box chi-square is ~chi2(dof)/dof; the reference
    chi2_reduced is not (median ~1.8-2.5), which is why the verdict does not use it."""
    res = matrix()[0]
    box = np.array([res[f"calib{k}"].metrics["chi2_box_reduced"] for k in range(N_CALIB)])
    ref = np.array([res[f"calib{k}"].metrics["chi2_reduced"] for k in range(N_CALIB)])
    dof = np.array([res[f"calib{k}"].metrics["chi2_dof"] for k in range(N_CALIB)])
    assert np.all(dof >= 5)
    assert 0.6 < np.median(box) < 1.4
    assert np.mean(box >= 4) == 0.0 and np.mean(box >= 2) <= 0.2
    # the reference statistic: median ~1.8-2.5 depending on SNR; about half would WARN
    assert np.median(ref) > 1.5 and np.mean(ref >= 2) > 0.3
    verdicts = [res[f"calib{k}"].verdict for k in range(N_CALIB)]
    assert verdicts.count("pass") >= 0.8 * N_CALIB


def test_verdicts_robust_across_noise_draws():
    res = matrix()[0]
    for name, v in ROBUST.items():
        assert res[f"{name}@7"].verdict == v, name
    assert res["single_outlier@7"].raw["outlier_epochs"] == [4]


# ------------------------------------------------------------------------------------------
# options, guard, edge inputs
# ------------------------------------------------------------------------------------------
def _run_with(**opts):
    res, _, _, _, ctx = matrix()
    out = SPEC.run(dataclasses.replace(ctx, options={"V04": opts}))
    return dict(zip(res, out, strict=True))


def test_legacy_mode_uses_rms_threshold():
    res = _run_with(legacy_mode=True)
    for name in ("marginal_variability", "variable_eb_like", "single_outlier"):
        r = res[name]
        assert r.metrics["verdict_rule"] == "legacy_rms_scatter"
        assert r.verdict == ("pass" if r.metrics["rms_scatter"] < 0.3 else "fail"), name
    res = _run_with(legacy_mode=True, rms_scatter_threshold=0.5)
    assert res["variable_eb_like"].verdict == "pass"


def test_reference_statistic_option():
    res = _run_with(verdict_statistic="chi2_reduced")
    for name in ("stable_high_snr", "single_outlier", "variable_eb_like"):
        r = res[name]
        assert r.metrics["verdict_rule"] == "chi2_reduced"
        x = r.metrics["chi2_reduced_excl_outliers"] if r.raw["outlier_epochs"] else r.metrics["chi2_reduced"]
        assert r.verdict == ("pass" if x < 2 else "warn" if x < 4 else "fail"), name


@pytest.mark.parametrize(
    "opts,match",
    [
        ({"method": "chi2"}, "method"),
        ({"verdict_statistic": "ks"}, "verdict_statistic"),
        ({"chi2_threshold_pass": 5.0, "chi2_threshold_fail": 4.0}, "chi2_threshold_fail"),
        ({"outlier_sigma": 0}, "outlier_sigma"),
        ({"nope": True}, "unknown V04 option"),
    ],
)
def test_bad_options_rejected(opts, match):
    ctx = matrix()[4]
    with pytest.raises(JaxvetInputError, match=match):
        SPEC.compute(dataclasses.replace(ctx, options={"V04": opts}))


def test_guard_duration_over_half_period():
    lcs, cands, lci, ctx, _ = random_batch()
    results = SPEC.run(ctx)
    guarded = [i for i, c in enumerate(cands) if c.duration_days >= 0.5 * c.period_days]
    assert guarded
    for i in guarded:
        r = results[i]
        assert r.verdict == "insufficient" and r.confidence == 0.2 and r.flags == ["DURATION_TOO_LONG"]
        assert r.notes == ["duration_too_long_relative_to_period"]
        assert r.metrics["note"].startswith("Duration too long")
        # the reference writes 0.0; nothing was measured
        assert r.metrics["chi2_reduced"] is None and r.metrics["depth_scatter_ppm"] is None


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.floats(3.1, 15.0), st.floats(0.0, 1.0), st.floats(3.0, 5.5)), min_size=1, max_size=6
    )
)
def test_arbitrary_ephemerides_never_crash(eph):
    """Any valid ephemeris (transits in gaps, few epochs, D >= P/2) gives a well-formed result.

    The candidates run on the matrix's light-curve batch next to a fixed filler set, so every
    array shape is one already compiled (the test costs run time only)."""
    res, _, lcs, cands0, ctx0 = matrix()
    row = list(SCENARIOS).index("low_n_stable")
    cands = [Candidate(p, 2000.0 + ph * p, d) for p, ph, d in eph] + [Candidate(0.2, 2000.0, 5.0)]
    filler = cands0[: 40 - len(cands)]
    lci = [row] * len(cands) + list(range(len(filler)))
    ctx = VetContext(
        lcs, ctx0.lcb, cands + filler, CandidateBatch.from_candidates(cands + filler, lc_index=lci)
    )
    arrays = SPEC.compute(ctx)
    out = SPEC.finish(ctx, arrays)
    for r, c in zip(out[: len(cands)], cands, strict=True):
        assert r.status == "ok" and r.verdict in VERDICT_CODES
        assert (r.verdict == "insufficient") or r.metrics["n_transits_measured"] >= 2
        if c.duration_days >= 0.5 * c.period_days:
            assert r.notes == ["duration_too_long_relative_to_period"]
        assert 0.2 <= r.confidence <= 0.95
    # the filler candidates are unaffected by their new batch-mates
    for r, f in zip(out[len(cands) :], filler, strict=True):
        assert r.metrics == res[f.id].metrics and r.verdict == res[f.id].verdict


# ------------------------------------------------------------------------------------------
# real data
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toi_results(toi5807_subsets):
    ctx, lcs = toi5807_subsets
    return dict(zip(("all_sectors", "sectors_82_83"), SPEC.run(ctx), strict=True)), lcs


@pytest.mark.parametrize("subset", ["all_sectors", "sectors_82_83"])
def test_toi5807_matches_reference(toi_results, reference_golden, subset):
    r = toi_results[0][subset]
    g = reference_golden["subsets"][subset]["checks"]["V04"]
    assert {k: r.metrics[k] for k in g["metrics"]} == g["metrics"]
    assert r.confidence == g["confidence"] and r.flags == g["flags"] and r.notes == g["notes"]
    for k, v in g["raw"].items():
        if k == "plot_data":
            continue
        assert r.raw[k] == v, k
    for k, v in g["raw"]["plot_data"].items():
        if isinstance(v, list):
            np.testing.assert_allclose(r.raw["plot_data"][k], v, rtol=1e-9)
        else:
            assert r.raw["plot_data"][k] == pytest.approx(v, rel=1e-9)
    assert r.verdict == "pass"  # a stable planet


def test_toi5807_box_statistic_matches_oracle(toi_results):
    from tests.conftest import TOI5807

    res, lcs = toi_results
    for (name, r), lc in zip(res.items(), lcs, strict=True):
        want = _oracle(lc, Candidate(**TOI5807))
        assert r.metrics["chi2_box_reduced"] == round(want["chi2_box"], 3), name


# ------------------------------------------------------------------------------------------
# plots
# ------------------------------------------------------------------------------------------
def test_plot_renders_from_plot_data():
    res = matrix()[0]
    r = res["single_outlier"]
    ax = plot_depth_stability(r)
    assert ax.get_xlabel() == "time [BTJD]" and len(ax.containers) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("outlier" in s for s in labels) and any("weighted mean" in s for s in labels)
    band = [p for p in ax.patches]
    assert band  # expected-scatter band
    plt.close("all")
    fig, ax2 = plt.subplots()
    assert plot_depth_stability(res["low_n_stable"], ax=ax2) is ax2
    plt.close("all")


def test_misspelled_option_raises_naming_it():
    ctx = matrix()[4]
    with pytest.raises(JaxvetInputError, match="chi2_treshold_fail"):
        SPEC.run(dataclasses.replace(ctx, options={"V04": {"chi2_treshold_fail": 5.0}}))


def test_chi2_threshold_change_does_not_recompile():
    ctx = matrix()[4]
    SPEC.run(ctx)
    before = v04_depth_stability._v04_kernel._cache_size()
    for p, f in ((1.0, 1.5), (3.0, 9.0), (0.5, 0.6)):
        opts = {"V04": {"chi2_threshold_pass": p, "chi2_threshold_fail": f}}
        SPEC.run(dataclasses.replace(ctx, options=opts))
    for cov, floor in ((0.0, 0.0), (0.9, 0.05)):
        opts = {"V04": {"min_epoch_coverage": cov, "depth_systematic_floor": floor}}
        SPEC.run(dataclasses.replace(ctx, options=opts))
    assert v04_depth_stability._v04_kernel._cache_size() == before


# ------------------------------------------------------------------------------------------
# per-epoch coverage gating, the systematic floor, negative depths
# ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def gap_results():
    ctx, _ = gap_context()
    return dict(zip(("partial", "full_only", "bright"), SPEC.run(ctx), strict=True))


def test_partial_transits_at_a_gap_are_excluded_from_the_box_chi2():
    res = gap_results()
    r, truth = res["partial"], res["full_only"]
    assert r.raw["excluded_epochs"] == sorted(GAP_KEEP) and r.metrics["n_epochs_excluded"] == 2
    assert (
        r.metrics["n_epochs_used"] == truth.metrics["n_epochs_used"] == truth.metrics["n_transits_measured"]
    )
    assert r.metrics["chi2_box_reduced"] == pytest.approx(truth.metrics["chi2_box_reduced"], abs=2e-3)
    assert r.verdict == truth.verdict == "pass"
    pd = r.raw["plot_data"]
    assert pd["excluded"] == [c < 0.6 for c in pd["coverage"]] and sum(pd["excluded"]) == 2
    # the systematic floor is 2% of the median box depth (~4250 ppm for a 70%-flat trapezoid)
    assert truth.metrics["sigma_sys_ppm"] == pytest.approx(0.02 * 4250, rel=0.05)
    t, f, e = host_arrays(gap_context()[1][0])
    want = orc.v04(t, f, e, GAP["P"], GAP["t0"], D_H)
    assert r.metrics["chi2_box_reduced"] == round(want["chi2_box"], 3)
    assert r.metrics["sigma_sys_ppm"] == round(np.sqrt(want["var_sys"]) * 1e6, 2)


def test_negative_depth_is_flagged_not_measured():
    r = gap_results()["bright"]
    assert r.verdict == "insufficient" and r.metrics["n_transits_measured"] == 0
    assert r.flags == [v04_depth_stability.NEGATIVE_DEPTH]
    assert r.metrics["chi2_reduced"] is None and r.metrics["expected_scatter_ppm"] is None
    assert r.raw["plot_data"]["mean_depth_ppm"] is None
    assert gap_results()["full_only"].flags == []


@pytest.fixture(scope="module")
def wasp18_results(shared_data):
    from jaxvet.io import read_lightcurves

    d = shared_data / "tic100100827"
    both = read_lightcurves([d / "wasp18b.fits", d / "wasp18b_flat_lightcurve.csv"])
    s2 = read_lightcurves([d / "wasp18b.fits"])
    s3 = read_lightcurves([d / "wasp18b_flat_lightcurve.csv"])
    names = ("s2s3", "s2", "s3")
    cands = [Candidate(**WASP18, id=n) for n in names]
    ctx = VetContext.build([both, s2, s3], cands, lc_index=[0, 1, 2])
    no_floor = dataclasses.replace(ctx, options={"V04": {"depth_systematic_floor": 0.0}})
    return dict(zip(names, SPEC.run(ctx), strict=True)), SPEC.run(no_floor)


def test_wasp18b_passes_with_damaged_epochs_flagged(wasp18_results):
    """Before: chi2_box 293, 9.8 without the MAD outliers -> fail (sigma_red 0).  The partial
    transits (-7, 33) are left out, sector 3's flattening-damaged transits (25, 26, 32) are
    flagged, and the 2% systematic floor (~177 ppm) covers the 1.9%-of-depth scatter of the
    undamaged transits that the out-of-transit noise model cannot see on flattened data."""
    res, no_floor = wasp18_results
    r = res["s2s3"]
    m = r.metrics
    assert r.verdict == "pass" and m["chi2_box_reduced_excl_outliers"] < 2
    assert r.raw["outlier_epochs"] == [-7, 25, 26, 32, 33] and r.raw["excluded_epochs"] == [-7, 33]
    assert m["sigma_red_ppm"] == 0.0 and 150 < m["sigma_sys_ppm"] < 200
    # the reference statistics are untouched (all 49 epochs)
    assert (m["n_transits_measured"], m["chi2_reduced"], m["dominating_epoch_index"]) == (49, 372.39, -12)
    pd = r.raw["plot_data"]
    # the reference's "dominating" epoch is just the highest-SNR one (dom_frac 0.028 ~ 1/49);
    # the epoch that dominates the box chi-square is the flattening-damaged epoch 32
    k = pd["chi2_dominating_idx"]
    assert pd["epoch_times_btjd"][k] == pytest.approx(WASP18["t0_btjd"] + 32 * WASP18["period_days"])
    # sector 2 alone: one partial transit; without the floor its stable transits would fail
    assert res["s2"].verdict == "pass" and res["s2"].raw["excluded_epochs"] == [-7]
    assert no_floor[1].verdict == "fail" and no_floor[1].metrics["chi2_box_reduced"] > 4


def test_wasp18b_sector3_alone_passes_on_its_undamaged_transits(wasp18_results):
    """Sector 3 alone (reported as a fail, ``chi2_box_reduced`` 535): the flattening-damaged
    transits 25, 26, 32 and the partial 33 are the MAD outliers; the 17 others scatter by about
    the 2% floor (170 ppm), so the verdict's chi-square is 0.81 (4.9, a fail, without the floor).
    The reference's ``chi2_reduced`` 711.6 equals tess-vetter 0.3.20's on the same arrays."""
    res, no_floor = wasp18_results
    r = res["s3"]
    m = r.metrics
    assert r.raw["outlier_epochs"] == [25, 26, 32, 33] and r.raw["excluded_epochs"] == [33]
    assert m["chi2_box_reduced"] > 50 and m["chi2_box_reduced_excl_outliers"] < 1
    assert r.verdict == "pass" and 160 < m["sigma_sys_ppm"] < 180
    assert (m["n_transits_measured"], m["chi2_reduced"]) == (21, 711.63)
    assert no_floor[2].verdict == "fail" and no_floor[2].metrics["chi2_box_reduced_excl_outliers"] > 4


def test_wasp18b_plot_marks_partial_outlier_and_dominating_epochs(wasp18_results, tmp_path):
    r = wasp18_results[0]["s2s3"]
    ax = plot_depth_stability(r)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("partial" in s for s in labels) and any("dominates chi-square" in s for s in labels)
    assert any("outlier" in s for s in labels) and any("typical epoch error" in s for s in labels)
    assert ax.get_ylabel().startswith("box depth - weighted mean")
    lo, hi = ax.get_ylim()
    assert hi - lo < 3000  # a residual axis: the typical error band (~190 ppm) is visible
    pd = r.raw["plot_data"]
    typical = np.median([e for e, x in zip(pd["box_errs_ppm"], pd["excluded"], strict=True) if not x])
    assert ax.patches and 2 * typical > 0.1 * (hi - lo)  # before: 2 x 10.6 ppm on a ~9,000 ppm axis
    ax.figure.savefig(tmp_path / "v04.png")
    plt.close("all")
