"""Shared fixtures: where the real data lives, fast JAX settings, a headless plot backend."""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
#: The suite is compile-bound (most of a 2-core CI run is XLA building programs, not running
#: them), so the tests build their programs at LLVM -O0 without the expensive passes: 27% less
#: CPU on a V01+V04+V05 run (40.2 s -> 29.2 s).  XLA:CPU uses no fast-math at either level;
#: results differ at most by summation-order rounding (the reference-parity tests pass at both
#: levels; one doubled-epoch invariant moved by 8e-12 relative).  The
#: bit-exact numerics tests also run once at the default level in a subprocess
#: (tests/test_numerics.py), where the compiler contracts a*b + c into an FMA; benchmarks and
#: users get the default.  JAXVET_TEST_DEFAULT_XLA=1 keeps the default for the whole suite.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if os.environ.get("JAXVET_TEST_DEFAULT_XLA", "") != "1" and "optimization_level" not in os.environ.get(
    "XLA_FLAGS", ""
):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()
#: one persistent XLA cache per test run, shared by the xdist workers and by the CLI runs inside
#: the tests (the user's own cache is never touched): a program compiled once is loaded, not
#: recompiled, by the other worker, by CLI tests and after the compiled programs are dropped
#: (see MAX_MAPPINGS).  Removed when the run ends.
_RUN_ID = os.environ.setdefault("JAXVET_TEST_RUN_ID", str(os.getpid()))  # workers inherit it
TEST_XLA_CACHE = Path(tempfile.gettempdir()) / f"jaxvet-tests-xla-{_RUN_ID}"
os.environ["JAXVET_CACHE_DIR"] = str(TEST_XLA_CACHE)
os.environ["JAXVET_NO_CACHE"] = "0"

REPO = Path(__file__).resolve().parents[1]

#: every compiled XLA:CPU program holds memory mappings; a process may hold at most
#: vm.max_map_count (65530 by default) and the whole suite compiles enough programs to reach it
#: (XLA then segfaults inside a compilation).  Past this many mappings the compiled programs are
#: dropped between test modules, so later modules compile their own again.
MAX_MAPPINGS = int(os.environ.get("JAXVET_TEST_MAX_MAPPINGS", "30000"))


def _n_mappings() -> int:
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
            return sum(1 for _ in fh)
    except OSError:  # not Linux: nothing to bound
        return 0


def pytest_configure(config):
    from jaxvet import enable_compilation_cache

    enable_compilation_cache(TEST_XLA_CACHE)


def pytest_sessionfinish(session, exitstatus):
    if not hasattr(session.config, "workerinput"):  # the controller, after every worker ended
        shutil.rmtree(TEST_XLA_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True, scope="module")
def _bounded_compiled_programs():
    yield
    if _n_mappings() > MAX_MAPPINGS:
        import jax

        jax.clear_caches()
        gc.collect()
TOI5807 = dict(period_days=14.2423724, t0_btjd=3540.26317, duration_hours=4.046)


def shared_data_dir() -> Path | None:
    """``$JAXVET_DATA_DIR`` or ``<repo>/../shared/data``; None when absent."""
    env = os.environ.get("JAXVET_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("real data not found: set JAXVET_DATA_DIR or place shared/data beside the repo")
    return d


@pytest.fixture(scope="session")
def toi5807_dir(shared_data) -> Path:
    d = shared_data / "tic188646744"
    if not (d / "sector55_pdcsap.csv").exists():
        pytest.skip(f"TOI-5807 light curves not found in {d}")
    return d


@pytest.fixture(scope="session")
def toi5807_sectors(toi5807_dir):
    """The four TOI-5807 sectors as host LightCurves {sector: LightCurve} (plain numpy reader)."""
    import numpy as np

    from jaxvet.data import LightCurve

    out = {}
    for s in (55, 75, 82, 83):
        d = np.loadtxt(toi5807_dir / f"sector{s}_pdcsap.csv", delimiter=",", comments="#", skiprows=13)
        out[s] = LightCurve(d[:, 0], d[:, 1], d[:, 2], d[:, 3].astype(int), sector=s, target="TIC 188646744")
    return out


@pytest.fixture(scope="session")
def toi5807_lc(toi5807_sectors):
    from jaxvet.data import stitch

    return stitch([toi5807_sectors[s] for s in sorted(toi5807_sectors)])


@pytest.fixture(scope="session")
def toi5807_subsets(toi5807_sectors):
    """The reference's two TOI-5807 subsets (all sectors; 82+83) as one context with TOI-5807.01
    on each: ``(VetContext, [lc_all, lc_82_83])``."""
    from jaxvet.data import Candidate, stitch
    from jaxvet.engine.context import VetContext

    lcs = [
        stitch([toi5807_sectors[s] for s in (55, 75, 82, 83)]),
        stitch([toi5807_sectors[s] for s in (82, 83)]),
    ]
    c = Candidate(**TOI5807)
    return VetContext.build(lcs, [c, c], lc_index=[0, 1]), lcs


@pytest.fixture(scope="session")
def reference_golden():
    """tess-vetter 0.3.20's outputs on TOI-5807 (tests/data/reference_toi5807.json)."""
    import json

    p = REPO / "tests" / "data" / "reference_toi5807.json"
    if not p.exists():
        pytest.skip("tests/data/reference_toi5807.json not generated")
    return json.loads(p.read_text())
