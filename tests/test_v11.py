"""V11 ModShift (exovetter's, as tess-vetter wraps it): numpy oracle on a random padded batch,
an eccentric eclipsing binary against a planet, the reference's own outputs (TOI-5807 and random
ephemerides), edge inputs, options, no recompilation, plot, registry and CLI."""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest

from jaxvet.checks import get_check, headline_metrics, resolve_checks
from jaxvet.checks import v11_modshift as V11
from jaxvet.data import Candidate, LightCurve, stitch
from jaxvet.engine.context import VetContext, to_host
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import simulate_lightcurve
from tests.conftest import REPO
from tests.oracles import v11_oracle as orc
from tests.test_v11b import golden_context as golden_v11b

SPEC = V11.SPEC
RTOL = 1e-9
GOLDEN = REPO / "tests" / "data" / "reference_v11.json"
_SIGMAS = ("sigma_pri", "sigma_sec", "sigma_ter", "sigma_pos", "Fred")


def _close(a, b, rtol=RTOL):
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None or math.isnan(a)
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)


def _assert_like(r, want):
    if want["status"] == "skipped":
        assert r.status == "skipped" and r.flags == ["SKIPPED:FOLDED_INPUT_DETECTED"], r
        return
    if want["status"] == "error":
        assert r.status == "error" and r.flags == ["ERROR:modshift_execution_failed"], r
        assert r.notes == [want["message"]] and r.raw["error"] == want["message"]
        return
    assert r.status == "ok", (r.status, r.notes)
    rm = r.raw["raw_metrics"]
    for k in ("pri", "sec", "ter"):
        assert rm[k] == want[k], k
    assert math.isnan(rm["pos"]) if want["pos"] is None else rm["pos"] == want["pos"], (
        rm["pos"],
        want["pos"],
    )
    for k in (*_SIGMAS, "phase_pri", "phase_sec", "phase_ter", "phase_pos"):
        assert _close(rm[k], want[k]), (k, rm[k], want[k])
    assert _close(rm["false_alarm_threshold"], want["fa"])
    assert r.metrics["n_transits_expected"] == want["n_transits"]
    assert r.metrics["positive_signal"] == (0.0 if want["pos"] is None else round(abs(want["sigma_pos"]), 6))


