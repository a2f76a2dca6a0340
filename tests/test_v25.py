"""V25 localization consistency across sectors, and the pixel plots."""

from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxvet.checks import get_check
from jaxvet.checks.v25_localization_consistency import gls_consistency
from jaxvet.data import Candidate, LightCurve
from jaxvet.engine.context import VetContext
from jaxvet.plotting.pixels import plot_centroid_shift, plot_difference_image, plot_localization_consistency
from tests.oracles import pixel_oracle as po

matplotlib.use("Agg")
V08, V09, V25 = get_check("V08"), get_check("V09"), get_check("V25")


@pytest.fixture(scope="module")
def stamps():
    """Two on-target sectors (detector rotated by 90 deg between them) and one EB-on-neighbour sector."""
    return {
        "a": po.syn_stamp("target", seed=1, sector=1, rotation_deg=0.0),
        "b": po.syn_stamp("target", seed=4, sector=2, rotation_deg=90.0),
        "eb": po.syn_stamp("eb", seed=2, sector=3, rotation_deg=45.0),
    }


@pytest.fixture(scope="module")
def same_star(stamps):
    ctx = po.syn_context([stamps["a"], stamps["b"]])
    return ctx, V25.run(ctx)


@pytest.fixture(scope="module")
def mixed(stamps):
    ctx = po.syn_context([stamps["a"], stamps["b"], stamps["eb"]])
    return ctx, V25.run(ctx)


def test_same_star_sectors_are_consistent_in_the_sky_frame(same_star):
    _, res = same_star
    r = res[0]
    m = r.metrics
    assert m["consistency_class"] == "CONSISTENT" and r.verdict == "pass"
    assert m["frame"] == "sky" and m["n_sectors_used"] == 2 and m["chi2_dof"] == 4
    assert m["chi2_p_value"] > 0.05 and m["n_inconsistent_sectors"] == 0
    assert r.raw["inconsistent_sectors"] == []
    # the centroid shift vectors agree on the sky although the detector turned by 90 deg
    v = [np.array(p["centroid_vector_arcsec"]) for p in r.raw["per_sector"]]
    assert np.linalg.norm(v[0] - v[1]) < 0.05


def test_sector_on_another_star_is_inconsistent_and_singled_out(mixed, stamps):
    _, res = mixed
    r = res[0]
    m = r.metrics
    assert m["consistency_class"] == "INCONSISTENT" and r.verdict == "warn"
    assert "LOCALIZATION_INCONSISTENT" in r.flags
    assert m["chi2_p_value"] < 1e-6 and m["diffimg_p_value"] < 1e-6
    assert r.raw["inconsistent_sectors"] == [3]
    # the EB sector's offset points to the neighbour's sky position (-60" east, +10" north)
    eb = r.raw["per_sector"][2]["diffimg_vector_arcsec"]
    nb = po.SYN_NEIGHBOUR
    assert np.hypot(eb[0] - nb["east_arcsec"], eb[1] - nb["north_arcsec"]) < 10.0


def test_two_disagreeing_sectors_are_both_listed(stamps):
    r = V25.run(po.syn_context([stamps["a"], stamps["eb"]]))[0]
    assert r.metrics["consistency_class"] == "INCONSISTENT"
    assert r.raw["inconsistent_sectors"] == [1, 3]


def test_per_sector_numbers_equal_v08_and_v09(mixed):
    ctx, res = mixed
    r8, r9 = V08.run(ctx)[0], V09.run(ctx)[0]
    summary = res[0].raw["summary"]
    assert list(summary) == ["1", "2", "3"]
    for row8, row9 in zip(r8.raw["per_sector"], r9.raw["per_sector"], strict=True):
        s = summary[str(row8["sector"])]
        for key, val in s["V08"].items():
            assert row8["metrics"][key] == pytest.approx(val, nan_ok=True), key
        assert s["V08_flags"] == row8["flags"] and s["V09_flags"] == row9["flags"]
        for key in ("diff_offset_pixels", "aperture_sum_ppm", "max_depth_pixel_distance"):
            assert row9["metrics"][key] == pytest.approx(s["V09"][key]), key
        assert len(s["V09"]["max_depth_pixel_offset"]) == 2


def test_unresolvable_with_one_sector_and_skipped_without(stamps):
    r = V25.run(po.syn_context([stamps["a"]]))[0]
    assert r.metrics["consistency_class"] == "UNRESOLVABLE" and r.verdict == "insufficient"
    assert r.metrics["chi2_p_value"] == 1.0 and r.metrics["chi2"] is None
    lc = LightCurve(np.linspace(0, 10, 100), np.ones(100), np.ones(100) * 1e-3)
    res = V25.run(VetContext.build(lc, [Candidate(2.0, 1.0, 2.0)] * 2))
    assert [x.flags for x in res] == [["SKIPPED:NO_TPF"], ["SKIPPED:NO_TPF"]]


