"""Target-pixel stamps: host data model, readers, and padded device batches for V08/V09/V25.

Host side
---------
:class:`TPFStamp` holds one sector's target-pixel cube (cadences x rows x cols, float64), with
optional ``flux_err``, ``quality``, the pipeline ``aperture_mask``, an astropy WCS and the
target's RA/Dec.  :func:`read_tpf` reads

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

Device side
-----------
:class:`PixelBatch` packs K stamps into one pytree: the valid cadences of each stamp (finite
time and at least one finite pixel -- the reference's ``default_cadence_mask`` with TPF quality
ignored, semantics §4.4) packed first in time order, padded to a bucketed ``T``; pixels
flattened row-major to a padded ``P``.  :func:`pixel_stats` precomputes, once per stamp, what
every candidate shares: per-cadence flux-weighted centroids (sorted, with ranks), every
pixel's time series sorted (with ranks), a point-to-point noise estimate per pixel and the
stamp's maximum flux.

Candidate-specific statistics over the *out-of-transit* cadences (thousands per sector) are then
computed without re-sorting anything per candidate: the out-of-transit set is "all valid
cadences minus a small excluded set" (the cadences near transit, gathered with
:func:`jaxvet.core.ephemeris.epoch_windows`), and the k-th remaining order statistic of a sorted
array with M ranks removed is found in O(log M) (:func:`kth_remaining`, the identity behind
:func:`jaxvet.core.stats.median_excluding`) or, per pixel, by a bisection that counts removed ranks
(:func:`kth_remaining_count`).  Median absolute deviations use the sorted-array "k closest
elements" search (:func:`kth_distance`), so an exact numpy-equal MAD costs O(log N log M).

Flux-weighted centroids follow the first-moment definition used for Kepler/TESS centroid
tests (Batalha et al. 2010, ApJ 713, L103; Bryson et al. 2013, PASP 125, 889).
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.data import BJD_OFFSET, PAD_TIME, CandidateBatch, LightCurve, LightCurveBatch, bucket_size
from jaxvet.errors import DataFileError, JaxvetInputError
from jaxvet.results import CheckResult, skipped_result

__all__ = [
    "TESS_PIXEL_SCALE_ARCSEC",
    "TPFStamp",
    "read_tpf",
    "PixelBatch",
    "PixelStats",
    "pixel_stats",
    "Prepared",
    "prepared",
    "kth_remaining",
    "kth_remaining_many",
    "kth_remaining_count",
    "lower_bound",
    "compact",
    "kth_distance",
    "exclusion_g",
    "lc_tpf_overlap",
    "stamp_target_pixel",
    "sky_jacobian",
]

#: TESS pixel scale (arcsec per pixel), as in the reference.
TESS_PIXEL_SCALE_ARCSEC = 21.0
_BIG = np.int32(2**30)


# ---------------------------------------------------------------------------------------------
# host data model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TPFStamp:
    """One target-pixel stamp (one sector) on the host, float64 numpy.

    Parameters
    ----------
    time : (T,) BTJD (absolute BJD >= 2,400,000 is converted).  NaN times are allowed; those
        cadences are not used.
    flux : (T, rows, cols) pixel fluxes (e-/s).  NaN pixels are ignored (nan-statistics).
    flux_err : optional (T, rows, cols).
    quality : optional (T,) integer TESS quality flags (kept; the reference's pixel checks
        ignore them, and so do V08/V09 unless a ``quality_bitmask`` option is given).
    aperture_mask : optional (rows, cols) bool, the pipeline aperture.
    wcs : optional astropy WCS of the stamp (0-based pixel convention via ``world_to_pixel``).
    sector : TESS sector number (None if unknown).
    ra_deg, dec_deg : the target's coordinates (used with ``wcs`` to place the target).
    """

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray | None = None
    quality: np.ndarray | None = None
    aperture_mask: np.ndarray | None = None
    wcs: Any = None
    sector: int | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    target: str | None = None
    source: str | None = None
    notes: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        where = f" ({self.source})" if self.source else ""
        time = np.asarray(self.time, dtype=np.float64)
        if time.ndim != 1:
            raise JaxvetInputError(f"TPF time{where} must be 1-D, got shape {time.shape}")
        flux = np.asarray(self.flux, dtype=np.float64)
        if flux.ndim != 3:
            raise JaxvetInputError(
                f"TPF flux{where} must be 3-D (cadences, rows, cols), got shape {flux.shape}"
            )
        n = time.shape[0]
        if flux.shape[0] != n:
            raise JaxvetInputError(f"TPF flux{where} has {flux.shape[0]} cadences but time has {n}")
        if n == 0 or flux.shape[1] == 0 or flux.shape[2] == 0:
            raise JaxvetInputError(f"TPF{where} is empty: flux shape {flux.shape}")
        finite_t = np.isfinite(time)
        if finite_t.any() and np.nanmedian(time) >= 2_400_000.0:
            time = time - BJD_OFFSET
        err = None
        if self.flux_err is not None:
            err = np.asarray(self.flux_err, dtype=np.float64)
            if err.shape != flux.shape:
                raise JaxvetInputError(f"TPF flux_err{where} has shape {err.shape} but flux has {flux.shape}")
        q = None
        if self.quality is not None:
            q = np.asarray(self.quality)
            if q.shape != (n,):
                raise JaxvetInputError(f"TPF quality{where} has shape {q.shape} but time has length {n}")
            q = np.nan_to_num(q.astype(np.float64), nan=0).astype(np.int64)
        ap = None
        if self.aperture_mask is not None:
            ap = np.asarray(self.aperture_mask).astype(bool)
            if ap.shape != flux.shape[1:]:
                raise JaxvetInputError(
                    f"TPF aperture_mask{where} has shape {ap.shape} but the stamp is {flux.shape[1:]}"
                )
        for name in ("ra_deg", "dec_deg"):
            v = getattr(self, name)
            if v is not None:
                v = float(v)
                if not np.isfinite(v):
                    raise JaxvetInputError(f"TPF {name}{where} must be finite, got {v!r}")
                object.__setattr__(self, name, v)
        if self.sector is not None:
            object.__setattr__(self, "sector", int(self.sector))
        for name, arr in (
            ("time", time),
            ("flux", flux),
            ("flux_err", err),
            ("quality", q),
            ("aperture_mask", ap),
        ):
            if arr is not None:
                arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "notes", tuple(self.notes))

    # -- views ----------------------------------------------------------------------------
    @property
    def n_cadences(self) -> int:
        return int(self.time.shape[0])

    @property
    def stamp_shape(self) -> tuple[int, int]:
        return (int(self.flux.shape[1]), int(self.flux.shape[2]))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.flux.shape)

    def valid_cadences(self, quality_bitmask: int = 0) -> np.ndarray:
        """Reference cadence mask: finite time and >= 1 finite pixel (quality only if asked)."""
        m = np.isfinite(self.time) & np.any(np.isfinite(self.flux.reshape(self.n_cadences, -1)), axis=1)
        if quality_bitmask and self.quality is not None:
            m &= (self.quality & int(quality_bitmask)) == 0
        return m

    @property
    def has_wcs(self) -> bool:
        return self.wcs is not None and hasattr(self.wcs, "world_to_pixel_values")

    def __repr__(self) -> str:
        return (
            f"TPFStamp(sector={self.sector}, shape={self.shape}, wcs={'yes' if self.has_wcs else 'no'}, "
            f"source={self.source!r})"
        )


def _check_path(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise JaxvetInputError(f"expected a TPF file path, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataFileError(f"{os.fspath(path)}: file not found")
    if p.is_dir():
        raise DataFileError(f"{os.fspath(path)}: is a directory, not a TPF file")
    return p


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
    except Exception as e:  # not a zip / corrupt
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
                except Exception as e:
                    notes.append(f"wcs unavailable: {type(e).__name__}: {e}")
            else:
                try:
                    hdr = data["wcs_header"]
                    wcs = _wcs_from_mapping(dict(hdr.item())) if hdr.dtype != object else None
                except ValueError:
                    wcs = None
                if wcs is None:
                    notes.append("wcs unavailable: pickled header not loaded (allow_pickle=True to opt in)")
    try:
        return TPFStamp(
            time=time,
            flux=flux,
            flux_err=flux_err,
            quality=quality,
            aperture_mask=aperture,
            wcs=wcs,
            sector=sector,
            ra_deg=ra_deg,
            dec_deg=dec_deg,
            source=str(p),
            notes=tuple(notes),
        )
    except JaxvetInputError as e:
        raise DataFileError(f"{p}: {e}") from None


def _read_fits(p: Path, sector, ra_deg, dec_deg) -> TPFStamp:
    from astropy.io import fits
    from astropy.wcs import WCS

    notes: list[str] = []
    try:
        hdul = fits.open(p, memmap=False)
    except Exception as e:
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
            except Exception as e:  # malformed WCS keywords
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
    try:
        return TPFStamp(
            time=time,
            flux=flux,
            flux_err=flux_err,
            quality=quality,
            aperture_mask=aperture,
            wcs=wcs,
            sector=sector,
            ra_deg=ra_deg,
            dec_deg=dec_deg,
            target=str(obj) if obj else None,
            source=str(p),
            notes=tuple(notes),
        )
    except JaxvetInputError as e:
        raise DataFileError(f"{p}: {e}") from None


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
    p = _check_path(path)
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head[:2] == b"PK":
        if sector is None:
            import re

            m = re.search(r"sector[_-]?(\d+)", p.name, flags=re.IGNORECASE)
            sector = int(m.group(1)) if m else None
        return _read_npz(p, sector, allow_pickle, ra_deg, dec_deg)
    if head[:6] == b"SIMPLE" or head[:2] == b"\x1f\x8b":
        return _read_fits(p, sector, ra_deg, dec_deg)
    raise DataFileError(f"{p}: unrecognised TPF format (expected a FITS target-pixel file or an .npz)")


# ---------------------------------------------------------------------------------------------
# host geometry helpers
# ---------------------------------------------------------------------------------------------
def stamp_target_pixel(stamp: TPFStamp, ra_deg=None, dec_deg=None) -> tuple[float, float] | None:
    """Target (row, col), 0-based, from the stamp's WCS and RA/Dec; None when unavailable."""
    ra = stamp.ra_deg if ra_deg is None else float(ra_deg)
    dec = stamp.dec_deg if dec_deg is None else float(dec_deg)
    if not stamp.has_wcs or ra is None or dec is None:
        return None
    try:
        x, y = stamp.wcs.world_to_pixel_values(ra, dec)
    except Exception:
        return None
    x, y = float(np.asarray(x)), float(np.asarray(y))
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    return (y, x)


