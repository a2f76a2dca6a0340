"""TPF readers, the stamp data model, the padded pixel batch and its order-statistic helpers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxvet import stamps as px
from jaxvet.core import pixels as pxk
from jaxvet.data import PAD_TIME
from jaxvet.errors import DataFileError, JaxvetInputError
from jaxvet.io.pixels import read_tpf
from jaxvet.stamps import TPFStamp
from jaxvet.synthetic.stamps import Star, simulate_tpf
from tests.oracles import pixel_oracle as po

TOI5807_RADEC = (308.5672083333333, 43.36068888888889)


# ------------------------------------------------------------------ readers (real files)
@pytest.fixture(scope="module")
def npz_path(shared_data):
    p = shared_data / "tic188646744" / "sector83_tpf.npz"
    if not p.exists():
        pytest.skip(f"{p} not found")
    return p


@pytest.fixture(scope="module")
def tesscut_path(shared_data):
    p = shared_data / "tic261136679" / "tess-s0001-4-2_84.291190_-80.469170_6x6_astrocut.fits"
    if not p.exists():
        pytest.skip(f"{p} not found")
    return p


def test_read_npz_without_unpickling(npz_path):
    s = read_tpf(npz_path)
    assert s.shape == (17326, 13, 11)
    assert s.sector == 83  # parsed from the file name
    assert s.aperture_mask.sum() == 23
    assert s.quality.shape == (17326,) and np.all(s.quality == 0)
    assert s.wcs is None and not s.has_wcs
    assert any(n.startswith("wcs unavailable: pickled header not loaded") for n in s.notes)
    assert s.flux.dtype == np.float64 and s.time[0] == pytest.approx(3559.458315945771, abs=1e-12)
    assert read_tpf(npz_path, sector=99).sector == 99


def test_read_npz_allow_pickle_opt_in_gives_wcs(npz_path):
    s = read_tpf(npz_path, allow_pickle=True)
    assert s.has_wcs
    r, c = px.stamp_target_pixel(s, *TOI5807_RADEC)
    # the target sits in the bright core of the stamp (brightest pixels are rows 5-6, cols 4-5)
    assert 5.0 < r < 6.3 and 4.0 < c < 5.2
    j = px.sky_jacobian(s)
    assert np.allclose(np.sqrt(np.abs(np.linalg.det(j))), 19.8, atol=1.0)  # ~20"/px


def test_read_tesscut_fits(tesscut_path):
    s = read_tpf(tesscut_path)
    assert s.shape == (50, 6, 6)
    assert s.sector == 1
    assert s.ra_deg == pytest.approx(84.29119) and s.dec_deg == pytest.approx(-80.46917)
    assert s.has_wcs
    r, c = px.stamp_target_pixel(s)
    assert 0 <= r <= 5 and 0 <= c <= 5
    assert s.aperture_mask is None  # TESScut has no pipeline aperture (bit 2)
    assert any("pipeline aperture" in n for n in s.notes)
    assert s.flux_err is not None and s.flux_err.shape == s.flux.shape
    assert np.all(np.isfinite(s.time)) and 1325.3 < s.time[0] < 1325.4


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(DataFileError, match="missing.npz"):
        read_tpf(tmp_path / "missing.npz")
    txt = tmp_path / "notes.txt"
    txt.write_text("time,flux\n1,2\n")
    with pytest.raises(DataFileError, match="notes.txt.*unrecognised"):
        read_tpf(txt)
    bad = tmp_path / "nofluxsector3.npz"
    np.savez(bad, time=np.arange(5.0))
    with pytest.raises(DataFileError, match="nofluxsector3.npz.*flux"):
        read_tpf(bad)
    shp = tmp_path / "shape.npz"
    np.savez(shp, time=np.arange(5.0), flux=np.ones((4, 3, 3)))
    with pytest.raises(DataFileError, match="shape.npz.*4 cadences but time has 5"):
        read_tpf(shp)
    with pytest.raises(JaxvetInputError, match="file path"):
        read_tpf(12)


def test_npz_pickled_header_is_never_loaded_by_default(tmp_path):
    """A pickled object in the file must not be unpickled unless asked (it could run code)."""
    p = tmp_path / "sector5_tpf.npz"
    np.savez(p, time=np.arange(10.0), flux=np.ones((10, 3, 3)), wcs_header=np.array({"CTYPE1": "RA---TAN"}))
    s = read_tpf(p)
    assert s.sector == 5 and s.wcs is None
    assert any("pickled header not loaded" in n for n in s.notes)


# ------------------------------------------------------------------ data model
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 6),
    r=st.integers(1, 4),
    c=st.integers(1, 4),
    bad=st.sampled_from(["flux2d", "len", "err", "aperture", "quality", "ra"]),
)
def test_tpfstamp_rejects_bad_input_naming_the_field(n, r, c, bad):
    t = np.arange(n, dtype=float)
    f = np.ones((n, r, c))
    kw = dict(time=t, flux=f)
    field = {
        "flux2d": ("flux", dict(flux=np.ones((n, r)))),
        "len": ("flux", dict(time=np.arange(n + 1.0))),
        "err": ("flux_err", dict(flux_err=np.ones((n, r, c + 1)))),
        "aperture": ("aperture_mask", dict(aperture_mask=np.ones((r + 1, c), bool))),
        "quality": ("quality", dict(quality=np.zeros(n + 2))),
        "ra": ("ra_deg", dict(ra_deg=float("nan"))),
    }[bad]
    kw.update(field[1])
    with pytest.raises(JaxvetInputError, match=field[0]):
        TPFStamp(**kw)


def test_tpfstamp_converts_bjd_and_is_read_only():
    s = TPFStamp(time=2457000.0 + np.arange(5.0), flux=np.ones((5, 2, 2)))
    assert s.time[0] == 0.0
    with pytest.raises(ValueError):
        s.flux[0, 0, 0] = 3.0


def test_packing_drops_invalid_cadences_and_pads():
    base = po.syn_stamp("flat", seed=8)  # the synthetic scenarios' shape: no extra compile
    f = np.array(base.flux)
    t = np.array(base.time)
    t[3] = np.nan
    f[7] = np.nan  # all-NaN frame
    f[9, 1, 1] = np.nan  # one NaN pixel: cadence kept
    s = TPFStamp(time=t, flux=f, sector=2)
    sp = px.prepare_stamp(s)
    assert sp.n_dropped == 2 and int(sp.pb.n_valid[0]) == 3598
    assert sp.pb.n_cadences == 4096 and sp.pb.n_pixels == 128
    tt = np.asarray(sp.pb.time[0])
    assert np.all(np.diff(tt[:3598]) > 0) and np.all(tt[3598:] == PAD_TIME)
    assert np.asarray(sp.pb.pix_mask[0]).sum() == 121
    assert np.isnan(np.asarray(sp.pb.flux[0, 3598:])).all()
    assert np.isnan(np.asarray(sp.pb.flux[0, :, 121:])).all()
    # prepared once per run (the run's cache), shared by the checks of the run
    ctx = po.syn_context([s])
    assert px.prepared([s], ctx=ctx) is px.prepared([s], ctx=ctx)
    # the quality bitmask option drops flagged cadences
    q = np.zeros(len(t), int)
    q[[5, 6]] = 32
    s2 = TPFStamp(time=t, flux=f, quality=q)
    assert px.prepare_stamp(s2, quality_bitmask=32).n_dropped == 4
    assert px.prepare_stamp(s2).n_dropped == 2


def test_prepared_stamp_is_kept_on_the_stamp_not_in_pickles():
    import copy
    import pickle

    s = TPFStamp(time=2000.0 + np.arange(40) / 144.0, flux=np.ones((40, 3, 3)), sector=5)
    sp = px.prepare_stamp(s)
    assert px.prepare_stamp(s) is sp and px.prepared([s]).preps[0] is sp
    assert px.prepare_stamp(s, quality_bitmask=32) is not sp
    assert s.has_product((px.PREPARED_KEY, 0)) and s.has_product((px.PREPARED_KEY, 32))
    for other in (pickle.loads(pickle.dumps(s)), copy.copy(s)):
        assert not other.has_product((px.PREPARED_KEY, 0))
        assert other.sector == 5 and np.array_equal(other.flux, s.flux)
        assert px.prepare_stamp(other) is not sp


def test_centroids_and_pixel_noise_match_oracle():
    rng = np.random.default_rng(3)
    f = np.array(po.syn_stamp("target", seed=9).flux)
    f[rng.random(f.shape) < 0.02] = np.nan
    f[:, 0, :] -= 150.0  # negative pixels: clipped in the weights
    f[10] = -5.0  # non-positive frame: no centroid
    f[20, :, :] = np.nan
    f[20, 0, 0] = 3.0  # single finite pixel
    n = f.shape[0]
    s = TPFStamp(time=2000.0 + np.arange(n) / 144.0, flux=f)
    sp = px.prepare_stamp(s)
    cv = np.asarray(sp.stats.cval[0])
    cx, cy = (np.asarray(sp.stats.cc[0, i]) for i in (0, 1))
    ox, oy = np.array([po.frame_centroid(f[i]) for i in range(n)]).T
    assert np.array_equal(cv[:n], np.isfinite(ox))
    np.testing.assert_allclose(cx[:n][cv[:n]], ox[cv[:n]], rtol=1e-12)
    np.testing.assert_allclose(cy[:n][cv[:n]], oy[cv[:n]], rtol=1e-12)
    assert not cv[10] and cv[20] and cx[20] == 0.0 and cy[20] == 0.0
    sig = np.asarray(sp.stats.sigma_pix[0])[:121].reshape(11, 11)
    np.testing.assert_allclose(sig, po.pixel_noise(f), rtol=1e-12)
    # sorted arrays and ranks are consistent
    xs, perm, rank = (np.asarray(a[0, 0]) for a in (sp.stats.csort, sp.stats.cperm, sp.stats.crank))
    nc = int(sp.stats.n_c[0])
    assert np.all(np.diff(xs[:nc]) >= 0) and np.all(np.isinf(xs[nc:]))
    assert np.array_equal(rank[perm], np.arange(len(perm)))
    assert float(sp.stats.max_flux[0]) == np.nanmax(f[np.isfinite(f).any(axis=(1, 2))])


# ------------------------------------------------------------------ order statistics with removed ranks
_CAP = 64


@jax.jit
def _order_stats(xs_pad, ranks, mask, n, med, q4):
    """All helpers at fixed shapes (one compile for every hypothesis example)."""
    g, m = pxk.exclusion_g(ranks, mask)
    r = jnp.arange(_CAP, dtype=jnp.int32)
    pos = pxk.kth_remaining(jnp.broadcast_to(g, (_CAP, _CAP)), r)
    pos_many = pxk.kth_remaining_many(g, r)
    pcount = pxk.kth_remaining_count(
        jnp.broadcast_to(ranks, (_CAP, _CAP)), jnp.broadcast_to(mask, (_CAP, _CAP)), r, jnp.full(_CAP, n)
    )
    nn = n - m
    d = pxk.kth_distance(
        lambda rr: xs_pad[jnp.clip(pxk.kth_remaining(jnp.broadcast_to(g, (4, _CAP)), rr), 0, 2 * _CAP - 1)],
        jnp.zeros(4, jnp.int32),
        jnp.full(4, nn),
        jnp.full(4, med),
        q4,
        8,
    )
    return m, pos, pos_many, pcount, d


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 60),
    m_frac=st.floats(0.0, 0.9),
    seed=st.integers(0, 10**6),
    ties=st.booleans(),
)
def test_removed_rank_order_statistics_match_numpy(n, m_frac, seed, ties):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), 1) if ties else rng.normal(size=n)
    xs = np.sort(x)
    m = int(m_frac * n)
    removed = np.sort(rng.choice(n, size=m, replace=False))
    keep = np.setdiff1d(np.arange(n), removed)
    rem = xs[keep]
    ranks = np.zeros(_CAP, np.int32)
    mask = np.zeros(_CAP, bool)
    ranks[:m], mask[:m] = rng.permutation(removed), True
    nn = n - m
    med = float(np.median(rem)) if nn else 0.0
    q4 = np.array([0, max(nn - 1, 0) // 2, nn // 2, max(nn - 1, 0)], np.int32)
    xs_pad = np.concatenate([xs, np.full(2 * _CAP - n, np.inf)])
    mm, pos, pos_many, pcount, d = (np.asarray(v) for v in _order_stats(xs_pad, ranks, mask, n, med, q4))
    assert int(mm) == m
    assert np.array_equal(pos[:nn], keep) and np.array_equal(pos_many[:nn], keep)
    assert np.array_equal(pcount[:nn], keep)
    if nn:
        # MAD order statistics by the "k closest" search equal numpy's distances exactly
        dist = np.sort(np.abs(rem - med))
        assert np.array_equal(d[q4 < nn], dist[q4[q4 < nn]])


# ------------------------------------------------------------------ helpers
def test_lc_tpf_overlap_block():
    from jaxvet.data import LightCurve

    lc = LightCurve(np.linspace(10, 20, 50), np.ones(50), np.ones(50))
    m, flags, _ = px.lc_tpf_overlap(lc, np.linspace(15, 25, 40))
    assert m["lc_tpf_time_overlap_days"] == pytest.approx(5.0)
    assert m["lc_tpf_time_overlap_fraction_union"] == pytest.approx(5.0 / 15.0)
    assert m["tpf_fraction_within_lc_timerange"] == pytest.approx(np.mean(np.linspace(15, 25, 40) <= 20))
    assert flags == []
    m, flags, notes = px.lc_tpf_overlap(lc, np.linspace(30, 40, 10))
    assert flags == ["LC_TPF_TIME_DISJOINT"] and m["lc_tpf_time_overlap_days"] == 0.0
    m, flags, _ = px.lc_tpf_overlap(lc, np.full(3, np.nan))
    assert flags == ["LC_TPF_TIME_INVALID"] and m["lc_time_min_btjd"] is None


def test_synthetic_generator_is_seeded_and_truthful():
    kw = dict(n_cadences=400, period_days=1.0, t0_btjd=2000.3, duration_hours=2.0)
    a = simulate_tpf(7, depth_ppm=20000, **kw)
    b = simulate_tpf(7, depth_ppm=20000, **kw)
    c = simulate_tpf(8, depth_ppm=20000, **kw)
    assert np.array_equal(a.flux, b.flux) and not np.array_equal(a.flux, c.flux)
    tr = a.meta["truth"]
    assert px.stamp_target_pixel(a) == pytest.approx(tuple(tr["target_rc"]), abs=1e-9)
    # transit depth in the aperture sum (the target dominates the aperture)
    ap = np.nansum(a.flux * a.aperture_mask, axis=(1, 2))
    ph = ((a.time - 2000.3 + 0.5) % 1.0) - 0.5
    inn, out = np.abs(ph) < 0.02, np.abs(ph) > 0.1
    depth = 1 - np.median(ap[inn]) / np.median(ap[out])
    assert 0.012 < depth < 0.022
    # a rotated detector keeps the neighbour at the same sky offset
    kw2 = dict(n_cadences=50, neighbours=[Star(-42.0, 0.0, 1000.0)])
    r0 = simulate_tpf(1, rotation_deg=0.0, **kw2).meta["truth"]["star_rc"]
    r90 = simulate_tpf(1, rotation_deg=90.0, **kw2).meta["truth"]["star_rc"]
    d0 = np.subtract(r0[1], r0[0])
    d90 = np.subtract(r90[1], r90[0])
    assert np.hypot(*d0) == pytest.approx(2.0, abs=1e-6) and np.hypot(*d90) == pytest.approx(2.0, abs=1e-6)
    assert abs(np.dot(d0, d90)) < 1e-6  # perpendicular in pixel space
    with pytest.raises(JaxvetInputError, match="eb_star"):
        simulate_tpf(1, n_cadences=10, period_days=1.0, t0_btjd=0.0, eb_star=2)


# ---------------------------------------------------------------------------------------------
# saturation guard (jaxvet's; the reference's saturation_risk is max / 150000 > 1)
# ---------------------------------------------------------------------------------------------
FULL_WELL_RATE = 1.0e5  # e-/s: ~2e5 e- full well per 2-s TESS exposure


def bleed(flux: np.ndarray, level: float = FULL_WELL_RATE) -> np.ndarray:
    """Saturate a (T, rows, cols) cube the way a CCD does: charge above ``level`` spills up and
    down its column (half each way, conserved until it leaves the stamp), giving flat bleed
    columns at ``level``."""
    f = np.array(flux, dtype=float)
    for _ in range(1000):
        over = np.maximum(f - level, 0.0)
        if not over.any():
            break
        f -= over
        f[:, 1:, :] += 0.5 * over[:, :-1, :]
        f[:, :-1, :] += 0.5 * over[:, 1:, :]
    return f


def saturated_stamp(saturate: bool = True, seed: int = 3):
    """A bright on-target transit (5000 ppm, 2.5 d, 3 h; 4 transits in 1500 10-min cadences) on an
    11x11 stamp.  ``saturate``: the target (1e6 e-/s, peak pixel ~1.8e5) bled at the full-well
    rate (known truth: saturated star, transit on the target); else a 3e5 e-/s target whose peak
    (~5.4e4 e-/s) stays below the full well."""
    import dataclasses

    base = simulate_tpf(
        seed,
        n_cadences=1500,
        target_flux=1.0e6 if saturate else 3.0e5,
        depth_ppm=5000.0,
        jitter_px=0.002,
        read_noise=30.0,
        **po.SYN_EPHEMERIS,
    )
    if not saturate:
        return base
    return dataclasses.replace(base, flux=bleed(base.flux))


def test_pixel_medians_and_saturation_count_on_a_bled_stamp():
    st_ = saturated_stamp()
    prep = px.prepare_stamp(st_)
    med = np.asarray(prep.pixel_median)[0, : 11 * 11].reshape(11, 11)
    assert np.allclose(med, np.nanmedian(st_.flux, axis=0))
    # a flat bleed column at the full-well rate through the target's column
    flat = med >= 0.999 * FULL_WELL_RATE
    sat = med >= px.SATURATION_FLUX
    assert flat.sum() >= 3 and np.all(sat[flat]) and sat.sum() < 10
    assert int(pxk.saturated_pixel_count(prep.pixel_median, px.SATURATION_FLUX)[0]) == sat.sum()
    assert int(pxk.saturated_pixel_count(prep.pixel_median, 2 * FULL_WELL_RATE)[0]) == 0
    # the reference's test (max / 150000 > 1) misses it
    assert prep.max_flux < 150000.0
    bits = pxk.evidence_bits(
        jnp.asarray([1, 3, 3]), jnp.asarray([20, 5, 20]), jnp.asarray([0, 0, 2]), 2.0, 10.0
    )
    assert np.asarray(bits).tolist() == [pxk.TOO_FEW_TRANSITS, pxk.TOO_FEW_IN_TRANSIT, pxk.SATURATED]
