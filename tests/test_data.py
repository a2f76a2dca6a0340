"""Data model: validation at the boundary, stitching, padded batches."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxvet.data import PAD_TIME, Candidate, CandidateBatch, LightCurve, LightCurveBatch, bucket_size, stitch
from jaxvet.errors import JaxvetInputError


def test_lightcurve_rejects_bad_input():
    t = np.arange(10.0)
    with pytest.raises(JaxvetInputError, match="flux has length 9"):
        LightCurve(t, np.ones(9))
    with pytest.raises(JaxvetInputError, match="not sorted"):
        LightCurve(t[::-1], np.ones(10))
    with pytest.raises(JaxvetInputError, match="empty"):
        LightCurve(np.array([]), np.array([]))
    with pytest.raises(JaxvetInputError, match="1-D"):
        LightCurve(np.ones((2, 2)), np.ones((2, 2)))


def test_nan_cadences_and_quality_are_masked_not_fatal():
    t = np.arange(6.0) + 1500
    f = np.array([1, np.nan, 1, 1, 1, 1.0])
    q = np.array([0, 0, 32, 0, 0, 0])  # 32 = reaction wheel desaturation: in the default bitmask
    t[4] = np.nan
    lc = LightCurve(t, f, np.full(6, 1e-3), quality=q)
    assert lc.valid.tolist() == [True, False, False, True, False, True]
    lcb = LightCurveBatch.from_lightcurves(lc)
    assert int(lcb.n_valid[0]) == 3
    assert np.all(np.asarray(lcb.time)[0, 3:] == PAD_TIME)


def test_absolute_bjd_converted():
    lc = LightCurve(np.array([2459000.5, 2459000.6]), np.ones(2))
    assert lc.time[0] == pytest.approx(2000.5)
    assert Candidate(3.0, 2459001.0, 2.0).t0_btjd == pytest.approx(2001.0)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(period_days=0.0, t0_btjd=1.0, duration_hours=1.0), "period_days"),
        (dict(period_days=-2.0, t0_btjd=1.0, duration_hours=1.0), "period_days"),
        (dict(period_days=2.0, t0_btjd=1.0, duration_hours=0.0), "duration_hours"),
        (dict(period_days=2.0, t0_btjd=float("nan"), duration_hours=1.0), "t0_btjd"),
        (dict(period_days="x", t0_btjd=1.0, duration_hours=1.0), "period_days"),
        (dict(period_days=2.0, t0_btjd=1.0, duration_hours=1.0, stellar_mass=-1), "stellar_mass"),
    ],
)
def test_candidate_errors_name_field_and_value(kwargs, field):
    with pytest.raises(JaxvetInputError, match=field):
        Candidate(**kwargs)


@settings(max_examples=50, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_candidate_property_accepts_only_positive_finite(period, dur):
    ok = np.isfinite(period) and np.isfinite(dur) and period > 0 and dur > 0
    if ok:
        c = Candidate(period, 1000.0, dur)
        assert c.period_days == period
    else:
        with pytest.raises(JaxvetInputError):
            Candidate(period, 1000.0, dur)


def test_candidate_batch_from_arrays_validates():
    with pytest.raises(JaxvetInputError, match=r"period_days\[1\]"):
        CandidateBatch.from_arrays([1.0, -1.0], [0.0, 0.0], [1.0, 1.0])
    cb = CandidateBatch.from_arrays([1.0, 2.0], [0.0, 0.0], [24.0, 12.0]).pad(8)
    assert cb.size == 8 and np.asarray(cb.valid).tolist() == [True, True] + [False] * 6
    assert np.asarray(cb.duration)[:2].tolist() == [1.0, 0.5]


def test_stitch_normalises_per_sector_and_keeps_ids():
    a = LightCurve(np.arange(5.0), np.full(5, 200.0), np.full(5, 2.0), sector=3)
    b = LightCurve(np.arange(5.0) + 10, np.full(5, 50.0), np.full(5, 1.0), sector=4)
    s = stitch([b, a])
    assert np.allclose(s.flux, 1.0)
    assert s.sector.tolist() == [3] * 5 + [4] * 5
    assert np.allclose(s.flux_err, [0.01] * 5 + [0.02] * 5)
    assert s.sectors == [3, 4]


def test_bucket_sizes():
    assert [bucket_size(n) for n in (1, 16, 17, 1000, 1024, 1025)] == [16, 16, 32, 1024, 1024, 2048]
    lcs = [LightCurve(np.arange(n, dtype=float), np.ones(n)) for n in (100, 900, 1000)]
    assert LightCurveBatch.from_lightcurves(lcs).time.shape == (3, 1024)
