"""V05 transit shape: seed test matrix, reference parity (oracle + golden), seeds, chunking, plot.

All contexts here use the same chunk size (``batch_size=8``), padded window size
(``pad_points=4096``) and bootstrap count, so the whole file compiles the V05 kernel once per
method.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.checks import get_check
from jaxvet.checks.v05_transit_shape import SUMMARY, V05Options, resolve_options, transit_shape
from jaxvet.data import Candidate
from jaxvet.engine.context import VetContext
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles import v05_oracle as O

matplotlib.use("Agg")

SPEC = get_check("V05")
COMMON = {"batch_size": 8, "pad_points": 4096}
BOUNDS = V05Options().fit_bounds()  # the default fit window and box (units of D)

# The seed's test matrix (§6.1): name, tF/tT, depth ppm, cadence min, transits, P, true T (h),
# catalogue duration (h), white noise ppm per 2-min point.
CASES = [
    ("u_planet", 0.6, 1000, 2.0, 10, 3.5, 2.5, 2.5, 150),
    ("v_eb", 0.05, 80000, 2.0, 5, 2.0, 3.0, 3.0, 300),
    ("grazing_planet", 0.15, 500, 2.0, 8, 5.0, 2.0, 2.0, 40),
    ("grazing_eb", 0.08, 60000, 2.0, 6, 3.0, 3.0, 3.0, 300),
    ("low_n", 0.5, 2000, 30.0, 3, 3.3, 4.0, 4.0, 250),
    ("insufficient", 0.5, 1000, 30.0, 1, 10.0, 3.0, 3.0, 250),
    ("high_b", 0.25, 300, 2.0, 12, 2.9, 2.0, 2.0, 40),
    ("duration_err", 0.4, 1500, 2.0, 7, 5.0, 2.0, 3.0, 150),
]
EXPECT = {
    "u_planet": ("pass", "normal"),
    "v_eb": ("fail", "likely_eb"),
    "grazing_planet": ("pass", "grazing_planet_candidate"),
    "grazing_eb": ("fail", "likely_eb"),
    "low_n": ("pass", "normal"),
    "insufficient": ("insufficient", None),
    "high_b": ("pass", "grazing_planet_candidate"),
    "duration_err": ("pass", "normal"),
}


def _case_lightcurve(i, case):
    name, ratio, depth, cad, ntr, period, t_true, _, white = case
    t0 = 2000.7 + 0.37 * i
    noise = white * np.sqrt(2.0 / cad)  # per-point noise at this cadence
    lc = simulate_lightcurve(seed=10 + i, sectors=(1, 2), cadence_min=cad, white_ppm=noise, target=name)
    lc = lc.select((lc.time > t0 - 0.45 * period) & (lc.time < t0 + (ntr - 0.55) * period))
    return inject_transits(lc, period, t0, t_true, depth, tflat_ratio=ratio, supersample=15, seed=i), t0


NOISY = ("u_planet_noisy", 0.6, 400, 2.0, 4, 3.5, 2.5, 2.5, 600)


@pytest.fixture(scope="module")
def matrix():
    """All synthetic light curves (the 8 cases and a noisy planet), the case candidates plus two
    degenerate ones (duration >= P/2; no data at all) and their light-curve index.  Every
    synthetic context below uses this same light-curve list, so shapes (and compiled programs)
    are shared."""
    lcs, cands, t0s = [], [], []
    for i, case in enumerate(CASES + [NOISY]):
        lc, t0 = _case_lightcurve(i, case)
        lcs.append(lc)
        t0s.append(t0)
        if i < len(CASES):
            cands.append(Candidate(case[5], t0, case[7], depth_ppm=case[2], id=case[0]))
    cands += [
        Candidate(0.2, 2000.7, 3.0, id="invalid_duration"),
        Candidate(500.0, 2300.0, 3.0, id="no_data"),
        # the u_planet light curve folded half way between its transits: flat, low SNR
        Candidate(3.5, t0s[0] + 1.75, 2.5, id="no_signal"),
    ]
    idx = list(range(len(CASES))) + [0, 0, 0]
    return lcs, cands, idx, t0s


def _run(matrix, method):
    lcs, cands, idx, _ = matrix
    ctx = VetContext.build(lcs, cands, lc_index=idx, seed=1, options={"V05": {**COMMON, "method": method}})
    arrays = transit_shape(ctx)
    results = SPEC.finish(ctx, {k: np.asarray(v) for k, v in arrays.items()})
    return [
        (cand, lcs[idx[i]], {k: np.asarray(v)[i] for k, v in arrays.items()}, results[i])
        for i, cand in enumerate(cands)
    ]


@pytest.fixture(scope="module")
def fit_run(matrix):
    return _run(matrix, "trapezoid_fit")


@pytest.fixture(scope="module")
def grid_run(matrix):
    return _run(matrix, "grid")


def test_seed_matrix(fit_run):
    by = {cand.id: res for cand, _, _, res in fit_run}
    arrays = {cand.id: a for cand, _, a, _ in fit_run}
    for case in CASES:
        name, ratio, depth = case[:3]
        res = by[name]
        m = res.metrics
        verdict, grazing = EXPECT[name]
        assert res.verdict == verdict, name
        assert m["grazing_indicator"] == grazing, name
        assert m["method"] == "trapezoid_fit"
        if verdict == "insufficient":
            assert res.confidence <= 0.3 and "insufficient_sampling" in m["warnings"]
            assert m["status"] == "insufficient_data" and m["tflat_ttotal_ratio"] == 0.5
            assert np.isnan(arrays[name]["tflat_ttotal_ratio"])
            continue
        # F/T and depth recovered within their bootstrap errors (a few sigma)
        err = m["tflat_ttotal_ratio_err"]
        assert abs(m["tflat_ttotal_ratio"] - ratio) <= 4 * err + 0.02, (name, m["tflat_ttotal_ratio"], err)
        assert abs(m["depth_ppm"] - depth) <= 5 * m["depth_ppm_err"] + 1, name
        assert m["shape"] == ("V-shaped" if m["tflat_ttotal_ratio"] < 0.15 else "U-shaped")
    assert by["u_planet"].confidence >= 0.7 and by["u_planet"].metrics["warnings"] == ""
    assert by["low_n"].confidence < 0.6 and "low_sampling" in by["low_n"].metrics["warnings"]
    dur = by["duration_err"].metrics
    assert "duration_uncertain" in dur["warnings"] and abs(dur["t_total_hours"] - 2.0) < 0.5
    assert by["insufficient"].confidence == 0.2
    inv = by["invalid_duration"]
    assert inv.metrics["status"] == "invalid_duration" and inv.verdict == "insufficient"
    assert inv.confidence == 0.2 and inv.notes == ["duration_too_long_relative_to_period"]
    nos = by["no_signal"]
    assert nos.metrics["status"] == "ok" and "low_snr" in nos.metrics["warnings"]
    assert nos.verdict == "insufficient" and nos.confidence <= 0.3 and nos.metrics["snr"] < 3
    nod = by["no_data"]
    assert nod.metrics["status"] == "insufficient_data" and nod.metrics["n_in_transit"] == 0
    assert nod.notes[0] == "Only 0 in-transit points, need 10"
    # campaign columns: every summary metric, status and verdict, one scalar per candidate
    for a in arrays.values():
        for key in SUMMARY + ("status", "verdict"):
            assert np.ndim(a[key]) == 0, key
        assert a["status"] == 0


def test_results_are_json_and_plot(fit_run):
    import json

    from jaxvet.plotting.v05 import plot_transit_shape

    results = {c.id: res for c, _, _, res in fit_run}
    for res in results.values():
        json.dumps(res.to_dict())
    pd = results["u_planet"].raw["plot_data"]
    assert len(pd["trapezoid_phase"]) == 100 and len(pd["binned_phase"]) >= 10
    lo, hi, model = (np.array(pd[k], float) for k in ("band_lo", "band_hi", "trapezoid_flux"))
    assert np.all(lo <= hi + 1e-15) and np.mean((model >= lo - 1e-6) & (model <= hi + 1e-6)) > 0.9
    ax = plot_transit_shape(results["u_planet"])
    assert len(ax.lines) >= 1 and "tF/tT" in ax.get_title()
    ax2 = plot_transit_shape(results["insufficient"])  # empty plot data
    assert ax2.get_title().endswith("(insufficient_data)")


def test_trapezoid_fit_matches_scipy_oracle_end_to_end(fit_run):
    """The check's fits equal a numpy/scipy re-implementation of the method on the same data."""
    for cand, lc, a, _ in fit_run:
        if cand.id not in ("u_planet", "grazing_planet", "duration_err", "low_n"):
            continue
        v = lc.valid
        cad = float(np.median(np.diff(lc.time[v])))
        xbar, ebar, s0, sy, _, _ = O.trapezoid_fit_inputs(
            lc.time[v],
            lc.flux[v],
            lc.flux_err[v],
            cand.period_days,
            cand.t0_btjd,
            cand.duration_hours,
            round(cad * 86400) / 86400,
            window=BOUNDS.window,
        )
        po, _ = O.fit_binned(xbar, ebar, s0, sy, BOUNDS.lower(), BOUNDS.upper())
        dh = cand.duration_hours
        got = np.array(
            [
                a["depth_ppm"] * 1e-6,
                a["t_total_hours"] / dh,
                a["tflat_ttotal_ratio"],
                a["tmid_offset_hours"] / dh,
            ]
        )
        # agreement far inside the bootstrap errors (optimiser tolerance)
        errs = np.array(
            [
                a["depth_ppm_err"] * 1e-6,
                a["t_total_hours_err"] / dh,
                a["tflat_ttotal_ratio_err"],
                a["tmid_offset_hours_err"] / dh,
            ]
        )
        assert np.all(np.abs(got - po) <= 0.05 * errs + 1e-9), (cand.id, got, po)
        assert O.chi2_binned(got, xbar, ebar, s0, sy) <= O.chi2_binned(po, xbar, ebar, s0, sy) + 1e-3


