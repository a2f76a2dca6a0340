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

__version__ = "0.1.0"

# `jaxvet.campaign(...)` runs a campaign (the module is callable); jaxvet.campaign.* is the module
from . import campaign  # noqa: E402
from .checks import available_checks
from .data import Candidate, CandidateBatch, LightCurve, LightCurveBatch, stitch
from .errors import DataFileError, JaxvetInputError, UnknownCheckError
from .io import read_candidates, read_lightcurve, read_lightcurves
from .vet import vet

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
