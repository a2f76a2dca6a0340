"""Dispositions: the policy format, one known-truth case per reason code, overrides, bad policy
files, the outputs (JSON, table, CLI summary, sheet) and the campaign rates."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from jaxvet.campaigns.summary import (
    FALSE_ALARM_KINDS,
    disposition_effectiveness,
    disposition_rates,
    estimated_reliability,
    report_reliability,
)
from jaxvet.data import Candidate
from jaxvet.disposition import Policy, default_policy, dispose, dispose_many, load_policy, policy_from_dict
from jaxvet.errors import JaxvetInputError
from jaxvet.outputs.report import VetReport
from jaxvet.results import CheckResult


def res(cid, verdict="pass", status="ok", **metrics):
    return CheckResult(id=cid, name=cid, status=status, verdict=verdict, metrics=metrics)


def clean() -> dict[str, CheckResult]:
    """A planet's results: every check the default policy names, every metric it reads, all quiet."""
    return {
        "V01": res("V01", oe_box_sigma_robust=0.4, oe_box_rel_diff_robust=0.01),
        "V02": res("V02", secondary_local_depth_sigma=0.3),
        "V04": res("V04", chi2_box_reduced=1.1, rms_scatter=0.05),
        "V05": res("V05", grazing_indicator="normal", t_total_hours=4.1, t_total_max_hours=8.0),
        "V08": res("V08", None, significance_sigma=1.0, centroid_shift_pixels=0.02),
        "V09": res("V09", diff_offset_pixels=0.1),
        "V10": res("V10", None, stability_metric=0.95, aperture_depth_sign_flip=False),
        "V11": res("V11", "pass", secondary_signal=2.0, false_alarm_threshold=3.0,
                   secondary_primary_ratio=0.1, primary_signal=20.0),
        "V11b": res("V11b", None, ms1=5.0, ms2=8.0, ms3=9.0, ms4=-3.0, ms5=-1.0, ms6=-1.0,
                    secondary_primary_ratio=0.05),
        "V12": res("V12", None, snr_at_period=1.0, snr_half_period=0.5),
        "V13": res("V13", None, n_epochs_missing_ge_0p25_in_coverage=0, n_epochs_evaluated_in_coverage=10),
        "V16": res("V16", None, winner="transit_only", model_competition_label="TRANSIT"),
        "V19": res("V19", None, best_other_over_base_score_ratio=0.6, systematic_within_threshold=False),
        "V20": res("V20", None, ghost_like_score=0.2, scattered_light_risk=0.1),
        "V21": res("V21", "pass", chi2_p_value=0.4),
        "V25": res("V25", "pass", chi2_p_value=0.5),
    }


def with_(cid, verdict=None, **metrics) -> dict[str, CheckResult]:
    out = clean()
    r = out[cid]
    out[cid] = res(cid, r.verdict if verdict is None else verdict, **{**r.metrics, **metrics})
    return out


