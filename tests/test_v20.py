"""V20 ghost features: reference parity (sector-83 golden values), a numpy oracle on random padded
stamp batches, known truth (a uniform ghost against an on-target PSF dip), options and edges."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from jaxvet import stamps as sx
from jaxvet.checks import get_check
from jaxvet.checks import v20_ghost_features as v20
from jaxvet.data import Candidate, LightCurve, stitch
from jaxvet.engine.context import VetContext, to_host
from jaxvet.errors import JaxvetInputError
from jaxvet.pixels import TPFStamp
from jaxvet.synthetic.stamps import simulate_tpf
from tests.oracles import pixel_oracle as po
from tests.oracles import v10_v20_oracle as vo
from tests.test_v10 import ORACLE_CANDS, TOI, _perturbed

V20 = get_check("V20")
GOLDEN = Path(__file__).parent / "data" / "reference_v10_v20.json"


def _run(stamps, cands, options=None, **kw):
    lc = stitch(
        [
            LightCurve(s.time, np.ones(s.n_cadences), np.full(s.n_cadences, 1e-3), sector=s.sector)
            for s in stamps
        ]
    )
    ctx = VetContext.build(lc, cands, tpfs=list(stamps), options=options or {}, **kw)
    opts = V20.resolve_options((options or {}).get("V20"))
    host = to_host(V20.compute(ctx, opts))
    return ctx, host, V20.format(ctx, opts, host)


def _close(a, b, rel=1e-9):
    if isinstance(b, float) and math.isnan(b):
        return math.isnan(a)
    if isinstance(b, float) and math.isinf(b):
        return a == b
    if isinstance(b, (bool, int)):
        return a == b
    return a == pytest.approx(b, rel=rel, abs=1e-12)


@pytest.fixture(scope="module")
def sector83(shared_data, toi5807_sectors):
    p = shared_data / "tic188646744" / "sector83_tpf.npz"
    if not p.exists():
        pytest.skip(f"{p} not found")
    gold = json.loads(GOLDEN.read_text())
    rows = [dict(period_days=TOI[0], t0_btjd=TOI[1], duration_hours=TOI[2], **gold["toi5807"])] + gold[
        "random"
    ]
    cands = [Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"]) for r in rows]
    return rows, V20.run(VetContext.build(toi5807_sectors[83], cands, tpfs=[po.real_stamp(p)]))


@pytest.mark.realdata
def test_sector83_matches_reference_golden(sector83):
    rows, res = sector83
    for row, r in zip(rows, res, strict=True):
        g = row["V20"]
        assert r.status == g["status"] == "ok" and r.flags == g["flags"] and r.confidence is None
        for k, v in g["metrics"].items():
            assert _close(r.metrics[k], v), (k, r.metrics[k], v)
        np.testing.assert_allclose(
            r.raw["plot_data"]["difference_image"], g["raw"]["plot_data"]["difference_image"], rtol=1e-9
        )
        assert r.raw["plot_data"]["aperture_mask"] == g["raw"]["plot_data"]["aperture_mask"]
        assert r.raw["aperture_sign_consistent"] == g["raw"]["aperture_sign_consistent"]


@pytest.mark.realdata
def test_sector83_toi5807_numbers_and_verdict(sector83):
    _, res = sector83
    m = res[0].metrics
    assert m["ghost_like_score"] == pytest.approx(0.2537354835, rel=1e-9)
    assert m["scattered_light_risk"] == pytest.approx(0.0294424136, rel=1e-8)
    assert m["aperture_pixels_used"] == 23 and res[0].verdict == "pass"


@pytest.fixture(scope="module")
def oracle_case():
    stamps = [
        _perturbed(1, (11, 11), 1000, 1),
        _perturbed(2, (11, 11), 950, 2),
        _perturbed(3, (9, 12), 900, 3),
    ]
    idx = np.array([[0, 2], [1, 0], [2, 1], [0, 1], [1, 2], [2, 0]])
    return stamps, _run(stamps, ORACLE_CANDS, tpf_index=idx), idx


def test_random_padded_batches_match_numpy_oracle(oracle_case):
    stamps, (ctx, a, _), idx = oracle_case
    prep, opts = sx.prepared(ctx.tpfs, ctx=ctx), V20.resolve_options(None)
    n_ok = 0
    for i, c in enumerate(ORACLE_CANDS):
        for s in range(idx.shape[1]):
            st = stamps[idx[i, s]]
            o = vo.v20(st.time, st.flux, st.aperture_mask, c.period_days, c.t0_btjd, c.duration_hours)
            r = v20.sector_result(ctx, a, i, s, prep, opts)
            if o is None:
                assert r.status == "skipped" and r.flags == ["SKIPPED:INSUFFICIENT_DATA"]
                continue
            n_ok += 1
            nr, nc = st.stamp_shape
            np.testing.assert_allclose(
                a["ps_diff_image"][i, s][: nr * nc].reshape(nr, nc), o["diff"], rtol=1e-10
            )
            for k in v20.FEATURES + ("aperture_pixels_used",):
                assert _close(r.metrics[k], o[k], rel=1e-8), (i, s, k, r.metrics[k], o[k])
            assert r.metrics["n_in_transit_cadences"] == o["n_in"]
    assert n_ok == 10


def _ghost_stamp(kind: str):
    kw = dict(
        n_cadences=1200, cadence_min=30.0, period_days=2.5, t0_btjd=2000.7, duration_hours=3.0, sector=1
    )
    if kind == "psf":
        return simulate_tpf(6, depth_ppm=5000.0, **kw)
    s = simulate_tpf(6, **kw)
    ph = ((s.time - 2000.7 + 1.25) % 2.5) - 1.25
    f = np.array(s.flux)
    f[np.abs(ph) <= 1.5 / 24] -= 25.0  # every pixel dims by the same amount: a ghost / sky change
    return TPFStamp(time=s.time, flux=f, aperture_mask=s.aperture_mask, sector=1)


@pytest.fixture(scope="module")
def truth():
    cand = [Candidate(2.5, 2000.7, 3.0)]
    return _run([_ghost_stamp("psf")], cand)[2][0], _run([_ghost_stamp("ghost")], cand)[2][0]


def test_uniform_ghost_against_psf_like_dip(truth):
    psf, ghost = truth
    assert psf.verdict == "pass" and psf.metrics["ghost_like_score"] < 0.4
    assert psf.metrics["prf_likeness"] > 0.8 and psf.metrics["aperture_contrast"] > 10
    assert ghost.verdict == "fail" and ghost.metrics["ghost_like_score"] > 0.7
    assert ghost.metrics["spatial_uniformity"] > 0.8 and 0.5 < ghost.metrics["aperture_contrast"] < 2


def test_thresholds_are_traced_no_recompile(oracle_case):
    stamps = oracle_case[0][:1]
    cand = [Candidate(3.1, 2000.9, 4.0)]
    base = _run(stamps, cand)[2][0]
    size = v20._chunk._cache_size()
    opts = {"V20": {"ghost_warn": 0.0, "annulus_inner": 2.0, "prf_sigma": 1.5}}
    r = _run(stamps, cand, options=opts)[2][0]
    assert v20._chunk._cache_size() == size
    assert r.verdict == "warn" and r.metrics["prf_likeness"] != base.metrics["prf_likeness"]
    o = vo.v20(stamps[0].time, stamps[0].flux, stamps[0].aperture_mask, 3.1, 2000.9, 4.0, (2.0, 6.0), 1.5)
    assert _close(r.metrics["prf_likeness"], o["prf_likeness"]) and _close(
        r.metrics["ghost_like_score"], o["ghost_like_score"]
    )


def test_no_aperture_mask_and_bad_options(oracle_case):
    st = oracle_case[0][0]
    bare = TPFStamp(time=st.time, flux=st.flux, sector=1)
    r = _run([bare], [Candidate(3.1, 2000.9, 4.0)])[2][0]
    assert r.status == "skipped" and r.flags == ["SKIPPED:NO_APERTURE_MASK"]
    with pytest.raises(JaxvetInputError, match="annulus_inner"):
        V20.resolve_options({"annulus_inner": 7.0})
    with pytest.raises(JaxvetInputError, match="prf_sigma"):
        V20.resolve_options({"prf_sigma": -1.0})


def test_plots_draw_from_plot_data(truth):
    import matplotlib

    matplotlib.use("Agg")
    from jaxvet.plotting import plot_check

    psf, ghost = truth
    for r in (psf, ghost):
        ax = plot_check(r)
        assert "V20 ghost features" in ax.get_title()
    skipped = V20.run(
        VetContext.build(LightCurve(np.arange(50.0), np.ones(50), np.ones(50)), [Candidate(3.0, 1.0, 2.0)])
    )
    assert "skipped" in plot_check(skipped[0]).texts[0].get_text()


@pytest.mark.realdata
def test_cli_vet_with_tpf_runs_v10_and_v20(toi5807_dir, capsys):
    from jaxvet.cli.main import main

    lc, tpf = toi5807_dir / "sector83_pdcsap.csv", toi5807_dir / "sector83_tpf.npz"
    if not tpf.exists():
        pytest.skip(f"{tpf} not found")
    cand = ["--period", repr(TOI[0]), "--t0", repr(TOI[1]), "--duration-hours", repr(TOI[2])]
    rc = main(["vet", str(lc), "--tpf", str(tpf), *cand, "--checks", "V10,V20", "--json", "-"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    checks = json.loads(out)["candidates"][0]["checks"]
    gold = json.loads(GOLDEN.read_text())["toi5807"]
    for cid in ("V10", "V20"):
        assert checks[cid]["status"] == "ok" and checks[cid]["verdict"] == "pass"
        for k in ("stability_metric", "depth_ppm_aperture_2p0") if cid == "V10" else v20.FEATURES:
            assert checks[cid]["metrics"][k] == pytest.approx(gold[cid]["metrics"][k], rel=1e-9)
