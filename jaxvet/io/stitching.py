"""Several files of one target into one light curve: path expansion, duplicate sector ids, stitching."""

from __future__ import annotations

import dataclasses
import glob
import os
import warnings

import numpy as np

from jaxvet.data import LightCurve
from jaxvet.data import stitch as _stitch
from jaxvet.errors import DataFileError, JaxvetInputError
from jaxvet.io._common import JaxvetDataWarning, ReadInfo, path_str, read_info
from jaxvet.io.build import _with_provenance


def is_lightkurve(obj) -> bool:
    """Whether ``obj`` is a lightkurve object (without importing lightkurve)."""
    import sys

    if "lightkurve" not in sys.modules:
        return False
    return (type(obj).__module__ or "").startswith("lightkurve")


def expand_paths(paths) -> list:
    """A list of paths / lightkurve objects from a path, a glob pattern or an iterable."""
    if isinstance(paths, str | os.PathLike):
        s = path_str(paths)
        if any(ch in s for ch in "*?["):
            found = sorted(glob.glob(os.path.expanduser(s)))
            if not found:
                raise DataFileError(f"{s}: no files match this pattern")
            return found
        return [paths]
    if is_lightkurve(paths):
        return [paths]
    try:
        out = list(paths)
    except TypeError:
        raise JaxvetInputError(
            f"paths must be a path, a glob pattern or a list of paths, got {paths!r}"
        ) from None
    if not out:
        raise JaxvetInputError("read_lightcurves needs at least one path, got 0")
    return out


def _free_id(s: int, used: dict, declared: set) -> int:
    k = 1
    while s + 1000 * k in used or s + 1000 * k in declared:
        k += 1
    return s + 1000 * k


def _renumber(lc: LightCurve, label: str, used: dict, declared: set, notes: list[str]) -> LightCurve:
    """``lc`` with sector ids already used by an earlier file moved to ``id + 1000*k``."""
    sec = lc.sector
    remap = {s: _free_id(s, used, declared) for s in (int(x) for x in np.unique(sec)) if s in used}
    if not remap:
        return lc
    new = sec.astype(np.int64).copy()
    for s, t in remap.items():
        new[sec == s] = t
        msg = (
            f"{label}: sector {s} is also in {used[s]}; its cadences are kept as a distinct "
            f"sector with id {t}"
        )
        notes.append(msg)
        warnings.warn(msg, JaxvetDataWarning, stacklevel=4)
    info = read_info(lc)
    out = dataclasses.replace(lc, sector=new)
    if info is not None:
        _with_provenance(out, dataclasses.replace(info, sectors=tuple(int(s) for s in np.unique(new))))
    return out


def combine(lcs: list[LightCurve], labels: list[str], *, normalize: bool) -> LightCurve:
    """Stitch several light curves of one target, keeping duplicate sector ids distinct."""
    declared = {int(s) for lc in lcs for s in np.unique(lc.sector)}
    used: dict[int, str] = {}
    fixed: list[LightCurve] = []
    notes: list[str] = []
    for lc, label in zip(lcs, labels, strict=True):
        lc = _renumber(lc, label, used, declared, notes)
        for s in np.unique(lc.sector):
            used.setdefault(int(s), label)
        fixed.append(lc)
    out = _stitch(fixed, normalize=normalize)
    parts = tuple(i for i in (read_info(lc) for lc in fixed) if i is not None)
    targets = {lc.target for lc in fixed if lc.target}
    if len(targets) > 1:
        msg = f"stitching light curves of different targets: {sorted(targets)}"
        notes.append(msg)
        warnings.warn(msg, JaxvetDataWarning, stacklevel=3)
    bitmasks = {lc.quality_bitmask for lc in fixed}
    if len(bitmasks) > 1:
        notes.append(f"files use different quality bitmasks {sorted(bitmasks)}; the first one is applied")
    info = ReadInfo(
        source=", ".join(labels),
        format="stitched" if normalize else "concatenated",
        mission=parts[0].mission if parts else None,
        target=out.target,
        sectors=tuple(out.sectors),
        sector_source="files",
        time_system="BTJD",
        quality_bitmask=out.quality_bitmask,
        n_rows=len(out),
        n_valid=out.n_valid,
        notes=tuple(notes) + tuple(n for part in parts for n in part.notes),
        parts=parts,
    )
    return _with_provenance(out, info)
