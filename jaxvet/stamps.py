"""Target-pixel stamps on the host and their preparation for the pixel checks (V08, V09, V10,
V20, V25).

:class:`TPFStamp` holds one sector's target-pixel cube (cadences x rows x cols, float64), with
optional ``flux_err``, ``quality``, the pipeline ``aperture_mask``, an astropy WCS and the
target's RA/Dec (readers: :func:`jaxvet.io.pixels.read_tpf`).

:func:`prepare_stamp` packs one stamp into a one-row :class:`~jaxvet.core.pixels.PixelBatch`
(the valid cadences -- finite time and at least one finite pixel, the reference's cadence mask
with TPF quality ignored -- packed first in time order and padded to a bucketed ``T``; pixels
flattened row-major to a padded ``P``) and computes its
:func:`~jaxvet.core.pixels.pixel_stats`, once per stamp and quality bitmask: the result is kept
on the (immutable) stamp, :meth:`TPFStamp.product`, so every check and every
:func:`jaxvet.vet` call on the stamp shares the device arrays.  :func:`prepared` gathers a
run's stamps (kept in the run's cache, :meth:`jaxvet.engine.context.VetContext.cached`).
Host geometry helpers place the target on the stamp (:func:`stamp_target_pixel`)
and map pixel offsets to the sky (:func:`sky_jacobian`).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.pixels import (
    SATURATED,
    TOO_FEW_IN_TRANSIT,
    TOO_FEW_TRANSITS,
    PixelBatch,
    PixelStats,
    pixel_medians,
    pixel_stats,
    saturated_pixel_count,
)
from jaxvet.data import BJD_OFFSET, PAD_TIME, LightCurve, LightCurveBatch, bucket_size
from jaxvet.errors import JaxvetInputError
from jaxvet.results import SKIPPED, VERDICT_NONE, CheckResult, skipped_result

__all__ = [
    "TESS_PIXEL_SCALE_ARCSEC",
    "TPFStamp",
    "StampPrep",
    "Prepared",
    "prepare_stamp",
    "prepared",
    "stamp_tags",
    "pair_keys",
    "window_batch",
    "slot_stamps",
    "slot_tags",
    "per_stamp_results",
    "format_per_stamp",
    "lc_tpf_overlap",
    "stamp_target_pixel",
    "sky_jacobian",
    "sky_jacobian_grid",
]

#: TESS pixel scale (arcsec per pixel), as in the reference.
TESS_PIXEL_SCALE_ARCSEC = 21.0
#: jaxvet's pixel saturation guard (e-/s): a pixel whose *median* flux reaches this is treated as
#: saturated.  A TESS pixel holds ~2e5 e- (full well) per 2-s exposure (Vanderspek et al. 2018,
#: TESS Instrument Handbook), i.e. ~1.0e5 e-/s in calibrated flux; the saturated cores of the
#: pi Men stamp (Tmag 5.1) sit on flat bleed columns at 1.01-1.05e5 e-/s.  0.8 of that level
#: allows for the CCD-to-CCD spread of the full well.
SATURATION_FLUX = 8.0e4

#: the pixel kernels' per-pair element estimate counts one (bootstrap x cadence) intermediate of
#: several: their chunks hold 4x the engine budget (2^24 elements on a CPU, the chunking the
#: pixel checks have always used)
PAIR_BUDGET_SCALE = 4.0


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

    A stamp is immutable, so what is derived from its data alone is computed once per stamp
    and kept on it (:meth:`product`): the prepared device arrays and pixel statistics of
    :func:`prepare_stamp`, keyed by the quality bitmask they depend on, are shared by every
    check and every :func:`jaxvet.vet` call that uses the stamp, and freed with it.  Copies and
    pickles start without them.
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
    #: products derived from the stamp's data (:meth:`product`), by key
    _products: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: Any = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

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

    # -- derived products ------------------------------------------------------------------
    def product(self, key: tuple, make: Callable[[], Any]) -> Any:
        """The product stored under ``key`` (a tuple naming it and every option it depends
        on), computed with ``make()`` the first time; concurrent callers wait for one ``make``."""
        with self._lock:
            if key not in self._products:
                self._products[key] = make()
            return self._products[key]

    def has_product(self, key: tuple) -> bool:
        """Whether :meth:`product` holds ``key`` already."""
        with self._lock:
            return key in self._products

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_products"], state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "_products", {})
        object.__setattr__(self, "_lock", threading.Lock())

    @property
    def has_wcs(self) -> bool:
        return self.wcs is not None and hasattr(self.wcs, "world_to_pixel_values")

    def __repr__(self) -> str:
        return (
            f"TPFStamp(sector={self.sector}, shape={self.shape}, wcs={'yes' if self.has_wcs else 'no'}, "
            f"source={self.source!r})"
        )


# ---------------------------------------------------------------------------------------------
# host geometry helpers
# ---------------------------------------------------------------------------------------------
@functools.cache
def _wcs_errors() -> tuple[type[BaseException], ...]:
    """What an astropy WCS transform raises for a point it cannot map (ValueError covers WcsError)."""
    from astropy.wcs import NoConvergence

    return (ValueError, ArithmeticError, NoConvergence)


def stamp_target_pixel(stamp: TPFStamp, ra_deg=None, dec_deg=None) -> tuple[float, float] | None:
    """Target (row, col), 0-based, from the stamp's WCS and RA/Dec; None when unavailable."""
    ra = stamp.ra_deg if ra_deg is None else float(ra_deg)
    dec = stamp.dec_deg if dec_deg is None else float(dec_deg)
    if not stamp.has_wcs or ra is None or dec is None:
        return None
    try:
        x, y = stamp.wcs.world_to_pixel_values(ra, dec)
    except _wcs_errors():
        return None
    x, y = float(np.asarray(x)), float(np.asarray(y))
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    return (y, x)


