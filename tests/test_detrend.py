"""Detrending with transits masked (jaxvet.core.detrend, jaxvet.detrending) and the
out-of-transit variability flag (jaxvet.core.variability): numpy oracle, wotan golden trends,
a synthetic spotted star with a transit, KOI-1003 and WASP-47 b, the CLI and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import jaxvet
from jaxvet.cli.main import main
from jaxvet.core import detrend as kernels
from jaxvet.data import LightCurveBatch
from jaxvet.detrending import (
    VARIABILITY_FLAG,
    DetrendOptions,
    _variability_rows,
    as_detrend_options,
    assess_variability,
    detrend_lightcurves,
    flag_results,
)
from jaxvet.errors import JaxvetInputError
from jaxvet.outputs.schema import validate_report
from jaxvet.results import CheckResult
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve

GOLDEN = Path(__file__).parent / "data" / "detrend_wotan_golden.npz"
KOI1003 = jaxvet.Candidate(8.36, -1994.734, 6.0, id="KOI-1003")
BKJD_TO_BTJD = -2167.0
WASP47B = jaxvet.Candidate(4.1591287, 2145.817 + BKJD_TO_BTJD, 3.2, id="WASP-47 b")


# ----------------------------------------------------------------------------------------------
# the kernel against a plain-numpy oracle written from the definition
# ----------------------------------------------------------------------------------------------
def _oracle(t, f, use, window, btol, method, cval=5.0, ftol=1e-6):
    """Trend of one row: biweight (median start, fixed MAD, plain reweighting steps until a step
    moves the centre by <= ftol * MAD) or median of the usable points of the same segment in
    [t_i - w/2, t_i + w/2)."""
    seg = np.concatenate([[0], np.cumsum(np.diff(t) > btol)])
    out = np.full(t.size, np.nan)
    for i in range(t.size):
        x = f[(t >= t[i] - window / 2) & (t < t[i] + window / 2) & (seg == seg[i]) & use]
        if x.size == 0:
            continue
        med = np.median(x)
        mad = np.median(np.abs(x - med))
        if method == "median" or mad == 0:
            out[i] = med
            continue
        c = med
        for _ in range(1000):
            d = x - c
            u = d / (cval * mad)
            w = np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
            c1 = c + np.sum(w * d) / np.sum(w)
            done = abs(c1 - c) <= ftol * mad
            c = c1
            if done:
                break
        out[i] = c
    return out


def _padded(rows, n):
    """(R, n) time/flux/valid/use host arrays from rows of (t, f, use)."""
    r = len(rows)
    time, flux = np.full((r, n), 1e9), np.ones((r, n))
    valid, use = np.zeros((r, n), bool), np.zeros((r, n), bool)
    for k, (t, f, u) in enumerate(rows):
        time[k, : t.size], flux[k, : t.size], valid[k, : t.size], use[k, : t.size] = t, f, True, u
    return time, flux, valid, use


def _trend(rows, windows, btols, method, n=512, width=None):
    time, flux, valid, use = _padded(rows, n)
    width = width or max(
        kernels.window_width(t, np.ones(t.size, bool), w) for (t, _, _), w in zip(rows, windows, strict=True)
    )
    block = kernels.block_size(width, len(rows) * n, 1 << 14)
    tr, cnt = kernels.sliding_trend(
        jnp.asarray(time),
        jnp.asarray(flux),
        jnp.asarray(valid),
        jnp.asarray(use),
        jnp.asarray(windows),
        jnp.asarray(btols),
        method=method,
        width=width,
        block=block,
    )
    return np.asarray(tr), np.asarray(cnt)


def _random_rows(seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for n in (400, 300):
        t = np.sort(rng.uniform(0.0, 8.0, n))
        t[n // 2 :] += 0.9  # a gap longer than the break tolerance
        f = 1.0 + 0.01 * np.sin(2.0 * t) + 1e-3 * rng.standard_normal(n)
        f[rng.random(n) < 0.05] += 0.02  # outliers
        f[:5] = 1.0  # a few equal values
        rows.append((t, f, rng.random(n) > 0.15))
    return rows


@pytest.mark.parametrize("method", ["biweight", "median"])
def test_sliding_trend_matches_numpy_oracle(method):
    rows = _random_rows()
    windows, btols = np.array([0.7, 0.45]), np.array([0.35, 0.3])
    tr, cnt = _trend(rows, windows, btols, method)
    for k, (t, f, u) in enumerate(rows):
        want = _oracle(t, f, u, windows[k], btols[k], method)
        np.testing.assert_allclose(tr[k, : t.size], want, rtol=0, atol=1e-12)
        assert np.all(np.isnan(tr[k, t.size :])) and np.all(cnt[k, t.size :] == 0)


def test_trend_never_reaches_across_a_gap():
    """A short segment at level 2 after a 0.5-d gap behind a long one at level 1: with break
    tolerance 0.2 d each keeps its own level; a tolerance above the gap lets the long segment's
    points outvote the short one's in a 3-d window."""
    t = np.concatenate([np.arange(0.0, 3.0, 0.02), np.arange(3.5, 3.8, 0.02)])
    f = np.where(t < 3.2, 1.0, 2.0)
    row = [(t, f, np.ones(t.size, bool))]
    for method in ("median", "biweight"):
        split, _ = _trend(row, np.array([3.0]), np.array([0.2]), method)
        np.testing.assert_array_equal(split[0, : t.size], f)
        joined, _ = _trend(row, np.array([3.0]), np.array([1.0]), method)
        assert np.all(joined[0, : t.size][t > 3.2] == 1.0)


