"""V11b ModShift uniqueness: numpy oracle on a random padded batch, an eclipsing binary against a
planet, the reference's own outputs (TOI-5807 and random ephemerides), edge inputs, options,
no recompilation, registry and CLI ids (the lower-case ``b``)."""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest

from jaxvet.checks import canonical_id, get_check, headline_metrics, resolve_checks
from jaxvet.checks import v11b_modshift_uniqueness as V11B
from jaxvet.data import Candidate, LightCurve, stitch
from jaxvet.engine.context import VetContext, to_host
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import simulate_lightcurve
from tests.conftest import REPO
from tests.oracles import v11b_oracle as orc

SPEC = V11B.SPEC
RTOL = 1e-9
GOLDEN = REPO / "tests" / "data" / "reference_v11.json"
#: golden rows checked here (TOI-5807 on both subsets + the first random ephemerides; all 22
#: agree to 8e-11, measured with benchmarks/reference_golden_v11.py's output)
N_GOLDEN_ROWS = 6
_FLOATS = ("sig_pri", "sig_sec", "sig_ter", "sig_pos", "fred", "fa1", "fa2", "ms1", "ms2", "ms3",
           "ms4", "ms5", "ms6", "med_chases", "chi")  # fmt: skip


def _close(a, b, rtol=RTOL):
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None or math.isnan(a)
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)


def _assert_like(r, want):
    if want["status"] == "error":
        assert r.status == "error" and r.flags == ["ERROR:modshift_error"], r
        assert r.notes == want["warnings"]
        return
    assert r.status == "ok" and r.flags == want["warnings"] and r.confidence == 0.9 and r.verdict is None
    for k in _FLOATS:
        assert _close(r.metrics[k], want[k]), (k, r.metrics[k], want[k])
    for k in ("n_in", "n_out", "n_transits"):
        assert r.metrics[k] == want[k], k


@functools.lru_cache(maxsize=2)
def random_batch(seed: int = 11):
    """Light curves of different sizes in one padded batch (30-min cadence, gaps, a light curve
    with some zero errors, a 12-point one, one without errors) and candidates hitting the
    branches: short durations (empty bins), D >= P/2, few transits, points only in transit."""
    rng = np.random.default_rng(seed)
    a = simulate_lightcurve(seed, sectors=(1,), white_ppm=500.0, cadence_min=30.0)
    keep = np.ones(len(a), bool)
    for lo in rng.uniform(a.time[0], a.time[-1], 5):
        keep &= ~((a.time > lo) & (a.time < lo + rng.uniform(0.1, 0.8)))
    a = a.select(keep)
    t_b = 2000.0 + np.arange(300) / 48
    e_b = np.full(300, 3e-4)
    e_b[::7] = 0.0  # unusable points inside the row
    b = LightCurve(t_b, 1 + 3e-4 * rng.standard_normal(300), e_b)
    c = LightCurve(2000.0 + np.arange(12) * 0.3, 1 + 1e-4 * rng.standard_normal(12), np.full(12, 1e-4))
    d = LightCurve(2000.0 + np.arange(50) * 0.02, np.ones(50))  # no flux_err: zeros
    t_e = 2001.0 + np.linspace(-0.04, 0.04, 40)
    e = LightCurve(t_e, 1 + 1e-4 * rng.standard_normal(40), np.full(40, 1e-4))
    lcs = [a, b, c, d, e]
    cands, lci = [], []
    for _ in range(6):
        P = float(rng.uniform(0.7, 6.0))
        cands.append(
            Candidate(P, 2000.0 + float(rng.uniform(0, P)), float(rng.uniform(0.5, 6.0)), depth_ppm=500.0)
        )
        lci.append(0)
    extra = [
        (Candidate(9.0, 2003.0, 0.5, depth_ppm=100.0), 0),  # qtran 0.0023: bins without points
        (Candidate(0.8, 2000.3, 10.0, depth_ppm=100.0), 0),  # D >= P/2 -> qtran 0.49
        (Candidate(1.3, 2000.4, 2.0, depth_ppm=100.0), 1),
        (Candidate(4.0, 2000.4, 2.0, depth_ppm=100.0), 1),  # 2 epochs: FEW_TRANSITS
        (Candidate(0.5, 2000.1, 2.0, depth_ppm=100.0), 2),
        (Candidate(1.0, 2000.2, 2.0, depth_ppm=100.0), 3),  # no errors: INSUFFICIENT_VALID_DATA
        (Candidate(10.0, 2001.0, 4.0, depth_ppm=100.0), 4),  # all in transit
        (Candidate(3.0, 2001.0, 2.0), 0),  # no depth: skipped
    ]
    cands += [c for c, _ in extra]
    lci += [i for _, i in extra]
    return lcs, cands, lci, VetContext.build(lcs, cands, lc_index=lci)


