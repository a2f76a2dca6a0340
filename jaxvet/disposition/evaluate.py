"""Evaluate a :class:`~jaxvet.disposition.policy.Policy` on check results (host side).

For one candidate: every rule whose check ran and gave a usable result (status ``ok``, verdict
not ``insufficient``) is tested; a check that did not run, was skipped, errored or was
insufficient contributes no reason.  A metric that is None or NaN (not measured) makes its
condition false.  The class is the class of the fired FP/FA rule of highest priority (ties: FP
before FA, then the policy's order); with none, ``PC`` when at least ``min_contributing`` of
the policy's checks were usable, else ``undetermined``.  ``flag`` rules add their code to the
reasons without changing the class.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from jaxvet.disposition.policy import RUN, Condition, Policy, Rule, resolve_policy
from jaxvet.errors import JaxvetInputError
from jaxvet.results import CheckResult

__all__ = ["dispose", "dispose_many", "usable", "check_metric_names"]

_CMP = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


#: order of the deciding classes among rules of equal priority
_CLASS_ORDER = {"FP": 0, "FA": 1}


def usable(r: CheckResult | None) -> bool:
    """Whether a result can contribute a reason: it ran (status ok) and is not insufficient."""
    return r is not None and r.status == "ok" and r.verdict != "insufficient"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _value(r: CheckResult, c: Condition):
    names = c.names
    vals = [r.metrics.get(n) for n in names]
    if any(_missing(v) for v in vals):
        return None
    if len(vals) == 1:
        return vals[0]
    a, b = vals
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        raise JaxvetInputError(
            f"disposition policy: metric {c.metric!r} of {r.id}: a quotient needs two numbers, "
            f"got {a!r} and {b!r}"
        )
    return a / b if b != 0 else None


def _holds(rule: Rule, r: CheckResult, c: Condition) -> bool:
    v = _value(r, c)
    if v is None:
        return False
    if c.op in _CMP:
        if isinstance(v, str):
            raise JaxvetInputError(
                f"disposition policy: rule {rule.code!r}: metric {c.metric!r} of {r.id} is text ({v!r}); "
                f"operator {c.op!r} needs a number"
            )
        return bool(_CMP[c.op](float(v), float(c.value)))
    if c.op == "==":
        return v == c.value
    if c.op == "!=":
        return v != c.value
    inside = v in c.value
    return inside if c.op == "in" else not inside


def _fires(rule: Rule, results: Mapping[str, CheckResult], flags: Sequence[str]) -> bool:
    if rule.check == RUN:
        return any(f in flags for f in rule.flags)
    r = results.get(rule.check)
    if not usable(r):
        return False
    if rule.verdict and r.verdict not in rule.verdict:
        return False
    if rule.all and not all(_holds(rule, r, c) for c in rule.all):
        return False
    if rule.any and not any(_holds(rule, r, c) for c in rule.any):
        return False
    return True


def check_metric_names(policy: Policy, results: Sequence[Mapping[str, CheckResult]]) -> None:
    """Raise :class:`~jaxvet.errors.JaxvetInputError` for a rule naming a metric its check never
    reports in a usable result of this run (a misspelled or unknown metric name)."""
    for rule in policy.rules:
        if rule.check == RUN:
            continue
        seen: set[str] = set()
        ran = False
        for res in results:
            r = res.get(rule.check)
            if usable(r):
                ran = True
                seen.update(r.metrics)
        missing = [n for n in rule.metric_names() if n not in seen]
        if ran and missing:
            raise JaxvetInputError(
                f"disposition policy {policy.id}: rule {rule.code!r}: check {rule.check} reports no metric "
                f"{missing[0]!r} (its metrics: {', '.join(sorted(seen))})"
            )


def dispose(results: Mapping[str, CheckResult], flags: Sequence[str] = (), policy: Any = None) -> dict:
    """The disposition of one candidate: ``{"class", "reasons", "policy", "checks_used"}``.

    ``results`` maps check ids to :class:`~jaxvet.results.CheckResult`; ``flags`` are the
    run-level flags (``NO_SIGNAL``, ``NO_TRANSIT_ON_DATA``, ``OOT_VARIABILITY``); ``policy``
    is None (the shipped default), a :class:`Policy`, a mapping or a file path.
    """
    return _dispose(results, flags, resolve_policy(policy))


def _dispose(results, flags, policy: Policy, checks: tuple[str, ...] | None = None) -> dict:
    """:func:`dispose` with the policy resolved (``checks``: ``policy.checks()``)."""
    fired = [
        (k, rule)
        for k, rule in enumerate(policy.rules)
        if (rule.check == RUN or rule.check in results) and _fires(rule, results, flags)
    ]
    fired.sort(key=lambda kr: (-kr[1].priority, _CLASS_ORDER.get(kr[1].klass, 2), kr[0]))
    used = [cid for cid in (checks or policy.checks()) if usable(results.get(cid))]
    deciding = [rule for _, rule in fired if rule.klass != "flag"]
    if deciding:
        klass = deciding[0].klass
    else:
        klass = "PC" if len(used) >= policy.min_contributing else "undetermined"
    return {"class": klass, "reasons": list(dict.fromkeys(rule.code for _, rule in fired)),
            "policy": policy.id, "checks_used": used}


def dispose_many(results: Sequence[Mapping[str, CheckResult]], flags: Sequence[Sequence[str]] | None = None,
                 policy: Any = None) -> list[dict]:
    """:func:`dispose` of every candidate, after :func:`check_metric_names` over all of them."""
    policy = resolve_policy(policy)
    check_metric_names(policy, results)
    flags = flags if flags is not None else [()] * len(results)
    checks = policy.checks()
    return [_dispose(res, fl, policy, checks) for res, fl in zip(results, flags, strict=True)]
