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
from jaxvet.data import Candidate, LightCurve
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
        opts.update(outlier_sigma=thr + 1.0, rel_diff_floor=thr / 10)
        SPEC.run(dataclasses.replace(ctx, options={"V01": opts}))
    assert v01_odd_even._v01_kernel._cache_size() == before


# ------------------------------------------------------------------------------------------
# per-epoch coverage gating, the transit-timescale red-noise floor, negative depths
# ------------------------------------------------------------------------------------------
GAP = dict(P=3.0, t0=2001.0, depth=5000.0, white=300.0)
#: epochs cut by a data gap: epoch 2 keeps its first 25% (ingress), epoch 4 its last 30% (egress)
GAP_KEEP = {2: 0.25, 4: 0.30}


def gap_lightcurves(seed=3):
    """A planet (trapezoid, 70% flat) with a data gap whose edges cut two even transits, and the
    same light curve with the gap widened to drop those transits entirely (the truth without
    partial transits); plus a brightening (negative depth) on its own light curve."""
    g = GAP
    base = simulate_lightcurve(seed, sectors=(1,), white_ppm=g["white"], orbit_gap_days=0.0)
    lc = inject_transits(base, g["P"], g["t0"], D_H, g["depth"], supersample=1, seed=seed)
    D = D_H / 24.0
    tc = {k: g["t0"] + k * g["P"] for k in GAP_KEEP}
    lo, hi = tc[2] - D / 2 + GAP_KEEP[2] * D, tc[4] + D / 2 - GAP_KEEP[4] * D
    partial = lc.select((lc.time < lo) | (lc.time > hi))
    full_only = lc.select((lc.time < tc[2] - D) | (lc.time > tc[4] + D))
    bright = inject_transits(base, g["P"], g["t0"], D_H, -3000.0, supersample=1, seed=seed)
    return partial, full_only, bright


@functools.lru_cache(maxsize=1)
def gap_context():
    lcs = list(gap_lightcurves())
    cands = [Candidate(GAP["P"], GAP["t0"], D_H, id=n) for n in ("partial", "full_only", "bright")]
    return VetContext.build(lcs, cands, lc_index=[0, 1, 2]), lcs


@functools.lru_cache(maxsize=4)
def gap_results(min_cov=None):
    ctx, _ = gap_context()
    opts = {} if min_cov is None else {"V01": {"min_epoch_coverage": min_cov}}
    return dict(
        zip(("partial", "full_only", "bright"), SPEC.run(dataclasses.replace(ctx, options=opts)), strict=True)
    )


def test_partial_transits_at_a_gap_are_excluded_from_oe_box():
    """Known truth: the gap-edge transits cover 25% and 30% of the transit (mostly ingress and
    egress, so their box depths are ~30% shallow).  Gated out, OE_box equals that of the same
    light curve without them; not gated, they shift the even box depth by several errors."""
    res = gap_results()
    r, truth = res["partial"], res["full_only"]
    cov = dict(zip(r.raw["plot_data"]["even_epochs"], r.raw["plot_data"]["even_coverage"], strict=True))
    for k, keep in GAP_KEEP.items():
        assert abs(cov[k] - keep) < 2.0 / 90  # 90 points per transit at 2 min; +-1 point
    assert r.raw["excluded_epochs"] == [2, 4] and r.metrics["n_epochs_excluded"] == 2
    assert r.metrics["n_epochs_used"] == truth.metrics["n_epochs_used"]
    assert r.raw["plot_data"]["even_excluded"] == [e in GAP_KEEP for e in r.raw["plot_data"]["even_epochs"]]
    m, mt = r.metrics, truth.metrics
    assert m["depth_even_box_ppm"] == pytest.approx(mt["depth_even_box_ppm"], abs=0.02)
    assert m["oe_box_sigma"] == pytest.approx(mt["oe_box_sigma"], abs=2e-3)
    assert r.verdict == truth.verdict == "pass"
    # the same light curve without the gate: the partial transits pull the even depth shallow
    ungated = gap_results(0.0)["partial"].metrics
    shift = mt["depth_even_box_ppm"] - ungated["depth_even_box_ppm"]
    assert shift > 3 * mt["depth_err_even_box_ppm"]
    # the reference's per-epoch medians still count every epoch (parity with tess-vetter)
    assert m["n_even_transits"] == mt["n_even_transits"] + 2


def test_negative_depth_is_flagged():
    r = gap_results()["bright"]
    assert r.metrics["depth_odd_ppm"] < 0 and r.metrics["depth_even_box_ppm"] < 0
    assert v01_odd_even.NEGATIVE_DEPTH in r.flags
    assert v01_odd_even.NEGATIVE_DEPTH not in gap_results()["full_only"].flags