def test_grid_method_matches_reference_oracle(grid_run):
    for cand, lc, a, res in grid_run:
        v = lc.valid
        ref = O.reference_v_shape(lc.time[v], lc.flux[v], cand.period_days, cand.t0_btjd, cand.duration_hours)
        m = res.metrics
        assert m["status"] == ref["status"], cand.id
        assert res.confidence == ref["confidence"], cand.id
        assert m["method"] == "trapezoid_grid_search"
        if ref["status"] == "invalid_duration":
            continue
        assert m["n_in_transit"] == ref["n_in_transit"] and m["n_baseline"] == ref["n_baseline"]
        if ref["status"] != "ok":
            assert m["transit_coverage"] == round(ref["transit_coverage_raw"], 3)
            continue
        for key, want in ref["metrics"].items():
            assert m[key] == want, (cand.id, key, m[key], want)
        # unrounded internals
        assert a["tflat_ttotal_ratio"] == ref["ratio"]
        assert a["depth_ppm"] == pytest.approx(ref["depth"] * 1e6, rel=1e-12)
        assert a["baseline_median"] == ref["baseline_median"]


def test_grid_bootstrap_error_matches_reference_statistically(matrix):
    """JAX's multinomial bootstrap vs the reference's numpy stream: same distribution of err."""
    lcs, _, _, t0s = matrix
    t0 = t0s[-1]
    cands = [Candidate(3.5, t0, 2.5, id=f"copy{k}") for k in range(8)]
    ctx = VetContext.build(
        lcs, cands, lc_index=len(lcs) - 1, seed=5, options={"V05": {**COMMON, "method": "grid"}}
    )
    errs = transit_shape(ctx)["tflat_ttotal_ratio_err"]
    assert len(set(np.round(errs, 6))) > 1  # different per-candidate streams
    lc = lcs[-1]
    v = lc.valid
    ref = np.array(
        [O.reference_v_shape(lc.time[v], lc.flux[v], 3.5, t0, 2.5, seed=s)["err"] for s in range(42, 50)]
    )
    se = np.sqrt(errs.var(ddof=1) / 8 + ref.var(ddof=1) / 8)
    assert abs(errs.mean() - ref.mean()) <= 3 * se + 0.01, (errs, ref)


