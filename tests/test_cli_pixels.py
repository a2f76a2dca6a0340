"""`jaxvet vet --tpf` with the target's sky position (--ra/--dec) and the npz --allow-pickle opt-in."""

import json

import pytest

from jaxvet.cli.main import main
from jaxvet.synthetic.lightcurves import simulate_lightcurve
from tests.conftest import TOI5807

TOI5807_RADEC = (308.5672083333333, 43.36068888888889)  # PROVENANCE.md
CAND = [
    "--period",
    repr(TOI5807["period_days"]),
    "--t0",
    repr(TOI5807["t0_btjd"]),
    "--duration-hours",
    repr(TOI5807["duration_hours"]),
]
RADEC = ["--ra", repr(TOI5807_RADEC[0]), "--dec", repr(TOI5807_RADEC[1])]


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory):
    """One simulated sector in the shared `sector*_pdcsap.csv` format."""
    p = tmp_path_factory.mktemp("lc") / "sector30_pdcsap.csv"
    lc = simulate_lightcurve(11, sectors=(30,))
    with p.open("w") as fh:
        fh.write("# tic_id: 1\n# sector: 30\n#\ntime_btjd,flux,flux_err,quality\n")
        for t, f, e in zip(lc.time, lc.flux, lc.flux_err, strict=True):
            fh.write(f"{float(t)!r},{float(f)!r},{float(e)!r},0\n")
    return str(p)


# ------------------------------------------------------------------ --ra/--dec validation
@pytest.mark.parametrize(
    "extra,needles",
    [
        (["--ra", "308.5"], ["--ra", "308.5", "without --dec"]),
        (["--dec", "43.4"], ["--dec", "43.4", "without --ra"]),
        (["--ra", "360", "--dec", "0"], ["--ra", "[0, 360)", "360.0"]),
        (["--ra", "-0.5", "--dec", "0"], ["--ra", "-0.5"]),
        (["--ra", "nan", "--dec", "0"], ["--ra", "nan"]),
        (["--ra", "10", "--dec", "90.5"], ["--dec", "[-90, 90]", "90.5"]),
        (["--ra", "10", "--dec", "-91"], ["--dec", "-91.0"]),
    ],
)
def test_ra_dec_validation_exit_2(sim_csv, capsys, tmp_path, extra, needles):
    # --tpf names a missing file: the options are checked before any file is read
    rc = main(["vet", sim_csv, *CAND, "--tpf", str(tmp_path / "absent.npz"), "--checks", "V09", *extra])
    _, err = capsys.readouterr()
    assert rc == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("jaxvet: error:"), err
    for needle in needles:
        assert needle in last, (needle, last)
    assert "absent.npz" not in err and "Traceback" not in err


def test_ra_not_a_number_is_an_argparse_error(sim_csv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["vet", sim_csv, *CAND, "--ra", "abc", "--dec", "1"])
    assert exc.value.code == 2
    assert "--ra" in capsys.readouterr().err


def test_options_reach_read_tpf(sim_csv, capsys, monkeypatch, tmp_path):
    """--ra/--dec/--allow-pickle are passed to every stamp reader (FITS: they override RA_OBJ/DEC_OBJ)."""
    import jaxvet.pixels
    from jaxvet.errors import JaxvetInputError

    seen = []

    def fake_read_tpf(path, sector=None, allow_pickle=False, *, ra_deg=None, dec_deg=None):
        seen.append((str(path), allow_pickle, ra_deg, dec_deg))
        raise JaxvetInputError(f"{path}: stop here")

    monkeypatch.setattr(jaxvet.pixels, "read_tpf", fake_read_tpf)
    a = str(tmp_path / "a.fits")
    assert main(["vet", sim_csv, *CAND, "--tpf", a, "--ra", "12.5", "--dec", "-30", "--allow-pickle"]) == 2
    assert seen == [(a, True, 12.5, -30.0)]
    assert main(["vet", sim_csv, *CAND, "--tpf", a]) == 2
    assert seen[-1] == (a, False, None, None)  # defaults: no unpickling, header / no position
    capsys.readouterr()


