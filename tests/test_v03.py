"""V03 duration consistency: numpy oracle, known cases, TOI-5807 golden values, edge inputs, plot."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.checks import get_check
from jaxvet.checks import v03_duration_consistency as V03
from jaxvet.data import Candidate, CandidateBatch, LightCurve, LightCurveBatch
from jaxvet.engine.context import VetContext
from jaxvet.errors import JaxvetInputError
from tests.oracles.v02_v03_oracle import v03_oracle

RTOL = 1e-9


def _ctx(cands):
    """A context with a tiny dummy light curve (V03 never reads it)."""
    t = np.linspace(2000.0, 2001.0, 16)
    lc = LightCurve(t, np.ones_like(t), np.full_like(t, 1e-4))
    return VetContext(
        lightcurves=[lc],
        lcb=LightCurveBatch.from_lightcurves([lc]),
        candidates=list(cands),
        cb=CandidateBatch.from_candidates(cands, pad_to=max(8, len(cands))),
    )


def _run(cands):
    ctx = _ctx(cands)
    arrays = {k: np.asarray(v) for k, v in V03.SPEC.compute(ctx).items()}
    return arrays, V03.SPEC.finish(ctx, arrays)


def _check(arrays, i, res, cand):
    o = v03_oracle(cand.period_days, cand.duration_hours, cand.stellar_radius, cand.stellar_mass)
    assert math.isclose(arrays["expected_duration_hours"][i], o["expected"], rel_tol=RTOL)
    assert math.isclose(arrays["expected_duration_solar"][i], o["solar"], rel_tol=RTOL)
    assert math.isclose(arrays["duration_ratio"][i], o["ratio"], rel_tol=RTOL)
    assert bool(arrays["density_corrected"][i]) == o["corrected"]
    if o["rho"] is not None:
        assert math.isclose(arrays["stellar_density_solar"][i], o["rho"], rel_tol=RTOL)
    assert res.metrics == o["metrics"]  # rounded reference fields, in the reference's key order
    assert list(res.metrics) == list(o["metrics"])
    pd = res.raw["plot_data"]
    assert pd["version"] == 1 and pd["observed_hours"] == cand.duration_hours
    for k in ("expected_hours", "expected_hours_err", "duration_ratio"):
        assert math.isclose(pd[k], o["plot_data"][k], rel_tol=RTOL), k
    assert res.confidence == o["confidence"]
    assert res.status == "ok" and res.verdict is None and res.flags == [] and res.notes == []


def test_oracle_agreement_random_batch():
    rng = np.random.default_rng(3)
    cands = []
    for k in range(40):
        r = None if k % 4 == 1 else float(rng.uniform(0.1, 20.0))
        m = None if k % 4 in (1, 2) else float(rng.uniform(0.08, 10.0))
        cands.append(
            Candidate(
                float(np.exp(rng.uniform(-2, 7))),
                2000.0,
                float(rng.uniform(0.3, 30.0)),
                stellar_radius=r,
                stellar_mass=m,
            )
        )
    arrays, results = _run(cands)
    assert arrays["confidence"].shape == (40,)
    for i, c in enumerate(cands):
        _check(arrays, i, results[i], c)
    assert {r.confidence for r in results} == {0.2, 0.5, 0.85}


def test_known_values():
    # Sun-Earth: 13 h for a 1-year orbit around a solar-density star
    arrays, res = _run([Candidate(365.25, 2000.0, 13.0, stellar_radius=1.0, stellar_mass=1.0)])
    assert math.isclose(arrays["expected_duration_hours"][0], 13.0, rel_tol=1e-12)
    assert res[0].metrics["duration_ratio"] == 1.0 and res[0].metrics["stellar_density_solar"] == 1.0
    # an M dwarf (rho = 8) halves the expected duration; no stellar parameters -> solar fallback + note
    arrays, res = _run(
        [Candidate(365.25, 2000.0, 6.5, stellar_radius=0.5, stellar_mass=1.0), Candidate(365.25, 2000.0, 6.5)]
    )
    assert math.isclose(arrays["expected_duration_hours"][0], 6.5, rel_tol=1e-12)
    assert res[1].metrics["duration_ratio"] == 0.5 and "note" in res[1].metrics
    assert "stellar_radius" not in res[1].metrics and res[1].confidence == 0.2


def test_array_path_degenerate_stellar_values():
    """Zero mass gives rho = 0 (reported, not used); a non-positive radius gives no density."""
    out = V03.duration_consistency(
        np.array([10.0, 10.0, 10.0]),
        np.array([3.0, 3.0, 3.0]),
        np.array([1.0, 0.0, np.nan]),
        np.array([0.0, 1.0, 1.0]),
    )
    out = {k: np.asarray(v) for k, v in out.items()}
    np.testing.assert_array_equal(out["density_corrected"], [False, False, False])
    assert out["stellar_density_solar"][0] == 0.0 and np.isnan(out["stellar_density_solar"][1])
    np.testing.assert_allclose(out["confidence"], [0.5, 0.5, 0.5])
    solar = 13.0 * (10.0 / 365.25) ** (1 / 3)
    np.testing.assert_allclose(out["expected_duration_hours"], solar, rtol=1e-12)


@pytest.mark.realdata
def test_toi5807_matches_reference(reference_golden):
    eph = reference_golden["inputs"]["ephemeris"]
    stellar = reference_golden["inputs"]["stellar"]
    cand = Candidate(
        eph["period_days"],
        eph["t0_btjd"],
        eph["duration_hours"],
        stellar_radius=stellar["radius"],
        stellar_mass=stellar["mass"],
    )
    _, res = _run([cand])
    for name in ("all_sectors", "sectors_82_83"):
        gold = reference_golden["subsets"][name]["checks"]["V03"]
        assert res[0].metrics == gold["metrics"]
        assert list(res[0].metrics) == list(gold["metrics"])
        assert res[0].confidence == gold["confidence"] and res[0].notes == gold["notes"]
        for k, v in gold["raw"]["plot_data"].items():
            assert math.isclose(res[0].raw["plot_data"][k], v, rel_tol=RTOL), k
    assert get_check("V03") is V03.SPEC


finite_or_none = st.one_of(st.none(), st.floats(0.01, 200.0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.05, 5000.0), st.floats(0.01, 100.0), finite_or_none, finite_or_none),
        min_size=1,
        max_size=8,
    )
)
def test_edge_inputs_match_oracle(rows):
    cands = [Candidate(p, 2000.0, d, stellar_radius=r, stellar_mass=m) for p, d, r, m in rows]
    arrays, results = _run(cands)
    for i, c in enumerate(cands):
        _check(arrays, i, results[i], c)
        assert np.isfinite(results[i].raw["plot_data"]["duration_ratio"])


@given(st.sampled_from(["stellar_radius", "stellar_mass"]), st.sampled_from([0.0, -2.0, float("nan"), "big"]))
def test_bad_stellar_rejected_at_boundary(field, value):
    with pytest.raises(JaxvetInputError, match=field):
        Candidate(3.0, 2000.0, 2.0, **{field: value})


def test_plot():
    import matplotlib.pyplot as plt

    from jaxvet.plotting.v03 import plot_duration_consistency

    _, res = _run([Candidate(14.2423724, 3540.26317, 4.046, stellar_radius=1.65, stellar_mass=1.47)])
    fig, ax = plt.subplots()
    assert plot_duration_consistency(res[0], ax=ax) is ax
    pd = res[0].raw["plot_data"]
    obs = [ln for ln in ax.lines if ln.get_label() == "observed"][0]
    assert obs.get_ydata()[0] == pd["observed_hours"]
    assert "0.632" in ax.get_title()
    plt.close(fig)


def test_misspelled_option_raises_naming_it():
    import dataclasses

    ctx = dataclasses.replace(_ctx([Candidate(3.0, 0.0, 2.0)]), options={"V03": {"stellar_radiuss": 1.0}})
    with pytest.raises(JaxvetInputError, match="stellar_radiuss"):
        V03.SPEC.run(ctx)
