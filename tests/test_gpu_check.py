"""The comparison and the bandwidth bound of ``benchmarks/gpu_check.py`` (no device needed)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _module():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("_gpu_check", BENCH / "gpu_check.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
    return mod


gpu_check = _module()


def test_compare_reports_the_worst_relative_difference_by_name():
    gpu = {"metrics": {"0/V01/a": 1.0, "0/V01/b": 2.0 + 4e-9, "0/V01/z": 0.0, "0/V01/status": "ok"}}
    cpu = {"metrics": {"0/V01/a": 1.0, "0/V01/b": 2.0, "0/V01/z": 0.0, "0/V01/status": "ok"}}
    c = gpu_check.compare(gpu, cpu, 1e-9)
    assert c["max_rel_key"] == "0/V01/b"
    assert math.isclose(c["max_rel_diff"], 2e-9, rel_tol=1e-6)
    assert c["n_above_rtol"] == 1 and not c["pass"]
    assert gpu_check.compare(gpu, cpu, 1e-8)["pass"]


def test_compare_fails_on_nan_against_a_number_status_and_missing_keys():
    a = {"metrics": {"k": float("nan"), "s": "ok", "both_nan": float("nan")}}
    b = {"metrics": {"k": 1.0, "s": "error", "both_nan": float("nan"), "extra": 1.0}}
    c = gpu_check.compare(a, b, 1e-9)
    assert c["max_rel_key"] == "k" and c["max_rel_diff"] == float("inf")
    assert c["status_differences"] == ["s"] and c["only_one_side"] == ["extra"] and not c["pass"]


def test_bandwidth_bound_uses_the_fastest_size_and_the_device_figure():
    suite = [
        {"n": 1000, "warm_us_per_candidate": 40.0, "mean_window_points": 1000.0},
        {"n": 10000, "warm_us_per_candidate": 10.0, "mean_window_points": 1000.0},
    ]
    b = gpu_check.bandwidth(suite, "V01,V04", None, "NVIDIA H100 80GB HBM3")
    assert b["at_n"] == 10000 and b["bandwidth_gbs"] == 3350.0
    assert math.isclose(b["bytes_per_candidate_lower_bound"], 48000.0)
    assert math.isclose(b["times_the_bound"], 10.0 / (48000.0 / 3350e9 * 1e6))
    assert "note" in gpu_check.bandwidth(suite, "V01", None, "cpu")


def test_json_lines_keep_the_rows_printed_before_a_timeout():
    out = b'{"n": 1}\nnot json\n{"n": 2}\n'
    assert gpu_check._json_lines(out) == [{"n": 1}, {"n": 2}]
    assert gpu_check._json_lines(None) == []