# (reason code, results, run-level flags, expected class)
CASES = [
    ("NO_TRANSIT_ON_DATA", clean(), ["NO_TRANSIT_ON_DATA", "NO_SIGNAL"], "FA"),
    ("NO_SIGNAL", with_("V05", verdict="fail", grazing_indicator="likely_eb"), ["NO_SIGNAL"], "FA"),
    ("OOT_VARIABILITY", clean(), ["OOT_VARIABILITY"], "PC"),
    ("ODD_EVEN", with_("V01", "fail", oe_box_sigma_robust=36.6, oe_box_rel_diff_robust=0.45), [], "FP"),
    ("SECONDARY_ECLIPSE", with_("V02", "fail"), [], "FP"),
    ("SECONDARY_MODSHIFT", with_("V11", "fail", secondary_primary_ratio=0.5), [], "FP"),
    ("SECONDARY_UNIQUE", with_("V11b", ms4=4.0, ms5=2.0, ms6=3.0, secondary_primary_ratio=0.4), [], "FP"),
    ("V_SHAPE", with_("V05", "fail", grazing_indicator="likely_eb"), [], "FP"),
    ("OFF_TARGET", with_("V09", "fail"), [], "FP"),
    ("CENTROID_SHIFT", with_("V08", significance_sigma=8.0, centroid_shift_pixels=0.6), [], "FP"),
    ("LOCALIZATION_INCONSISTENT", with_("V25", "warn"), [], "FP"),
    ("APERTURE_DEPENDENCE", with_("V10", aperture_depth_sign_flip=True), [], "FP"),
    ("GHOST", with_("V20", ghost_like_score=0.85), [], "FA"),
    ("SCATTERED_LIGHT", with_("V20", scattered_light_risk=0.9), [], "FA"),
    ("NOT_TRANSIT_SHAPED", with_("V05", t_total_hours=12.0, t_total_max_hours=12.0), [], "FA"),
    ("DEPTH_INSTABILITY", with_("V04", "fail", chi2_box_reduced=40.0, rms_scatter=0.6), [], "FA"),
    ("NOT_UNIQUE", with_("V11b", ms2=-0.5), [], "FA"),
    ("WEAK_VS_RED_NOISE", with_("V11b", ms1=-0.5), [], "PC"),
    ("OOT_SINUSOID", with_("V12", snr_half_period=80.0), [], "FA"),
    ("TRANSITS_IN_GAPS", with_("V13", n_epochs_missing_ge_0p25_in_coverage=7), [], "FA"),
    ("MODEL_PREFERS_SINUSOID", with_("V16", winner="transit_sinusoid", model_competition_label="SINUSOID"),
     [], "PC"),
    ("MODEL_PREFERS_EB", with_("V16", winner="eb_like", model_competition_label="EB_LIKE"), [], "PC"),
    ("SECTOR_INCONSISTENT", with_("V21", "warn", chi2_p_value=1e-6), [], "PC"),
    ("ALIAS", with_("V19", best_other_over_base_score_ratio=1.4), [], "PC"),
    ("SYSTEMATIC_PERIOD", with_("V19", systematic_within_threshold=True), [], "PC"),
]


def test_every_default_reason_code_has_a_case():
    assert {c for c, *_ in CASES} == {r.code for r in default_policy().rules}


@pytest.mark.parametrize("code, results, flags, klass", CASES, ids=[c[0] for c in CASES])
def test_known_truth_case_per_reason_code(code, results, flags, klass):
    d = dispose(results, flags)
    assert code in d["reasons"]
    assert d["class"] == klass
    assert d["policy"] == "jaxvet-default@4"


def test_clean_results_are_pc_and_priorities_order_the_classes():
    assert dispose(clean())["class"] == "PC" and dispose(clean())["reasons"] == []
    # an EB that also scatters in depth: FP (astrophysical) outranks FA (systematics)
    r = with_("V04", "fail", chi2_box_reduced=40.0, rms_scatter=0.6)
    r["V01"] = res("V01", "fail", oe_box_sigma_robust=30.0, oe_box_rel_diff_robust=0.4)
    d = dispose(r)
    assert d["class"] == "FP" and d["reasons"][0] == "ODD_EVEN" and "DEPTH_INSTABILITY" in d["reasons"]


def test_relative_floor_keeps_a_high_snr_planet_with_percent_level_differences():
    # a hot Jupiter: odd/even differ at 23 sigma but by 1 %, depths chi2 535 but scatter 3 %
    r = with_("V01", "fail", oe_box_sigma_robust=23.6, oe_box_rel_diff_robust=0.01)
    r["V04"] = res("V04", "fail", chi2_box_reduced=535.0, rms_scatter=0.03)
    assert dispose(r)["class"] == "PC"


