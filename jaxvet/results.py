"""Per-candidate check results and their JSON form.

A check produces, for each candidate, a :class:`CheckResult` with the reference's contract
(``id``, ``name``, ``status`` in ``ok``/``skipped``/``error``, ``confidence`` or None, ``flags``,
``metrics`` of JSON scalars with the reference's field names, ``raw`` with arrays and
``plot_data``, ``notes``) plus jaxvet's ``verdict`` (``pass``/``warn``/``fail``/``insufficient``,
or None where the check has no decision rule).

Array-level outputs use integer codes (:data:`STATUS_CODES`, :data:`VERDICT_CODES`) so that
whole batches stay on the device until they are formatted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "STATUS_CODES",
    "STATUS_NAMES",
    "VERDICT_CODES",
    "VERDICT_NAMES",
    "VERDICT_NONE",
    "OK",
    "SKIPPED",
    "ERROR",
    "PASS",
    "WARN",
    "FAIL",
    "INSUFFICIENT",
    "CheckResult",
    "skipped_result",
    "error_result",
    "graded_verdict",
    "to_jsonable",
    "verdict_name",
    "status_name",
]

STATUS_NAMES = ("ok", "skipped", "error")
STATUS_CODES = {name: i for i, name in enumerate(STATUS_NAMES)}
VERDICT_NAMES = ("pass", "warn", "fail", "insufficient")
VERDICT_CODES = {name: i for i, name in enumerate(VERDICT_NAMES)}
#: code for "no verdict" (the check states no decision rule)
VERDICT_NONE = -1

# The one vocabulary of integer codes kernels compute (use these names, never literals).
OK, SKIPPED, ERROR = (STATUS_CODES[n] for n in STATUS_NAMES)
PASS, WARN, FAIL, INSUFFICIENT = (VERDICT_CODES[n] for n in VERDICT_NAMES)


def graded_verdict(enough, fail, warn):
    """Verdict codes (device arrays): ``insufficient`` without ``enough`` evidence, else ``fail``
    where ``fail``, ``warn`` where ``warn``, ``pass`` elsewhere."""
    import jax.numpy as jnp

    return jnp.where(enough, jnp.where(fail, FAIL, jnp.where(warn, WARN, PASS)), INSUFFICIENT)


def status_name(code: int) -> str:
    return STATUS_NAMES[int(code)]


def verdict_name(code: int) -> str | None:
    code = int(code)
    return None if code < 0 else VERDICT_NAMES[code]


def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy/jax values to JSON types; non-finite floats become None."""
    kind = type(obj)
    if kind is float:  # the common leaves first (exact types: subclasses take the general path)
        return obj if math.isfinite(obj) else None
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if kind is list:
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
        arr = np.asarray(obj)
        if arr.ndim == 0:
            return to_jsonable(arr.item())
        return [to_jsonable(v) for v in arr.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


@dataclass
class CheckResult:
    """One check's result for one candidate (reference-compatible fields plus ``verdict``)."""

    id: str
    name: str
    status: str = "ok"
    confidence: float | None = None
    verdict: str | None = None
    flags: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.status not in STATUS_NAMES:
            raise ValueError(f"status must be one of {STATUS_NAMES}, got {self.status!r}")
        if self.verdict is not None and self.verdict not in VERDICT_NAMES:
            raise ValueError(f"verdict must be one of {VERDICT_NAMES} or None, got {self.verdict!r}")

    @property
    def passed(self) -> bool | None:
        """Reference back-compat: True if ok, False if error, None if skipped."""
        return {"ok": True, "error": False}.get(self.status)

    def to_dict(self, include_raw: bool = True) -> dict[str, Any]:
        d = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "confidence": self.confidence,
            "verdict": self.verdict,
            "flags": list(self.flags),
            "metrics": self.metrics,
            "notes": list(self.notes),
            "raw": self.raw if include_raw else None,
        }
        return to_jsonable(d)


def skipped_result(id: str, name: str, reason: str, notes=()) -> CheckResult:
    """Reference ``skipped_result``: flags ``["SKIPPED:" + reason]``, no metrics."""
    return CheckResult(id=id, name=name, status="skipped", flags=[f"SKIPPED:{reason}"], notes=list(notes))


def error_result(id: str, name: str, error: str, notes=(), flags=()) -> CheckResult:
    """Reference ``error_result``: flags ``["ERROR:" + error, ...]``, no metrics."""
    return CheckResult(id=id, name=name, status="error", flags=[f"ERROR:{error}", *flags], notes=list(notes))