@pytest.mark.parametrize("seed", [11, 12])
def test_random_batch_matches_oracle(seed):
    lcs, cands, lci, ctx = random_batch(seed)
    results = SPEC.run(ctx)
    seen = set()
    for r, c, li in zip(results, cands, lci, strict=True):
        if c.depth_ppm is None:
            assert r.status == "skipped" and r.flags == ["SKIPPED:MISSING_DEPTH"] and not r.metrics
            continue
        lc = lcs[li]
        v = lc.valid
        want = orc.v11b(lc.time[v], lc.flux[v], lc.flux_err[v], c.period_days, c.t0_btjd, c.duration_hours)
        _assert_like(r, want)
        seen.update(r.flags + r.notes)
    assert {"DURATION_TOO_LONG", "FEW_TRANSITS", "INSUFFICIENT_VALID_DATA",
            "INSUFFICIENT_OUT_OF_TRANSIT"} <= seen  # fmt: skip


def _inject(lc, P, t0, dh, depth, sec_depth=0.0):
    ph = ((lc.time - t0) / P + 0.5) % 1 - 0.5
    f = lc.flux.copy()
    half = dh / 24 / P / 2
    f[np.abs(ph) < half] -= depth
    f[np.abs(np.abs(ph) - 0.5) < half] -= sec_depth
    return LightCurve(lc.time, f, lc.flux_err)


def test_eclipsing_binary_against_planet():
    """Known truth: an EB with a 2000 ppm secondary at phase 0.5 has a secondary MES near its
    primary's and MS4 > 0 (secondary significant); a planet's secondary is noise-like."""
    base = simulate_lightcurve(5, sectors=(1,), white_ppm=250.0, cadence_min=30.0)
    P, t0, dh = 2.5, 2000.7, 3.0
    eb = _inject(base, P, t0, dh, 4000e-6, 2000e-6)
    pl = _inject(base, P, t0, dh, 1500e-6)
    cands = [Candidate(P, t0, dh, depth_ppm=4000.0), Candidate(P, t0, dh, depth_ppm=1500.0)]
    r_eb, r_pl = SPEC.run(VetContext.build([eb, pl], cands, lc_index=[0, 1]))
    m_eb, m_pl = r_eb.metrics, r_pl.metrics
    assert m_eb["sig_pri"] > 10 and m_pl["sig_pri"] > 10
    # secondary MES / primary MES tracks the depth ratio 0.5; the Robovetter EB rule
    # (MS4 > 0, MS5 > -1, MS6 > -1) fires for the EB only
    assert 0.35 < m_eb["secondary_primary_ratio"] < 0.65 and m_pl["secondary_primary_ratio"] < 0.2
    assert m_eb["ms4"] > 0 and m_eb["ms5"] > -1 and m_eb["ms6"] > -1
    assert m_pl["ms4"] < 0 and m_pl["ms5"] < -1
    assert abs(r_eb.raw["sig_sec"] - m_eb["sig_sec"]) == 0.0
    host = to_host(SPEC.dispatch(VetContext.build([eb], cands[:1])))
    assert abs(abs(float(host["phs_sec"][0])) - 0.5) < 0.02  # the secondary found at phase 0.5


# ------------------------------------------------------------------------------------------
# the reference's own outputs
# ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def golden_context(data_dir: str, n_rows: int | None = N_GOLDEN_ROWS):
    """The golden cases (TOI-5807.01 on both subsets, then the random ephemerides; the first
    ``n_rows``, all with None) as one context, and their reference rows (V11 reuses it)."""
    gold = json.loads(GOLDEN.read_text())
    secs = {}
    for s in (55, 75, 82, 83):
        d = np.loadtxt(f"{data_dir}/sector{s}_pdcsap.csv", delimiter=",", comments="#", skiprows=13)
        secs[s] = LightCurve(d[:, 0], d[:, 1], d[:, 2], d[:, 3].astype(int), sector=s)
    names = list(gold["inputs"]["subsets"])
    lcs = [stitch([secs[s] for s in gold["inputs"]["subsets"][n]]) for n in names]
    e = gold["inputs"]["ephemeris"]
    rows = ([dict(e, subset=n, **gold["toi5807"][n]) for n in names] + gold["random"])[:n_rows]
    cands = [Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"], depth_ppm=r["depth_ppm"])
             for r in rows]  # fmt: skip
    ctx = VetContext.build(lcs, cands, lc_index=[names.index(r["subset"]) for r in rows])
    return ctx, rows


