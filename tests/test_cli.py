"""The CLI contract: `jaxvet vet` JSON shape, --candidates tables, errors without tracebacks."""

import json
import subprocess
import sys

import numpy as np
import pytest

from jaxvet.cli.main import main
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve


@pytest.fixture(scope="module")
def sim_csvs(tmp_path_factory):
    """Two simulated sectors written in the shared `sector*_pdcsap.csv` format."""
    d = tmp_path_factory.mktemp("lc")
    lc = inject_transits(simulate_lightcurve(11, sectors=(30, 31)), 3.1, 2001.0, 2.5, 2500.0, seed=3)
    paths = []
    for s in (30, 31):
        sel = lc.sector == s
        p = d / f"sector{s}_pdcsap.csv"
        with p.open("w") as fh:
            fh.write(f"# tic_id: 1\n# sector: {s}\n#\ntime_btjd,flux,flux_err,quality\n")
            for t, f, e in zip(lc.time[sel], lc.flux[sel], lc.flux_err[sel], strict=True):
                fh.write(f"{float(t)!r},{float(f)!r},{float(e)!r},0\n")
        paths.append(str(p))
    return paths


def test_vet_single_candidate_json_stdout(sim_csvs, capsys, tmp_path):
    rc = main(
        [
            "vet",
            *sim_csvs,
            "--period",
            "3.1",
            "--t0",
            "2001.0",
            "--duration-hours",
            "2.5",
            "--checks",
            "V21",
            "--json",
            "-",
            "--plots",
            str(tmp_path / "plots"),
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out)  # stdout is only JSON
    assert doc["jaxvet_version"]
    cand = doc["candidates"][0]
    assert cand["period_days"] == 3.1 and cand["duration_hours"] == 2.5
    v21 = cand["checks"]["V21"]
    assert v21["status"] == "ok" and v21["metrics"]["n_sectors_used"] == 2
    assert v21["verdict"] in ("pass", "warn")
    assert "candidate" in err  # the human summary went to stderr
    assert list((tmp_path / "plots").glob("*V21.png"))


def test_vet_candidates_table(sim_csvs, capsys, tmp_path):
    rng = np.random.default_rng(0)
    table = tmp_path / "cands.csv"
    rows = ["id,period_days,t0_btjd,duration_hours,depth_ppm"]
    rows += [
        f"c{i},{rng.uniform(1, 9):.5f},{2000 + rng.uniform(0, 3):.5f},{rng.uniform(1, 5):.3f},500"
        for i in range(40)
    ]
    table.write_text("\n".join(rows) + "\n")
    out_json = tmp_path / "out.json"
    assert (
        main(["vet", *sim_csvs, "--candidates", str(table), "--checks", "V21", "--json", str(out_json)]) == 0
    )
    doc = json.loads(out_json.read_text())
    assert [c["id"] for c in doc["candidates"]] == [f"c{i}" for i in range(40)]
    assert all(c["checks"]["V21"]["status"] in ("ok", "skipped") for c in doc["candidates"])


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--period", "-3", "--t0", "2001", "--duration-hours", "2"], "period_days"),
        (["--period", "3", "--t0", "2001", "--duration-hours", "0"], "duration_hours"),
        (["--period", "3", "--t0", "2001", "--duration-hours", "2", "--checks", "V99"], "V99"),
        (["--period", "3", "--t0", "2001"], "--duration-hours"),
    ],
)
def test_bad_input_exit_2_with_named_field(sim_csvs, capsys, extra, needle):
    rc = main(["vet", *sim_csvs, *extra])
    _, err = capsys.readouterr()
    assert rc == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("jaxvet: error:") and needle in last
    assert "Traceback" not in err


def test_missing_file_and_bad_row(sim_csvs, capsys, tmp_path):
    assert (
        main(["vet", str(tmp_path / "nope.fits"), "--period", "3", "--t0", "1", "--duration-hours", "2"]) == 2
    )
    _, err = capsys.readouterr()
    assert "nope.fits" in err and "Traceback" not in err
    table = tmp_path / "bad.csv"
    table.write_text("id,period_days,t0_btjd,duration_hours\nok1,3.0,2001.0,2.0\nbadrow,0,2001.0,2.0\n")
    assert main(["vet", *sim_csvs, "--candidates", str(table), "--checks", "V21"]) == 2
    _, err = capsys.readouterr()
    assert "badrow" in err and "period" in err


