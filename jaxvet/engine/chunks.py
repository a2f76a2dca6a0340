"""Chunking under one memory budget, with every chunk dispatched before the host waits.

Kernels see fixed-shape chunks of rows (candidates, candidate x epoch windows, stamp pairs).
This module decides how many rows a chunk holds (:func:`rows_per_chunk`, from the one
element budget :func:`element_budget`) and applies a jitted function over chunks
(:func:`map_rows`, :func:`map_groups`).  The results of all chunks are assembled *on the
device* (concatenation, or a gather by the inverse permutation for grouped rows), so a caller
gets device arrays back without a single host synchronisation; the engine copies a check's
results to the host once per run segment (:func:`jaxvet.engine.context.to_host`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.errors import JaxvetInputError

__all__ = [
    "element_budget",
    "rows_per_chunk",
    "prev_pow2",
    "map_rows",
    "map_groups",
    "assemble",
    "ShapeLadder",
]

class ShapeLadder:
    """Static sizes that only grow within a run, so repeated calls reuse compiled programs.

    A planner that buckets a static size (epochs per window table, window width, a padded set
    width) from the data of one call asks ``at_least(name, n)``: the answer is the largest size
    asked for under ``name`` so far in this run.  A campaign that vets its injections one context
    at a time shares one ladder between them, so after the largest shapes have been seen every
    later injection runs the programs already compiled (a pixel campaign compiles V08 and V09
    once instead of once per injection).  A fresh context has a fresh ladder: results never
    depend on it, only the padding does.
    """

    def __init__(self):
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, name: str, default: int) -> int:
        with self._lock:
            return max(int(default), self._sizes.get(name, 0))

    def at_least(self, name: str, n: int) -> int:
        with self._lock:
            v = max(int(n), self._sizes.get(name, 0))
            self._sizes[name] = v
            return v

    def __repr__(self) -> str:
        return f"ShapeLadder({self._sizes})"


#: environment variable that overrides the element budget (an integer)
BUDGET_ENV = "JAXVET_MAX_ELEMENTS"


def element_budget() -> int:
    """Elements one array of one chunk may hold: ``$JAXVET_MAX_ELEMENTS``, else 2**22 on a CPU
    (a few MiB per float64 intermediate: the fastest setting measured on 2 cores) and 2**24 on
    an accelerator."""
    env = os.environ.get(BUDGET_ENV, "")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise JaxvetInputError(f"{BUDGET_ENV} must be an integer, got {env!r}") from None
        if value < 1:
            raise JaxvetInputError(f"{BUDGET_ENV} must be >= 1, got {value}")
        return value
    return 1 << 22 if jax.default_backend() == "cpu" else 1 << 24


def prev_pow2(n: int) -> int:
    """Largest power of two <= ``max(n, 1)``."""
    n = max(int(n), 1)
    return 1 << (n.bit_length() - 1)


def rows_per_chunk(per_row_elements: int, *, cap: int | None = None, scale: float = 1.0) -> int:
    """Rows per chunk (a power of two) so that a ``(rows, per_row_elements)`` intermediate fits
    the budget; ``scale`` < 1 leaves room for a kernel with several such intermediates, ``cap``
    bounds the result."""
    rows = prev_pow2(int(element_budget() * scale) // max(int(per_row_elements), 1))
    return rows if cap is None else min(rows, prev_pow2(cap))


def _pad_index(lo: int, size: int, n: int) -> np.ndarray:
    """Row indices ``lo .. lo+size-1``, those past ``n`` replaced by row ``lo`` (a real row)."""
    idx = np.arange(lo, lo + size)
    return np.where(idx < n, idx, lo)


def map_rows(fn: Callable[..., Any], arrays: Any, n: int, chunk: int, *, args: Sequence[Any] = ()) -> Any:
    """``fn(rows_chunk, *args)`` over rows ``0..n-1`` of the pytree ``arrays`` in chunks of
    ``chunk`` rows; returns the pytree of results with leading size ``n`` on the device.

    The last chunk is padded with copies of its first row, so every call has one shape (one
    compilation).  No chunk's result is waited for: all chunks are dispatched, then joined by a
    device-side concatenation.
    """
    if n <= 0:
        raise ValueError(f"map_rows needs n >= 1 rows, got {n}")
    parts = []
    for lo in range(0, n, chunk):
        idx = jnp.asarray(_pad_index(lo, chunk, n))
        sub = jax.tree.map(lambda a, idx=idx: jnp.take(a, idx, axis=0), arrays)
        take = min(chunk, n - lo)
        parts.append(jax.tree.map(lambda a, take=take: a[:take], fn(sub, *args)))
    return parts[0] if len(parts) == 1 else jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *parts)


def assemble(parts: Sequence[Any], rows: Sequence[np.ndarray], n: int) -> Any:
    """Join per-group results into row order on the device.

    ``parts[g]`` is a pytree whose leaves have leading size ``>= len(rows[g])`` (padding rows
    after the real ones); ``rows[g]`` are the output rows its first ``len(rows[g])`` entries
    belong to.  Every row ``0..n-1`` must appear exactly once.
    """
    order = np.concatenate([np.asarray(r, np.int64) for r in rows]) if rows else np.zeros(0, np.int64)
    if order.size != n or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError(f"assemble: rows must cover 0..{n - 1} exactly once")
    inverse = np.empty(n, np.int64)
    inverse[order] = np.arange(n)
    trimmed = []
    for p, r in zip(parts, rows, strict=True):
        k = len(r)
        trimmed.append(jax.tree.map(lambda a, k=k: a[:k], p))
    if len(trimmed) == 1:
        joined = trimmed[0]
    else:
        joined = jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *trimmed)
    if np.array_equal(inverse, np.arange(n)):
        return joined
    inv = jnp.asarray(inverse)
    return jax.tree.map(lambda a: jnp.take(a, inv, axis=0), joined)


def map_groups(
    fn: Callable[..., Any], groups: Sequence[tuple[Any, np.ndarray]], n: int
) -> Any:
    """Dispatch ``fn(key, rows)`` for each ``(key, rows)`` group and :func:`assemble` the results.

    ``key`` selects the compiled shape (e.g. a bucket width) and ``rows`` the output rows the
    call computes; ``fn`` returns a pytree whose leading axis starts with those rows (padding
    after).  Nothing is waited for.
    """
    parts, rows = [], []
    for key, idx in groups:
        parts.append(fn(key, idx))
        rows.append(idx)
    return assemble(parts, rows, n)
