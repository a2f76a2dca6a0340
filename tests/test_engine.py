"""The engine: typed options, the run cache, chunking without host waits, and the runner's
contract (boundary validation, requirements, one host copy per check, errors propagate)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxvet
from jaxvet.checks import register, unregister
from jaxvet.data import Candidate
from jaxvet.engine import runner
from jaxvet.engine.chunks import assemble, map_groups, map_rows, rows_per_chunk
from jaxvet.engine.context import CheckSpec, RunCache
from jaxvet.engine.options import CheckOptions, at_least, boolean, in_range, one_of, option, positive
from jaxvet.errors import JaxvetInputError, UnknownCheckError
from jaxvet.results import OK, PASS, VERDICT_NONE, CheckResult
from jaxvet.synthetic import simulate_lightcurve


@dataclass(frozen=True)
class DemoOptions(CheckOptions):
    check_id: ClassVar[str] = "X01"
    n_draws: int = option(10, at_least(1))
    threshold: float = option(3.0, positive, traced=True)
    fraction: float = option(0.5, in_range(0.0, 1.0), traced=True)
    method: str = option("box", one_of("box", "median"))
    plot: bool = option(True, boolean)

    def validate(self):
        if self.method == "median" and self.n_draws < 2:
            raise JaxvetInputError(f"X01 method 'median' needs n_draws >= 2, got {self.n_draws}")


# ---------------------------------------------------------------------------------- options
def test_options_defaults_and_conversion():
    o = DemoOptions.from_mapping({"n_draws": 4.0, "threshold": 2})
    assert o.n_draws == 4 and isinstance(o.n_draws, int)
    assert o.threshold == 2.0 and isinstance(o.threshold, float)
    assert DemoOptions.from_mapping(None) == DemoOptions()


def test_misspelled_option_names_the_option_and_the_known_ones():
    with pytest.raises(JaxvetInputError, match=r"unknown X01 option\(s\) \['treshold'\].*threshold"):
        DemoOptions.from_mapping({"treshold": 2.0})


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"n_draws": 0}, r"X01 option n_draws must be an integer >= 1, got 0"),
        ({"n_draws": 2.5}, r"n_draws must be an integer >= 1, got 2.5"),
        ({"n_draws": True}, r"n_draws must be an integer >= 1, got True"),
        ({"threshold": -1.0}, r"threshold must be a positive number, got -1.0"),
        ({"threshold": float("nan")}, r"threshold must be a positive number, got nan"),
        ({"threshold": "3"}, r"threshold must be a positive number, got '3'"),
        ({"fraction": 1.5}, r"fraction must be a number in \[0.0, 1.0\], got 1.5"),
        ({"method": "boxx"}, r"method must be one of \['box', 'median'\], got 'boxx'"),
        ({"plot": 1}, r"plot must be true or false, got 1"),
        ({"method": "median", "n_draws": 1}, r"X01 method 'median' needs n_draws >= 2, got 1"),
    ],
)
def test_bad_option_values_name_check_option_and_value(bad, match):
    with pytest.raises(JaxvetInputError, match=match):
        DemoOptions.from_mapping(bad)


def test_traced_and_static_split():
    o = DemoOptions(threshold=2.0)
    traced = o.traced()
    assert set(traced) == {"threshold", "fraction"}
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == () for v in traced.values())
    static = dict(o.static())
    assert set(static) == {"n_draws", "method", "plot"}
    hash(o.static())
    assert o.replace(threshold=5.0).threshold == 5.0
    with pytest.raises(JaxvetInputError):
        o.replace(threshold=0.0)


def test_traced_threshold_does_not_recompile():
    """The pattern every check uses: thresholds as arguments, static knobs as static args."""
    traces = []

    @jax.jit
    def kernel(x, thr):
        traces.append(1)
        return jnp.sum(x > thr["threshold"])

    x = jnp.arange(10.0)
    for t in (1.0, 2.0, 7.5):
        kernel(x, DemoOptions(threshold=t).traced())
    assert len(traces) == 1


# ---------------------------------------------------------------------------------- run cache
def test_run_cache_builds_each_key_once_across_threads():
    cache = RunCache()
    calls = {"a": 0, "b": 0}

    def make(key):
        def f():
            calls[key] += 1
            time.sleep(0.05)
            return key.upper()

        return f

    out = []
    threads = [threading.Thread(target=lambda k=k: out.append(cache.get(k, make(k)))) for k in "aabba"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == ["A", "A", "A", "B", "B"]
    assert calls == {"a": 1, "b": 1}
    assert ("a" in cache) and len(cache) == 2


# ---------------------------------------------------------------------------------- chunks
@jax.jit
def _row_fn(rows, scale):
    return {"s": jnp.sum(rows["x"], axis=1) * scale, "first": rows["x"][:, 0]}


def test_map_rows_matches_one_call_and_needs_no_host_copy():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(37, 5)))
    with jax.transfer_guard_device_to_host("disallow"):
        out = map_rows(_row_fn, {"x": x}, 37, 8, args=(2.0,))
    assert isinstance(out["s"], jax.Array) and out["s"].shape == (37,)
    np.testing.assert_array_equal(np.asarray(out["s"]), np.asarray(jnp.sum(x, axis=1) * 2.0))
    np.testing.assert_array_equal(np.asarray(out["first"]), np.asarray(x[:, 0]))


def test_assemble_and_map_groups_restore_row_order_on_device():
    rng = np.random.default_rng(1)
    n = 23
    key_of = rng.integers(0, 3, n)
    groups = [(k, np.nonzero(key_of == k)[0]) for k in range(3)]

    def fn(key, rows):  # padded output: 4 extra rows of garbage after the real ones
        vals = jnp.asarray(np.concatenate([rows * 10 + key, np.full(4, -1)]))
        return {"v": vals}

    with jax.transfer_guard_device_to_host("disallow"):
        out = map_groups(fn, groups, n)
    np.testing.assert_array_equal(np.asarray(out["v"]), np.arange(n) * 10 + key_of)
    with pytest.raises(ValueError, match="exactly once"):
        assemble([{"v": jnp.zeros(3)}], [np.array([0, 0, 1])], 3)


def test_rows_per_chunk_is_a_power_of_two_within_budget(monkeypatch):
    monkeypatch.setenv("JAXVET_MAX_ELEMENTS", "1000")
    assert rows_per_chunk(10) == 64
    assert rows_per_chunk(10, cap=20) == 16
    assert rows_per_chunk(10**6) == 1
    monkeypatch.setenv("JAXVET_MAX_ELEMENTS", "lots")
    with pytest.raises(JaxvetInputError, match="JAXVET_MAX_ELEMENTS must be an integer, got 'lots'"):
        rows_per_chunk(10)


# ---------------------------------------------------------------------------------- runner
@pytest.fixture(scope="module")
def small_lc():
    return simulate_lightcurve(3, sectors=(1,))


def _cands(n):
    return [Candidate(period_days=2.0 + 0.1 * i, t0_btjd=2001.0, duration_hours=2.0) for i in range(n)]


@dataclass(frozen=True)
class _POpts(CheckOptions):
    check_id: ClassVar[str] = "XA"
    scale: float = option(1.0, positive, traced=True)


def _producer_compute(ctx, opts):
    p = ctx.cb.period
    return {"status": jnp.zeros(p.shape, jnp.int32), "verdict": jnp.zeros(p.shape, jnp.int32),
            "twice": 2.0 * p * opts.traced()["scale"]}


def _format(check_id):
    def fmt(ctx, opts, a):
        return [
            CheckResult(id=check_id, name=check_id.lower(), status="ok",
                        verdict="pass" if int(a["verdict"][i]) == PASS else None,
                        metrics={k: float(a[k][i]) for k in a if k not in ("status", "verdict")})
            for i in range(len(ctx.candidates))
        ]

    return fmt


def _consumer_compute(ctx, opts):
    prod = ctx.products["XA"]["twice"]
    return {
        "status": jnp.full(prod.shape, OK, jnp.int32),
        "verdict": jnp.full(prod.shape, VERDICT_NONE, jnp.int32),
        "quad": 2.0 * prod,
    }


@dataclass(frozen=True)
class _COpts(CheckOptions):
    check_id: ClassVar[str] = "XB"


@pytest.fixture
def fake_checks():
    a = CheckSpec(id="XA", name="xa", compute=_producer_compute, format=_format("XA"), options=_POpts)
    b = CheckSpec(id="XB", name="xb", compute=_consumer_compute, format=_format("XB"), options=_COpts,
                  requires=("XA",))
    register(a)
    register(b)
    yield a, b
    unregister("XA")
    unregister("XB")


@pytest.mark.parametrize("threads", [1, 3])
def test_requirements_run_first_and_hand_over_device_products(small_lc, fake_checks, threads):
    cands = _cands(11)
    rep = jaxvet.vet(small_lc, cands, "XB", chunk_size=4, threads=threads, estimate_depth=False,
                     options={"XA": {"scale": 1.5}})
    assert rep.checks == ["XB"] and set(rep[0]) == {"XB"}  # XA computed, only XB reported
    got = [r["XB"].metrics["quad"] for r in rep.results]
    np.testing.assert_allclose(got, [4.0 * 1.5 * c.period_days for c in cands], rtol=1e-15)


def test_one_host_copy_per_check_per_segment(small_lc, fake_checks, monkeypatch):
    copies = []
    real = runner._copy_to_host
    monkeypatch.setattr(runner, "_copy_to_host", lambda trees: copies.append(len(trees)) or real(trees))
    jaxvet.vet(small_lc, _cands(10), "XA,XB", chunk_size=2, segment_size=6, estimate_depth=False)
    # segments of 6 and 4 candidates = 3 + 2 chunks; two checks each -> 4 copies
    assert copies == [3, 3, 2, 2]


def test_programmer_error_in_a_check_propagates(small_lc):
    def broken(ctx, opts):
        raise ZeroDivisionError("bug in the kernel")

    register(CheckSpec(id="XC", name="xc", compute=broken, format=_format("XC"), options=_COpts))
    try:
        with pytest.raises(ZeroDivisionError, match="bug in the kernel"):
            jaxvet.vet(small_lc, _cands(2), "XC", estimate_depth=False)
    finally:
        unregister("XC")


def test_options_are_checked_at_the_boundary(small_lc, fake_checks):
    with pytest.raises(JaxvetInputError, match=r"unknown XA option\(s\) \['scal'\]"):
        jaxvet.vet(small_lc, _cands(2), "XA", options={"XA": {"scal": 2.0}}, estimate_depth=False)
    with pytest.raises(JaxvetInputError, match="XA option scale must be a positive number, got -2"):
        jaxvet.vet(small_lc, _cands(2), "XA", options={"XA": {"scale": -2}}, estimate_depth=False)
    with pytest.raises(UnknownCheckError, match="V99"):
        jaxvet.vet(small_lc, _cands(2), "XA", options={"V99": {}}, estimate_depth=False)
    with pytest.raises(JaxvetInputError, match=r"options\['XA'\] must be a mapping"):
        jaxvet.vet(small_lc, _cands(2), "XA", options={"XA": 3}, estimate_depth=False)
    with pytest.raises(JaxvetInputError, match="segment_size must be >= 1"):
        jaxvet.vet(small_lc, _cands(2), "XA", segment_size=0, estimate_depth=False)


def test_register_rejects_clashes(fake_checks):
    with pytest.raises(UnknownCheckError, match="already defined"):
        register(fake_checks[0])
    with pytest.raises(UnknownCheckError, match="already defined"):
        register(CheckSpec(id="V01", name="x", compute=_producer_compute, format=_format("V01")))


def test_v25_computes_on_the_device_without_a_host_copy():
    """V25 reads V08's and V09's device trees: once they are dispatched, dispatching V25 (its sky
    Jacobians from the WCS included, a host input taken once per run) copies nothing from the
    device, so V25 never makes the host wait inside a run segment."""
    import dataclasses

    from jaxvet.checks import get_check
    from jaxvet.engine.context import to_host
    from tests.oracles import pixel_oracle as po

    stamps = [po.syn_stamp("target", seed=1, sector=1), po.syn_stamp("eb", seed=2, sector=3, rotation_deg=45)]
    ctx = po.syn_context(stamps)  # test_v25's two-sector context: its compiled programs are reused
    ctx = dataclasses.replace(ctx, products={c: get_check(c).dispatch(ctx) for c in ("V08", "V09")})
    v25 = get_check("V25")
    with jax.transfer_guard_device_to_host("disallow_explicit"):  # device_get included
        tree = v25.dispatch(ctx)
    r = v25.finish(ctx, to_host(tree))[0]
    assert r.metrics["consistency_class"] == "INCONSISTENT" and r.metrics["frame"] == "sky"
    assert r.raw["inconsistent_sectors"] == [1, 3]
