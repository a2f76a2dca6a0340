"""Typed, validated check options: one mechanism for every check.

A check declares its options as a frozen dataclass deriving from :class:`CheckOptions`, one
field per option, each made with :func:`option`::

    @dataclass(frozen=True)
    class V01Options(CheckOptions):
        check_id: ClassVar[str] = "V01"
        min_transits_per_parity: int = option(2, at_least(1))
        oe_sigma_threshold: float = option(3.0, positive, traced=True)

``V01Options.from_mapping(user_dict)`` rejects an unknown (misspelled) name and any value that
fails its field's check with a :class:`~jaxvet.errors.JaxvetInputError` naming the check, the
option and the value.  Fields marked ``traced=True`` are thresholds: :meth:`CheckOptions.traced`
returns them as a dict of 0-d float64 arrays to pass to a jitted kernel as *arguments*, so that
changing a threshold never recompiles a program (``static()`` gives the hashable rest, the
options that decide array shapes or code paths).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from jaxvet.errors import JaxvetInputError

__all__ = [
    "CheckOptions",
    "option",
    "positive",
    "non_negative",
    "finite",
    "at_least",
    "in_range",
    "one_of",
    "boolean",
    "integer",
    "counts",
    "optional_positive",
    "subset_of",
]

@dataclass(frozen=True)
class _Check:
    describe: str
    test: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda v: v

    def __call__(self, value):
        try:
            ok = self.test(value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(self.describe)
        return self.convert(value)


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer()


#: a finite real number (converted to float)
finite = _Check("a finite number", lambda v: _is_real(v) and math.isfinite(float(v)), float)
#: a finite number > 0
positive = _Check("a positive number", lambda v: _is_real(v) and math.isfinite(float(v)) and v > 0, float)
#: a finite number >= 0
non_negative = _Check("a number >= 0", lambda v: _is_real(v) and math.isfinite(float(v)) and v >= 0, float)
#: None or a finite number > 0 (an optional size, span or tolerance)
optional_positive = _Check(
    "None or a positive number",
    lambda v: v is None or positive.test(v),
    lambda v: None if v is None else float(v),
)
#: True or False
boolean = _Check("true or false", lambda v: isinstance(v, (bool, np.bool_)), bool)
#: any whole number
integer = _Check("an integer", _is_int, int)


def at_least(lo: int) -> _Check:
    """A whole number >= ``lo``."""
    return _Check(f"an integer >= {lo}", lambda v: _is_int(v) and int(v) >= lo, int)


#: a non-empty sequence of integers >= 1 (stored as a tuple): sizes, levels, top-n lists
counts = _Check(
    "a non-empty sequence of integers >= 1",
    lambda v: not isinstance(v, str | bytes) and len(v) > 0 and all(_is_int(x) and int(x) >= 1 for x in v),
    lambda v: tuple(int(x) for x in v),
)


def subset_of(values) -> _Check:
    """A non-empty sequence of items of ``values`` (stored as a tuple)."""
    return _Check(
        f"a non-empty sequence of {list(values)}",
        lambda v: not isinstance(v, str | bytes) and len(v) > 0 and all(x in values for x in v),
        tuple,
    )


def in_range(lo: float, hi: float, *, closed: tuple[bool, bool] = (True, True)) -> _Check:
    """A finite number in ``[lo, hi]`` (``closed`` picks open ends)."""
    lb, rb = ("[" if closed[0] else "("), ("]" if closed[1] else ")")

    def test(v):
        if not (_is_real(v) and math.isfinite(float(v))):
            return False
        return (v >= lo if closed[0] else v > lo) and (v <= hi if closed[1] else v < hi)

    return _Check(f"a number in {lb}{lo}, {hi}{rb}", test, float)


def one_of(*values) -> _Check:
    """One of ``values`` (compared with ``==``)."""
    return _Check(f"one of {list(values)!r}", lambda v: v in values)


def option(default, check: _Check | None = None, *, traced: bool = False):
    """A dataclass field for a check option with a default, a validator and its role.

    ``traced=True`` marks a threshold passed to kernels as an array argument (changing it does
    not recompile); other options are static (they select shapes or code paths).
    """
    return dataclasses.field(default=default, metadata={"check": check, "traced": bool(traced)})


@dataclass(frozen=True)
class CheckOptions:
    """Base of every check's options (a frozen dataclass; see the module docstring)."""

    check_id: ClassVar[str] = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is None:
                continue
            value = getattr(self, f.name)
            try:
                value = check(value)
            except ValueError as exc:
                raise JaxvetInputError(
                    f"{self.check_id} option {f.name} must be {exc}, got {getattr(self, f.name)!r}"
                ) from None
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Cross-field checks (override; raise :class:`JaxvetInputError` naming the options)."""

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None):
        """Options from a user mapping; unknown names are rejected, naming the known ones."""
        if isinstance(values, cls):
            return values
        values = dict(values or {})
        known = cls.names()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise JaxvetInputError(
                f"unknown {cls.check_id} option(s) {unknown}; known: {sorted(known)}"
            )
        return cls(**values)

    @classmethod
    def for_context(cls, ctx, opts=None):
        """``opts`` when given, else the run's options for this check (``ctx.options[check_id]``)."""
        return opts if opts is not None else cls.from_mapping(ctx.options.get(cls.check_id))

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated like user input)."""
        return type(self).from_mapping({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def traced(self) -> dict[str, np.ndarray]:
        """The ``traced=True`` options as 0-d float64 arrays (kernel arguments, not static)."""
        return {
            f.name: np.asarray(getattr(self, f.name), np.float64)
            for f in dataclasses.fields(self)
            if f.metadata.get("traced")
        }

    def static(self) -> tuple[tuple[str, Any], ...]:
        """The other options as a hashable tuple of ``(name, value)`` (static kernel arguments)."""
        return tuple(
            (f.name, getattr(self, f.name))
            for f in dataclasses.fields(self)
            if not f.metadata.get("traced")
        )
