"""Disposition policies: typed, validated rules that turn check results into a class.

A policy is a versioned set of rules (docs/disposition.md).  Each rule names one check (or
``"run"``: the run-level flags of :mod:`jaxvet.engine.signal` and the variability assessment),
a predicate on that check's verdict and metrics, a reason code and the class the reason argues
for (``FP``, ``FA`` or ``flag``: recorded, class unchanged).  Policies load from the TOML file
shipped in the package (:func:`default_policy`), from a TOML or JSON file, or from a mapping of
the same layout; every key is validated here and a bad one raises
:class:`~jaxvet.errors.JaxvetInputError` naming it.
"""

from __future__ import annotations

import functools
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from jaxvet.errors import JaxvetInputError

__all__ = [
    "CLASSES",
    "RULE_CLASSES",
    "OPERATORS",
    "RUN",
    "RUN_FLAGS",
    "PLANNED_CHECKS",
    "Condition",
    "Rule",
    "Policy",
    "default_policy",
    "load_policy",
    "resolve_policy",
]

#: the classes of a disposition (docs/disposition.md)
CLASSES = ("PC", "FP", "FA", "undetermined")
#: what a rule's reason argues for; ``flag`` is recorded without changing the class
RULE_CLASSES = ("FP", "FA", "flag")
#: the pseudo-check of the run-level flags
RUN = "run"
#: the run-level flags a ``run`` rule can test
RUN_FLAGS = ("NO_SIGNAL", "NO_TRANSIT_ON_DATA", "OOT_VARIABILITY")
#: reference check ids a policy may name before jaxvet registers them (their rules apply once
#: a check of that id runs)
PLANNED_CHECKS = ("V06", "V07", "V10", "V11", "V12", "V14", "V20")
#: comparison operators of a metric condition
OPERATORS = (">", ">=", "<", "<=", "==", "!=", "in", "not in")
_DEFAULT_PRIORITY = {"FP": 1, "FA": 0, "flag": -1}
_RULE_KEYS = {"code", "check", "class", "verdict", "all", "any", "flags", "priority", "description"}
_TOP_KEYS = {"name", "version", "description", "min_contributing", "rules"}


@dataclass(frozen=True)
class Condition:
    """``metric op value``; ``metric`` may be a quotient ``"a/b"`` of two metrics."""

    metric: str
    op: str
    value: Any

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.metric.split("/")) if "/" in self.metric else (self.metric,)

    def to_list(self) -> list:
        return [self.metric, self.op, list(self.value) if isinstance(self.value, tuple) else self.value]


@dataclass(frozen=True)
class Rule:
    """One failure mode: a predicate on one check's result, a reason ``code`` and its class.

    The predicate holds when every part that is given holds: ``verdict`` (the verdict is one
    of these), ``all`` (every condition), ``any`` (at least one), ``flags`` (for ``check ==
    "run"``: one of these run-level flags is set).
    """

    code: str
    check: str
    klass: str
    verdict: tuple[str, ...] = ()
    all: tuple[Condition, ...] = ()
    any: tuple[Condition, ...] = ()
    flags: tuple[str, ...] = ()
    priority: int = 0
    description: str = ""

    def metric_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for c in (*self.all, *self.any) for n in c.names))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "check": self.check, "class": self.klass,
                             "priority": self.priority}
        for key in ("verdict", "flags"):
            if getattr(self, key):
                d[key] = list(getattr(self, key))
        for key in ("all", "any"):
            if getattr(self, key):
                d[key] = [c.to_list() for c in getattr(self, key)]
        if self.description:
            d["description"] = self.description
        return d


@dataclass(frozen=True)
class Policy:
    """A named, versioned list of :class:`Rule` (see the module docstring).

    ``min_contributing``: with no FP/FA reason, a candidate is ``undetermined`` unless at least
    this many of the checks the rules name ran and gave a usable result (status ok, verdict not
    insufficient).
    """

    name: str
    version: str
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    min_contributing: int = 2
    description: str = ""

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    def checks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.check for r in self.rules if r.check != RUN))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "description": self.description,
                "min_contributing": self.min_contributing, "rules": [r.to_dict() for r in self.rules]}


def _err(where: str, msg: str) -> JaxvetInputError:
    return JaxvetInputError(f"disposition policy: {where}: {msg}")


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _err(where, f"must be a non-empty string, got {value!r}")
    return value


def _known_check(check: str, where: str) -> str:
    from jaxvet.checks import CHECK_MODULES, available_checks, canonical_id

    if check == RUN:
        return RUN
    cid = canonical_id(check)
    if cid not in (*CHECK_MODULES, *available_checks(), *PLANNED_CHECKS):
        raise _err(where, f"unknown check {check!r} (known: {', '.join(available_checks())}, "
                          f"{', '.join(PLANNED_CHECKS)} and {RUN!r})")
    return cid


def _condition(item, where: str) -> Condition:
    if isinstance(item, Mapping):
        unknown = set(item) - {"metric", "op", "value"}
        if unknown:
            raise _err(where, f"unknown key(s) {sorted(unknown)} (a condition has metric, op, value)")
        missing = [k for k in ("metric", "op", "value") if k not in item]
        if missing:
            raise _err(where, f"missing field {missing[0]!r}")
        item = [item["metric"], item["op"], item["value"]]
    if not isinstance(item, (list, tuple)) or len(item) != 3:
        raise _err(where, f"a condition is [metric, operator, value], got {item!r}")
    metric, op, value = item
    metric = _text(metric, f"{where} metric")
    if any(not part.strip() for part in metric.split("/")) or metric.count("/") > 1:
        raise _err(where, f"metric {metric!r}: a name or a quotient 'a/b' of two names")
    if op not in OPERATORS:
        raise _err(where, f"unknown metric operator {op!r} (use one of {', '.join(OPERATORS)})")
    if op in ("in", "not in"):
        if not isinstance(value, (list, tuple)) or not value:
            raise _err(where, f"operator {op!r} needs a non-empty list value, got {value!r}")
        value = tuple(value)
    elif op in (">", ">=", "<", "<="):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise _err(where, f"operator {op!r} needs a number, got {value!r}")
    elif not isinstance(value, (bool, int, float, str)):
        raise _err(where, f"operator {op!r} needs a number, string or boolean, got {value!r}")
    return Condition(metric, op, value)


