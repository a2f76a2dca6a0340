"""Readers of target-pixel stamps: TESS TPF FITS files and the reference's npz layout.

:func:`read_tpf` reads

* TESS target-pixel FITS files (SPOC TPFs and TESScut/astrocut cut-outs: the ``PIXELS``
  binary table with ``TIME``, ``FLUX``, ``FLUX_ERR``, ``QUALITY``; the ``APERTURE`` image,
  whose bit 2 marks the pipeline aperture and whose header carries the stamp's WCS;
  ``RA_OBJ``/``DEC_OBJ``/``SECTOR`` from the primary header), with astropy only;
* the npz layout of the reference's tutorial cache (``time``, ``flux``, ``flux_err``,
  ``aperture_mask``, ``quality``, optional ``wcs_header``) **without unpickling**: the file is
  opened with ``np.load(path, allow_pickle=False)``.  Its ``wcs_header`` entry is a pickled
  object array, so it is skipped (note ``"wcs unavailable: pickled header not loaded"``)
  unless the caller passes ``allow_pickle=True`` -- which executes code from the file and is
  unsafe for files you did not write yourself.

Every failure to read a file raises :class:`~jaxvet.errors.DataFileError` naming the file.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

from jaxvet.errors import DataFileError, JaxvetInputError
from jaxvet.io._common import check_file
from jaxvet.stamps import TPFStamp

__all__ = ["read_tpf"]

#: what a corrupt or truncated npz (zip) file raises
_NPZ_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError)


def _fits_errors() -> tuple[type[BaseException], ...]:
    """What astropy raises for an unreadable FITS file or malformed WCS keywords."""
    from astropy.io.fits.verify import VerifyError

    return (OSError, ValueError, KeyError, EOFError, VerifyError)


def _unpickle_errors() -> tuple[type[BaseException], ...]:
    """What unpickling a ``wcs_header`` entry and building its WCS may raise."""
    return (pickle.UnpicklingError, AttributeError, ImportError, TypeError, *_fits_errors(), *_NPZ_ERRORS)


def _stamp(p: Path, **fields) -> TPFStamp:
    """A :class:`TPFStamp` read from ``p``; invalid contents raise DataFileError naming the file."""
    try:
        return TPFStamp(source=str(p), **fields)
    except JaxvetInputError as e:
        raise DataFileError(f"{p}: {e}") from None


def _wcs_from_mapping(header: dict):
    from astropy.io import fits
    from astropy.wcs import WCS

    h = fits.Header()
    for k, v in header.items():
        h[str(k)] = v
    return WCS(h)


def _read_npz(p: Path, sector, allow_pickle: bool, ra_deg, dec_deg) -> TPFStamp:
    notes: list[str] = []
    try:
        data = np.load(p, allow_pickle=False)
    except _NPZ_ERRORS as e:  # not a zip / corrupt
        raise DataFileError(f"{p}: cannot read npz file ({type(e).__name__}: {e})") from None
    with data:
        files = set(data.files)
        missing = [k for k in ("time", "flux") if k not in files]
        if missing:
            raise DataFileError(
                f"{p}: npz lacks required entr{'y' if len(missing) == 1 else 'ies'} {missing}"
            )

        def get(name):
            if name not in files:
                return None
            try:
                return np.asarray(data[name])
            except ValueError as e:
                raise DataFileError(
                    f"{p}: entry {name!r} cannot be loaded without unpickling ({e})"
                ) from None

        time, flux = get("time"), get("flux")
        flux_err, aperture, quality = get("flux_err"), get("aperture_mask"), get("quality")
        wcs = None
        if "wcs_header" in files:
            if allow_pickle:
                # explicit opt-in: unpickling runs code from the file (unsafe for untrusted files)
                try:
                    with np.load(p, allow_pickle=True) as d2:
                        hdr = d2["wcs_header"].item()
                    wcs = _wcs_from_mapping(hdr) if isinstance(hdr, dict) else None
                    if wcs is None:
                        notes.append("wcs unavailable: wcs_header is not a mapping")
                except _unpickle_errors() as e:
                    notes.append(f"wcs unavailable: {type(e).__name__}: {e}")
            else:
                try:
                    hdr = data["wcs_header"]
                    wcs = _wcs_from_mapping(dict(hdr.item())) if hdr.dtype != object else None
                except ValueError:
                    wcs = None
                if wcs is None:
                    notes.append("wcs unavailable: pickled header not loaded (allow_pickle=True to opt in)")
    return _stamp(
        p, time=time, flux=flux, flux_err=flux_err, quality=quality, aperture_mask=aperture, wcs=wcs,
        sector=sector, ra_deg=ra_deg, dec_deg=dec_deg, notes=tuple(notes),
    )


def _read_fits(p: Path, sector, ra_deg, dec_deg) -> TPFStamp:
    from astropy.io import fits
    from astropy.wcs import WCS

    notes: list[str] = []
    try:
        hdul = fits.open(p, memmap=False)
    except _fits_errors() as e:
        raise DataFileError(f"{p}: not a readable FITS file ({type(e).__name__}: {e})") from None
    with hdul:
        names = [h.name.upper() for h in hdul]
        if "PIXELS" in names:
            tab = hdul["PIXELS"]
        elif len(hdul) > 1 and isinstance(hdul[1], fits.BinTableHDU):
            tab = hdul[1]
        else:
            raise DataFileError(f"{p}: no PIXELS binary table (is this a target-pixel file?)")
        cols = {c.upper() for c in tab.columns.names}
        for need in ("TIME", "FLUX"):
            if need not in cols:
                raise DataFileError(f"{p}: PIXELS table lacks column {need!r} (has {sorted(cols)})")
        d = tab.data
        time = np.asarray(d["TIME"], dtype=np.float64)
        flux = np.asarray(d["FLUX"], dtype=np.float64)
        flux_err = np.asarray(d["FLUX_ERR"], dtype=np.float64) if "FLUX_ERR" in cols else None
        quality = np.asarray(d["QUALITY"]) if "QUALITY" in cols else None
        if flux.ndim != 3:
            raise DataFileError(f"{p}: FLUX column is not an image per cadence (shape {flux.shape})")
        prim = hdul[0].header
        aperture = None
        wcs = None
        if "APERTURE" in names:
            ap_hdu = hdul["APERTURE"]
            ap = np.asarray(ap_hdu.data)
            if ap.shape == flux.shape[1:]:
                pipe = (ap.astype(np.int64) & 2) > 0
                if pipe.any():
                    aperture = pipe
                else:
                    notes.append("no pipeline aperture in APERTURE extension (bit 2 unset)")
            try:
                w = WCS(ap_hdu.header)
                wcs = w if w.has_celestial else None
            except _fits_errors() as e:  # malformed WCS keywords
                notes.append(f"wcs unavailable: {type(e).__name__}: {e}")
        if wcs is None and not any(n.startswith("wcs unavailable") for n in notes):
            notes.append("wcs unavailable: no celestial WCS in the file")
        if sector is None and prim.get("SECTOR") is not None:
            sector = int(prim["SECTOR"])
        if ra_deg is None and prim.get("RA_OBJ") not in (None, ""):
            ra_deg = float(prim["RA_OBJ"])
        if dec_deg is None and prim.get("DEC_OBJ") not in (None, ""):
            dec_deg = float(prim["DEC_OBJ"])
        obj = prim.get("OBJECT") or (f"TIC {prim['TICID']}" if prim.get("TICID") else None)
    if flux_err is not None and flux_err.shape != flux.shape:
        flux_err = None
    return _stamp(
        p, time=time, flux=flux, flux_err=flux_err, quality=quality, aperture_mask=aperture, wcs=wcs,
        sector=sector, ra_deg=ra_deg, dec_deg=dec_deg, target=str(obj) if obj else None, notes=tuple(notes),
    )


def read_tpf(
    path,
    sector: int | None = None,
    allow_pickle: bool = False,
    *,
    ra_deg: float | None = None,
    dec_deg: float | None = None,
) -> TPFStamp:
    """Read a target-pixel stamp from a TESS TPF FITS file or a reference-layout npz.

    ``sector`` overrides (or supplies) the sector number; for npz files named like
    ``sector83_tpf.npz`` it is parsed from the name.  ``allow_pickle=True`` lets the npz
    reader unpickle the ``wcs_header`` entry -- **unsafe for untrusted files** (unpickling can run
    arbitrary code); by default it is skipped and a note is recorded.  Errors raise
    :class:`~jaxvet.errors.DataFileError` naming the file.
    """
    p = check_file(path, "TPF file")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head[:2] == b"PK":
        if sector is None:
            m = re.search(r"sector[_-]?(\d+)", p.name, flags=re.IGNORECASE)
            sector = int(m.group(1)) if m else None
        return _read_npz(p, sector, allow_pickle, ra_deg, dec_deg)
    if head[:6] == b"SIMPLE" or head[:2] == b"\x1f\x8b":
        return _read_fits(p, sector, ra_deg, dec_deg)
    raise DataFileError(f"{p}: unrecognised TPF format (expected a FITS target-pixel file or an .npz)")

