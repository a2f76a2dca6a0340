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