def test_window_without_usable_points_is_nan():
    t = np.linspace(0.0, 2.0, 101)
    use = np.abs(t - 1.0) > 0.3  # a masked stretch longer than the window
    tr, cnt = _trend([(t, np.ones_like(t), use)], np.array([0.2]), np.array([1.0]), "biweight")
    assert np.all(np.isnan(tr[0, :101][np.abs(t - 1.0) < 0.19])) and np.all(
        cnt[0, :101][np.abs(t - 1.0) < 0.19] == 0
    )
    assert np.all(tr[0, :101][np.abs(t - 1.0) > 0.41] == 1.0)


# ----------------------------------------------------------------------------------------------
# wotan golden trends (benchmarks/detrend_golden.py)
# ----------------------------------------------------------------------------------------------
def test_trend_matches_wotan_golden():
    """jaxvet's trend vs wotan's ``flatten(..., edge_cutoff=0, break_tolerance=...)``: both stop
    the biweight once a step moves the centre by <= 1e-6 MAD (wotan with Aitken-extrapolated
    steps, jaxvet with plain steps), so they agree to ~1e-6 MAD / (1 - convergence rate) of the
    same fixed point: MADs here are <= 1e-2 of the flux, so 1e-7 relative is a bound with a
    margin (measured <= 4e-9).  The median is exact.  One padded shape for every case (one
    program per method)."""
    g = np.load(GOLDEN)
    meta = json.loads(str(g["meta"]))["cases"]
    for name, m in meta.items():
        t, f, mask, want = (g[f"{name}.{k}"] for k in ("time", "flux", "mask", "trend"))
        tr, _ = _trend(
            [(t, f, ~mask)],
            np.array([m["window"]]),
            np.array([m["break_tolerance"]]),
            m["method"],
            n=4096,
            width=512,
        )
        got = tr[0, : t.size]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        rtol = 0.0 if m["method"] == "median" else 1e-7
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-15, err_msg=name)


# ----------------------------------------------------------------------------------------------
# host side: rows, options, no recompilation
# ----------------------------------------------------------------------------------------------
def _spotted(variability_ppm=10000.0, seed=3):
    lc = simulate_lightcurve(
        seed,
        sectors=(1,),
        cadence_min=10.0,
        white_ppm=300.0,
        variability_ppm=variability_ppm,
        variability_period_days=3.0,
    )
    return inject_transits(lc, 2.9, 2001.3, 3.0, 1500.0)


SPOT_CAND = jaxvet.Candidate(2.9, 2001.3, 3.0, id="spotted")