def test_python_dash_m_jaxvet_is_the_command_line():
    """``python -m jaxvet`` is the same command line as ``jaxvet`` (its version and commands)."""
    import jaxvet

    proc = subprocess.run([sys.executable, "-m", "jaxvet", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert jaxvet.__version__ in proc.stdout + proc.stderr


def test_console_script_no_traceback(tmp_path):
    """The installed entry point: an unreadable file gives one error line and exit status 2."""
    bad = tmp_path / "garbage.fits"
    bad.write_bytes(b"\x00\x01not a fits file")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jaxvet.cli",
            "vet",
            str(bad),
            "--period",
            "2",
            "--t0",
            "1",
            "--duration-hours",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "garbage.fits" in proc.stderr and "Traceback" not in proc.stderr


# -------------------------------------------------------------------------------------------
# time systems, sectors from times, messages in command-line words (docs/io.md)
# -------------------------------------------------------------------------------------------
def _vet_json(capsys, argv):
    rc = main(["vet", *argv, "--json", "-"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out), err


@pytest.mark.realdata
def test_kepler_t0_is_bkjd(shared_data, capsys):
    """Kepler-90 i (AstroNet README: P 14.44912 d, t0 2.2 BKJD): --t0 is read as BKJD."""
    files = sorted(str(p) for p in (shared_data / "kic11442793").glob("*.fits"))
    eph = ["--period", "14.44912", "--t0", "2.2", "--duration-hours", "2.704", "--checks", "V01"]
    doc, err = _vet_json(capsys, [*files, *eph])
    assert "read as BKJD" in err and "quarters [3, 4, 5]" in err
    times = [c for c in doc["conversions"] if c["field"] == "time"]  # BKJD files moved to BTJD
    assert len(times) == len(files) and {(c["time_system"], c["offset_days"]) for c in times} == {
        ("BKJD", -2167.0)
    }
    assert f"note: {len(files)} files (" in err and "times read as BKJD and converted to BTJD" in err
    assert [c for c in doc["conversions"] if c["field"] == "t0"] == [
        {
            "candidate": "candidate",
            "field": "t0",
            "input": 2.2,
            "time_system": "BKJD",
            "t0_btjd": 2.2 - 2167.0,
            "reason": "Kepler data",
        }
    ]
    assert doc["candidates"][0]["t0_btjd"] == 2.2 - 2167.0
    assert doc["light_curve"]["units"] == "quarters" and doc["light_curve"]["sectors"] == [3, 4, 5]
    v01 = doc["candidates"][0]["checks"]["V01"]["metrics"]
    assert v01["n_odd_transits"] + v01["n_even_transits"] >= 10  # transits placed on the data
    # --time-system btjd: the number is taken as it is
    doc, err = _vet_json(capsys, [*files, *eph, "--time-system", "btjd"])
    assert [c for c in doc["conversions"] if c["field"] == "t0"] == []
    assert doc["candidates"][0]["t0_btjd"] == 2.2
    assert "t0 of candidate read as" not in err


def test_time_system_option_synthetic(sim_csvs, capsys, tmp_path):
    """--time-system bjd / bkjd convert --t0 and a --candidates table's t0 column."""
    eph = ["--period", "3.1", "--duration-hours", "2.5", "--checks", "V21"]
    doc, err = _vet_json(capsys, [*sim_csvs, *eph, "--t0", "4167.0", "--time-system", "bkjd"])
    assert doc["candidates"][0]["t0_btjd"] == 4167.0 - 2167.0 and "no transit" not in err
    doc, _ = _vet_json(capsys, [*sim_csvs, *eph, "--t0", "2001.0"])  # TESS data: BTJD, no conversion
    assert doc["conversions"] == [] and doc["light_curve"]["units"] == "sectors"
    table = tmp_path / "c.csv"
    table.write_text("id,period_days,t0_btjd,duration_hours\na,3.1,2459001.0,2.5\nb,3.1,4168.0,2.5\n")
    doc, _ = _vet_json(
        capsys, [*sim_csvs, "--candidates", str(table), "--checks", "V21", "--time-system", "bkjd"]
    )
    assert [c["t0_btjd"] for c in doc["candidates"]] == [2001.0, 2001.0]
    assert [(r["field"], r["time_system"]) for r in doc["conversions"]] == [("t0_btjd", "BKJD")]


def test_no_transit_on_the_data_warns(sim_csvs, capsys):
    """An ephemeris with no epoch on the data (sectors 30-31 span about 2000-2055 BTJD)."""
    argv = [*sim_csvs, "--period", "500", "--t0", "2300.0", "--duration-hours", "2.5", "--checks", "V21"]
    _, err = _vet_json(capsys, argv)
    assert "jaxvet: warning: no transit of candidate candidate" in err and "--time-system" in err


def test_period_in_hours_hint(sim_csvs, capsys):
    """A period given in hours (3.1 d = 74.4 h) puts <= 1 transit on 2 sectors: a hint names --period."""
    _, err = _vet_json(
        capsys,
        [*sim_csvs, "--period", "74.4", "--t0", "2001.0", "--duration-hours", "2.5", "--checks", "V21"],
    )
    assert "if it is in hours, use --period 3.1" in err


def test_placeholder_warning_in_cli_words(tmp_path, capsys):
    """The placeholder-flux_err warning: one 'jaxvet: warning:' line, CLI option, no file:line prefix."""
    lc = inject_transits(simulate_lightcurve(5, sectors=(30,)), 3.1, 2001.0, 2.5, 2500.0, seed=1)
    p = tmp_path / "sector30.csv"
    rows = [f"{float(t)!r},{float(f)!r},1.0" for t, f in zip(lc.time, lc.flux, strict=True)]
    p.write_text("time,flux,flux_err\n" + "\n".join(rows) + "\n")
    _, err = _vet_json(
        capsys, [str(p), "--period", "3.1", "--t0", "2001.0", "--duration-hours", "2.5", "--checks", "V01"]
    )
    lines = [ln for ln in err.splitlines() if "placeholder" in ln]
    assert len(lines) == 1 and lines[0].startswith("jaxvet: warning: ")
    assert "--flux-err-placeholder keep" in lines[0] and "flux_err_placeholder=" not in lines[0]
    assert "JaxvetDataWarning" not in err and ".py:" not in err
    _, err = _vet_json(
        capsys,
        [
            str(p),
            "--period",
            "3.1",
            "--t0",
            "2001.0",
            "--duration-hours",
            "2.5",
            "--checks",
            "V01",
            "--flux-err-placeholder",
            "keep",
        ],
    )
    assert "kept as is (--flux-err-placeholder keep)" in err


@pytest.mark.realdata
def test_toi421_two_sectors_in_one_file_run_v21(shared_data, capsys):
    """TOI-421 (S5+S6 in one tab-separated file, no sector column): V21 sees sectors 5 and 6."""
    path = str(shared_data / "tic94986319" / "94986319_data.txt")
    eph = ["--period", "16.068919", "--t0", "1440.131101", "--duration-hours", "2.68", "--checks", "V21"]
    doc, err = _vet_json(capsys, [path, *eph])
    assert doc["light_curve"]["sectors"] == [5, 6] and "sectors [5, 6]" in err
    v21 = doc["candidates"][0]["checks"]["V21"]
    assert v21["status"] == "ok" and v21["metrics"]["n_sectors_used"] == 2


def _vet_args(sim_csvs, *extra):
    return ["vet", *sim_csvs, "--period", "3.1", "--t0", "2001.0", "--duration-hours", "2.5", *extra]


def test_table_report_and_compact_json(sim_csvs, capsys, tmp_path):
    rc = main(_vet_args(sim_csvs, "--checks", "V01,V21", "--json", str(tmp_path / "o.json"),
                        "--table", str(tmp_path / "o.csv"), "--report", str(tmp_path / "sheets")))
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "o.json").read_text())
    assert all(r["raw"] is None for r in doc["candidates"][0]["checks"].values())  # compact by default
    from astropy.table import Table

    t = Table.read(tmp_path / "o.csv", format="ascii.csv")
    assert len(t) == 1 and t["V21_status"][0] == "ok"
    assert t["V21_n_sectors_used"][0] == doc["candidates"][0]["checks"]["V21"]["metrics"]["n_sectors_used"]
    sheets = tmp_path / "sheets"
    assert (sheets / "candidate.png").is_file() and (sheets / "index.html").is_file()


def test_json_raw_keeps_plot_data(sim_csvs, capsys, tmp_path):
    assert main(_vet_args(sim_csvs, "--checks", "V21", "--json", "-", "--json-raw", "--quiet")) == 0
    out, err = capsys.readouterr()
    assert "plot_data" in json.loads(out)["candidates"][0]["checks"]["V21"]["raw"]
    assert "done in" not in err  # --quiet


def test_check_options_from_the_command_line(sim_csvs, capsys):
    assert main(_vet_args(sim_csvs, "--checks", "V01", "--json", "-", "--option",
                          "V01.oe_sigma_threshold=5", "--quiet")) == 0
    capsys.readouterr()
    for bad, needle in [
        ("V01.oe_sigma_treshold=5", "unknown V01 option(s) ['oe_sigma_treshold']"),
        ("V01.oe_sigma_threshold=-1", "V01 option oe_sigma_threshold must be a positive number, got -1"),
        ("V99.x=1", "unknown check id 'V99'"),
        ("V01oops", "--option 'V01oops' must look like CHECK.NAME=VALUE"),
    ]:
        assert main(_vet_args(sim_csvs, "--checks", "V01", "--option", bad)) == 2
        err = capsys.readouterr().err
        assert err.startswith("jaxvet: error:") and needle in err, err


def test_bad_table_extension_fails_before_vetting(sim_csvs, capsys, tmp_path):
    assert main(_vet_args(sim_csvs, "--checks", "V21", "--table", str(tmp_path / "o.xlsx"))) == 2
    assert "--table" in capsys.readouterr().err


def test_duration_longer_than_period_is_flagged_not_a_traceback(sim_csvs, capsys):
    rc = main(["vet", *sim_csvs, "--period", "1.0", "--t0", "2001.0", "--duration-hours", "30",
               "--checks", "V01,V21", "--json", "-", "--quiet"])
    assert rc == 0
    checks = json.loads(capsys.readouterr().out)["candidates"][0]["checks"]
    assert checks["V01"]["verdict"] == "insufficient" and checks["V01"]["flags"]


@pytest.mark.parametrize(
    "t0, system",
    [("2459001.0", "BJD"), ("59000.5", "MJD")],  # BTJD 2001.0 = BJD 2459001.0 = MJD 59000.5
)
def test_t0_in_bjd_or_mjd_is_converted_with_a_note(sim_csvs, capsys, t0, system):
    doc, err = _vet_json(capsys, [*sim_csvs, "--period", "3.1", "--t0", t0, "--duration-hours", "2.5",
                                  "--checks", "V21"])
    assert doc["candidates"][0]["t0_btjd"] == pytest.approx(2001.0, abs=1e-9)
    (conv,) = doc["conversions"]
    assert conv["field"] == "t0" and conv["time_system"] == system and conv["input"] == float(t0)
    assert "t0" in err and system in err


@pytest.mark.parametrize(
    "period, t0",
    [("200", "2010.0"), ("500", "2300.0")],  # longer than the 55-day baseline; no transit on the data
)
def test_degenerate_ephemerides_get_statuses_not_tracebacks(sim_csvs, capsys, period, t0):
    rc = main(["vet", *sim_csvs, "--period", period, "--t0", t0, "--duration-hours", "2.5",
               "--checks", "V01,V02,V04,V21", "--json", "-", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err
    checks = json.loads(out)["candidates"][0]["checks"]
    assert all(c["status"] in ("ok", "skipped") for c in checks.values())
    assert checks["V01"]["verdict"] == "insufficient" and "INSUFFICIENT_DATA" in checks["V01"]["flags"]
    assert checks["V04"]["verdict"] == "insufficient"


@pytest.mark.realdata
def test_duration_of_400_hours_on_toi5807_is_a_guard_on_every_check(toi5807_dir, capsys):
    """A 400 h duration on a 14.24 d period: a warning on stderr, and every check with a verdict
    reports insufficient with DURATION_TOO_LONG (V02 used to pass on the numbers of a valid run)."""
    rc = main(["vet", str(toi5807_dir / "sector55_pdcsap.csv"), "--period", "14.24", "--t0", "3540.26317",
               "--duration-hours", "400", "--checks", "V01,V02,V03,V04,V05", "--json", "-", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "--duration-hours 400 is at least half the period" in err
    checks = json.loads(out)["candidates"][0]["checks"]
    for cid, c in checks.items():
        assert "DURATION_TOO_LONG" in c["flags"], cid
        assert c["verdict"] in (None, "insufficient"), cid
    assert checks["V02"]["verdict"] == "insufficient"


@pytest.mark.realdata
def test_file_times_in_bjd_are_converted_with_a_note(shared_data, capsys):
    """KOI-1003's Kepler CSV holds full BJDs: converted to BTJD, said on stderr, recorded in JSON."""
    path = str(shared_data / "tic122374527" / "Kepler_Q2.csv")
    doc, err = _vet_json(capsys, [path, "--period", "8.36", "--t0", "-1990.0", "--duration-hours", "6",
                                  "--checks", "V03"])
    assert f"note: {path}: times read as BJD and converted to BTJD (t -2457000 d)" in err
    (conv,) = [c for c in doc["conversions"] if c["field"] == "time"]
    assert conv == {"file": path, "field": "time", "time_system": "BJD", "offset_days": -2457000.0}
    (f,) = doc["light_curve"]["files"]
    assert f["time_system"] == "BJD" and f["time_offset_days"] == -2457000.0 and f["format"] == "text"


def test_btjd_files_get_no_time_conversion(sim_csvs, capsys):
    doc, err = _vet_json(capsys, [*sim_csvs, "--period", "3.1", "--t0", "2001.0", "--duration-hours", "2.5",
                                  "--checks", "V03"])
    assert "converted to BTJD" not in err and doc["conversions"] == []
    files = doc["light_curve"]["files"]
    assert [f["file"] for f in files] == list(sim_csvs)
    assert all(f["time_system"] == "BTJD" and f["time_offset_days"] == 0.0 for f in files)
