"""Tests for jaxvet.io: real files (counts/ranges from shared/data/PROVENANCE.md), error
messages, round trips (hypothesis) and candidate tables.

Independent checks: raw FITS columns are read with astropy directly, CSVs with the stdlib
``csv`` module, and lightkurve's own reader serves as a second implementation of the
quality-mask / time-system logic.
"""

from __future__ import annotations

import csv
import glob
import math
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxvet import io as jio
from jaxvet.data import LightCurveBatch, stitch
from jaxvet.errors import DataFileError, JaxvetInputError
from jaxvet.io import datasets

TOI5807_COUNTS = {55: 18876, 75: 19470, 82: 18133, 83: 17326}
# first and last time of each sector file (as the reference library reads them)
TOI5807_SPANS = {
    55: (2797.1034851753184, 2824.2660853937973),
    75: (3339.7823703707395, 3367.4793730420656),
    82: (3533.395836686563, 3559.2485963848135),
    83: (3559.458315945771, 3584.377208025556),
}
KEPLER90 = {  # file stem -> (quarter, cadences) from PROVENANCE.md
    "kplr011442793-2009350155506_llc.fits": (3, 4370),
    "kplr011442793-2010009091648_llc.fits": (4, 1021),
    "kplr011442793-2010174085026_llc.fits": (5, 4634),
}
BKJD_TO_BTJD = 2454833.0 - 2457000.0

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _count_data_lines(path: Path) -> int:
    """Non-empty lines that are not comments (independent of the reader)."""
    with open(path, newline="") as fh:
        return sum(1 for line in fh if line.strip() and not line.lstrip().startswith("#"))


def _stdlib_csv(path: Path) -> dict[str, np.ndarray]:
    """Read a headed CSV with comment lines using only the csv module."""
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(line for line in fh if line.strip() and not line.startswith("#"))]
    header = rows[0]
    return {h: np.array([float(r[i]) for r in rows[1:]]) for i, h in enumerate(header)}


def _raw_fits(path: Path):
    from astropy.io import fits

    with fits.open(path) as h:
        return h[0].header.copy(), h[1].header.copy(), {c: np.array(h[1].data[c]) for c in h[1].columns.names}


# -------------------------------------------------------------------------------------------
# real data
# -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(shared_data) -> Path:
    return Path(shared_data)


@pytest.mark.realdata
@pytest.mark.parametrize("sector", [55, 75, 82, 83])
def test_toi5807_sector_csv(data, sector):
    path = data / "tic188646744" / f"sector{sector}_pdcsap.csv"
    lc = jio.read_lightcurve(path)
    assert len(lc) == TOI5807_COUNTS[sector] == lc.n_valid
    assert lc.sectors == [sector]
    assert lc.target == "TIC 188646744"
    assert (lc.time[0], lc.time[-1]) == TOI5807_SPANS[sector]
    ref = _stdlib_csv(path)
    np.testing.assert_array_equal(lc.time, ref["time_btjd"])
    np.testing.assert_array_equal(lc.flux, ref["flux"])
    np.testing.assert_array_equal(lc.flux_err, ref["flux_err"])
    info = jio.read_info(lc)
    assert info.sector_source == "metadata sector" and info.format == "tess-vetter-csv"
    assert info.metadata["n_points"] == str(TOI5807_COUNTS[sector])


@pytest.mark.realdata
def test_load_toi5807_stitched(data, toi5807_lc):
    lc = jio.load_toi5807(data)
    assert len(lc) == 73805 == sum(TOI5807_COUNTS.values())
    assert lc.sectors == [55, 75, 82, 83]
    assert np.all(np.diff(lc.time) > 0)
    for s, part in lc.by_sector().items():
        assert len(part) == TOI5807_COUNTS[s]
        assert np.median(part.flux) == pytest.approx(1.0, abs=1e-12)
    # same numbers as the plain-numpy fixture of conftest.py
    np.testing.assert_array_equal(lc.time, toi5807_lc.time)
    np.testing.assert_array_equal(lc.flux, toi5807_lc.flux)
    np.testing.assert_array_equal(lc.sector, toi5807_lc.sector)
    # the tic188646744 directory itself is accepted too, and sector subsets
    sub = jio.load_toi5807(data / "tic188646744", sectors=[82, 83])
    assert sub.sectors == [82, 83] and len(sub) == 18133 + 17326
    batch = LightCurveBatch.from_lightcurves(lc)
    assert int(batch.n_valid[0]) == 73805
    assert [int(x) for x in np.asarray(batch.sector_ids[0]) if x >= 0] == [55, 75, 82, 83]
    with pytest.raises(JaxvetInputError, match="not \\[54\\]"):
        jio.load_toi5807(data, sectors=[54])


@pytest.mark.realdata
def test_read_lightcurves_normalises_each_sector(data, tmp_path):
    """Scale one sector file by 1234.5: stitching must bring every sector median back to 1."""
    src = data / "tic188646744"
    lines = (src / "sector83_pdcsap.csv").read_text().splitlines()
    out = []
    for line in lines:
        if line.startswith("#") or line.startswith("time"):
            out.append(line)
        else:
            t, f, e, q = line.split(",")
            out.append(f"{t},{float(f) * 1234.5!r},{float(e) * 1234.5!r},{q}")
    scaled = tmp_path / "sector83_pdcsap.csv"
    scaled.write_text("\n".join(out) + "\n")
    lc = jio.read_lightcurves([src / "sector82_pdcsap.csv", scaled])
    assert lc.sectors == [82, 83]
    for part in lc.by_sector().values():
        assert np.median(part.flux) == pytest.approx(1.0, abs=1e-12)
    raw = jio.read_lightcurves([src / "sector82_pdcsap.csv", scaled], stitch=False)
    assert np.median(raw.by_sector()[83].flux) == pytest.approx(1234.5, rel=1e-9)
    # a glob pattern gives the same as the explicit list
    g = jio.read_lightcurves(str(src / "sector8[23]_pdcsap.csv"))
    np.testing.assert_array_equal(g.time, jio.load_toi5807(data, sectors=[82, 83]).time)


