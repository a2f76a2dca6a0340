"""The published JSON layout of a vetting report (``vet_report.schema.json``, JSON Schema
draft 2020-12) and a validator for it."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_VERSION", "load_schema", "validate_report"]

#: version of the JSON layout; bumped when a field is renamed or removed
SCHEMA_VERSION = "1"


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The JSON Schema of :meth:`jaxvet.outputs.VetReport.to_dict` (shipped in the package)."""
    text = resources.files("jaxvet.outputs").joinpath("vet_report.schema.json").read_text()
    return json.loads(text)


def validate_report(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``doc`` does not follow the schema (needs jsonschema)."""
    try:
        import jsonschema
    except ImportError:
        raise ImportError("validate_report needs jsonschema: pip install jsonschema") from None
    jsonschema.validate(doc, load_schema())
