"""Tests of jaxvet.campaign: resume after a crash, determinism, summary, CLI, device sharding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvet.campaigns import config as config_mod
from jaxvet.campaigns import lightcurve as campaign_mod
from jaxvet.campaigns.lightcurve import (
    add_campaign_arguments,
    read_results,
    run_campaign,
    run_campaign_command,
)
from jaxvet.core.ephemeris import epoch_index, in_transit_mask, phase_distance_in_transit
from jaxvet.engine.context import CheckSpec
from jaxvet.errors import JaxvetInputError
from jaxvet.results import STATUS_CODES, VERDICT_CODES
from jaxvet.synthetic.lightcurves import simulate_lightcurve

REPO = Path(__file__).resolve().parents[1]


# ---- a small stand-in check (plain odd/even box means over the whole row) ------------------
@jax.jit
def _fake_kernel(time, flux, mask, period, t0, duration, lc_index, valid):
    t, f, m = time[lc_index], flux[lc_index], mask[lc_index]
    P, T0, D = period[:, None], t0[:, None], duration[:, None]
    intr = phase_distance_in_transit(t, T0, P, D) & m
    odd = jnp.mod(epoch_index(t, T0, P), 2.0) == 1.0
    oot = m & ~in_transit_mask(t, T0, P, D, 3.0)
    n_out = jnp.maximum(jnp.sum(oot, 1), 1)
    base = jnp.sum(jnp.where(oot, f, 0.0), 1) / n_out
    sig = jnp.sqrt(jnp.sum(jnp.where(oot, (f - base[:, None]) ** 2, 0.0), 1) / n_out)

    def depth(sel):
        n = jnp.sum(sel, 1)
        return base - jnp.sum(jnp.where(sel, f, 0.0), 1) / jnp.maximum(n, 1), n

    d_odd, n_odd = depth(intr & odd)
    d_even, n_even = depth(intr & ~odd)
    err = sig * jnp.sqrt(1.0 / jnp.maximum(n_odd, 1) + 1.0 / jnp.maximum(n_even, 1))
    delta_sigma = jnp.abs(d_odd - d_even) / err
    enough = (n_odd >= 5) & (n_even >= 5) & valid
    verdict = jnp.where(
        ~enough,
        VERDICT_CODES["insufficient"],
        jnp.where(delta_sigma > 3.0, VERDICT_CODES["fail"], VERDICT_CODES["pass"]),
    )
    return {
        "status": jnp.full(verdict.shape, STATUS_CODES["ok"]),
        "verdict": verdict,
        "delta_sigma": jnp.where(enough, delta_sigma, jnp.nan),
        "n_odd_points": n_odd,
    }


def _fake_compute(ctx, opts=None):
    lcb, cb = ctx.lcb, ctx.cb
    out = _fake_kernel(lcb.time, lcb.flux, lcb.mask, cb.period, cb.t0, cb.duration, cb.lc_index, cb.valid)
    return {k: v[: ctx.n_candidates] for k, v in out.items()}


FAKE = CheckSpec(
    id="XOE",
    name="fake_odd_even",
    compute=_fake_compute,
    format=lambda ctx, opts, arrays: [],
    summary_metrics=("delta_sigma", "n_odd_points"),
)


def small_lc(seed=0):
    return simulate_lightcurve(seed, sectors=(1, 2), cadence_min=30.0, white_ppm=300.0, target="SMALL")


KW = dict(
    n_injections=40,
    checks=[FAKE],
    chunk_size=8,
    injection=dict(period_days="1:5:log", duration_hours="1:4", snr="5:60:log"),
    plots=False,
    progress=False,
)


# the same injection settings on the command line (so the compiled programs are reused)
_CLI_INJECTION = ["--period", "1:5:log", "--duration-hours", "1:4", "--snr", "5:60:log"]


class Crash(RuntimeError):
    pass


def _crash_after(k):
    def hook(chunk, n_done):
        if n_done >= k:
            raise Crash(f"simulated crash after {n_done} chunks")

    return hook


def _assert_tables_equal(a, b, skip=()):
    assert a.colnames == b.colnames
    for name in a.colnames:
        if name in skip:
            continue
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)  # NaN == NaN here
        else:
            assert x.tolist() == y.tolist(), name


@pytest.fixture(scope="module")
def lc():
    return small_lc()


@pytest.fixture(scope="module")
def reference_run(lc, tmp_path_factory):
    out = tmp_path_factory.mktemp("camp") / "full"
    table = run_campaign(lc, seed=5, out=out, **{**KW, "plots": True})
    return out, table


def test_rows_and_columns(reference_run):
    out, t = reference_run
    assert len(t) == 40
    assert t["injection_id"].tolist() == list(range(40))
    assert set(t["kind"]) == {"planet", "eb"}
    for col in (
        "period_days",
        "t0_btjd",
        "duration_hours",
        "depth_ppm",
        "impact",
        "snr",
        "XOE_status",
        "XOE_verdict",
    ):
        assert col in t.colnames
    assert set(t["XOE_verdict"]) <= {"pass", "warn", "fail", "insufficient", "none"}
    parts = sorted(p.name for p in (out / "results").iterdir())
    assert parts == [f"part-{c:05d}.parquet" for c in range(5)]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["seed"] == 5 and cfg["chunk_size"] == 8 and cfg["checks"] == ["XOE"]


def test_interrupt_and_resume_equals_uninterrupted(lc, reference_run, tmp_path):
    _, full = reference_run
    out = tmp_path / "crashy"
    with pytest.raises(Crash):
        run_campaign(lc, seed=5, out=out, on_chunk_done=_crash_after(2), **KW)
    names = sorted(p.name for p in (out / "results").iterdir())
    assert names == ["part-00000.parquet", "part-00001.parquet"]  # complete parts only, no temp debris
    # a writer killed mid-write leaves only a hidden temp file: it is cleaned up, never read
    (out / "results" / ".part-00002.parquet.999.tmp").write_bytes(b"PAR1 half a file")
    computed = []
    resumed = run_campaign(
        lc, seed=5, out=out, resume=True, on_chunk_done=lambda c, n: computed.append(c), **KW
    )
    assert computed == [2, 3, 4]  # nothing twice
    _assert_tables_equal(resumed, full)  # nothing lost
    assert read_results(out).equals(read_results(reference_run[0]))
    assert not list((out / "results").glob(".*tmp"))


def test_resume_recomputes_a_damaged_part(lc, reference_run, tmp_path):
    out = tmp_path / "damaged"
    run_campaign(lc, seed=5, out=out, **KW)
    p = out / "results" / "part-00003.parquet"
    p.write_bytes(p.read_bytes()[:100])  # e.g. a copy truncated by a full disk
    computed = []
    t = run_campaign(lc, seed=5, out=out, resume=True, on_chunk_done=lambda c, n: computed.append(c), **KW)
    assert computed == [3]
    _assert_tables_equal(t, reference_run[1])


def test_same_seed_is_deterministic_and_independent_of_chunking(lc, reference_run):
    again = run_campaign(lc, seed=5, **{**KW, "chunk_size": 16})
    _assert_tables_equal(again, reference_run[1], skip=("chunk",))


def test_checks_in_threads_or_in_turn_give_the_same_rows(lc, reference_run, monkeypatch):
    monkeypatch.setenv("JAXVET_THREADS", "1")  # the reference run used the default (threads)
    again = run_campaign(lc, seed=5, **KW)
    _assert_tables_equal(again, reference_run[1])


def test_different_seed_gives_different_injections(lc, reference_run):
    other = run_campaign(lc, seed=6, **{**KW, "n_injections": 8})
    full = reference_run[1]
    assert not np.allclose(np.asarray(other["period_days"]), np.asarray(full["period_days"][:8]))
    assert not np.allclose(np.asarray(other["t0_btjd"]), np.asarray(full["t0_btjd"][:8]))


def test_resume_refuses_a_different_config(lc, reference_run, tmp_path):
    out = tmp_path / "cfg"
    with pytest.raises(Crash):
        run_campaign(lc, seed=5, out=out, on_chunk_done=_crash_after(1), **KW)
    with pytest.raises(JaxvetInputError, match="seed"):
        run_campaign(lc, seed=6, out=out, resume=True, **KW)
    with pytest.raises(JaxvetInputError, match="n_injections"):
        run_campaign(lc, seed=5, out=out, resume=True, **{**KW, "n_injections": 41})
    with pytest.raises(JaxvetInputError, match="injection"):
        run_campaign(lc, seed=5, out=out, resume=True, **{**KW, "injection": dict(period_days="1:6:log")})
    with pytest.raises(JaxvetInputError, match="lightcurves"):
        run_campaign(small_lc(1), seed=5, out=out, resume=True, **KW)
    with pytest.raises(JaxvetInputError, match="--resume"):
        run_campaign(lc, seed=5, out=out, **KW)  # an existing campaign is never silently mixed


def test_overwrite_replaces_and_orphan_parts_are_refused(lc, reference_run, tmp_path):
    out = tmp_path / "ow"
    run_campaign(lc, seed=6, out=out, **{**KW, "n_injections": 8})
    t = run_campaign(lc, seed=5, out=out, overwrite=True, **KW)
    _assert_tables_equal(t, reference_run[1])
    assert json.loads((out / "config.json").read_text())["seed"] == 5
    (out / "config.json").unlink()  # parts without their configuration cannot be trusted
    with pytest.raises(JaxvetInputError, match="config.json"):
        run_campaign(lc, seed=5, out=out, resume=True, **KW)


def test_context_light_curves_are_the_injected_rows(lc):
    from jaxvet.campaigns.injection import InjectionConfig, base_stats, build_injection_batch
    from jaxvet.campaigns.rows import _RowLightCurves
    from jaxvet.data import LightCurveBatch

    lcb = LightCurveBatch.from_lightcurves([lc])
    b = build_injection_batch(
        lcb, base_stats([lc], lcb), np.arange(8), 5, InjectionConfig.create(**KW["injection"])
    )
    rows = _RowLightCurves(b.lcb, 8, [lc], np.asarray(b.params["lc_index"]))
    v = lc.valid
    assert len(rows) == 8 and rows[-1] is rows[7]
    for i in (0, 5):
        np.testing.assert_array_equal(rows[i].time, lc.time[v])
        np.testing.assert_array_equal(rows[i].flux, np.asarray(b.lcb.flux)[i, : v.sum()])
        np.testing.assert_array_equal(rows[i].sector, lc.sector[v])
    assert not np.array_equal(rows[0].flux, lc.flux[v])  # the signal is in


def test_check_options_from_the_command_line():
    assert campaign_mod._parse_options(
        ["V05.n_bootstrap=20", "v01.rel_diff_threshold=0.4", "V05.method=grid"]
    ) == {
        "V05": {"n_bootstrap": 20, "method": "grid"},
        "V01": {"rel_diff_threshold": 0.4},
    }
    for bad in ("V05", "n_bootstrap=3", "V05.=3"):
        with pytest.raises(JaxvetInputError, match="--option"):
            campaign_mod._parse_options([bad])


def test_summary_rates_agree_with_rows(reference_run):
    out, t = reference_run
    s = json.loads((out / "summary.json").read_text())
    assert s["n_rows"] == 40
    assert s["config"]["seed"] == 5
    edges = s["config"]["snr_bins"]
    rates = s["rates"]
    assert {r["kind"] for r in rates} == {"planet", "eb"} and {r["check"] for r in rates} == {"XOE"}
    assert len(rates) == 2 * (len(edges) - 1)
    snr = np.asarray(t["snr"])
    kind = np.asarray(t["kind"])
    verdict = np.asarray(t["XOE_verdict"])
    for r in rates:
        lo, hi = r["snr_bin"]
        hi = np.inf if hi is None else hi
        sel = (kind == r["kind"]) & (snr >= lo) & (snr < hi)
        v = verdict[sel]
        decided = np.isin(v, ["pass", "warn", "fail"])
        assert r["n"] == decided.sum()
        assert r["n_insufficient"] == (v == "insufficient").sum()
        if r["n"]:
            assert r["fail_fraction"] == pytest.approx((v == "fail").sum() / decided.sum())
        else:
            assert r["fail_fraction"] is None
    assert sum(r["n_total"] for r in rates) == 40
    assert sum(r["n_total"] for r in s["rates_by_period"]) == 40
    for name in ("rates_vs_snr.png", "rates_vs_period.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_in_memory_run_returns_summary(lc, reference_run):
    t = run_campaign(lc, seed=5, **{**KW, "n_injections": 8})
    assert "summary" in t.meta and t.meta["summary"]["n_rows"] == 8
    _assert_tables_equal(t, reference_run[1][:8])


def test_bad_arguments_are_rejected(lc, tmp_path):
    with pytest.raises(JaxvetInputError, match="n_injections"):
        run_campaign(lc, **{**KW, "n_injections": 0})
    with pytest.raises(JaxvetInputError, match="chunk_size"):
        run_campaign(lc, **{**KW, "chunk_size": 0})
    with pytest.raises(JaxvetInputError, match="seed"):
        run_campaign(lc, seed=-1, **KW)
    with pytest.raises(JaxvetInputError, match="snr_bins"):
        run_campaign(lc, snr_bins="5,3", **KW)
    with pytest.raises(JaxvetInputError, match="unknown check"):
        run_campaign(lc, **{**KW, "checks": ["V99"]})
    with pytest.raises(JaxvetInputError, match="kinds"):
        run_campaign(lc, kinds="moon", **KW)


def test_cli_runs_resumes_and_reports(lc, tmp_path, monkeypatch, capsys):
    import argparse

    monkeypatch.setattr(config_mod, "get_check", lambda cid: FAKE)
    path = tmp_path / "sector1_lc.csv"
    v = lc.valid
    np.savetxt(
        path,
        np.column_stack([lc.time[v], lc.flux[v], lc.flux_err[v], np.zeros(v.sum())]),
        delimiter=",",
        header="time_btjd,flux,flux_err,quality",
        comments="",
    )
    parser = add_campaign_arguments(argparse.ArgumentParser())
    argv = [str(path), "--n-injections", "16", "--checks", "XOE", "--chunk-size", "8", "--seed", "3"]
    argv += ["--out", str(tmp_path / "cli"), "--no-plots", *_CLI_INJECTION]
    assert run_campaign_command(parser.parse_args(argv)) == 0
    err = capsys.readouterr().err
    assert "campaign" in err and "inj" in err  # progress bar and summary on stderr
    assert "XOE" in err
    assert run_campaign_command(parser.parse_args(argv + ["--resume"])) == 0
    t = read_results(tmp_path / "cli")
    assert t.num_rows == 16


def test_cli_main_entry_point(tmp_path, monkeypatch):
    """``jaxvet campaign`` through the package CLI (no file: the simulated demo light curve)."""
    cli = pytest.importorskip("jaxvet.cli")
    monkeypatch.setenv("JAXVET_NO_CACHE", "1")
    monkeypatch.setattr(config_mod, "get_check", lambda cid: FAKE)
    monkeypatch.setattr(config_mod, "demo_lightcurve", lambda seed=0: small_lc(seed))
    out = tmp_path / "main"
    argv = ["campaign", "--checks", "XOE", "--out", str(out), "--chunk-size", "8", *_CLI_INJECTION]
    rc = cli.main(argv + ["--n-injections", "8", "--no-progress"])
    assert rc == 0
    assert json.loads((out / "summary.json").read_text())["n_rows"] == 8
    rc = cli.main(argv + ["--n-injections", "9", "--resume"])
    assert rc == 2  # a changed configuration is a named input error, not a traceback


_SHARD_SCRIPT = r"""
import json, sys
import jax, numpy as np
assert len(jax.devices()) == 4, jax.devices()
from tests.test_campaign import FAKE, KW, small_lc
from jaxvet.campaigns.runner import mesh_sharding as _mesh_sharding, run_campaign
from jaxvet.data import LightCurveBatch
from jaxvet.campaigns.injection import InjectionConfig, base_stats, build_injection_batch
lc = small_lc()
sharding, replicated = _mesh_sharding(jax.devices())
lcb = jax.device_put(LightCurveBatch.from_lightcurves([lc]), replicated)
b = build_injection_batch(lcb, base_stats([lc], lcb), np.arange(8), 5, InjectionConfig(), sharding=sharding)
n_dev = len(b.lcb.flux.sharding.device_set)
shard_rows = sorted({s.data.shape[0] for s in b.lcb.flux.addressable_shards})
t = run_campaign(lc, seed=5, **{**KW, "n_injections": 16})
nan_to_none = lambda xs: [x if not isinstance(x, float) or x == x else None for x in xs]
rows = {c: nan_to_none(np.asarray(t[c]).tolist()) for c in t.colnames}
print(json.dumps({"n_dev": n_dev, "shard_rows": shard_rows, "rows": rows}))
"""


def test_sharded_over_four_host_devices_gives_the_same_rows(reference_run):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", _SHARD_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["n_dev"] == 4 and res["shard_rows"] == [2]  # 8 rows over 4 devices
    full = reference_run[1][:16]  # the same chunks (size 8) of the same campaign
    for name, vals in res["rows"].items():
        ref = np.asarray(full[name])
        if ref.dtype.kind == "f":
            got = np.array([np.nan if v is None else v for v in vals], float)
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0, equal_nan=True, err_msg=name)
        else:
            assert vals == ref.tolist(), name


# ---- physics: the real V01 on a simulated light curve --------------------------------------------
def test_v01_rejects_ebs_and_keeps_planets_at_high_snr():
    """At SNR >= 20, V01 fails >= 90% of injected EBs and <= 10% of injected planets."""
    pytest.importorskip("jaxvet.checks.v01_odd_even")
    lc = simulate_lightcurve(3, sectors=(1, 2), cadence_min=10.0, white_ppm=300.0, target="PHYS")
    # narrow period/duration ranges keep the per-epoch shape buckets (and compilations) few
    t = run_campaign(
        lc,
        n_injections=256,
        checks=["V01"],
        seed=2,
        chunk_size=256,
        injection=dict(period_days="2.2:3.6", duration_hours="2:3.5", snr="20:80:log"),
        plots=False,
        progress=False,
    )
    assert np.all(np.asarray(t["snr"]) >= 20.0 - 1e-9)
    rates = {r["kind"]: r for r in t.meta["summary"]["overall"]}
    assert rates["eb"]["n"] >= 100 and rates["planet"]["n"] >= 100  # decided verdicts
    assert rates["eb"]["fail_fraction"] >= 0.90
    assert rates["planet"]["fail_fraction"] <= 0.10
    # the failing EBs are the ones with the larger odd/even contrast (lower ratio)
    eb = np.asarray(t["kind"]) == "eb"
    fail = np.asarray(t["V01_verdict"]) == "fail"
    ratio = np.asarray(t["odd_even_ratio"])
    if (eb & ~fail).any():
        assert np.median(ratio[eb & fail]) <= np.median(ratio[eb & ~fail])


def test_rate_plot_draws_from_the_summary(reference_run):
    import matplotlib.pyplot as plt

    from jaxvet.plotting.campaign import plot_campaign_rates, wilson_interval

    lo, hi = wilson_interval([0, 5, 10], [10, 10, 10])
    np.testing.assert_allclose(lo, [0.0, 0.5 - 0.5 / np.sqrt(11), 1 - 1 / 11], atol=1e-12)
    np.testing.assert_allclose(hi, [1 / 11, 0.5 + 0.5 / np.sqrt(11), 1.0], atol=1e-12)
    summary = json.loads((reference_run[0] / "summary.json").read_text())
    fig, ax = plt.subplots()
    assert plot_campaign_rates(summary, x="period", ax=ax) is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["XOE: planets kept", "XOE: EBs rejected"]
    plt.close(fig)


def test_independent_jobs_share_a_directory(lc, reference_run, tmp_path):
    """A batch array of 2 jobs: each computes its chunks; the last one writes the summary."""
    out = tmp_path / "array"
    first = run_campaign(lc, seed=5, out=out, process_index=1, process_count=2, **KW)
    assert first == out / "results" and not (out / "summary.json").exists()
    assert sorted(p.name for p in first.iterdir()) == ["part-00001.parquet", "part-00003.parquet"]
    t = run_campaign(lc, seed=5, out=out, process_index=0, process_count=2, **KW)
    _assert_tables_equal(t, reference_run[1])
    assert json.loads((out / "summary.json").read_text())["n_rows"] == 40
    with pytest.raises(JaxvetInputError, match="process_count"):
        run_campaign(lc, seed=5, out=out, process_index=0, **KW)


def _broken_compute(ctx, opts=None):
    raise ZeroDivisionError("broken check")


BROKEN = CheckSpec(id="XBR", name="broken", compute=_broken_compute, format=lambda ctx, opts, arrays: [])


def test_check_errors_propagate_unless_recorded(lc):
    kw = {**KW, "n_injections": 8, "checks": [FAKE, BROKEN]}
    with pytest.raises(ZeroDivisionError, match="broken check"):
        run_campaign(lc, **kw)
    t = run_campaign(lc, record_errors=True, **kw)
    assert set(t["XBR_status"]) == {"error"}
    assert set(t["XOE_status"]) <= {"ok", "skipped"}
    assert all(e == "XBR: ZeroDivisionError: broken check" for e in t["error"])


def test_jaxvet_campaign_is_callable_and_importable():
    from jaxvet.campaign import run_campaign as imported

    import jaxvet

    assert callable(jaxvet.campaign) and jaxvet.campaign.run_campaign is imported is run_campaign


# ---- false-alarm kinds: inverted and scrambled copies vetted at their box-search peak ----------
FA_KW = {
    **KW,
    "n_injections": 16,
    "injection": dict(KW["injection"], kinds="planet,inverted,scrambled", search_max_periods=100,
                      search_durations=2),
}
_FA = ("inverted", "scrambled")


@pytest.fixture(scope="module")
def fa_run(lc, tmp_path_factory):
    out = tmp_path_factory.mktemp("fa") / "full"
    return out, run_campaign(lc, seed=5, out=out, **FA_KW)


def test_false_alarm_rows_carry_their_search_peak(fa_run):
    out, t = fa_run
    kind = np.asarray(t["kind"])
    assert set(kind) == {"planet", *_FA}
    fa = np.isin(kind, _FA)
    snr, ssnr = np.asarray(t["snr"]), np.asarray(t["search_snr"])
    assert np.isnan(snr[fa]).all() and np.isfinite(snr[~fa]).all()
    assert (ssnr[fa] > 0).all() and np.isnan(ssnr[~fa]).all()
    p, d = np.asarray(t["period_days"])[fa], np.asarray(t["duration_hours"])[fa]
    assert p.min() >= 1.0 - 1e-9 and p.max() <= 5.0 + 1e-9 and d.min() >= 1.0 - 1e-9 and d.max() <= 4.0 + 1e-9
    assert (np.asarray(t["depth_ppm"])[fa] > 0).all() and (np.asarray(t["n_in_transit"])[fa] > 0).all()
    inv = kind == "inverted"  # one base light curve: every inverted copy is the same copy
    assert len(set(np.asarray(t["t0_btjd"])[inv])) == 1
    assert len(set(np.asarray(t["t0_btjd"])[kind == "scrambled"])) > 1
    s = json.loads((out / "summary.json").read_text())
    for k in _FA:
        rows = [r for r in s["rates"] if r["kind"] == k]
        assert len(rows) == 1 and rows[0]["snr_bin"] is None and rows[0]["n_total"] == (kind == k).sum()
        (ov,) = [r for r in s["overall"] if r["kind"] == k]
        assert ov["n_total"] == (kind == k).sum()
    assert sum(r["n_total"] for r in s["rates_by_period"]) == 16
    assert s["config"]["injection"]["search_max_periods"] == 100


def test_false_alarm_campaign_resumes_and_is_independent_of_chunking(lc, fa_run, tmp_path):
    out = tmp_path / "fa-crashy"
    with pytest.raises(Crash):
        run_campaign(lc, seed=5, out=out, on_chunk_done=_crash_after(1), **FA_KW)
    resumed = run_campaign(lc, seed=5, out=out, resume=True, **FA_KW)
    _assert_tables_equal(resumed, fa_run[1])
    again = run_campaign(lc, seed=5, **{**FA_KW, "chunk_size": 16})
    _assert_tables_equal(again, fa_run[1], skip=("chunk",))


def test_false_alarm_copies(lc):
    from jaxvet.campaigns.false_alarms import apply_false_alarms, plan_false_alarms
    from jaxvet.campaigns.injection import InjectionConfig, base_stats, build_injection_batch
    from jaxvet.data import LightCurve, LightCurveBatch
    from jaxvet.search import box_search

    cfg = InjectionConfig.create(**FA_KW["injection"])
    lcb = LightCurveBatch.from_lightcurves([lc])
    plan = plan_false_alarms([lc], cfg)

    def build(ids):
        b = build_injection_batch(lcb, base_stats([lc], lcb), ids, 5, cfg, pad_to=8)
        return apply_false_alarms(b, lcb, plan, 5, len(ids)), np.asarray(b.params["kind"])

    b, kind = build(np.arange(8))
    v = lc.valid
    m = int(v.sum())
    flux = np.asarray(b.lcb.flux)[:, :m]
    np.testing.assert_array_equal(np.asarray(b.lcb.time)[:, :m], np.broadcast_to(lc.time[v], (8, m)))
    med = np.median(lc.flux[v])
    i_inv = int(np.flatnonzero(kind == 2)[0])  # KINDS index 2: inverted
    np.testing.assert_allclose(flux[i_inv], 2 * med - lc.flux[v], rtol=0, atol=1e-15)
    i_scr = int(np.flatnonzero(kind == 3)[0])
    blk = int(np.asarray(plan.block_points)[0])
    n_full = m // blk
    src = flux[i_scr][: n_full * blk].reshape(n_full, blk)
    base = lc.flux[v][: n_full * blk].reshape(n_full, blk)
    order = [int(np.flatnonzero((base == row).all(1))[0]) for row in src]  # each block is a base block
    assert sorted(order) == list(range(n_full)) and order != list(range(n_full))
    np.testing.assert_array_equal(flux[i_scr][n_full * blk :], lc.flux[v][n_full * blk :])
    # the permutation depends on the injection id only, not on the chunk
    b1, _ = build(np.array([i_scr]))
    np.testing.assert_array_equal(np.asarray(b1.lcb.flux)[0, :m], flux[i_scr])
    # the candidate is the box-search peak of the copy
    copy = LightCurve(time=lc.time[v], flux=flux[i_scr], flux_err=np.asarray(b.lcb.flux_err)[i_scr, :m],
                      sector=lc.sector[v])
    r = box_search(copy, periods=plan.periods, durations=plan.durations)
    assert float(b.cb.period[i_scr]) == r["period"][0] and float(b.cb.t0[i_scr]) == r["t0"][0]
    assert float(b.params["search_snr"][i_scr]) == pytest.approx(r["depth_snr"][0], rel=1e-12)  # batch: 1 ulp


def test_false_alarm_configuration():
    from jaxvet.campaigns.injection import InjectionConfig

    assert "search_max_periods" not in InjectionConfig.create(kinds="planet,eb").to_dict()
    assert InjectionConfig.create(kinds="eb,scrambled").to_dict()["scramble_block_days"] == 1.0
    with pytest.raises(JaxvetInputError, match="shorter than the shortest period"):
        InjectionConfig.create(kinds="inverted", period_days="0.5:5", duration_hours="1:13")
    with pytest.raises(JaxvetInputError, match="search_durations"):
        InjectionConfig.create(kinds="inverted", search_durations=0)
    with pytest.raises(JaxvetInputError, match="scramble_block_days"):
        InjectionConfig.create(kinds="scrambled", scramble_block_days="x")
    with pytest.raises(JaxvetInputError, match="unknown kind"):
        InjectionConfig.create(kinds="planet,noise")
