"""jaxvet: batched, jit-compiled vetting checks for TESS transit candidates.

Quick start::

    import jaxvet
    lc = jaxvet.read_lightcurves(["sector82_pdcsap.csv", "sector83_pdcsap.csv"])
    cand = jaxvet.Candidate(period_days=14.2423724, t0_btjd=3540.26317, duration_hours=4.046)
    report = jaxvet.vet(lc, [cand], checks="V01,V04,V05,V21", seed=0)
    report[0]["V21"].metrics["chi2_p_value"]

``import jaxvet`` switches JAX to 64-bit mode (the precision policy, see ``docs/architecture.md``).
"""

import sys

from jaxvet import _config  # noqa: F401  (x64 before anything else)
from jaxvet._config import enable_compilation_cache  # noqa: E402
from jaxvet._version import __version__  # noqa: E402

# `jaxvet.campaign(...)` runs a campaign (the module is callable); jaxvet.campaign.* is the module
from jaxvet.campaigns import lightcurve as campaign  # noqa: E402
from jaxvet.checks import available_checks
from jaxvet.data import Candidate, CandidateBatch, LightCurve, LightCurveBatch, stitch
from jaxvet.engine.runner import vet
from jaxvet.errors import DataFileError, JaxvetInputError, UnknownCheckError
from jaxvet.io import read_candidates, read_lightcurve, read_lightcurves

# `from jaxvet.campaign import run_campaign` imports the same module
sys.modules[f"{__name__}.campaign"] = campaign

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
    "enable_compilation_cache",
]