def test_explicit_position_overrides_fits_header(shared_data):
    from jaxvet.pixels import read_tpf, stamp_target_pixel

    p = shared_data / "tic261136679" / "tess-s0001-4-2_84.291190_-80.469170_6x6_astrocut.fits"
    if not p.exists():
        pytest.skip(f"{p} not found")
    assert read_tpf(p).ra_deg == pytest.approx(84.29119)  # RA_OBJ by default
    s = read_tpf(p, ra_deg=84.3, dec_deg=-80.47)
    assert (s.ra_deg, s.dec_deg) == (84.3, -80.47)
    assert stamp_target_pixel(s) != stamp_target_pixel(read_tpf(p))


# ------------------------------------------------------------------ real data: TOI-5807 sector 83
@pytest.fixture(scope="module")
def s83_files(toi5807_dir):
    lc, tpf = toi5807_dir / "sector83_pdcsap.csv", toi5807_dir / "sector83_tpf.npz"
    if not tpf.exists():
        pytest.skip(f"{tpf} not found")
    return str(lc), str(tpf)


_RUNS: dict = {}


def _v09(s83_files, capsys, *extra):
    """V09 on TOI-5807 sector 83 through the CLI (JSON to stdout); one run per option set."""
    if extra not in _RUNS:
        lc, tpf = s83_files
        rc = main(["vet", lc, "--tpf", tpf, *CAND, "--checks", "V09", *extra, "--json", "-"])
        out, err = capsys.readouterr()
        assert rc == 0, err
        _RUNS[extra] = (json.loads(out)["candidates"][0]["checks"]["V09"], err)
    return _RUNS[extra]


@pytest.mark.realdata
def test_toi5807_v09_target_from_wcs_with_ra_dec_and_allow_pickle(s83_files, capsys):
    v09, err = _v09(s83_files, capsys, *RADEC, "--allow-pickle")
    m = v09["metrics"]
    assert v09["status"] == "ok"
    assert m["target_position_source"] == "wcs+oot_centroid"
    # the WCS puts TOI-5807 in the bright core of the 13 x 11 stamp (as read_tpf + stamp_target_pixel)
    assert 5.0 < m["target_wcs_row"] < 6.3 and 4.0 < m["target_wcs_col"] < 5.2
    # the measured target position is the out-of-transit centroid next to that pixel
    assert abs(m["target_position_row"] - m["target_wcs_row"]) < 1.0
    assert abs(m["target_position_col"] - m["target_wcs_col"]) < 1.0
    assert not any("wcs unavailable" in n for n in v09["notes"])
    assert "note:" not in err  # position and WCS both available: no hint


@pytest.mark.realdata
def test_toi5807_v09_without_allow_pickle_falls_back(s83_files, capsys):
    plain, _ = _v09(s83_files, capsys)  # no --ra/--dec, no --allow-pickle: the behaviour before
    v09, err = _v09(s83_files, capsys, *RADEC)
    m = v09["metrics"]
    assert v09["status"] == "ok" and v09["verdict"] == plain["verdict"]
    assert m["target_position_source"] == "oot_centroid"
    assert m["target_wcs_row"] is None and m["target_wcs_col"] is None
    assert any(n.startswith("wcs unavailable: pickled header not loaded") for n in v09["notes"])
    assert "--allow-pickle" in err  # the CLI says why --ra/--dec were not used
    assert m == plain["metrics"]  # identical to a run without --ra/--dec
    assert v09["flags"] == plain["flags"]
    # with the WCS the target estimate lands on the same bright pixels here
    wcs, _ = _v09(s83_files, capsys, *RADEC, "--allow-pickle")
    for k in ("target_position_row", "target_position_col"):
        assert wcs["metrics"][k] == pytest.approx(m[k], abs=1.0)
