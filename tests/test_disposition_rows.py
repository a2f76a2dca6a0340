"""Campaign rows disposed again (jaxvet.disposition.rows) from numpy and astropy columns."""

from __future__ import annotations

import numpy as np
import pytest

from jaxvet.disposition import default_policy
from jaxvet.disposition.rows import redispose, row_results


def _columns() -> dict:
    """Two rows: a transit-shaped V05 fit and one at 0.9 of the duration ceiling (FA); V13's
    epoch counts as int64 (a quotient of numpy integers)."""
    return {
        "V05_status": np.asarray(["ok", "ok"], dtype=object),
        "V05_verdict": np.asarray(["pass", "pass"], dtype=object),
        "V05_t_total_hours": np.asarray([4.1, 7.2]),
        "V05_t_total_max_hours": np.asarray([8.0, 8.0]),
        "V05_grazing_indicator": np.asarray(["normal", ""], dtype=object),
        "V01_status": np.asarray(["ok", "ok"], dtype=object),
        "V01_verdict": np.asarray(["pass", "pass"], dtype=object),
        "V01_oe_box_rel_diff_robust": np.asarray([0.01, np.nan]),
        "V13_status": np.asarray(["ok", "ok"], dtype=object),
        "V13_verdict": np.asarray(["none", "none"], dtype=object),
        "V13_n_epochs_missing_ge_0p25_in_coverage": np.asarray([0, 1], np.int64),
        "V13_n_epochs_evaluated_in_coverage": np.asarray([8, 8], np.int64),
        "signal_flags": np.asarray(["", ""], dtype=object),
    }


def test_numpy_columns_give_python_scalars_and_none_where_missing():
    results, flags = row_results(_columns(), default_policy().checks())
    m = results[1]["V05"].metrics
    assert type(m["t_total_hours"]) is float and m["grazing_indicator"] is None
    assert type(results[0]["V13"].metrics["n_epochs_evaluated_in_coverage"]) is int
    assert results[1]["V01"].metrics["oe_box_rel_diff_robust"] is None
    assert flags == [[], []]
    assert [d["class"] for d in redispose(_columns())] == ["PC", "FA"]


def test_astropy_masked_entries_are_missing():
    table = pytest.importorskip("astropy.table")
    cols = _columns()
    t = table.Table(cols, masked=True)
    t["V05_t_total_hours"].mask = [False, True]  # the second row's duration unknown: no FA
    got = redispose(t)
    assert [d["class"] for d in got] == ["PC", "PC"]
    assert redispose(table.Table(cols)) == redispose(cols)


def test_metric_columns_skip_a_metric_that_is_a_list_in_some_row():
    """A metric None in one row and a list in another is not a column (float(list) would raise);
    scalars become float or text columns, a metric None everywhere a null column."""
    from jaxvet.campaigns.rows import _metric_columns
    from jaxvet.results import CheckResult

    def r(**m):
        return {"V05": CheckResult("V05", "V05", status="ok", verdict="pass", metrics=m)}

    results = [
        r(fit_at_bound=None, snr=3, shape="U", gone=None),
        r(fit_at_bound=["t_max"], snr=True, shape=None),
    ]
    cols: dict = {"V05_snr": np.asarray([3.0, 1.0])}
    _metric_columns(results, cols)
    assert "V05_fit_at_bound" not in cols
    assert cols["V05_snr"].tolist() == [3.0, 1.0]  # an existing (summary) column is kept
    assert cols["V05_shape"].tolist() == ["U", ""]
    assert cols["V05_gone"].tolist() == [None, None]
