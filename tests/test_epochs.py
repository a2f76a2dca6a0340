"""The shared per-epoch kernel (jaxvet.core.epochs) against the plain-numpy oracle on random batches.

One batch holds three light curves (patchy gaps, isolated data islands that force the global
baseline fallback and failed red-noise estimates, a light curve with flux around zero for the
``baseline <= 0`` branch, zero flux errors) and ~40 random candidates including short periods
(V01's 0.45 P cap active) and ``D >= 0.5 P`` (guard).  Every per-epoch quantity must match the
oracle to 1e-9 relative.  Window durations are kept inside one window bucket (3-5.5 h at 2-min
cadence) so the test compiles few programs.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxvet.core.epochs import FOLD_BINS, epoch_table_for_context, measure_epochs
from jaxvet.data import Candidate, CandidateBatch, LightCurve
from jaxvet.engine.context import VetContext
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles import per_epoch_oracle as orc

RTOL = 1e-9
DT = 2.0 / 1440.0


def close(a, b, rtol=RTOL, atol=1e-13):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _patchy(seed, t_start, days, keep_frac=0.85):
    """2-min cadence with random gaps (blocks of 5 min .. 1 d removed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(t_start, t_start + days, DT)
    keep = np.ones(t.size, bool)
    i = 0
    while i < t.size:
        i += int(rng.integers(30, 2000))
        gap = int(rng.integers(3, 700)) if rng.random() > keep_frac else 0
        keep[i : i + gap] = False
        i += gap
    return t[keep]


def _island_lc(seed):
    """A dense stretch plus isolated islands around chosen times (sparse local windows)."""
    rng = np.random.default_rng(seed)
    dense = np.arange(3000.0, 3012.0, DT)
    islands = []
    P, t0, D = 7.0, 3020.0, 4.0 / 24  # a designed candidate: epochs 0..3 at 3020, 3027, ...
    # epoch 0: in-transit only + 2 oot points -> local < 5 -> global fallback
    islands.append(np.arange(t0 - D / 2 + 0.002, t0 + D / 2 - 0.002, DT))
    islands.append(np.array([t0 + 0.5, t0 + 0.6]))
    # epoch 1: in-transit + 25 oot points clustered right after egress -> red noise fails
    tc = t0 + P
    islands.append(np.arange(tc - D / 2 + 0.002, tc + D / 2 + 25 * DT, DT))
    # epoch 2: a normal, fully covered epoch
    tc = t0 + 2 * P
    islands.append(np.arange(tc - 1.0, tc + 1.0, DT))
    # epoch 3: 4 in-transit points only (skipped, n_in < 5)
    tc = t0 + 3 * P
    islands.append(tc + np.arange(4) * DT)
    t = np.unique(np.concatenate([dense] + islands))
    f = 1.0 + 3e-4 * rng.standard_normal(t.size)
    err = np.full(t.size, 3e-4)
    err[rng.random(t.size) < 0.05] = 0.0  # some zero errors: box weights fall back to uniform
    lc = LightCurve(t, f, err, sector=1)
    return inject_transits(lc, P, t0, 4.0, 2500.0, supersample=1, seed=seed), (P, t0, 4.0)


def _zero_flux_lc(seed):
    rng = np.random.default_rng(seed)
    t = _patchy(seed, 4000.0, 20.0)
    f = 2e-4 * rng.standard_normal(t.size) + 1e-5  # baseline hovers around zero
    return LightCurve(t, f, np.full(t.size, 2e-4), sector=2)


@functools.lru_cache(maxsize=1)
def random_batch():
    """The shared random batch (light curves, candidates, lc indices, context, epoch table);
    built once per test process and reused by tests/test_v01.py and tests/test_v04.py."""
    rng = np.random.default_rng(42)
    sim = simulate_lightcurve(3, sectors=(1, 2), t_start=2000.0, white_ppm=400, red_ppm=150)
    keep = np.isin(sim.time, _patchy(5, 2000.0, 60.0))
    lc0 = inject_transits(sim.select(keep), 3.3, 2001.7, 4.0, 1800.0, tflat_ratio=0.6, supersample=1, seed=1)
    lc1, designed = _island_lc(7)
    lc2 = _zero_flux_lc(9)
    lcs = [lc0, lc1, lc2]
    cands, lci = [], []
    for i, lc in enumerate(lcs):
        t = lc.time
        for _ in range(11):
            P = float(np.exp(rng.uniform(np.log(0.6), np.log(12.0))))
            cands.append(Candidate(P, float(rng.uniform(t[0], t[0] + P)), float(rng.uniform(3.0, 5.5))))
            lci.append(i)
        cands.append(Candidate(0.30, float(t[0]) + 0.1, 4.0))  # D >= 0.5 P: guard
        lci.append(i)
    cands += [Candidate(3.3, 2001.7, 4.0), Candidate(1.1, 2000.3, 5.0), Candidate(*designed)]
    lci += [0, 0, 1]
    cands.append(Candidate(0.9, 4000.2, 3.5))
    lci.append(2)
    # dense 20-s sampling only around the transits (2-min elsewhere): more in-transit points than
    # the narrow in-transit block holds -> the kernel's overflow check re-runs the chunk wider
    Pd, t0d, Dd = 4.0, 5002.0, 3.0 / 24
    dense = [np.arange(t0d + k * Pd - Dd, t0d + k * Pd + Dd, 20 / 86400) for k in range(4)]
    td = np.unique(np.concatenate([np.arange(5000.0, 5016.0, DT)] + dense))
    fd = 1 + 3e-4 * rng.standard_normal(td.size) - 2e-3 * (np.abs((td - t0d + Pd / 2) % Pd - Pd / 2) < Dd / 2)
    lcs.append(LightCurve(td, fd, np.full(td.size, 3e-4), sector=4))
    cands.append(Candidate(Pd, t0d, 3.0))
    lci.append(len(lcs) - 1)
    # a flat, noiseless light curve: one candidate with all transits in gaps, one with two epochs
    lcs.append(LightCurve(np.arange(1000.0, 1005.0, DT), np.ones(3600), np.full(3600, 1e-4), sector=3))
    cands += [Candidate(20.0, 1010.0, 4.0), Candidate(3.0, 1001.0, 4.0)]
    lci += [len(lcs) - 1] * 2
    ctx = VetContext.build(lcs, cands, lc_index=lci)
    tab = epoch_table_for_context(ctx)
    return lcs, cands, lci, ctx, tab


@pytest.fixture(scope="module")
def batch():
    return random_batch()


def host_arrays(lc):
    """time, flux, flux_err of the valid cadences (what the checks see)."""
    v = lc.valid
    return lc.time[v], lc.flux[v], lc.flux_err[v]


def _host(lc):
    v = lc.valid
    return lc.time[v], lc.flux[v], lc.flux_err[v]


def test_per_epoch_matches_oracle(batch):
    lcs, cands, lci, ctx, tab = batch
    h = lambda a: np.asarray(a)  # noqa: E731
    seen = dict(guard=0, cap=0, glob=0, rn_warn=0, rn_applied=0, nonpos=0, skipped_global=0, partial=0)
    for b, (c, li) in enumerate(zip(cands, lci, strict=True)):
        t, f, _ = _host(lcs[li])
        P, t0, D = c.period_days, c.t0_btjd, c.duration_days
        assert bool(h(tab.guard)[b]) == (D >= 0.5 * P)
        if D >= 0.5 * P:
            seen["guard"] += 1
            assert not h(tab.slot)[b].any()
            continue
        for name, hw in (("v01", min(6 * D, 0.45 * P)), ("v04", 6 * D)):
            v = getattr(tab, name)
            recs = orc.per_epoch(t, f, P, t0, D, hw)
            sel = h(tab.slot)[b] & (h(tab.n_in)[b] >= 5)
            eps = h(tab.epoch)[b][sel].astype(int)
            assert eps.tolist() == [r["ep"] for r in recs], (b, name)
            assert h(tab.n_in)[b][sel].tolist() == [r["n_in"] for r in recs]
            assert h(v.processed)[b][sel].tolist() == [r["processed"] for r in recs]
            assert h(v.used_global)[b][sel].tolist() == [r["used_global"] and r["processed"] for r in recs]
            assert h(v.ok)[b][sel].tolist() == [r["ok"] for r in recs]
            assert h(v.rn_warn)[b][sel].tolist() == [r["rn_warn"] for r in recs]
            # epochs not in the oracle's list (n_in < 5) are never processed
            assert not (h(v.processed)[b] & ~sel).any()
            okm = [r["ok"] for r in recs]
            for key in ("depth", "sigma", "sigma_white", "inflation"):
                got = h(getattr(v, key))[b][sel][okm]
                want = [r[key] for r in recs if r["ok"]]
                assert close(got, want), (b, name, key, got, want)
            got = h(v.baseline)[b][sel][[r["processed"] for r in recs]]
            assert close(got, [r["baseline"] for r in recs if r["processed"]])
            assert close(h(tab.coverage)[b][sel], [r["coverage"] for r in recs], rtol=1e-9), (b, "coverage")
            seen["partial"] += sum(r["coverage"] < 0.6 for r in recs)
            if name == "v01" and hw < 6 * D:
                seen["cap"] += 1
            seen["glob"] += sum(r["used_global"] and r["processed"] for r in recs)
            seen["skipped_global"] += sum(r["used_global"] and not r["processed"] for r in recs)
            seen["rn_warn"] += sum(r["rn_warn"] for r in recs)
            seen["rn_applied"] += sum(r.get("inflation", 1.0) > 1.0 for r in recs)
            seen["nonpos"] += sum(r["processed"] and not r["ok"] for r in recs)
    # the batch really exercised every branch (incl. in-transit blocks wider than W/12)
    assert seen["guard"] == 3 and seen["cap"] >= 3 and seen["glob"] >= 2 and seen["rn_warn"] >= 1
    assert np.asarray(tab.n_in).max() > 2048 // 12 + 2
    assert seen["rn_applied"] >= 10 and seen["nonpos"] >= 1 and seen["partial"] >= 2, seen


def test_v01_extras_match_oracle(batch):
    """Box depths, pink-noise errors, OE_box and the folded profile vs the oracle."""
    lcs, cands, lci, ctx, tab = batch
    from jaxvet.checks import v01_odd_even

    arrays = v01_odd_even.SPEC.compute(ctx)
    n_checked = 0
    for b, (c, li) in enumerate(zip(cands, lci, strict=True)):
        t, f, e = _host(lcs[li])
        want = orc.v01(t, f, e, c.period_days, c.t0_btjd, c.duration_hours)
        if "box_odd" not in want:
            continue
        for key, ours, scale in (
            ("box_odd", "depth_odd_box_ppm", 1e6),
            ("box_even", "depth_even_box_ppm", 1e6),
            ("box_err_odd", "depth_err_odd_box_ppm", 1e6),
            ("box_err_even", "depth_err_even_box_ppm", 1e6),
            ("sigma_white", "sigma_white_ppm", 1e6),
            ("oe_box_sigma", "oe_box_sigma", 1.0),
            ("oe_box_rel_diff", "oe_box_rel_diff", 1.0),
        ):
            assert close(arrays[ours][b], want[key] * scale, rtol=1e-8, atol=1e-7), (b, key)
        # sigma_red is a difference of variances: compare on the variance scale
        for k in ("sigma_red", "sigma_red_bins", "sigma_red_epochs"):
            assert close(arrays[f"{k}_ppm"][b] ** 2, (want[k] * 1e6) ** 2, rtol=1e-7, atol=1e-4), (b, k)
        assert int(arrays["n_epochs_used"][b]) == want["n_used_odd"] + want["n_used_even"], b
        used = np.asarray(arrays["epoch"][b])[np.asarray(arrays["epoch_used"][b])].astype(int).tolist()
        assert used == want["used_epochs"], b
        for par in (0, 1):
            assert np.array_equal(arrays["fold_cnt"][b, par], want["fold"][par][1]), b
            assert close(arrays["fold_sum"][b, par], want["fold"][par][0], rtol=1e-7, atol=1e-9), b
        assert arrays["fold_sum"].shape[-1] == FOLD_BINS
        n_checked += 1
    assert n_checked >= 20


def test_batch_composition_does_not_matter(batch):
    """A candidate's epochs do not depend on its batch-mates, its position or the chunking:
    the same candidates in a shuffled order land in different chunks and rows."""
    lcs, cands, lci, ctx, tab = batch
    perm = np.random.default_rng(1).permutation(len(cands))
    cb = CandidateBatch.from_candidates([cands[i] for i in perm], lc_index=[lci[i] for i in perm])
    tab2 = measure_epochs(ctx.lcb, cb)
    assert np.asarray(tab2.guard).shape[0] == 64  # candidate axis padded to a bucket
    for j, i in enumerate(perm):
        s1, s2 = np.asarray(tab.slot)[i], np.asarray(tab2.slot)[j]
        assert np.asarray(tab.epoch)[i][s1].tolist() == np.asarray(tab2.epoch)[j][s2].tolist()
        for v in ("v01", "v04"):
            for key in ("depth", "sigma", "baseline", "pink_sum_r2"):
                a1 = np.asarray(getattr(getattr(tab, v), key))[i][s1]
                a2 = np.asarray(getattr(getattr(tab2, v), key))[j][s2]
                assert np.array_equal(a1, a2, equal_nan=True), (v, key)


def test_no_data_near_transits_is_not_an_error(batch):
    """Candidates whose transits all fall in gaps get no epochs, not an exception; flat noiseless
    flux gives depth 0 and sigma 0 (MAD 0, no inflation), still well defined."""
    lcs, cands, lci, ctx, tab = batch
    b_gap, b_flat = len(cands) - 2, len(cands) - 1
    assert not np.asarray(tab.slot)[b_gap].any() and not np.asarray(tab.v04.ok)[b_gap].any()
    ok = np.asarray(tab.v04.ok)[b_flat]
    assert ok.sum() == 2
    assert np.all(np.asarray(tab.v04.depth)[b_flat][ok] == 0.0)
    assert np.all(np.asarray(tab.v04.sigma)[b_flat][ok] == 0.0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    period=st.one_of(st.floats(-5, 0), st.just(float("nan")), st.just(float("inf"))),
    duration=st.one_of(st.floats(-3, 0), st.just(float("nan"))),
)
def test_bad_ephemeris_rejected_at_boundary(period, duration):
    with pytest.raises(JaxvetInputError, match="period_days"):
        Candidate(period, 1000.0, 3.0)
    with pytest.raises(JaxvetInputError, match="duration_hours"):
        Candidate(5.0, 1000.0, duration)


def test_red_noise_edges_bit_identical_to_linspace_under_jit():
    """The red-noise bin edges equal ``np.linspace(tmin, tmax, n_bins + 1)`` bit for bit under
    jit (``t_min + i*step`` compiled as one FMA differed in the last bit for ~12% of rows)."""
    import jax
    import jax.numpy as jnp

    from jaxvet.core.noise import red_noise_edges

    rng = np.random.default_rng(0)
    r = 2000
    tmin = rng.uniform(-3000.0, 3000.0, r)
    tmax = tmin + rng.uniform(0.05, 30.0, r)
    bin_days = rng.uniform(0.005, 0.5, r) * (tmax - tmin) / 3
    fn = jax.jit(red_noise_edges, static_argnums=4)
    edges, nb, ok = (
        np.asarray(x) for x in fn(*map(jnp.asarray, (tmin, tmax, np.full(r, 100), bin_days)), 64)
    )
    assert ok.sum() > 1500
    for k in np.flatnonzero(ok):
        np.testing.assert_array_equal(edges[k, : nb[k] + 1], np.linspace(tmin[k], tmax[k], nb[k] + 1))
        assert np.all(np.isinf(edges[k, nb[k] + 1 :]))


def test_window_cadence_ignores_gaps_and_near_duplicates():
    import jax.numpy as jnp

    from jaxvet.core.epochs import window_cadence

    t = 100.0 + DT * np.arange(400.0)
    t = np.concatenate([t[:150], t[260:]])  # a gap
    t = np.sort(np.concatenate([t, [t[200] + 1e-9]]))  # a near-duplicate time stamp (seam)
    m = np.ones(t.size, bool)
    pad = np.zeros(8)
    rows = np.stack(
        [np.concatenate([t, pad + t[-1]]), np.concatenate([t[:3], pad + t[2], np.zeros(t.size - 3)])]
    )
    mask = np.stack([np.concatenate([m, pad > 0]), np.arange(t.size + 8) < 3])
    c = np.asarray(window_cadence(jnp.asarray(rows), jnp.asarray(mask)))
    assert c[0] == pytest.approx(DT, rel=1e-6) and c[1] == pytest.approx(DT, rel=1e-9)
    assert np.isnan(np.asarray(window_cadence(jnp.asarray(rows[:, :1]), jnp.asarray(mask[:, :1]))))[0]


def _count_host_copies(monkeypatch):
    """Count device-to-host copies: explicit ``jax.device_get`` calls and implicit conversions
    (``np.asarray``, ``float``, ``bool`` ... of a device array) made outside them."""
    import jax
    from jax._src.array import ArrayImpl

    seen = {"get": 0, "implicit": []}
    depth = [0]
    real_get = jax.device_get

    def get(x):
        seen["get"] += 1
        depth[0] += 1
        try:
            return real_get(x)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(jax, "device_get", get)
    for name in ("__array__", "__float__", "__int__", "__bool__", "__index__", "item", "tolist"):
        orig = getattr(ArrayImpl, name)

        def wrapped(self, *a, _orig=orig, _name=name, **k):
            if depth[0] == 0:
                seen["implicit"].append(_name)
            return _orig(self, *a, **k)

        monkeypatch.setattr(ArrayImpl, name, wrapped)
    return seen


def test_chunks_are_dispatched_before_the_host_waits(batch, monkeypatch):
    """The host copies the table's device results a fixed number of times (window plan, every
    chunk's rows, the overflow re-run, every global-baseline chunk), however many chunks the
    budget cuts the batch into: no chunk is waited for before the next is dispatched."""
    from jaxvet.core import epochs

    lcs, cands, lci, ctx, tab = batch
    lch = epochs.LightCurveHost.of(ctx.lcb)
    real = epochs._RowChunk.dispatch
    counts = {}
    for budget in (1 << 20, 1 << 13):
        n_chunks = []
        monkeypatch.setattr(
            epochs._RowChunk, "dispatch", classmethod(lambda cls, *a, _n=n_chunks: _n.append(1) or real(*a))
        )
        with monkeypatch.context() as mp:
            seen = _count_host_copies(mp)
            tab2 = measure_epochs(ctx.lcb, ctx.cb, max_elements=budget, lc_host=lch)
        counts[budget] = (len(n_chunks), seen["get"], seen["implicit"])
        e = min(tab.n_epochs, tab2.n_epochs)  # the chunk shapes differ: equal to rounding
        for key in ("depth", "sigma", "baseline", "pink_sum_r2"):
            a1, a2 = np.asarray(getattr(tab.v01, key))[:, :e], np.asarray(getattr(tab2.v01, key))[:, :e]
            np.testing.assert_allclose(a2, a1, rtol=1e-12, atol=0, err_msg=key)
    (few, g_few, imp_few), (many, g_many, imp_many) = counts[1 << 20], counts[1 << 13]
    assert many >= 4 * few and many >= 12, counts
    assert g_many == g_few <= 4 and imp_many == imp_few == [], counts
    # the rows, then the two re-runs this batch needs (its 20-s windows are longer than the
    # 2-min cadence estimate, then their in-transit blocks overflow): plan and fallback stay on
    # the device
    assert g_many == g_few == 3, counts


def test_regular_cadence_table_is_one_host_copy(batch, monkeypatch):
    """With regular sampling (no window longer than its bucket) the table costs one
    device-to-host copy, the rows of every chunk, global-baseline fallback included."""
    from jaxvet.core import epochs

    lcs, cands, lci, ctx, tab = batch
    lch = epochs.LightCurveHost.of(ctx.lcb)
    keep = np.flatnonzero(np.isin(np.asarray(lci), [0, 1, 2]))  # the 2-min light curves
    cb = ctx.cb.take(keep)
    with monkeypatch.context() as mp:
        seen = _count_host_copies(mp)
        sub = measure_epochs(ctx.lcb, cb, max_elements=1 << 13, lc_host=lch)
    assert seen["get"] == 1 and seen["implicit"] == [], seen
    assert np.asarray(sub.v01.used_global).any()  # the island candidate's fallback is in it
    e = min(tab.n_epochs, sub.n_epochs)
    for key in ("depth", "sigma", "baseline"):
        a1 = np.asarray(getattr(tab.v04, key))[keep, :e]
        np.testing.assert_allclose(np.asarray(getattr(sub.v04, key))[: keep.size, :e], a1, rtol=1e-12, atol=0)


def test_vet_measures_the_epoch_table_once_per_segment(batch, monkeypatch):
    """jaxvet.vet with V01 and V04 over three chunks of one segment: one epoch table for the
    segment (one host copy), each chunk reads its rows on the device; the results equal a
    one-chunk run's."""
    import jaxvet
    from jaxvet.core import epochs

    lcs, cands, lci, ctx, tab = batch
    mine = [c for c, i in zip(cands, lci, strict=True) if i == 0]
    calls = []
    real = epochs.measure_epochs

    def counting(lcb, cb, **kw):
        with monkeypatch.context() as mp:
            seen = _count_host_copies(mp)
            out = real(lcb, cb, **kw)
        calls.append((cb.size, seen["get"], seen["implicit"]))
        return out

    monkeypatch.setattr(epochs, "measure_epochs", counting)
    kw = dict(checks=["V01", "V04"], estimate_depth=False, threads=1)
    many = jaxvet.vet(lcs[0], mine, chunk_size=4, segment_size=16, **kw)
    assert calls == [(20, 1, [])], calls  # 14 candidates: 4 chunks of 8 rows from 0, 4, 8, 12
    one = jaxvet.vet(lcs[0], mine, chunk_size=16, **kw)
    for i in range(len(mine)):
        for cid in ("V01", "V04"):
            a, b = many[i][cid], one[i][cid]
            assert (a.status, a.verdict, a.flags) == (b.status, b.verdict, b.flags)
            assert a.metrics == b.metrics