def test_same_seed_same_numbers_and_seed_independent_widths(matrix):
    lcs, _, _, t0s = matrix
    cands = [Candidate(3.5, t0s[0], 2.5, id=f"copy{k}") for k in range(8)]

    def run(seed):
        ctx = VetContext.build(lcs, cands, lc_index=0, seed=seed, options={"V05": COMMON})
        return transit_shape(ctx)

    a, b, c = run(1), run(1), run(2)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
    # the point estimates do not depend on the seed; the bootstrap widths agree statistically
    np.testing.assert_array_equal(a["tflat_ttotal_ratio"], c["tflat_ttotal_ratio"])
    assert len(set(a["tflat_ttotal_ratio"])) == 1
    for key in ("tflat_ttotal_ratio_err", "t_total_hours_err", "depth_ppm_err"):
        x, y = a[key], c[key]
        se = np.sqrt(x.var(ddof=1) / 8 + y.var(ddof=1) / 8)
        assert abs(x.mean() - y.mean()) <= 3.5 * se, key
        assert not np.array_equal(x, y)


def test_results_do_not_depend_on_chunking(matrix, fit_run):
    """The first 8 candidates run alone (one chunk) give the numbers they got in the
    11-candidate run (two chunks, formed after ordering candidates by window size)."""
    lcs, cands, idx, _ = matrix
    ctx = VetContext.build(lcs, cands[:8], lc_index=idx[:8], seed=1, options={"V05": {**COMMON}})
    sub = transit_shape(ctx)
    for i, (cand, _, a, _) in enumerate(fit_run[:8]):
        for key, v in a.items():
            np.testing.assert_array_equal(np.asarray(sub[key])[i], v, err_msg=f"{cand.id} {key}")


