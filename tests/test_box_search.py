"""The batched box least squares search against astropy's BoxLeastSquares (fast method).

astropy is the oracle here only (never imported by jaxvet).  Tolerance: where astropy's best
box at a period does not cross phase 0, both sum the same points in the same order of bins,
so power, depth, duration and mid-transit time agree to float64 rounding (relative 1e-9 is
asserted; measured ~1e-15).  jaxvet wraps the phase exactly where astropy drops its last,
partial phase bin and lets no box run more than ``oversample`` bins past phase 1 (see
jaxvet/core/box_search.py), so at a few periods the two differ; the peaks tested here are
away from phase 0 and agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jaxvet.data import LightCurve
from jaxvet.errors import JaxvetInputError
from jaxvet.search import box_search, period_grid

astropy_bls = pytest.importorskip("astropy.timeseries")

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
KOI1003 = DATA / "tic122374527" / "Kepler_Q2.csv"


def _synthetic(seed=1, n=1500, period=3.3, t0=1.2, duration=0.12, depth=2e-3):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 27, n))
    err = 1e-3 * (1 + 0.2 * rng.random(n))
    y = 1 + err * rng.standard_normal(n)
    ph = (t - t0 + 0.5 * period) % period - 0.5 * period
    y[np.abs(ph) < duration / 2] -= depth
    return LightCurve(time=t + 2000.0, flux=y, flux_err=err, target="SYN")


def _astropy(lc, periods, durations, objective="likelihood"):
    v = lc.valid
    return astropy_bls.BoxLeastSquares(lc.time[v], lc.flux[v], lc.flux_err[v]).power(
        periods, durations, objective=objective
    )


@pytest.mark.parametrize("objective", ["likelihood", "snr"])
def test_matches_astropy_on_synthetic_data(objective):
    lc = _synthetic()
    periods = np.exp(np.linspace(np.log(1.0), np.log(10.0), 800))
    durations = np.array([0.05, 0.08, 0.12, 0.2])
    ours = box_search(lc, periods=periods, durations=durations, objective=objective)
    ref = _astropy(lc, periods, durations, objective)
    i = int(np.argmax(ref.power))
    assert ours["period_index"][0] == i and ours["period"][0] == periods[i]
    assert abs(ours["period"][0] - 3.3) < 0.01
    for ours_key, ref_val in (
        ("power", ref.power),
        ("depth", ref.depth),
        ("depth_snr", ref.depth_snr),
        ("duration", ref.duration),
        ("t0", ref.transit_time),
    ):
        np.testing.assert_allclose(ours[ours_key][0], ref_val[i], rtol=1e-9, err_msg=ours_key)
    # the whole periodogram: equal wherever astropy's best box does not cross phase 0
    rel = np.abs(ours.power[0] - ref.power) / np.abs(ref.power)
    assert np.mean(rel < 1e-9) > 0.9


def test_koi1003_strongest_peak_matches_astropy():
    """KOI-1003 (an eclipsing binary, Kepler Q2): the strongest box-search peak, as astropy finds it."""
    if not KOI1003.exists():
        pytest.skip("shared data not present")
    from jaxvet.io import read_lightcurves

    lc = read_lightcurves([str(KOI1003)])
    durations = np.array([1, 2, 4, 8]) / 24.0
    v = lc.valid
    periods = period_grid(float(np.ptp(lc.time[v])), 0.5, 12.0, durations[0], frequency_factor=10.0)
    ours = box_search(lc, periods=periods, durations=durations)
    ref = _astropy(lc, periods, durations)
    i = int(np.argmax(ref.power))
    assert ours["period_index"][0] == i
    np.testing.assert_allclose(ours["period"][0], 4.188, atol=0.01)  # measured 4.1881 d
    np.testing.assert_allclose(ours["power"][0], ref.power[i], rtol=1e-9)
    np.testing.assert_allclose(ours["depth"][0], ref.depth[i], rtol=1e-9)  # ~1.9 %
    np.testing.assert_allclose(ours["t0"][0], ref.transit_time[i], rtol=1e-12)
    assert ours["duration"][0] == ref.duration[i]


def test_rows_are_independent_of_the_batch_and_of_the_chunking(monkeypatch):
    a, b = _synthetic(1, n=600), _synthetic(2, n=500, period=2.1, t0=0.4)
    periods = np.exp(np.linspace(np.log(1.0), np.log(8.0), 120))
    durations = [0.06, 0.12]
    both = box_search([a, b], periods=periods, durations=durations)
    swapped = box_search([b, a], periods=periods, durations=durations)  # same shapes: one compilation
    np.testing.assert_array_equal(both.power, swapped.power[::-1])
    monkeypatch.setenv("JAXVET_MAX_ELEMENTS", "40000")  # many small row and period chunks
    small = box_search([a, b], periods=periods, durations=durations)
    np.testing.assert_array_equal(small.power, both.power)
    for k in ("period", "t0", "depth"):
        np.testing.assert_array_equal(small[k], both[k])


def test_default_grid_and_bad_inputs():
    lc = _synthetic()
    r = box_search(lc, durations=[0.1], min_period=2.0, max_period=5.0, frequency_factor=3.0)
    np.testing.assert_allclose([r.periods.min(), r.periods.max()], [2.0, 5.0], rtol=1e-12)
    assert abs(r["period"][0] - 3.3) < 0.01
    with pytest.raises(JaxvetInputError, match="shorter than the shortest period"):
        box_search(lc, periods=[0.5, 1.0], durations=[0.6])
    with pytest.raises(JaxvetInputError, match="objective"):
        box_search(lc, periods=[2.0], durations=[0.1], objective="chi2")
    with pytest.raises(JaxvetInputError, match="periods"):
        box_search(lc, periods=[-1.0, 2.0], durations=[0.1])
    with pytest.raises(JaxvetInputError, match="lc must be"):
        box_search(np.zeros(3), periods=[2.0], durations=[0.1])
    g = period_grid(27.0, 1.0, 10.0, 0.05, max_periods=100)
    assert g.size == 100 and np.isclose(g[0], 10.0) and np.isclose(g[-1], 1.0)


def test_search_command_prints_the_koi1003_peak(tmp_path, capsys):
    if not KOI1003.exists():
        pytest.skip("shared data not present")
    import json

    from jaxvet.cli.main import main

    out = tmp_path / "peak.json"
    args = [str(KOI1003), "--min-period", "0.5", "--max-period", "12", "--frequency-factor", "10"]
    assert main(["search", *args, "--json", str(out)]) == 0
    assert "P = 4.19" in capsys.readouterr().out
    peak = json.loads(out.read_text())
    assert abs(peak["period_days"] - 4.188) < 0.01 and peak["duration_hours"] == 8.0
    assert main(["search", str(KOI1003), "--durations-hours", "1,x"]) == 2
