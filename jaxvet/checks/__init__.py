"""Registry of vetting checks: ``get_check("V01")``, ``available_checks()``.

Each check lives in its own module and exposes ``SPEC`` (:class:`~jaxvet.engine.context.CheckSpec`).
"""

from __future__ import annotations

import importlib

from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.errors import UnknownCheckError

__all__ = ["CheckSpec", "VetContext", "get_check", "available_checks", "resolve_checks", "CHECK_MODULES"]

#: check id -> module (imported lazily, so importing jaxvet stays fast)
CHECK_MODULES = {
    "V01": "v01_odd_even",
    "V02": "v02_secondary_eclipse",
    "V03": "v03_duration_consistency",
    "V04": "v04_depth_stability",
    "V05": "v05_transit_shape",
    "V08": "v08_centroid_shift",
    "V09": "v09_difference_image",
    "V21": "v21_sector_consistency",
    "V25": "v25_localization_consistency",
}


def available_checks() -> list[str]:
    """Ids of the checks whose module is present, in id order."""
    out = []
    for cid, mod in sorted(CHECK_MODULES.items()):
        if importlib.util.find_spec(f"{__name__}.{mod}") is not None:
            out.append(cid)
    return out


def get_check(check_id: str) -> CheckSpec:
    key = str(check_id).strip().upper()
    if key not in CHECK_MODULES or key not in available_checks():
        raise UnknownCheckError(
            f"unknown check id {check_id!r}; available: {', '.join(available_checks())}"
        )
    return importlib.import_module(f"{__name__}.{CHECK_MODULES[key]}").SPEC


def resolve_checks(spec: str | list[str] | None) -> list[str]:
    """Parse ``"V01,V04"`` / ``"all"`` / a list into validated ids (order kept, no duplicates)."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return available_checks()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        cid = get_check(item).id
        if cid not in out:
            out.append(cid)
    if not out:
        raise UnknownCheckError(f"no check ids in {spec!r}")
    return out