def _jacobians(stamp: TPFStamp, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """(N, 2, 2) central-difference Jacobians of the stamp's WCS at pixel positions (rows, cols)."""
    r0, c0 = np.asarray(rows, float), np.asarray(cols, float)
    h = np.full_like(c0, 0.5)
    xs = np.stack([c0, c0 + h, c0 - h, c0, c0], axis=1).reshape(-1)
    ys = np.stack([r0, r0, r0, r0 + h, r0 - h], axis=1).reshape(-1)
    try:
        ra, dec = stamp.wcs.pixel_to_world_values(xs, ys)
    except _wcs_errors():
        return None
    ra = np.asarray(ra, float).reshape(-1, 5)
    dec = np.asarray(dec, float).reshape(-1, 5)
    cosd = np.cos(np.deg2rad(dec[:, 0]))

    def d_ra(a, b):
        return ((a - b + 180.0) % 360.0 - 180.0) * cosd * 3600.0

    return np.stack(
        [
            np.stack([d_ra(ra[:, 1], ra[:, 2]), d_ra(ra[:, 3], ra[:, 4])], axis=-1),
            np.stack([(dec[:, 1] - dec[:, 2]) * 3600.0, (dec[:, 3] - dec[:, 4]) * 3600.0], axis=-1),
        ],
        axis=-2,
    )


def sky_jacobian(stamp: TPFStamp, at_rc: tuple[float, float] | None = None) -> np.ndarray | None:
    """2x2 matrix mapping (d_col, d_row) pixel offsets to (east, north) offsets in arcsec.

    Evaluated by central differences of the stamp's WCS at ``at_rc`` (default: the stamp
    centre).  None without a WCS.
    """
    if not stamp.has_wcs:
        return None
    nr, nc = stamp.stamp_shape
    r0, c0 = at_rc if at_rc is not None else ((nr - 1) / 2.0, (nc - 1) / 2.0)
    j = _jacobians(stamp, np.array([r0]), np.array([c0]))
    return j[0] if j is not None and np.all(np.isfinite(j)) else None


def sky_jacobian_grid(stamp: TPFStamp) -> np.ndarray | None:
    """:func:`sky_jacobian` at every pixel centre: (rows, cols, 2, 2), one vectorised WCS call;
    None without a WCS or where the WCS cannot map a pixel."""
    if not stamp.has_wcs:
        return None
    nr, nc = stamp.stamp_shape
    rr, cc = np.meshgrid(np.arange(nr, dtype=float), np.arange(nc, dtype=float), indexing="ij")
    j = _jacobians(stamp, rr.reshape(-1), cc.reshape(-1))
    return j.reshape(nr, nc, 2, 2) if j is not None and np.all(np.isfinite(j)) else None


def lc_tpf_overlap(lc: LightCurve | None, tpf_time: np.ndarray) -> tuple[dict, list[str], list[str]]:
    """The reference's LC/TPF time-overlap metrics, flags and notes (seven metrics, None when a
    time array is empty; flag ``LC_TPF_TIME_DISJOINT`` when the ranges do not meet)."""
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


def window_batch(times: Sequence[np.ndarray], n_points: int) -> LightCurveBatch:
    """A LightCurveBatch whose rows are stamps' valid cadence times (for epoch windows)."""
    lcs = []
    for t in times:
        n = len(t)
        t = t if n else np.array([0.0])
        f = np.ones(len(t)) if n else np.array([np.nan])
        lcs.append(LightCurve(time=t, flux=f, flux_err=np.zeros(len(t))))
    return LightCurveBatch.from_lightcurves(lcs, n_points=n_points)


def _window_lcb(packed) -> LightCurveBatch:
    """:func:`window_batch` of packed stamps."""
    nv = packed["n_valid"]
    return window_batch([packed["time"][i, : int(nv[i])] for i in range(len(nv))], packed["time"].shape[1])


# ---------------------------------------------------------------------------------------------
# prepared stamps (once per stamp), per-stamp candidate batches, keys
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
    max_flux: float = float("nan")  # nanmax of the valid cube (host copy, for the saturation test)
    pixel_median: jax.Array | None = None  # (1, P) median flux per pixel (jaxvet's saturation guard)
    window_time: np.ndarray | None = None  # (n_valid,) host copy of the packed valid cadence times


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


def _dispatch_stamp(stamp: TPFStamp, quality_bitmask: int):
    """Pack one stamp and dispatch its statistics (nothing waited for)."""
    if not isinstance(stamp, TPFStamp):
        raise JaxvetInputError(f"expected a jaxvet.stamps.TPFStamp, got {type(stamp).__name__}")
    packed = _pack_stamps([stamp], quality_bitmask)
    pb = PixelBatch(**{k: jnp.asarray(v) for k, v in packed.items()})
    stats = pixel_stats(pb)
    return stamp, packed, pb, stats, pixel_medians(stats.vs, stats.n_fin, pb.pix_mask)


def _finish_stamp(stamp, packed, pb, stats, pixel_median) -> StampPrep:
    """The host planning numbers of a dispatched stamp (waits for its statistics)."""
    n_valid = int(packed["n_valid"][0])
    return StampPrep(
        stamp=stamp,
        pb=pb,
        lcb=_window_lcb(packed),
        stats=stats,
        n_cadences_total=stamp.n_cadences,
        n_dropped=stamp.n_cadences - n_valid,
        tail_estimate=_tail_estimate(stats),
        max_flux=float(np.asarray(stats.max_flux)[0]) if n_valid else float("nan"),
        pixel_median=pixel_median,
        window_time=packed["time"][0, :n_valid],
    )


#: key of the prepared stamp in :meth:`TPFStamp.product` (with the quality bitmask)
PREPARED_KEY = "prepared"


def prepare_stamp(stamp: TPFStamp, quality_bitmask: int = 0) -> StampPrep:
    """Device arrays and per-stamp statistics for one stamp (host planning numbers included).

    Computed once per stamp and quality bitmask and kept on the stamp (:meth:`TPFStamp.product`),
    so every check and every run that uses the stamp shares them.
    """
    if not isinstance(stamp, TPFStamp):
        raise JaxvetInputError(f"expected a jaxvet.stamps.TPFStamp, got {type(stamp).__name__}")
    qb = int(quality_bitmask)
    return stamp.product((PREPARED_KEY, qb), lambda: _finish_stamp(*_dispatch_stamp(stamp, qb)))


def prepared(stamps: Sequence[TPFStamp], quality_bitmask: int = 0, *, ctx=None) -> Prepared:
    """:func:`prepare_stamp` for every stamp of a run.

    The statistics of every stamp not prepared yet are dispatched before the host waits for the
    first of them.  With ``ctx`` (a :class:`~jaxvet.engine.context.VetContext`) the
    :class:`Prepared` is also kept in the run's cache, so V08, V09, V10, V20 and V25 of one run
    read the same object.
    """
    stamps = list(stamps)
    if not stamps:
        raise JaxvetInputError("need at least one TPF stamp, got 0")
    for i, s in enumerate(stamps):
        if not isinstance(s, TPFStamp):
            raise JaxvetInputError(f"tpfs[{i}] must be a jaxvet.stamps.TPFStamp, got {type(s).__name__}")
    qb = int(quality_bitmask)

    def make() -> Prepared:
        key = (PREPARED_KEY, qb)
        todo = [s for s in dict.fromkeys(stamps) if not s.has_product(key)]
        pending = {s: _dispatch_stamp(s, qb) for s in todo}

        def finish(s):
            return s.product(key, lambda: _finish_stamp(*(pending.get(s) or _dispatch_stamp(s, qb))))

        return Prepared(preps=[finish(s) for s in stamps], tags=stamp_tags(stamps))

    if ctx is None:
        return make()
    return ctx.cached(("pixel_stamps", qb), make, per_chunk=False)


def stamp_tags(stamps: Sequence[TPFStamp]) -> np.ndarray:
    """PRNG tag per stamp: its sector, or ``100000 + position`` when the sector is unknown."""
    return np.array(
        [s.sector if s.sector is not None else 100000 + i for i, s in enumerate(stamps)], np.int64
    )


def pair_keys(seed: int, check_tag: int, cand: np.ndarray, tag):
    """``fold_in(fold_in(fold_in(PRNGKey(seed), check_tag), candidate), stamp_tag)`` per row;
    ``tag`` is one stamp tag or one per row."""
    base = jax.random.fold_in(jax.random.PRNGKey(int(seed)), int(check_tag))
    cand = jnp.asarray(cand, jnp.uint32)
    tag = jnp.broadcast_to(jnp.asarray(tag, jnp.uint32), cand.shape)
    return jax.vmap(lambda c, t: jax.random.fold_in(jax.random.fold_in(base, c), t))(cand, tag)


def slot_stamps(ctx) -> np.ndarray:
    """(B, S) stamp index (into ``ctx.tpfs``) of every candidate's slots, host integers.

    ``ctx.tpf_index`` None: every candidate on every stamp, in order.  Otherwise it must hold one
    row of S >= 1 stamp indices per candidate (a 1-D array: one stamp each).
    """
    b, k = ctx.n_candidates, len(ctx.tpfs)
    idx = getattr(ctx, "tpf_index", None)
    if idx is None:
        return np.broadcast_to(np.arange(k, dtype=np.int64), (b, k))
    idx = np.asarray(idx)
    if idx.ndim == 1:
        idx = idx[:, None]
    if idx.ndim != 2 or idx.shape[0] != b or idx.shape[1] < 1 or idx.dtype.kind not in "iu":
        raise JaxvetInputError(
            f"tpf_index must hold one row of stamp indices per candidate ({b}), got shape "
            f"{idx.shape} dtype {idx.dtype}"
        )
    bad = (idx < 0) | (idx >= k)
    if bad.any():
        raise JaxvetInputError(f"tpf_index {int(idx[bad][0])} out of range for {k} TPF stamp(s)")
    return idx.astype(np.int64)


def slot_tags(prep: Prepared, idx: np.ndarray) -> np.ndarray:
    """PRNG tag per slot: the stamp's sector, or ``100000 + slot`` when it is unknown (with every
    stamp in every slot this is :func:`stamp_tags`)."""
    sectors = np.array([-1 if s.sector is None else s.sector for s in prep.stamps], np.int64)
    sec = sectors[idx]
    return np.where(sec >= 0, sec, 100000 + np.arange(idx.shape[1])[None, :])


def per_stamp_results(
    ctx,
    prep: Prepared | None,
    sector_result: Callable[[int, int], CheckResult],
    ids: tuple[str, str],
    what: str,
) -> list[CheckResult]:
    """One :class:`CheckResult` per candidate for a per-stamp pixel check (V08, V09).

    ``sector_result(i, s)`` formats candidate ``i`` on its stamp slot ``s`` (with every stamp in
    every slot, the run's stamp ``s``); the first slot's result is reported and, with several
    slots, every slot's result goes into ``raw["per_sector"]``.  Without stamps every candidate is
    ``skipped`` (``NO_TPF``); ``what`` names the analysis in that note.  ``ids`` is the check's
    ``(id, name)``.
    """
    check_id, name = ids
    b = ctx.n_candidates
    if not ctx.tpfs:
        return [
            skipped_result(check_id, name, "NO_TPF", notes=[f"TPF data not provided; cannot perform {what}"])
            for _ in range(b)
        ]
    n_slots = slot_stamps(ctx).shape[1]
    out: list[CheckResult] = []
    for i in range(b):
        per = [sector_result(i, s) for s in range(n_slots)]
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


def format_per_stamp(ctx, opts, a: dict, sector_result, ids: tuple[str, str], what: str, *, extend=None):
    """``format`` of a per-stamp pixel check: :func:`per_stamp_results` over the run's prepared
    stamps, ``sector_result(ctx, a, i, s, prep, opts)`` per candidate and slot; ``extend(ctx, a,
    prep, opts)`` may add host-side arrays to ``a`` first."""
    prep = prepared(ctx.tpfs, int(opts.quality_bitmask), ctx=ctx) if ctx.tpfs else None
    if prep is not None and extend is not None:
        a = extend(ctx, a, prep, opts)
    return per_stamp_results(ctx, prep, lambda i, s: sector_result(ctx, a, i, s, prep, opts), ids, what)


def saturation_counts(prep: Prepared, level) -> jax.Array:
    """Saturated pixels per stamp, (K,) int32: median flux >= ``level`` (traced, e-/s)."""
    return jnp.concatenate([saturated_pixel_count(sp.pixel_median, level) for sp in prep.preps])


def max_pixel_median(sp: StampPrep) -> float | None:
    """The largest per-pixel median flux of a stamp (e-/s), None without a finite pixel."""
    v = np.asarray(sp.pixel_median)
    return float(np.nanmax(v)) if np.isfinite(v).any() else None


def evidence_report(bits: int, n_transits: int, n_in: int, n_sat: int, opts) -> tuple[list[str], list[str]]:
    """Flags and notes for the evidence guard bits of :func:`jaxvet.core.pixels.evidence_bits`.

    ``opts`` carries ``min_transits``, ``min_in_transit_cadences`` and ``saturation_flux``.
    """
    flags, notes = [], []
    if bits & SATURATED:
        flags.append("SATURATED_TARGET")
        notes.append(
            f"{n_sat} pixel(s) with median flux >= saturation_flux ({opts.saturation_flux:g} e-/s): "
            "saturated star (bleed columns); centroids and difference images are unreliable -> insufficient"
        )
    if bits & TOO_FEW_TRANSITS:
        flags.append("TOO_FEW_TRANSITS")
        notes.append(f"{n_transits} transit(s) with in-transit cadences < min_transits ({opts.min_transits})")
    if bits & TOO_FEW_IN_TRANSIT:
        flags.append("TOO_FEW_IN_TRANSIT_CADENCES")
        notes.append(
            f"{n_in} in-transit cadence(s) < min_in_transit_cadences ({opts.min_in_transit_cadences})"
        )
    return flags, notes


def skipped_tree(n: int, names: Sequence[str], **extra) -> dict:
    """The ``compute`` tree of a pixel check without stamps: NaN metrics, status skipped."""
    out = {k: np.full(n, np.nan) for k in names}
    out.update(status=np.full(n, SKIPPED), verdict=np.full(n, VERDICT_NONE), **extra)
    return out


#: side of the plot crops (pixels): stamps larger than this are cut to their central square
PLOT_CROP = 21


def crop_origin(nr: int, nc: int) -> tuple[int, int]:
    """Top-left (row, col) of the central ``PLOT_CROP`` x ``PLOT_CROP`` crop of an (nr, nc) stamp."""
    return ((nr - PLOT_CROP) // 2 if nr > PLOT_CROP else 0, (nc - PLOT_CROP) // 2 if nc > PLOT_CROP else 0)


def crop(img: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The central crop of a (rows, cols) image and its origin ``(r0, c0)``."""
    nr, nc = img.shape
    r0, c0 = crop_origin(nr, nc)
    return img[r0 : r0 + min(nr, PLOT_CROP), c0 : c0 + min(nc, PLOT_CROP)], r0, c0


def shifted(v: float | None, origin: int) -> float | None:
    """``v - origin`` (a coordinate in a crop), None stays None."""
    return None if v is None else v - origin


def candidate_overlap(ctx, i: int, stamp: TPFStamp) -> tuple[dict, list[str], list[str]]:
    """:func:`lc_tpf_overlap` of candidate ``i``'s light curve in ``ctx`` with ``stamp``."""
    lc = ctx.lightcurves[int(ctx.candidates_lc_index[i])] if len(ctx.lightcurves) else None
    return lc_tpf_overlap(lc, stamp.time)


def insufficient_result(check_id: str, name: str, why: str, stamp: TPFStamp) -> CheckResult:
    """The reference's ``SKIPPED:INSUFFICIENT_DATA`` result of a pixel check on ``stamp`` (its
    message ``why`` first in the notes, verdict ``insufficient``)."""
    r = skipped_result(check_id, name, "INSUFFICIENT_DATA", notes=[why, *stamp.notes])
    r.verdict = "insufficient"
    r.raw = {
        "status": "insufficient_data",
        "error": why,
        "tpf_shape": list(stamp.shape),
        "sector": stamp.sector,
    }
    return r


def finite_or_none(v) -> float | None:
    """``float(v)``, or None when it is not finite (JSON metrics)."""
    v = float(v)
    return v if math.isfinite(v) else None