def test_rows_shared_by_candidates_with_one_ephemeris():
    lc = _spotted()
    other = jaxvet.Candidate(4.1, 2000.7, 2.0, id="other")
    twin = jaxvet.Candidate(2.9, 2001.3, 3.0, id="twin")
    run = detrend_lightcurves([lc], [SPOT_CAND, other, twin], [0, 0, 0], DetrendOptions())
    assert list(run.lc_index) == [0, 1, 0] and len(run.lightcurves) == 2
    rec = run.candidates[0]
    assert rec["window_days"] == 0.375 and rec["break_tolerance_days"] == 0.1875
    assert run.candidates[1]["window_days"] == 0.25  # 3 x 2 h < 0.25 d
    # the own transits (1.5 D wide) are out of the trend, everything else in it
    ph = np.remainder(lc.time - 2001.3 + 1.45, 2.9) - 1.45
    assert rec["n_transit_points"] == int((np.abs(ph) < 0.5 * 0.125 * 1.5).sum())
    assert rec["n_trend_points"] + rec["n_transit_points"] == lc.n_valid and rec["n_no_trend"] == 0
    det = run.lightcurves[0]
    oot = np.abs(ph) > 0.2
    assert abs(np.median(det.flux[oot]) - 1.0) < 1e-4 and np.std(det.flux[oot]) < 400e-6


def test_repeated_runs_and_traced_options_do_not_recompile():
    lc = _spotted()
    detrend_lightcurves([lc], [SPOT_CAND], [0], DetrendOptions())
    before = kernels.sliding_trend._cache_size()
    for opts in (
        {"window_days": 0.4},
        {"cval": 6.0, "max_iter": 20, "ftol": 1e-8},
        {"break_tolerance_days": 0.3},
    ):
        detrend_lightcurves([lc], [SPOT_CAND], [0], DetrendOptions(**opts))
    assert kernels.sliding_trend._cache_size() == before
    lcb = LightCurveBatch.from_lightcurves([lc])
    assess_variability(lcb, [SPOT_CAND], [0], [None], threshold=0.3)
    n = _variability_rows._cache_size()
    recs = [assess_variability(lcb, [SPOT_CAND], [0], [None], threshold=x)[0] for x in (1.0, 100.0)]
    assert _variability_rows._cache_size() == n
    assert recs[0]["flag"] and not recs[1]["flag"]


@pytest.mark.parametrize(
    "bad, match",
    [
        ("spline", "method must be one of .*got 'spline'"),
        (
            {"method": "biweight", "window_days": -1.0},
            "window_days must be None or a positive number, got -1.0",
        ),
        ({"windw_days": 1.0}, r"unknown detrend option\(s\) \['windw_days'\]"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1, got 0"),
        (3, "detrend must be None, one of .*got 3"),
    ],
)
def test_bad_detrend_values_raise_naming_them(bad, match):
    with pytest.raises(JaxvetInputError, match=match):
        as_detrend_options(bad)
    with pytest.raises(JaxvetInputError, match=match):
        jaxvet.vet(_tiny(), jaxvet.Candidate(2.0, 2000.5, 2.0), "V03", detrend=bad)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "high", True])
def test_bad_variability_threshold_raises(bad):
    with pytest.raises(JaxvetInputError, match="variability_threshold must be a positive number or None"):
        jaxvet.vet(_tiny(), jaxvet.Candidate(2.0, 2000.5, 2.0), "V03", variability_threshold=bad)


def _tiny():
    t = np.linspace(2000.0, 2005.0, 200)
    return jaxvet.LightCurve(t, np.ones_like(t), np.full_like(t, 1e-3))


