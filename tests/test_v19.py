"""V19 alias diagnostics: numpy oracle on padded batches, known-truth aliases, tess-vetter 0.3.20
golden values on TOI-5807, edge inputs, no recompilation for a threshold."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from jaxvet.checks import get_check
from jaxvet.checks import v19_alias_diagnostics as V19
from jaxvet.data import Candidate, LightCurve
from jaxvet.engine.context import VetContext
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve
from tests.oracles.v16_v19_oracle import load_reference_v16_v19, v19_oracle

SPEC = get_check("V19")
RTOL = 1e-9
#: absolute tolerances: a box depth is the difference of two means of ~1, so its rounding is
#: ~1e-16 x a few in flux whatever its size (1e-6 ppm = 1e-12 is far above it); a score is that
#: depth over an error of >= ~1e-5, so 1e-6 sigma
ABS = {"depth_ppm": 1e-6, "score": 1e-6}


@pytest.fixture(scope="module")
def reference_v16_v19():
    g = load_reference_v16_v19()
    if g is None:
        pytest.skip("tests/data/reference_v16_v19.json not generated (reference_golden_v16_v19.py)")
    return g


def _tol(key: str) -> float:
    return ABS["depth_ppm"] if "depth" in key else ABS["score"]


def _close(got, want, key):
    if isinstance(want, bool) or isinstance(want, (str, int)) and not isinstance(want, float):
        assert got == want, key
        return
    if math.isinf(want):
        assert math.isinf(got) and (got > 0) == (want > 0), key
        return
    assert got == pytest.approx(want, rel=RTOL, abs=_tol(key)), key


def _lc(seed, n_sectors=2, cadence=10.0, err=True, **kw):
    lc = simulate_lightcurve(seed, sectors=tuple(range(1, n_sectors + 1)), cadence_min=cadence, **kw)
    if not err:
        lc = LightCurve(lc.time, lc.flux, None, lc.quality, sector=lc.sector)
    return lc


def _compare(res, lc, c, opts=None):
    opts = opts or {}
    v = lc.valid
    m, events, rows = v19_oracle(lc.time[v], lc.flux[v], lc.flux_err[v], c.period_days, c.t0_btjd,
                                 c.duration_hours, **opts)
    for k, want in m.items():
        _close(res.metrics[k], want, k)
    got_ev = res.raw["phase_shift_events"]
    assert [(e["phase"], e["n_points"]) for e in got_ev] == [(e["phase"], e["n_points"]) for e in events]
    for g, e in zip(got_ev, events, strict=True):
        assert g["significance"] == pytest.approx(e["significance"], rel=RTOL, abs=1e-6)
    for g, (lab, p, score, depth, dur) in zip(res.raw["harmonic_scores"], rows, strict=True):
        assert g["harmonic"] == lab and g["period"] == p and g["duration_hours"] == dur
        assert g["score"] == pytest.approx(score, rel=RTOL, abs=1e-6)
        assert g["depth_ppm"] == pytest.approx(depth, rel=RTOL, abs=1e-6)


def test_matches_oracle_on_random_padded_batch():
    """Two light curves of different lengths (one without flux errors: the unweighted path),
    random candidates on both, one batch."""
    a = inject_transits(_lc(1, 2), 3.3, 2001.1, 2.5, 2000.0)
    b = inject_transits(_lc(2, 1, cadence=20.0, err=False, variability_ppm=300.0), 2.2, 2000.4, 3.0, 1500.0)
    rng = np.random.default_rng(7)
    cands = [Candidate(3.3, 2001.1, 2.5), Candidate(2.2, 2000.4, 3.0)]
    cands += [
        Candidate(float(rng.uniform(0.6, 15)), float(2000 + rng.uniform(0, 5)), float(rng.uniform(0.6, 8)))
        for _ in range(10)
    ]
    idx = [0, 1] + [int(i) for i in rng.integers(0, 2, 10)]
    res = SPEC.run(VetContext.build([a, b], cands, lc_index=idx))
    for r, c, i in zip(res, cands, idx, strict=True):
        _compare(r, (a, b)[i], c)
        assert r.status == "ok" and r.verdict is None and r.confidence is None and r.flags == []


def test_more_phase_bins_and_thresholds_match_oracle():
    lc = inject_transits(_lc(4, 1), 2.7, 2000.9, 2.0, 3000.0, secondary_depth_ppm=800.0)
    c = Candidate(2.7, 2000.9, 2.0)
    opts = {"n_phase_bins": 24, "event_sigma_threshold": 2.0, "systematic_period_threshold_fraction": 0.2}
    r = SPEC.run(VetContext.build(lc, [c], options={"V19": opts}))[0]
    _compare(r, lc, c, {"n_bins": 24, "event_sigma": 2.0, "sys_threshold": 0.2})
    assert r.raw["provenance"] == opts and r.metrics["systematic_threshold_fraction"] == 0.2
    assert r.metrics["n_phase_shift_events"] >= 1  # the secondary at phase 0.5


def test_half_period_alias_of_equal_eclipse_binary():
    """An EB with equal eclipses at P vetted at 2P: the P/2 harmonic (the true period) wins, and
    the eclipse at phase 0.5 shows as a secondary and a phase-shift event."""
    p = 2.5
    lc = inject_transits(_lc(5, 2), p, 2000.7, 3.0, 4000.0, tflat_ratio=0.3)
    res = SPEC.run(VetContext.build(lc, [Candidate(2 * p, 2000.7, 3.0), Candidate(p, 2000.7, 3.0)]))
    alias, true = res[0].metrics, res[1].metrics
    assert alias["best_other_harmonic"] == "P/2"
    assert alias["best_other_over_base_score_ratio"] > 1.1
    assert alias["secondary_significance_sigma"] > 10
    assert any(abs(e["phase"] - 0.55) < 1e-9 or abs(e["phase"] - 0.45) < 1e-9
               for e in res[0].raw["phase_shift_events"])
    # vetted at its own period, no harmonic beats it and there is no secondary
    assert true["best_other_over_base_score_ratio"] < 1.0
    assert true["secondary_significance_sigma"] < 3


@pytest.mark.realdata
def test_toi5807_and_random_ephemerides_match_reference(toi5807_subsets, reference_v16_v19):
    ctx0, lcs = toi5807_subsets
    g = reference_v16_v19
    cands = list(ctx0.candidates) + [
        Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"]) for r in g["random"]
    ]
    idx = [0, 1] + [0] * len(g["random"])
    # without flux errors (the reference's zeros: the unweighted fallback), in the same run
    lc = lcs[1]
    noerr = LightCurve(lc.time, lc.flux, None, lc.quality, sector=lc.sector)
    cands += [Candidate(r["period_days"], r["t0_btjd"], r["duration_hours"]) for r in g["no_err"]]
    idx += [2] * len(g["no_err"])
    res = SPEC.run(VetContext.build([*lcs, noerr], cands, lc_index=idx))
    gold = [s["checks"]["V19"] for s in (g["subsets"]["all_sectors"], g["subsets"]["sectors_82_83"])]
    gold += [r["checks"]["V19"] for r in g["random"] + g["no_err"]]
    for r, want in zip(res, gold, strict=True):
        _matches_reference(r, want)


def _matches_reference(r, want):
    assert r.status == want["status"] and r.flags == want["flags"] and r.notes == want["notes"]
    assert list(r.metrics) == list(want["metrics"])
    for k, v in want["metrics"].items():
        _close(r.metrics[k], v, k)
    raw = want["raw"]
    assert r.raw["plot_data"]["harmonic_labels"] == raw["plot_data"]["harmonic_labels"]
    assert r.raw["plot_data"]["harmonic_periods"] == raw["plot_data"]["harmonic_periods"]
    ev, gev = r.raw["phase_shift_events"], raw["phase_shift_events"]
    assert [(e["phase"], e["n_points"]) for e in ev] == [(e["phase"], e["n_points"]) for e in gev]
    for a, b in zip(r.raw["harmonic_scores"], raw["harmonic_scores"], strict=True):
        assert a["duration_hours"] == b["duration_hours"] and a["period"] == b["period"]
    assert r.raw["systematic_period_proximity"]["systematic_period_name"] == (
        raw["systematic_period_proximity"]["systematic_period_name"]
    )
    assert r.raw["provenance"] == want["provenance"]


def test_tiny_light_curve_and_long_duration():
    """Too few points: zero scores, no events (the reference's guards); D >= P/2: the engine's flag."""
    t = np.linspace(2000.0, 2000.5, 12)
    lc = LightCurve(t, np.ones_like(t), np.full_like(t, 1e-4))
    res = SPEC.run(VetContext.build(lc, [Candidate(1.0, 2000.1, 2.0), Candidate(1.0, 2000.1, 13.0)]))
    m = res[0].metrics
    assert m["base_score_P"] == 0.0 and m["best_other_score"] == 0.0
    assert math.isinf(m["best_other_over_base_score_ratio"]) and m["n_phase_shift_events"] == 0
    assert m["best_other_harmonic"] == "P/2"  # all zero: the first harmonic
    assert "DURATION_TOO_LONG" in res[1].flags and res[0].flags == []


@pytest.mark.parametrize(
    "opts, name",
    [({"n_phase_bins": 0}, "n_phase_bins"), ({"systematic_period_threshold_fraction": 0.0}, "systematic"),
     ({"event_sigma_threshold": float("nan")}, "event_sigma"), ({"n_phase_bin": 3}, "n_phase_bin")],
)
def test_bad_options_rejected(opts, name):
    ctx = VetContext.build(_lc(0, 1, cadence=30.0), [Candidate(3.0, 2000.0, 2.0)], options={"V19": opts})
    with pytest.raises(JaxvetInputError, match=name):
        SPEC.run(ctx)


def test_threshold_change_does_not_recompile():
    lc = inject_transits(_lc(6, 1), 2.7, 2000.9, 2.0, 3000.0, secondary_depth_ppm=900.0)
    ctx = VetContext.build(lc, [Candidate(2.7, 2000.9, 2.0)])
    first = SPEC.run(ctx)[0].metrics["n_phase_shift_events"]
    before = V19._kernel._cache_size()
    counts = []
    for thr in (1.0, 50.0):
        opts = {"V19": {"event_sigma_threshold": thr, "systematic_period_threshold_fraction": 0.3}}
        counts.append(SPEC.run(dataclasses.replace(ctx, options=opts))[0].metrics["n_phase_shift_events"])
    assert V19._kernel._cache_size() == before
    assert counts[0] >= first >= counts[1] and counts[1] == 0 and counts[0] > 0


def test_systematic_period_table():
    names = dict(V19.SYSTEMATIC_PERIODS)
    assert len(V19.SYSTEMATIC_PERIODS) == 15 and names["tess_orbital_half"] == 6.85
    assert "tess_orbital_2x" not in names  # 27.4 is the sector duration already


def test_compute_tree_holds_the_summary_metrics():
    """A campaign stores ``summary_metrics`` from the device tree: each is a (B,) leaf."""
    lc = _lc(9, 1, cadence=30.0)
    ctx = VetContext.build(lc, [Candidate(3.0, 2000.5, 2.0), Candidate(5.0, 2001.0, 3.0)])
    tree = SPEC.compute(ctx, None)
    for m in SPEC.summary_metrics:
        assert np.shape(tree[m]) == (2,), m


def test_plot():
    import matplotlib.pyplot as plt

    from jaxvet.plotting import plot_check

    lc = inject_transits(_lc(10, 1, cadence=30.0), 2.9, 2000.6, 2.5, 3000.0)
    r = SPEC.run(VetContext.build(lc, [Candidate(2.9, 2000.6, 2.5)]))[0]
    fig, ax = plt.subplots()
    assert plot_check(r, ax=ax) is ax and SPEC.id in ax.get_title()
    assert len(r.raw["plot_data"]["harmonic_scores"]) > 0
    plt.close(fig)


def test_vet_chunking_does_not_change_results():
    """Through ``jaxvet.vet``: chunks of 2 candidates (several programs dispatched, joined on the
    device) give the same V16 and V19 results as one chunk, to the last bits XLA may change
    between vector widths (docs/architecture.md: 1e-16 to 8e-10; here 1e-12 relative, or 1e-8
    absolute for scores and ppm depths: a depth is a difference of two means of ~1)."""
    from jaxvet import vet

    lc = inject_transits(_lc(11, 1, cadence=30.0), 2.9, 2000.6, 2.5, 3000.0)
    rng = np.random.default_rng(12)
    cands = [Candidate(float(rng.uniform(1, 9)), float(2000 + rng.uniform(0, 3)), float(rng.uniform(1, 5)))
             for _ in range(5)]
    one = vet(lc, cands, ["V16", "V19"], chunk_size=8)
    many = vet(lc, cands, ["V16", "V19"], chunk_size=2)
    for a, b in zip(one.results, many.results, strict=True):
        for cid in ("V16", "V19"):
            assert list(a[cid].metrics) == list(b[cid].metrics) and a[cid].notes == b[cid].notes
            for k, v in a[cid].metrics.items():
                w = b[cid].metrics[k]
                if isinstance(v, float) and not math.isinf(v):
                    assert w == pytest.approx(v, rel=1e-12, abs=1e-8), (cid, k)  # depths: cancellation
                else:
                    assert w == v, (cid, k)
