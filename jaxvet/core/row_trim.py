"""Padded light-curve rows cut to the points they hold.

:class:`~jaxvet.data.LightCurveBatch` rows are padded to a power of two (73,805 points become
131,072) with the valid points packed first; a kernel that folds the whole row per candidate
pays for the padding on every candidate.  :func:`trimmed_width` is the row width that still
holds every valid point (rounded up to a multiple of :data:`WIDTH_STEP`, so the light curves of
one run share a compiled shape), and :func:`trim_rows` cuts arrays to it.  Padding slots carry
``mask = False`` and sort after every real time, so the cut changes no result.
"""

from __future__ import annotations

import numpy as np

__all__ = ["WIDTH_STEP", "trimmed_width", "trim_rows"]

#: row widths are multiples of this (a few per cent above the longest light curve at most)
WIDTH_STEP = 2048


def trimmed_width(n_valid, n_points: int) -> int:
    """Host: the smallest multiple of :data:`WIDTH_STEP` holding ``max(n_valid)`` points, at
    most ``n_points`` (the padded width)."""
    n_valid = np.asarray(n_valid)
    longest = int(n_valid.max()) if n_valid.size else 0
    width = -(-max(longest, 1) // WIDTH_STEP) * WIDTH_STEP
    return int(min(width, n_points))


def trim_rows(width: int, *rows):
    """Each ``(..., N)`` array of ``rows`` cut to its first ``width`` points."""
    return tuple(r[..., :width] for r in rows)
