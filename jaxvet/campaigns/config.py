"""A light-curve campaign's configuration: what determines its rows, and how inputs are resolved."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import jax
import numpy as np

from jaxvet._version import __version__
from jaxvet.campaigns.injection import InjectionConfig
from jaxvet.campaigns.summary import DEFAULT_PERIOD_BINS, DEFAULT_SNR_BINS, bins_json
from jaxvet.checks import get_check
from jaxvet.data import LightCurve
from jaxvet.engine.context import CheckSpec
from jaxvet.errors import JaxvetInputError
from jaxvet.results import to_jsonable

__all__ = ["CampaignConfig", "ChunkPlan", "DEFAULT_CHECKS", "TARGET_CHUNK_ELEMENTS", "CONFIG_VERSION"]

DEFAULT_CHECKS = ("V01", "V04", "V05")
#: elements of one (K x N) array a chunk aims at
TARGET_CHUNK_ELEMENTS = 2**24
CONFIG_VERSION = 1


class ChunkPlan:
    """Injections ``0 .. n_injections - 1`` cut into chunks of ``chunk_size`` (the last may be short).

    Mixed into every campaign configuration (light curves: :class:`CampaignConfig`; pixels:
    :class:`jaxvet.campaigns.pixel.PixelCampaignConfig`): chunk ``c`` is one result part.
    """

    n_injections: int
    chunk_size: int

    @property
    def n_chunks(self) -> int:
        return -(-self.n_injections // self.chunk_size)

    def chunk_ids(self, c: int) -> np.ndarray:
        lo = c * self.chunk_size
        return np.arange(lo, min(lo + self.chunk_size, self.n_injections), dtype=np.int64)


@dataclasses.dataclass
class CampaignConfig(ChunkPlan):
    """Everything that determines a campaign's rows (``identity``) plus summary settings."""

    n_injections: int
    checks: tuple[str, ...]
    seed: int
    chunk_size: int
    injection: InjectionConfig
    lightcurves: list[dict]
    options: dict
    snr_bins: tuple[float, ...] = DEFAULT_SNR_BINS
    period_bins: tuple[float, ...] = DEFAULT_PERIOD_BINS

    def identity(self) -> dict:
        """The part that must match for ``--resume`` (JSON-normalised)."""
        return json.loads(
            json.dumps(
                to_jsonable(
                    {
                        "config_version": CONFIG_VERSION,
                        "n_injections": self.n_injections,
                        "checks": list(self.checks),
                        "seed": self.seed,
                        "chunk_size": self.chunk_size,
                        "injection": self.injection.to_dict(),
                        "lightcurves": self.lightcurves,
                        "options": self.options,
                    }
                ),
                sort_keys=True,
            )
        )

    def to_dict(self) -> dict:
        d = self.identity()
        d["snr_bins"] = bins_json(self.snr_bins)
        d["period_bins"] = bins_json(self.period_bins)
        d["jaxvet_version"] = __version__
        d["jax_version"] = jax.__version__
        return d


def fingerprint(lc: LightCurve) -> dict:
    v = lc.valid
    h = hashlib.sha256()
    for a in (lc.time[v], lc.flux[v], lc.flux_err[v], lc.sector[v].astype(np.int64)):
        h.update(np.ascontiguousarray(a).tobytes())
    return {
        "target": lc.target,
        "source": lc.source,
        "n_valid": int(v.sum()),
        "sectors": lc.sectors,
        "sha256": h.hexdigest(),
    }


def demo_lightcurve(seed: int = 0) -> LightCurve:
    """The base light curve of ``jaxvet demo`` (3 simulated sectors, white + red noise, no signal)."""
    from jaxvet.synthetic.lightcurves import simulate_lightcurve

    return simulate_lightcurve(
        seed,
        sectors=(40, 41, 42),
        t_start=2400.0,
        white_ppm=400.0,
        red_ppm=120.0,
        red_timescale_hours=4.0,
        target="SIM-DEMO",
    )


def load_lightcurves(lightcurves) -> list[LightCurve]:
    if lightcurves is None:
        return [demo_lightcurve(0)]
    if isinstance(lightcurves, LightCurve):
        return [lightcurves]
    if isinstance(lightcurves, (str, os.PathLike)):
        lightcurves = [lightcurves]
    items = list(lightcurves)
    if not items:
        return [demo_lightcurve(0)]
    if all(isinstance(x, LightCurve) for x in items):
        return items
    if all(isinstance(x, (str, os.PathLike)) for x in items):
        from jaxvet.io import read_lightcurves

        return [read_lightcurves([str(x) for x in items])]
    out = []
    for x in items:  # a mix: each entry is one target (a LightCurve or a list of its files)
        if isinstance(x, LightCurve):
            out.append(x)
        else:
            from jaxvet.io import read_lightcurves

            out.append(read_lightcurves([str(p) for p in (x if isinstance(x, (list, tuple)) else [x])]))
    return out


def resolve_specs(checks) -> list[CheckSpec]:
    if isinstance(checks, str) and checks.strip().lower() == "all":
        from jaxvet.checks import available_checks

        checks = [c for c in available_checks() if not get_check(c).needs_tpf]
    if isinstance(checks, str):
        checks = [c for c in checks.split(",") if c.strip()]
    specs: list[CheckSpec] = []
    for c in checks:
        spec = c if isinstance(c, CheckSpec) else get_check(c)
        if spec.needs_tpf:
            raise JaxvetInputError(
                f"check {spec.id} needs pixel data; campaigns inject into light curves only"
            )
        if any(s.id == spec.id for s in specs):
            continue
        specs.append(spec)
    if not specs:
        raise JaxvetInputError(f"no checks in {checks!r}")
    return specs


def auto_chunk_size(n_points: int, n_devices: int) -> int:
    k = max(8, min(1024, TARGET_CHUNK_ELEMENTS // max(n_points, 1)))
    k = 1 << (k.bit_length() - 1)  # power of two (floor)
    return round_to_devices(k, n_devices)


def round_to_devices(k: int, n_devices: int) -> int:
    return -(-int(k) // n_devices) * n_devices