@functools.lru_cache(maxsize=2)
def random_batch(seed: int = 11):
    """Light curves of different sizes in one padded batch (30-min cadence with gaps, a flat one,
    a folded-looking one, a 3-point one) and candidates hitting the branches: short durations
    (empty bins), D > P, one kept bin, zero depth, no depth; at most 1024 bins, as in the EB test
    (one compiled program)."""
    rng = np.random.default_rng(seed)
    a = simulate_lightcurve(seed, sectors=(1,), white_ppm=500.0, cadence_min=30.0)
    keep = np.ones(len(a), bool)
    for lo in rng.uniform(a.time[0], a.time[-1], 5):
        keep &= ~((a.time > lo) & (a.time < lo + rng.uniform(0.1, 0.8)))
    a = a.select(keep)
    t_b = 2000.0 + np.arange(300) / 48
    b = LightCurve(t_b, 1 + 3e-4 * rng.standard_normal(300), np.full(300, 3e-4))
    c = LightCurve(2000.0 + np.arange(300) / 48, np.ones(300))  # flat: zero scatter
    d = LightCurve(np.arange(200) * 0.02, 1 + 1e-4 * rng.standard_normal(200))  # looks folded
    e = LightCurve(2000.0 + np.array([0.0, 0.5, 1.0]), np.array([1.0, 0.999, 1.001]))
    lcs = [a, b, c, d, e]
    cands, lci = [], []
    for _ in range(6):
        P = float(rng.uniform(0.7, 6.0))
        cands.append(
            Candidate(
                P, 2000.0 + float(rng.uniform(-3 * P, 3 * P)), float(rng.uniform(1.5, 6.0)), depth_ppm=500.0
            )
        )
        lci.append(0)
    extra = [
        (Candidate(4.0, 2003.0, 1.0, depth_ppm=100.0), 0),  # 960 bins of 6 min: many empty
        (Candidate(0.4, 2000.3, 12.0, depth_ppm=100.0), 0),  # D > P: overlapping boxes
        (Candidate(1.3, 2000.4, 2.0, depth_ppm=-300.0), 1),  # negative depth: same model
        (Candidate(1.3, 2000.4, 2.0, depth_ppm=0.0), 1),  # zero depth: non-finite model
        (Candidate(3.0, 2001.0, 2.0, depth_ppm=100.0), 2),  # flat: sigma 0
        (Candidate(4.0, 1.0, 2.0, depth_ppm=100.0), 3),  # folded input: skipped
        (Candidate(5.0, 2000.2, 2.0, depth_ppm=100.0), 4),  # 3 points: one kept bin each
        (Candidate(0.05, 2000.0, 13.0, depth_ppm=100.0), 1),  # int(10 P 24/D) = 0 bins
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
        want = orc.v11(lc.time[v], lc.flux[v], c.period_days, c.t0_btjd, c.duration_hours, c.depth_ppm)
        _assert_like(r, want)
        seen.update(r.flags + r.notes)
        assert (r.verdict is None) == (r.status != "ok")
    assert {"ERROR:modshift_execution_failed", "SKIPPED:FOLDED_INPUT_DETECTED", "sigma must be positive",
            "model must contain all finite values"} <= seen  # fmt: skip
    assert any("maximum which has no identity" in s for s in seen)


def test_kernels_bin_and_phase_like_numpy():
    """Bin membership on the exact edges (and one ulp either side) equals ``np.histogram``'s;
    exovetter's phases (C ``fmod`` after the epoch shift) equal numpy's bit for bit."""
    import jax
    import jax.numpy as jnp

    from jaxvet.core import modshift_conv as mc

    P, nb = 7.123456789, 997
    edges = np.arange(nb + 1) / float(nb) * P
    # (no subnormal phases: XLA's CPU back end flushes them to zero; real phases are differences
    # of times ~1e3 d, multiples of 1e-13)
    ph = np.sort(np.concatenate([edges, np.nextafter(edges[1:], -1.0), np.nextafter(edges, 10.0), [-1e-13]]))
    x = jnp.asarray(ph)
    fold = jax.jit(functools.partial(mc.fold_bins, n_slots=1024))
    edge, cnt, _, nk = fold(x, jnp.ones(ph.size, bool), P, jnp.asarray(nb), (x,))
    want = np.histogram(ph, bins=edges)[0]
    k = want > 0
    assert int(nk) == k.sum() and np.array_equal(np.asarray(cnt)[: int(nk)], want[k])
    assert np.array_equal(np.asarray(edge)[: int(nk)], edges[:-1][k])
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(1400.0, 3600.0, 4000))
    t[::50] = 1400.0 + np.round((t[::50] - 1400.0) / 3.7) * 3.7  # near-multiples of the period
    for epoch in (1399.0, 1500.31, 3700.2):
        n = abs(t.min() - epoch) / 3.7
        e0 = epoch - np.ceil(n) * 3.7 if epoch > t.min() else epoch + np.floor(n) * 3.7
        got = np.asarray(jax.jit(mc.exovetter_phase)(jnp.asarray(t), t.min(), 3.7, epoch))
        assert np.array_equal(got, np.fmod(t - e0, 3.7)), epoch


def _inject(lc, P, t0, dh, depth, sec_depth=0.0, sec_phase=0.5):
    ph = ((lc.time - t0) / P + 0.5) % 1 - 0.5
    f = lc.flux.copy()
    half = dh / 24 / P / 2
    f[np.abs(ph) < half] -= depth
    d2 = np.abs(((ph - sec_phase) + 0.5) % 1 - 0.5)
    f[d2 < half] -= sec_depth
    return LightCurve(lc.time, f, lc.flux_err)