def sky_jacobian(stamp: TPFStamp, at_rc: tuple[float, float] | None = None) -> np.ndarray | None:
    """2x2 matrix mapping (d_col, d_row) pixel offsets to (east, north) offsets in arcsec.

    Evaluated by central differences of the stamp's WCS at ``at_rc`` (default: the stamp
    centre).  None without a WCS.
    """
    if not stamp.has_wcs:
        return None
    nr, nc = stamp.stamp_shape
    r0, c0 = at_rc if at_rc is not None else ((nr - 1) / 2.0, (nc - 1) / 2.0)
    try:
        pts = np.array([[c0, r0], [c0 + 0.5, r0], [c0 - 0.5, r0], [c0, r0 + 0.5], [c0, r0 - 0.5]])
        ra, dec = stamp.wcs.pixel_to_world_values(pts[:, 0], pts[:, 1])
    except Exception:
        return None
    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    cosd = np.cos(np.deg2rad(dec[0]))

    def d_ra(a, b):
        return ((a - b + 180.0) % 360.0 - 180.0) * cosd * 3600.0

    j = np.array(
        [
            [d_ra(ra[1], ra[2]), d_ra(ra[3], ra[4])],
            [(dec[1] - dec[2]) * 3600.0, (dec[3] - dec[4]) * 3600.0],
        ]
    )
    return j if np.all(np.isfinite(j)) else None