@pytest.mark.realdata
def test_wasp18_lightkurve_fits(data):
    lc = jio.read_lightcurve(data / "tic100100827" / "wasp18b.fits")
    assert len(lc) == 18299 == lc.n_valid
    assert lc.sectors == [2]
    assert round(lc.time[0], 2) == 1354.11 and round(lc.time[-1], 2) == 1381.52
    assert lc.target == "TIC 100100827"
    info = jio.read_info(lc)
    assert (
        info.format == "lightkurve-fits" and info.flux_column == "FLUX" and info.flux_err_column == "FLUX_ERR"
    )
    _, _, cols = _raw_fits(data / "tic100100827" / "wasp18b.fits")
    np.testing.assert_array_equal(lc.time, cols["TIME"].astype(float))
    np.testing.assert_array_equal(lc.flux, cols["FLUX"].astype(float))


@pytest.mark.realdata
def test_wasp18_flat_csv_with_index_column(data):
    path = data / "tic100100827" / "wasp18b_flat_lightcurve.csv"
    lc = jio.read_lightcurve(path)
    assert len(lc) == 13445 == _count_data_lines(path) - 1
    assert round(lc.time[0], 2) == 1385.95 and round(lc.time[-1], 2) == 1406.22
    ref = _stdlib_csv(path)
    np.testing.assert_array_equal(lc.time, ref["time"])  # not the unnamed row-index column
    np.testing.assert_array_equal(lc.flux_err, ref["flux_err"])
    # the ~1 % WASP-18 b transits are in the flux (flattened LC: out-of-transit median ~1)
    assert np.min(lc.flux) < 0.992 < 0.999 < np.median(lc.flux) < 1.001


@pytest.mark.realdata
def test_toi421_tab_separated(data):
    path = data / "tic94986319" / "94986319_data.txt"
    lc = jio.read_lightcurve(path)
    assert len(lc) == 32699 == _count_data_lines(path) - 1
    assert round(lc.time[0], 2) == 1438.00 and round(lc.time[-1], 2) == 1490.05
    info = jio.read_info(lc)
    assert (info.time_column, info.flux_column, info.flux_err_column) == ("time", "flux", "flux_err")
    # S5+S6 in one file without sector information: id 0, with a note; sector= overrides it
    assert lc.sectors == [0] and info.sector_source == "unknown"
    assert any("no sector id" in n for n in info.notes)
    lc5 = jio.read_lightcurve(path, sector=5)
    assert lc5.sectors == [5] and jio.read_info(lc5).sector_source == "argument"
    np.testing.assert_array_equal(lc5.flux, lc.flux)


@pytest.mark.realdata
def test_pimen_absolute_bjd_placeholder_errors(data):
    path = data / "tic261136679" / "TESS.csv"
    with pytest.warns(jio.JaxvetDataWarning, match="constant placeholder"):
        lc = jio.read_lightcurve(path)
    # PROVENANCE.md says 93 627 rows, but the file has 93 628 data lines and no header
    # (first line 2458325.29698328,...): the count there is off by one.
    assert len(lc) == _count_data_lines(path) == 93628
    assert round(lc.time[0], 2) == 1325.30 and round(lc.time[-1], 2) == 1682.36
    with open(path) as fh:
        first_bjd = float(fh.readline().split(",")[0])
    assert lc.time[0] == pytest.approx(first_bjd - 2457000.0, abs=1e-9)
    # placeholder 1.0 replaced by the robust point-to-point scatter (~1.6e-4 for pi Men)
    assert np.unique(lc.flux_err).size == 1 and 5e-5 < lc.flux_err[0] < 5e-4
    with pytest.warns(jio.JaxvetDataWarning, match="kept as is"):
        kept = jio.read_lightcurve(path, flux_err_placeholder="keep")
    assert np.all(kept.flux_err == 1.0)
    assert any("placeholder" in n for n in jio.read_info(kept).notes)


@pytest.mark.realdata
def test_koi1003_kepler_bjd_csv(data):
    path = data / "tic122374527" / "Kepler_Q2.csv"
    lc = jio.read_lightcurve(path)
    # PROVENANCE.md: 1116 rows; the file has 1117 data lines and no header (same off-by-one)
    assert len(lc) == _count_data_lines(path) == 1117
    assert lc.time[0] == pytest.approx(2455002.77 - 2457000.0, abs=0.005)
    assert lc.time[-1] == pytest.approx(2455027.98 - 2457000.0, abs=0.005)
    assert 0.963 < np.min(lc.flux) and np.max(lc.flux) < 1.024  # flux range 0.964-1.023


