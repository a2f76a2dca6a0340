"""V16 model competition: numpy oracle (numpy lstsq) on padded batches, known-truth models
(transit, stellar variability, odd/even EB), tess-vetter 0.3.20 golden values on TOI-5807,
edge inputs, no recompilation for the thresholds."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from jaxvet.checks import get_check
from jaxvet.checks import v16_model_competition as V16
from jaxvet.data import Candidate, LightCurve
from jaxvet.engine.context import VetContext
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles.v16_v19_oracle import load_reference_v16_v19, v16_oracle

SPEC = get_check("V16")
#: AIC/BIC (~ -1e6 for real errors) and the risks: to 1e-9 relative.  The margin is a difference
#: of two BICs, each a sum over ~1e4-1e5 points rounded at ~1e-10 absolute: 1e-6 absolute.  Fitted
#: coefficients come from normal equations here and from an SVD in numpy: they agree to about
#: cond(X)^2 eps, so 1e-7 relative (plus 1e-12 absolute for coefficients that are ~0).
RTOL, MARGIN_ABS, PARAM_RTOL = 1e-9, 1e-6, 1e-7


@pytest.fixture(scope="module")
def reference_v16_v19():
    g = load_reference_v16_v19()
    if g is None:
        pytest.skip("tests/data/reference_v16_v19.json not generated (reference_golden_v16_v19.py)")
    return g


def _metric_close(got, want, key):
    if isinstance(want, str):
        assert got == want, key
    elif key == "winner_margin_bic":
        assert got == pytest.approx(want, rel=RTOL, abs=MARGIN_ABS), key
    else:
        assert got == pytest.approx(want, rel=RTOL, abs=1e-12), key


def _compare(res, lc, c, **kw):
    v = lc.valid
    m, p, notes, flags = v16_oracle(lc.time[v], lc.flux[v], lc.flux_err[v], c.period_days, c.t0_btjd,
                                    c.duration_hours, **kw)
    assert list(res.metrics) == list(m)
    for k, want in m.items():
        _metric_close(res.metrics[k], want, k)
    fp = res.raw["fits"]
    assert fp["transit_only"]["fitted_params"]["depth"] == pytest.approx(p["depth"], rel=RTOL, abs=1e-15)
    sin = fp["transit_sinusoid"]["fitted_params"]
    eb = fp["eb_like"]["fitted_params"]
    assert sin["depth"] == pytest.approx(p["beta_sin"][0], rel=PARAM_RTOL, abs=1e-12)
    assert sin["amplitude_k1"] == pytest.approx(p["amplitude_k1"], rel=PARAM_RTOL, abs=1e-12)
    got_eb = [eb["depth_odd"], eb["depth_even"], eb["depth_secondary"]]
    np.testing.assert_allclose(got_eb, p["beta_eb"], rtol=PARAM_RTOL, atol=1e-12)
    assert res.notes == notes and res.flags == flags
    assert res.status == "ok" and res.verdict is None and res.confidence is None


def _lc(seed, n_sectors=1, cadence=10.0, err=True, **kw):
    lc = simulate_lightcurve(seed, sectors=tuple(range(1, n_sectors + 1)), cadence_min=cadence, **kw)
    return lc if err else LightCurve(lc.time, lc.flux, None, lc.quality, sector=lc.sector)


def test_matches_oracle_on_random_padded_batch():
    a = inject_transits(_lc(1, 2), 3.3, 2001.1, 2.5, 2000.0, odd_even_ratio=0.8)
    b = inject_transits(_lc(2, 1, cadence=20.0, err=False, variability_ppm=400.0), 2.2, 2000.4, 3.0, 1500.0)
    rng = np.random.default_rng(11)
    cands = [Candidate(3.3, 2001.1, 2.5), Candidate(2.2, 2000.4, 3.0)]
    cands += [
        Candidate(float(rng.uniform(0.6, 15)), float(2000 + rng.uniform(0, 5)), float(rng.uniform(0.6, 8)))
        for _ in range(8)
    ]
    idx = [0, 1] + [int(i) for i in rng.integers(0, 2, 8)]
    res = SPEC.run(VetContext.build([a, b], cands, lc_index=idx))
    for r, c, i in zip(res, cands, idx, strict=True):
        _compare(r, (a, b)[i], c)


@pytest.mark.parametrize(
    "kind, label",
    [("transit", "TRANSIT"), ("variability", "SINUSOID"), ("odd_even_eb", "EB_LIKE")],
)
def test_known_truth_models(kind, label):
    """A clean transit, stellar variability at the period, an EB with unequal odd/even eclipses."""
    p, t0, d = 3.1, 2000.8, 3.0
    if kind == "variability":
        lc = _lc(3, 2, variability_ppm=1500.0, variability_period_days=p)
        lc = inject_transits(lc, p, t0, d, 300.0)
    elif kind == "odd_even_eb":
        lc = inject_transits(_lc(4, 2), p, t0, d, 6000.0, odd_even_ratio=0.6)
    else:
        lc = inject_transits(_lc(5, 2), p, t0, d, 2000.0)
    c = Candidate(p, t0, d)
    r = SPEC.run(VetContext.build(lc, [c]))[0]
    assert r.metrics["model_competition_label"] == label
    assert r.metrics["winner_margin_bic"] > 10
    assert (V16.FLAG in r.flags) == (label != "TRANSIT")
    if label == "EB_LIKE":
        assert r.notes[0].startswith("Significant odd/even depth difference (")
    if label == "SINUSOID":
        assert r.notes[-1] == V16.NOTE_SINUSOID
    _compare(r, lc, c)


@pytest.mark.realdata
def test_toi5807_and_random_ephemerides_match_reference(toi5807_subsets, reference_v16_v19):
    ctx0, lcs = toi5807_subsets
    g = reference_v16_v19
    cands = list(ctx0.candidates) + [
        Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"]) for r in g["random"]
    ]
    idx = [0, 1] + [0] * len(g["random"])
    # without flux errors (the reference's zeros: the variance floor), in the same run
    lc = lcs[1]
    noerr = LightCurve(lc.time, lc.flux, None, lc.quality, sector=lc.sector)
    cands += [Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"]) for r in g["no_err"]]
    idx += [2] * len(g["no_err"])
    res = SPEC.run(VetContext.build([*lcs, noerr], cands, lc_index=idx))
    gold = [s["checks"]["V16"] for s in (g["subsets"]["all_sectors"], g["subsets"]["sectors_82_83"])]
    gold += [r["checks"]["V16"] for r in g["random"] + g["no_err"]]
    for r, want in zip(res, gold, strict=True):
        _matches_reference(r, want)
    assert res[0].metrics["model_competition_label"] == "SINUSOID"  # TOI-5807, all sectors


def _matches_reference(r, want):
    assert r.status == want["status"] and r.flags == want["flags"] and r.notes == want["notes"]
    assert list(r.metrics) == list(want["metrics"])
    for k, v in want["metrics"].items():
        _metric_close(r.metrics[k], v, k)
    raw = want["raw"]
    assert r.raw["provenance"] == want["provenance"] and r.raw["warnings"] == raw["warnings"]
    assert r.raw["artifact_prior"] == pytest.approx(raw["artifact_prior"], rel=RTOL)
    for m, fit in raw["fits"].items():
        got = r.raw["fits"][m]
        assert list(got) == list(fit) and list(got["fitted_params"]) == list(fit["fitted_params"])
        for k in ("log_likelihood", "aic", "bic", "residual_rms"):
            assert got[k] == pytest.approx(fit[k], rel=RTOL), (m, k)
        for k, v in fit["fitted_params"].items():
            assert got["fitted_params"][k] == pytest.approx(v, rel=PARAM_RTOL, abs=1e-12), (m, k)
    pd, gpd = r.raw["plot_data"], raw["plot_data"]
    assert list(pd) == list(gpd) and pd["phase"] == gpd["phase"]
    assert pd["flux"] == gpd["flux"]  # medians of the same values: exact
    for k in ("transit_model", "eb_like_model", "sinusoid_model"):
        np.testing.assert_allclose(pd[k], gpd[k], rtol=1e-12)


def test_edge_cases_zero_columns_tiny_and_long_duration():
    """Transits only in a gap (zero template columns: lstsq's minimum-norm zeros), one parity only,
    a light curve of 12 points, and D >= P/2 (the engine's flag)."""
    lc = _lc(6, 1, cadence=30.0)
    gap = 2000 + (27.4 - 1.0) / 2 + 0.5  # the middle of the orbit gap
    t = np.linspace(2000.0, 2000.5, 12)
    tiny = LightCurve(t, 1 + 1e-4 * np.sin(t * 40), np.full_like(t, 1e-4))
    cands = [Candidate(40.0, gap, 2.0), Candidate(30.0, 2003.0, 2.0), Candidate(1.0, 2000.1, 2.0),
             Candidate(1.0, 2000.1, 13.0)]
    res = SPEC.run(VetContext.build([lc, tiny], cands, lc_index=[0, 0, 1, 1]))
    fp = res[0].raw["fits"]
    assert fp["transit_only"]["fitted_params"]["depth"] == 0.0
    eb = fp["eb_like"]["fitted_params"]
    assert eb["depth_odd"] == 0.0 and eb["depth_even"] == 0.0
    assert res[1].raw["fits"]["eb_like"]["fitted_params"]["depth_odd"] == 0.0  # one epoch, even
    for r, c, lcx in zip(res[:3], cands[:3], (lc, lc, tiny), strict=True):
        _compare(r, lcx, c)
    assert "DURATION_TOO_LONG" in res[3].flags and "DURATION_TOO_LONG" not in res[2].flags


def test_quality_flags_and_options():
    lc = inject_transits(_lc(7, 1, cadence=20.0), 13.75, 2003.0, 3.0, 2000.0)
    c = Candidate(13.75, 2003.0, 3.0)
    opts = {"quality_flags": ["momentum_dump", "high_background"], "alias_tolerance": 0.02,
            "bic_threshold": 1e9, "n_harmonics": 3, "n_plot_bins": 50}
    r = SPEC.run(VetContext.build(lc, [c], options={"V16": opts}))[0]
    _compare(r, lc, c, n_harm=3, bic_threshold=1e9, alias_tol=0.02, sector_risk=0.3)
    assert r.metrics["model_competition_label"] == "AMBIGUOUS" and r.metrics["artifact_risk"] == 0.5
    assert r.metrics["artifact_prior_period_alias_risk"] == pytest.approx(1 - (0.05 / 13.7) / 0.02)
    assert len(r.raw["plot_data"]["phase"]) == 50
    assert "phase_k3_rad" in r.raw["fits"]["transit_sinusoid"]["fitted_params"]


@pytest.mark.parametrize(
    "opts, name",
    [({"n_harmonics": 0}, "n_harmonics"), ({"alias_tolerance": -1.0}, "alias_tolerance"),
     ({"quality_flags": ["cosmic_rays"]}, "quality_flags"), ({"n_plot_bins": 5}, "n_plot_bins"),
     ({"bic_treshold": 3.0}, "bic_treshold")],
)
def test_bad_options_rejected(opts, name):
    ctx = VetContext.build(_lc(0, 1, cadence=30.0), [Candidate(3.0, 2000.0, 2.0)], options={"V16": opts})
    with pytest.raises(JaxvetInputError, match=name):
        SPEC.run(ctx)


def test_threshold_change_does_not_recompile():
    lc = inject_transits(_lc(8, 1, cadence=20.0), 2.7, 2000.9, 2.0, 3000.0)
    ctx = VetContext.build(lc, [Candidate(2.7, 2000.9, 2.0)])
    first = SPEC.run(ctx)[0].metrics
    assert first["model_competition_label"] == "TRANSIT"
    sizes = (V16._kernel._cache_size(), V16._competition._cache_size())
    opts = {"V16": {"bic_threshold": 1e12, "alias_tolerance": 0.7}}
    again = SPEC.run(dataclasses.replace(ctx, options=opts))[0].metrics
    assert (V16._kernel._cache_size(), V16._competition._cache_size()) == sizes
    assert again["model_competition_label"] == "AMBIGUOUS"
    assert again["artifact_prior_period_alias_risk"] != first["artifact_prior_period_alias_risk"]
    assert math.isclose(again["bic_transit_only"], first["bic_transit_only"], rel_tol=0, abs_tol=0)


def test_compute_tree_holds_the_summary_metrics():
    """A campaign stores ``summary_metrics`` from the device tree: each is a (B,) leaf."""
    lc = _lc(9, 1, cadence=30.0)
    ctx = VetContext.build(lc, [Candidate(3.0, 2000.5, 2.0), Candidate(5.0, 2001.0, 3.0)])
    tree = SPEC.compute(ctx, None)
    for m in SPEC.summary_metrics:
        assert np.shape(tree[m]) == (2,), m


def test_plot():
    import matplotlib.pyplot as plt

    from jaxvet.plotting import plot_check

    lc = inject_transits(_lc(10, 1, cadence=30.0), 2.9, 2000.6, 2.5, 3000.0)
    r = SPEC.run(VetContext.build(lc, [Candidate(2.9, 2000.6, 2.5)]))[0]
    fig, ax = plt.subplots()
    assert plot_check(r, ax=ax) is ax and SPEC.id in ax.get_title()
    assert len(r.raw["plot_data"]["phase"]) > 0
    plt.close(fig)


def test_cli_checks_v16_v19(tmp_path):
    """``jaxvet vet ... --checks V16,V19 --option ...`` runs both and writes their results."""
    import json

    from jaxvet.cli.main import main

    lc = inject_transits(_lc(12, 1, cadence=30.0), 3.1, 2001.0, 2.5, 2500.0)
    p = tmp_path / "sector1_pdcsap.csv"
    cols = zip(lc.time.tolist(), lc.flux.tolist(), lc.flux_err.tolist(), strict=True)
    rows = "".join(f"{t!r},{f!r},{e!r},0\n" for t, f, e in cols)
    p.write_text("# sector: 1\n#\ntime_btjd,flux,flux_err,quality\n" + rows)
    out = tmp_path / "o.json"
    argv = ["vet", str(p), "--period", "3.1", "--t0", "2001.0", "--duration-hours", "2.5",
            "--checks", "V16,V19", "--option", "V19.event_sigma_threshold=2.5",
            "--option", "V16.quality_flags=momentum_dump", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    checks = json.loads(out.read_text())["candidates"][0]["checks"]
    assert set(checks) == {"V16", "V19"} and all(c["status"] == "ok" for c in checks.values())
    assert checks["V16"]["metrics"]["model_competition_label"] == "TRANSIT"
    assert checks["V16"]["metrics"]["artifact_prior_sector_quality_risk"] == 0.2
    assert checks["V19"]["metrics"]["best_other_over_base_score_ratio"] < 1.0