def test_checks_that_did_not_run_or_were_insufficient_contribute_nothing():
    r = with_("V05", "fail", grazing_indicator="likely_eb")
    r["V05"] = res("V05", "insufficient", grazing_indicator="likely_eb")
    r["V01"] = res("V01", None, status="skipped", oe_box_sigma_robust=50.0, oe_box_rel_diff_robust=0.5)
    d = dispose(r)
    assert d["class"] == "PC" and d["reasons"] == [] and "V05" not in d["checks_used"]
    # too little ran: undetermined
    only = {"V01": res("V01", oe_box_sigma_robust=0.1, oe_box_rel_diff_robust=0.0),
            "V05": res("V05", "insufficient", grazing_indicator="normal")}
    assert dispose(only)["class"] == "undetermined"
    assert dispose({})["class"] == "undetermined"
    assert dispose({}, ["NO_SIGNAL"])["class"] == "FA"
    # a metric that was not measured (None / NaN) makes its condition false
    assert dispose(with_("V11b", ms1=None, ms2=float("nan")))["class"] == "PC"


def _override() -> dict:
    return {
        "name": "strict", "version": "2", "min_contributing": 1,
        "rules": [
            {"code": "ODD_EVEN_ANY", "check": "V01", "class": "FP",
             "all": [["oe_box_sigma_robust", ">=", 0.3]]},
            {"code": "DEEP_SCATTER", "check": "V04", "class": "FA", "verdict": ["warn", "fail"],
             "any": [{"metric": "rms_scatter", "op": ">", "value": 0.01}]},
        ],
    }


def test_policy_override_dict_toml_json_and_object(tmp_path):
    d = dispose(clean(), policy=_override())
    assert d == {"class": "FP", "reasons": ["ODD_EVEN_ANY"], "policy": "strict@2",
                 "checks_used": ["V01", "V04"]}
    js = tmp_path / "p.json"
    js.write_text(json.dumps(_override()))
    toml = tmp_path / "p.toml"
    toml.write_text('name = "strict"\nversion = "2"\nmin_contributing = 1\n[[rules]]\ncode = "ODD_EVEN_ANY"\n'
                    'check = "V01"\nclass = "FP"\nall = [["oe_box_sigma_robust", ">=", 0.3]]\n')
    for p in (js, toml, str(toml)):
        assert dispose(clean(), policy=p)["class"] == "FP"
    pol = load_policy(js)
    assert isinstance(pol, Policy) and dispose(clean(), policy=pol)["policy"] == "strict@2"
    assert policy_from_dict(pol.to_dict()) == pol  # the mapping form round-trips


