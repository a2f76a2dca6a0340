"""Masking known transits (the other planets of a multi-planet system) out of a light curve.

A :class:`TransitMask` is an ephemeris (period, t0, duration) and a padding factor.  Every
cadence with ``|t - t_c| < 0.5 * D * (1 + pad)`` of a transit centre ``t_c = t0 + n P`` is
masked: it gets :data:`MASKED_QUALITY_BIT` in its quality flags, and that bit joins the light
curve's ``quality_bitmask``, so the cadence drops out of :attr:`LightCurve.valid` and every check
ignores it (it enters neither a baseline nor an in-transit set).  The default ``pad`` is
:data:`DEFAULT_MASK_PAD` = 0.5: the masked window is 1.5 transit durations wide, centred on the
transit, which covers an ephemeris error of a quarter duration either way.

:func:`mask_lightcurves` builds the light-curve rows of a run with masks: one masked copy per
distinct (light curve, set of masks).  With ``mask_others=True`` candidate ``i`` is vetted with
every *other* candidate on the same light curve masked and its own transits kept, so every
candidate whose set of other planets differs gets its own row: N candidates of one star give N
rows of the light curve (host and device memory grow as N x the light curve; a few hundred
candidates of a 100 000-cadence light curve are fine).  A cadence inside another planet's
window is masked even when it also holds the candidate's own transit (an overlapping transit is
lost to both, not shared).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jaxvet.data import Candidate, LightCurve, ephemeris_record, store_ephemeris
from jaxvet.errors import JaxvetInputError

__all__ = [
    "DEFAULT_MASK_PAD",
    "MASKED_QUALITY_BIT",
    "TransitMask",
    "as_masks",
    "transit_windows",
    "apply_masks",
    "mask_lightcurves",
    "parse_mask_option",
]

#: Masked window = (1 + pad) transit durations, centred on each transit.
DEFAULT_MASK_PAD = 0.5
#: Quality bit set on masked cadences (no TESS or Kepler quality flag uses bit 30).
MASKED_QUALITY_BIT = 1 << 30


def _number(name: str, value, *, positive: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise JaxvetInputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or (positive and v <= 0):
        kind = "a finite positive number" if positive else "finite"
        raise JaxvetInputError(f"{name} must be {kind}, got {value!r}")
    return v


@dataclass(frozen=True)
class TransitMask:
    """Mask the transits of one ephemeris: ``|t - (t0 + n P)| < 0.5 * D * (1 + pad)``.

    ``t0_btjd`` >= 2,400,000 is absolute BJD and converted to BTJD (as for
    :class:`~jaxvet.data.Candidate`); ``duration_hours`` is the transit duration ``D``.
    """

    period_days: float
    t0_btjd: float
    duration_hours: float
    pad: float = DEFAULT_MASK_PAD
    id: str | None = None

    def __post_init__(self):
        where = f" (mask {self.id})" if self.id is not None else ""
        try:
            p = _number("period_days", self.period_days, positive=True)
            d = _number("duration_hours", self.duration_hours, positive=True)
            t0 = _number("t0_btjd", self.t0_btjd, positive=False)
            pad = _number("pad", self.pad, positive=False)
        except JaxvetInputError as e:
            raise JaxvetInputError(f"{e}{where}") from None
        if pad < 0:
            raise JaxvetInputError(f"pad must be >= 0, got {self.pad!r}{where}")
        store_ephemeris(self, p, t0, d)
        object.__setattr__(self, "pad", pad)

    @property
    def half_width_days(self) -> float:
        """Half the masked window, ``0.5 * D * (1 + pad)`` in days."""
        return 0.5 * self.duration_hours / 24.0 * (1.0 + self.pad)

    @classmethod
    def from_candidate(cls, c: Candidate, pad: float = DEFAULT_MASK_PAD) -> TransitMask:
        return cls(c.period_days, c.t0_btjd, c.duration_hours, pad=pad, id=c.id)

    def same_ephemeris(self, c: Candidate) -> bool:
        """Whether ``c`` has this mask's period, t0 and duration (then it is not masked for itself)."""
        return (
            self.period_days == c.period_days
            and self.t0_btjd == c.t0_btjd
            and self.duration_hours == c.duration_hours
        )

    def to_dict(self) -> dict:
        return {
            **ephemeris_record(self),
            "pad": self.pad,
            "half_width_hours": self.half_width_days * 24.0,
        }