@pytest.mark.realdata
def test_toi813_spoc_fits_against_lightkurve(data):
    path = data / "tic55525572" / "tic55525572_lc.fits"
    lc = jio.read_lightcurve(path)
    prim, ext, cols = _raw_fits(path)
    assert len(lc) == len(cols["TIME"]) == 18944
    assert lc.sectors == [5] and lc.target == "TIC 55525572"
    assert jio.read_info(lc).flux_column == "PDCSAP_FLUX"
    np.testing.assert_array_equal(lc.flux, cols["PDCSAP_FLUX"].astype(float))
    # default bitmask: cadences kept = lightkurve's quality='default' cadences with finite flux
    import lightkurve as lk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lkc = lk.read(path)
    fin = np.isfinite(np.asarray(lkc.flux.unmasked.value)) & np.isfinite(lkc.time.value)
    assert lc.n_valid == int(fin.sum()) == 17876
    np.testing.assert_allclose(lc.time[lc.valid], lkc.time.value[fin], rtol=0, atol=1e-9)
    # bitmask options
    none = jio.read_lightcurve(path, quality_bitmask="none")
    hard = jio.read_lightcurve(path, quality_bitmask="hard")
    assert hard.n_valid <= lc.n_valid < none.n_valid
    assert none.n_valid == int(np.sum(np.isfinite(cols["TIME"]) & np.isfinite(cols["PDCSAP_FLUX"])))
    sap = jio.read_lightcurve(path, flux_column="sap_flux")
    np.testing.assert_array_equal(sap.flux, cols["SAP_FLUX"].astype(float))
    with pytest.raises(DataFileError, match="tic55525572_lc.fits: no column 'KSPSAP_FLUX'"):
        jio.read_lightcurve(path, flux_column="KSPSAP_FLUX")
    # the TOI-813 b transit (depth ~1500 ppm) at 1454.66 BTJD
    t, f = lc.time[lc.valid], lc.flux[lc.valid]
    inside = np.abs(t - 1454.66) < 0.15
    base = (np.abs(t - 1454.66) > 1.0) & (np.abs(t - 1454.66) < 3.0)
    depth = 1 - np.median(f[inside]) / np.median(f[base])
    assert 800e-6 < depth < 2500e-6