@pytest.fixture(scope="module")
def toi_ctx_args(toi5807_lc, toi5807_sectors, reference_golden):
    from jaxvet.data import stitch

    cand = Candidate(**reference_golden["inputs"]["ephemeris"])
    s8283 = stitch([toi5807_sectors[82], toi5807_sectors[83]])
    return [toi5807_lc, s8283], [cand, cand], [0, 1]


def test_toi5807_grid_matches_reference_golden(toi_ctx_args, reference_golden):
    lcs, cands, idx = toi_ctx_args
    ctx = VetContext.build(lcs, cands, lc_index=idx, options={"V05": {**COMMON, "method": "grid"}})
    results = SPEC.run(ctx)
    for res, subset in zip(results, ("all_sectors", "sectors_82_83"), strict=True):
        gold = reference_golden["subsets"][subset]["checks"]["V05"]
        assert res.confidence == gold["confidence"]
        assert res.notes == gold["notes"] and res.flags == gold["flags"]
        for key, want in gold["metrics"].items():
            assert res.metrics[key] == want, (subset, key, res.metrics[key], want)
        gpd = gold["raw"]["plot_data"]
        pd = res.raw["plot_data"]
        for key in ("binned_phase", "binned_flux", "binned_flux_err", "trapezoid_phase", "trapezoid_flux"):
            np.testing.assert_allclose(pd[key], gpd[key], rtol=1e-12, atol=1e-15, err_msg=key)


def test_toi5807_trapezoid_depth_agrees_with_reference(toi_ctx_args, reference_golden):
    lcs, cands, idx = toi_ctx_args
    ctx = VetContext.build(lcs, cands, lc_index=idx, options={"V05": COMMON})
    for res, subset in zip(SPEC.run(ctx), ("all_sectors", "sectors_82_83"), strict=True):
        gold = reference_golden["subsets"][subset]["checks"]["V05"]["metrics"]
        m = res.metrics
        assert abs(m["depth_ppm"] - gold["depth_ppm"]) <= 2 * m["depth_ppm_err"], subset
        assert 5 < m["depth_ppm_err"] < 30 and m["snr"] > 15
        assert res.verdict == "pass" and m["grazing_indicator"] == "normal"
        assert m["tflat_ttotal_ratio"] > 0.5 and m["n_in_transit"] == gold["n_in_transit"]


