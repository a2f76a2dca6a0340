"""Outputs: the result table (astropy, parquet, CSV, ECSV, FITS), the JSON and its schema."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from astropy.table import Table

import jaxvet
from jaxvet.data import Candidate
from jaxvet.errors import JaxvetInputError
from jaxvet.outputs import load_schema, validate_report, write_table

from .conftest import TOI5807

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def toi_report(toi5807_lc):
    cands = [
        Candidate(id="TOI-5807.01", **TOI5807),
        # duration longer than half the period: a degenerate candidate, insufficient results
        Candidate(id="long", period_days=1.0, t0_btjd=TOI5807["t0_btjd"], duration_hours=14.0),
    ]
    return jaxvet.vet(toi5807_lc, cands, "V01,V03,V21", seed=0)


def test_table_has_one_row_per_candidate_and_documented_columns(toi_report):
    t = toi_report.to_table()
    assert len(t) == 2 and list(t["id"]) == ["TOI-5807.01", "long"]
    for c in ("id", "period_days", "t0_btjd", "duration_hours", "depth_ppm"):
        assert c in t.colnames
    for cid in ("V01", "V03", "V21"):
        for suffix in ("status", "verdict", "flags"):
            assert f"{cid}_{suffix}" in t.colnames
    # every scalar metric of every result is a column holding the same value
    n_checked = 0
    for i, res in enumerate(toi_report.results):
        for cid, r in res.items():
            for k, v in r.metrics.items():
                if isinstance(v, (bool, int, float, str)):
                    got = t[f"{cid}_{k}"][i]
                    assert got == v or (isinstance(v, float) and math.isnan(v) and math.isnan(got)), (cid, k)
                    n_checked += 1
                elif v is None:
                    assert f"{cid}_{k}" not in t.colnames or math.isnan(t[f"{cid}_{k}"][i])
    assert n_checked > 20
    assert str(t["period_days"].unit) == "d" and str(t["duration_hours"].unit) == "h"
    assert t["depth_ppm"].description == "parts per million"
    # the degenerate candidate: insufficient, with its flag joined into the flags column
    assert t["V01_verdict"][1] == "insufficient" and "INSUFFICIENT_DATA" in t["V01_flags"][1].split(";")


@pytest.mark.parametrize("ext", [".parquet", ".csv", ".ecsv", ".fits"])
def test_table_files_round_trip(toi_report, tmp_path, ext):
    path = tmp_path / f"out{ext}"
    toi_report.write_table(path)
    back = Table.read(path, format={".csv": "ascii.csv", ".ecsv": "ascii.ecsv"}.get(ext))
    assert len(back) == 2
    np.testing.assert_allclose(np.asarray(back["period_days"], float), [TOI5807["period_days"], 1.0])
    assert [str(s) for s in back["V21_status"]] == [r["V21"].status for r in toi_report.results]
    p_ref = toi_report[0]["V21"].metrics["chi2_p_value"]
    assert float(back["V21_chi2_p_value"][0]) == pytest.approx(p_ref, rel=1e-12)


def test_unknown_table_extension_is_an_error_naming_it(toi_report, tmp_path):
    with pytest.raises(JaxvetInputError, match=r"unknown extension '\.xlsx'"):
        write_table(toi_report, tmp_path / "out.xlsx")


def test_to_pandas(toi_report):
    pytest.importorskip("pandas")
    df = toi_report.to_pandas()
    assert list(df["id"]) == ["TOI-5807.01", "long"]


@pytest.mark.parametrize("include_raw", [False, True])
def test_json_follows_the_published_schema(toi_report, include_raw):
    doc = json.loads(toi_report.to_json(include_raw=include_raw))
    validate_report(doc)
    assert doc["schema_version"] == load_schema()["properties"]["schema_version"]["const"]
    raws = [c["raw"] for cand in doc["candidates"] for c in cand["checks"].values()]
    assert all(r is None for r in raws) != include_raw


def test_schema_rejects_a_broken_report(toi_report):
    doc = json.loads(toi_report.to_json(include_raw=False))
    doc["candidates"][0]["checks"]["V21"]["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(doc)
    del doc["candidates"][0]["checks"]["V21"]
    del doc["candidates"][0]["period_days"]
    with pytest.raises(jsonschema.ValidationError):
        validate_report(doc)


def test_compact_json_is_small(toi_report):
    compact = len(toi_report.to_json(include_raw=False)) / len(toi_report)
    full = len(toi_report.to_json(include_raw=True)) / len(toi_report)
    assert compact < 6_000 < full


def test_vetting_sheets_and_index(toi_report, tmp_path):
    from jaxvet.plotting.sheet import write_report

    index = write_report(toi_report, tmp_path, max_sheets=1)
    assert (tmp_path / "TOI-5807.01.png").stat().st_size > 20_000
    assert (tmp_path / "TOI-5807.01.pdf").read_bytes()[:5] == b"%PDF-"
    assert not (tmp_path / "long.png").exists()  # beyond max_sheets: listed, no sheet
    text = index.read_text()
    assert text.count("<tr>") == 3 and "TOI-5807.01.pdf" in text and ">long<" in text
    assert 'class="insufficient"' in text  # the degenerate candidate's V01 verdict


def test_sheet_filenames_are_safe():
    from jaxvet.plotting.sheet import sheet_filename

    assert sheet_filename("TOI-5807.01") == "TOI-5807.01"
    assert sheet_filename("../etc/passwd") == "etc_passwd"
    assert sheet_filename("///") == "candidate"
