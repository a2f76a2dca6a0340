"""Registry of vetting checks: ``get_check("V01")``, ``available_checks()``, ``register``.

Each built-in check lives in its own module and exposes ``SPEC``
(:class:`~jaxvet.engine.context.CheckSpec`); :func:`register` adds a check defined elsewhere
(a plug-in, or a test double), which then runs through :func:`jaxvet.vet` like the built-ins.
"""

from __future__ import annotations

import functools
import importlib

from jaxvet.engine.context import CheckSpec, VetContext
from jaxvet.errors import UnknownCheckError

__all__ = [
    "CheckSpec",
    "VetContext",
    "get_check",
    "available_checks",
    "resolve_checks",
    "register",
    "unregister",
    "CHECK_MODULES",
    "HEADLINE_METRICS",
    "headline_metrics",
    "canonical_id",
]

#: check id -> module (imported lazily, so importing jaxvet stays fast)
CHECK_MODULES = {
    "V01": "v01_odd_even",
    "V02": "v02_secondary_eclipse",
    "V03": "v03_duration_consistency",
    "V04": "v04_depth_stability",
    "V05": "v05_transit_shape",
    "V08": "v08_centroid_shift",
    "V09": "v09_difference_image",
    "V10": "v10_aperture_dependence",
    "V11": "v11_modshift",
    "V11b": "v11b_modshift_uniqueness",
    "V12": "v12_sweet",
    "V13": "v13_data_gaps",
    "V15": "v15_transit_asymmetry",
    "V16": "v16_model_competition",
    "V17": "v17_ephemeris_reliability",
    "V18": "v18_ephemeris_sensitivity",
    "V19": "v19_alias_diagnostics",
    "V20": "v20_ghost_features",
    "V21": "v21_sector_consistency",
    "V25": "v25_localization_consistency",
}


#: the metrics that carry each check's verdict (first) and its main measurement, as summaries
#: (the CLI demo, the one-page sheets) show them; see docs/checks.md for each rule
HEADLINE_METRICS = {
    "V01": ("oe_box_sigma_robust", "oe_box_rel_diff_robust", "delta_sigma"),
    "V02": ("secondary_local_depth_ppm", "secondary_local_depth_sigma"),
    "V03": ("duration_ratio",),
    "V04": ("chi2_box_reduced", "n_transits_measured", "chi2_reduced"),
    "V05": ("tflat_ttotal_ratio", "depth_ppm", "grazing_indicator"),
    "V08": ("centroid_shift_pixels", "significance_sigma"),
    "V09": ("diff_offset_pixels", "diff_offset_sigma"),
    "V10": ("stability_metric", "aperture_depth_sign_flip", "depth_snr_recommended"),
    "V11": ("secondary_primary_ratio", "secondary_signal", "primary_signal"),
    "V11b": ("ms4", "ms1", "sig_sec"),
    "V12": ("snr_at_period", "snr_half_period", "snr_double_period"),
    "V13": ("missing_frac_max_in_coverage", "missing_frac_max", "n_epochs_missing_ge_0p25"),
    "V15": ("asymmetry_sigma", "mu_left", "mu_right"),
    "V16": ("model_competition_label", "winner_margin_bic", "artifact_risk"),
    "V17": ("uniqueness_regime", "period_peak_to_next_ratio", "phase_shift_null_z"),
    "V18": ("metric_variance", "n_variants_ok", "best_variant_id"),
    "V19": ("best_other_over_base_score_ratio", "best_other_harmonic", "secondary_significance_sigma"),
    "V20": ("ghost_like_score", "scattered_light_risk", "aperture_contrast"),
    "V21": ("chi2_p_value", "consistency_class", "n_sectors_used"),
    "V25": ("consistency_class",),
}


def canonical_id(check_id: str) -> str:
    """A check id as the registry spells it: upper case, except a built-in's or registered
    check's trailing lower-case letter (``"v11b"`` -> ``"V11b"``); unknown ids upper-cased."""
    key = str(check_id).strip().upper()
    for known in (*CHECK_MODULES, *_REGISTERED):
        if known.upper() == key:
            return known
    return key


def _valid_id(check_id: str) -> bool:
    s = str(check_id)
    core = s[:-1] if s[-1:].islower() else s
    return bool(core) and core[0].isalpha() and core.isalnum() and core == core.upper() and core.isascii()


def headline_metrics(check_id: str) -> tuple[str, ...]:
    """:data:`HEADLINE_METRICS` of a check; for a registered one, its first three summary metrics."""
    key = canonical_id(check_id)
    if key in HEADLINE_METRICS:
        return HEADLINE_METRICS[key]
    spec = _REGISTERED.get(key)
    return tuple(spec.summary_metrics[:3]) if spec is not None else ()


#: checks added with :func:`register` (id -> spec)
_REGISTERED: dict[str, CheckSpec] = {}


def register(spec: CheckSpec, *, replace: bool = False) -> CheckSpec:
    """Make ``spec`` available under ``spec.id`` (upper case); a clash with an existing id is an
    error unless ``replace``."""
    key = spec.id.strip()
    if key != spec.id or not _valid_id(key):
        raise UnknownCheckError(
            f"check ids are upper case letters and digits (one trailing lower-case letter allowed), "
            f"got {spec.id!r}"
        )
    if not replace and canonical_id(key) in (*_REGISTERED, *CHECK_MODULES):
        raise UnknownCheckError(f"check id {key!r} is already defined")
    _REGISTERED[key] = spec
    return spec


def unregister(check_id: str) -> None:
    """Remove a check added with :func:`register` (built-in checks stay)."""
    _REGISTERED.pop(canonical_id(check_id), None)


@functools.cache
def _built_in_present() -> frozenset[str]:
    """Ids of the built-in checks whose module is installed (looked up once per process)."""
    return frozenset(
        cid for cid, mod in CHECK_MODULES.items() if importlib.util.find_spec(f"{__name__}.{mod}")
    )


def available_checks() -> list[str]:
    """Ids of the built-in checks whose module is present and of registered ones, in id order."""
    return sorted(_built_in_present() | set(_REGISTERED))


def get_check(check_id: str) -> CheckSpec:
    key = canonical_id(check_id)
    if key in _REGISTERED:
        return _REGISTERED[key]
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