_TINY_LC = simulate_lightcurve(seed=0, sectors=(1,), cadence_min=30.0)
BAD_OPTIONS = {
    "n_bootstrap": [-1, 0, 1.5, "x", None, True, 10**6],
    "bootstrap_ci": [0, 1.5, float("nan"), "x", None],
    "min_transit_coverage": [-0.1, 1.1, float("nan")],
    "method": ["x", None, 1, "GRID"],
    "window": [0.1, 10.0, float("inf")],
    "bootstrap": ["x", 1],
    "n_fit_bins": [0, 3, "x"],
    "grazing_depth_ppm": [0, -1, float("nan"), 2e6],
    "exposure_minutes": [-1.0, "x"],
    "not_an_option": [1],
}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_bad_options_are_rejected(data):
    key = data.draw(st.sampled_from(sorted(BAD_OPTIONS)))
    value = data.draw(st.sampled_from(BAD_OPTIONS[key]))
    with pytest.raises(JaxvetInputError, match=key):
        resolve_options({key: value})
    with pytest.raises(JaxvetInputError, match=key):
        ctx = VetContext.build(
            simulate_lightcurve(seed=0, sectors=(1,), cadence_min=30.0),
            [Candidate(3.0, 2001.0, 2.0)],
            options={"V05": {key: value}},
        )
        SPEC.run(ctx)


def test_good_options_resolve():
    o = resolve_options({"method": "grid", "n_bootstrap": 10_000, "exposure_minutes": 0})
    assert o["bootstrap"] == "multinomial" and o["n_bootstrap"] == 10_000 and o["exposure_minutes"] == 0.0
    assert resolve_options(None)["method"] == "trapezoid_fit" and resolve_options({})["bootstrap"] == "binned"


def test_exposure_groups_are_per_light_curve():
    from jaxvet.checks.v05_transit_shape import _exposure_tables
    from jaxvet.data import stitch

    a = simulate_lightcurve(seed=1, sectors=(1,), cadence_min=30.0)
    b = simulate_lightcurve(seed=2, sectors=(2,), cadence_min=2.0)
    mixed = stitch([a, b])
    ctx = VetContext.build([a, b], [Candidate(3.0, 2001.0, 2.0)])
    exp, grp, n_groups = _exposure_tables(ctx, None)
    assert n_groups == 1  # one cadence per light curve -> one group, whatever the others use
    np.testing.assert_allclose(np.asarray(exp)[:, 0] * 1440, [30.0, 2.0], rtol=1e-3)
    ctx2 = VetContext.build([mixed], [Candidate(3.0, 2001.0, 2.0)])
    exp2, grp2, n2 = _exposure_tables(ctx2, None)
    assert n2 == 2 and list(np.asarray(grp2)[0, :2]) == [1, 0]  # 30-min sector is the 2nd group
    assert _exposure_tables(ctx2, 0.0)[2] == 1


def test_binned_bootstrap_agrees_with_point_bootstrap(matrix):
    """The default bin-level Poisson bootstrap (exact counts, smoothed sums) gives the widths the
    point-level Poisson bootstrap gives (same candidates, 8 copies each, compared in the mean)."""
    lcs, _, _, t0s = matrix
    cands = [Candidate(3.5, t0s[0], 2.5, id=f"u{k}") for k in range(8)]
    cands += [Candidate(5.0, t0s[2], 2.0, id=f"g{k}") for k in range(8)]
    idx = [0] * 8 + [2] * 8

    def run(kind):
        ctx = VetContext.build(
            lcs,
            cands,
            lc_index=idx,
            seed=3,
            options={"V05": {**COMMON, "bootstrap": kind, "n_bootstrap": 300}},
        )
        return transit_shape(ctx)

    a, b = run("binned"), run("poisson")
    # the same full-data fit: the two paths sum the bins in a different order, and the BFGS
    # polish ends ~1e-8 apart (far inside the bootstrap widths of ~0.05)
    np.testing.assert_allclose(a["tflat_ttotal_ratio"], b["tflat_ttotal_ratio"], rtol=1e-6)
    for key in ("tflat_ttotal_ratio_err", "t_total_hours_err", "depth_ppm_err", "tmid_offset_hours_err"):
        for sl in (slice(0, 8), slice(8, 16)):
            x, y = a[key][sl], b[key][sl]
            se = np.sqrt(x.var(ddof=1) / 8 + y.var(ddof=1) / 8)
            assert abs(x.mean() - y.mean()) <= max(3.5 * se, 0.08 * y.mean()), (key, x.mean(), y.mean(), se)