@pytest.mark.parametrize("edit, key", [
    (lambda p: p["rules"][0].update(check="V99"), "V99"),
    (lambda p: p["rules"][0]["all"][0].__setitem__(1, "~="), "~="),
    (lambda p: p["rules"][0].pop("code"), "'code'"),
    (lambda p: p.pop("version"), "'version'"),
    (lambda p: p["rules"][0].update(**{"class": "EB"}), "EB"),
    (lambda p: p["rules"][0].update(priority="high"), "priority"),
    (lambda p: p["rules"][0]["all"][0].__setitem__(2, "three"), "needs a number"),
    (lambda p: p["rules"][1]["any"][0].update(threshold=1), "threshold"),
    (lambda p: p["rules"][0].update(verdict=["failed"]), "failed"),
    (lambda p: p.update(min_contributing=-1), "min_contributing"),
    (lambda p: p.update(rules="V01"), "rules"),
    (lambda p: p["rules"].append(dict(p["rules"][0])), "duplicate"),
    (lambda p: p["rules"][0].update(typo=1), "typo"),
])
def test_bad_policy_rejected_naming_the_key(edit, key, tmp_path):
    doc = _override()
    edit(doc)
    with pytest.raises(JaxvetInputError, match="disposition policy") as e:
        policy_from_dict(doc)
    assert key in str(e.value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(JaxvetInputError) as e:
        load_policy(path)
    assert key in str(e.value) and "bad.json" in str(e.value)


def test_bad_policy_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(JaxvetInputError, match="not valid TOML"):
        load_policy(bad)
    with pytest.raises(JaxvetInputError, match="cannot read"):
        load_policy(tmp_path / "absent.toml")
    with pytest.raises(JaxvetInputError, match="policy must be"):
        dispose(clean(), policy=3)


def test_unknown_metric_of_a_check_that_ran_is_an_error():
    pol = _override()
    pol["rules"][0]["all"][0][0] = "oe_sigma_typo"
    results = [clean(), clean()]
    with pytest.raises(JaxvetInputError, match="oe_sigma_typo") as e:
        dispose_many(results, None, pol)
    assert "ODD_EVEN_ANY" in str(e.value) and "V01" in str(e.value)
    # the same rule on a check that did not run is fine
    results = [{k: v for k, v in clean().items() if k != "V01"}]
    assert dispose_many(results, None, pol)[0]["class"] == "PC"
    # a text metric compared with a number: an error naming the rule and the metric
    pol["rules"][0]["all"][0] = ["grazing_indicator", ">", 1.0]
    pol["rules"][0]["check"] = "V05"
    with pytest.raises(JaxvetInputError, match="grazing_indicator"):
        dispose(clean(), policy=pol)


def _report() -> VetReport:
    cands = [Candidate(3.0, 2001.0, 2.5, id="planet"), Candidate(2.4, 2000.5, 3.0, id="eb")]
    eb = with_("V05", "fail", grazing_indicator="likely_eb")
    results = [clean(), eb]
    rep = VetReport(candidates=cands, checks=list(clean()), results=results,
                    depth_estimates_ppm=[1000.0, 5000.0])
    rep.dispositions = dispose_many(results, [rep.flags(i) for i in range(2)])
    return rep


def test_json_table_summary_and_sheet_carry_the_disposition(tmp_path):
    from jaxvet.cli.summary import format_summary
    from jaxvet.outputs import validate_report

    rep = _report()
    doc = rep.to_dict(include_raw=False)
    assert [c["disposition"]["class"] for c in doc["candidates"]] == ["PC", "FP"]
    assert doc["candidates"][1]["disposition"]["reasons"] == ["V_SHAPE"]
    pytest.importorskip("jsonschema")
    validate_report(doc)
    t = rep.to_table()
    assert list(t["disposition"]) == ["PC", "FP"] and t["disposition_reasons"][1] == "V_SHAPE"
    assert set(t["disposition_policy"]) == {"jaxvet-default@4"}
    text = format_summary(rep)
    assert "  planet: disposition PC [jaxvet-default@4]" in text
    assert "  eb: disposition FP (V_SHAPE) [jaxvet-default@4]" in text
    import matplotlib

    matplotlib.use("Agg")
    from jaxvet.plotting.sheet import _index_html, plot_sheet

    fig = plot_sheet(rep, 1)
    assert any("disposition FP: V_SHAPE" in x.get_text() for x in fig.texts)
    assert "disposition" in _index_html(rep, [None, None])


def test_report_reliability_and_effectiveness():
    rep = _report()
    assert report_reliability(rep, 0.99) == pytest.approx(1.0)  # no FA in the list
    assert estimated_reliability(100, 10, 0.9) == pytest.approx(1 - 0.1 * 0.1 / 0.9)
    assert estimated_reliability(0, 3, 0.9) is None and estimated_reliability(5, 1, 0.0) is None


def _table(seed=0):
    rng = np.random.default_rng(seed)
    n = 60
    kind = np.array(["planet"] * 30 + ["eb"] * 20 + ["inverted"] * 5 + ["scrambled"] * 5, dtype=object)
    classes = ["PC"] * 27 + ["FA"] * 3 + ["FP"] * 18 + ["PC"] * 2 + ["FA"] * 4 + ["PC"] + ["FA"] * 5
    disp = np.array(classes, dtype=object)
    return {"kind": kind, "disposition": disp, "snr": rng.uniform(5, 60, n),
            "period_days": rng.uniform(1, 20, n)}


def test_disposition_rates_and_effectiveness_are_deterministic():
    bins = (0.0, 10.0, 20.0, np.inf)
    a = disposition_rates(_table(), ("planet", "eb"), bins)
    assert a == disposition_rates(_table(), ("planet", "eb"), bins)
    assert {r["kind"] for r in a} == {"planet", "eb", *FALSE_ALARM_KINDS}
    planet = [r for r in a if r["kind"] == "planet"]
    assert len(planet) == 3 and sum(r["n"] for r in planet) == 30 and sum(r["n_PC"] for r in planet) == 27
    fa = [r for r in a if r["kind"] in FALSE_ALARM_KINDS]
    assert all(r["snr_bin"] is None for r in fa) and [r["n_PC"] for r in fa] == [1, 0]
    for r in a:
        assert r["n"] == r["n_PC"] + r["n_FP"] + r["n_FA"] + r["n_undetermined"]
    e = disposition_effectiveness(_table())
    assert e["n"] == 10 and e["effectiveness"] == pytest.approx(0.9)
    assert e["by_kind"]["scrambled"]["effectiveness"] == 1.0
    assert disposition_effectiveness({"kind": np.array(["planet"]), "disposition": np.array(["PC"])}) is None


def test_disposition_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from jaxvet.plotting.campaign import plot_disposition_rates

    t = _table()
    summary = {"disposition_policy": "jaxvet-default@4",
               "disposition_rates": disposition_rates(t, ("planet", "eb"), (0.0, 10.0, 20.0, np.inf)),
               "disposition_rates_by_period": disposition_rates(t, ("planet", "eb"), (0.0, 5.0, np.inf),
                                                                 "period")}
    axes = plot_disposition_rates(summary)
    assert len(axes[0].lines) > 0 and len(axes[2].patches) == 2


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory):
    from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve

    lc = inject_transits(simulate_lightcurve(5, sectors=(30, 31)), 3.1, 2001.0, 2.5, 2500.0, seed=3)
    paths = []
    for s in (30, 31):
        sel = lc.sector == s
        p = tmp_path_factory.mktemp("lc") / f"sector{s}_pdcsap.csv"
        cols = (lc.time[sel].tolist(), lc.flux[sel].tolist(), lc.flux_err[sel].tolist())
        rows = "".join(f"{t!r},{f!r},{e!r},0\n" for t, f, e in zip(*cols, strict=True))
        p.write_text(f"# tic_id: 1\n# sector: {s}\n#\ntime_btjd,flux,flux_err,quality\n{rows}")
        paths.append(str(p))
    return paths


