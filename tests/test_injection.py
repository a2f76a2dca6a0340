"""Tests of jaxvet.campaigns.injection: parameter draws, injected fluxes against a numpy oracle, shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.campaigns.injection import (
    KINDS,
    InjectionConfig,
    ParamSpec,
    base_stats,
    build_injection_batch,
    draw_parameters,
    limb_darkened_profile,
    trapezoid_profile,
)
from jaxvet.data import LightCurve, LightCurveBatch
from jaxvet.errors import JaxvetInputError
from tests.oracles import injection_oracle as oracle


def _small_lc(seed=0, n_sectors=2, cadence_min=10.0, white_ppm=300.0, gap_frac=0.02):
    """A small two-sector light curve (numpy; few points so oracle sweeps stay cheap)."""
    rng = np.random.default_rng(seed)
    dt = cadence_min / 1440.0
    times, secs = [], []
    for s in range(n_sectors):
        t = np.arange(1000.0 + 27.4 * s, 1000.0 + 27.4 * s + 26.0, dt)
        t = t[(t < 1000.0 + 27.4 * s + 12.5) | (t > 1000.0 + 27.4 * s + 13.5)]  # orbit gap
        times.append(t)
        secs.append(np.full(t.size, 10 + s))
    t = np.concatenate(times)
    f = 1.0 + white_ppm * 1e-6 * rng.standard_normal(t.size)
    q = np.zeros(t.size, int)
    q[rng.random(t.size) < gap_frac] = 1  # a few masked cadences
    return LightCurve(t, f, np.full(t.size, white_ppm * 1e-6), q, sector=np.concatenate(secs), target="T")


@pytest.fixture(scope="module")
def small():
    lcs = [_small_lc(0, cadence_min=30.0), _small_lc(1, n_sectors=1, cadence_min=10.0)]
    lcb = LightCurveBatch.from_lightcurves(lcs)
    return lcs, lcb, base_stats(lcs, lcb)


CFG = InjectionConfig.create(
    period_days="1:8:log", duration_hours="1:5", snr="5:60:log", impact="0:0.95", kinds="planet,eb"
)


def test_base_stats_match_oracle(small):
    lcs, lcb, stats = small
    for i, lc in enumerate(lcs):
        v = lc.valid
        assert float(stats.sigma[i]) == pytest.approx(oracle.robust_std(lc.flux[v]), rel=1e-12)
        assert float(stats.t_first[i]) == lc.time[v][0]
        sec_ids = np.asarray(lcb.sector_ids[i])
        for j, s in enumerate(sec_ids[sec_ids >= 0]):
            ts = lc.time[v & (lc.sector == s)]
            assert float(stats.exposure[i, j]) == pytest.approx(np.median(np.diff(ts)), rel=1e-12)


def test_injected_flux_matches_numpy_oracle(small):
    lcs, lcb, stats = small
    ids = np.arange(24)
    b = build_injection_batch(lcb, stats, ids, 7, CFG)
    p = {k: np.asarray(v) for k, v in b.params.items()}
    flux = np.asarray(b.lcb.flux)
    assert set(p["kind"]) == {0, 1}
    for k in range(ids.size):
        li = int(p["lc_index"][k])
        lc = lcs[li]
        v = lc.valid
        t, f0, sec = lc.time[v], lc.flux[v], lc.sector[v]
        sids = np.asarray(lcb.sector_ids[li])
        exposure = np.asarray(stats.exposure[li])[np.searchsorted(sids[sids >= 0], sec)]
        P, t0, D = p["period_days"][k], p["t0_btjd"][k], p["duration_hours"][k] / 24
        depth = p["depth_ppm"][k] * 1e-6
        # SNR definition and the depth that realises the target SNR
        n_in = oracle.n_in_transit(t, t0, P, D)
        sigma = oracle.robust_std(f0)
        assert p["n_in_transit"][k] == n_in
        assert p["noise_ppm"][k] == pytest.approx(sigma * 1e6, rel=1e-12)
        assert depth == pytest.approx(p["snr_target"][k] * sigma / math.sqrt(n_in), rel=1e-12)
        assert p["snr"][k] == pytest.approx(depth / sigma * math.sqrt(n_in), rel=1e-12)
        ratio = oracle.tflat_ratio(depth, p["impact"][k])
        assert p["tflat_ratio"][k] == pytest.approx(ratio, rel=1e-12, abs=1e-15)
        # flux: oracle integrates the instantaneous trapezoid numerically over each exposure
        expect = np.empty_like(f0)
        for e in np.unique(exposure):
            sel = exposure == e
            expect[sel] = oracle.injected_flux(
                t[sel],
                f0[sel],
                P,
                t0,
                D,
                depth,
                ratio,
                p["odd_even_ratio"][k],
                p["secondary_depth_ppm"][k] * 1e-6 / depth,
                p["secondary_phase"][k],
                e,
            )
        got = flux[k, : v.sum()]
        np.testing.assert_allclose(got, expect, rtol=0, atol=depth * 2e-6)
        assert np.all(flux[k, v.sum() :] == 1.0)  # padding untouched
        if p["kind"][k] == KINDS.index("planet"):
            assert p["odd_even_ratio"][k] == 1.0 and p["secondary_depth_ppm"][k] == 0.0
        else:
            assert 0.3 <= p["odd_even_ratio"][k] <= 0.7
            assert 0.48 <= p["secondary_phase"][k] <= 0.52
            assert 0.05 <= p["secondary_depth_ppm"][k] * 1e-6 / depth <= 0.3
    # candidates = injected ephemerides, one row each
    np.testing.assert_array_equal(np.asarray(b.cb.lc_index), np.arange(ids.size))
    np.testing.assert_allclose(np.asarray(b.cb.period), p["period_days"])
    np.testing.assert_allclose(np.asarray(b.cb.duration) * 24, p["duration_hours"])


def test_draws_do_not_depend_on_chunking_or_padding(small):
    _, lcb, stats = small
    whole = build_injection_batch(lcb, stats, np.arange(24), 3, CFG)
    part = build_injection_batch(lcb, stats, np.arange(17, 23), 3, CFG, pad_to=24)
    for name in ("period_days", "t0_btjd", "depth_ppm", "impact", "kind", "lc_index", "odd_even_ratio"):
        a = np.asarray(whole.params[name])[17:23]
        b = np.asarray(part.params[name])[:6]
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert np.asarray(part.params["valid"]).tolist() == [True] * 6 + [False] * 18
    assert not bool(np.asarray(part.cb.valid)[6:].any())
    other = build_injection_batch(lcb, stats, np.arange(24), 4, CFG)
    assert not np.allclose(np.asarray(other.params["period_days"]), np.asarray(whole.params["period_days"]))


def test_distributions_ranges_and_grids():
    cfg = InjectionConfig.create(
        period_days="2:32:log", duration_hours="2,3,4", depth_ppm="500:1500", impact=0.3, kind_weights=(3, 1)
    )
    n = 1200
    t_first = np.array([1000.0, 2000.0])
    p = {k: np.asarray(v) for k, v in draw_parameters(11, np.arange(n), cfg, 2, t_first).items()}
    assert np.all((p["period"] >= 2) & (p["period"] <= 32))
    # log-uniform: about half below the geometric mean (binomial sd ~ 0.014)
    assert abs(np.mean(p["period"] < 8.0) - 0.5) < 0.06
    # uniform depth
    assert np.all((p["amp"] >= 500e-6) & (p["amp"] <= 1500e-6))
    assert abs(np.mean(p["amp"] < 1000e-6) - 0.5) < 0.06
    # grid: mixed radix over injection_id -> exactly equal counts, in order
    np.testing.assert_allclose(p["duration"] * 24, np.array([2.0, 3.0, 4.0])[np.arange(n) % 3], rtol=1e-14)
    assert np.all(p["impact"] == 0.3)
    # kind weights 3:1
    assert abs(np.mean(p["kind"] == 0) - 0.75) < 0.05
    # t0 within one period after the first point of the base light curve; both used
    t0_lo = t_first[p["lc_index"]]
    assert np.all((p["t0"] >= t0_lo) & (p["t0"] < t0_lo + p["period"]))
    assert set(p["lc_index"].tolist()) == {0, 1}
    # planets carry no EB features
    planet = p["kind"] == 0
    assert np.all(p["eb_ratio"][planet] == 1.0) and np.all(p["sec_ratio"][planet] == 0.0)


def test_trapezoid_exposure_average_is_exact():
    dt = np.linspace(-0.2, 0.2, 800)  # avoids the contact points themselves (measure zero)
    for ratio in (0.0, 0.3, 0.9, 1.0):
        for e in (0.0, 0.00139, 0.0208, 0.05):
            got = np.asarray(trapezoid_profile(dt, 0.25, ratio, e))
            want = oracle.trapezoid_exposure(dt, 0.25, ratio, e, n_sub=4001)
            # the midpoint-rule oracle errs by ~1/n_sub at a box's jump, ~1/n_sub^2 at kinks
            np.testing.assert_allclose(got, want, atol=3e-4 if ratio == 1.0 and e > 0 else 2e-6)


def test_limb_darkened_profile_properties():
    dt = np.linspace(-0.1, 0.1, 2001)
    D = 0.12
    prof = np.asarray(limb_darkened_profile(dt, D, 0.1, 0.3, 0.4, 0.26, 0.0))
    assert prof[1000] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(prof, prof[::-1], atol=1e-12)  # symmetric
    assert np.all(prof[np.abs(dt) > D / 2] == 0.0)
    assert np.all(np.diff(prof[1000:]) <= 1e-12)  # non-increasing away from centre
    # limb darkening makes the bottom curved: at half the chord the profile is below 1
    assert prof[np.argmin(np.abs(dt - D / 4))] < 0.97
    # without limb darkening the bottom is flat (box with short ingress)
    flat = np.asarray(limb_darkened_profile(dt, D, 0.1, 0.3, 0.0, 0.0, 0.0))
    assert flat[np.argmin(np.abs(dt - D / 4))] == pytest.approx(1.0, abs=1e-12)


def test_limb_darkened_injection_runs(small):
    _, lcb, stats = small
    cfg = InjectionConfig.create(shape="limb_darkened", depth_ppm=2000.0, period_days=3.0, kinds="planet")
    b = build_injection_batch(lcb, stats, np.arange(4), 0, cfg)
    flux = np.asarray(b.lcb.flux)
    base = np.asarray(lcb.flux)[np.asarray(b.params["lc_index"])]
    deficit = 1 - flux / base
    assert np.all(np.isfinite(flux))
    # the deepest point reaches the mid-transit depth (within the exposure smoothing)
    assert np.all(deficit.max(axis=1) <= 2000e-6 * (1 + 1e-9))
    assert np.all(deficit.max(axis=1) > 0.9 * 2000e-6)
    # depth mode: the SNR follows from the depth
    p = {k: np.asarray(v) for k, v in b.params.items()}
    np.testing.assert_allclose(p["depth_ppm"], 2000.0, rtol=1e-12)
    assert np.all(np.isnan(p["snr_target"]))
    np.testing.assert_allclose(
        p["snr"], 2000e-6 / (p["noise_ppm"] * 1e-6) * np.sqrt(p["n_in_transit"]), rtol=1e-12
    )


# ---- boundary validation -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(period_days="0:5"), "period_days"),
        (dict(period_days="-1:5:log"), "period_days"),
        (dict(period_days="5:1"), "period_days"),
        (dict(duration_hours="a:b"), "duration_hours"),
        (dict(kinds="planet,comet"), "comet"),
        (dict(impact="0:3"), "impact"),
        (dict(depth_ppm="-5:10"), "depth_ppm"),
        (dict(shape="box"), "shape"),
        (dict(eb_depth_ratio="0.3:0.7:cubic"), "eb_depth_ratio"),
        (dict(kind_weights=(1, -1)), "kind_weights"),
        (dict(stellar_radius=-1.0), "stellar_radius"),
        (dict(bogus=1), "bogus"),
    ],
)
def test_bad_config_rejected_with_named_field(kw, needle):
    with pytest.raises(JaxvetInputError, match=needle):
        InjectionConfig.create(**kw)


def test_bad_ids_rejected(small):
    _, lcb, stats = small
    with pytest.raises(JaxvetInputError, match="injection_ids"):
        build_injection_batch(lcb, stats, [], 0, CFG)
    with pytest.raises(JaxvetInputError, match="injection_ids"):
        build_injection_batch(lcb, stats, [-1], 0, CFG)
    with pytest.raises(JaxvetInputError, match="pad_to"):
        build_injection_batch(lcb, stats, np.arange(10), 0, CFG, pad_to=4)


_pos = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(lo=_pos, width=st.floats(0, 1e3), log=st.booleans(), grid=st.lists(_pos, min_size=1, max_size=5))
def test_paramspec_parse_roundtrip(lo, width, log, grid):
    hi = lo + width
    spec = ParamSpec.parse("x", f"{lo!r}:{hi!r}" + (":log" if log else ""))
    assert (spec.lo, spec.hi, spec.dist) == (lo, hi, "loguniform" if log else "uniform")
    assert ParamSpec.parse("x", spec.to_dict()) == spec
    g = ParamSpec.parse("x", ",".join(repr(v) for v in grid) + ("," if len(grid) == 1 else ""))
    assert g.values == tuple(grid)
    assert ParamSpec.parse("x", g.to_dict()) == g


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=12))
def test_paramspec_garbage_never_crashes(text):
    try:
        spec = ParamSpec.parse("period_days", text)
    except JaxvetInputError as exc:
        assert "period_days" in str(exc)
    else:
        assert spec.is_grid or (math.isfinite(spec.lo) and spec.lo <= spec.hi)


def test_config_dict_roundtrip():
    cfg = InjectionConfig.create(period_days=[2, 4, 8], snr="10:20", kinds=("eb",), stellar_radius=1.2)
    again = InjectionConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert InjectionConfig.from_dict(InjectionConfig().to_dict()) == InjectionConfig()
