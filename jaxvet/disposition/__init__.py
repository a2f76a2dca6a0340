"""Dispositions: a versioned policy turns each candidate's check results into a class.

``PC`` (planet candidate), ``FP`` (astrophysical false positive: eclipsing binary, off-target
source), ``FA`` (false alarm: systematics, not unique, no transit-like signal) or
``undetermined`` (too little ran), with the reason codes that decided it; the meanings follow the
Kepler DR25 Robovetter (Thompson et al. 2018, ApJS 235, 38) and LEO-vetter.  See
docs/disposition.md for the policy format and the shipped default.
"""

from jaxvet.disposition.evaluate import check_metric_names, dispose, dispose_many, usable
from jaxvet.disposition.policy import (
    CLASSES,
    OPERATORS,
    RULE_CLASSES,
    Condition,
    Policy,
    Rule,
    default_policy,
    load_policy,
    policy_from_dict,
    resolve_policy,
)

__all__ = [
    "CLASSES",
    "OPERATORS",
    "RULE_CLASSES",
    "Condition",
    "Policy",
    "Rule",
    "check_metric_names",
    "default_policy",
    "dispose",
    "dispose_many",
    "load_policy",
    "policy_from_dict",
    "resolve_policy",
    "usable",
]