def _conditions(rule: Mapping, key: str, where: str) -> tuple[Condition, ...]:
    items = rule.get(key, ())
    if not isinstance(items, (list, tuple)):
        raise _err(f"{where}.{key}", f"must be a list of conditions, got {items!r}")
    return tuple(_condition(c, f"{where}.{key}[{k}]") for k, c in enumerate(items))


def _strings(rule: Mapping, key: str, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = rule.get(key, ())
    items = [items] if isinstance(items, str) else items
    if not isinstance(items, (list, tuple)):
        raise _err(f"{where}.{key}", f"must be a list of strings, got {items!r}")
    for v in items:
        if v not in allowed:
            raise _err(f"{where}.{key}", f"unknown value {v!r} (use {', '.join(allowed)})")
    return tuple(items)


def _rule(raw, k: int) -> Rule:
    from jaxvet.results import VERDICT_NAMES

    where = f"rules[{k}]"
    if not isinstance(raw, Mapping):
        raise _err(where, f"must be a table/object, got {raw!r}")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise _err(where, f"unknown key(s) {sorted(unknown)} (allowed: {', '.join(sorted(_RULE_KEYS))})")
    for key in ("code", "check", "class"):
        if key not in raw:
            raise _err(where, f"missing field {key!r}")
    code = _text(raw["code"], f"{where}.code")
    where = f"rules[{k}] ({code})"
    check = _known_check(_text(raw["check"], f"{where}.check"), f"{where}.check")
    klass = raw["class"]
    if klass not in RULE_CLASSES:
        raise _err(f"{where}.class", f"unknown class {klass!r} (use {', '.join(RULE_CLASSES)})")
    priority = raw.get("priority", _DEFAULT_PRIORITY[klass])
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise _err(f"{where}.priority", f"must be an integer, got {priority!r}")
    rule = Rule(
        code=code, check=check, klass=klass,
        verdict=_strings(raw, "verdict", where, VERDICT_NAMES),
        all=_conditions(raw, "all", where), any=_conditions(raw, "any", where),
        flags=_strings(raw, "flags", where, RUN_FLAGS), priority=priority,
        description=str(raw.get("description", "")),
    )
    if check == RUN and (rule.verdict or rule.all or rule.any or not rule.flags):
        raise _err(where, "a 'run' rule tests run-level 'flags' only")
    if check != RUN and rule.flags:
        raise _err(f"{where}.flags", "only a rule on check 'run' tests run-level flags")
    if check != RUN and not (rule.verdict or rule.all or rule.any):
        raise _err(where, "missing predicate: give 'verdict', 'all' or 'any'")
    return rule


def policy_from_dict(doc: Mapping[str, Any]) -> Policy:
    """A :class:`Policy` from its mapping form (the TOML/JSON layout), validated."""
    if not isinstance(doc, Mapping):
        raise _err("document", f"must be a table/object, got {type(doc).__name__}")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise _err("document", f"unknown key(s) {sorted(unknown)} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("name", "version", "rules"):
        if key not in doc:
            raise _err("document", f"missing field {key!r}")
    name = _text(doc["name"], "name")
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, (str, int)):
        raise _err("version", f"must be a string, got {version!r}")
    rules = doc["rules"]
    if not isinstance(rules, (list, tuple)):
        raise _err("rules", f"must be a list of rules, got {rules!r}")
    parsed = tuple(_rule(r, k) for k, r in enumerate(rules))
    codes = [r.code for r in parsed]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise _err("rules", f"duplicate code(s) {dup}")
    mc = doc.get("min_contributing", 2)
    if isinstance(mc, bool) or not isinstance(mc, int) or mc < 0:
        raise _err("min_contributing", f"must be an integer >= 0, got {mc!r}")
    return Policy(name=name, version=str(version), rules=parsed, min_contributing=mc,
                  description=str(doc.get("description", "")))


def load_policy(path) -> Policy:
    """A policy from a ``.toml`` or ``.json`` file (validated)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise JaxvetInputError(
            f"disposition policy file {str(p)!r}: cannot read it ({exc.strerror})"
        ) from None
    try:
        doc = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise JaxvetInputError(f"disposition policy file {str(p)!r}: not valid "
                               f"{'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    try:
        return policy_from_dict(doc)
    except JaxvetInputError as exc:
        raise JaxvetInputError(f"{exc} (in {str(p)!r})") from None


@functools.cache
def default_policy() -> Policy:
    """The policy shipped with jaxvet (``jaxvet/disposition/default_policy.toml``), read and
    validated once per process (a :class:`Policy` is immutable)."""
    text = resources.files("jaxvet.disposition").joinpath("default_policy.toml").read_text()
    return policy_from_dict(tomllib.loads(text))


def resolve_policy(policy) -> Policy:
    """``None`` (the default policy), a :class:`Policy`, a mapping or a file path."""
    if policy is None:
        return default_policy()
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, Mapping):
        return policy_from_dict(policy)
    if isinstance(policy, (str, Path)):
        return load_policy(policy)
    raise JaxvetInputError(f"policy must be None, a Policy, a mapping or a file path, got {policy!r}")
