"""The light-curve readers: one file, several files of one target, plain arrays."""

from __future__ import annotations

import os

from jaxvet.data import DEFAULT_QUALITY_BITMASK, LightCurve
from jaxvet.errors import JaxvetInputError
from jaxvet.io._common import (
    check_file,
    path_str,
    plain_array,
    resolve_quality_bitmask,
    sniff,
    time_offset_for,
)
from jaxvet.io.build import finish
from jaxvet.io.fits import read_fits
from jaxvet.io.lightkurve import from_lightkurve
from jaxvet.io.sectors import split_tess_sectors
from jaxvet.io.stitching import combine, expand_paths, is_lightkurve
from jaxvet.io.text import read_text_table


def read_lightcurve(
    path,
    *,
    flux_column="auto",
    quality_bitmask="default",
    sector: int | None = None,
    time_format: str = "auto",
    flux_err_placeholder: str = "estimate",
    split_sectors: bool = False,
) -> LightCurve:
    """Read one light-curve file (FITS or text table) into a BTJD :class:`LightCurve`.

    Parameters
    ----------
    path : file path (``.fits``/``.fits.gz`` light curves, ``.csv``/``.txt``/``.dat`` tables,
        gzip-compressed tables), or a lightkurve ``LightCurve``/``LightCurveCollection``
        (forwarded to :func:`from_lightkurve`).
    flux_column : ``"auto"`` (FITS: PDCSAP_FLUX, else SAP_FLUX, else FLUX; tables: by header
        name, else column 2), a column name, or (tables) a 0-based column index.
    quality_bitmask : ``"default"``, ``"hard"``, ``"hardest"``, ``"none"`` (lightkurve's
        per-mission bitmasks) or an int.  Flagged cadences are kept and masked by ``.valid``.
    sector : override the sector id (else: FITS ``SECTOR``/``QUARTER``/``CAMPAIGN``, a table's
        ``sector`` column or ``# sector: N`` line, a ``sector55``/``-s0055-`` file name, else 0).
    time_format : ``"auto"`` (header keywords / column name / values >= 2,400,000 are BJD), or
        ``"btjd"``, ``"bjd"``, ``"bkjd"``, ``"mjd"`` to say what the time values are.
    flux_err_placeholder : ``"estimate"`` replaces a constant flux_err that is more than 10x
        the flux's point-to-point scatter (a placeholder such as 1.0) by that robust scatter;
        ``"keep"`` keeps it.  Both warn (:class:`JaxvetDataWarning`).
    split_sectors : for a TESS text table with no sector information (no ``sector`` column,
        metadata line or file-name number), estimate per-cadence sector ids from the times
        (:func:`jaxvet.io.sectors.tess_sectors_from_time`) instead of sector 0.  The command
        line does this.

    The returned light curve's ``provenance`` (:class:`ReadInfo`) says what was done.

    Raises
    ------
    DataFileError
        Missing, unreadable, corrupt or empty file; no time/flux column; unsorted times.
    """
    if is_lightkurve(path):
        return from_lightkurve(
            path, quality_bitmask=quality_bitmask, sector=sector, flux_err_placeholder=flux_err_placeholder
        )
    p = check_file(path)
    where = path_str(path)
    if time_format != "auto":
        time_offset_for(time_format)  # validate early
    kind = sniff(p)
    parsed = (read_fits if kind == "fits" else read_text_table)(p, flux_column, time_format)
    if split_sectors and kind == "text":
        parsed = split_tess_sectors(parsed)
    return finish(
        parsed,
        where=where,
        name=p.name,
        quality_bitmask=quality_bitmask,
        sector=sector,
        flux_err_placeholder=flux_err_placeholder,
    )


def read_lightcurves(paths, *, stitch: bool = True, **kwargs) -> LightCurve:
    """Read several files of one target (one per sector) into one light curve.

    ``paths`` is a list of paths (or lightkurve objects), or a glob pattern.  With
    ``stitch=True`` each sector is divided by its own median flux (``jaxvet.data.stitch``,
    the reference's policy "v1"); with ``stitch=False`` the fluxes are concatenated as read.
    Sector ids are kept per cadence.  When two files carry the same sector id, the later
    file's cadences get id ``sector + 1000*k`` (k = 1, 2, ...) and a :class:`JaxvetDataWarning`
    says so.  Keyword arguments go to :func:`read_lightcurve` (``sector=`` is not allowed).
    """
    if "sector" in kwargs:
        raise JaxvetInputError("read_lightcurves takes no sector= (each file's own sector id is used)")
    lcs, labels = [], []
    for item in expand_paths(paths):
        lc = read_lightcurve(item, **kwargs)
        lcs.append(lc)
        labels.append(path_str(item) if isinstance(item, str | os.PathLike) else (lc.source or "lightkurve"))
    return combine(lcs, labels, normalize=stitch)


def from_arrays(
    time,
    flux,
    flux_err=None,
    quality=None,
    sector=None,
    *,
    target: str | None = None,
    source: str | None = None,
    quality_bitmask=DEFAULT_QUALITY_BITMASK,
) -> LightCurve:
    """A :class:`LightCurve` from arrays (numpy, lists, astropy Quantity / masked arrays).

    Thin wrapper over ``LightCurve(...)``: times in BTJD (absolute BJD >= 2,400,000 is
    converted), masked values become NaN, ``quality_bitmask`` may be a name as in
    :func:`read_lightcurve`.
    """
    e = None if flux_err is None else plain_array(flux_err, "flux_err", unit=getattr(flux, "unit", None))
    return LightCurve(
        time=plain_array(time, "time"),
        flux=plain_array(flux, "flux"),
        flux_err=e,
        quality=None if quality is None else plain_array(quality, "quality"),
        sector=sector,
        target=target,
        source=source,
        quality_bitmask=resolve_quality_bitmask(quality_bitmask),
    )


def parse_sector_list(text: str, option: str = "--sectors") -> list[int]:
    """``"82,83"`` -> ``[82, 83]`` (blank items ignored); errors name the option and the text."""
    try:
        return [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise JaxvetInputError(f"{option} must be comma-separated integers, got {text!r}") from None


__all__ = ["read_lightcurve", "read_lightcurves", "from_arrays", "parse_sector_list"]