@pytest.mark.realdata
def test_reference_golden(toi5807_dir):
    if not GOLDEN.exists():
        pytest.skip("tests/data/reference_v11.json not generated")
    ctx, rows = golden_context(str(toi5807_dir))
    results = SPEC.run(ctx)
    worst = 0.0
    for i, (r, g) in enumerate(zip(results, rows, strict=True)):
        ref = g["V11b"]
        assert (r.status, r.flags, r.notes, r.confidence) == (ref["status"], ref["flags"], ref["notes"],
                                                              ref["confidence"]), i  # fmt: skip
        assert list(r.metrics) == list(ref["metrics"]), i
        for k, v in ref["metrics"].items():
            if isinstance(v, int):
                assert r.metrics[k] == v, (i, k)
            else:
                assert _close(r.metrics[k], v), (i, k, r.metrics[k], v)
                worst = max(worst, abs(r.metrics[k] - v) / abs(v))
        assert set(r.raw) == set(ref["raw"]) and r.raw["status"] == ref["raw"]["status"]
    assert worst <= RTOL
    toi = results[0].metrics
    assert toi["n_transits"] == 10 and toi["ms4"] < 0 and toi["sig_pri"] > 13


# ------------------------------------------------------------------------------------------
# options, edge inputs, compilation, ids
# ------------------------------------------------------------------------------------------
def test_traced_options_do_not_recompile_and_apply():
    lc = simulate_lightcurve(3, sectors=(1,), cadence_min=30.0, white_ppm=300.0)
    lc = _inject(lc, 3.0, 2001.0, 3.0, 800e-6)
    ctx = VetContext.build(lc, [Candidate(3.0, 2001.0, 3.0, depth_ppm=800.0)])
    base = SPEC.run(ctx)[0].metrics
    before = V11B.modshift_kernel._cache_size()
    alt = SPEC.run(dataclasses.replace(ctx, options={"V11b": {"n_tce": 100, "chases_frac": 5.0}}))[0].metrics
    assert V11B.modshift_kernel._cache_size() == before
    assert alt["fa1"] < base["fa1"] and alt["fa2"] == base["fa2"] and alt["ms1"] > base["ms1"]
    t, f, e = lc.time, lc.flux, lc.flux_err
    want = orc.v11b(t, f, e, 3.0, 2001.0, 3.0, n_tce=100, frac=5.0)
    assert _close(alt["fa1"], want["fa1"]) and _close(alt["med_chases"], want["med_chases"])


@pytest.mark.parametrize(
    "opts, name",
    [({"n_tce": 0}, "n_tce"), ({"chases_frac": 0.0}, "chases_frac"), ({"n_bins": 2}, "n_bins"),
     ({"ntce": 3}, "ntce")],
)  # fmt: skip
def test_bad_options_raise_naming_them(opts, name):
    with pytest.raises(JaxvetInputError, match=name):
        SPEC.resolve_options(opts)


def test_registry_ids_lower_case_b():
    assert get_check("V11b") is SPEC and get_check("v11b") is SPEC and get_check("V11B") is SPEC
    assert canonical_id(" v11b ") == "V11b" and canonical_id("v01") == "V01"
    assert "V11b" in resolve_checks("all") and resolve_checks("v11b,V13") == ["V11b", "V13"]
    assert headline_metrics("v11b") == ("ms4", "ms1", "sig_sec")
    out = to_host(SPEC.dispatch(random_batch()[3]))
    for m in SPEC.summary_metrics:
        assert out[m].shape == (len(random_batch()[1]),), m


def test_cli_checks_v11b(tmp_path, capsys):
    """``jaxvet vet --checks v11b`` with a depth and an option: the JSON equals ``vet()``'s."""
    from jaxvet.cli.main import main
    from jaxvet.engine.runner import vet

    lc = _inject(
        simulate_lightcurve(7, sectors=(1,), cadence_min=30.0, white_ppm=300.0), 3.0, 2001.0, 3.0, 1e-3
    )
    p = tmp_path / "sector1_pdcsap.csv"
    with p.open("w") as fh:
        fh.write("# tic_id: 1\n# sector: 1\n#\ntime_btjd,flux,flux_err,quality\n")
        for t, f, e in zip(lc.time, lc.flux, lc.flux_err, strict=True):
            fh.write(f"{float(t)!r},{float(f)!r},{float(e)!r},0\n")
    argv = ["vet", str(p), "--period", "3", "--t0", "2001", "--duration-hours", "3", "--depth-ppm", "1000",
            "--checks", "v11b", "--option", "v11b.n_tce=500", "--json", "-", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)["candidates"][0]["checks"]
    assert set(doc) == {"V11b"} and doc["V11b"]["status"] == "ok"
    c = Candidate(3.0, 2001.0, 3.0, depth_ppm=1000.0)
    py = vet(stitch([lc]), [c], ["V11b"], options={"v11b": {"n_tce": 500}})
    assert doc["V11b"]["metrics"] == pytest.approx(py.results[0]["V11b"].metrics, rel=1e-12)
    assert py.results[0]["V11b"].metrics["fa1"] == pytest.approx(
        orc.v11b(lc.time, lc.flux, lc.flux_err, 3.0, 2001.0, 3.0, n_tce=500)["fa1"], rel=RTOL
    )
