"""The run-level signal record: NO_SIGNAL and NO_TRANSIT_ON_DATA flags, the no-transit warning."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import jaxvet
from jaxvet.data import Candidate
from jaxvet.engine.signal import NO_SIGNAL, NO_TRANSIT_ON_DATA, signal_records, transits_on_data
from jaxvet.errors import NoTransitWarning
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.conftest import TOI5807

P, T0, D_H = 3.3, 2001.7, 3.0


@pytest.fixture(scope="module")
def planet_lc():
    lc = simulate_lightcurve(3, sectors=(1,), white_ppm=400.0)
    return inject_transits(lc, P, T0, D_H, 1500.0)


def _oracle_depth(lc, c):
    """Plain-numpy reference depth estimate: median(out) - median(in), buffers 1 and 3."""
    t, f = lc.time[lc.valid], lc.flux[lc.valid]
    phase = ((t - c.t0_btjd) / c.period_days + 0.5) % 1.0 - 0.5
    q = c.duration_days / c.period_days
    f_in, f_out = f[np.abs(phase) < 0.5 * q], f[np.abs(phase) >= 1.5 * q]
    err = np.sqrt(np.std(f_in) ** 2 / f_in.size + np.std(f_out) ** 2 / f_out.size)
    return np.median(f_out) - np.median(f_in), err, f_in.size


def test_signal_record_matches_a_numpy_oracle_and_flags_only_the_empty_ephemerides(planet_lc):
    cands = [
        Candidate(P, T0, D_H, id="planet"),
        Candidate(P, T0 + 0.5 * P, D_H, id="anti-phase"),  # between the transits: nothing
        Candidate(2.17, 2000.9, 2.0, id="random"),
    ]
    rep = jaxvet.vet(planet_lc, cands, ["V03"])
    for i, c in enumerate(cands):
        d, e, n_in = _oracle_depth(planet_lc, c)
        s = rep.signal[i]
        assert s["depth_ppm"] == pytest.approx(d * 1e6, abs=1e-3)
        assert s["depth_err_ppm"] == pytest.approx(e * 1e6, abs=1e-3)
        assert s["n_in_transit"] == n_in
    assert rep.signal[0]["depth_ppm"] == pytest.approx(1500.0, rel=0.1)
    assert rep.signal[0]["snr"] > 20 and rep.flags(0) == []
    assert rep.signal[0]["n_transits_on_data"] == 8
    for i in (1, 2):
        assert rep.flags(i) == [NO_SIGNAL], rep.signal[i]
    doc = rep.to_dict(include_raw=False)
    assert doc["candidates"][1]["flags"] == [NO_SIGNAL]
    assert doc["candidates"][0]["signal"]["snr"] == rep.signal[0]["snr"]
    jsonschema = pytest.importorskip("jsonschema")
    from jaxvet.outputs.schema import load_schema

    jsonschema.validate(json.loads(rep.to_json(include_raw=False)), load_schema())
    table = rep.to_table()
    assert list(table["flags"]) == ["", NO_SIGNAL, NO_SIGNAL]
    assert table["signal_snr"][0] == rep.signal[0]["snr"]


def test_no_transit_on_the_data_warns_and_is_flagged(planet_lc):
    far = Candidate(400.0, 2200.0, 3.0, id="far")  # first transit 170 d after the data end
    with pytest.warns(NoTransitWarning, match="no transit of candidate far"):
        rep = jaxvet.vet(planet_lc, [Candidate(P, T0, D_H, id="planet"), far], ["V03"])
    assert rep.flags(1) == [NO_TRANSIT_ON_DATA, NO_SIGNAL]
    assert rep.signal[1]["depth_ppm"] is None and rep.signal[1]["n_transits_on_data"] == 0
    assert rep.flags(0) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoTransitWarning)  # a candidate on the data: no warning
        jaxvet.vet(planet_lc, [Candidate(P, T0, D_H)], ["V03"])
    rep = jaxvet.vet(planet_lc, [Candidate(P, T0, D_H)], ["V03"], estimate_depth=False)
    assert rep.signal is None and rep.flags(0) == [] and "signal" not in rep.to_dict()["candidates"][0]


def test_signal_records_rules():
    recs = signal_records([1e-3, -2e-4, 2e-4, 0.0], [1e-4, 1e-4, 1e-4, 1.0], [50, 50, 50, 0], [3, 3, 3, 0])
    assert [r["flags"] for r in recs] == [[], [NO_SIGNAL], [NO_SIGNAL], [NO_TRANSIT_ON_DATA, NO_SIGNAL]]
    assert recs[0]["snr"] == 10.0 and recs[3]["snr"] is None


def test_transits_on_data_counts_epochs_with_a_cadence():
    t = np.concatenate([np.arange(0.0, 10.0, 0.01), np.arange(20.0, 30.0, 0.01)])
    # P 5: epochs at 0, 5 (data), 10 (edge: within D/2 of 9.99), 15 (gap), 20, 25, 30 (edge)
    n = transits_on_data(t, [5.0, 5.0, 100.0], [0.0, 15.0, 50.0], [0.1, 0.1, 0.1])
    assert list(n) == [6, 6, 0]


@pytest.mark.realdata
def test_toi5807_anti_phase_has_no_signal(toi5807_lc):
    good = Candidate(id="TOI-5807.01", **TOI5807)
    anti = Candidate(TOI5807["period_days"], TOI5807["t0_btjd"] + 0.5 * TOI5807["period_days"],
                     TOI5807["duration_hours"], id="anti")
    rep = jaxvet.vet(toi5807_lc, [good, anti], ["V03"])
    assert rep.flags(0) == [] and rep.signal[0]["snr"] > 10
    assert rep.signal[0]["n_transits_on_data"] == 8
    assert NO_SIGNAL in rep.flags(1) and rep.signal[1]["snr"] < 3


def test_cli_prints_the_flag_once(tmp_path, planet_lc):
    path = tmp_path / "lc.csv"
    ok = planet_lc.valid
    np.savetxt(path, np.c_[planet_lc.time[ok], planet_lc.flux[ok], planet_lc.flux_err[ok]], delimiter=",",
               header="time,flux,flux_err", comments="")
    cmd = [sys.executable, "-m", "jaxvet", "vet", str(path), "--period", "400", "--t0", "2200",
           "--duration-hours", "3", "--checks", "V03", "--json", str(tmp_path / "o.json")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert out.stderr.count("no transit of candidate") == 1, out.stderr
    assert "NO_TRANSIT_ON_DATA, NO_SIGNAL (no in-transit points" in out.stdout  # the summary
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["candidates"][0]["flags"] == [NO_TRANSIT_ON_DATA, NO_SIGNAL]
