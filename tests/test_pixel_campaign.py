"""Pixel-level injection-recovery campaigns (:mod:`jaxvet.campaigns.pixel`).

Small stamps (11 x 11 px, 720 ten-minute cadences) and narrow period/duration ranges keep every
injection on the same kernel shapes, so the checks compile once for the whole module.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from jaxvet.campaigns.pixel import run_pixel_campaign, stamp_lightcurve
from jaxvet.errors import JaxvetInputError

N = 12
KW = dict(
    progress=False,
    n_cadences=720,
    period_days=(1.5, 1.8),
    duration_hours=(2.0, 2.5),
    depth_ppm=(2000.0, 4000.0),
    separation_px=(2.5, 4.0),
    options={"V08": {"n_bootstrap": 200}},
)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pixel-campaign")


@pytest.fixture(scope="module")
def camp(out_dir):
    return run_pixel_campaign(N, seed=0, chunk_size=4, out=out_dir, **KW)


def _same(a, b):
    assert a.colnames == b.colnames
    assert len(a) == len(b)
    for name in a.colnames:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)  # NaNs compare equal here
        else:
            assert x.tolist() == y.tolist(), name


def test_rows_and_truth(camp):
    assert len(camp) == N
    assert camp["injection_id"].tolist() == list(range(N))
    kinds = np.asarray(camp["kind"]).astype(str)
    assert (kinds == "planet").sum() == (kinds == "diluted_eb").sum() == N // 2
    sep = np.asarray(camp["separation_px"])
    assert np.all((sep >= 2.5) & (sep <= 4.0))
    # the neighbour sits where the truth says (simulate_tpf places it through a TAN WCS: ~1e-4 px)
    d = np.hypot(camp["neighbour_row"] - camp["target_row"], camp["neighbour_col"] - camp["target_col"])
    np.testing.assert_allclose(d, sep, atol=1e-3)
    planet, eb = kinds == "planet", kinds == "diluted_eb"
    assert np.all(np.asarray(camp["depth_ppm"])[planet] > 0) and np.all(
        np.asarray(camp["eb_depth"])[planet] == 0
    )
    ebd = np.asarray(camp["eb_depth"])[eb]
    assert np.all((ebd >= 0.01) & (ebd <= 0.5))
    # the diluted depth in the target aperture is comparable to the planets' (same draw range)
    ap = np.asarray(camp["aperture_depth_ppm"])
    assert np.all((ap[eb] > 500) & (ap[eb] < 20000))
    for cid in ("V08", "V09"):
        assert set(np.asarray(camp[f"{cid}_status"]).astype(str)) == {"ok"}
        for col in (f"{cid}_verdict", f"{cid}_off_target"):
            assert col in camp.colnames
    for col in (
        "V08_centroid_shift_pixels",
        "V08_significance_sigma",
        "V09_diff_offset_pixels",
        "V09_diff_offset_sigma",
    ):
        assert np.all(np.isfinite(np.asarray(camp[col], float))), col
    assert camp["localized_on_target"].dtype == bool


def test_same_seed_same_table(camp):
    _same(camp, run_pixel_campaign(N, seed=0, chunk_size=4, **KW))


def test_chunk_size_does_not_change_rows(camp):
    _same(camp, run_pixel_campaign(N, seed=0, chunk_size=5, **KW))
    head = run_pixel_campaign(4, seed=0, chunk_size=3, **KW)
    _same(head, camp[:4])


def test_different_seed_differs(camp):
    other = run_pixel_campaign(2, seed=1, **KW)
    assert not np.allclose(other["period_days"], camp["period_days"][:2])


def test_diluted_ebs_flagged_planets_localized(camp):
    kinds = np.asarray(camp["kind"]).astype(str)
    sep = np.asarray(camp["separation_px"])
    flagged = np.asarray(camp["V08_off_target"]) | np.asarray(camp["V09_off_target"])
    np.testing.assert_array_equal(flagged, np.asarray(camp["flagged_off_target"]))
    eb = (kinds == "diluted_eb") & (sep >= 2.5)
    assert eb.sum() >= 5
    assert flagged[eb].mean() >= 0.75
    planet = kinds == "planet"
    assert flagged[planet].mean() <= 1 / 6
    assert np.asarray(camp["localized_on_target"])[planet].mean() >= 5 / 6
    # the V08 source position points at the neighbour for the blends
    v08 = np.asarray(camp["V08_source_offset_pixels"])[eb]
    assert np.nanmedian(np.abs(v08 - sep[eb])) < 0.5


def test_outputs_written(camp, out_dir):
    import pyarrow.parquet as pq

    t = pq.read_table(out_dir / "results.parquet")
    assert t.num_rows == N
    assert t.column("injection_id").to_pylist() == list(range(N))
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["n_rows"] == N
    rows = {(r["kind"], r["check"]): r for r in summary["overall"]}
    for kind in ("planet", "diluted_eb"):
        for cid in ("V08", "V09", "any"):
            assert (kind, cid) in rows
    v09 = rows[("diluted_eb", "V09")]
    assert v09["n"] == v09["n_pass"] + v09["n_warn"] + v09["n_fail"]
    if v09["n"]:
        assert math.isclose(v09["fail_fraction"], v09["n_fail"] / v09["n"])
    assert rows[("diluted_eb", "any")]["off_target_fraction"] >= 0.75
    assert rows[("planet", "V08")]["n"] == 0  # V08 reports metrics, no verdict
    bins = {tuple(r["separation_px_bin"]) for r in summary["by_separation"]}
    assert (2.5, 3.0) in bins
    n_binned = sum(r["n_total"] for r in summary["by_separation"] if r["check"] == "any")
    assert n_binned == N
    assert summary["timing"]["injections_per_s"] > 0
    assert camp.meta["summary"]["overall"] == summary["overall"]


def test_stamp_lightcurve_is_the_aperture_sum():
    from jaxvet.synthetic.stamps import simulate_tpf

    s = simulate_tpf(3, n_cadences=50, period_days=1.0, t0_btjd=2000.1, depth_ppm=10000.0)
    lc = stamp_lightcurve(s)
    raw = s.flux[:, s.aperture_mask].sum(axis=1)
    np.testing.assert_allclose(lc.flux, raw / np.median(raw))
    assert lc.time.shape == s.time.shape


@pytest.mark.parametrize(
    "kwargs, field, value",
    [
        (dict(n_injections=0), "n_injections", "0"),
        (dict(n_injections=-3), "n_injections", "-3"),
        (dict(n_injections=4, kinds=("planet", "comet")), "kind", "comet"),
        (dict(n_injections=4, kinds="planet,eb"), "kind", "'eb'"),
        (dict(n_injections=4, checks=("V08", "V99")), "V99", "V99"),
        (dict(n_injections=4, chunk_size=0), "chunk_size", "0"),
        (dict(n_injections=4, separation_px=(3.0, 2.0)), "separation_px", "(3.0, 2.0)"),
        (dict(n_injections=4, wobble=1.0), "wobble", "1.0"),
    ],
)
def test_bad_inputs(kwargs, field, value):
    with pytest.raises(JaxvetInputError) as e:
        run_pixel_campaign(progress=False, **kwargs)
    assert field in str(e.value) and value in str(e.value)


def test_cli_subcommand_bad_input(capsys):
    from jaxvet.cli.main import build_parser, main

    args = build_parser().parse_args(["pixel-campaign", "--n-injections", "2", "--kinds", "planet"])
    assert args.n_injections == 2
    assert main(["pixel-campaign", "--n-injections", "3", "--kinds", "planet,comet", "--no-progress"]) == 2
    assert "comet" in capsys.readouterr().err


def test_each_pixel_check_compiles_once_for_the_whole_campaign():
    """Injections with different periods and durations need different epoch and window buckets;
    the campaign's shape ladder, primed at the largest shapes of its ranges, makes every
    injection run the one program per check (before it, each new bucket compiled again)."""
    from jaxvet.checks import v08_centroid_shift as v08
    from jaxvet.checks import v09_difference_image as v09

    kw = dict(KW, period_days=(0.9, 2.4), duration_hours=(1.0, 3.0))
    before = (v08._shift_chunk._cache_size(), v09._diff_chunk._cache_size())
    t = run_pixel_campaign(6, seed=5, **kw)
    assert np.ptp(np.asarray(t["period_days"])) > 0.5  # the epoch count differs between injections
    grown = (v08._shift_chunk._cache_size() - before[0], v09._diff_chunk._cache_size() - before[1])
    assert grown[0] <= 1 and grown[1] <= 1, grown


def test_resume_keeps_finished_parts_and_recomputes_missing_ones(camp, out_dir):
    """``out/results/part-*.parquet`` per chunk: a rerun reads the finished parts back (no
    vetting) and recomputes a deleted or truncated one; the table is the same, bit for bit."""
    parts = sorted((out_dir / "results").glob("part-*.parquet"))
    assert len(parts) == math.ceil(N / 4)
    again = run_pixel_campaign(N, seed=0, chunk_size=4, out=out_dir, **KW)
    _same(again, camp)
    assert again.meta["summary"]["timing"]["n_resumed"] == N
    parts[1].unlink()
    parts[2].write_bytes(parts[2].read_bytes()[:100])  # a truncated part is recomputed
    resumed = run_pixel_campaign(N, seed=0, chunk_size=4, out=out_dir, **KW)
    _same(resumed, camp)
    assert resumed.meta["summary"]["timing"]["n_resumed"] == N - 8


def test_resume_with_other_arguments_is_refused(camp, out_dir):
    with pytest.raises(JaxvetInputError, match="different configuration.*seed"):
        run_pixel_campaign(N, seed=1, chunk_size=4, out=out_dir, **KW)


def test_batched_chunks_of_1_and_8_give_identical_rows(camp):
    """A chunk is vetted in one batched call per check (each injection on its own stamp); the
    pixel kernels run in fixed blocks of pairs and keys come from ``fold_in`` of the injection
    id, so chunks of 1 and of 8 injections give the same rows, bit for bit."""
    ones = run_pixel_campaign(8, seed=0, chunk_size=1, **KW)
    _same(ones, run_pixel_campaign(8, seed=0, chunk_size=8, **KW))
    _same(ones, camp[:8])


class _Crash(Exception):
    pass


def test_interrupted_campaign_resumes_with_identical_rows(camp, tmp_path, monkeypatch):
    """A run that dies in its second chunk keeps the first part; the rerun vets only the rest
    (each chunk in one batched engine call) and gives the rows of an uninterrupted run."""
    from jaxvet.campaigns import pixel
    from jaxvet.engine import runner as engine_runner

    real_chunk = pixel._vet_chunk
    calls = []

    def crash_in_second_chunk(*args, **kwargs):
        calls.append(len(args[0]))
        if len(calls) == 2:
            raise _Crash
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(pixel, "_vet_chunk", crash_in_second_chunk)
    with pytest.raises(_Crash):
        run_pixel_campaign(8, seed=0, chunk_size=4, out=tmp_path, **KW)
    assert [p.name for p in (tmp_path / "results").glob("part-*.parquet")] == ["part-00000.parquet"]
    assert not (tmp_path / "summary.json").exists()
    monkeypatch.setattr(pixel, "_vet_chunk", real_chunk)
    real_run = engine_runner.run_contexts
    batches = []

    def spy(contexts, ids, opts, threads=None):
        batches.append([len(ctx.candidates) for ctx in contexts])
        return real_run(contexts, ids, opts, threads)

    monkeypatch.setattr(engine_runner, "run_contexts", spy)
    resumed = run_pixel_campaign(8, seed=0, chunk_size=4, out=tmp_path, **KW)
    _same(resumed, camp[:8])
    assert resumed.meta["summary"]["timing"]["n_resumed"] == 4
    assert batches == [[4], [4]]  # the shape-priming probe chunk, then chunk 1: one call each
