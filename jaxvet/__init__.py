"""jaxvet: batched, jit-compiled vetting checks for TESS transit candidates."""
from . import _config  # noqa: F401  (x64 before anything else)
from .data import Candidate, CandidateBatch, LightCurve, LightCurveBatch, stitch
from .errors import DataFileError, JaxvetInputError, UnknownCheckError

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Candidate",
    "CandidateBatch",
    "LightCurve",
    "LightCurveBatch",
    "stitch",
    "DataFileError",
    "JaxvetInputError",
    "UnknownCheckError",
]
