"""From a parser's :class:`~jaxvet.io._common.Parsed` result to a :class:`LightCurve` with provenance."""

from __future__ import annotations

import warnings

import numpy as np

from jaxvet.data import LightCurve
from jaxvet.errors import DataFileError, JaxvetInputError
from jaxvet.io._common import (
    JaxvetDataWarning,
    Parsed,
    ReadInfo,
    resolve_quality_bitmask,
    robust_p2p_scatter,
)

#: A constant flux_err this many times larger than the robust point-to-point scatter of the
#: flux is treated as a placeholder (e.g. allesfitter's ``flux_err = 1.0`` columns).
PLACEHOLDER_ERR_RATIO = 10.0


def fix_placeholder_err(
    flux: np.ndarray, flux_err: np.ndarray | None, policy: str, where: str, notes: list[str]
) -> np.ndarray | None:
    """Replace (``policy="estimate"``) or keep a missing, all-zero or constant placeholder
    flux_err; warns either way.  The estimate is the flux's robust point-to-point scatter."""
    if policy not in ("estimate", "keep"):
        raise JaxvetInputError(f"flux_err_placeholder must be 'estimate' or 'keep', got {policy!r}")
    e = flux_err[np.isfinite(flux_err)] if flux_err is not None else np.zeros(0)
    if flux_err is None or (e.size and not np.any(e)):
        return _estimate_absent_err(flux, flux_err, policy, where, notes)
    if e.size < 20 or e[0] <= 0 or np.any(e != e[0]):
        return flux_err
    scatter = robust_p2p_scatter(flux)
    if not (np.isfinite(scatter) and scatter > 0 and e[0] > PLACEHOLDER_ERR_RATIO * scatter):
        return flux_err
    msg = (
        f"{where}: flux_err is a constant placeholder ({e[0]:g} for every cadence, "
        f"{e[0] / scatter:.3g}x the flux's point-to-point scatter {scatter:.3g})"
    )
    if policy == "estimate":
        msg += f"; replaced by that scatter estimate (flux_err_placeholder='keep' to keep {e[0]:g})"
        out = np.where(np.isfinite(flux_err), scatter, flux_err)
    else:
        msg += "; kept as is (flux_err_placeholder='keep')"
        out = flux_err
    notes.append(msg)
    warnings.warn(msg, JaxvetDataWarning, stacklevel=4)
    return out


def _estimate_absent_err(flux, flux_err, policy: str, where: str, notes: list[str]):
    """flux_err for a file without one (missing column, or 0 for every cadence)."""
    what = "no flux_err column" if flux_err is None else "flux_err is 0 for every cadence"
    scatter = robust_p2p_scatter(flux)
    if policy == "keep" or not (np.isfinite(scatter) and scatter > 0):
        notes.append(f"{what}: flux_err set to 0 (the reference's convention)")
        return flux_err
    msg = (
        f"{where}: {what}; flux_err set to the flux's point-to-point scatter {scatter:.3g} "
        "(flux_err_placeholder='keep' keeps 0, the reference's convention)"
    )
    notes.append(msg)
    warnings.warn(msg, JaxvetDataWarning, stacklevel=5)
    return np.where(np.isfinite(flux), scatter, np.nan)


def _make_lc(where: str, **kw) -> LightCurve:
    try:
        return LightCurve(**kw)
    except DataFileError:
        raise
    except JaxvetInputError as e:
        msg = str(e)
        raise DataFileError(msg if msg.startswith(f"{where}:") else f"{where}: {msg}") from None


def _sector_values(parsed: Parsed, sector, where: str, notes: list[str]):
    """(sector id or per-cadence ids, where they came from): argument > column > file > 0."""
    if sector is not None:
        try:
            sec = int(sector)
        except (TypeError, ValueError):
            raise JaxvetInputError(f"sector must be an int, got {sector!r}") from None
        if sec < 0:
            raise JaxvetInputError(f"sector must be non-negative, got {sector!r}")
        if parsed.sector is not None and parsed.sector != sec:
            notes.append(
                f"sector {sec} given by the caller overrides {parsed.sector} ({parsed.sector_source})"
            )
        return sec, "argument"
    if parsed.sector_column is not None:
        sc = parsed.sector_column
        if not np.all(np.isfinite(sc)) or np.any(sc < 0) or np.any(sc != np.round(sc)):
            raise DataFileError(f"{where}: sector column must hold non-negative integers")
        return sc.astype(np.int64), parsed.sector_source
    if parsed.sector is not None:
        return parsed.sector, parsed.sector_source
    notes.append("no sector id in the file: sector 0 (pass sector=)")
    return 0, "unknown"


def finish(
    parsed: Parsed, *, where: str, name: str, quality_bitmask, sector, flux_err_placeholder: str
) -> LightCurve:
    """The validated :class:`LightCurve` of ``parsed``, its :class:`ReadInfo` as ``provenance``."""
    notes = parsed.notes
    bitmask = resolve_quality_bitmask(quality_bitmask, parsed.mission)
    sector_value, source = _sector_values(parsed, sector, where, notes)
    flux_err = fix_placeholder_err(parsed.flux, parsed.flux_err, flux_err_placeholder, where, notes)
    lc = _make_lc(
        where,
        time=parsed.time,
        flux=parsed.flux,
        flux_err=flux_err,
        quality=parsed.quality,
        sector=sector_value,
        target=parsed.target,
        source=name,
        quality_bitmask=bitmask,
    )
    info = ReadInfo(
        source=where,
        format=parsed.format,
        mission=parsed.mission,
        target=parsed.target,
        sectors=tuple(int(s) for s in np.unique(lc.sector)),
        sector_source=source,
        time_column=parsed.time_column,
        time_system=parsed.time_system,
        time_offset_days=float(parsed.time_offset),
        flux_column=parsed.flux_column,
        flux_err_column=parsed.flux_err_column,
        quality_column=parsed.quality_column,
        quality_bitmask=bitmask,
        n_rows=len(lc),
        n_valid=lc.n_valid,
        metadata=dict(parsed.metadata),
        notes=tuple(notes),
    )
    return _with_provenance(lc, info)


def _with_provenance(lc: LightCurve, info: ReadInfo) -> LightCurve:
    object.__setattr__(lc, "provenance", info)
    return lc