@pytest.mark.realdata
def test_kepler90_quarters_to_btjd_and_stitch(data):
    files = sorted((data / "kic11442793").glob("*.fits"))
    assert [f.name for f in files] == sorted(KEPLER90)
    lcs = []
    for f in files:
        quarter, n = KEPLER90[f.name]
        lc = jio.read_lightcurve(f)
        prim, ext, cols = _raw_fits(f)
        assert ext["BJDREFI"] == 2454833 and ext["BJDREFF"] == 0.0
        assert len(lc) == n and lc.sectors == [quarter] and lc.target == "KIC 11442793"
        # BKJD -> BTJD: t + 2454833 - 2457000
        np.testing.assert_allclose(lc.time, cols["TIME"] + BKJD_TO_BTJD, rtol=0, atol=1e-9, equal_nan=True)
        assert lc.quality_bitmask == jio.KEPLER_QUALITY_BITMASKS["default"]
        assert any("quarter" in n for n in jio.read_info(lc).notes)
        lcs.append(lc)
    st_ = jio.read_lightcurves(files)
    assert len(st_) == sum(n for _, n in KEPLER90.values()) and st_.sectors == [3, 4, 5]
    for part in st_.by_sector().values():
        good = np.isfinite(part.flux) & (part.quality == 0)
        assert np.median(part.flux[good]) == pytest.approx(1.0, abs=1e-12)
    # lightkurve agrees on the cadences its default Kepler bitmask keeps
    import lightkurve as lk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coll = lk.LightCurveCollection([lk.read(f) for f in files])
    from_lk = jio.from_lightkurve(coll, stitch=False)
    assert from_lk.sectors == [3, 4, 5]
    raw = jio.read_lightcurves(files, stitch=False)
    np.testing.assert_allclose(from_lk.time[from_lk.valid], raw.time[raw.valid], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(from_lk.flux[from_lk.valid], raw.flux[raw.valid])


@pytest.mark.realdata
def test_k2_campaign_times_put_wasp47b_transit_in_place(data):
    path = data / "epic206103150" / "ktwo206103150-c03_llc.fits"
    lc = jio.read_lightcurve(path)
    assert len(lc) == 3386 and lc.sectors == [3] and lc.target == "EPIC 206103150"
    assert jio.read_info(lc).mission == "K2"
    # WASP-47 b: P 4.159 d, T0 2174.932 BKJD, depth ~1.24 %
    t0 = 2174.932 + BKJD_TO_BTJD
    t, f = lc.time[lc.valid], lc.flux[lc.valid] / np.median(lc.flux[lc.valid])
    phase = ((t - t0) / 4.159 + 0.5) % 1.0 - 0.5
    depth = np.median(f[np.abs(phase) < 0.004]) - np.median(f[np.abs(phase) > 0.05])
    assert -0.016 < depth < -0.009


@pytest.mark.realdata
def test_non_lightcurve_files_are_rejected(data):
    with pytest.raises(DataFileError, match="astrocut.fits: column FLUX .*target pixel file"):
        jio.read_lightcurve(data / "tic261136679" / "tess-s0001-4-2_84.291190_-80.469170_6x6_astrocut.fits")
    with pytest.raises(DataFileError, match="sector83_tpf.npz: .*not a light-curve file"):
        jio.read_lightcurve(data / "tic188646744" / "sector83_tpf.npz")


@pytest.mark.realdata
def test_from_lightkurve_masked_quantity_real(data):
    import lightkurve as lk

    path = data / "tic55525572" / "tic55525572_lc.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lkc = lk.read(path)
    assert type(lkc.flux).__name__ == "MaskedQuantity"
    lc = jio.from_lightkurve(lkc)
    direct = jio.read_lightcurve(lkc)  # read_lightcurve forwards lightkurve objects
    np.testing.assert_array_equal(lc.flux, direct.flux)
    assert len(lc) == 17876 and lc.sectors == [5] and lc.target == "TIC 55525572"
    ref = jio.read_lightcurve(path)
    np.testing.assert_allclose(lc.time[lc.valid], ref.time[ref.valid], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(lc.flux[lc.valid], ref.flux[ref.valid])
    np.testing.assert_array_equal(lc.flux_err[lc.valid], ref.flux_err[ref.valid])


# -------------------------------------------------------------------------------------------
# lightkurve / arrays (synthetic)
# -------------------------------------------------------------------------------------------
def test_from_lightkurve_masked_and_units():
    import astropy.units as u
    import lightkurve as lk
    from astropy.utils.masked import Masked

    t = 1500.0 + np.arange(12) * 0.01
    mask = np.zeros(12, bool)
    mask[[3, 7]] = True
    flux = Masked(np.linspace(1.0, 1.1, 12) * u.electron / u.s, mask=mask)
    err = np.full(12, 1.0) * u.electron / u.s
    lkc = lk.TessLightCurve(time=t, flux=flux, flux_err=err)
    lkc.meta["SECTOR"] = 9
    lkc.meta["OBJECT"] = "TIC 42"
    lc = jio.from_lightkurve(lkc)
    assert lc.sectors == [9] and lc.target == "TIC 42"
    np.testing.assert_allclose(lc.time, t, rtol=0, atol=1e-12)
    assert np.isnan(lc.flux[[3, 7]]).all() and lc.n_valid == 10
    np.testing.assert_allclose(lc.flux_err, 1.0)
    # generic lk.LightCurve reads bare numbers as JD: relative values are taken as BTJD, with a warning
    with pytest.warns(jio.JaxvetDataWarning, match="taken as BTJD"):
        g = jio.from_lightkurve(lk.LightCurve(time=t, flux=np.ones(12)))
    np.testing.assert_allclose(g.time, t, rtol=0, atol=1e-12)


def test_from_arrays_is_a_thin_wrapper():
    import astropy.units as u

    t = np.array([1.0, 2.0, 3.0, 4.0])
    f = np.ma.array([1.0, 2.0, 3.0, 4.0], mask=[0, 1, 0, 0])
    lc = jio.from_arrays(t + 2457000.0, f, [0.1] * 4 * u.dimensionless_unscaled, [0, 0, 32, 0], sector=3)
    np.testing.assert_array_equal(lc.time, t)
    np.testing.assert_allclose(lc.flux_err, 0.1)
    # flux_err is expressed in the flux's unit
    q = jio.from_arrays(t, np.ones(4) * u.electron / u.s, np.full(4, 60.0) * u.electron / u.min)
    np.testing.assert_allclose(q.flux_err, 1.0)
    assert np.isnan(lc.flux[1]) and lc.n_valid == 2  # masked value and quality bit 32 (Desat)
    assert lc.sectors == [3]
    assert jio.from_arrays(t, t, quality=[0, 0, 32, 0], quality_bitmask="none").n_valid == 4
    with pytest.raises(JaxvetInputError, match="quality_bitmask must be one of"):
        jio.from_arrays(t, t, quality_bitmask="soft")


def test_quality_bitmask_resolution():
    assert jio.resolve_quality_bitmask("default") == 17087
    assert jio.resolve_quality_bitmask("default", "K2") == 1130799
    assert jio.resolve_quality_bitmask("HARD", "TESS") == 24319
    assert jio.resolve_quality_bitmask(None) == 0 == jio.resolve_quality_bitmask("none", "Kepler")
    assert jio.resolve_quality_bitmask(np.int64(5)) == 5
    for bad in (-1, 1.5, True, "strict"):
        with pytest.raises(JaxvetInputError, match="quality_bitmask"):
            jio.resolve_quality_bitmask(bad)


# -------------------------------------------------------------------------------------------
# error cases
# -------------------------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="nope.csv: file not found"):
        jio.read_lightcurve(tmp_path / "nope.csv")
    with pytest.raises(DataFileError, match="is a directory"):
        jio.read_lightcurve(tmp_path)
    with pytest.raises(DataFileError, match="no files match"):
        jio.read_lightcurves(str(tmp_path / "sector*.csv"))


@pytest.mark.parametrize(
    "name,content,pattern",
    [
        ("empty.csv", "", "empty.csv: empty file"),
        ("blank.csv", "\n\n  \n", "blank.csv: empty file"),
        ("header_only.csv", "# sector: 5\ntime,flux,flux_err\n", "header_only.csv: no data rows"),
        ("comments.csv", "# a: b\n# c: d\n", "comments.csv: no data rows"),
        ("sector55.csv", "time,foo\n1,2\n", r"sector55.csv: no flux column \(columns: time, foo\)"),
        ("notime.csv", "flux,flux_err\n1,2\n", r"notime.csv: no time column \(columns: flux, flux_err\)"),
        ("onecol.txt", "1\n2\n3\n", "onecol.txt: needs at least 2 columns"),
        ("badnum.csv", "time,flux\n1,1.0\n2,abc\n", "badnum.csv: line 3: cannot read flux value 'abc'"),
        ("ragged.csv", "time,flux,flux_err\n1,1,0.1\n2,1\n", "ragged.csv: line 3 has 2 fields, expected 3"),
        ("unsorted.csv", "time,flux\n1,1\n3,1\n2,1\n", "unsorted.csv: .*not sorted"),
        ("latin.csv", b"time,flux\n1,\xff\xfe\n", "latin.csv: not a text table or FITS file"),
        ("nul.dat", b"\x00\x01\x02" * 50, "nul.dat: binary content"),
        ("fake.fits", b"SIMPLE  =" + b"\x07" * 3000, "fake.fits: not a readable FITS file"),
        ("text.fits", "time,flux\n1,1\n", "text.fits: not a readable FITS file"),
        ("arr.npz", b"PK\x03\x04" + b"0" * 100, "arr.npz: is a zip"),
        ("sec.csv", "time,flux,sector\n1,1,2.5\n", "sec.csv: sector column must hold non-negative integers"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, content, pattern):
    p = _write(tmp_path, name, content)
    with pytest.raises(DataFileError, match=pattern) as ei:
        jio.read_lightcurve(p)
    assert isinstance(ei.value, JaxvetInputError)
    assert str(ei.value).startswith(str(p))


def test_garbage_bytes_and_truncated_fits(tmp_path):
    rng = np.random.default_rng(7)
    for i in range(5):
        p = _write(tmp_path, f"garbage{i}.csv", rng.bytes(2000))
        with pytest.raises(DataFileError, match=f"garbage{i}.csv"):
            jio.read_lightcurve(p)
    good = tmp_path / "good.fits"
    from astropy.io import fits

    cols = [
        fits.Column(name="TIME", format="D", array=np.arange(500) * 0.01 + 1000.0),
        fits.Column(name="PDCSAP_FLUX", format="E", array=np.ones(500)),
        fits.Column(name="PDCSAP_FLUX_ERR", format="E", array=np.full(500, 1e-3)),
        fits.Column(name="QUALITY", format="J", array=np.zeros(500, np.int32)),
    ]
    hdr = fits.Header({"TELESCOP": "TESS", "SECTOR": 12, "TICID": 7})
    fits.HDUList(
        [fits.PrimaryHDU(header=hdr), fits.BinTableHDU.from_columns(cols, name="LIGHTCURVE")]
    ).writeto(good)
    lc = jio.read_lightcurve(good)
    assert len(lc) == 500 and lc.sectors == [12] and lc.target == "TIC 7"
    raw = good.read_bytes()
    for n in (100, 3000, 6500):
        p = _write(tmp_path, f"trunc{n}.fits", raw[:n])
        with pytest.raises(DataFileError, match=f"trunc{n}.fits"):
            jio.read_lightcurve(p)


def test_nan_cadences_are_kept_and_masked(tmp_path):
    p = _write(
        tmp_path, "s.csv", "time,flux,flux_err,quality\n1,1.0,0.1,0\n2,,0.1,0\n3,nan,0.1,0\n,1.0,0.1,0\n"
    )
    lc = jio.read_lightcurve(p)
    assert len(lc) == 4 and lc.n_valid == 1
    assert np.isnan(lc.flux[1]) and np.isnan(lc.flux[2]) and np.isnan(lc.time[3])


def test_invalid_arguments():
    with pytest.raises(JaxvetInputError, match="time_format must be"):
        jio.read_lightcurve(__file__, time_format="hjd")
    with pytest.raises(JaxvetInputError, match="no sector="):
        jio.read_lightcurves([__file__], sector=3)
    with pytest.raises(JaxvetInputError, match="at least one path"):
        jio.read_lightcurves([])
    with pytest.raises(JaxvetInputError, match="expected a file path"):
        jio.read_lightcurve(12)


# -------------------------------------------------------------------------------------------
# text-table variants
# -------------------------------------------------------------------------------------------
def test_column_names_and_time_systems(tmp_path):
    t = np.array([100.0, 100.5, 101.0])
    p = _write(
        tmp_path, "k.csv", "BKJD,SAP_FLUX,SAP_FLUX_ERR,SAP_QUALITY\n100,5,1,0\n100.5,6,1,16\n101,7,1,0\n"
    )
    lc = jio.read_lightcurve(p)
    np.testing.assert_allclose(lc.time, t + BKJD_TO_BTJD, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(lc.flux, [5, 6, 7])
    assert lc.n_valid == 2  # quality 16 is Argabrightening in Kepler, Desat in TESS: masked either way
    p = _write(tmp_path, "m.csv", "mjd,flux\n58400.0,1\n58400.5,1\n")
    np.testing.assert_allclose(jio.read_lightcurve(p).time, [1400.5, 1401.0], rtol=0, atol=1e-9)
    p = _write(tmp_path, "x.txt", "# time flux flux_err\n1 2 3\n4 5 6\n")
    lc = jio.read_lightcurve(p)
    np.testing.assert_array_equal(lc.flux_err, [3, 6])
    assert "column names taken from the last comment line" in jio.read_info(lc).notes
    p = _write(tmp_path, "y.txt", "1 2 3 7\n4 5 6 8\n")
    lc = jio.read_lightcurve(p, flux_column=2)
    np.testing.assert_array_equal(lc.flux, [3, 6])
    p = _write(tmp_path, "tess2019-s0012-0000000001-lc.csv", "time;flux\n1;1\n2;1\n")
    assert jio.read_lightcurve(p).sectors == [12]
    p = _write(tmp_path, "multi.csv", "time,flux,sector\n1,1,3\n2,1,3\n30,1,4\n")
    assert jio.read_lightcurve(p).sectors == [3, 4]
    p = _write(tmp_path, "bk.csv", "1,1\n2,1\n")
    np.testing.assert_allclose(
        jio.read_lightcurve(p, time_format="bkjd").time, [1 + BKJD_TO_BTJD, 2 + BKJD_TO_BTJD]
    )


def test_duplicate_sector_ids_kept_distinct(tmp_path):
    a = _write(tmp_path, "a.csv", "# sector: 7\ntime,flux\n1,2\n2,2\n3,2\n")
    b = _write(tmp_path, "b.csv", "# sector: 7\ntime,flux\n10,4\n11,4\n")
    c = _write(tmp_path, "c.csv", "# sector: 7\ntime,flux\n20,8\n")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        lc = jio.read_lightcurves([a, b, c])
    msgs = [str(w.message) for w in rec if issubclass(w.category, jio.JaxvetDataWarning)]
    assert len(msgs) == 2
    assert msgs[0].startswith(f"{b}: sector 7 is also in {a}") and "distinct sector with id 1007" in msgs[0]
    assert msgs[1].startswith(f"{c}: sector 7 is also in {a}") and "distinct sector with id 2007" in msgs[1]
    assert lc.sectors == [7, 1007, 2007]
    np.testing.assert_array_equal(lc.flux, np.ones(6))
    np.testing.assert_array_equal(lc.sector, [7, 7, 7, 1007, 1007, 2007])
    assert any("distinct sector" in n for n in jio.read_info(lc).notes)


# -------------------------------------------------------------------------------------------
# hypothesis round trips
# -------------------------------------------------------------------------------------------
_finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def _lc_arrays(draw):
    n = draw(st.integers(1, 40))
    t0 = draw(st.floats(0.0, 4000.0))
    steps = draw(st.lists(st.floats(0.0, 2.0), min_size=n, max_size=n))
    time = t0 + np.cumsum(steps)
    flux = np.array(draw(st.lists(st.one_of(_finite, st.just(float("nan"))), min_size=n, max_size=n)))
    err = np.array(draw(st.lists(st.floats(0.0, 1e3), min_size=n, max_size=n)))
    quality = np.array(draw(st.lists(st.integers(0, 2**20), min_size=n, max_size=n)), dtype=np.int64)
    return time, flux, err, quality


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrs=_lc_arrays(), layout=st.sampled_from(["header", "positional", "tab", "space", "bjd"]))
def test_roundtrip_csv(tmp_path, arrs, layout):
    time, flux, err, quality = arrs
    fmt = repr
    if layout == "bjd":
        time = time + 2457000.0
    sep = {"tab": "\t", "space": " "}.get(layout, ",")
    rows = [
        sep.join(fmt(float(x)) for x in (t, f, e)) + f"{sep}{q}"
        for t, f, e, q in zip(time, flux, err, quality, strict=True)
    ]
    head = [] if layout in ("positional", "bjd") else [sep.join(["time", "flux", "flux_err", "quality"])]
    p = tmp_path / f"rt_{layout}.csv"
    p.write_text("\n".join(head + rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", jio.JaxvetDataWarning)
        lc = jio.read_lightcurve(p, flux_err_placeholder="keep") if np.ptp(err) > 0 or len(err) < 20 else None
    if lc is None:
        return
    expect_t = time - 2457000.0 if layout == "bjd" else time
    np.testing.assert_array_equal(lc.time, expect_t)
    np.testing.assert_array_equal(lc.flux, flux)
    np.testing.assert_array_equal(lc.flux_err, err)
    np.testing.assert_array_equal(lc.quality, quality)
    assert lc.n_valid == int(np.sum(np.isfinite(flux) & ((quality & 17087) == 0)))


# -------------------------------------------------------------------------------------------
# candidates
# -------------------------------------------------------------------------------------------
_pos = st.floats(1e-3, 1e4, allow_nan=False, allow_infinity=False)


@st.composite
def _candidate_rows(draw):
    n = draw(st.integers(1, 25))
    rows = []
    for i in range(n):
        rows.append(
            dict(
                id=f"TOI-{i}.0{draw(st.integers(1, 9))}",
                period_days=draw(_pos),
                t0_btjd=draw(st.floats(-3000, 5000, allow_nan=False)),
                duration_hours=draw(_pos),
                depth_ppm=draw(st.one_of(st.none(), st.floats(-1e5, 1e6, allow_nan=False))),
                stellar_radius=draw(st.one_of(st.none(), _pos)),
                stellar_mass=draw(st.one_of(st.none(), _pos)),
            )
        )
    return rows


_CAND_COLS = ["id", "period_days", "t0_btjd", "duration_hours", "depth_ppm", "stellar_radius", "stellar_mass"]


def _write_candidates(path: Path, rows, cols=_CAND_COLS):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(
                ["" if r[c] is None else (repr(r[c]) if isinstance(r[c], float) else r[c]) for c in cols]
            )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_candidate_rows())
def test_candidates_roundtrip(tmp_path, rows):
    p = tmp_path / "cands.csv"
    _write_candidates(p, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jio.JaxvetDataWarning)  # duplicate ids are allowed
        cands = jio.read_candidates(p)
    assert len(cands) == len(rows)
    for c, r in zip(cands, rows, strict=True):
        assert c.id == r["id"]
        for k in _CAND_COLS[1:]:
            assert getattr(c, k) == r[k], k


def test_candidates_minimal_columns_and_bjd(tmp_path):
    p = _write(
        tmp_path, "c.csv", "# my list\nperiod_days,t0_btjd,duration_hours\n3.5,2459000.5,2\n\n4,1500,3\n"
    )
    cands = jio.read_candidates(p)
    assert [c.id for c in cands] == ["1", "2"]
    assert cands[0].t0_btjd == 2000.5 and cands[0].depth_ppm is None and cands[1].stellar_mass is None
    arrs = jio.read_candidate_arrays(p)
    np.testing.assert_array_equal(arrs["period_days"], [3.5, 4.0])
    assert np.isnan(arrs["depth_ppm"]).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(["period_days", "t0_btjd", "duration_hours", "depth_ppm", "stellar_radius"]),
    bad=st.sampled_from(["abc", "nan", "inf", "-inf", "-1", "0", "", "1e400", "--3"]),
    row=st.integers(0, 4),
)
def test_candidates_bad_row_message(tmp_path, field, bad, row):
    rows = [
        dict(
            id=f"c{i}",
            period_days=2.0,
            t0_btjd=1500.0,
            duration_hours=3.0,
            depth_ppm=500.0,
            stellar_radius=1.0,
        )
        for i in range(5)
    ]
    cols = _CAND_COLS[:-1]
    p = tmp_path / "bad.csv"
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i, r in enumerate(rows):
            w.writerow([bad if (i == row and c == field) else r[c] for c in cols])
    value = float(bad) if bad not in ("abc", "", "--3") else None
    acceptable = {
        "period_days": value is not None and math.isfinite(value) and value > 0,
        "duration_hours": value is not None and math.isfinite(value) and value > 0,
        "t0_btjd": value is not None and math.isfinite(value),
        "depth_ppm": bad in ("", "nan") or (value is not None and math.isfinite(value)),
        "stellar_radius": bad in ("", "nan") or (value is not None and math.isfinite(value) and value > 0),
    }[field]
    if acceptable:
        assert len(jio.read_candidates(p)) == 5
        return
    with pytest.raises(DataFileError) as ei:
        jio.read_candidates(p)
    msg = str(ei.value)
    assert msg.startswith(str(p))
    assert f"candidate id 'c{row}'" in msg and field in msg and repr(bad) in msg
    assert f"line {row + 2}" in msg


def test_candidates_structural_errors(tmp_path):
    with pytest.raises(DataFileError, match="c1.csv: missing column\\(s\\) t0_btjd"):
        jio.read_candidates(_write(tmp_path, "c1.csv", "id,period_days,duration_hours\na,1,2\n"))
    with pytest.raises(DataFileError, match="c2.csv: no candidate rows"):
        jio.read_candidates(_write(tmp_path, "c2.csv", "id,period_days,t0_btjd,duration_hours\n"))
    with pytest.raises(DataFileError, match="c3.csv: empty file"):
        jio.read_candidates(_write(tmp_path, "c3.csv", ""))
    with pytest.raises(DataFileError, match="c4.csv: line 3 has 3 fields"):
        jio.read_candidates(
            _write(tmp_path, "c4.csv", "id,period_days,t0_btjd,duration_hours\na,1,2,3\nb,1,2\n")
        )
    with pytest.raises(DataFileError, match="c5.csv: file not found"):
        jio.read_candidates(tmp_path / "c5.csv")
    with pytest.warns(jio.JaxvetDataWarning, match="duplicate candidate ids \\['a'\\]"):
        jio.read_candidates(
            _write(tmp_path, "c6.csv", "id,period_days,t0_btjd,duration_hours\na,1,2,3\na,2,2,3\n")
        )


def test_candidates_thousands_load_fast(tmp_path):
    import time

    rng = np.random.default_rng(3)
    n = 5000
    rows = [
        dict(
            id=f"T{i}",
            period_days=float(rng.uniform(0.5, 30)),
            t0_btjd=float(rng.uniform(1300, 3600)),
            duration_hours=float(rng.uniform(1, 8)),
            depth_ppm=None if i % 3 == 0 else float(rng.uniform(100, 1e4)),
            stellar_radius=1.0,
            stellar_mass=None,
        )
        for i in range(n)
    ]
    p = tmp_path / "many.csv"
    _write_candidates(p, rows)
    t = time.perf_counter()
    cands = jio.read_candidates(p)
    elapsed = time.perf_counter() - t
    assert len(cands) == n and cands[-1].period_days == rows[-1]["period_days"]
    assert elapsed < 3.0, f"{n} candidates took {elapsed:.2f} s"


# -------------------------------------------------------------------------------------------
# shared-data discovery
# -------------------------------------------------------------------------------------------
def test_find_shared_data(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXVET_DATA_DIR", str(tmp_path))
    assert jio.find_shared_data() == tmp_path.resolve()
    monkeypatch.delenv("JAXVET_DATA_DIR")
    repo_default = Path(datasets.__file__).resolve().parents[2].parent / "shared" / "data"
    # run from a directory whose ../shared/data does not exist: only the package-relative path counts
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    found = jio.find_shared_data()
    assert found == (repo_default.resolve() if repo_default.is_dir() else None)
    # a cwd-relative ../shared/data is found when the package-relative one is absent
    (tmp_path / "a" / "shared" / "data").mkdir(parents=True)
    monkeypatch.setattr(datasets, "__file__", str(tmp_path / "x" / "pkg" / "io" / "datasets.py"))
    assert jio.find_shared_data() == (tmp_path / "a" / "shared" / "data").resolve()
    (tmp_path / "a" / "shared" / "data").rmdir()
    assert jio.find_shared_data() is None
    with pytest.raises(DataFileError, match="TOI-5807 data not found"):
        jio.load_toi5807()
    with pytest.raises(DataFileError, match="sector\\{55,75,82,83\\}_pdcsap.csv not found"):
        jio.load_toi5807(tmp_path)


def test_toi5807_candidate():
    c = jio.toi5807_candidate(depth_ppm=250.0)
    assert (c.period_days, c.t0_btjd, c.duration_hours) == (14.2423724, 3540.26317, 4.046)
    assert (c.stellar_radius, c.stellar_mass, c.id, c.depth_ppm) == (1.65, 1.47, "TOI-5807.01", 250.0)


def test_stitch_of_read_files_matches_data_stitch(tmp_path):
    """read_lightcurves == jaxvet.data.stitch of the individually read files."""
    rng = np.random.default_rng(11)
    paths, lcs = [], []
    for s, (lo, scale) in {4: (100.0, 50.0), 2: (60.0, 3.0)}.items():
        t = lo + np.sort(rng.uniform(0, 20, 200))
        f = scale * (1 + 1e-3 * rng.standard_normal(200))
        p = tmp_path / f"sector{s}.csv"
        lines = [f"{float(a)!r},{float(b)!r},{1e-3 * scale!r}" for a, b in zip(t, f, strict=True)]
        p.write_text("time,flux,flux_err\n" + "\n".join(lines))
        paths.append(p)
        lcs.append(jio.read_lightcurve(p))
    got = jio.read_lightcurves(paths)
    ref = stitch(lcs)
    np.testing.assert_array_equal(got.time, ref.time)
    np.testing.assert_array_equal(got.flux, ref.flux)
    assert got.sectors == [2, 4] and np.all(np.diff(got.time) >= 0)


def test_gzip_and_glob(tmp_path):
    import gzip

    body = "time,flux,flux_err\n1,1,0.1\n2,1,0.1\n"
    (tmp_path / "sector9.csv.gz").write_bytes(gzip.compress(body.encode()))
    lc = jio.read_lightcurve(tmp_path / "sector9.csv.gz")
    assert len(lc) == 2 and lc.sectors == [9]
    shutil.copy(tmp_path / "sector9.csv.gz", tmp_path / "sector10.csv.gz")
    lc = jio.read_lightcurves(os.path.join(tmp_path, "sector*.csv.gz"))
    assert lc.sectors == [9, 10] and len(glob.glob(str(tmp_path / "*.gz"))) == 2


# -------------------------------------------------------------------------------------------
# sector ids from the times (split_sectors=True, what the command line does)
# -------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_split_sectors_real_multi_sector_tables(data):
    """TOI-421 (S5+S6) and pi Men (S1, 4, 8, 11, 12, 13; PROVENANCE.md) are cut into their sectors."""
    lc = jio.read_lightcurve(data / "tic94986319" / "94986319_data.txt", split_sectors=True)
    assert lc.sectors == [5, 6] and lc.provenance.sector_source == "time (TESS sector schedule)"
    assert np.all(lc.time[lc.sector == 5] < 1464.5) and np.all(lc.time[lc.sector == 6] > 1464.5)
    with pytest.warns(jio.JaxvetDataWarning, match="constant placeholder"):
        pimen = jio.read_lightcurve(data / "tic261136679" / "TESS.csv", split_sectors=True)
    assert pimen.sectors == [1, 4, 8, 11, 12, 13]
    # files with sector information keep it; Kepler tables are left alone
    toi = jio.read_lightcurve(data / "tic188646744" / "sector55_pdcsap.csv", split_sectors=True)
    assert toi.sectors == [55] and toi.provenance.sector_source == "metadata sector"
    koi = jio.read_lightcurve(data / "tic122374527" / "Kepler_Q2.csv", split_sectors=True)
    assert koi.sectors == [0]


@pytest.mark.realdata
def test_csv_with_fits_keeps_both_sectors(data, tmp_path):
    """A sector-less CSV of WASP-18 S3 vetted with TOI-813's S5 FITS: sectors 3 and 5, not 0."""
    csv_path = data / "tic100100827" / "wasp18b_flat_lightcurve.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jio.JaxvetDataWarning)  # two different targets
        lc = jio.read_lightcurves(
            [csv_path, data / "tic55525572" / "tic55525572_lc.fits"], split_sectors=True
        )
    assert lc.sectors == [3, 5]
    assert [p.sector_source for p in lc.provenance.parts] == ["time (TESS sector schedule)", "header SECTOR"]


def test_tess_sectors_from_time_synthetic():
    from jaxvet.io.sectors import TESS_SECTOR1_START_BTJD as T1
    from jaxvet.io.sectors import TESS_SECTOR_DAYS as DS
    from jaxvet.io.sectors import tess_sectors_from_time

    # sectors 20 and 21: two orbits each, 1-d gaps between orbits and sectors, 2-min cadence
    pieces = []
    for s in (20, 21):
        start = T1 + DS * (s - 1)
        pieces += [
            np.arange(start + 0.2, start + 13.0, 1 / 720),
            np.arange(start + 14.0, start + 26.8, 1 / 720),
        ]
    t = np.concatenate(pieces)
    got = tess_sectors_from_time(t)
    np.testing.assert_array_equal(np.unique(got), [20, 21])
    assert np.all(got[t < T1 + DS * 20] == 20)
    assert tess_sectors_from_time(np.array([-1900.0, -1899.9])) is None  # Kepler era: not TESS
    assert tess_sectors_from_time(np.array([1500.0, np.nan])) is None
    # through read_lightcurve: a sector column wins; sector= wins over the estimate
    assert jio.from_arrays(t, np.ones_like(t)).sectors == [0]


def test_split_sectors_text_table(tmp_path):
    t = np.concatenate([np.arange(1440.0, 1450.0, 0.01), np.arange(1470.0, 1480.0, 0.01)])
    body = "\n".join(f"{float(a)!r},1.0,0.001" for a in t)
    p = tmp_path / "two.csv"
    p.write_text("time,flux,flux_err\n" + body + "\n")
    assert jio.read_lightcurve(p).sectors == [0]
    lc = jio.read_lightcurve(p, split_sectors=True)
    assert lc.sectors == [5, 6] and any("estimated from the times" in n for n in lc.provenance.notes)
    assert jio.read_lightcurve(p, split_sectors=True, sector=9).sectors == [9]
    q = tmp_path / "col.csv"
    q.write_text("time,flux,flux_err,sector\n" + "\n".join(f"{float(a)!r},1.0,0.001,7" for a in t) + "\n")
    assert jio.read_lightcurve(q, split_sectors=True).sectors == [7]


def test_provenance_is_carried_on_the_light_curve(tmp_path):
    p = tmp_path / "sector4.csv"
    p.write_text("time,flux,flux_err\n1,1,0.1\n2,1,0.1\n")
    lc = jio.read_lightcurve(p)
    assert lc.provenance is jio.read_info(lc) and lc.provenance.sectors == (4,)
    assert lc.select(np.array([True, False])).provenance is None
    assert stitch([lc]).provenance is None


@pytest.mark.parametrize("err_column", [None, "zeros"])
def test_missing_or_zero_flux_err_is_estimated_with_a_warning(tmp_path, err_column):
    from jaxvet.io import JaxvetDataWarning, read_lightcurve

    rng = np.random.default_rng(5)
    t = 2000.0 + np.arange(500) * 0.01
    f = 1.0 + 1e-3 * rng.normal(size=t.size)
    path = tmp_path / "lc.csv"
    if err_column is None:
        np.savetxt(path, np.c_[t, f], delimiter=",", header="time,flux", comments="")
    else:
        np.savetxt(path, np.c_[t, f, 0 * f], delimiter=",", header="time,flux,flux_err", comments="")
    with pytest.warns(JaxvetDataWarning, match=r"lc\.csv.*flux_err set to the flux's point-to-point scatter"):
        lc = read_lightcurve(path)
    assert np.all(lc.flux_err == lc.flux_err[0]) and 0.7e-3 < lc.flux_err[0] < 1.3e-3
    kept = read_lightcurve(path, flux_err_placeholder="keep")
    assert np.all(kept.flux_err == 0)
    assert any("reference's convention" in n for n in kept.provenance.notes)
