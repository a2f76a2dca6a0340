"""On-device, batched injection of synthetic transits and eclipsing binaries into light curves.

An injection campaign vets thousands of synthetic signals planted in real (or simulated) light
curves.  This module draws the signal parameters and builds, for a chunk of ``K`` injections,
a :class:`~jaxvet.data.LightCurveBatch` of ``K`` rows (row ``k`` = the base light curve of
injection ``k`` with its signal multiplied into the flux) and the matching
:class:`~jaxvet.data.CandidateBatch` (``lc_index = k``), all inside one jitted program.  Every
check then sees each injection as its own light curve, so memory is bounded by the chunk size.

Parameters
----------
Each injection has an integer ``injection_id``; its parameters come from the key
``fold_in(key(seed), injection_id)`` (one sub-stream per parameter, ``fold_in(k, stream)``),
so they do not depend on chunking, sharding, device count or resume point.  A parameter is
drawn from a range (``uniform`` or ``loguniform``), fixed, or enumerated from a grid (grid
parameters are laid out in mixed radix over ``injection_id``, so ``n_injections`` a multiple of
the grid size covers every cell equally).

Kinds
-----
* ``planet``: one transit per period, the same depth at every epoch.
* ``eb``: an eclipsing binary seen at half its period -- odd epochs
  (``floor((t - t0 + P/2)/P)`` odd, the V01 convention) have ``depth * r`` with ``r`` drawn from
  ``[0.3, 0.7]`` by default -- plus a secondary eclipse of depth ``s * depth`` near phase 0.5.
* ``inverted`` and ``scrambled``: false alarms, no signal injected -- the base light curve
  flipped about its median, or its flux reordered in blocks; the candidate is the strongest
  box-search peak of the copy (:mod:`jaxvet.campaigns.false_alarms`).

Signal shape
------------
``depth`` is the fractional flux deficit at mid-transit.  The total duration ``T`` is drawn; the
flat-bottom fraction follows from the impact parameter ``b`` and ``k = sqrt(depth)`` with the
Seager & Mallen-Ornelas (2003, ApJ 585, 1038, eqs. 3-4, small-angle limit)
``tF/tT = sqrt(((1-k)^2 - b^2) / ((1+k)^2 - b^2))`` (0 for grazing ``b > 1-k``).

* ``trapezoid`` (default): the symmetric trapezoid of :func:`jaxvet.core.models.trapezoid_shape`,
  integrated *exactly* over each cadence's exposure (Kipping 2010, MNRAS 408, 1758 on exposure
  smearing); the exposure is the median cadence of the point's sector.
* ``limb_darkened``: :func:`jaxvet.core.models.ld_transit_flux` -- the uniform-source overlap area of
  Mandel & Agol (2002, ApJ 580, L171, eq. 1) times the quadratic-law intensity of the occulted
  annulus (their small-planet approximation, sec. 5), along the straight chord at impact ``b``,
  averaged over ``supersample`` sub-exposures -- rescaled so that the mid-transit deficit equals
  ``depth``.

Depth and SNR
-------------
Either a depth (ppm) or a target SNR is drawn.  The SNR of an injection is
``depth / sigma * sqrt(n_in)``, with ``sigma`` the robust per-point scatter of the base light
curve (1.4826 x MAD of its valid fluxes, Rousseeuw & Croux 1993) and ``n_in`` its valid points
in transit (``min(phase, 1-phase) < D/2P``, the V01/V04 convention).  With a target SNR the depth
is ``snr * sigma / sqrt(n_in)``; ``snr`` (achieved) is 0 when no point falls in transit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet.core.ephemeris import phase_distance_in_transit
from jaxvet.core.models import ld_transit_flux, tflat_ttotal_from_geometry, trapezoid_profile
from jaxvet.core.stats import robust_std
from jaxvet.data import CandidateBatch, LightCurve, LightCurveBatch
from jaxvet.errors import JaxvetInputError

__all__ = [
    "KINDS",
    "FALSE_ALARM_KINDS",
    "KIND_CODES",
    "SHAPES",
    "ParamSpec",
    "InjectionConfig",
    "BaseStats",
    "InjectionBatch",
    "base_stats",
    "draw_parameters",
    "build_injection_batch",
    "trapezoid_profile",
    "limb_darkened_profile",
    "tflat_ratio_from_impact",
    "PARAM_COLUMNS",
]

KINDS = ("planet", "eb", "inverted", "scrambled")
#: the kinds whose candidate is found by a box search of a signal-free copy
FALSE_ALARM_KINDS = ("inverted", "scrambled")
KIND_CODES = {k: i for i, k in enumerate(KINDS)}
SHAPES = ("trapezoid", "limb_darkened")
_DISTS = ("uniform", "loguniform")

#: per-parameter random sub-streams: fold_in(fold_in(key(seed), injection_id), STREAM)
_STREAMS = {
    "kind": 0,
    "lc": 1,
    "period": 2,
    "t0": 3,
    "duration": 4,
    "depth": 5,
    "impact": 6,
    "eb_ratio": 7,
    "sec_ratio": 8,
    "sec_phase": 9,
    "scramble": 10,
}

#: the per-injection columns produced by :func:`build_injection_batch` (besides injection_id)
PARAM_COLUMNS = (
    "kind",
    "lc_index",
    "period_days",
    "t0_btjd",
    "duration_hours",
    "depth_ppm",
    "impact",
    "tflat_ratio",
    "odd_even_ratio",
    "secondary_depth_ppm",
    "secondary_phase",
    "snr_target",
    "snr",
    "n_in_transit",
    "noise_ppm",
)


# --------------------------------------------------------------------------------------------
# parameter specifications
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """How one injection parameter is chosen: a range, a fixed value or a grid.

    * range: ``lo``, ``hi`` and ``dist`` (``"uniform"`` or ``"loguniform"``);
    * fixed: ``lo == hi``;
    * grid: ``values`` (a tuple); cells are enumerated in mixed radix over ``injection_id``.

    :meth:`parse` accepts ``"LO:HI"``, ``"LO:HI:log"``, ``"a,b,c"`` (grid), ``"x"`` (fixed), a
    number, a ``(lo, hi)`` tuple, a list (grid), a dict (``{"min", "max", "dist"}`` or
    ``{"values"}``) or a ParamSpec.
    """

    lo: float = math.nan
    hi: float = math.nan
    dist: str = "uniform"
    values: tuple[float, ...] = ()

    @property
    def is_grid(self) -> bool:
        return len(self.values) > 0

    @classmethod
    def range(cls, lo: float, hi: float, dist: str = "uniform") -> ParamSpec:
        return cls(lo=float(lo), hi=float(hi), dist=dist)

    @classmethod
    def grid(cls, values) -> ParamSpec:
        return cls(values=tuple(float(v) for v in values))

    @classmethod
    def fixed(cls, value: float) -> ParamSpec:
        return cls(lo=float(value), hi=float(value))

    @classmethod
    def parse(cls, name: str, spec: Any) -> ParamSpec:
        def num(v):
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise JaxvetInputError(f"{name}: {v!r} is not a number (in {spec!r})") from None
            if not math.isfinite(f):
                raise JaxvetInputError(f"{name}: {v!r} is not finite (in {spec!r})")
            return f

        if isinstance(spec, ParamSpec):
            out = spec
        elif isinstance(spec, dict):
            if "values" in spec:
                out = cls.grid([num(v) for v in spec["values"]])
            else:
                dist = str(spec.get("dist", "uniform"))
                out = cls(lo=num(spec.get("min")), hi=num(spec.get("max")), dist=dist)
        elif isinstance(spec, str):
            s = spec.strip()
            if ":" in s:
                parts = [p.strip() for p in s.split(":")]
                if len(parts) not in (2, 3):
                    raise JaxvetInputError(f"{name}: expected LO:HI or LO:HI:log, got {spec!r}")
                dist = "uniform"
                if len(parts) == 3:
                    key = parts[2].lower()
                    if key in ("log", "loguniform"):
                        dist = "loguniform"
                    elif key in ("lin", "linear", "uniform"):
                        dist = "uniform"
                    else:
                        raise JaxvetInputError(f"{name}: unknown distribution {parts[2]!r} in {spec!r}")
                out = cls(lo=num(parts[0]), hi=num(parts[1]), dist=dist)
            elif "," in s:
                out = cls.grid([num(p) for p in s.split(",") if p.strip()])
            else:
                out = cls.fixed(num(s))
        elif isinstance(spec, tuple):
            if len(spec) == 2:
                out = cls(lo=num(spec[0]), hi=num(spec[1]))
            elif len(spec) == 3:
                out = cls(lo=num(spec[0]), hi=num(spec[1]), dist=str(spec[2]))
            else:
                raise JaxvetInputError(f"{name}: a tuple must be (lo, hi) or (lo, hi, dist), got {spec!r}")
        elif isinstance(spec, (list, np.ndarray)):
            out = cls.grid([num(v) for v in spec])
        else:
            out = cls.fixed(num(spec))
        if out.dist not in _DISTS:
            raise JaxvetInputError(f"{name}: dist must be one of {_DISTS}, got {out.dist!r}")
        if not out.is_grid:
            if not (math.isfinite(out.lo) and math.isfinite(out.hi)):
                raise JaxvetInputError(f"{name}: range bounds must be finite, got {spec!r}")
            if out.hi < out.lo:
                raise JaxvetInputError(f"{name}: range upper bound {out.hi} < lower bound {out.lo}")
            if out.dist == "loguniform" and out.lo <= 0:
                raise JaxvetInputError(f"{name}: a loguniform range needs lo > 0, got {out.lo}")
        return out

    def check_bounds(self, name: str, lo: float | None = None, hi: float | None = None, strict_lo=False):
        """Raise JaxvetInputError naming ``name`` if any possible value is out of bounds."""
        vals = self.values if self.is_grid else (self.lo, self.hi)
        for v in vals:
            if lo is not None and (v < lo or (strict_lo and v <= lo)):
                op = ">" if strict_lo else ">="
                raise JaxvetInputError(f"{name} must be {op} {lo}, got {v}")
            if hi is not None and v > hi:
                raise JaxvetInputError(f"{name} must be <= {hi}, got {v}")

    def to_dict(self) -> dict:
        if self.is_grid:
            return {"values": list(self.values)}
        return {"min": self.lo, "max": self.hi, "dist": self.dist}

    def __str__(self) -> str:
        if self.is_grid:
            return ",".join(f"{v:g}" for v in self.values)
        if self.lo == self.hi:
            return f"{self.lo:g}"
        return f"{self.lo:g}:{self.hi:g}" + (":log" if self.dist == "loguniform" else "")


def _default(lo, hi, dist="uniform"):
    return field(default_factory=lambda: ParamSpec(lo=lo, hi=hi, dist=dist))


@dataclass(frozen=True)
class InjectionConfig:
    """What to inject: kinds, parameter distributions and the signal shape (hashable, static).

    Exactly one of ``depth_ppm`` and ``snr`` is used: ``depth_ppm`` when it is set, else ``snr``
    (target SNR, the default, log-uniform over [5, 100]).  ``eb_depth_ratio`` is the odd/even
    depth factor of eclipsing binaries, ``eb_secondary_ratio`` their secondary depth relative to
    the primary and ``eb_secondary_phase`` its phase.  ``stellar_radius``/``stellar_mass``
    (solar units, NaN = unknown) are passed to the checks with every injected candidate.

    The false-alarm kinds search at most ``search_max_periods`` trial periods over the
    ``period_days`` range and ``search_durations`` trial durations (geometric) over the
    ``duration_hours`` range, with ``search_oversample`` phase bins per shortest duration;
    ``scramble_block_days`` is the block length of ``scrambled`` copies.  These four enter a
    campaign's configuration only when a false-alarm kind is among ``kinds``.
    """

    kinds: tuple[str, ...] = ("planet", "eb")
    kind_weights: tuple[float, ...] | None = None
    period_days: ParamSpec = _default(1.0, 20.0, "loguniform")
    duration_hours: ParamSpec = _default(1.0, 6.0)
    snr: ParamSpec | None = _default(5.0, 100.0, "loguniform")
    depth_ppm: ParamSpec | None = None
    impact: ParamSpec = _default(0.0, 0.9)
    eb_depth_ratio: ParamSpec = _default(0.3, 0.7)
    eb_secondary_ratio: ParamSpec = _default(0.05, 0.3)
    eb_secondary_phase: ParamSpec = _default(0.48, 0.52)
    shape: str = "trapezoid"
    limb_darkening: tuple[float, float] = (0.4, 0.26)
    supersample: int = 7
    stellar_radius: float = math.nan
    stellar_mass: float = math.nan
    search_max_periods: int = 20000
    search_durations: int = 4
    search_oversample: int = 10
    scramble_block_days: float = 1.0

    # ---- construction / validation ---------------------------------------------------------
    @classmethod
    def create(cls, **kwargs) -> InjectionConfig:
        """Build from loose values (strings, tuples, dicts); validates every field."""
        names = {f for f in cls.__dataclass_fields__}
        unknown = set(kwargs) - names
        if unknown:
            raise JaxvetInputError(f"unknown injection option(s): {sorted(unknown)}")
        spec_fields = (
            "period_days",
            "duration_hours",
            "snr",
            "depth_ppm",
            "impact",
            "eb_depth_ratio",
            "eb_secondary_ratio",
            "eb_secondary_phase",
        )
        out = {}
        for k, v in kwargs.items():
            if k in spec_fields and v is not None:
                v = ParamSpec.parse(k, v)
            elif k == "kinds":
                v = _parse_kinds(v)
            elif k == "kind_weights" and v is not None:
                v = tuple(float(x) for x in (v.split(",") if isinstance(v, str) else v))
            elif k in ("search_max_periods", "search_durations", "search_oversample"):
                v = _as_number(k, v, True)
            elif k == "scramble_block_days":
                v = _as_number(k, v, False)
            elif k in ("stellar_radius", "stellar_mass"):
                v = math.nan if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
            elif k == "limb_darkening":
                v = tuple(float(x) for x in (v.split(",") if isinstance(v, str) else v))
            out[k] = v
        if "depth_ppm" in out and out["depth_ppm"] is not None and "snr" not in out:
            out["snr"] = None
        cfg = cls(**out)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not self.kinds:
            raise JaxvetInputError(f"kinds must list at least one of {', '.join(KINDS)}")
        for k in self.kinds:
            if k not in KINDS:
                raise JaxvetInputError(f"kinds: unknown kind {k!r}; choose from {', '.join(KINDS)}")
        if len(set(self.kinds)) != len(self.kinds):
            raise JaxvetInputError(f"kinds: duplicate kind in {self.kinds!r}")
        if self.kind_weights is not None:
            w = np.asarray(self.kind_weights, float)
            if w.shape != (len(self.kinds),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise JaxvetInputError(
                    f"kind_weights must be {len(self.kinds)} non-negative numbers with a positive sum, "
                    f"got {self.kind_weights!r}"
                )
        if self.shape not in SHAPES:
            raise JaxvetInputError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.depth_ppm is None and self.snr is None:
            raise JaxvetInputError("give a depth_ppm or an snr distribution")
        self.period_days.check_bounds("period_days", lo=0.0, strict_lo=True)
        self.duration_hours.check_bounds("duration_hours", lo=0.0, strict_lo=True)
        if self.depth_ppm is not None:
            self.depth_ppm.check_bounds("depth_ppm", lo=0.0, hi=1e6)
        if self.snr is not None:
            self.snr.check_bounds("snr", lo=0.0)
        self.impact.check_bounds("impact", lo=0.0, hi=1.5)
        self.eb_depth_ratio.check_bounds("eb_depth_ratio", lo=0.0, hi=10.0)
        self.eb_secondary_ratio.check_bounds("eb_secondary_ratio", lo=0.0, hi=1.0)
        self.eb_secondary_phase.check_bounds("eb_secondary_phase", lo=0.1, hi=0.9)
        if len(self.limb_darkening) != 2 or not all(math.isfinite(u) for u in self.limb_darkening):
            raise JaxvetInputError(f"limb_darkening must be two finite numbers, got {self.limb_darkening!r}")
        if int(self.supersample) < 1:
            raise JaxvetInputError(f"supersample must be >= 1, got {self.supersample!r}")
        for name in ("stellar_radius", "stellar_mass"):
            v = getattr(self, name)
            if not (math.isnan(v) or (math.isfinite(v) and v > 0)):
                raise JaxvetInputError(f"{name} must be a positive number or NaN, got {v!r}")
        self._validate_search()

    def _validate_search(self) -> None:
        for name in ("search_max_periods", "search_durations", "search_oversample"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise JaxvetInputError(f"{name} must be an integer >= 1, got {v!r}")
        b = self.scramble_block_days
        if not (isinstance(b, (int, float)) and math.isfinite(b) and b > 0):
            raise JaxvetInputError(f"scramble_block_days must be a positive number, got {b!r}")
        if self.has_false_alarms:
            p = self.period_days.values if self.period_days.is_grid else (self.period_days.lo,)
            d = self.duration_hours.values if self.duration_hours.is_grid else (self.duration_hours.hi,)
            if max(d) / 24.0 >= min(p):
                raise JaxvetInputError(
                    f"duration_hours up to {max(d)} h must be shorter than the shortest period_days "
                    f"{min(p)} d for the box search of the false-alarm kinds"
                )

    @property
    def has_false_alarms(self) -> bool:
        return any(k in FALSE_ALARM_KINDS for k in self.kinds)

    def to_dict(self) -> dict:
        d = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if isinstance(v, ParamSpec):
                v = v.to_dict()
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, float) and math.isnan(v):
                v = None
            d[name] = v
        if not self.has_false_alarms:  # planet/eb campaigns keep their configuration unchanged
            for name in _SEARCH_FIELDS:
                d.pop(name)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> InjectionConfig:
        d = dict(d)
        for name in ("stellar_radius", "stellar_mass"):
            if d.get(name) is None:
                d[name] = math.nan
        if "snr" in d and d["snr"] is None and d.get("depth_ppm") is None:
            d.pop("snr")
        return cls.create(**d)

    # ---- grid layout ------------------------------------------------------------------------
    def grid_layout(self) -> dict[str, tuple[int, int]]:
        """``{param: (stride, size)}`` of the grid parameters (mixed radix, fixed order)."""
        out = {}
        stride = 1
        for name in _GRID_ORDER:
            spec = getattr(self, name)
            if spec is not None and spec.is_grid:
                out[name] = (stride, len(spec.values))
                stride *= len(spec.values)
        return out

    @property
    def grid_size(self) -> int:
        n = 1
        for _, size in self.grid_layout().values():
            n *= size
        return n


_SEARCH_FIELDS = ("search_max_periods", "search_durations", "search_oversample", "scramble_block_days")

_GRID_ORDER = (
    "period_days",
    "duration_hours",
    "depth_ppm",
    "snr",
    "impact",
    "eb_depth_ratio",
    "eb_secondary_ratio",
    "eb_secondary_phase",
)


def _as_number(name, v, integer: bool):
    try:
        f = float(v)
    except (TypeError, ValueError):
        what = "integer" if integer else "number"
        raise JaxvetInputError(f"{name} must be a positive {what}, got {v!r}") from None
    return int(f) if integer and f.is_integer() else (f if not integer else v)


def _parse_kinds(v) -> tuple[str, ...]:
    items = v.split(",") if isinstance(v, str) else list(v)
    out = tuple(str(x).strip().lower() for x in items if str(x).strip())
    for k in out:
        if k not in KINDS:
            raise JaxvetInputError(f"kinds: unknown kind {k!r}; choose from {', '.join(KINDS)}")
    return out


# --------------------------------------------------------------------------------------------
# signal shapes
# --------------------------------------------------------------------------------------------
def tflat_ratio_from_impact(depth, impact):
    """Flat-to-total duration ratio (Seager & Mallen-Ornelas 2003) with ``k = sqrt(depth)``."""
    return tflat_ttotal_from_geometry(jnp.sqrt(jnp.clip(depth, 0.0, 1.0)), impact)




@partial(jax.jit, static_argnames=("supersample",))
def limb_darkened_profile(dt, duration, k, impact, u1, u2, exposure=0.0, supersample: int = 7):
    """Unit-depth limb-darkened transit profile, exposure-averaged by ``supersample`` sub-exposures.

    :func:`jaxvet.core.models.ld_transit_flux` (Mandel & Agol 2002 small-planet approximation on a
    straight chord at impact ``impact``, first to last contact in ``duration`` days) for radius
    ratio ``k``, as a deficit divided by its (instantaneous) value at mid-transit.
    """
    b = jnp.minimum(impact, 1.0 + k - 1e-6)
    deficit = 1.0 - ld_transit_flux(dt, k, b, duration, u1, u2, exposure, supersample)
    # 1 - mean(1, ..., 1) leaves ~1e-15 rounding outside transit: make it exactly 0 there
    deficit = jnp.where(deficit > 1e-13, deficit, 0.0)
    centre = 1.0 - ld_transit_flux(
        jnp.zeros_like(jnp.asarray(k, jnp.float64)), k, b, duration, u1, u2, 0.0, 1
    )
    return jnp.where(centre > 0, deficit / jnp.where(centre > 0, centre, 1.0), 0.0)


# --------------------------------------------------------------------------------------------
# base light-curve statistics and parameter draws
# --------------------------------------------------------------------------------------------
@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class BaseStats:
    """Per base light curve: robust scatter, time span, per-sector exposure (device arrays)."""

    sigma: jax.Array  # (L,) robust per-point scatter (1.4826 MAD of valid flux)
    t_first: jax.Array  # (L,)
    t_last: jax.Array  # (L,)
    exposure: jax.Array  # (L, S + 1) days per sector slot (last slot: padding, 0)


def base_stats(lightcurves, lcb: LightCurveBatch) -> BaseStats:
    """Robust scatter (device), time span and per-sector median cadence of each base row."""
    if isinstance(lightcurves, LightCurve):
        lightcurves = [lightcurves]
    sigma = jax.jit(jax.vmap(robust_std))(lcb.flux, lcb.mask)
    s = int(lcb.sector_ids.shape[1])
    exp = np.zeros((lcb.n_lc, s + 1))
    t_first = np.zeros(lcb.n_lc)
    t_last = np.zeros(lcb.n_lc)
    sids = np.asarray(lcb.sector_ids)
    for i, lc in enumerate(lightcurves):
        v = lc.valid
        t = lc.time[v]
        if t.size == 0:
            raise JaxvetInputError(f"light curve {i} ({lc.source or lc.target}) has no valid cadences")
        t_first[i], t_last[i] = t[0], t[-1]
        sec = lc.sector[v]
        for j, sid in enumerate(sids[i]):
            if sid < 0:
                continue
            ts = t[sec == sid]
            d = np.diff(ts)
            d = d[d > 0]
            exp[i, j] = float(np.median(d)) if d.size else 0.0
    return BaseStats(
        sigma=sigma,
        t_first=jnp.asarray(t_first),
        t_last=jnp.asarray(t_last),
        exposure=jnp.asarray(exp),
    )


def _uniform_draw(spec: ParamSpec, key, grid_pos):
    if spec.is_grid:
        vals = jnp.asarray(spec.values, jnp.float64)
        return vals[grid_pos]
    u = jax.random.uniform(key, (), jnp.float64)
    if spec.lo == spec.hi:
        return jnp.asarray(spec.lo, jnp.float64)
    if spec.dist == "loguniform":
        lo, hi = math.log(spec.lo), math.log(spec.hi)
        return jnp.exp(lo + u * (hi - lo))
    return spec.lo + u * (spec.hi - spec.lo)


def draw_parameters(seed, injection_ids, cfg: InjectionConfig, n_lc: int, t_first, t_last=None):
    """Draw the ephemeris and shape parameters of each injection (pure function of (seed, id)).

    Returns a dict of ``(K,)`` arrays: ``kind`` (code into :data:`KINDS`), ``lc_index``,
    ``period`` [d], ``t0`` [BTJD, uniform in one period after the base light curve's first
    point], ``duration`` [d], ``amp`` (depth [fraction] or target SNR), ``impact``,
    ``eb_ratio``, ``sec_ratio`` and ``sec_phase`` (the last three are 1, 0, 0.5 for planets).
    """
    return _draw(
        jnp.asarray(seed, jnp.uint32), jnp.asarray(injection_ids, jnp.uint32), jnp.asarray(t_first), cfg, n_lc
    )


@partial(jax.jit, static_argnames=("cfg", "n_lc"))
def _draw(seed, ids, t_first, cfg: InjectionConfig, n_lc: int):
    root = jax.random.key(seed)
    layout = cfg.grid_layout()
    kind_codes = jnp.asarray([KIND_CODES[k] for k in cfg.kinds], jnp.int32)
    if cfg.kind_weights is None:
        logits = jnp.zeros(len(cfg.kinds))
    else:
        w = jnp.asarray(cfg.kind_weights, jnp.float64)
        logits = jnp.where(w > 0, jnp.log(jnp.where(w > 0, w, 1.0)), -jnp.inf)
    amp_name = "depth_ppm" if cfg.depth_ppm is not None else "snr"
    amp_spec = cfg.depth_ppm if cfg.depth_ppm is not None else cfg.snr

    def one(i):
        k = jax.random.fold_in(root, i)

        def sub(name):
            return jax.random.fold_in(k, _STREAMS[name])

        def gpos(pname):
            if pname not in layout:
                return 0
            stride, size = layout[pname]
            return ((i // jnp.uint32(stride)) % jnp.uint32(size)).astype(jnp.int32)

        kind = kind_codes[jax.random.categorical(sub("kind"), logits)]
        lc = jax.random.randint(sub("lc"), (), 0, n_lc, dtype=jnp.int32) if n_lc > 1 else jnp.int32(0)
        period = _uniform_draw(cfg.period_days, sub("period"), gpos("period_days"))
        t0 = t_first[lc] + jax.random.uniform(sub("t0"), (), jnp.float64) * period
        duration = _uniform_draw(cfg.duration_hours, sub("duration"), gpos("duration_hours")) / 24.0
        amp = _uniform_draw(amp_spec, sub("depth"), gpos(amp_name))
        if amp_name == "depth_ppm":
            amp = amp * 1e-6
        impact = _uniform_draw(cfg.impact, sub("impact"), gpos("impact"))
        is_eb = kind == KIND_CODES["eb"]
        eb_ratio = jnp.where(
            is_eb, _uniform_draw(cfg.eb_depth_ratio, sub("eb_ratio"), gpos("eb_depth_ratio")), 1.0
        )
        sec_ratio = jnp.where(
            is_eb, _uniform_draw(cfg.eb_secondary_ratio, sub("sec_ratio"), gpos("eb_secondary_ratio")), 0.0
        )
        sec_phase = jnp.where(
            is_eb, _uniform_draw(cfg.eb_secondary_phase, sub("sec_phase"), gpos("eb_secondary_phase")), 0.5
        )
        return dict(
            kind=kind,
            lc_index=lc,
            period=period,
            t0=t0,
            duration=duration,
            amp=amp,
            impact=impact,
            eb_ratio=eb_ratio,
            sec_ratio=sec_ratio,
            sec_phase=sec_phase,
        )

    return jax.vmap(one)(ids)


# --------------------------------------------------------------------------------------------
# the injected batch
# --------------------------------------------------------------------------------------------
@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class InjectionBatch:
    """A chunk of injections: one light-curve row and one candidate per injection."""

    lcb: LightCurveBatch  # (K, N) rows with the signal multiplied in
    cb: CandidateBatch  # (K,) injected ephemerides, lc_index = row
    params: dict  # (K,) arrays named as PARAM_COLUMNS (+ "injection_id", "valid")


def _signal(t, p, exposure, cfg: InjectionConfig, depth, tflat, k):
    """Fractional deficit of one injection at times ``t`` (N,)."""
    P, t0, D = p["period"], p["t0"], p["duration"]

    def prof(dt):
        if cfg.shape == "limb_darkened":
            u1, u2 = cfg.limb_darkening
            return limb_darkened_profile(dt, D, k, p["impact"], u1, u2, exposure, cfg.supersample)
        return trapezoid_profile(dt, D, tflat, exposure)

    epoch = jnp.floor((t - t0 + 0.5 * P) / P)
    dt = t - (t0 + epoch * P)
    odd = jnp.mod(epoch, 2.0) == 1.0
    d_ep = depth * jnp.where(odd, p["eb_ratio"], 1.0)
    deficit = d_ep * prof(dt)
    t2 = t0 + p["sec_phase"] * P
    e2 = jnp.floor((t - t2 + 0.5 * P) / P)
    dt2 = t - (t2 + e2 * P)
    sec = jnp.where(p["sec_ratio"] > 0, depth * p["sec_ratio"] * prof(dt2), 0.0)
    return deficit + sec


@partial(jax.jit, static_argnames=("cfg", "n_lc", "sharding"))
def _build(
    base: LightCurveBatch, stats: BaseStats, ids, valid, seed, *, cfg: InjectionConfig, n_lc: int, sharding
):
    p = _draw(seed, ids, stats.t_first, cfg, n_lc)
    if sharding is not None:
        p = jax.lax.with_sharding_constraint(p, sharding)
    rows = p["lc_index"]
    take = lambda a: a[rows]  # noqa: E731
    time = take(base.time)
    mask = take(base.mask)
    flux0 = take(base.flux)
    sector_index = take(base.sector_index)
    sigma = stats.sigma[rows]
    exposure = jnp.take_along_axis(stats.exposure[rows], sector_index, axis=1)  # (K, N)

    in_tr = phase_distance_in_transit(time, p["t0"][:, None], p["period"][:, None], p["duration"][:, None])
    n_in = jnp.sum(in_tr & mask, axis=1).astype(jnp.int32)
    if cfg.depth_ppm is not None:
        depth = p["amp"]
        snr_target = jnp.full_like(depth, jnp.nan)
    else:
        snr_target = p["amp"]
        depth = snr_target * sigma / jnp.sqrt(jnp.maximum(n_in, 1).astype(jnp.float64))
    depth = jnp.clip(depth, 0.0, 0.99)
    snr = jnp.where(sigma > 0, depth / jnp.where(sigma > 0, sigma, 1.0), jnp.inf) * jnp.sqrt(
        n_in.astype(jnp.float64)
    )
    snr = jnp.where(n_in > 0, snr, 0.0)
    tflat = tflat_ratio_from_impact(depth, p["impact"])
    k = jnp.sqrt(depth)

    deficit = jax.vmap(lambda t, pp, e, d, tf, kk: _signal(t, pp, e, cfg, d, tf, kk))(
        time, p, exposure, depth, tflat, k
    )
    flux = jnp.where(mask, flux0 * (1.0 - deficit), flux0)
    lcb = LightCurveBatch(
        time=time,
        flux=flux,
        flux_err=take(base.flux_err),
        mask=mask,
        sector=take(base.sector),
        sector_index=sector_index,
        sector_ids=take(base.sector_ids),
        n_valid=take(base.n_valid),
        seg_lo=take(base.seg_lo),
        seg_hi=take(base.seg_hi),
    )
    kk = ids.shape[0]
    cb = CandidateBatch(
        period=p["period"],
        t0=p["t0"],
        duration=p["duration"],
        depth=depth,
        stellar_radius=jnp.full((kk,), cfg.stellar_radius),
        stellar_mass=jnp.full((kk,), cfg.stellar_mass),
        lc_index=jnp.arange(kk, dtype=jnp.int32),
        valid=valid,
    )
    params = {
        "injection_id": ids.astype(jnp.int64),
        "valid": valid,
        "kind": p["kind"],
        "lc_index": rows,
        "period_days": p["period"],
        "t0_btjd": p["t0"],
        "duration_hours": p["duration"] * 24.0,
        "depth_ppm": depth * 1e6,
        "impact": p["impact"],
        "tflat_ratio": tflat,
        "odd_even_ratio": p["eb_ratio"],
        "secondary_depth_ppm": depth * p["sec_ratio"] * 1e6,
        "secondary_phase": p["sec_phase"],
        "snr_target": snr_target,
        "snr": snr,
        "n_in_transit": n_in,
        "noise_ppm": sigma * 1e6,
    }
    if sharding is not None:
        lcb, cb, params = jax.lax.with_sharding_constraint((lcb, cb, params), sharding)
    return InjectionBatch(lcb=lcb, cb=cb, params=params)


def build_injection_batch(
    base: LightCurveBatch,
    stats: BaseStats,
    injection_ids,
    seed: int,
    cfg: InjectionConfig,
    *,
    pad_to: int | None = None,
    sharding=None,
) -> InjectionBatch:
    """Build the injected rows and candidates of ``injection_ids`` on the device.

    ``pad_to`` pads the chunk (repeating the last id, ``valid=False``) so every chunk of a
    campaign has the same shape and reuses one compiled program.  ``sharding`` (a
    :class:`jax.sharding.NamedSharding` over the leading axis) spreads the chunk over a device
    mesh.
    """
    ids = np.asarray(injection_ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        raise JaxvetInputError("injection_ids is empty")
    if np.any(ids < 0) or np.any(ids >= 2**32):
        raise JaxvetInputError("injection_ids must be in [0, 2**32)")
    size = ids.size if pad_to is None else int(pad_to)
    if size < ids.size:
        raise JaxvetInputError(f"pad_to={pad_to} is smaller than the {ids.size} injection ids")
    valid = np.zeros(size, bool)
    valid[: ids.size] = True
    ids_p = np.concatenate([ids, np.full(size - ids.size, ids[-1])]).astype(np.uint32)
    ids_d = jnp.asarray(ids_p)
    valid_d = jnp.asarray(valid)
    if sharding is not None:
        ids_d = jax.device_put(ids_d, sharding)
        valid_d = jax.device_put(valid_d, sharding)
    return _build(
        base,
        stats,
        ids_d,
        valid_d,
        jnp.asarray(int(seed) % 2**32, jnp.uint32),
        cfg=cfg,
        n_lc=base.n_lc,
        sharding=sharding,
    )
