"""V15 transit asymmetry: numpy oracle on a random padded batch, known symmetric and skewed
transits, the reference's own outputs (TOI-5807 and 20 random ephemerides), edge inputs, options,
no recompilation."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.checks import get_check
from jaxvet.checks import v15_transit_asymmetry as V15
from jaxvet.data import Candidate
from jaxvet.engine.context import VetContext, to_host
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles import v13_v15_oracle as orc
from tests.test_v13 import GOLDEN, golden_context, host_points, random_batch

SPEC = V15.SPEC
RTOL = 1e-9


def _assert_like(r, want, guard=False):
    assert r.metrics == want["metrics"] and list(r.metrics) == list(want["metrics"])
    assert r.notes == want["notes"] + (["duration_too_long_relative_to_period"] if guard else [])
    assert r.flags == (["DURATION_TOO_LONG"] if guard else [])
    assert r.confidence == want["confidence"]
    assert r.status == "ok" and r.verdict is None and r.id == "V15" and r.name == "Transit Asymmetry"


def test_random_batch_matches_oracle():
    lcs, cands, lci, ctx = random_batch()
    host = to_host(SPEC.dispatch(ctx))
    results = SPEC.finish(ctx, host)
    notes = set()
    for i, (r, c, li) in enumerate(zip(results, cands, lci, strict=True)):
        t, f = host_points(lcs[li])
        want = orc.v15(t, f, c.period_days, c.t0_btjd, c.duration_hours)
        _assert_like(r, want, guard=c.duration_days >= 0.5 * c.period_days)
        notes.update(r.notes)
        if "unrounded" in want:
            u = want["unrounded"]
            for k in ("asymmetry_sigma", "mu_left", "mu_right", "baseline"):
                assert math.isclose(host[k][i], u[k], rel_tol=RTOL, abs_tol=1e-15), (i, k)
            np.testing.assert_allclose(host["left_bin_means"][i], u["left_bins"], rtol=RTOL, atol=1e-15)
            np.testing.assert_allclose(host["right_bin_means"][i], u["right_bins"], rtol=RTOL, atol=1e-15)
            pd = r.raw["plot_data"]
            n = min(600, want["plot_phase"].size)
            size = want["plot_phase"].size
            idx = np.linspace(0, size - 1, 600).astype(int) if size > 600 else np.arange(n)
            np.testing.assert_allclose(pd["phase"], want["plot_phase"][idx], rtol=0, atol=1e-12)
            np.testing.assert_allclose(pd["flux"], want["plot_flux"][idx], rtol=0, atol=1e-12)
    want_notes = {"insufficient_time_points", "baseline_fallback_global_oot", "baseline_unavailable",
                  "insufficient_points_in_window", "insufficient_points_per_half"}  # fmt: skip
    assert want_notes <= notes, want_notes - notes


def _transit_lc(skew_ppm: float, seed: int = 2):
    lc = simulate_lightcurve(seed, sectors=(1,), white_ppm=200.0)
    P, t0, dh = 3.0, 2001.0, 3.0
    lc = inject_transits(lc, P, t0, dh, 500.0, tflat_ratio=0.6, supersample=1, seed=seed)
    ph = orc._phase(lc.time, t0, P)
    ramp = (ph < 0) & (np.abs(ph) <= 2 * dh / 24 / P)  # a dip over the whole left half-window
    return dataclasses.replace(lc, flux=lc.flux - skew_ppm * 1e-6 * ramp), Candidate(P, t0, dh)


@functools.lru_cache(maxsize=1)
def _sym_ctx():
    """The same transit without and with a 500 ppm lower left half-window (one context)."""
    (lc0, c), (lc1, _) = _transit_lc(0.0), _transit_lc(500.0)
    return VetContext.build([lc0, lc1], [c, c], lc_index=[0, 1])


def test_symmetric_vs_skewed_transit():
    r0, r1 = SPEC.run(_sym_ctx())
    m0, m1 = r0.metrics, r1.metrics
    # a symmetric transit: both halves hold the same mean (ingress = egress)
    assert abs(m0["mu_left"] - m0["mu_right"]) < 30e-6 and m0["asymmetry_sigma"] < 3
    # the left half-window 500 ppm lower: mu_L - mu_R = -500 ppm; the bin scatter (the transit
    # profile itself, se ~ 60 ppm per half) makes that ~6 sigma
    assert abs((m1["mu_left"] - m1["mu_right"]) + 500e-6) < 30e-6 and m1["asymmetry_sigma"] > 4
    assert m0["n_left_bins"] == m0["n_right_bins"] == 12 and r0.notes == [] and r0.confidence == 0.75
    # the local baseline is the median of the window's out-of-transit points, half of which
    # the skew lowers: about 250 ppm below the symmetric one
    assert abs(m0["baseline"] - 1.0) < 3e-5 and abs(m1["baseline"] - m0["baseline"] + 250e-6) < 60e-6


@pytest.mark.realdata
def test_reference_golden(toi5807_dir):
    if not GOLDEN.exists():
        pytest.skip("tests/data/reference_v13_v15.json not generated")
    ctx, rows = golden_context(str(toi5807_dir))
    host = to_host(SPEC.dispatch(ctx))
    results = SPEC.finish(ctx, host)
    worst = 0.0
    for i, (r, g) in enumerate(zip(results, rows, strict=True)):
        ref = g["V15"]
        assert r.metrics == ref["metrics"] and list(r.metrics) == list(ref["metrics"]), i
        assert (r.notes, r.flags, r.status) == (ref["notes"], ref["flags"], "ok")
        assert r.confidence == ref["confidence"]
        u = g["unrounded"]["V15"]
        for k in ("asymmetry_sigma", "mu_left", "mu_right", "baseline"):
            assert math.isclose(host[k][i], u[k], rel_tol=RTOL), (i, k)
            worst = max(worst, abs(host[k][i] - u[k]) / abs(u[k]))
        pd, rpd = r.raw["plot_data"], ref["raw"]["plot_data"]
        for k in ("left_bin_mean", "right_bin_mean"):
            assert math.isclose(pd[k], rpd[k], rel_tol=1e-12), (i, k)
        assert pd["left_bin_phase_range"] == rpd["left_bin_phase_range"]
        if "phase" in rpd:  # TOI-5807 rows keep the 600 plot points
            # phases to ~1e-14 (jnp.mod vs numpy %: one ulp of (t - t0)/P)
            np.testing.assert_allclose(pd["phase"], rpd["phase"], rtol=0, atol=1e-12)
            np.testing.assert_allclose(pd["flux"], rpd["flux"], rtol=0, atol=1e-12)
        else:
            assert len(pd["phase"]) == rpd["phase_len"]
    assert len(results) == 22 and worst <= RTOL
    assert results[0].metrics["asymmetry_sigma"] == 1.678


def test_traced_option_does_not_recompile():
    ctx = _sym_ctx()
    base = SPEC.run(ctx)[0]
    fn = V15._kernel_for(12, 2.0)
    before = V15._jit_kernel._cache_size()
    strict = SPEC.run(dataclasses.replace(ctx, options={"V15": {"min_points_per_half": 10**6}}))[0]
    assert V15._jit_kernel._cache_size() == before and fn is V15._kernel_for(12, 2.0)
    assert base.notes == [] and strict.notes == ["insufficient_points_per_half"]
    assert strict.metrics == base.metrics


def test_static_options_match_oracle():
    lc, c = _transit_lc(100.0, seed=5)
    opts = {"window_mult": 1.5, "n_bins_half": 5, "min_points_per_half": 7}
    ctx = VetContext.build(lc, [c], options={"V15": opts})
    (r,) = SPEC.run(ctx)
    t, f = host_points(lc)
    _assert_like(r, orc.v15(t, f, c.period_days, c.t0_btjd, c.duration_hours, 1.5, 5, 7))
    assert r.metrics["n_bins_half"] == 5 and get_check("V15") is SPEC


@pytest.mark.parametrize(
    "opts, name",
    [({"window_mult": -1.0}, "window_mult"), ({"n_bins_half": 0}, "n_bins_half"),
     ({"min_points_per_half": 2.5}, "min_points_per_half"), ({"nbins": 3}, "nbins")],
)  # fmt: skip
def test_bad_options_raise_naming_them(opts, name):
    with pytest.raises(JaxvetInputError, match=name):
        SPEC.resolve_options(opts)


def test_cli_checks_v13_v15(tmp_path, capsys):
    """``jaxvet vet --checks V13,V15`` (registry ids): the JSON results equal ``vet()``'s on the
    same (per-sector normalised) light curve."""
    import json

    from jaxvet.cli.main import main
    from jaxvet.data import stitch
    from jaxvet.engine.runner import vet

    lc = simulate_lightcurve(7, sectors=(1,), cadence_min=30.0, white_ppm=300.0)
    c = Candidate(3.0, 2001.0, 3.0)
    p = tmp_path / "sector1_pdcsap.csv"
    with p.open("w") as fh:
        fh.write("# tic_id: 1\n# sector: 1\n#\ntime_btjd,flux,flux_err,quality\n")
        for t, f, e in zip(lc.time, lc.flux, lc.flux_err, strict=True):
            fh.write(f"{float(t)!r},{float(f)!r},{float(e)!r},0\n")
    argv = ["vet", str(p), "--period", "3", "--t0", "2001", "--duration-hours", "3",
            "--checks", "V13,V15", "--json", "-", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)["candidates"][0]["checks"]
    assert set(doc) == {"V13", "V15"}
    py = vet(stitch([lc]), [c], ["V13", "V15"])
    for cid in ("V13", "V15"):
        assert doc[cid]["metrics"] == py.results[0][cid].metrics, cid
        assert doc[cid]["notes"] == py.results[0][cid].notes and doc[cid]["status"] == "ok"


@pytest.mark.realdata
def test_plots_toi5807(toi5807_dir, tmp_path):
    """V13's missing fractions per epoch and V15's binned halves, through ``plot_check``."""
    import matplotlib.pyplot as plt

    from jaxvet.checks import v13_data_gaps as V13
    from jaxvet.plotting import plot_check, save_check_plots

    if not GOLDEN.exists():
        pytest.skip("tests/data/reference_v13_v15.json not generated")
    ctx, _ = golden_context(str(toi5807_dir))
    r13 = V13.SPEC.finish(ctx, to_host(V13.SPEC.dispatch(ctx)))[0]
    r15 = SPEC.finish(ctx, to_host(SPEC.dispatch(ctx)))[0]
    ax = plot_check(r13)
    heights = sorted(p.get_height() for p in ax.patches)
    assert len(heights) == 10 and heights[-1] == 1.0 and heights[-3] < 0.01  # 2 epochs outside coverage
    plt.close(ax.figure)
    ax = plot_check(r15)
    left = [ln for ln in ax.lines if ln.get_label() == "left bins"][0]
    assert len(left.get_xdata()) == 12 and "1.678" in ax.get_title()
    want = r15.raw["plot_data"]["left_bin_mean"] - 1.0
    np.testing.assert_allclose(np.nanmean(left.get_ydata() - 1.0), want, rtol=1e-9)
    plt.close(ax.figure)
    paths = save_check_plots({"V13": r13, "V15": r15}, tmp_path)
    assert [p.name for p in paths] == ["V13.png", "V15.png"]


_SMALL = dict(n_points=64, n_sectors=4, n_segments=16)


@settings(max_examples=15, deadline=None)
@given(
    steps=st.lists(st.sampled_from([0.0, 1e-4, 2 / 1440, 10 / 1440, 0.05, 0.3, 2.0]), max_size=63),
    period=st.floats(0.3, 6.0),
    t0_off=st.floats(-3.0, 9.0),
    dur_h=st.floats(0.5, 30.0),
    seed=st.integers(0, 2**16),
)
def test_small_and_odd_light_curves_match_oracles(steps, period, t0_off, dur_h, seed):
    """Few points (the insufficient branches of both checks), repeated time stamps, gaps,
    windows holding no point, durations past P/2: V13 and V15 against their oracles (fixed
    padded shapes, so the examples share compiled programs)."""
    from jaxvet.checks import v13_data_gaps as V13
    from jaxvet.data import CandidateBatch, LightCurve, LightCurveBatch

    t = 2000.0 + np.concatenate([[0.0], np.cumsum(steps)])
    f = 1 + 1e-3 * np.random.default_rng(seed).standard_normal(t.size)
    lc = LightCurve(t, f, np.full(t.size, 1e-3))
    c = Candidate(period, 2000.0 + t0_off, dur_h)
    ctx = VetContext(lightcurves=[lc], lcb=LightCurveBatch.from_lightcurves([lc], **_SMALL), candidates=[c],
                     cb=CandidateBatch.from_candidates([c], pad_to=2))  # fmt: skip
    guard = c.duration_days >= 0.5 * period
    (r13,) = V13.SPEC.run(ctx)
    want = orc.v13(t, period, c.t0_btjd, dur_h)
    assert r13.metrics == want["metrics"] and r13.confidence == want["confidence"]
    assert r13.notes == want["notes"] + (["duration_too_long_relative_to_period"] if guard else [])
    (r15,) = SPEC.run(ctx)
    _assert_like(r15, orc.v15(t, f, period, c.t0_btjd, dur_h), guard=guard)
