"""V13 data gaps: numpy oracle on a random padded batch, known missing fractions, the reference's
own outputs (TOI-5807 and 20 random ephemerides), edge inputs, options, no recompilation."""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest

from jaxvet.checks import get_check, resolve_checks
from jaxvet.checks import v13_data_gaps as V13
from jaxvet.data import Candidate, LightCurve, stitch
from jaxvet.engine.context import VetContext, to_host
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import simulate_lightcurve
from tests.conftest import REPO
from tests.oracles import v13_v15_oracle as orc

SPEC = V13.SPEC
RTOL = 1e-9
GOLDEN = REPO / "tests" / "data" / "reference_v13_v15.json"


def host_points(lc: LightCurve):
    v = lc.valid
    return lc.time[v], lc.flux[v]


@functools.lru_cache(maxsize=1)
def random_batch(seed: int = 13):
    """Light curves of very different sizes (one padded batch) and candidates hitting every
    branch: gaps, a 30-point and an 8-point light curve, 30-min sparse data, points only in
    transit, repeated time stamps (no positive step), a duration of half the period."""
    rng = np.random.default_rng(seed)
    a = simulate_lightcurve(seed, sectors=(1,), white_ppm=800.0, cadence_min=10.0)
    keep = np.ones(len(a), bool)
    for lo in rng.uniform(a.time[0], a.time[-1], 8):
        keep &= ~((a.time > lo) & (a.time < lo + rng.uniform(0.05, 0.8)))
    a = a.select(keep)
    t_b = 2000.0 + np.arange(30) * 2 / 1440
    b = LightCurve(t_b, 1 + 1e-4 * rng.standard_normal(30), np.full(30, 1e-4))
    c = LightCurve(2000.0 + np.arange(8) * 0.01, np.ones(8))
    t_d = 2000.0 + np.arange(144) / 48
    d = LightCurve(t_d, 1 + 2e-4 * rng.standard_normal(144), np.full(144, 2e-4))
    t_e = 2001.0 + np.linspace(-0.45, 0.45, 60) * 0.25
    e = LightCurve(t_e, 1 + 1e-4 * rng.standard_normal(60), np.full(60, 1e-4))
    f = LightCurve(np.full(12, 2000.5), np.ones(12))
    lcs = [a, b, c, d, e, f]
    cands, lci = [], []
    for _ in range(9):
        P = float(rng.uniform(0.7, 9.0))
        cands.append(Candidate(P, 2000.0 + float(rng.uniform(0, P)), float(rng.uniform(1.0, 8.0))))
        lci.append(0)
    extra = [
        (Candidate(0.8, 2000.3, 10.0), 0),  # D >= P/2: the engine's guard
        (Candidate(1.0, 2000.02, 2.0), 1),
        (Candidate(3.0, 2000.0, 2.0), 2),
        (Candidate(10.0, 2001.5, 1.0), 3),
        (Candidate(10.0, 2001.0, 6.0), 4),
        (Candidate(2.0, 2000.4, 2.0), 5),
    ]
    cands += [c for c, _ in extra]
    lci += [i for _, i in extra]
    return lcs, cands, lci, VetContext.build(lcs, cands, lc_index=lci)


def _assert_like(r, want, guard=False):
    assert r.metrics == want["metrics"] and list(r.metrics) == list(want["metrics"])
    notes = want["notes"] + (["duration_too_long_relative_to_period"] if guard else [])
    assert r.notes == notes
    assert r.flags == (["DURATION_TOO_LONG"] if guard else [])
    assert r.confidence == want["confidence"]
    assert r.status == "ok" and r.verdict is None and r.id == "V13" and r.name == "Data Gaps"