def test_eccentric_binary_against_planet():
    """Known truth: an EB with a 2000 ppm secondary at phase 0.3 (eccentric: V02 does not look
    there) fails, its secondary found at phase 0.3 with a signal ratio near the depth ratio 0.5;
    a planet of the same primary passes."""
    base = simulate_lightcurve(5, sectors=(1,), white_ppm=250.0, cadence_min=30.0)
    P, t0, dh = 2.5, 2000.7, 3.0
    eb = _inject(base, P, t0, dh, 4000e-6, 2000e-6, sec_phase=0.3)
    pl = _inject(base, P, t0, dh, 4000e-6)
    cands = [Candidate(P, t0, dh, depth_ppm=4000.0)] * 2
    r_eb, r_pl = SPEC.run(VetContext.build([eb, pl], cands, lc_index=[0, 1]))
    assert (r_eb.verdict, r_pl.verdict) == ("fail", "pass")
    assert (
        0.4 < r_eb.metrics["secondary_primary_ratio"] < 0.6 and r_pl.metrics["secondary_primary_ratio"] < 0.3
    )
    pd = r_eb.raw["plot_data"]
    assert abs(pd["event_phase"]["sec"] - 0.3) < 0.02 and pd["event_phase"]["pri"] < 0.02
    assert r_eb.raw["secondary_excess_z"] > 3 * r_eb.metrics["false_alarm_threshold"]
    assert r_pl.raw["secondary_excess_z"] < r_pl.metrics["false_alarm_threshold"]
    assert r_eb.raw["primary_at_transit"] and r_pl.raw["primary_at_transit"]
    # the shallow-secondary branch: the same EB with the occultation ratio above its ratio warns
    opts = {"V11": {"occultation_ratio": 0.8}}
    r = SPEC.run(dataclasses.replace(VetContext.build([eb], cands[:1]), options=opts))[0]
    assert r.verdict == "warn" and r.metrics == r_eb.metrics


# ------------------------------------------------------------------------------------------
# the reference's own outputs
# ------------------------------------------------------------------------------------------
def golden_context(data_dir: str):
    """All 22 golden cases (V11b's loader of the same reference file)."""
    return golden_v11b(data_dir, None)


def _json(x):
    return json.loads(json.dumps(x, allow_nan=True))


@pytest.mark.realdata
def test_reference_golden(toi5807_dir):
    """All 22 reference results: status, flags, notes, confidence, metric names equal; rounded
    metrics equal after the reference's rounding; the unrounded raw_metrics to 1e-9 relative
    (measured: 5e-14); the event bin indices and every reference raw field equal."""
    ctx, rows = golden_context(str(toi5807_dir))
    results = SPEC.run(ctx)
    worst = 0.0
    for i, (r, g) in enumerate(zip(results, rows, strict=True)):
        ref = g["V11"]
        assert (r.status, r.flags, r.notes, r.confidence) == (ref["status"], ref["flags"], ref["notes"],
                                                              ref["confidence"]), i  # fmt: skip
        assert r.metrics == ref["metrics"], i
        raw, rraw = _json(r.raw), ref["raw"]
        assert set(rraw) - {"plot_data"} <= set(raw), i
        for k, v in rraw.items():
            if k == "raw_metrics":
                for kk, vv in v.items():
                    if isinstance(vv, int):
                        assert raw[k][kk] == vv, (i, kk)
                    else:
                        assert _close(raw[k][kk], vv), (i, kk, raw[k][kk], vv)
                        worst = max(worst, abs(raw[k][kk] - vv) / max(abs(vv), 1e-300))
            elif k == "plot_data":
                pd = raw["plot_data"]
                assert len(pd["periodogram"]) == v["periodogram_len"] and pd["phase_bins"] == v["phase_bins"]
                for kk in (
                    "version",
                    "primary_phase",
                    "primary_signal",
                    "secondary_phase",
                    "secondary_signal",
                ):
                    assert _close(pd[kk], v[kk]), (i, kk)
            else:
                assert raw[k] == v, (i, k)
    assert worst <= RTOL
    toi = results[0]
    assert toi.raw["raw_metrics"]["pri"] == 0 and toi.verdict == "pass"


