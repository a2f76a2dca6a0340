"""V12 SWEET: numpy oracle on a random padded batch, known truth (variability at P; a flat star),
the reference's own outputs (TOI-5807 and 20 random ephemerides), edge inputs, options, the
verdict's threshold without recompilation, the plot and the CLI."""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest

from jaxvet.checks import get_check, resolve_checks
from jaxvet.checks import v12_sweet as V12
from jaxvet.data import Candidate, LightCurve
from jaxvet.engine.context import VetContext, to_host
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.conftest import REPO
from tests.oracles import v12_oracle as orc

SPEC = get_check("V12")
GOLDEN = REPO / "tests" / "data" / "reference_v12.json"
#: amplitudes, uncertainties and SNRs: the same arithmetic as numpy except the order of the sums
#: (measured 3e-14 relative on TOI-5807); plot fits come from normal equations here and from an
#: SVD in numpy (measured 8e-15 absolute on fluxes ~1)
RTOL, PLOT_ATOL = 1e-9, 1e-12
GUARD_FLAG, GUARD_NOTE = "DURATION_TOO_LONG", "duration_too_long_relative_to_period"


def _points(lc: LightCurve):
    v = lc.valid
    return lc.time[v], lc.flux[v]


def _check_plot(r, t, f, c):
    ph, fl, fits = orc.plot_fits(t, f, c.period_days, c.t0_btjd)
    pd = r.raw["plot_data"]
    np.testing.assert_allclose(pd["phase"], ph, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pd["flux"], fl, rtol=0, atol=1e-15)
    for key, want in zip(("half_period_fit", "at_period_fit", "double_period_fit"), fits, strict=True):
        np.testing.assert_allclose(pd[key], want, rtol=0, atol=PLOT_ATOL)


def _compare(r, lc, c, threshold=3.0):
    """``r`` against the oracle on the valid points of ``lc``."""
    t, f = _points(lc)
    guard = c.duration_days >= 0.5 * c.period_days
    want = orc.sweet(t, f, c.period_days, c.t0_btjd, c.duration_hours, threshold)
    if want is None:
        assert r.status == "error" and r.flags == ["ERROR:sweet_execution_failed"] and not r.metrics
        return None
    amp, msg, scatter, n_out = want
    assert r.status == "ok" and r.flags == ([GUARD_FLAG] if guard else [])
    assert r.notes == ([GUARD_NOTE] if guard else [])
    np.testing.assert_allclose(r.raw["raw_metrics"]["amp"], amp, rtol=RTOL, atol=0)
    assert r.metrics["sweet_msg"] == msg == r.raw["raw_metrics"]["msg"]
    assert r.raw["scatter"] == pytest.approx(scatter, rel=1e-12) and r.raw["n_oot_points"] == n_out
    assert list(r.metrics) == [*V12.SUMMARY_KEYS, *V12.SNR_KEYS, "sweet_msg"]
    conf = min(1.0, t.size / 200)
    assert r.metrics["n_points"] == t.size and r.confidence == (min(conf, 0.2) if guard else conf)
    assert r.metrics["baseline_days"] == round(float(t.max() - t.min()), 2)
    assert r.metrics["cadence_median_min"] == round(float(np.median(np.diff(t))) * 1440, 2)
    assert r.metrics["n_transits_expected"] == int(float(t.max() - t.min()) / c.period_days)
    for k, row in zip(V12.SNR_KEYS, amp, strict=True):
        assert r.metrics[k] == pytest.approx(row[2], rel=RTOL)
    _check_plot(r, t, f, c)
    return amp


def _lc(seed, cadence=20.0, **kw):
    return simulate_lightcurve(seed, sectors=(1,), cadence_min=cadence, **kw)


@functools.lru_cache(maxsize=1)
def _pair():
    """Variability at 3.1 d (1500 ppm) and a flat star, both with 800 ppm transits at 3.1 d (one
    padded batch shape shared by the tests below: one compilation)."""
    p, t0, d = 3.1, 2000.8, 3.0
    var = inject_transits(_lc(3, variability_ppm=1500.0, variability_period_days=p), p, t0, d, 800.0)
    flat = inject_transits(_lc(3), p, t0, d, 800.0)
    return var, flat


