"""Masking the other planets of a multi-planet system (``--mask``, ``--mask-others``, ``vet(mask=...)``).

Ephemerides measured on the files (BLS at the published periods, after masking the deep planets;
see docs/masking.md): Kepler-90 c P 8.719375 d, t0 261.5875 BKJD, 3.2 h; Kepler-90 g P 210.60697 d,
t0 357.543 BKJD, 10 h (c's epoch 11 falls on it); TOI-421 b P 5.19672 d, t0 1441.294 BTJD,
1.7 h; TOI-421 c (TOI-421.01) P 16.068919 d, t0 1440.1285 BTJD, 2.68 h.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import jaxvet
from jaxvet.cli.main import main
from jaxvet.errors import JaxvetInputError
from jaxvet.masking import (
    MASKED_QUALITY_BIT,
    TransitMask,
    apply_masks,
    as_masks,
    mask_lightcurves,
    parse_mask_option,
    transit_windows,
)
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve

BKJD_TO_BTJD = -2167.0
K90_C = (8.719375, 261.5875 + BKJD_TO_BTJD, 3.2)
K90_G = (210.60697, 357.543 + BKJD_TO_BTJD, 10.0)
TOI421_B = (5.19672, 1441.294, 1.7)
TOI421_C = (16.068919, 1440.1285, 2.68)


# --------------------------------------------------------------------------------------------
# the helper
# --------------------------------------------------------------------------------------------
def test_transit_windows_half_width_and_padding():
    t = np.array([9.0, 10.0 - 0.0626, 10.0 - 0.062, 10.0, 10.06, 12.0 + 0.07, 20.0])
    m = TransitMask(2.0, 10.0, 2.0)  # D = 2 h, pad 0.5: |t - tc| < 1.5 h = 0.0625 d
    assert m.half_width_days == pytest.approx(0.0625)
    np.testing.assert_array_equal(transit_windows(t, [m])[0], [False, False, True, True, True, False, True])
    wide = TransitMask(2.0, 10.0, 2.0, pad=1.0)  # 2 durations: |t - tc| < 2 h
    assert transit_windows(t, [wide])[0][[1, 5]].tolist() == [True, True]


def test_apply_masks_invalidates_cadences_and_keeps_the_data():
    lc = simulate_lightcurve(0, sectors=(1,))
    masked, n = apply_masks(lc, [(3.0, 2001.0, 4.0)])
    hit = transit_windows(lc.time, as_masks([(3.0, 2001.0, 4.0)]))[0]
    assert n == int((hit & lc.valid).sum()) > 0
    assert masked.n_valid == lc.n_valid - n
    assert not masked.valid[hit].any()
    np.testing.assert_array_equal(masked.flux, lc.flux)  # flux untouched: only validity changes
    assert (masked.quality[hit] & MASKED_QUALITY_BIT).all()
    assert masked.quality_bitmask & MASKED_QUALITY_BIT
    assert lc.mask_transits([(3.0, 2001.0, 4.0)]).n_valid == masked.n_valid


def test_mask_lightcurves_one_row_per_mask_set():
    lc = simulate_lightcurve(0, sectors=(1,))
    a = jaxvet.Candidate(2.0, 2001.0, 3.0, id="a")
    b = jaxvet.Candidate(5.0, 2002.0, 3.0, id="b")
    a2 = jaxvet.Candidate(2.0, 2001.0, 3.0, id="a-again")  # same ephemeris as a: not masked for a
    run = mask_lightcurves([lc], [a, b, a2], np.zeros(3, int), mask_others=True)
    assert run.lc_index.tolist() == [0, 1, 0]  # a and a-again both mask only b
    assert [[run.masks[k].id for k in ks] for ks in run.applied] == [["b"], ["a", "a-again"], ["b"]]
    assert len(run.lightcurves) == 2
    run = mask_lightcurves([lc], [a, b], np.zeros(2, int), [(7.0, 2003.0, 2.0)])
    assert run.lc_index.tolist() == [0, 0] and run.applied == [[0], [0]]


@pytest.mark.parametrize(
    "value, words",
    [
        ("8.7", "three numbers"),
        ("8.7,1,2,3", "three numbers"),
        ("a,b,c", "three numbers"),
        ("-1,100,3", "period"),
        ("0,100,3", "period"),
        ("8.7,nan,3", "t0"),
        ("8.7,100,0", "duration"),
        ("8.7,100,-2", "duration"),
    ],
)
def test_parse_mask_option_rejects_malformed_values(value, words):
    with pytest.raises(JaxvetInputError, match="--mask") as e:
        parse_mask_option(value)
    assert repr(value) in str(e.value) and words in str(e.value)


def test_python_mask_argument_rejects_bad_input():
    lc = simulate_lightcurve(0, sectors=(1,))
    c = jaxvet.Candidate(2.0, 2001.0, 3.0)
    with pytest.raises(JaxvetInputError, match=r"mask\[0\].*period_days"):
        jaxvet.vet(lc, [c], "V01", mask=[(-2.0, 2001.0, 3.0)])
    with pytest.raises(JaxvetInputError, match=r"mask\[0\] must be"):
        jaxvet.vet(lc, [c], "V01", mask=["2,2001,3"])
    with pytest.raises(JaxvetInputError, match="pad must be >= 0"):
        jaxvet.vet(lc, [c], "V01", mask=[(2.0, 2001.0, 3.0)], mask_pad=-1)


def test_cli_malformed_mask_exits_2_with_one_line(tmp_path, capsys):
    lc = simulate_lightcurve(0, sectors=(1,))
    path = tmp_path / "lc.csv"
    np.savetxt(
        path, np.c_[lc.time, lc.flux, lc.flux_err], delimiter=",", header="time,flux,flux_err", comments=""
    )
    rc = main(
        [
            "vet",
            str(path),
            "--period",
            "2",
            "--t0",
            "2001",
            "--duration-hours",
            "3",
            "--checks",
            "V01",
            "--mask",
            "8.7,100",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("jaxvet: error: --mask '8.7,100'")
    rc = main(
        [
            "vet",
            str(path),
            "--period",
            "2",
            "--t0",
            "2001",
            "--duration-hours",
            "3",
            "--mask-others",
            "--quiet",
        ]
    )
    assert rc == 2 and "--mask-others needs --candidates" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# synthetic truth: two planets with overlapping transits
# --------------------------------------------------------------------------------------------
def _two_planets():
    lc = simulate_lightcurve(3, sectors=(1,), cadence_min=10.0, white_ppm=250.0)
    a = (2.0, 2001.0, 3.0)  # planet A: 1000 ppm trapezoid, same depth on odd and even epochs
    b = (40.0, 2007.0, 5.0)  # planet B: 10 000 ppm, on A's epoch 3 (odd); its only transit here
    lc = inject_transits(lc, *a, 1000.0, seed=1)
    lc = inject_transits(lc, *b, 10000.0, seed=2)
    return lc, jaxvet.Candidate(*a, id="A"), jaxvet.Candidate(*b, id="B")


def test_synthetic_overlap_biases_odd_depth_and_mask_removes_the_bias():
    lc, a, b = _two_planets()
    # every run has two light-curve rows and two candidates, so all three share one compilation
    raw = jaxvet.vet([lc, lc], [a, b], "V01", lc_index=[0, 1])[0]["V01"].metrics
    masked_rep = jaxvet.vet([lc, lc], [a, b], "V01", lc_index=[0, 1], mask=[b])
    m = masked_rep[0]["V01"].metrics
    truth = 1000.0 * (1 + 0.7) / 2  # mean depth of the trapezoid (tflat/ttotal 0.7) over its box
    # without the mask B's deep transit sits in A's odd box: the odd depth is biased by more than
    # the depth itself, and the epoch-scatter red-noise floor inflates its error several-fold
    assert raw["depth_odd_box_ppm"] - truth > truth
    assert raw["depth_err_odd_box_ppm"] > 3 * m["depth_err_odd_box_ppm"]
    # with B masked both depths are the injected one within 3 sigma, odd = even
    for side in ("odd", "even"):
        assert abs(m[f"depth_{side}_box_ppm"] - truth) < 3 * m[f"depth_err_{side}_box_ppm"]
    assert m["oe_box_sigma"] < 2.0
    assert masked_rep[0]["V01"].status == "ok" and masked_rep[1]["V01"].status == "ok"
    rec = masked_rep.masking["candidates"][0]
    assert rec["masks"] == ["B"] and rec["n_masked_points"] == apply_masks(lc, [b])[1] > 0
    # --mask-others gives A the same numbers, and B is vetted with A masked
    both = jaxvet.vet(lc, [a, b], "V01", mask_others=True)
    assert both[0]["V01"].metrics["depth_odd_box_ppm"] == m["depth_odd_box_ppm"]
    assert both.masking["candidates"][1]["masks"] == ["A"]
    assert both.masking["n_rows"] == 2
    doc = json.loads(both.to_json(include_raw=False))
    assert doc["masking"]["mask_others"] is True and doc["candidates"][0]["masking"]["masks"] == ["B"]
    pytest.importorskip("jsonschema")
    from jaxvet.outputs import validate_report

    validate_report(doc)


def test_cli_mask_others_with_a_candidates_table(tmp_path, capsys):
    """``--mask-others`` on the two-planet light curve: A is vetted with B masked (unbiased odd
    depth, as through the Python API) and B with A masked."""
    lc, a, b = _two_planets()
    path = tmp_path / "lc.csv"
    np.savetxt(
        path,
        np.c_[lc.time, lc.flux, lc.flux_err],
        delimiter=",",
        header="time,flux,flux_err",
        comments="",
        fmt="%.17g",
    )
    table = tmp_path / "planets.csv"
    table.write_text(
        "id,period_days,t0_btjd,duration_hours\n"
        + "".join(f"{c.id},{c.period_days},{c.t0_btjd},{c.duration_hours}\n" for c in (a, b))
    )
    js = tmp_path / "out.json"
    assert (
        main(
            [
                "vet",
                str(path),
                "--candidates",
                str(table),
                "--mask-others",
                "--checks",
                "V01",
                "--json",
                str(js),
            ]
        )
        == 0
    )
    assert "masked the other candidates" in capsys.readouterr().err
    doc = json.loads(js.read_text())
    ca, cb = doc["candidates"]
    assert ca["masking"]["masks"] == ["B"] and cb["masking"]["masks"] == ["A"]
    api = jaxvet.vet(lc, [a, b], "V01", mask_others=True)
    assert ca["checks"]["V01"]["metrics"]["depth_odd_box_ppm"] == api[0]["V01"].metrics["depth_odd_box_ppm"]
    assert ca["masking"]["n_masked_points"] == api.masking["candidates"][0]["n_masked_points"] > 0


def test_campaign_masks_the_base_light_curve():
    lc, a, b = _two_planets()
    from jaxvet.campaigns.config import fingerprint

    kw = dict(n_injections=8, checks="V01", chunk_size=8, plots=False, progress=False, seed=1)
    masked = jaxvet.campaign.run_campaign(lc, mask=[a, b], **kw)
    cfg_plain = fingerprint(lc)
    cfg_masked = masked.meta["summary"]["config"]["lightcurves"][0]
    n_masked = apply_masks(lc, [a, b])[1]
    assert cfg_masked["n_valid"] == cfg_plain["n_valid"] - n_masked
    assert cfg_masked["sha256"] != cfg_plain["sha256"]
    assert len(masked) == 8


# --------------------------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_kepler90_c_with_g_masked(shared_data):
    """Kepler-90 c's epoch 11 falls on planet g's transit (10 h, ~3900 ppm): unmasked, c's odd box
    depth is 437 ppm against 113 ppm even (with inflated errors); with g masked odd = 96 ppm,
    oe_box_sigma 0.32, V01 passes; V21 warns, then passes (docs/masking.md)."""
    files = sorted(str(p) for p in (shared_data / "kic11442793").glob("*.fits"))
    if len(files) != 3:
        pytest.skip("Kepler-90 quarters not found")
    lc = jaxvet.read_lightcurves(files)
    c = jaxvet.Candidate(*K90_C, id="c")
    g = jaxvet.Candidate(*K90_G, id="g")
    raw = jaxvet.vet([lc, lc], [c, g], "V01,V21", lc_index=[0, 1])  # the shapes of the masked run
    rep = jaxvet.vet(lc, [c, g], "V01,V21", mask_others=True)
    r1, m1 = raw[0]["V01"].metrics, rep[0]["V01"].metrics
    # unmasked, g's transit makes c's odd depth ~4x its even one; V01's epoch-scatter red-noise
    # floor then inflates the box errors (oe_box_sigma 0.91), so the bias shows in the depths
    assert r1["depth_odd_box_ppm"] > 3 * r1["depth_even_box_ppm"]
    assert r1["depth_err_odd_box_ppm"] > 2 * m1["depth_err_odd_box_ppm"]
    assert abs(m1["depth_odd_box_ppm"] - m1["depth_even_box_ppm"]) < 40.0 and m1["oe_box_sigma"] < 1.0
    assert rep[0]["V01"].verdict == "pass"
    # V21: the epoch on g makes c's quarter-4 depth inconsistent (p = 1.4e-9); masked p = 0.19
    assert raw[0]["V21"].verdict == "warn" and rep[0]["V21"].verdict == "pass"
    assert rep.masking["candidates"][0] == {"masks": ["g"], "n_masked_points": 31}


@pytest.mark.realdata
def test_toi421_b_with_c_masked_cli(shared_data, tmp_path, capsys):
    """TOI-421 b: c's transits inflate V01's red noise 435.6 -> 53.5 ppm once masked (box errors
    261/202 -> 65/51 ppm)."""
    path = shared_data / "tic94986319" / "94986319_data.txt"
    if not path.exists():
        pytest.skip("TOI-421 data not found")
    common = [
        "vet",
        str(path),
        "--period",
        str(TOI421_B[0]),
        "--t0",
        str(TOI421_B[1]),
        "--duration-hours",
        str(TOI421_B[2]),
        "--checks",
        "V01",
        "--quiet",
    ]
    out = {}
    for name, extra in (("raw", []), ("masked", ["--mask", ",".join(str(x) for x in TOI421_C)])):
        js = tmp_path / f"{name}.json"
        assert main([*common, *extra, "--json", str(js)]) == 0
        out[name] = json.loads(js.read_text())
    capsys.readouterr()
    raw = out["raw"]["candidates"][0]["checks"]["V01"]["metrics"]
    m = out["masked"]["candidates"][0]["checks"]["V01"]["metrics"]
    assert raw["sigma_red_ppm"] > 400 and m["sigma_red_ppm"] < 60
    assert raw["depth_err_odd_box_ppm"] > 3.5 * m["depth_err_odd_box_ppm"]
    assert out["masked"]["masking"]["masks"][0]["period_days"] == TOI421_C[0]
    assert out["masked"]["candidates"][0]["masking"]["n_masked_points"] == 481
    assert "masking" not in out["raw"]


@pytest.mark.realdata
@pytest.mark.slow
def test_wasp47_e_v05_depth_with_b_and_d_masked(shared_data):
    """WASP-47 e (0.79 d, ~240 ppm): b (1.1 %) and d transits in its baseline and windows inflate
    V05's depth (394 +- 108 ppm); with b and d masked it is 244 +- 33 ppm (BLS: 245 ppm)."""
    path = shared_data / "epic206103150" / "ktwo206103150-c03_llc.fits"
    if not path.exists():
        pytest.skip("WASP-47 K2 C3 light curve not found")
    lc = jaxvet.read_lightcurve(path)
    e = jaxvet.Candidate(0.789592, -22.6078, 1.8, id="e")
    b = (4.1591287, 2145.817 + BKJD_TO_BTJD, 3.2)
    d = (9.03077, 2146.2707 + BKJD_TO_BTJD, 4.0)
    opts = {"V05": {"n_bootstrap": 20}}
    raw = jaxvet.vet(lc, [e], "V05", options=opts)[0]["V05"].metrics
    m = jaxvet.vet(lc, [e], "V05", options=opts, mask=[b, d])[0]["V05"].metrics
    assert raw["depth_ppm"] > 1.5 * m["depth_ppm"] and raw["depth_ppm_err"] > 3 * m["depth_ppm_err"]
    assert 200 < m["depth_ppm"] < 290