def test_vet_chunks_do_not_change_or_repeat_bootstraps(matrix):
    """Bootstrap keys follow the candidate's run-wide position, not its slot in a chunk: the
    same run in chunks of 3 gives the numbers of one chunk, and no two copies share a stream."""
    from jaxvet.engine.runner import vet

    lcs, _, _, t0s = matrix
    cands = [Candidate(3.5, t0s[0], 2.5, id=f"copy{k}") for k in range(7)]
    runs = [
        vet(lcs[0], cands, ["V05"], seed=4, options={"V05": COMMON}, chunk_size=cs, estimate_depth=False)
        for cs in (3, 8)
    ]
    errs = [[r["V05"].metrics["tflat_ttotal_ratio_err"] for r in run.results] for run in runs]
    assert errs[0] == errs[1]
    assert len(set(errs[0])) == len(errs[0])


def test_changing_a_threshold_does_not_recompile(matrix):
    """Thresholds are traced kernel arguments: a new grazing / SNR threshold reuses the programs."""
    from jaxvet.checks import v05_transit_shape as V05

    lcs, cands, idx, _ = matrix
    kernels = (V05._kernel_points, V05._kernel_fit)

    def run(**extra):
        ctx = VetContext.build(lcs, cands[:8], lc_index=idx[:8], seed=1, options={"V05": {**COMMON, **extra}})
        return transit_shape(ctx)

    base = run()
    sizes = [k._cache_size() for k in kernels]
    other = run(grazing_ratio=0.65, eb_ratio=0.2, min_snr=5.0, duration_tolerance=0.1)
    assert [k._cache_size() for k in kernels] == sizes
    np.testing.assert_array_equal(base["tflat_ttotal_ratio"], other["tflat_ttotal_ratio"])
    assert not np.array_equal(base["grazing_code"], other["grazing_code"])


def test_misspelled_option_is_named():
    with pytest.raises(JaxvetInputError, match="grazing_ration"):
        SPEC.resolve_options({"grazing_ration": 0.3})


# ------------------------------------------------------------------ duration ceiling
def test_true_duration_above_the_old_ceiling_is_recovered_and_the_bound_is_flagged(matrix):
    """Known truth: u_planet's transit lasts 2.5 h.  Given 1.5 h, the old box (T <= 1.5 D in a
    +-0.9 D window) would have stopped at 2.25 h; the default box (T <= 2 D, window sized to keep
    0.5 D of baseline) recovers 2.5 h, unflagged.  Given 1.0 h (truth 2.5 D) the fit stops at
    t_max = 2 D and says so (FIT_AT_BOUND, fit_at_bound=["t_total_max"])."""
    lcs, _, _, t0s = matrix
    cands = [Candidate(3.5, t0s[0], d, id=f"d{d}") for d in (1.5, 1.0)]
    ctx = VetContext.build(lcs, cands, lc_index=[0, 0], seed=1, options={"V05": COMMON})
    ok, short = SPEC.run(ctx)
    assert ok.metrics["t_total_hours"] == pytest.approx(2.5, abs=0.05)
    assert ok.metrics["fit_at_bound"] == [] and "FIT_AT_BOUND" not in ok.flags
    assert ok.metrics["fit_window_durations"] == pytest.approx(1.65)
    assert ok.metrics["t_total_max_hours"] == pytest.approx(3.0)
    assert short.metrics["t_total_hours"] == pytest.approx(2.0, abs=1e-3)
    assert short.metrics["fit_at_bound"] == ["t_total_max"] and short.flags == ["FIT_AT_BOUND"]
    assert "fit_at_bound" in short.metrics["warnings"]
    assert any(n.startswith("fit_at_bound: T = t_max = 2 D = 2.000 h") for n in short.notes)
    import matplotlib.pyplot as plt

    from jaxvet.plotting.v05 import plot_transit_shape

    ax = plot_transit_shape(short)
    assert "fit at its bound: t_total_max" in ax.get_title()
    plt.close(ax.figure)