# ----------------------------------------------------------------------------------------------
# synthetic spotted star with a transit (known truth)
# ----------------------------------------------------------------------------------------------
def test_spotted_star_flagged_raw_and_depth_recovered_detrended():
    """A 1 % sinusoid (P 3 d) on a star with a 1500 ppm, 3 h transit every 2.9 d: as given, the
    variability is ~7x the depth and V04 carries OOT_VARIABILITY (its depth is 2640 +- 1525 ppm);
    detrended, V04's mean box depth agrees with the same transit on the star without spots
    (same noise) within its error (measured 1299 +- 165 vs 1393 +- 25 ppm: the error now holds
    the trend's residual at the masked transits) and the flag is gone."""
    flat = jaxvet.vet(_spotted(0.0), SPOT_CAND, "V04")
    raw = jaxvet.vet(_spotted(), SPOT_CAND, "V04")
    det = jaxvet.vet(_spotted(), SPOT_CAND, "V04", detrend="biweight")
    v = raw.variability[0]
    assert v["flag"] and v["ratio"] > 3 and v["depth_source"] == "measured" and not v["detrended"]
    assert VARIABILITY_FLAG in raw[0]["V04"].flags
    assert any("--detrend biweight" in n for n in raw[0]["V04"].notes)
    assert VARIABILITY_FLAG not in det[0]["V04"].flags and VARIABILITY_FLAG not in flat[0]["V04"].flags
    assert not det.variability[0]["flag"] and det.variability[0]["detrended"]
    assert det.variability[0]["ratio"] < 0.4 * 0.5 and flat.variability[0]["ratio"] < 0.05
    truth, got, bad = flat[0]["V04"].metrics, det[0]["V04"].metrics, raw[0]["V04"].metrics
    err = np.hypot(truth["depth_err_mean_ppm"], got["depth_err_mean_ppm"])
    assert abs(got["depth_mean_ppm"] - truth["depth_mean_ppm"]) < 2 * err
    assert got["depth_err_mean_ppm"] < 0.2 * bad["depth_err_mean_ppm"]
    t = det.to_table()
    assert t["detrend_window_days"][0] == 0.375 and not t["variability_flag"][0]
    assert raw.to_table()["variability_flag"][0] and "detrend_window_days" not in raw.to_table().colnames
    doc = det.to_dict()
    validate_report(doc)
    assert doc["detrending"]["method"] == "biweight" and doc["detrending"]["n_rows"] == 1
    assert doc["candidates"][0]["detrending"]["window_days"] == 0.375


def test_flag_goes_on_v02_and_v04_results_only():
    res = {cid: CheckResult(cid, cid) for cid in ("V01", "V02", "V04")}
    res["V05"] = CheckResult("V05", "V05", status="skipped")
    rec = {"flag": True, "detrended": True, "sigma_var_ppm": 900.0, "ratio": 0.9, "threshold": 0.4}
    flag_results([res, {"V02": CheckResult("V02", "V02")}], [rec, {**rec, "flag": False}])
    assert [cid for cid, r in res.items() if VARIABILITY_FLAG in r.flags] == ["V02", "V04"]
    assert "after detrending" in res["V02"].notes[0] and "--detrend" not in res["V02"].notes[0]


def test_given_depth_is_used_for_the_ratio():
    lcb = LightCurveBatch.from_lightcurves([_spotted()])
    a, b = assess_variability(lcb, [SPOT_CAND, SPOT_CAND], [0, 0], [None, 150000.0])
    assert a["depth_source"] == "measured" and b["depth_source"] == "given" and b["depth_ppm"] == 150000.0
    assert a["sigma_var_ppm"] == b["sigma_var_ppm"] and a["flag"] and not b["flag"]


# ----------------------------------------------------------------------------------------------
# real data
# ----------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_koi1003_secondary_is_the_spot_wave(shared_data):
    """KOI-1003 (spotted EB, Kepler Q2): the reference V02 statistic reads the spot wave at phase
    0.5 as a 16755 ppm, 11.7 sigma secondary and the out-of-transit variability is ~0.5 x the
    2.5-3 % eclipse (flagged); with the eclipses masked from a biweight trend it is a few
    hundred ppm (measured 261.9 ppm, 1.37 sigma) and the flag is gone."""
    path = shared_data / "tic122374527" / "Kepler_Q2.csv"
    if not path.exists():
        pytest.skip("KOI-1003 light curve not found")
    lc = jaxvet.read_lightcurve(path)
    raw = jaxvet.vet(lc, KOI1003, "V02")
    det = jaxvet.vet(lc, KOI1003, "V02", detrend="biweight")
    m0, m1 = raw[0]["V02"].metrics, det[0]["V02"].metrics
    assert m0["secondary_depth_ppm"] == 16755.4 and VARIABILITY_FLAG in raw[0]["V02"].flags
    assert abs(m1["secondary_depth_ppm"]) < 1000 and abs(m1["secondary_depth_sigma"]) < 3
    assert VARIABILITY_FLAG not in det[0]["V02"].flags
    assert 0.4 < raw.variability[0]["ratio"] < 0.6 and det.variability[0]["ratio"] < 0.05
    rec = det.detrending["candidates"][0]
    assert rec["window_days"] == 0.75 and rec["n_transit_points"] == 54 and rec["n_no_trend"] == 0


