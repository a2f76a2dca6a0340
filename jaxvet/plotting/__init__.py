"""Plots of check results, drawn from ``result.raw["plot_data"]`` (no recomputation).

Every function accepts ``ax=`` and returns the axes (lightkurve's convention).
:func:`plot_check` dispatches on the check id; :func:`save_check_plots` writes PNGs.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

from jaxvet.results import CheckResult

__all__ = ["plot_check", "save_check_plots", "PLOTTERS"]

#: check id -> "module:function" (resolved lazily)
PLOTTERS = {
    "V01": "v01:plot_odd_even",
    "V04": "v04:plot_depth_stability",
    "V02": "v02:plot_secondary_eclipse",
    "V03": "v03:plot_duration_consistency",
    "V05": "v05:plot_transit_shape",
    "V08": "pixels:plot_centroid_shift",
    "V09": "pixels:plot_difference_image",
    "V10": "apertures:plot_aperture_dependence",
    "V11": "v11:plot_modshift",
    "V12": "v12:plot_sweet",
    "V13": "v13:plot_data_gaps",
    "V15": "v15:plot_transit_asymmetry",
    "V16": "v16_v19:plot_model_competition",
    "V17": "ephemeris:plot_ephemeris_reliability",
    "V18": "ephemeris:plot_ephemeris_sensitivity",
    "V19": "v16_v19:plot_alias_diagnostics",
    "V20": "apertures:plot_ghost_features",
    "V21": "v21:plot_sector_consistency",
    "V25": "pixels:plot_localization_consistency",
}


def _resolve(check_id: str):
    spec = PLOTTERS.get(check_id)
    if spec is None:
        return None
    mod, fn = spec.split(":")
    try:
        return getattr(importlib.import_module(f"{__name__}.{mod}"), fn)
    except (ImportError, AttributeError):
        return None


def plot_check(result: CheckResult, ax=None):
    """Plot one result with its check's plotter; returns the axes (or figure for multi-panel)."""
    fn = _resolve(result.id)
    if fn is None:
        raise ValueError(f"no plot for check {result.id}")
    return fn(result, ax=ax)


def save_check_plots(results: dict[str, CheckResult], out_dir, prefix: str = "") -> list[Path]:
    """Write one PNG per plottable, non-skipped result; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for cid, r in results.items():
        fn = _resolve(cid)
        if fn is None or r.status != "ok":
            continue
        obj = fn(r)
        fig = obj if hasattr(obj, "savefig") else obj.figure
        path = out_dir / f"{prefix}{cid}.png"
        with warnings.catch_warnings():  # figures with insets or outside legends
            warnings.filterwarnings("ignore", message="The figure layout has changed", category=UserWarning)
            fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
