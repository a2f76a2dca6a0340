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
    monkeypatch.setenv("JAXVET_THREADS", "2")
    two = vet(lc, cands[:2], ["V01", "V21"], seed=1)
    monkeypatch.delenv("JAXVET_THREADS")
    one = vet(lc, cands[:2], ["V01", "V21"], seed=1, threads=1)
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
