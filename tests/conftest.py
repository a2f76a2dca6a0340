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
#: The suite is compile-bound (most of a 2-core CI run is XLA building programs), so the tests
#: build their programs at LLVM optimisation level 1 without the expensive passes: on this 2-core
#: CPU a V01+V04+V05 run on TOI-5807 took 40.2 s of CPU instead of 47.7 s, while a run-time-heavy
#: test (V02's phase scan, four runs) took the same 62 s.  (Level 0 compiles faster still but runs
#: that test 60% slower and moves some sums by a few ulp.)  XLA:CPU uses no fast-math at any
#: level.  The bit-exact numerics tests also run once at the default level in a subprocess
#: (tests/test_numerics.py); benchmarks and users get the default.  JAXVET_TEST_DEFAULT_XLA=1
#: keeps the default for the whole suite.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=1 --xla_llvm_disable_expensive_passes=true"
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


#: test modules with the longest tests (measured with ``--durations`` on a 2-worker run), run
#: first, heaviest first; the other modules follow in collection order.  With ``--dist
#: worksteal`` an idle worker steals the end of the other's queue, so ending on short tests
#: keeps both workers busy to the end (a minute-long test collected last ran alone).  Each
#: module's tests stay together and in order (module fixtures are built once per worker).
#: worksteal first hands each worker one contiguous half of the ordered items, so the halves
#: meet inside "test_v21" (no module fixture; the middle of the 827 items) and the second worker
#: starts on test_signal, test_v20 and test_v19 (tests and module fixtures of 45-85 s under load)
#: instead of its alphabetical middle.  test_epochs sits between test_v01 and test_v04, which
#: reuse its random batch (built once per process, ~27 CPU-s): all three run on one worker.
HEAVY_MODULES_FIRST = (
    "test_docs", "test_v02", "test_pixel_campaign", "test_v01", "test_epochs", "test_v04", "test_vet",
    "test_v25", "test_cli", "test_v05", "test_v10", "test_masking", "test_bootstrap_study", "test_v18",
    "test_cli_pixels", "test_numerics", "test_campaign", "test_engine", "test_v08", "test_v09",
    "test_outputs", "test_v11b", "test_v21", "test_signal", "test_v20", "test_v19", "test_detrend",
    "test_disposition",
)  # fmt: skip


def pytest_collection_modifyitems(session, config, items):
    rank = {name: k for k, name in enumerate(HEAVY_MODULES_FIRST)}
    items.sort(key=lambda it: rank.get(Path(str(it.fspath)).stem, len(rank)))  # stable


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
