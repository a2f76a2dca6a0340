"""Synthetic TESS-like target-pixel stamps with known truth (numpy, host side, seeded).

:func:`simulate_tpf` renders stars on a pixel grid with a pixel-integrated PRF (a Gaussian, or a
"TESS-like" core + halo double Gaussian; the integral of a Gaussian over a pixel is a difference
of error functions), adds a background, pointing jitter/drift, shot + read noise, and injects

* a transit on the target (symmetric trapezoid, :func:`jaxvet.core.models.trapezoid_profile`), or
* an eclipsing binary on a neighbour (the same shape on the neighbour's flux, typically deep).

Stars are placed by sky offsets from the target (arcsec, east/north); ``rotation_deg`` turns the
detector relative to the sky, so two sectors of the same field can have different pixel
orientations, as real TESS sectors do.  A TAN WCS (21"/px) consistent with the placement is
attached, with the target's RA/Dec, so WCS-based code paths can be tested.  The truth (pixel
positions of every star, which star varies) is in ``stamp.meta["truth"]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jaxvet.core.models import trapezoid_profile
from jaxvet.errors import JaxvetInputError
from jaxvet.stamps import TESS_PIXEL_SCALE_ARCSEC, TPFStamp

__all__ = ["Star", "simulate_tpf", "pixel_integrated_gaussian"]


@dataclass(frozen=True)
class Star:
    """A star at a sky offset from the target (arcsec east, arcsec north) with a flux (e-/s)."""

    east_arcsec: float
    north_arcsec: float
    flux: float


def _erf(x):
    from math import erf

    return np.vectorize(erf, otypes=[float])(x)


def pixel_integrated_gaussian(n_rows, n_cols, row, col, sigma):
    """Unit-flux circular Gaussian at (row, col) integrated over each pixel (pixel i spans i±0.5)."""
    r = np.arange(n_rows, dtype=float)
    c = np.arange(n_cols, dtype=float)
    s = sigma * math.sqrt(2.0)
    fr = 0.5 * (_erf((r + 0.5 - row) / s) - _erf((r - 0.5 - row) / s))
    fc = 0.5 * (_erf((c + 0.5 - col) / s) - _erf((c - 0.5 - col) / s))
    return np.outer(fr, fc)


def _prf(kind: str, n_rows, n_cols, row, col, sigma):
    if kind == "gaussian":
        return pixel_integrated_gaussian(n_rows, n_cols, row, col, sigma)
    if kind == "tess":
        # core + halo: ~80% of the light in a sigma core, ~20% in a 2.5 sigma halo
        return 0.8 * pixel_integrated_gaussian(
            n_rows, n_cols, row, col, sigma
        ) + 0.2 * pixel_integrated_gaussian(n_rows, n_cols, row, col, 2.5 * sigma)
    raise JaxvetInputError(f"prf must be 'gaussian' or 'tess', got {kind!r}")


def _tan_wcs(ra, dec, crpix_rc, rotation_deg):
    from astropy.wcs import WCS

    th = math.radians(rotation_deg)
    scale = TESS_PIXEL_SCALE_ARCSEC / 3600.0
    # pixel offsets (d_col, d_row) -> (east, north) in degrees: east = -dRA*cos(dec) convention
    # handled by CDELT1 < 0 (RA increases to the east = left on the sky image)
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [crpix_rc[1] + 1.0, crpix_rc[0] + 1.0]
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    w.wcs.cd = np.diag([-scale, scale]) @ rot
    return w


def _render(stars, pos, lcs, dr, dc, shape, prf: str, prf_sigma: float, background: float) -> np.ndarray:
    """Noise-free (T, rows, cols) cube: every star's PRF at its pixel position ``pos`` moved by
    the pointing offsets ``dr``/``dc`` (T,), scaled by its flux and light curve ``lcs`` (S, T).
    PRFs are evaluated once per 0.01-pixel offset bin (speed)."""
    n_rows, n_cols = shape
    model = np.full((lcs.shape[1], n_rows, n_cols), background)
    q = 0.01
    keys = np.round(np.stack([dr, dc], 1) / q).astype(int)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for j, (kr, kc) in enumerate(uniq):
        sel = inv == j
        for s, (r0, c0), lc in zip(stars, pos, lcs, strict=True):
            img = _prf(prf, n_rows, n_cols, r0 + kr * q, c0 + kc * q, prf_sigma)
            model[sel] += s.flux * lc[sel, None, None] * img[None]
    return model


def simulate_tpf(
    seed: int = 0,
    *,
    n_rows: int = 11,
    n_cols: int = 11,
    time=None,
    t_start: float = 2000.0,
    n_cadences: int = 3600,
    cadence_min: float = 10.0,
    target_flux: float = 20000.0,
    target_offset_px: tuple[float, float] = (0.2, -0.1),
    neighbours: Sequence[Star] = (),
    prf: str = "gaussian",
    prf_sigma: float = 0.9,
    background: float = 50.0,
    subtract_background: bool = True,
    read_noise: float = 10.0,
    jitter_px: float = 0.0,
    drift_px: float = 0.0,
    rotation_deg: float = 0.0,
    period_days: float | None = None,
    t0_btjd: float | None = None,
    duration_hours: float = 3.0,
    depth_ppm: float = 0.0,
    eb_star: int | None = None,
    eb_depth: float = 0.0,
    tflat_ratio: float = 0.7,
    ra_deg: float = 120.0,
    dec_deg: float = -30.0,
    sector: int | None = 1,
    aperture_radius_px: float | None = 1.6,
) -> TPFStamp:
    """A seeded synthetic stamp (see the module docstring).

    ``depth_ppm`` > 0 puts a transit (fractional depth of the target's flux) on the target;
    ``eb_star = i`` with ``eb_depth`` (fraction of that neighbour's flux, e.g. 0.3) puts the
    eclipses on ``neighbours[i]`` instead.  Both use ``period_days``/``t0_btjd``/``duration_hours``.
    ``jitter_px`` is white pointing noise per cadence, ``drift_px`` a linear drift over the stamp.
    ``subtract_background`` (default) removes the sky level from FLUX as SPOC does (a uniform
    background left in FLUX shifts flux-weighted centroids whenever the target dims).
    The target sits at the stamp centre plus ``target_offset_px`` (row, col).
    """
    rng = np.random.default_rng(seed)
    if time is None:
        time = t_start + np.arange(int(n_cadences)) * (cadence_min / 1440.0)
    time = np.asarray(time, dtype=float)
    n = time.shape[0]
    if (depth_ppm or eb_star is not None) and (period_days is None or t0_btjd is None):
        raise JaxvetInputError("period_days and t0_btjd are required to inject a transit or an eclipse")
    if eb_star is not None and not (0 <= eb_star < len(neighbours)):
        raise JaxvetInputError(f"eb_star={eb_star} but there are {len(neighbours)} neighbours")
    centre = ((n_rows - 1) / 2.0 + target_offset_px[0], (n_cols - 1) / 2.0 + target_offset_px[1])
    wcs = _tan_wcs(ra_deg, dec_deg, centre, rotation_deg)
    # star pixel positions from sky offsets via the WCS (exact for the TAN projection)
    stars = [Star(0.0, 0.0, float(target_flux)), *neighbours]
    pos = []
    cosd = math.cos(math.radians(dec_deg))
    for s in stars:
        ra = ra_deg + (s.east_arcsec / 3600.0) / cosd
        dec = dec_deg + s.north_arcsec / 3600.0
        x, y = wcs.world_to_pixel_values(ra, dec)
        pos.append((float(y), float(x)))
    # pointing: jitter + drift (common to all stars)
    tt = (time - time[0]) / max(time[-1] - time[0], 1e-9)
    dr = drift_px * (tt - 0.5) + jitter_px * rng.standard_normal(n)
    dc = 0.7 * drift_px * (tt - 0.5) + jitter_px * rng.standard_normal(n)
    # light curves of the stars
    lcs = np.ones((len(stars), n))
    if depth_ppm and period_days is not None:
        dt = (time - t0_btjd + 0.5 * period_days) % period_days - 0.5 * period_days
        lcs[0] -= depth_ppm * 1e-6 * np.asarray(trapezoid_profile(dt, duration_hours / 24.0, tflat_ratio))
    if eb_star is not None:
        dt = (time - t0_btjd + 0.5 * period_days) % period_days - 0.5 * period_days
        lcs[1 + eb_star] -= eb_depth * np.asarray(trapezoid_profile(dt, duration_hours / 24.0, tflat_ratio))
    model = _render(stars, pos, lcs, dr, dc, (n_rows, n_cols), prf, prf_sigma, float(background))
    exp_s = cadence_min * 60.0
    sigma = np.sqrt(np.maximum(model, 0.0) * exp_s + read_noise**2) / exp_s
    flux = model + sigma * rng.standard_normal(model.shape)
    if subtract_background:  # SPOC TPF FLUX is background-subtracted (the noise stays)
        flux = flux - float(background)
    rr, cc = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    aperture = None
    if aperture_radius_px:
        aperture = (rr - pos[0][0]) ** 2 + (cc - pos[0][1]) ** 2 <= aperture_radius_px**2
    truth = {
        "star_rc": [list(p) for p in pos],
        "star_flux": [s.flux for s in stars],
        "target_rc": list(pos[0]),
        "variable": "target" if depth_ppm else (f"neighbour{eb_star}" if eb_star is not None else None),
        "variable_rc": list(pos[0])
        if depth_ppm
        else (list(pos[1 + eb_star]) if eb_star is not None else None),
        "period_days": period_days,
        "t0_btjd": t0_btjd,
        "duration_hours": duration_hours,
        "depth_ppm": depth_ppm,
        "eb_depth": eb_depth,
        "rotation_deg": rotation_deg,
    }
    return TPFStamp(
        time=time,
        flux=flux,
        flux_err=sigma,
        quality=np.zeros(n, np.int32),
        aperture_mask=aperture,
        wcs=wcs,
        sector=sector,
        ra_deg=ra_deg,
        dec_deg=dec_deg,
        target="synthetic",
        source=f"simulate_tpf(seed={seed})",
        meta={"truth": truth},
    )