def test_pixel_frame_without_wcs(stamps):
    a = dataclasses.replace(stamps["a"], wcs=None)
    b = dataclasses.replace(stamps["b"], wcs=None)
    r = V25.run(po.syn_context([a, b]))[0]
    assert r.metrics["frame"] == "pixel" and "V25_PIXEL_FRAME" in r.flags
    # the stamps are rotated by 90 deg: in the pixel frame the small on-target shift vectors differ
    v = [np.array(p["centroid_vector_arcsec"]) for p in r.raw["per_sector"]]
    assert np.linalg.norm(v[0] - v[1]) > 0.02


def test_json_summary_and_plots(mixed, tmp_path):
    import matplotlib.pyplot as plt

    ctx, res = mixed
    r = res[0]
    text = json.dumps(r.to_dict())  # everything JSON-serialisable
    assert '"consistency_class": "INCONSISTENT"' in text
    fig = plot_localization_consistency(r)
    assert len(fig.axes) == 6
    fig.savefig(tmp_path / "v25.png", dpi=50)
    plt.close(fig)
    ax = plot_centroid_shift(V08.run(ctx)[0])
    assert "V08 centroid shift" in ax.get_title()
    ax2 = plot_difference_image(V09.run(ctx)[0])
    assert "V09 difference image" in ax2.get_title()
    skipped = V25.run(VetContext.build(ctx.lightcurves[0], ctx.candidates))[0]
    fig2 = plot_localization_consistency(skipped)
    ax3 = plot_centroid_shift(V08.run(VetContext.build(ctx.lightcurves[0], ctx.candidates))[0])
    assert fig2 is not None and ax3 is not None
    plt.close("all")


# ------------------------------------------------------------------ the chi-square
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_gls_chi2_matches_oracle(k, seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(1, 5, 2))
    a = rng.normal(size=(1, 5, 2, 2))
    cov = a @ np.swapaxes(a, -1, -2) + 0.1 * np.eye(2)
    use = np.zeros((1, 5), bool)
    use[0, :k] = True
    out = {
        n: np.asarray(x)
        for n, x in gls_consistency(jnp.asarray(v), jnp.asarray(cov), jnp.asarray(use)).items()
    }
    if k < 2:
        assert np.isnan(out["chi2"][0]) and out["dof"][0] == 0
        return
    chi2, dof, mu = po.gls_chi2(list(v[0, :k]), list(cov[0, :k]))
    assert out["chi2"][0] == pytest.approx(chi2, rel=1e-9) and out["dof"][0] == dof
    np.testing.assert_allclose(out["mean"][0], mu, rtol=1e-9, atol=1e-12)
    for s in range(k):  # leave-one-out: sector s against the GLS mean of the others
        others = [i for i in range(k) if i != s]
        _, _, mu_o = (
            po.gls_chi2(list(v[0, others]), list(cov[0, others])) if k > 2 else (0, 0, v[0, others[0]])
        )
        cov_mu = np.linalg.inv(sum(np.linalg.inv(cov[0, i]) for i in others))
        d = v[0, s] - mu_o
        want = d @ np.linalg.inv(cov[0, s] + cov_mu) @ d
        assert out["loo_chi2"][0, s] == pytest.approx(want, rel=1e-8)


# ------------------------------------------------------------------ real data (seed 001 layout)
@pytest.mark.realdata
def test_toi5807_sector83_summary_has_the_seed_numbers(shared_data, toi5807_sectors):
    p = shared_data / "tic188646744" / "sector83_tpf.npz"
    if not p.exists():
        pytest.skip(f"{p} not found")
    cand = Candidate(14.2423724, 3540.26317, 4.046, depth_ppm=255.55864733783906)
    r = V25.run(VetContext.build(toi5807_sectors[83], [cand], tpfs=[po.real_stamp(p)], seed=42))[0]
    assert r.metrics["consistency_class"] == "UNRESOLVABLE"  # one TPF sector available
    s = r.raw["summary"]["83"]
    assert s["V08"]["centroid_shift_pixels"] == pytest.approx(0.017002980203089595, rel=1e-12)
    assert s["V08"]["n_in_transit_cadences"] == 244 and s["V08"]["n_out_of_transit_cadences"] == 16841
    assert s["V08_flags"] == []
    assert s["V09_flags"] == ["DIFFIMG_MAX_AT_EDGE", "DIFFIMG_TARGET_DEPTH_NONPOSITIVE", "DIFFIMG_UNRELIABLE"]