# ------------------------------------------------------------------------------------------
# real data, options, edge inputs, compilation, ids, plot, CLI
# ------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_toi5807_real_data(toi5807_dir):
    """TOI-5807.01 on all four sectors: the primary at the transit, the secondary not standing
    out (the strongest brightening is larger), verdict pass; sectors 82+83 likewise."""
    ctx, _ = golden_context(str(toi5807_dir))
    r_all, r_2 = SPEC.run(dataclasses.replace(ctx, candidates=ctx.candidates[:2]))
    for r in (r_all, r_2):
        assert r.verdict == "pass" and r.raw["primary_at_transit"]
        m = r.metrics
        assert r.raw["secondary_excess_z"] < 0 and m["positive_primary_ratio"] > m["secondary_primary_ratio"]
    assert r_all.metrics["primary_signal"] > 6000 and r_all.metrics["n_transits_expected"] == 55


def test_traced_options_do_not_recompile_and_apply():
    lc = _inject(simulate_lightcurve(3, sectors=(1,), cadence_min=30.0, white_ppm=300.0), 3.0, 2001.0, 3.0,
                 3e-3, 1.5e-3, 0.4)  # fmt: skip
    ctx = VetContext.build(lc, [Candidate(3.0, 2001.0, 3.0, depth_ppm=3000.0)])
    base = SPEC.run(ctx)[0]
    before = V11.modshift_kernel._cache_size()
    alt = SPEC.run(dataclasses.replace(ctx, options={"V11": {"fa_margin": 1e4}}))[0]
    assert V11.modshift_kernel._cache_size() == before
    assert base.verdict == "fail" and alt.verdict == "pass" and alt.metrics == base.metrics


@pytest.mark.parametrize("opts, name", [({"fa_margin": -1.0}, "fa_margin"),
                                        ({"occultation_ratio": math.nan}, "occultation_ratio"),
                                        ({"margin": 3}, "margin")])  # fmt: skip
def test_bad_options_raise_naming_them(opts, name):
    with pytest.raises(JaxvetInputError, match=name):
        SPEC.resolve_options(opts)


def test_registry_plot_and_summary_columns(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from jaxvet.plotting import plot_check, save_check_plots

    assert get_check("v11") is SPEC and "V11" in resolve_checks("all")
    assert resolve_checks("V11,V11b") == ["V11", "V11b"]
    assert headline_metrics("V11") == ("secondary_primary_ratio", "secondary_signal", "primary_signal")
    lcs, cands, lci, ctx = random_batch()
    out = to_host(SPEC.dispatch(ctx))
    for m in SPEC.summary_metrics:
        assert out[m].shape == (len(cands),), m
    results = SPEC.run(ctx)
    ok = next(r for r in results if r.status == "ok")
    ax = plot_check(ok)
    assert "V11" in ax.get_title() and len(ax.collections) >= 1
    err = next(r for r in results if r.status == "error")
    assert "no plot data" in plot_check(err).texts[0].get_text()
    assert [p.name for p in save_check_plots({"V11": ok}, tmp_path)] == ["V11.png"]


def test_cli_checks_v11(tmp_path, capsys):
    """``jaxvet vet --checks v11`` with a depth and an option: the JSON equals ``vet()``'s."""
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
            "--checks", "v11", "--option", "v11.fa_margin=2", "--json", "-", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)["candidates"][0]["checks"]
    assert set(doc) == {"V11"} and doc["V11"]["status"] == "ok" and doc["V11"]["verdict"] == "pass"
    c = Candidate(3.0, 2001.0, 3.0, depth_ppm=1000.0)
    py = vet(stitch([lc]), [c], ["V11"], options={"v11": {"fa_margin": 2.0}})
    assert doc["V11"]["metrics"] == py.results[0]["V11"].metrics
    want = orc.v11(lc.time, lc.flux, 3.0, 2001.0, 3.0, 1000.0)
    assert doc["V11"]["metrics"]["fred"] == round(want["Fred"], 6)
