"""jaxvet: batched, jit-compiled vetting checks for TESS transit candidates.

Quick start::

    import jaxvet
    lc = jaxvet.read_lightcurves(["sector82_pdcsap.csv", "sector83_pdcsap.csv"])
    cand = jaxvet.Candidate(period_days=14.2423724, t0_btjd=3540.26317, duration_hours=4.046)
    report = jaxvet.vet(lc, [cand], checks="V01,V04,V05,V21", seed=0)
    report[0]["V21"].metrics["chi2_p_value"]

``import jaxvet`` switches JAX to 64-bit mode (the precision policy, see ``docs/architecture.md``).
"""

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
    "vet",
    "read_lightcurve",
    "read_lightcurves",
    "read_candidates",
    "campaign",
    "available_checks",
]


def __getattr__(name):
    """Lazy re-exports (keeps ``import jaxvet`` light)."""
    if name == "vet":
        from .vet import vet

        return vet
    if name in ("read_lightcurve", "read_lightcurves", "read_candidates"):
        from . import io

        return getattr(io, name)
    if name == "available_checks":
        from .checks import available_checks

        return available_checks
    if name == "campaign":
        from .campaign import run_campaign

        return run_campaign
    raise AttributeError(f"module 'jaxvet' has no attribute {name!r}")