def test_cli_vets_several_tpf_files_with_v08_v09_v25(tmp_path, capsys):
    """``jaxvet vet LC --tpf A --tpf B --tpf C --checks V08,V09,V25``: three stamp files (npz, no
    pickled WCS: pixel frame), the aperture-sum light curve as the shared CSV format."""
    from jaxvet.campaigns.pixel import stamp_lightcurve
    from jaxvet.cli.main import main
    from jaxvet.data import stitch

    sts = [
        po.syn_stamp(kind, seed=s, sector=sec)
        for kind, s, sec in (("target", 1, 1), ("target", 4, 2), ("eb", 2, 3))
    ]
    files = []
    for st_ in sts:
        p = tmp_path / f"sector{st_.sector}_tpf.npz"
        np.savez(
            p,
            time=st_.time,
            flux=st_.flux,
            flux_err=st_.flux_err,
            aperture_mask=st_.aperture_mask,
            quality=np.zeros(st_.n_cadences, np.int32),
        )
        files += ["--tpf", str(p)]
    lc = stitch([stamp_lightcurve(s) for s in sts])
    csv = tmp_path / "lc.csv"
    with csv.open("w") as fh:
        fh.write("time_btjd,flux,flux_err,quality\n")
        for t, f, e in zip(lc.time, lc.flux, lc.flux_err, strict=True):
            fh.write(f"{float(t)!r},{float(f)!r},{float(e)!r},0\n")
    eph = po.SYN_EPHEMERIS
    cand = [
        "--period",
        str(eph["period_days"]),
        "--t0",
        str(eph["t0_btjd"]),
        "--duration-hours",
        str(eph["duration_hours"]),
    ]
    rc = main(["vet", str(csv), *cand, *files, "--checks", "V08,V09,V25", "--json", "-", "--json-raw"])
    out = capsys.readouterr().out
    assert rc == 0, out
    res = json.loads(out)
    checks = res["candidates"][0]["checks"]
    assert set(checks) >= {"V08", "V09", "V25"}
    v25 = checks["V25"]
    assert v25["metrics"]["consistency_class"] == "INCONSISTENT"
    assert v25["raw"]["inconsistent_sectors"] == [3]
    assert [row["sector"] for row in checks["V08"]["raw"]["per_sector"]] == [1, 2, 3]


def test_misspelled_option_is_named(stamps):
    from jaxvet.errors import JaxvetInputError

    with pytest.raises(JaxvetInputError, match="chi2_treshold"):
        V25.run(po.syn_context([stamps["a"]], options={"V25": {"chi2_treshold": 0.05}}))


def test_requires_v08_and_v09_and_reports_only_v25(stamps):
    import jaxvet

    ctx = po.syn_context([stamps["a"], stamps["b"]])
    rep = jaxvet.vet(ctx.lightcurves[0], ctx.candidates[:2], checks=["V25"], tpfs=ctx.tpfs,
                     options=dict(ctx.options), estimate_depth=False)
    assert V25.requires == ("V08", "V09") and rep.checks == ["V25"] and set(rep[0]) == {"V25"}
    direct = V25.run(po.syn_context([stamps["a"], stamps["b"]], candidates=ctx.candidates[:2]))
    assert rep[0]["V25"].metrics == direct[0].metrics


def test_stamp_prepared_once_for_every_pixel_check_and_call(stamps, monkeypatch):
    """V08, V09, V10, V20 and V25 of one vet() call read one prepared stamp, and a second call
    on the same stamp prepares nothing again (the preparation is kept on the stamp)."""
    import jaxvet
    from jaxvet import stamps as sx

    calls = []
    real = sx._dispatch_stamp

    def counting(stamp, quality_bitmask):
        calls.append((id(stamp), quality_bitmask))
        return real(stamp, quality_bitmask)

    monkeypatch.setattr(sx, "_dispatch_stamp", counting)
    fresh = dataclasses.replace(stamps["a"])  # a new stamp: nothing prepared on it yet
    ctx = po.syn_context([fresh])
    checks = ["V08", "V09", "V10", "V20", "V25"]
    for _ in range(2):
        rep = jaxvet.vet(
            ctx.lightcurves[0],
            ctx.candidates[:2],
            checks=checks,
            tpfs=[fresh],
            options=dict(ctx.options),
            estimate_depth=False,
        )
        assert set(rep[0]) == set(checks)
    assert calls == [(id(fresh), 0)]
    # another quality bitmask is another product of the same stamp
    sx.prepared([fresh], quality_bitmask=32)
    sx.prepared([fresh], quality_bitmask=32)
    assert calls == [(id(fresh), 0), (id(fresh), 32)]
