"""What a vetting run hands back: the :class:`VetReport`, its JSON (with a published JSON Schema)
and its result table (astropy / parquet / CSV / ECSV / FITS)."""

from jaxvet.outputs.report import VetReport
from jaxvet.outputs.schema import SCHEMA_VERSION, load_schema, validate_report
from jaxvet.outputs.table import report_table, write_table

__all__ = ["VetReport", "report_table", "write_table", "SCHEMA_VERSION", "load_schema", "validate_report"]