CAND = ["--period", "3.1", "--t0", "2001.0", "--duration-hours", "2.5"]


def test_cli_rejects_a_bad_policy_before_vetting(sim_csv, tmp_path, capsys):
    from jaxvet.cli.main import main

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nversion = "1"\n[[rules]]\ncode = "A"\ncheck = "V21"\nclass = "EB"\n'
                   'verdict = ["warn"]\n')
    assert main(["vet", *sim_csv, *CAND, "--checks", "V21", "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "class" in err and "'EB'" in err and "bad.toml" in err


def test_cli_and_vet_use_the_given_policy(sim_csv, tmp_path, capsys):
    from jaxvet.cli.main import main

    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"name": "t", "version": "9", "min_contributing": 1, "rules": [
        {"code": "ANY_V21", "check": "V21", "class": "FA", "all": [["chi2_p_value", ">=", 0.0]]}]}))
    out = tmp_path / "out.json"
    assert main(["vet", *sim_csv, *CAND, "--checks", "V21", "--policy", str(pol), "--json", str(out),
                 "--table", str(tmp_path / "t.csv"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "disposition FA (ANY_V21) [t@9]" in text
    doc = json.loads(out.read_text())
    assert doc["candidates"][0]["disposition"] == {"class": "FA", "reasons": ["ANY_V21"], "policy": "t@9",
                                                   "checks_used": ["V21"]}
    assert "disposition_reasons" in (tmp_path / "t.csv").read_text().splitlines()[0]


def test_tiny_campaign_dispositions_are_deterministic(monkeypatch):
    """Two runs of a tiny campaign (a stand-in odd/even check, a policy on it): the same rows'
    dispositions and the same ``disposition_rates``."""
    import jaxvet.disposition as disposition
    from jaxvet.campaigns.lightcurve import run_campaign
    from jaxvet.checks import register, unregister
    from jaxvet.engine.context import CheckSpec
    from jaxvet.results import STATUS_NAMES, VERDICT_NAMES
    from jaxvet.synthetic.lightcurves import simulate_lightcurve

    from .test_campaign import _fake_compute

    def fmt(ctx, opts, a):
        n = ctx.n_candidates
        return [CheckResult(id="XDISP", name="x", status=STATUS_NAMES[int(a["status"][i])],
                            verdict=VERDICT_NAMES[int(a["verdict"][i])] if a["verdict"][i] >= 0 else None,
                            metrics={"delta_sigma": float(a["delta_sigma"][i])}) for i in range(n)]

    spec = register(CheckSpec(id="XDISP", name="x", compute=_fake_compute, format=fmt,
                              summary_metrics=("delta_sigma",)))
    try:
        pol = policy_from_dict({"name": "tiny", "version": "1", "min_contributing": 1, "rules": [
            {"code": "XOE", "check": "XDISP", "class": "FP", "all": [["delta_sigma", ">", 3.0]]}]})
        monkeypatch.setattr(disposition, "default_policy", lambda: pol)
        lc = simulate_lightcurve(0, sectors=(1, 2), cadence_min=30.0, white_ppm=300.0, target="SMALL")
        kw = dict(n_injections=24, checks=[spec], chunk_size=8, plots=False, progress=False, seed=4,
                  injection=dict(period_days="1:5:log", duration_hours="1:4", snr="5:60:log"))
        a, b = run_campaign(lc, **kw), run_campaign(lc, **kw)
    finally:
        unregister("XDISP")
    assert list(a["disposition"]) == list(b["disposition"])
    assert set(a["disposition"]) <= {"PC", "FP", "undetermined"} and "FP" in set(a["disposition"])
    sa, sb = a.meta["summary"], b.meta["summary"]
    assert sa["disposition_rates"] == sb["disposition_rates"] and sa["disposition_policy"] == "tiny@1"
    assert sum(r["n"] for r in sa["disposition_rates"]) == 24
    assert sa["disposition_effectiveness"] is None
    fp = np.asarray(a["disposition"]) == "FP"
    np.testing.assert_array_equal(fp, np.asarray(a["XDISP_delta_sigma"]) > 3.0)


def test_campaign_rows_have_vets_signal_record_and_no_signal_acts():
    """A campaign row's signal record (``jaxvet.campaigns.rows``) is the one ``jaxvet.vet``
    computes for the same candidate and light curve: a flat light curve gives ``NO_SIGNAL``
    (so the run rule ``NO_SIGNAL`` calls it FA in campaigns too), a transit gives its depth."""
    from types import SimpleNamespace

    import jaxvet
    from jaxvet.campaigns.rows import _signal_columns
    from jaxvet.data import CandidateBatch, LightCurveBatch
    from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve

    c = Candidate(3.3, 2001.2, 3.0, depth_ppm=800.0)
    flat = simulate_lightcurve(1, sectors=(1, 2), cadence_min=30.0, white_ppm=300.0)
    dip = inject_transits(flat, 3.3, 2001.2, 3.0, 800.0)
    lcs = [flat, dip]
    batch = SimpleNamespace(lcb=LightCurveBatch.from_lightcurves(lcs),
                            cb=CandidateBatch.from_candidates([c, c], lc_index=[0, 1]))
    params = {"lc_index": np.array([0, 1]), "period_days": np.array([3.3, 3.3]),
              "t0_btjd": np.array([2001.2, 2001.2]), "duration_hours": np.array([3.0, 3.0])}
    cols: dict = {}
    flags = _signal_columns(batch, params, lcs, 2, cols)
    rep = jaxvet.vet(lcs, [c, c], ["V13"], lc_index=[0, 1])
    assert flags == [rep.signal[0]["flags"], rep.signal[1]["flags"]]
    assert "NO_SIGNAL" in flags[0] and "NO_SIGNAL" not in flags[1]
    for i in range(2):
        assert cols["signal_snr"][i] == pytest.approx(rep.signal[i]["snr"], abs=1e-3)
        assert cols["signal_depth_ppm"][i] == pytest.approx(rep.signal[i]["depth_ppm"], abs=1e-3)
        assert cols["signal_n_transits"][i] == rep.signal[i]["n_transits_on_data"]
    assert cols["signal_depth_ppm"][1] == pytest.approx(800.0, rel=0.3)
    assert dispose(clean(), flags[0])["class"] == "FA" and dispose(clean(), flags[1])["class"] == "PC"


def test_redispose_rows_matches_dispose():
    """Rows re-disposed from their columns (``<id>_status``, ``<id>_verdict``, ``<id>_<metric>``,
    ``signal_flags``) get the classes ``dispose`` gives the same results; booleans as 0/1."""
    from jaxvet.disposition.rows import redispose

    rows = [clean(), with_("V01", "fail", oe_box_sigma_robust=8.0, oe_box_rel_diff_robust=0.4),
            with_("V11b", ms2=-1.0), clean()]
    flags = [[], [], [], ["NO_SIGNAL"]]
    cols: dict = {"signal_flags": [";".join(f) for f in flags]}
    for cid in clean():
        cols[f"{cid}_status"] = [r[cid].status for r in rows]
        cols[f"{cid}_verdict"] = [r[cid].verdict or "none" for r in rows]
        for m in rows[0][cid].metrics:
            vals = [r[cid].metrics.get(m) for r in rows]
            cols[f"{cid}_{m}"] = [float(v) if isinstance(v, bool) else v for v in vals]
    got = redispose(cols)
    want = [dispose(r, f) for r, f in zip(rows, flags, strict=True)]
    assert got == want
    assert [d["class"] for d in got] == ["PC", "FP", "FA", "FA"]


def test_not_transit_shaped_known_truth_with_v05():
    """Known truth end to end: at a sinusoid's minimum (variability, no transit) V05's free
    trapezoid runs to its duration ceiling and the policy calls it FA (NOT_TRANSIT_SHAPED); a
    trapezoid transit of the candidate's duration on the same noise is PC."""
    import jaxvet
    from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve

    base = simulate_lightcurve(3, sectors=(1,), cadence_min=20.0, white_ppm=200.0)
    phase = 2 * np.pi * (base.time - 2001.0) / 3.0
    wave = dataclasses.replace(base, flux=base.flux - 3000e-6 * np.cos(phase))
    dip = inject_transits(base, 3.0, 2001.0, 3.0, 800.0)
    c = Candidate(3.0, 2001.0, 3.0, depth_ppm=800.0)
    rep = jaxvet.vet([wave, dip], [c, c], ["V01", "V05"], lc_index=[0, 1],
                     options={"V05": {"n_bootstrap": 8}})
    fit = [rep[i]["V05"].metrics for i in range(2)]
    assert fit[0]["t_total_hours"] / fit[0]["t_total_max_hours"] >= 0.75
    assert fit[1]["t_total_hours"] == pytest.approx(3.0, rel=0.15)
    assert rep.dispositions[0]["class"] == "FA" and rep.dispositions[0]["reasons"][0] == "NOT_TRANSIT_SHAPED"
    assert rep.dispositions[1]["class"] == "PC" and "NOT_TRANSIT_SHAPED" not in rep.dispositions[1]["reasons"]