def test_red_noise_floor_from_epoch_scatter():
    """White noise: the transit-timescale estimate is 0 (its 2-sigma significance gate) and the
    errors are the white ones; depth scatter between epochs beyond the white noise raises it."""
    r = gap_results()["full_only"]
    m = r.metrics
    assert m["sigma_red_bins_ppm"] < 30 and m["sigma_red_epochs_ppm"] == 0.0
    assert m["depth_err_even_box_ppm"] == pytest.approx(
        m["sigma_white_ppm"] / np.sqrt(m["n_even_points"]), rel=0.3
    )
    # per-epoch depths scattering 10% (500 ppm against ~40 ppm of white noise per epoch)
    base = simulate_lightcurve(5, sectors=(1,), white_ppm=GAP["white"], orbit_gap_days=0.0)
    lc = inject_transits(
        base, GAP["P"], GAP["t0"], D_H, GAP["depth"], depth_scatter=0.1, supersample=1, seed=5
    )
    ctx = VetContext.build([lc], [Candidate(GAP["P"], GAP["t0"], D_H)])
    r = SPEC.run(ctx)[0]
    t, f, e = host_arrays(lc)
    want = orc.v01(t, f, e, GAP["P"], GAP["t0"], D_H)
    assert r.metrics["sigma_red_epochs_ppm"] == pytest.approx(want["sigma_red_epochs"] * 1e6, abs=0.01)
    assert 250 < r.metrics["sigma_red_ppm"] < 800  # ~0.1 x 4250 ppm box depth
    assert r.metrics["oe_box_sigma"] == round(want["oe_box_sigma"], 3)


def test_coverage_threshold_is_traced():
    ctx, _ = gap_context()
    SPEC.run(ctx)
    before = v01_odd_even._v01_kernel._cache_size()
    for c in (0.0, 0.2, 0.9):
        SPEC.run(dataclasses.replace(ctx, options={"V01": {"min_epoch_coverage": c}}))
    assert v01_odd_even._v01_kernel._cache_size() == before
    assert gap_results(0.0)["partial"].metrics["n_epochs_excluded"] == 0


# ------------------------------------------------------------------------------------------
# WASP-18 b (confirmed hot Jupiter): partial and flattening-damaged transits
# ------------------------------------------------------------------------------------------
WASP18 = dict(period_days=0.9414526, t0_btjd=1375.169883, duration_hours=2.1437)


@pytest.fixture(scope="module")
def wasp18_results(shared_data):
    from jaxvet.io import read_lightcurves

    d = shared_data / "tic100100827"
    both = read_lightcurves([d / "wasp18b.fits", d / "wasp18b_flat_lightcurve.csv"])
    s2 = read_lightcurves([d / "wasp18b.fits"])
    s3 = read_lightcurves([d / "wasp18b_flat_lightcurve.csv"])
    names = ("s2s3", "s2", "s3")
    ctx = VetContext.build([both, s2, s3], [Candidate(**WASP18, id=n) for n in names], lc_index=[0, 1, 2])
    return dict(zip(names, SPEC.run(ctx), strict=True))


def test_wasp18b_passes(wasp18_results):
    """Before: OE_box 15.06 (odd 8,616 vs even 8,315 ppm +- 14) -> fail, sigma_red 0.  The two
    partial transits (epochs -7 and 33, 15 and 18 of ~64 points) are left out and the
    per-epoch depth scatter (sector 3's transits damaged by its flattening: epochs 25, 26, 32 at
    2,200-5,200 ppm) enters the errors."""
    r = wasp18_results["s2s3"]
    m = r.metrics
    assert r.verdict == "pass" and m["oe_box_sigma"] < 2
    assert r.raw["excluded_epochs"] == [-7, 33] and m["n_epochs_used"] == 47
    assert m["sigma_red_bins_ppm"] == 0.0 and m["sigma_red_epochs_ppm"] > 1000
    # the reference statistic is untouched (all 49 epochs)
    assert (m["n_odd_transits"], m["n_even_transits"], m["delta_sigma"]) == (25, 24, 0.22)
    # sector 2 alone: undamaged transits scatter 2x their white errors -> floor ~150 ppm
    s2 = wasp18_results["s2"]
    assert s2.verdict == "pass" and s2.raw["excluded_epochs"] == [-7]
    assert 100 < s2.metrics["sigma_red_ppm"] < 200 and s2.metrics["oe_box_sigma"] < 2


