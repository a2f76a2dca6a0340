"""V13's worst-epoch rows (host formatting): listed epochs only, NaN fractions after numbers."""

from __future__ import annotations

import numpy as np

from jaxvet.checks.v13_data_gaps import _worst_order, _worst_rows


def test_worst_rows_keep_listed_epochs_before_unlisted_slots():
    a = {
        "listed": np.array([[True, True, True, False, True]]),
        "missing_frac": np.array([[0.2, np.nan, 0.5, 0.0, 0.3]]),
        "epoch": np.array([[10, 11, 12, 0, 14]]),
        "t_center": np.array([[1.0, 2.0, 3.0, 0.0, 5.0]]),
        "n_observed": np.array([[8, 0, 5, 0, 7]]),
        "n_expected": np.array([[10, 10, 10, 0, 10]]),
    }
    order = _worst_order(a, 10)
    rows = _worst_rows(a, 0, order)
    assert [r["epoch_index"] for r in rows] == [12, 14, 10, 11]  # as numpy sorts -miss: NaN last
    want = np.flatnonzero(a["listed"][0])[np.argsort(-a["missing_frac"][0][a["listed"][0]], kind="stable")]
    assert [int(e) for e in a["epoch"][0][want]] == [r["epoch_index"] for r in rows]