def test_window_options_keep_a_baseline():
    b = V05Options().fit_bounds()
    assert (b.window, b.t_hi) == pytest.approx((1.65, 2.0))
    # the window half-width leaves baseline_durations of baseline beyond a fit at t_max
    assert b.window - b.tau_max - b.t_hi / 2 == pytest.approx(0.5)
    b = V05Options(window=1.2).fit_bounds()
    assert (b.window, b.t_hi) == pytest.approx((1.2, 1.1))
    b = V05Options(max_duration_ratio=3.0, baseline_durations=1.0).fit_bounds()
    assert (b.window, b.t_hi) == pytest.approx((2.65, 3.0))
    with pytest.raises(JaxvetInputError, match="window .*baseline_durations"):
        V05Options(window=0.9)


def _real_v05(path, cand, options=None):
    import jaxvet

    lc = jaxvet.read_lightcurve(path)
    ctx = VetContext.build(lc, [cand], seed=0, options={"V05": options or {}})
    return SPEC.run(ctx)[0]


@pytest.mark.realdata
def test_koi1003_fit_at_the_duration_ceiling_is_flagged(shared_data):
    """KOI-1003 (Kepler Q2, 7 h in): the old box stopped silently at 10.500 h = 1.5 D; the spotted
    EB's fit runs to the new ceiling, 14.000 h = 2 D, and is flagged there."""
    p = shared_data / "tic122374527" / "Kepler_Q2.csv"
    if not p.exists():
        pytest.skip(f"{p} not found")
    r = _real_v05(p, Candidate(8.36, -1994.734, 7.0, id="KOI-1003"))
    m = r.metrics
    assert m["t_total_hours"] == pytest.approx(14.0, abs=1e-3) and m["t_total_max_hours"] == 14.0
    assert m["fit_at_bound"] == ["t_total_max"] and "FIT_AT_BOUND" in r.flags
    assert "duration_uncertain" in m["warnings"] and "fit_at_bound" in m["warnings"]
    # the reference-compatible medians do not depend on the fit window
    assert (m["depth_bottom"], m["depth_edge"], m["shape_ratio"]) == (0.038391, 0.030776, 1.247)


@pytest.mark.realdata
def test_toi813_window_keeps_a_baseline_and_the_fit_is_inside_the_box(shared_data):
    """TOI-813 (S5, one transit, 13.28 h in): the +-1.65 D window keeps > 11 h of baseline on
    each side of the fitted transit; T = 18.9 h is inside the box (T <= 26.56 h), unflagged."""
    p = shared_data / "tic55525572" / "tic55525572_lc.fits"
    if not p.exists():
        pytest.skip(f"{p} not found")
    r = _real_v05(p, Candidate(83.899, 1454.6598, 13.28, depth_ppm=1195.0, id="TOI-813"))
    m = r.metrics
    assert m["fit_at_bound"] == [] and "FIT_AT_BOUND" not in r.flags
    assert m["t_total_hours"] == pytest.approx(18.9, abs=0.3)
    half = m["fit_window_durations"] * 13.28
    assert half - (m["t_total_hours"] / 2 + abs(m["tmid_offset_hours"])) > 11.0


def test_chunk_rows_keep_real_candidates_in_full_map_steps():
    """A chunk's padding rows are cut to a power of two (>= 8) only where every real candidate
    stays inside a full ``lax.map`` step of each batch size (the code of the nominal chunk)."""
    from jaxvet.checks.v05_transit_shape import _chunk_rows

    assert _chunk_rows(44, 256, (2, 32)) == 64
    assert _chunk_rows(44, 256, (10, 32)) == 64
    assert _chunk_rows(3, 256, (170, 32)) == 256
    assert _chunk_rows(250, 256, (10, 32)) == 256
    assert _chunk_rows(5, 100, (10, 32)) == 100  # not a multiple of FIT_BATCH: the fit maps it whole
    for n_real in range(1, 257):
        for qs in ((1, 1), (2, 32), (10, 32), (7, 3), (170, 32), (256, 32)):
            rows = _chunk_rows(n_real, 256, qs)
            assert n_real <= rows <= 256 and rows % 8 == 0
            assert rows == 256 or all(rows // q * q >= n_real for q in qs)