def test_random_batch_matches_oracle():
    lcs, cands, lci, ctx = random_batch()
    results = SPEC.run(ctx)
    seen = set()
    for r, c, li in zip(results, cands, lci, strict=True):
        t, _ = host_points(lcs[li])
        want = orc.v13(t, c.period_days, c.t0_btjd, c.duration_hours)
        _assert_like(r, want, guard=c.duration_days >= 0.5 * c.period_days)
        if "worst" in want:
            got = r.raw["worst_epochs"]
            assert [w["epoch_index"] for w in got] == [w["epoch_index"] for w in want["worst"]]
            for g, w in zip(got, want["worst"], strict=True):
                assert g["n_observed"] == w["n_observed"] and g["n_expected"] == w["n_expected"]
                assert math.isclose(g["missing_frac"], w["missing_frac"], rel_tol=RTOL, abs_tol=1e-15)
                assert math.isclose(g["t_center_btjd"], w["t_center_btjd"], rel_tol=1e-15)
        seen.update(r.notes)
        seen.add(r.confidence)
    assert {"insufficient_time_points", "cadence_fallback_default", 0.2, 0.75} <= seen
    assert any(r.metrics.get("n_epochs_excluded_no_coverage", 0) > 0 for r in results)


def test_known_missing_fractions():
    """2-min cadence, P = 4 d, D = 3 h (window +-6 h = 361 cadences): epochs with 25%, 50%
    and 100% of their window removed (the last keeps data elsewhere in its half-period span)."""
    lc = simulate_lightcurve(1, sectors=(1,), white_ppm=300.0, orbit_gap_days=0.0)
    P, t0, dh = 4.0, 2001.0, 3.0
    hw = 2 * dh / 24
    k = np.floor((lc.time - t0 + P / 2) / P)
    dt = lc.time - (t0 + k * P)
    drop = ((k == 1) & (dt >= -hw) & (dt < -hw + 0.3 * 2 * hw)) | ((k == 2) & (dt >= -hw) & (dt < 0)) | (
        (k == 3) & (np.abs(dt) <= hw + 0.01)
    )
    lc = lc.select(~drop)
    (r,) = SPEC.run(VetContext.build(lc, [Candidate(P, t0, dh)]))
    rows = {w["epoch_index"]: w for w in r.raw["worst_epochs"]}
    assert rows[3]["n_observed"] == 0 and rows[3]["missing_frac"] == 1.0
    assert abs(rows[2]["missing_frac"] - 0.5) < 0.01 and abs(rows[1]["missing_frac"] - 0.3) < 0.01
    assert rows[0]["missing_frac"] < 0.01 and rows[0]["n_expected"] == 361
    m = r.metrics
    # epoch 7 (centre 2029.0, after the data) is listed: its half-period span [2027, 2031) holds
    # the last 0.35 d of data, its +-6 h window none (the reference's quirk)
    assert rows[7]["n_observed"] == 0 and m["n_epochs_evaluated"] == 8
    assert m["missing_frac_max"] == 1.0 and m["n_epochs_missing_ge_0p25"] == 4
    assert m["n_epochs_excluded_no_coverage"] == 2 and m["n_epochs_missing_ge_0p25_in_coverage"] == 2
    assert m["missing_frac_max_in_coverage"] == round(rows[2]["missing_frac"], 3)
    pd = r.raw["plot_data"]
    assert pd["epoch_centers_btjd"] == sorted(pd["epoch_centers_btjd"]) and pd["transit_window_hours"] == 12.0