def as_masks(mask, *, pad: float = DEFAULT_MASK_PAD, name: str = "mask") -> list[TransitMask]:
    """Normalise ``mask`` to a list of :class:`TransitMask`.

    Accepted: None, one :class:`TransitMask`, :class:`~jaxvet.data.Candidate` or
    ``(period_days, t0_btjd, duration_hours)`` triple, or a sequence of them.  A candidate or a
    triple gets ``pad``; a :class:`TransitMask` keeps its own.  Anything else raises
    :class:`JaxvetInputError` naming ``name`` and the value.
    """
    if mask is None:
        return []
    if isinstance(mask, (TransitMask, Candidate)) or _is_triple(mask):
        mask = [mask]
    try:
        items = list(mask)
    except TypeError:
        raise JaxvetInputError(
            f"{name} must be a TransitMask, a Candidate, a (period_days, t0_btjd, duration_hours) "
            f"triple or a list of them, got {mask!r}"
        ) from None
    out = []
    for i, m in enumerate(items):
        if isinstance(m, TransitMask):
            out.append(m)
        elif isinstance(m, Candidate):
            out.append(TransitMask.from_candidate(m, pad))
        elif _is_triple(m):
            try:
                out.append(TransitMask(*m, pad=pad, id=f"{name}[{i}]"))
            except JaxvetInputError as e:
                raise JaxvetInputError(f"{name}[{i}] {tuple(m)!r}: {e}") from None
        else:
            raise JaxvetInputError(
                f"{name}[{i}] must be a TransitMask, a Candidate or a (period_days, t0_btjd, "
                f"duration_hours) triple, got {m!r}"
            )
    return out


def _is_triple(m) -> bool:
    return isinstance(m, (tuple, list, np.ndarray)) and len(m) == 3 and all(np.ndim(x) == 0 for x in m)


def transit_windows(time: np.ndarray, masks: Sequence[TransitMask]) -> np.ndarray:
    """``(M, N)`` bool: cadence ``n`` lies in a masked window of mask ``m`` (NaN times: False)."""
    time = np.asarray(time, dtype=np.float64)
    out = np.zeros((len(masks), time.shape[0]), dtype=bool)
    for k, m in enumerate(masks):  # M is the number of known planets: a handful
        phase = np.remainder(time - m.t0_btjd + 0.5 * m.period_days, m.period_days) - 0.5 * m.period_days
        out[k] = np.abs(phase) < m.half_width_days
    return out


def _masked(lc: LightCurve, hit: np.ndarray) -> LightCurve:
    quality = np.where(hit, lc.quality | MASKED_QUALITY_BIT, lc.quality)
    return dataclasses.replace(
        lc, quality=quality, quality_bitmask=int(lc.quality_bitmask) | MASKED_QUALITY_BIT
    )


def apply_masks(lc: LightCurve, masks, *, pad: float = DEFAULT_MASK_PAD) -> tuple[LightCurve, int]:
    """``(masked light curve, number of its valid cadences that were masked)``.

    ``masks`` as for :func:`as_masks`.  The light curve keeps every cadence (and its
    provenance); masked ones get :data:`MASKED_QUALITY_BIT` and so are no longer
    :attr:`~jaxvet.data.LightCurve.valid`.
    """
    masks = as_masks(masks, pad=pad)
    if not masks:
        return lc, 0
    hit = transit_windows(lc.time, masks).any(axis=0)
    n = int((hit & lc.valid).sum())
    return _masked(lc, hit), n


@dataclass(frozen=True)
class MaskedRun:
    """The light-curve rows of a masked run and what was masked for each candidate."""

    lightcurves: list[LightCurve]
    lc_index: np.ndarray  # (B,) row of each candidate
    masks: list[TransitMask]  # every mask of the run (``mask`` first, then the candidates')
    applied: list[list[int]]  # per candidate: indices into ``masks``
    n_masked: list[int]  # per candidate: valid cadences masked on its row

    def to_dict(self) -> dict:
        return {
            "masks": [m.to_dict() for m in self.masks],
            "n_rows": len(self.lightcurves),
        }

    def candidate_record(self, i: int) -> dict:
        return {
            "masks": [self.masks[k].id for k in self.applied[i]],
            "n_masked_points": self.n_masked[i],
        }


