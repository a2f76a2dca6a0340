"""The batched driver: checks of a chunk run in threads without changing any number."""

import numpy as np
import pytest

from jaxvet.data import Candidate, stitch
from jaxvet.engine.runner import vet
from jaxvet.errors import JaxvetInputError
from jaxvet.synthetic.lightcurves import inject_transits, simulate_lightcurve


@pytest.fixture(scope="module")
def lc_and_cands():
    lc = stitch([simulate_lightcurve(5, sectors=(1, 2), red_ppm=60.0)])
    lc = inject_transits(lc, 3.3, lc.time[0] + 0.9, 2.5, 2500.0, seed=1)
    rng = np.random.default_rng(3)
    cands = [Candidate(3.3, lc.time[0] + 0.9, 2.5, id="true")] + [
        Candidate(float(p), float(lc.time[0] + x), float(d))
        for p, x, d in zip(rng.uniform(1.0, 8.0, 4), rng.uniform(0, 3, 4), rng.uniform(1, 5, 4), strict=True)
    ]
    # a duration >= P/2 (the reference's guard) in the same batch
    cands.append(Candidate(0.2, float(lc.time[0] + 0.1), 3.0, id="guard"))
    return lc, cands


def test_threads_do_not_change_results(lc_and_cands):
    lc, cands = lc_and_cands
    checks = ["V01", "V04", "V05", "V21"]
    opts = {"V05": {"n_bootstrap": 20}}
    seq = vet(lc, cands, checks, seed=7, options=opts, threads=1)
    par = vet(lc, cands, checks, seed=7, options=opts)  # every check + the depth estimate at once
    assert seq.to_json() == par.to_json()
    assert seq.depth_estimates_ppm == par.depth_estimates_ppm
    assert par.results[0]["V01"].status == "ok"
    guarded = par.results[-1]["V01"]  # the reference's guard result, not an exception
    assert guarded.verdict == "insufficient"
    assert "duration_too_long_relative_to_period" in guarded.notes


def test_threads_from_environment(lc_and_cands, monkeypatch):
    lc, cands = lc_and_cands
    # the batch of test_threads_do_not_change_results (its compiled programs are reused)
    monkeypatch.setenv("JAXVET_THREADS", "2")
    two = vet(lc, cands, ["V01", "V21"], seed=1)
    monkeypatch.delenv("JAXVET_THREADS")
    one = vet(lc, cands, ["V01", "V21"], seed=1, threads=1)
    assert two.to_json() == one.to_json()


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_thread_count_is_rejected(lc_and_cands, bad):
    lc, cands = lc_and_cands
    with pytest.raises(JaxvetInputError, match=f"threads must be >= 1, got {bad}"):
        vet(lc, cands[:1], ["V21"], threads=bad)


def test_bad_thread_environment_is_rejected(lc_and_cands, monkeypatch):
    lc, cands = lc_and_cands
    monkeypatch.setenv("JAXVET_THREADS", "many")
    with pytest.raises(JaxvetInputError, match="JAXVET_THREADS must be an integer, got 'many'"):
        vet(lc, cands[:1], ["V21"])


def test_duration_guard_on_every_check_leaves_the_batch_alone(lc_and_cands):
    """D >= P/2: every check with a verdict says insufficient with DURATION_TOO_LONG; the other
    candidates of the batch get exactly what they get without the degenerate one."""
    lc, cands = lc_and_cands
    checks = ["V01", "V02", "V03", "V04", "V05", "V21"]
    opts = {"V05": {"n_bootstrap": 20}}
    both = vet(lc, cands, checks, seed=3, options=opts)
    alone = vet(lc, cands[:-1], checks, seed=3, options=opts)
    for cid in checks:
        r = both.results[-1][cid]
        if r.status != "ok":
            continue
        assert "DURATION_TOO_LONG" in r.flags, (cid, r.flags)
        assert "duration_too_long_relative_to_period" in r.notes
        assert r.verdict in (None, "insufficient"), (cid, r.verdict)
        for i in range(len(cands) - 1):
            assert both.results[i][cid].to_dict() == alone.results[i][cid].to_dict()
            assert "DURATION_TOO_LONG" not in both.results[i][cid].flags
    assert both.results[-1]["V02"].verdict == "insufficient"


def test_guard_tree_marks_rows_on_the_device():
    import jax.numpy as jnp

    from jaxvet.data import CandidateBatch
    from jaxvet.engine.context import guard_tree
    from jaxvet.results import INSUFFICIENT, PASS, VERDICT_NONE

    cb = CandidateBatch.from_candidates(
        [Candidate(10.0, 2000.0, 2.0), Candidate(10.0, 2000.0, 120.0), Candidate(1.0, 2000.0, 30.0)],
        pad_to=8,
    )
    tree = {"status": jnp.zeros(3, jnp.int32), "verdict": jnp.array([PASS, PASS, VERDICT_NONE])}
    out = guard_tree(tree, cb)
    np.testing.assert_array_equal(np.asarray(out["duration_too_long"]), [False, True, True])
    np.testing.assert_array_equal(np.asarray(out["verdict"]), [PASS, INSUFFICIENT, VERDICT_NONE])
    with pytest.raises(TypeError, match="status"):
        guard_tree({"verdict": tree["verdict"]}, cb)


def test_enable_compilation_cache_is_public_and_respects_the_opt_out(tmp_path, monkeypatch):
    import jax

    import jaxvet

    before = jax.config.jax_compilation_cache_dir
    monkeypatch.setenv("JAXVET_NO_CACHE", "1")
    assert jaxvet.enable_compilation_cache(tmp_path / "never") is None
    assert not (tmp_path / "never").exists()
    monkeypatch.setenv("JAXVET_NO_CACHE", "0")
    try:
        got = jaxvet.enable_compilation_cache(tmp_path / "xla")
        assert got == tmp_path / "xla" and got.is_dir() and (got.stat().st_mode & 0o077) == 0
        assert jax.config.jax_compilation_cache_dir == str(got)
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
