"""Data model: host-side light curves and candidates, device-side padded batches.

Host objects (:class:`LightCurve`, :class:`Candidate`) hold float64 numpy arrays and validate
their input once, at the boundary.  Device objects (:class:`LightCurveBatch`,
:class:`CandidateBatch`) are pytrees of padded arrays with validity masks; their padded sizes
are *bucketed* (powers of two) so that a campaign over many different light curves compiles a
handful of programs, not one per light curve.

Time-precision policy
---------------------
jaxvet runs JAX in 64-bit mode (``jax_enable_x64``, set on import by :mod:`jaxvet._config`).
Times stay absolute BTJD in float64 on the device, so phases ``((t - t0)/P) mod 1`` agree with
a float64 numpy computation to ~1e-12 d (far below a second) over multi-year baselines, and
every median/mean matches the numpy reference to ~1e-12 relative.  See
``tests/test_precision.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.errors import JaxvetInputError

__all__ = [
    "BJD_OFFSET",
    "DEFAULT_QUALITY_BITMASK",
    "PAD_TIME",
    "ABSOLUTE_JD_MIN",
    "LightCurve",
    "Candidate",
    "LightCurveBatch",
    "CandidateBatch",
    "bucket_size",
    "stitch",
    "store_ephemeris",
    "ephemeris_record",
]

#: BTJD = BJD - 2457000.
BJD_OFFSET = 2457000.0
#: lightkurve's "default" TESS quality bitmask (AttitudeTweak, SafeMode, CoarsePoint,
#: EarthPoint, Desat, ManualExclude, ImpulsiveOutlier, ...).  Cadences with any of these bits
#: set are masked.
DEFAULT_QUALITY_BITMASK = 17087
#: Time value of padding slots: after every real BTJD, so padded rows stay sorted.
PAD_TIME = 1.0e9
#: Times (and t0) at or above this value are absolute BJD, not BTJD (2,400,000 is 1858).
ABSOLUTE_JD_MIN = 2_400_000.0


def bucket_size(n: int, minimum: int = 16) -> int:
    """Smallest power of two >= ``max(n, minimum)`` (the shape ladder for padding)."""
    n = max(int(n), int(minimum), 1)
    return 1 << (n - 1).bit_length()


def _as_1d_float(name: str, value, n: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise JaxvetInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise JaxvetInputError(f"{name} has length {arr.shape[0]} but time has length {n}")
    return arr


def _check_positive(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise JaxvetInputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise JaxvetInputError(f"{name} must be a finite positive number, got {value!r}")
    return v


@dataclass(frozen=True, eq=False)
class LightCurve:
    """One target's light curve on the host (float64 numpy).

    Parameters
    ----------
    time : array, BTJD days (absolute BJD >= 2,400,000 is converted to BTJD, as the reference
        does).  Must be non-decreasing where finite; NaN times are allowed and masked.
    flux, flux_err : arrays of the same length.  NaN cadences are masked, not fatal.
        ``flux_err=None`` gives zeros (the reference's convention).
    quality : integer TESS quality bitmask per cadence (default zeros).
    sector : one int for all cadences, or one per cadence (default 0).
    quality_bitmask : cadences with ``quality & quality_bitmask != 0`` are masked.
    provenance : what a reader did to produce the light curve (a
        :class:`jaxvet.io.ReadInfo`: file, mission, time system, columns, notes), or None.
        Derived light curves (:meth:`select`, :func:`stitch`) carry none.
    """

    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray | None = None
    quality: np.ndarray | None = None
    sector: np.ndarray | int | None = None
    target: str | None = None
    source: str | None = None
    quality_bitmask: int = DEFAULT_QUALITY_BITMASK
    provenance: Any = dataclasses.field(default=None, repr=False)

    def __post_init__(self):
        time = _as_1d_float("time", self.time)
        n = time.shape[0]
        if n == 0:
            raise JaxvetInputError(f"light curve{self._where()} is empty (0 cadences)")
        flux = _as_1d_float("flux", self.flux, n)
        flux_err = (
            np.zeros(n) if self.flux_err is None else _as_1d_float("flux_err", self.flux_err, n)
        )
        if self.quality is None:
            quality = np.zeros(n, dtype=np.int64)
        else:
            q = np.asarray(self.quality)
            if q.ndim != 1 or q.shape[0] != n:
                raise JaxvetInputError(f"quality has shape {q.shape} but time has length {n}")
            quality = np.nan_to_num(q.astype(np.float64), nan=0).astype(np.int64)
        if self.sector is None or np.ndim(self.sector) == 0:
            sector = np.full(n, 0 if self.sector is None else int(self.sector), dtype=np.int32)
        else:
            sector = np.asarray(self.sector).astype(np.int32)
            if sector.shape != (n,):
                raise JaxvetInputError(f"sector has shape {sector.shape} but time has length {n}")
        finite_t = np.isfinite(time)
        if finite_t.any() and np.nanmedian(time) >= ABSOLUTE_JD_MIN:
            time = time - BJD_OFFSET
        tf = time[finite_t]
        if tf.size > 1:
            d = np.diff(tf)
            if np.any(d < 0):
                i = int(np.argmax(d < 0))
                raise JaxvetInputError(
                    f"time{self._where()} is not sorted: time[{i + 1}]={float(tf[i + 1])!r} < "
                    f"time[{i}]={float(tf[i])!r} (sort by time first)"
                )
        for name, arr in (("time", time), ("flux", flux), ("flux_err", flux_err)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        quality.setflags(write=False)
        sector.setflags(write=False)
        object.__setattr__(self, "quality", quality)
        object.__setattr__(self, "sector", sector)

    def _where(self) -> str:
        return f" ({self.source})" if self.source else ""

    # -- views -----------------------------------------------------------------------------
    @property
    def valid(self) -> np.ndarray:
        """Cadences used by the checks: finite time/flux/flux_err and no masked quality bit."""
        return (
            np.isfinite(self.time)
            & np.isfinite(self.flux)
            & np.isfinite(self.flux_err)
            & ((self.quality & int(self.quality_bitmask)) == 0)
        )

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @property
    def n_valid(self) -> int:
        return int(self.valid.sum())

    @property
    def sectors(self) -> list[int]:
        return sorted({int(s) for s in np.unique(self.sector[self.valid])})

    @property
    def baseline_days(self) -> float:
        t = self.time[self.valid]
        return float(t[-1] - t[0]) if t.size else 0.0

    def select(self, keep: np.ndarray) -> LightCurve:
        keep = np.asarray(keep, dtype=bool)
        return dataclasses.replace(
            self,
            time=self.time[keep],
            flux=self.flux[keep],
            flux_err=self.flux_err[keep],
            quality=self.quality[keep],
            sector=self.sector[keep],
            provenance=None,
        )

    def select_sectors(self, sectors: Iterable[int]) -> LightCurve:
        wanted = {int(s) for s in sectors}
        missing = wanted - set(self.sectors)
        if missing:
            raise JaxvetInputError(
                f"sectors {sorted(missing)} not in light curve{self._where()} (has {self.sectors})"
            )
        return self.select(np.isin(self.sector, sorted(wanted)))

    def by_sector(self) -> dict[int, LightCurve]:
        return {s: self.select(self.sector == s) for s in self.sectors}

    def mask_transits(self, masks, pad: float = 0.5) -> LightCurve:
        """This light curve with the transits of ``masks`` masked (invalid for every check).

        ``masks``: :class:`~jaxvet.masking.TransitMask`, :class:`Candidate` or
        ``(period_days, t0_btjd, duration_hours)`` (or a list); cadences within
        ``0.5 * D * (1 + pad)`` of a transit centre are masked.  See :mod:`jaxvet.masking`.
        """
        from jaxvet.masking import apply_masks

        return apply_masks(self, masks, pad=pad)[0]

    def __repr__(self) -> str:
        return (
            f"LightCurve(target={self.target!r}, n={len(self)}, n_valid={self.n_valid}, "
            f"sectors={self.sectors}, span={self.baseline_days:.2f} d)"
        )


def stitch(lightcurves: Sequence[LightCurve], normalize: bool = True) -> LightCurve:
    """Concatenate sectors into one light curve, each divided by its own median flux.

    The normalisation factor of a sector is the median of its finite, quality-0 fluxes
    (falling back to all finite fluxes); flux and flux_err are divided by it when it is finite
    and positive (the reference library's stitch policy "v1", see docs/io.md).  Points are
    sorted by time with a stable sort; sector ids are kept per point.
    """
    if len(lightcurves) == 0:
        raise JaxvetInputError("stitch needs at least one light curve, got 0")
    times, fluxes, errs, quals, secs = [], [], [], [], []
    for lc in lightcurves:
        f = np.array(lc.flux, dtype=np.float64)
        e = np.array(lc.flux_err, dtype=np.float64)
        if normalize:
            for s in np.unique(lc.sector):
                sel = lc.sector == s
                good = sel & np.isfinite(f) & (lc.quality == 0)
                if not good.any():
                    good = sel & np.isfinite(f)
                factor = np.median(f[good]) if good.any() else np.nan
                if np.isfinite(factor) and factor > 0:
                    f[sel] = f[sel] / factor
                    e[sel] = e[sel] / factor
        times.append(lc.time)
        fluxes.append(f)
        errs.append(e)
        quals.append(lc.quality)
        secs.append(lc.sector)
    time = np.concatenate(times)
    order = np.argsort(time, kind="stable")
    first = lightcurves[0]
    return LightCurve(
        time=time[order],
        flux=np.concatenate(fluxes)[order],
        flux_err=np.concatenate(errs)[order],
        quality=np.concatenate(quals)[order],
        sector=np.concatenate(secs)[order],
        target=first.target,
        source=", ".join(lc.source for lc in lightcurves if lc.source) or None,
        quality_bitmask=first.quality_bitmask,
    )


def store_ephemeris(obj, period_days: float, t0: float, duration_hours: float) -> None:
    """Set the validated ephemeris of a frozen dataclass (:class:`Candidate`, a transit mask);
    ``t0`` >= ``ABSOLUTE_JD_MIN`` is absolute BJD and converted to BTJD."""
    if t0 >= ABSOLUTE_JD_MIN:
        t0 -= BJD_OFFSET
    object.__setattr__(obj, "period_days", period_days)
    object.__setattr__(obj, "duration_hours", duration_hours)
    object.__setattr__(obj, "t0_btjd", t0)


def ephemeris_record(obj) -> dict:
    """``id``, ``period_days``, ``t0_btjd`` and ``duration_hours`` of a candidate or mask (JSON)."""
    return {k: getattr(obj, k) for k in ("id", "period_days", "t0_btjd", "duration_hours")}


@dataclass(frozen=True)
class Candidate:
    """A transit candidate: ephemeris plus optional depth and stellar parameters.

    ``duration_hours`` is in hours (as everywhere in the public API); ``t0_btjd`` >= 2,400,000
    is treated as absolute BJD and converted.  Invalid values raise
    :class:`~jaxvet.errors.JaxvetInputError` naming the field.
    """

    period_days: float
    t0_btjd: float
    duration_hours: float
    depth_ppm: float | None = None
    stellar_radius: float | None = None
    stellar_mass: float | None = None
    id: str | None = None

    def __post_init__(self):
        where = f" (candidate {self.id})" if self.id is not None else ""
        try:
            p = _check_positive("period_days", self.period_days)
            d = _check_positive("duration_hours", self.duration_hours)
        except JaxvetInputError as e:
            raise JaxvetInputError(f"{e}{where}") from None
        try:
            t0 = float(self.t0_btjd)
        except (TypeError, ValueError):
            raise JaxvetInputError(f"t0_btjd must be a number, got {self.t0_btjd!r}{where}") from None
        if not np.isfinite(t0):
            raise JaxvetInputError(f"t0_btjd must be finite, got {self.t0_btjd!r}{where}")
        store_ephemeris(self, p, t0, d)
        for name in ("depth_ppm", "stellar_radius", "stellar_mass"):
            v = getattr(self, name)
            if v is None:
                continue
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise JaxvetInputError(f"{name} must be a number, got {v!r}{where}") from None
            if name != "depth_ppm" and (not np.isfinite(fv) or fv <= 0):
                raise JaxvetInputError(f"{name} must be a finite positive number, got {v!r}{where}")
            if name == "depth_ppm" and not np.isfinite(fv):
                raise JaxvetInputError(f"depth_ppm must be finite, got {v!r}{where}")
            object.__setattr__(self, name, fv)

    @property
    def duration_days(self) -> float:
        return self.duration_hours / 24.0

    def to_dict(self) -> dict:
        return {**ephemeris_record(self), "depth_ppm": self.depth_ppm}


def _on_device(**arrays: np.ndarray) -> dict[str, jax.Array]:
    """The host arrays as device arrays (same dtypes), keyed as given."""
    return {k: jnp.asarray(v) for k, v in arrays.items()}


def _nan_if_none(v) -> float:
    return np.nan if v is None else float(v)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class CandidateBatch:
    """B candidates as arrays (padded rows have ``valid=False`` and a harmless ephemeris).

    ``lc_index[b]`` selects the row of the :class:`LightCurveBatch` candidate ``b`` is vetted
    against (a campaign is B candidates against one or many light curves).
    """

    period: jax.Array  # (B,) days
    t0: jax.Array  # (B,) BTJD
    duration: jax.Array  # (B,) days
    depth: jax.Array  # (B,) fraction, NaN when unknown
    stellar_radius: jax.Array  # (B,) solar radii, NaN when unknown
    stellar_mass: jax.Array  # (B,) solar masses, NaN when unknown
    lc_index: jax.Array  # (B,) int32
    valid: jax.Array  # (B,) bool

    @property
    def size(self) -> int:
        return int(self.period.shape[0])

    @property
    def duration_hours(self) -> jax.Array:
        return self.duration * 24.0

    @classmethod
    def from_candidates(
        cls,
        candidates: Sequence[Candidate],
        lc_index: Sequence[int] | int = 0,
        pad_to: int | None = None,
    ) -> CandidateBatch:
        """Pack candidates (host) into a padded device batch of size ``pad_to`` (default: B)."""
        n = len(candidates)
        size = n if pad_to is None else int(pad_to)
        if size < n:
            raise JaxvetInputError(f"pad_to={pad_to} is smaller than the {n} candidates")
        idx = np.zeros(size, dtype=np.int32)
        idx[:n] = np.broadcast_to(np.asarray(lc_index, dtype=np.int32), (n,))
        period = np.ones(size)
        t0 = np.zeros(size)
        dur = np.full(size, 0.1)
        depth = np.full(size, np.nan)
        rad = np.full(size, np.nan)
        mass = np.full(size, np.nan)
        for i, c in enumerate(candidates):
            period[i], t0[i], dur[i] = c.period_days, c.t0_btjd, c.duration_days
            depth[i] = _nan_if_none(c.depth_ppm) * 1e-6
            rad[i] = _nan_if_none(c.stellar_radius)
            mass[i] = _nan_if_none(c.stellar_mass)
        valid = np.zeros(size, dtype=bool)
        valid[:n] = True
        return cls(
            **_on_device(
                period=period,
                t0=t0,
                duration=dur,
                depth=depth,
                stellar_radius=rad,
                stellar_mass=mass,
                lc_index=idx,
                valid=valid,
            )
        )

    @classmethod
    def from_arrays(
        cls,
        period_days,
        t0_btjd,
        duration_hours,
        depth_ppm=None,
        lc_index=0,
        stellar_radius=None,
        stellar_mass=None,
        valid=None,
    ) -> CandidateBatch:
        """Build a batch straight from arrays (no per-candidate Python objects; validated)."""
        p = np.asarray(period_days, dtype=np.float64)
        b = p.shape[0]
        t0 = np.broadcast_to(np.asarray(t0_btjd, dtype=np.float64), (b,))
        dh = np.broadcast_to(np.asarray(duration_hours, dtype=np.float64), (b,))
        for name, arr in (("period_days", p), ("duration_hours", dh)):
            bad = ~(np.isfinite(arr) & (arr > 0))
            if bad.any():
                i = int(np.argmax(bad))
                raise JaxvetInputError(f"{name}[{i}] must be a finite positive number, got {arr[i]!r}")
        if not np.all(np.isfinite(t0)):
            i = int(np.argmax(~np.isfinite(t0)))
            raise JaxvetInputError(f"t0_btjd[{i}] must be finite, got {t0[i]!r}")
        t0 = np.where(t0 >= ABSOLUTE_JD_MIN, t0 - BJD_OFFSET, t0)

        def opt(v, scale=1.0):
            if v is None:
                return jnp.full((b,), jnp.nan)
            return jnp.asarray(np.broadcast_to(np.asarray(v, dtype=np.float64), (b,)) * scale)

        return cls(
            period=jnp.asarray(p),
            t0=jnp.asarray(t0),
            duration=jnp.asarray(dh / 24.0),
            depth=opt(depth_ppm, 1e-6),
            stellar_radius=opt(stellar_radius),
            stellar_mass=opt(stellar_mass),
            lc_index=jnp.asarray(np.broadcast_to(np.asarray(lc_index, dtype=np.int32), (b,))),
            valid=jnp.ones((b,), bool) if valid is None else jnp.asarray(valid, bool),
        )

    def take(self, idx) -> CandidateBatch:
        """Rows ``idx`` (host or device integer array) as a new batch (one jitted gather)."""
        return _take_rows(self, jnp.asarray(idx))

    def pad(self, size: int) -> CandidateBatch:
        """Pad to ``size`` rows by repeating row 0 with ``valid=False``."""
        b = self.size
        if size <= b:
            return self
        extra = size - b

        def _pad(a):
            fill = jnp.broadcast_to(a[:1], (extra,) + a.shape[1:])
            return jnp.concatenate([a, fill])

        out = jax.tree.map(_pad, self)
        return dataclasses.replace(out, valid=out.valid.at[b:].set(False))


@jax.jit
def _take_rows(batch, idx):
    return jax.tree.map(lambda a: a[idx], batch)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LightCurveBatch:
    """L light curves padded to N points (N a power of two), valid points packed first.

    Only *valid* cadences (finite, unmasked quality) are carried, in time order; padding slots
    have ``time = PAD_TIME`` (after every real time, so rows stay sorted for
    ``searchsorted``), ``flux = 1``, ``flux_err = 0`` and ``mask = False``.

    ``sector`` holds the TESS sector of each point (-1 on padding); ``sector_ids[l, s]`` lists
    row ``l``'s distinct sectors (ascending, padded with -1) and ``sector_index[l, n]`` is the
    position of point ``n``'s sector in that list (``S`` on padding).
    ``seg_lo/seg_hi[l, g]`` bound the contiguous data segments (split at gaps > 0.25 d);
    padding segments have ``seg_lo > seg_hi``.
    """

    time: jax.Array  # (L, N) float64 BTJD
    flux: jax.Array  # (L, N)
    flux_err: jax.Array  # (L, N)
    mask: jax.Array  # (L, N) bool
    sector: jax.Array  # (L, N) int32
    sector_index: jax.Array  # (L, N) int32
    sector_ids: jax.Array  # (L, S) int32
    n_valid: jax.Array  # (L,) int32
    seg_lo: jax.Array  # (L, G)
    seg_hi: jax.Array  # (L, G)

    SEGMENT_GAP_DAYS = 0.25

    @property
    def n_lc(self) -> int:
        return int(self.time.shape[0])

    @property
    def n_points(self) -> int:
        return int(self.time.shape[1])

    @classmethod
    def from_lightcurves(
        cls,
        lightcurves: Sequence[LightCurve] | LightCurve,
        n_points: int | None = None,
        n_sectors: int | None = None,
        n_segments: int | None = None,
    ) -> LightCurveBatch:
        """Pack host light curves into one padded device batch (sizes bucketed)."""
        if isinstance(lightcurves, LightCurve):
            lightcurves = [lightcurves]
        if len(lightcurves) == 0:
            raise JaxvetInputError("need at least one light curve, got 0")
        packed = []
        for lc in lightcurves:
            v = lc.valid
            packed.append((lc.time[v], lc.flux[v], lc.flux_err[v], lc.sector[v]))
        max_n = max(p[0].shape[0] for p in packed)
        n = bucket_size(max_n) if n_points is None else int(n_points)
        if n < max_n:
            raise JaxvetInputError(f"n_points={n} is smaller than the longest light curve ({max_n})")
        uniq = [np.unique(p[3]) for p in packed]
        s = bucket_size(max(len(u) for u in uniq), 4) if n_sectors is None else int(n_sectors)
        segs = []
        for t, *_ in packed:
            if t.size == 0:
                segs.append((np.zeros(0), np.zeros(0)))
                continue
            cut = np.nonzero(np.diff(t) > cls.SEGMENT_GAP_DAYS)[0]
            lo = np.concatenate([[t[0]], t[cut + 1]])
            hi = np.concatenate([t[cut], [t[-1]]])
            segs.append((lo, hi))
        g = bucket_size(max(len(lo) for lo, _ in segs), 4) if n_segments is None else int(n_segments)
        L = len(packed)
        time = np.full((L, n), PAD_TIME)
        flux = np.ones((L, n))
        err = np.zeros((L, n))
        mask = np.zeros((L, n), bool)
        sector = np.full((L, n), -1, np.int32)
        sidx = np.full((L, n), s, np.int32)
        sids = np.full((L, s), -1, np.int32)
        seg_lo = np.full((L, g), PAD_TIME)
        seg_hi = np.full((L, g), -PAD_TIME)
        nv = np.zeros(L, np.int32)
        for i, ((t, f, e, sec), u, (lo, hi)) in enumerate(zip(packed, uniq, segs, strict=True)):
            m = t.shape[0]
            time[i, :m], flux[i, :m], err[i, :m], mask[i, :m], sector[i, :m] = t, f, e, True, sec
            sids[i, : len(u)] = u
            sidx[i, :m] = np.searchsorted(u, sec)
            seg_lo[i, : len(lo)], seg_hi[i, : len(hi)] = lo, hi
            nv[i] = m
        return cls(
            **_on_device(
                time=time,
                flux=flux,
                flux_err=err,
                mask=mask,
                sector=sector,
                sector_index=sidx,
                sector_ids=sids,
                n_valid=nv,
                seg_lo=seg_lo,
                seg_hi=seg_hi,
            )
        )

    def row(self, i: int) -> LightCurveBatch:
        """Row ``i`` as a batch of one (keeps padded sizes)."""
        return jax.tree.map(lambda a: a[i : i + 1], self)