def lc_tpf_overlap(lc: LightCurve | None, tpf_time: np.ndarray) -> tuple[dict, list[str], list[str]]:
    """The reference's LC/TPF time-overlap metrics, flags and notes (semantics §6.6 item 12)."""
    keys = (
        "lc_time_min_btjd",
        "lc_time_max_btjd",
        "tpf_time_min_btjd",
        "tpf_time_max_btjd",
        "lc_tpf_time_overlap_days",
        "lc_tpf_time_overlap_fraction_union",
        "tpf_fraction_within_lc_timerange",
    )
    lt = np.zeros(0) if lc is None else np.asarray(lc.time, float)[lc.valid]
    lt = lt[np.isfinite(lt)]
    tt = np.asarray(tpf_time, float)
    tt = tt[np.isfinite(tt)]
    if lt.size == 0 or tt.size == 0:
        return (
            dict.fromkeys(keys),
            ["LC_TPF_TIME_INVALID"],
            ["Could not compute LC/TPF time overlap (empty or non-finite time arrays)."],
        )
    lmin, lmax, tmin, tmax = float(lt.min()), float(lt.max()), float(tt.min()), float(tt.max())
    overlap = float(max(0.0, min(lmax, tmax) - max(lmin, tmin)))
    union = float(max(lmax, tmax) - min(lmin, tmin))
    frac = float(overlap / union) if union > 0 else 1.0
    within = float(np.mean((tt >= lmin) & (tt <= lmax)))
    flags, notes = [], []
    if overlap == 0.0:
        flags.append("LC_TPF_TIME_DISJOINT")
        notes.append("LC and TPF time ranges are disjoint; pixel diagnostics may be meaningless.")
    return dict(zip(keys, (lmin, lmax, tmin, tmax, overlap, frac, within), strict=True)), flags, notes