@pytest.mark.realdata
@pytest.mark.slow
def test_wasp47b_detrending_whitens_the_baseline_not_the_epoch_depths(shared_data):
    """WASP-47 b (K2 C3): the biweight removes the correlated part of the out-of-transit
    residuals in V04's windows (sigma_red 122 ppm -> 0) and shrinks their white part, but the
    per-epoch box depths (10450-11890 ppm) keep their spread, so the box chi-square stays ~3.3
    (3.26 -> 3.33): that scatter is in the transits, not in the baseline."""
    path = shared_data / "epic206103150" / "ktwo206103150-c03_llc.fits"
    if not path.exists():
        pytest.skip("WASP-47 K2 C3 light curve not found")
    lc = jaxvet.read_lightcurve(path)
    raw = jaxvet.vet(lc, WASP47B, "V04")[0]["V04"].metrics
    det = jaxvet.vet(lc, WASP47B, "V04", detrend="biweight")[0]["V04"].metrics
    assert raw["sigma_red_ppm"] > 100 and det["sigma_red_ppm"] < 0.2 * raw["sigma_red_ppm"]
    assert det["sigma_white_ppm"] < raw["sigma_white_ppm"]
    assert abs(det["depth_mean_ppm"] / raw["depth_mean_ppm"] - 1) < 0.02
    assert abs(det["chi2_box_reduced"] / raw["chi2_box_reduced"] - 1) < 0.1


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
def _csv(tmp_path, lc):
    p = tmp_path / "spotted.csv"
    np.savetxt(
        p,
        np.column_stack([lc.time, lc.flux, lc.flux_err]),
        delimiter=",",
        header="time,flux,flux_err",
        comments="",
    )
    return str(p)


def test_cli_detrend_records_and_validates(tmp_path, capsys):
    path = _csv(tmp_path, _spotted())
    common = [path, "--period", "2.9", "--t0", "2001.3", "--duration-hours", "3", "--checks", "V03"]
    js = tmp_path / "out.json"
    assert main(["vet", *common, "--detrend", "biweight", "--detrend-window", "0.5", "--json", str(js)]) == 0
    err = capsys.readouterr().err
    assert "detrended (biweight, window 0.5 d): 1 light-curve row(s)" in err
    doc = json.loads(js.read_text())
    validate_report(doc)
    assert (
        doc["detrending"]["window_days"] == 0.5 and doc["candidates"][0]["detrending"]["window_days"] == 0.5
    )
    assert doc["candidates"][0]["variability"]["detrended"] is True
    assert main(["vet", *common, "--json", str(js)]) == 0
    err = capsys.readouterr().err
    assert "OOT_VARIABILITY" in err and "consider --detrend biweight" in err
    doc = json.loads(js.read_text())
    assert "detrending" not in doc and doc["candidates"][0]["variability"]["flag"] is True
    for extra, msg in (
        (["--detrend-window", "0.5"], "--detrend-window 0.5 needs --detrend"),
        (["--detrend", "median", "--detrend-window", "-2"], "--detrend-window must be a positive"),
        (["--variability-threshold", "0"], "variability_threshold must be a positive"),
    ):
        assert main(["vet", *common, *extra]) == 2
        assert msg in capsys.readouterr().err


def test_detrending_runs_after_masking():
    """``mask`` first: the masked cadences stay invalid and enter no trend; the rest is split into
    the trend's points and the candidate's own (masked-from-the-trend) transit points."""
    lc = _spotted()
    other = (4.1, 2000.7, 2.0)
    rep = jaxvet.vet(lc, SPOT_CAND, "V03", mask=[other], detrend="biweight")
    n_masked = rep.masking["candidates"][0]["n_masked_points"]
    rec = rep.detrending["candidates"][0]
    assert n_masked > 0 and rec["n_trend_points"] + rec["n_transit_points"] == lc.n_valid - n_masked
    validate_report(rep.to_dict())
