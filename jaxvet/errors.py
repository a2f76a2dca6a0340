"""Errors raised at jaxvet's boundary.

Bad *input* (a non-positive period, unsorted times, an unreadable file, an unknown check id)
is rejected before anything is compiled, with a one-line message that names the field, file
or id and the offending value.  Degenerate *data* (too few points, a duration longer than
half the period) never raises: it becomes a per-candidate ``status`` and ``flags``.
"""

from __future__ import annotations

__all__ = ["JaxvetInputError", "DataFileError", "UnknownCheckError", "JaxvetWarning", "NoTransitWarning"]


class JaxvetInputError(ValueError):
    """Invalid user input; the message names the field and the value."""


class DataFileError(JaxvetInputError):
    """A light-curve or pixel file that is missing, unreadable, empty or lacks columns."""


class UnknownCheckError(JaxvetInputError):
    """A check id that jaxvet does not implement."""


class JaxvetWarning(UserWarning):
    """Something about the input that the results depend on (shown once per call)."""


class NoTransitWarning(JaxvetWarning):
    """A candidate none of whose transits falls on the data (check t0 and its time system)."""
