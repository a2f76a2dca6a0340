"""Readers for real light-curve files and candidate tables.

Everything here runs on the host, once, at the boundary: it turns a file (or a lightkurve
object, or plain arrays) into a validated :class:`jaxvet.data.LightCurve` in BTJD, or a
candidate CSV into :class:`jaxvet.data.Candidate` objects.  Bad input raises
:class:`jaxvet.errors.DataFileError` (a :class:`~jaxvet.errors.JaxvetInputError`) whose message
starts with the file and says what is wrong; degenerate *data* (NaN cadences, flagged
cadences) is kept and masked by :attr:`LightCurve.valid`.

Modules, by format: :mod:`jaxvet.io.fits` (TESS SPOC, Kepler/K2, lightkurve FITS),
:mod:`jaxvet.io.text` (CSV / text tables), :mod:`jaxvet.io.lightkurve` (lightkurve objects),
:mod:`jaxvet.io.candidates` (candidate tables), :mod:`jaxvet.io.stitching` (several files of one
target), :mod:`jaxvet.io.pixels` (target pixel files: TESS TPF FITS and npz stamps),
:mod:`jaxvet.io.datasets` (the shared data directory and TOI-5807).  The quality
bitmasks are those of lightkurve's ``TessQualityFlags`` and ``KeplerQualityFlags``
(Lightkurve Collaboration 2018), chosen by mission.

Each reader records what it did (columns used, time conversion, where the sector id came from,
notes such as "flux_err is a constant placeholder") in a :class:`ReadInfo`, held by the light
curve as ``lc.provenance`` (also returned by :func:`read_info`).  See docs/io.md.
"""

from jaxvet.io._common import (
    BKJD_OFFSET,
    KEPLER_QUALITY_BITMASKS,
    MJD_OFFSET,
    TESS_QUALITY_BITMASKS,
    JaxvetDataWarning,
    ReadInfo,
    read_info,
    resolve_quality_bitmask,
)
from jaxvet.io.build import PLACEHOLDER_ERR_RATIO
from jaxvet.io.candidates import read_candidate_arrays, read_candidates
from jaxvet.io.datasets import find_shared_data, load_toi5807, toi5807_candidate
from jaxvet.io.lightkurve import from_lightkurve
from jaxvet.io.pixels import read_tpf
from jaxvet.io.readers import from_arrays, parse_sector_list, read_lightcurve, read_lightcurves

__all__ = [
    "read_tpf",
    "BKJD_OFFSET",
    "MJD_OFFSET",
    "PLACEHOLDER_ERR_RATIO",
    "TESS_QUALITY_BITMASKS",
    "KEPLER_QUALITY_BITMASKS",
    "JaxvetDataWarning",
    "ReadInfo",
    "read_info",
    "read_lightcurve",
    "read_lightcurves",
    "from_lightkurve",
    "from_arrays",
    "read_candidates",
    "read_candidate_arrays",
    "find_shared_data",
    "load_toi5807",
    "parse_sector_list",
    "toi5807_candidate",
    "resolve_quality_bitmask",
]