def _random_batch():
    """Light curves of different lengths in one padded batch (invalid points in between, gaps, 40
    points), random ephemerides, a duration covering every point and one leaving two points."""
    rng = np.random.default_rng(12)
    a = _lc(1, variability_ppm=600.0, variability_period_days=2.3, red_ppm=100.0)
    q = np.where(rng.uniform(size=len(a)) < 0.05, 128, 0)  # quality-flagged points stay in the rows
    a = LightCurve(a.time, a.flux, a.flux_err, q, sector=a.sector)
    b = _lc(2, cadence=30.0, white_ppm=900.0)
    b = b.select(~((b.time > 2005.0) & (b.time < 2007.5)))
    t_c = 2000.0 + np.arange(40) / 48
    c = LightCurve(t_c, 1 + 3e-4 * rng.standard_normal(40), np.full(40, 3e-4))
    cands, lci = [], []
    for _ in range(10):
        p = float(rng.uniform(0.5, 12.0))
        cands.append(Candidate(p, 2000.0 + float(rng.uniform(-p, 2 * p)), float(rng.uniform(0.7, 7.0))))
        lci.append(int(rng.integers(0, 2)))
    cands += [Candidate(0.3, 2000.1, 9.0), Candidate(2.0, 2000.41, 19.2), Candidate(0.6, 2000.3, 0.5)]
    lci += [2, 2, 2]
    return [a, b, c], cands, lci


def test_random_padded_batch_matches_oracle():
    lcs, cands, lci = _random_batch()
    res = SPEC.run(VetContext.build(lcs, cands, lc_index=lci))
    for r, c, i in zip(res, cands, lci, strict=True):
        _compare(r, lcs[i], c)
    assert res[-3].status == "error" and res[-3].notes == [V12.EMPTY_FIT_NOTE]  # every point in transit
    assert res[-2].status == "error" and res[-2].notes == [V12.SHORT_FIT_NOTE]  # two left
    assert {r.metrics.get("sweet_msg", "").startswith("WARN") for r in res[:10]} == {True, False}


def test_known_truth():
    """A 1500 ppm sinusoid at the candidate's period is found at P (verdict warn); a star with
    white noise only is OK at every trial period (verdict pass)."""
    var, flat = _pair()
    c = Candidate(3.1, 2000.8, 3.0)
    rv, rf = SPEC.run(VetContext.build([var, flat], [c, c], lc_index=[0, 1]))
    amp = _compare(rv, var, c)
    assert rv.metrics["snr_at_period"] > 50 and rv.verdict == "warn"
    assert "WARN: SWEET test finds signal at the transit period" in rv.metrics["sweet_msg"].split("\n")
    assert amp[1, 0] == pytest.approx(1500e-6, rel=0.05)
    _compare(rf, flat, c)
    assert max(rf.metrics[k] for k in V12.SNR_KEYS) < 3 and rf.verdict == "pass"
    assert rf.metrics["sweet_msg"] == V12.OK_LINE
    assert rv.flags == rf.flags == []  # like the reference: never a flag


@pytest.fixture(scope="module")
def golden():
    if not GOLDEN.exists():
        pytest.skip("tests/data/reference_v12.json not generated (benchmarks/reference_golden_v12.py)")
    return json.loads(GOLDEN.read_text())


def _matches_reference(r, want):
    assert (r.status, r.flags, r.notes, r.confidence) == (want["status"], want["flags"], want["notes"],
                                                          want["confidence"])  # fmt: skip
    assert list(r.metrics) == list(want["metrics"])
    for k, v in want["metrics"].items():
        assert r.metrics[k] == (pytest.approx(v, rel=RTOL) if k.startswith("snr_") else v), k
    raw = want["raw"]
    assert r.raw["inputs_summary"] == raw["inputs_summary"]
    assert r.raw["raw_metrics"]["msg"] == raw["raw_metrics"]["msg"]
    np.testing.assert_allclose(r.raw["raw_metrics"]["amp"], raw["raw_metrics"]["amp"], rtol=RTOL, atol=0)
    pd, gpd = r.raw["plot_data"], raw["plot_data"]
    assert list(pd) == [k for k in gpd if not k.endswith("_len")]
    for k in ("phase", "flux", "half_period_fit", "at_period_fit", "double_period_fit"):
        assert len(pd[k]) == gpd.get(f"{k}_len", len(gpd[k]))
        np.testing.assert_allclose(pd[k][: len(gpd[k])], gpd[k], rtol=0, atol=PLOT_ATOL, err_msg=k)