# ---------------------------------------------------------------------------------------------
# device batch
# ---------------------------------------------------------------------------------------------
def _round_up(n: int, m: int) -> int:
    return max(m, int(math.ceil(n / m)) * m)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PixelBatch:
    """K stamps padded to T cadences x P pixels (valid cadences packed first, time order).

    ``flux`` is NaN on missing pixels, padding cadences and padding pixels; ``row``/``col`` are
    the 0-based pixel coordinates of each flattened pixel (row-major); ``pix_mask`` marks real
    pixels, ``aperture`` the pipeline aperture (all False when the stamp has none).
    """

    time: jax.Array  # (K, T)
    flux: jax.Array  # (K, T, P)
    mask: jax.Array  # (K, T) bool
    n_valid: jax.Array  # (K,) int32
    row: jax.Array  # (K, P)
    col: jax.Array  # (K, P)
    pix_mask: jax.Array  # (K, P) bool
    aperture: jax.Array  # (K, P) bool
    n_rows: jax.Array  # (K,) int32
    n_cols: jax.Array  # (K,) int32

    @property
    def n_stamps(self) -> int:
        return int(self.time.shape[0])

    @property
    def n_cadences(self) -> int:
        return int(self.time.shape[1])

    @property
    def n_pixels(self) -> int:
        return int(self.flux.shape[2])


def _pack_stamps(stamps: Sequence[TPFStamp], quality_bitmask: int = 0):
    """Host packing shared by :class:`PixelBatch` and the window light-curve batch."""
    if len(stamps) == 0:
        raise JaxvetInputError("need at least one TPF stamp, got 0")
    for i, s in enumerate(stamps):
        if not isinstance(s, TPFStamp):
            raise JaxvetInputError(f"tpfs[{i}] must be a jaxvet.pixels.TPFStamp, got {type(s).__name__}")
    sel = []
    for s in stamps:
        v = np.nonzero(s.valid_cadences(quality_bitmask))[0]
        order = np.argsort(s.time[v], kind="stable")
        sel.append(v[order])
    t_pad = bucket_size(max(len(v) for v in sel), 16)
    p_pad = _round_up(max(s.stamp_shape[0] * s.stamp_shape[1] for s in stamps), 32)
    k = len(stamps)
    time = np.full((k, t_pad), PAD_TIME)
    flux = np.full((k, t_pad, p_pad), np.nan)
    mask = np.zeros((k, t_pad), bool)
    nv = np.zeros(k, np.int32)
    row = np.full((k, p_pad), -1.0)
    col = np.full((k, p_pad), -1.0)
    pm = np.zeros((k, p_pad), bool)
    ap = np.zeros((k, p_pad), bool)
    nr = np.zeros(k, np.int32)
    nc = np.zeros(k, np.int32)
    for i, (s, v) in enumerate(zip(stamps, sel, strict=True)):
        r, c = s.stamp_shape
        n = len(v)
        time[i, :n] = s.time[v]
        flux[i, :n, : r * c] = s.flux[v].reshape(n, r * c)
        mask[i, :n] = True
        nv[i] = n
        rr, cc = np.divmod(np.arange(r * c), c)
        row[i, : r * c], col[i, : r * c] = rr, cc
        pm[i, : r * c] = True
        if s.aperture_mask is not None:
            ap[i, : r * c] = s.aperture_mask.reshape(-1)
        nr[i], nc[i] = r, c
    return dict(
        time=time,
        flux=flux,
        mask=mask,
        n_valid=nv,
        row=row,
        col=col,
        pix_mask=pm,
        aperture=ap,
        n_rows=nr,
        n_cols=nc,
    )


def _window_lcb(packed) -> LightCurveBatch:
    """A LightCurveBatch whose rows are the stamps' valid cadence times (for epoch windows)."""
    lcs = []
    for i in range(packed["time"].shape[0]):
        n = int(packed["n_valid"][i])
        t = packed["time"][i, :n] if n else np.array([0.0])
        f = np.ones(len(t)) if n else np.array([np.nan])
        lcs.append(LightCurve(time=t, flux=f, flux_err=np.zeros(len(t))))
    return LightCurveBatch.from_lightcurves(lcs, n_points=packed["time"].shape[1])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PixelStats:
    """Per-stamp precomputations shared by every candidate (see :func:`pixel_stats`).

    Centroid arrays are stacked over the two axes: index 0 is x (column), 1 is y (row).
    """

    cc: jax.Array  # (K, 2, T) per-cadence centroid (x, y); 0 where invalid
    cval: jax.Array  # (K, T) bool: valid cadence with a valid centroid
    n_c: jax.Array  # (K,) int32
    csort: jax.Array  # (K, 2, T) centroids sorted over cval (+inf padding)
    cperm: jax.Array  # (K, 2, T) int32 cadence index of each sorted entry
    crank: jax.Array  # (K, 2, T) int32 rank of each cadence in csort (>= n_c when not in cval)
    cref: jax.Array  # (K, 2) shift for the centroid sums (a middle centroid)
    cs1: jax.Array  # (K, 2) sum(c - cref) over cval
    cs2: jax.Array  # (K, 2) sum((c - cref)^2)
    vs: jax.Array  # (K, P, T) pixel values sorted over valid finite cadences (+inf padding)
    rank_p: jax.Array  # (K, P, T) int32 rank of cadence t in vs[k, p]
    n_fin: jax.Array  # (K, P) int32 finite values per pixel
    sigma_pix: jax.Array  # (K, P) point-to-point robust noise per cadence
    max_flux: jax.Array  # (K,) nanmax of the valid cube