def test_wasp18b_damaged_epochs_dropped_from_the_verdict(wasp18_results):
    """Sector 3's flattening-damaged transits (epochs 25, 26, 32, box depths 2-5 kppm against
    ~8.8 kppm) are the parity MAD outliers: without them OE_box is 0.68 (0.97 with them) and the
    epoch-scatter red noise falls from 1,262 to 213 ppm; the reference fields are unchanged."""
    r = wasp18_results["s2s3"]
    m = r.metrics
    assert r.raw["dropped_epochs"] == [25, 26, 32] and m["n_epochs_dropped"] == 3
    assert "OUTLIER_EPOCHS_DROPPED" in r.flags and r.verdict == "pass"
    assert m["oe_box_sigma_robust"] < 1 and m["oe_box_sigma"] < 2
    assert 100 < m["sigma_red_robust_ppm"] < 300 < 1000 < m["sigma_red_ppm"]
    assert (m["delta_sigma"], m["n_odd_transits"], m["n_even_transits"]) == (0.22, 25, 24)
    pd = r.raw["plot_data"]
    assert sum(pd["odd_dropped"]) + sum(pd["even_dropped"]) == 3
    s2 = wasp18_results["s2"]  # sector 2 alone: no damaged epoch, nothing dropped
    assert s2.raw["dropped_epochs"] == [] and s2.metrics["oe_box_sigma_robust"] == s2.metrics["oe_box_sigma"]
    assert "OUTLIER_EPOCHS_DROPPED" not in s2.flags


def test_wasp18b_sector3_alone_passes(wasp18_results):
    """Sector 3 alone (reported as a fail: OE_box 23.6, box depths 8,263 vs 7,523 ppm): the
    partial epoch 33 is excluded, the flattening-damaged epochs 25, 26 (odd/even) and 32 (even)
    pull the plain box depths apart (8,320 vs 7,523 ppm, 9.6%) but also inflate
    ``sigma_red_epochs`` (1,792 ppm), so OE_box is 0.99; without them the box depths agree
    (8,638 vs 8,572 ppm, 0.8%) and the robust OE_box is 0.89.  The reference's median depths
    (9,432 vs 9,490 ppm, ``delta_sigma`` 1.84) equal tess-vetter 0.3.20's on the same arrays."""
    r = wasp18_results["s3"]
    m = r.metrics
    assert r.verdict == "pass" and r.raw["excluded_epochs"] == [33]
    assert r.raw["dropped_epochs"] == [25, 26, 32]
    assert (m["depth_odd_ppm"], m["depth_even_ppm"], m["delta_sigma"]) == (9432.4, 9489.5, 1.84)
    assert 0.09 < m["oe_box_rel_diff"] < 0.1 and m["oe_box_sigma"] < 2
    assert m["oe_box_rel_diff_robust"] < 0.01 and m["oe_box_sigma_robust"] < 1
    assert "BELOW_RELATIVE_FLOOR" not in r.flags  # no floor needed: the statistic is right


ROBUST = dict(P=3.0, t0=2001.0, depth=5000.0, white=1000.0)  # 9 odd / 9 even transits


def damaged_lc(ratio, bad_frac, seed=1, bad_epoch=3):
    """A transit (5,000 ppm even depth, odd/even ``ratio``) whose epoch ``bad_epoch`` keeps only
    ``bad_frac`` of its depth (a transit damaged by detrending)."""
    g = ROBUST
    lc0 = simulate_lightcurve(seed, sectors=(1, 2), white_ppm=g["white"])
    lc = inject_transits(
        lc0, g["P"], g["t0"], D_H, g["depth"], tflat_ratio=0.7, odd_even_ratio=ratio, supersample=1, seed=seed
    )
    k = np.round((lc.time - g["t0"]) / g["P"])
    f = np.where(k == bad_epoch, lc0.flux + bad_frac * (lc.flux - lc0.flux), lc.flux)
    return LightCurve(lc.time, f, lc.flux_err, sector=lc.sector)


@functools.lru_cache(maxsize=1)
def robust_results():
    cases = {"planet": (1.0, 0.3), "eb20": (0.8, 0.3), "eb10": (0.9, 0.3), "eb10_clean": (0.9, 1.0)}
    lcs = [damaged_lc(*v) for v in cases.values()]
    cands = [Candidate(ROBUST["P"], ROBUST["t0"], D_H, id=n) for n in cases]
    ctx = VetContext.build(lcs, cands, lc_index=list(range(len(lcs))))
    return dict(zip(cases, SPEC.run(ctx), strict=True)), lcs, cands