@pytest.mark.realdata
def test_toi5807_and_random_ephemerides_match_reference(toi5807_subsets, golden):
    ctx0, lcs = toi5807_subsets
    rows = golden["random"]
    eph = [Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"]) for r in rows]
    cands = [*ctx0.candidates, *eph]
    idx = [0, 1] + [0 if r["subset"] == "all_sectors" else 1 for r in rows]
    res = SPEC.run(VetContext.build(lcs, cands, lc_index=idx))
    gold = [golden["toi5807"]["all_sectors"], golden["toi5807"]["sectors_82_83"]] + [r["V12"] for r in rows]
    for r, want in zip(res, gold, strict=True):
        _matches_reference(r, want)
    m = res[0].metrics  # TOI-5807.01, all sectors: variability at P/2 and P
    assert m["sweet_msg"].split("\n") == list(V12.WARN_LINES[:2]) and res[0].verdict == "warn"
    assert res[0].raw["scatter"] == pytest.approx(2.385e-4, rel=1e-3)


def test_threshold_is_traced_and_applies():
    lc = _pair()[0]
    c = Candidate(3.1, 2001.0, 2.0)
    ctx = VetContext.build(list(_pair()), [c, Candidate(1.7, 2000.3, 1.0)], lc_index=[0, 1])
    first = SPEC.run(ctx)[0]
    assert first.verdict == "warn"
    size = V12._kernel._cache_size()
    again = SPEC.run(dataclasses.replace(ctx, options={"V12": {"threshold_sigma": 1e9}}))[0]
    assert V12._kernel._cache_size() == size
    assert again.verdict == "pass" and again.metrics["sweet_msg"] == V12.OK_LINE
    assert again.raw["raw_metrics"]["amp"] == first.raw["raw_metrics"]["amp"]
    _compare(again, lc, c, threshold=1e9)


@pytest.mark.parametrize(
    "opts, name",
    [({"threshold_sigma": -1.0}, "threshold_sigma"), ({"threshold_sigma": "x"}, "threshold_sigma"),
     ({"threshold": 3.0}, "threshold")],
)  # fmt: skip
def test_bad_options_raise_naming_them(opts, name):
    with pytest.raises(JaxvetInputError, match=name):
        SPEC.resolve_options(opts)


def test_zero_scatter_and_long_duration():
    """Constant flux (zero scatter: exovetter's NaN amplitudes, an OK message; jaxvet's verdict
    insufficient) and a duration of half the period (the engine's guard)."""
    t = 2000.0 + np.arange(500) / 144
    flat = LightCurve(t, np.ones_like(t), np.full_like(t, 1e-4))
    lc = _lc(5)
    cands = [Candidate(1.0, 2000.2, 2.0), Candidate(1.0, 2000.2, 12.0)]
    res = SPEC.run(VetContext.build([flat, lc], cands, lc_index=[0, 1]))
    r = res[0]
    assert r.status == "ok" and r.raw["scatter"] == 0.0 and r.verdict == "insufficient"
    assert all(np.isnan(r.metrics[k]) for k in V12.SNR_KEYS) and r.metrics["sweet_msg"] == V12.OK_LINE
    assert np.isnan(r.raw["raw_metrics"]["amp"]).all()  # exovetter's (3, 3) NaNs
    _compare(res[1], lc, cands[1])
    assert res[1].verdict == "insufficient"


def test_compute_tree_summary_metrics_and_all_checks():
    cands = [Candidate(3.0, 2000.5, 2.0), Candidate(5.0, 2001.0, 3.0)]
    ctx = VetContext.build(list(_pair()), cands, lc_index=[0, 1])
    tree = to_host(SPEC.compute(ctx, None))
    for m in SPEC.summary_metrics:
        assert np.shape(tree[m]) == (2,), m
    assert "V12" in resolve_checks("all")


def test_plot():
    import matplotlib.pyplot as plt

    from jaxvet.plotting import plot_check

    cands = [Candidate(3.1, 2000.8, 3.0), Candidate(1.0, 2000.2, 2.0)]
    r = SPEC.run(VetContext.build(list(_pair()), cands, lc_index=[0, 1]))[0]
    fig, ax = plt.subplots()
    assert plot_check(r, ax=ax) is ax and "V12" in ax.get_title()
    assert len(ax.get_lines()) == 5
    plt.close(fig)


def test_cli_checks_v12(tmp_path, capsys):
    """``jaxvet vet --checks V12 --option V12.threshold_sigma=...``: the JSON results equal
    ``vet()``'s."""
    from jaxvet.cli.main import main
    from jaxvet.data import stitch
    from jaxvet.engine.runner import vet

    lc = _pair()[0]
    p = tmp_path / "sector1_pdcsap.csv"
    cols = zip(lc.time.tolist(), lc.flux.tolist(), lc.flux_err.tolist(), strict=True)
    rows = "".join(f"{t!r},{f!r},{e!r},0\n" for t, f, e in cols)
    p.write_text("# sector: 1\n#\ntime_btjd,flux,flux_err,quality\n" + rows)
    argv = ["vet", str(p), "--period", "3.1", "--t0", "2000.8", "--duration-hours", "3",
            "--checks", "V12", "--option", "V12.threshold_sigma=4.5", "--json", "-", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)["candidates"][0]["checks"]["V12"]
    py = vet(stitch([lc]), [Candidate(3.1, 2000.8, 3.0)], ["V12"], options={"V12": {"threshold_sigma": 4.5}})
    want = py.results[0]["V12"]
    assert doc["metrics"] == want.metrics and doc["verdict"] == want.verdict and doc["status"] == "ok"