def _ranks_of(order):
    n = order.shape[-1]
    return jnp.zeros_like(order).at[order].set(jnp.arange(n, dtype=order.dtype))


@jax.jit
def pixel_stats(pb: PixelBatch) -> PixelStats:
    """Per-stamp precomputation (reference centroid definition, semantics §6.6 item 5).

    Centroid per cadence: NaN -> 0, negatives clipped to 0, the frame's raw ``nansum`` must be
    finite and > 0 and the weight sum > 0; ``x = sum(col w)/sum(w)``, ``y = sum(row w)/sum(w)``.
    ``sigma_pix`` = 1.4826 MAD of first differences / sqrt(2) over consecutive valid cadences.
    """

    def one(flux, mask, row, col, pix_mask):
        fin = jnp.isfinite(flux) & mask[:, None]
        raw = jnp.sum(jnp.where(fin, flux, 0.0), axis=1)
        w = jnp.where(fin, jnp.maximum(flux, 0.0), 0.0)
        ws = jnp.sum(w, axis=1)
        ok = mask & jnp.isfinite(raw) & (raw > 0) & (ws > 0)
        safe = jnp.where(ok, ws, 1.0)
        cx = jnp.sum(w * jnp.where(pix_mask, col, 0.0)[None, :], axis=1) / safe
        cy = jnp.sum(w * jnp.where(pix_mask, row, 0.0)[None, :], axis=1) / safe
        ok = ok & jnp.isfinite(cx) & jnp.isfinite(cy)
        cc = jnp.where(ok[None, :], jnp.stack([cx, cy]), 0.0)  # (2, T)
        n_c = jnp.sum(ok, dtype=jnp.int32)
        key = jnp.where(ok[None, :], cc, jnp.inf)
        cperm = jnp.argsort(key, axis=1, stable=True).astype(jnp.int32)
        csort = jnp.take_along_axis(key, cperm, axis=1)
        cref = jnp.where(n_c > 0, csort[:, jnp.maximum(n_c - 1, 0) // 2], 0.0)
        dref = jnp.where(ok[None, :], cc - cref[:, None], 0.0)
        # pixel time series
        fv = jnp.where(fin, flux, jnp.inf).T  # (P, T)
        order = jnp.argsort(fv, axis=1, stable=True).astype(jnp.int32)
        vs = jnp.take_along_axis(fv, order, axis=1)
        n_fin = jnp.sum(fin, axis=0, dtype=jnp.int32)
        # point-to-point noise
        d = (flux[1:] - flux[:-1]).T  # (P, T-1)
        dm = (fin[1:] & fin[:-1]).T
        nd = jnp.sum(dm, axis=1, dtype=jnp.int32)
        med = _median_sorted_rows(jnp.sort(jnp.where(dm, d, jnp.inf), axis=1), nd)
        dev = jnp.sort(jnp.where(dm, jnp.abs(d - med[:, None]), jnp.inf), axis=1)
        sig = 1.4826 * _median_sorted_rows(dev, nd) / jnp.sqrt(2.0)
        return dict(
            cc=cc,
            cval=ok,
            n_c=n_c,
            csort=csort,
            cperm=cperm,
            crank=jax.vmap(_ranks_of)(cperm),
            cref=cref,
            cs1=jnp.sum(dref, axis=1),
            cs2=jnp.sum(dref * dref, axis=1),
            vs=vs,
            rank_p=jax.vmap(_ranks_of)(order),
            n_fin=n_fin,
            sigma_pix=jnp.where(nd >= 2, sig, jnp.nan),
            max_flux=jnp.max(jnp.where(fin, flux, -jnp.inf)),
        )

    out = jax.vmap(one)(pb.flux, pb.mask, pb.row, pb.col, pb.pix_mask)
    return PixelStats(**out)


def _median_sorted_rows(s, n):
    lo = jnp.take_along_axis(s, jnp.clip((n - 1) // 2, 0, s.shape[-1] - 1)[..., None], axis=-1)[..., 0]
    hi = jnp.take_along_axis(s, jnp.clip(n // 2, 0, s.shape[-1] - 1)[..., None], axis=-1)[..., 0]
    return jnp.where(n > 0, 0.5 * (lo + hi), jnp.nan)


# ---------------------------------------------------------------------------------------------
# order statistics of "sorted array minus a few removed ranks"
# ---------------------------------------------------------------------------------------------
def exclusion_g(ranks, mask):
    """Sorted removed ranks minus their position: ``g_i = R_(i) - i`` (padding = large).

    With ``g``, the r-th remaining element (0-based) of the sorted array sits at position
    ``r + #{i: g_i <= r}`` (:func:`kth_remaining`).  ``ranks`` must be distinct where ``mask``.
    Sorts along the last axis; returns ``(g, m)`` with ``m`` the number of removed ranks.
    """
    r = jnp.sort(jnp.where(mask, ranks, _BIG).astype(jnp.int32), axis=-1)
    g = r - jnp.arange(r.shape[-1], dtype=jnp.int32)
    g = jnp.where(r >= _BIG, _BIG, g)
    return g, jnp.sum(mask, axis=-1, dtype=jnp.int32)


def kth_remaining(g, r):
    """Position of the r-th remaining element: ``r + #{i: g_i <= r}``.

    ``g`` is (..., M) and ``r`` (...,) (one query per row, counted by comparison: cheap for the
    few queries of a binary search).  For many queries against one row use
    :func:`kth_remaining_many`.
    """
    return r + jnp.sum(g <= r[..., None], axis=-1, dtype=jnp.int32)


def kth_remaining_many(g, r):
    """As :func:`kth_remaining` for a 1-D ``g`` and many queries ``r`` (binary search)."""
    return r + jnp.searchsorted(g, r, side="right", method="scan").astype(jnp.int32)


def kth_remaining_count(excl_ranks, excl_mask, k, n_total):
    """Position of the k-th remaining element by bisection, counting removed ranks directly.

    For many independent rows (e.g. one per pixel) where sorting each row's removed ranks would
    cost more than counting: the answer lies in ``[k, k + M]``; ``ceil(log2(M + 1)) + 1`` probes,
    each counting ``#{removed ranks <= p}`` over the (unsorted) removed set.
    ``excl_ranks``/``excl_mask`` are (..., M); ``k`` and ``n_total`` broadcast to (...).
    Returns positions (clipped to ``n_total - 1``).
    """
    m = excl_ranks.shape[-1]
    lo = k.astype(jnp.int32)
    hi = jnp.minimum(k + m, jnp.maximum(n_total - 1, 0)).astype(jnp.int32)
    hi = jnp.maximum(hi, lo)
    n_iter = max(1, int(math.ceil(math.log2(m + 1))) + 1)

    def body(_, carry):
        lo, hi = carry
        mid = (lo + hi) // 2
        removed = jnp.sum(excl_mask & (excl_ranks <= mid[..., None]), axis=-1, dtype=jnp.int32)
        ok = (mid + 1 - removed) >= (k + 1)
        return jnp.where(ok, lo, mid + 1), jnp.where(ok, mid, hi)

    lo, hi = jax.lax.fori_loop(0, n_iter, body, (lo, hi))
    return jnp.minimum(lo, jnp.maximum(n_total - 1, 0))


def kth_distance(value_at, lo0, n, center, q, n_bits: int):
    """q-th smallest ``|x - center|`` (0-based, numpy float semantics) over ``n`` sorted values.

    Vectorised over lanes: every argument may be an array of the same shape (L,).
    ``value_at(r)`` returns, per lane, the value at remaining-rank ``r`` (ascending); the lane's
    set is the contiguous range ``[lo0, lo0 + n)``.  Binary search for the start ``L`` of the
    window of the ``q + 1`` values nearest ``center`` (the "k closest elements" search on a
    sorted array); the answer is ``max(center - x_L, x_{L+q} - center)``.  NaN when ``q >= n``.
    """
    lo = lo0
    hi = lo0 + jnp.maximum(n - q - 1, 0)
    top = lo0 + jnp.maximum(n - 1, 0)

    def body(_, carry):
        lo, hi = carry
        active = lo < hi
        mid = (lo + hi) // 2
        a = value_at(mid)
        b = value_at(jnp.minimum(mid + q + 1, top))
        right = (center - a) > (b - center)
        return jnp.where(active & right, mid + 1, lo), jnp.where(active & ~right, mid, hi)

    lo, _ = jax.lax.fori_loop(0, n_bits, body, (lo, hi))
    d = jnp.maximum(center - value_at(lo), value_at(jnp.minimum(lo + q, top)) - center)
    return jnp.where(q < n, d, jnp.nan)


def compact(mask, width: int):
    """Indices of the first ``width`` True entries along the last axis, in order, and their mask.

    O(S) by a cumulative sum and a scatter (no sort): entry ``j`` of the result is the index of
    the ``j``-th True entry; slots beyond the number of True entries hold 0 with mask False.
    """
    s = mask.shape[-1]
    pos = jnp.cumsum(mask, axis=-1, dtype=jnp.int32) - 1
    tgt = jnp.where(mask & (pos < width), pos, width)
    src = jnp.broadcast_to(jnp.arange(s, dtype=jnp.int32), mask.shape)

    def one(t, v):
        return jnp.zeros(width + 1, jnp.int32).at[t].set(v)[:width]

    flat_t = tgt.reshape(-1, s)
    flat_v = src.reshape(-1, s)
    out = jax.vmap(one)(flat_t, flat_v).reshape(mask.shape[:-1] + (width,))
    n = jnp.sum(mask, axis=-1, dtype=jnp.int32)
    valid = jnp.arange(width, dtype=jnp.int32) < n[..., None]
    return jnp.where(valid, out, 0), valid


def lower_bound(pred, lo, hi, n_bits: int):
    """Vectorised binary search: first r in [lo, hi) with ``pred(r)`` False (pred True on a prefix)."""

    def body(_, c):
        lo, hi = c
        active = lo < hi
        mid = (lo + hi) // 2
        t = pred(mid)
        return jnp.where(active & t, mid + 1, lo), jnp.where(active & ~t, mid, hi)

    lo, _ = jax.lax.fori_loop(0, n_bits, body, (lo, hi))
    return lo


# ---------------------------------------------------------------------------------------------
# prepared stamps (cached per stamp), per-stamp candidate batches, keys, chunking
# ---------------------------------------------------------------------------------------------
@dataclass
class StampPrep:
    """One stamp on the device: a 1-row :class:`PixelBatch`, its window light-curve batch and
    :class:`PixelStats`.  Kernels run stamp by stamp, so compiled programs depend only on the
    stamp's bucketed (T, P), never on how many stamps a run has."""

    stamp: TPFStamp
    pb: PixelBatch
    lcb: LightCurveBatch
    stats: PixelStats
    n_cadences_total: int
    n_dropped: int
    tail_estimate: int = 0  # largest one-sided 3-MAD centroid outlier count over the stamp


def _tail_estimate(stats: PixelStats) -> int:
    """Largest one-sided count of 3 x 1.4826 MAD centroid outliers over the whole stamp (host)."""
    cv = np.asarray(stats.cval[0])
    worst = 0
    for ax in range(2):
        x = np.asarray(stats.cc[0, ax])[cv]
        if x.size < 5:
            continue
        m = np.median(x)
        mad = 1.4826 * np.median(np.abs(x - m)) or np.std(x)
        worst = max(worst, int(np.sum(m - x > 3 * mad)), int(np.sum(x - m > 3 * mad)))
    return worst


@dataclass
class Prepared:
    """The prepared stamps of a run, in ``ctx.tpfs`` order, with their PRNG tags."""

    preps: list
    tags: np.ndarray

    @property
    def stamps(self) -> list:
        return [p.stamp for p in self.preps]

    @property
    def n_cadences_total(self) -> np.ndarray:
        return np.array([p.n_cadences_total for p in self.preps], np.int64)

    @property
    def n_dropped(self) -> np.ndarray:
        return np.array([p.n_dropped for p in self.preps], np.int64)


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()  # V08, V09 and V25 of one chunk may run in threads


def prepare_stamp(stamp: TPFStamp, quality_bitmask: int = 0) -> StampPrep:
    """Device arrays and per-stamp statistics for one stamp (cached per stamp identity)."""
    if not isinstance(stamp, TPFStamp):
        raise JaxvetInputError(f"expected a jaxvet.pixels.TPFStamp, got {type(stamp).__name__}")
    key = (id(stamp), int(quality_bitmask))
    with _CACHE_LOCK:
        return _prepare_stamp_locked(stamp, quality_bitmask, key)


def _prepare_stamp_locked(stamp: TPFStamp, quality_bitmask: int, key) -> StampPrep:
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is stamp:
        return hit[1]
    packed = _pack_stamps([stamp], quality_bitmask)
    pb = PixelBatch(**{k: jnp.asarray(v) for k, v in packed.items()})
    stats = pixel_stats(pb)
    sp = StampPrep(
        stamp=stamp,
        pb=pb,
        lcb=_window_lcb(packed),
        stats=stats,
        n_cadences_total=stamp.n_cadences,
        n_dropped=stamp.n_cadences - int(packed["n_valid"][0]),
        tail_estimate=_tail_estimate(stats),
    )
    while len(_CACHE) >= 8:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (weakref.ref(stamp), sp)
    return sp


def prepared(stamps: Sequence[TPFStamp], quality_bitmask: int = 0) -> Prepared:
    """:func:`prepare_stamp` for every stamp of a run."""
    stamps = list(stamps)
    if not stamps:
        raise JaxvetInputError("need at least one TPF stamp, got 0")
    for i, s in enumerate(stamps):
        if not isinstance(s, TPFStamp):
            raise JaxvetInputError(f"tpfs[{i}] must be a jaxvet.pixels.TPFStamp, got {type(s).__name__}")
    return Prepared(preps=[prepare_stamp(s, quality_bitmask) for s in stamps], tags=stamp_tags(stamps))


def stamp_tags(stamps: Sequence[TPFStamp]) -> np.ndarray:
    """PRNG tag per stamp: its sector, or ``100000 + position`` when the sector is unknown."""
    return np.array(
        [s.sector if s.sector is not None else 100000 + i for i, s in enumerate(stamps)], np.int64
    )


def stamp_candidates(cb: CandidateBatch, n: int) -> CandidateBatch:
    """The first ``n`` candidates of ``cb`` against a one-row stamp batch, padded to a bucket."""
    sub = cb.take(jnp.arange(n))
    sub = dataclasses.replace(sub, lc_index=jnp.zeros(n, jnp.int32))
    return sub.pad(bucket_size(n, 4))


def pair_keys(seed: int, check_tag: int, cand: np.ndarray, tag: int):
    """``fold_in(fold_in(fold_in(PRNGKey(seed), check_tag), candidate), stamp_tag)`` per candidate."""
    base = jax.random.fold_in(jax.random.PRNGKey(int(seed)), int(check_tag))
    cand = jnp.asarray(cand, jnp.uint32)
    return jax.vmap(lambda c: jax.random.fold_in(jax.random.fold_in(base, c), jnp.uint32(tag)))(cand)


def chunk_size_for(per_pair_elements: int, budget: int = 2**24, cap: int = 256) -> int:
    """Candidates per device call so that one intermediate stays below ``budget`` elements."""
    c = max(1, budget // max(int(per_pair_elements), 1))
    return int(min(cap, 1 << (c.bit_length() - 1)))


def run_chunked(fn, arrays: dict, n: int, chunk: int) -> dict:
    """Apply ``fn(dict of (chunk, ...) arrays) -> dict`` over rows in fixed-size chunks.

    The last chunk is padded by repeating row 0, so every call has the same shape (one compile).
    """
    outs: list[dict] = []
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        idx = np.arange(lo, lo + chunk)
        idx = jnp.asarray(np.where(idx < hi, idx, 0))
        sub = {k: v[idx] for k, v in arrays.items()}
        res = fn(sub)
        outs.append({k: np.asarray(v)[: hi - lo] for k, v in res.items()})
    return {k: np.concatenate([o[k] for o in outs], axis=0) for k in outs[0]} if outs else {}


def stack_stamps(per_stamp: list[dict]) -> dict:
    """Per-stamp result dicts of (B, ...) arrays -> (B, K, ...) arrays."""
    return {k: np.stack([r[k] for r in per_stamp], axis=1) for k in per_stamp[0]}


__all__ += [
    "StampPrep",
    "prepare_stamp",
    "stamp_tags",
    "stamp_candidates",
    "pair_keys",
    "chunk_size_for",
    "run_chunked",
    "stack_stamps",
]


def per_stamp_results(
    ctx, arrays: dict, prep: Prepared, opts: dict, sector_result, check_id: str, name: str, what: str
) -> list:
    """One :class:`CheckResult` per candidate for a per-stamp pixel check (V08, V09).

    ``sector_result(ctx, arrays, i, s, prep, opts)`` formats candidate ``i`` on stamp ``s``; the
    first stamp's result is reported and, with several stamps, every stamp's result goes into
    ``raw["per_sector"]``.  Without stamps every candidate is ``skipped`` (``NO_TPF``); ``what``
    names the analysis in that note.
    """
    b = ctx.n_candidates
    if not ctx.tpfs:
        return [
            skipped_result(check_id, name, "NO_TPF", notes=[f"TPF data not provided; cannot perform {what}"])
            for _ in range(b)
        ]
    out: list[CheckResult] = []
    for i in range(b):
        per = [sector_result(ctx, arrays, i, s, prep, opts) for s in range(len(prep.stamps))]
        main = per[0]
        if len(per) > 1:
            main.raw = dict(main.raw or {})
            main.raw["per_sector"] = [
                {"sector": p.metrics.get("sector"), **p.to_dict(include_raw=False)} for p in per
            ]
            main.notes.append(
                f"{len(per)} TPF stamps: reporting the first (sector {main.metrics.get('sector')}); "
                "every stamp's result is in raw['per_sector']"
            )
        out.append(main)
    return out
