"""The pixel layer's public names in one place (kept for ``from jaxvet.pixels import read_tpf``).

The code lives in :mod:`jaxvet.stamps` (the host stamp model, preparation and geometry),
:mod:`jaxvet.io.pixels` (readers) and :mod:`jaxvet.core.pixels` (pure kernels).
"""

from __future__ import annotations

from jaxvet.io.pixels import read_tpf
from jaxvet.stamps import TESS_PIXEL_SCALE_ARCSEC, TPFStamp, lc_tpf_overlap, sky_jacobian, stamp_target_pixel

__all__ = [
    "TESS_PIXEL_SCALE_ARCSEC",
    "TPFStamp",
    "read_tpf",
    "lc_tpf_overlap",
    "stamp_target_pixel",
    "sky_jacobian",
]
