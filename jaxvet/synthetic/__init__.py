"""Simulated TESS data with known truth: light curves (:mod:`.lightcurves`) and pixel stamps
(:mod:`.stamps`), for the demo, the tests and injection campaigns."""

from jaxvet.synthetic.lightcurves import SECTOR_DAYS, inject_transits, simulate_lightcurve, trapezoid_profile
from jaxvet.synthetic.stamps import Star, pixel_integrated_gaussian, simulate_tpf

__all__ = [
    "SECTOR_DAYS",
    "simulate_lightcurve",
    "inject_transits",
    "trapezoid_profile",
    "Star",
    "simulate_tpf",
    "pixel_integrated_gaussian",
]