def mask_lightcurves(
    lightcurves: Sequence[LightCurve],
    candidates: Sequence[Candidate],
    lc_index: np.ndarray,
    mask=None,
    *,
    mask_others: bool = False,
    pad: float = DEFAULT_MASK_PAD,
) -> MaskedRun:
    """Masked light-curve rows for a run: one per distinct (light curve, set of masks).

    ``mask`` (see :func:`as_masks`) applies to every light curve.  With ``mask_others`` every
    candidate also has the other candidates of its light curve (same ``lc_index``) masked, except
    those with its own period, t0 and duration.  Candidates that share a light curve and a mask
    set share a row.
    """
    given = as_masks(mask, pad=pad)
    for k, m in enumerate(given):
        if m.id is None:
            given[k] = dataclasses.replace(m, id=f"mask[{k}]")
    masks = list(given)
    li = np.asarray(lc_index, dtype=np.int64)
    own = [None] * len(candidates)
    if mask_others:
        for i, c in enumerate(candidates):
            own[i] = len(masks)
            m = TransitMask.from_candidate(c, pad)
            masks.append(m if m.id is not None else dataclasses.replace(m, id=str(i)))
    n_given = len(given)
    applied: list[list[int]] = []
    for i, c in enumerate(candidates):
        ks = list(range(n_given))
        if mask_others:
            ks += [
                own[j]
                for j in range(len(candidates))
                if j != i and li[j] == li[i] and not masks[own[j]].same_ephemeris(c)
            ]
        applied.append(ks)
    windows = {}  # light curve -> (M, N) windows of every mask, computed once
    rows: dict[tuple, int] = {}
    out_lcs: list[LightCurve] = []
    row_masked: list[int] = []
    new_index = np.zeros(len(candidates), dtype=np.int64)
    for i in range(len(candidates)):
        key = (int(li[i]), tuple(applied[i]))
        if key not in rows:
            lc = lightcurves[key[0]]
            if key[0] not in windows:
                windows[key[0]] = transit_windows(lc.time, masks)
            if key[1]:
                hit = windows[key[0]][list(key[1])].any(axis=0)
                out_lcs.append(_masked(lc, hit))
                row_masked.append(int((hit & lc.valid).sum()))
            else:
                out_lcs.append(lc)
                row_masked.append(0)
            rows[key] = len(out_lcs) - 1
        new_index[i] = rows[key]
    return MaskedRun(
        lightcurves=out_lcs,
        lc_index=new_index,
        masks=masks,
        applied=applied,
        n_masked=[row_masked[r] for r in new_index],
    )


def parse_mask_option(value: str, option: str = "--mask") -> tuple[float, float, float]:
    """``"P,T0,D"`` -> ``(P, T0, D)``; anything else raises :class:`JaxvetInputError` naming the
    option and the value (period and duration must be positive, t0 finite)."""
    parts = [p.strip() for p in str(value).split(",")]
    hint = (
        f"{option} {value!r} must be PERIOD_DAYS,T0,DURATION_HOURS (three numbers, e.g. 210.60697,357.543,10)"
    )
    if len(parts) != 3:
        raise JaxvetInputError(hint)
    try:
        p, t0, d = (float(x) for x in parts)
    except ValueError:
        raise JaxvetInputError(hint) from None
    if not (np.isfinite(p) and p > 0):
        raise JaxvetInputError(
            f"{option} {value!r}: the period must be a finite positive number, got {parts[0]}"
        )
    if not np.isfinite(t0):
        raise JaxvetInputError(f"{option} {value!r}: t0 must be finite, got {parts[1]}")
    if not (np.isfinite(d) and d > 0):
        raise JaxvetInputError(
            f"{option} {value!r}: the duration must be a finite positive number, got {parts[2]}"
        )
    return p, t0, d


def add_mask_arguments(parser, *, others: bool, before: str = "") -> None:
    """The command-line options ``--mask P,T0,D`` (repeatable), ``--mask-pad`` and, with
    ``others``, ``--mask-others`` (``jaxvet vet``); ``before`` says when the mask applies."""
    g = parser.add_argument_group("masking known transits (see docs/masking.md)")
    g.add_argument(
        "--mask",
        action="append",
        default=[],
        metavar="P,T0,D",
        help=f"mask the transits of another planet{' ' + before if before else ''}: period [d], t0 "
        "(same time system as --t0: BKJD for Kepler/K2 data, else BTJD; >= 2,400,000 = BJD), "
        "duration [h]; cadences within (1 + --mask-pad) durations centred on each transit are "
        "dropped by every check (repeatable)",
    )
    if others:
        g.add_argument(
            "--mask-others",
            action="store_true",
            help="with --candidates: vet each row with every other row's transits masked (its own kept)",
        )
    g.add_argument(
        "--mask-pad",
        type=float,
        default=None,
        metavar="PAD",
        help="masked window = (1 + PAD) transit durations (default 0.5: 1.5 durations)",
    )