def test_one_damaged_epoch_is_dropped_known_truth():
    """Known truth: one transit at 30% depth.  A planet passes with that epoch dropped (OE_box
    0.90 without, 1.14 with it).  An EB with a 20% odd/even difference on every epoch still
    fails (17.6 sigma without the epoch); a 10% EB fails only thanks to the drop (9.2 sigma
    without the epoch, 2.5 -- a pass -- with it: the damaged epoch inflates the epoch-scatter
    red noise to 640 ppm), as it does with no damaged epoch (9.7, nothing dropped)."""
    res, lcs, cands = robust_results()
    for name, r in res.items():
        dropped = [] if name == "eb10_clean" else [3]
        assert r.raw["dropped_epochs"] == dropped, name
        assert ("OUTLIER_EPOCHS_DROPPED" in r.flags) == bool(dropped), name
        assert r.metrics["n_odd_transits"] == r.metrics["n_even_transits"] == 9
    assert res["planet"].verdict == "pass" and res["planet"].metrics["oe_box_sigma_robust"] < 2
    assert res["eb20"].verdict == "fail" and res["eb20"].metrics["oe_box_sigma_robust"] > 10
    eb = res["eb10"].metrics
    assert res["eb10"].verdict == "fail" and eb["oe_box_sigma"] < 3 < 5 < eb["oe_box_sigma_robust"]
    assert res["eb10_clean"].verdict == "fail"
    # the oracle agrees: dropped epochs, robust statistic, verdict and flags
    for (name, r), lc, c in zip(res.items(), lcs, cands, strict=True):
        want = _oracle(lc, c)
        _assert_like_oracle(r, want)
        assert r.raw["dropped_epochs"] == want["dropped_epochs"], name
        assert r.metrics["oe_box_sigma_robust"] == pytest.approx(want["oe_box_sigma_robust"], abs=1e-3)


# ------------------------------------------------------------------------------------------
# the relative floor: a significant but percent-level odd/even difference is not an EB
# ------------------------------------------------------------------------------------------
FLOOR = dict(P=3.0, t0=2001.0, depth=5000.0, white=200.0)  # 9 odd / 9 even transits, SNR ~ 600


@functools.lru_cache(maxsize=1)
def floor_case():
    """Odd transits 3% shallower or deeper (percent-level systematics at high SNR), 6% and 10%
    shallower (eclipsing binaries), each with an OE_box of 10-45 sigma (the shapes of
    :func:`robust_results`, so the kernel compiles once)."""
    g = FLOOR
    ratios = {"sys3": 0.97, "sys3_deep": 1.03, "eb6": 0.94, "eb10": 0.9}
    lcs = []
    for seed, ratio in enumerate(ratios.values(), start=1):
        lc0 = simulate_lightcurve(seed, sectors=(1, 2), white_ppm=g["white"])
        lcs.append(inject_transits(lc0, g["P"], g["t0"], D_H, g["depth"], tflat_ratio=0.7,
                                   odd_even_ratio=ratio, supersample=1, seed=seed))  # fmt: skip
    cands = [Candidate(g["P"], g["t0"], D_H, id=n) for n in ratios]
    return VetContext.build(lcs, cands, lc_index=list(range(len(lcs)))), lcs, cands


def test_relative_floor_passes_percent_level_difference_and_fails_an_eb():
    """Known truth: a 3% odd/even difference at more than 10 sigma passes (flag
    BELOW_RELATIVE_FLOOR), 6% and 10% ones (EBs) fail; the floor is traced (no recompilation)
    and 0 turns it off."""
    ctx, lcs, cands = floor_case()
    res = SPEC.run(ctx)
    floor = v01_odd_even.BELOW_RELATIVE_FLOOR
    for r in res:
        m = r.metrics
        assert m["oe_box_sigma_robust"] > 10, r
        if r.verdict == "pass":
            assert 0.02 < m["oe_box_rel_diff_robust"] < 0.04 and r.flags == [floor]
        else:
            assert m["oe_box_rel_diff_robust"] > 0.05 and r.flags == []
    assert [r.verdict for r in res] == ["pass", "pass", "fail", "fail"]
    for r, lc, c in zip(res, lcs, cands, strict=True):
        _assert_like_oracle(r, _oracle(lc, c))
    before = v01_odd_even._v01_kernel._cache_size()
    off = SPEC.run(dataclasses.replace(ctx, options={"V01": {"rel_diff_floor": 0.0}}))
    high = SPEC.run(dataclasses.replace(ctx, options={"V01": {"rel_diff_floor": 0.2}}))
    assert v01_odd_even._v01_kernel._cache_size() == before
    assert all(r.verdict == "fail" and not r.flags for r in off)
    assert all(r.verdict == "pass" and r.flags == [floor] for r in high)
    assert [r.metrics for r in off] == [r.metrics for r in res]  # only the verdict and the flag change