# ------------------------------------------------------------------------------------------
# the reference's own outputs
# ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def golden_context(data_dir: str):
    """TOI-5807.01 on both subsets and the 20 random ephemerides, one context (one batch)."""
    gold = json.loads(GOLDEN.read_text())
    secs = {}
    for s in (55, 75, 82, 83):
        d = np.loadtxt(f"{data_dir}/sector{s}_pdcsap.csv", delimiter=",", comments="#", skiprows=13)
        secs[s] = LightCurve(d[:, 0], d[:, 1], d[:, 2], d[:, 3].astype(int), sector=s)
    names = list(gold["inputs"]["subsets"])
    lcs = [stitch([secs[s] for s in gold["inputs"]["subsets"][n]]) for n in names]
    e = gold["inputs"]["ephemeris"]
    rows = [dict(e, subset=n, **gold["toi5807"][n]) for n in names] + gold["random"]
    cands = [Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"]) for r in rows]
    ctx = VetContext.build(lcs, cands, lc_index=[names.index(r["subset"]) for r in rows])
    return ctx, rows


@pytest.mark.realdata
def test_reference_golden(toi5807_dir):
    if not GOLDEN.exists():
        pytest.skip("tests/data/reference_v13_v15.json not generated")
    ctx, rows = golden_context(str(toi5807_dir))
    host = to_host(SPEC.dispatch(ctx))
    results = SPEC.finish(ctx, host)
    worst_rel = 0.0
    for i, (r, g) in enumerate(zip(results, rows, strict=True)):
        ref = g["V13"]
        assert r.metrics == ref["metrics"] and list(r.metrics) == list(ref["metrics"]), i
        assert (r.notes, r.flags, r.status) == (ref["notes"], ref["flags"], "ok")
        assert r.confidence == ref["confidence"]
        assert r.raw["worst_epochs"] == ref["raw"]["worst_epochs"]
        assert r.raw["plot_data"] == ref["raw"]["plot_data"]
        unr = g["unrounded"]["V13"]
        for k in ("missing_frac_max", "missing_frac_median", "missing_frac_max_in_coverage",
                  "missing_frac_median_in_coverage"):  # fmt: skip
            if unr[k] is not None:
                assert math.isclose(host[k][i], unr[k], rel_tol=RTOL, abs_tol=1e-15), (i, k)
                worst_rel = max(worst_rel, abs(host[k][i] - unr[k]) / max(abs(unr[k]), 1e-300))
    assert len(results) == 22 and worst_rel <= RTOL
    toi = results[0].metrics
    assert toi["n_epochs_evaluated"] == 10 and toi["n_epochs_excluded_no_coverage"] == 2


# ------------------------------------------------------------------------------------------
# options, edge inputs, compilation
# ------------------------------------------------------------------------------------------
def test_traced_options_do_not_recompile_and_apply():
    lc = simulate_lightcurve(3, sectors=(1,))
    ctx = VetContext.build(lc, [Candidate(5.0, 2001.0, 3.0)])
    base = SPEC.run(ctx)[0]
    before = V13.data_gaps_kernel._cache_size()
    capped = SPEC.run(dataclasses.replace(ctx, options={"V13": {"max_expected_points": 100}}))[0]
    wide = {"V13": {"min_expected_points": 400, "max_expected_points": 500}}
    floor = SPEC.run(dataclasses.replace(ctx, options=wide))[0]
    assert V13.data_gaps_kernel._cache_size() == before
    assert base.raw["worst_epochs"][0]["n_expected"] == 361
    assert all(w["n_expected"] == 100 and w["missing_frac"] == 0.0 for w in capped.raw["worst_epochs"])
    assert all(w["n_expected"] == 400 for w in floor.raw["worst_epochs"])
    assert floor.metrics["missing_frac_max"] >= round(1 - 361 / 400, 3)


def test_window_mult_and_max_rows():
    lc = simulate_lightcurve(4, sectors=(1,))
    ctx = VetContext.build(lc, [Candidate(3.0, 2001.0, 2.0)], lc_index=0)
    r = SPEC.run(dataclasses.replace(ctx, options={"V13": {"window_mult": 1.0, "max_epoch_rows": 2}}))[0]
    t, _ = host_points(lc)
    want = orc.v13(t, 3.0, 2001.0, 2.0, window_mult=1.0, max_rows=2)
    _assert_like(r, want)
    assert len(r.raw["worst_epochs"]) == 2 and r.raw["worst_epochs"][0]["n_expected"] == 121


@pytest.mark.parametrize(
    "opts, name",
    [({"window_mult": 0.0}, "window_mult"), ({"min_expected_points": 0}, "min_expected_points"),
     ({"min_expected_points": 50, "max_expected_points": 10}, "min_expected_points"),
     ({"max_epoch_rowz": 3}, "max_epoch_rowz")],
)  # fmt: skip
def test_bad_options_raise_naming_them(opts, name):
    with pytest.raises(JaxvetInputError, match=name):
        SPEC.resolve_options(opts)


def test_registry_and_cli_ids():
    assert get_check("V13") is SPEC and "V13" in resolve_checks("all")
    assert resolve_checks("V13,V15") == ["V13", "V15"]
    out = to_host(SPEC.dispatch(random_batch()[3]))
    for m in SPEC.summary_metrics:
        assert out[m].shape == (len(random_batch()[1]),), m
