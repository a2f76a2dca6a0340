"""The result of :func:`jaxvet.vet`: per-candidate :class:`~jaxvet.results.CheckResult` objects,
their JSON form and their table form."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from jaxvet._version import __version__
from jaxvet.data import Candidate
from jaxvet.outputs.schema import SCHEMA_VERSION
from jaxvet.results import CheckResult, to_jsonable

__all__ = ["VetReport", "dumps_report"]

#: placeholder kept by ``to_jsonable`` (an opaque object) until the converted value is put in
_CHECKS = object()


def dumps_report(doc: dict[str, Any]) -> str:
    """The JSON text of a report document (:meth:`VetReport.to_dict` plus extras): the top level
    indented by one space, each entry of ``candidates`` on one line.  Candidates go through the
    C encoder (``json`` uses it only without ``indent``), so a large report is written ~10x
    faster than with ``json.dumps(doc, indent=1)``; ``json.loads`` gives the same document.
    Non-finite floats are an error (``allow_nan=False``), as in ``json.dumps``."""
    cands = doc.get("candidates")
    if not isinstance(cands, list):
        return json.dumps(doc, indent=1, allow_nan=False)
    mark = f"@@candidates-{uuid.uuid4().hex}@@"
    head = json.dumps({**doc, "candidates": mark}, indent=1, allow_nan=False)
    enc = json.JSONEncoder(allow_nan=False).encode
    block = "[\n" + ",\n".join(enc(c) for c in cands) + "\n ]" if cands else "[]"
    return head.replace(json.dumps(mark), block, 1)


@dataclass
class VetReport:
    """Results of a vetting run: ``report[i][check_id]`` is candidate ``i``'s result of a check.

    ``notes`` are run-level remarks (input conversions such as a t0 given in BJD), recorded in
    the JSON.  ``to_json()`` gives the JSON of ``jaxvet vet --json`` (``include_raw=True`` adds
    each result's arrays and ``plot_data``); ``to_table()`` one row per candidate.
    """

    candidates: list[Candidate]
    checks: list[str]
    results: list[dict[str, CheckResult]]
    depth_estimates_ppm: list[float | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: masks of the run (:func:`jaxvet.vet` ``mask``/``mask_others``), or None: ``{"masks": [...],
    #: "n_rows", "mask_others", "candidates": [{"masks": [ids], "n_masked_points"}, ...]}``
    masking: dict[str, Any] | None = None
    #: per candidate, the whole-light-curve signal record (:mod:`jaxvet.engine.signal`): depth,
    #: its error and SNR, transits on the data and the candidate-level ``flags`` (``NO_SIGNAL``,
    #: ``NO_TRANSIT_ON_DATA``); None when the run did not measure it (``estimate_depth=False``)
    signal: list[dict[str, Any]] | None = None
    #: detrending of the run (:func:`jaxvet.vet` ``detrend``), or None: the options
    #: (``method``, ``window_days``, ``window_rule``, ...), ``n_rows`` and ``candidates`` (per
    #: candidate: ``row``, ``window_days``, ``n_trend_points``, ``n_transit_points``, ...)
    detrending: dict[str, Any] | None = None
    #: per candidate: the out-of-transit variability measurement and its ``flag``
    #: (:func:`jaxvet.detrending.assess_variability`), or None when not assessed
    variability: list[dict[str, Any]] | None = None
    #: per candidate: ``{"class", "reasons", "policy", "checks_used"}`` from the run's
    #: disposition policy (:mod:`jaxvet.disposition`), or None when not dispositioned
    dispositions: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, i: int) -> dict[str, CheckResult]:
        return self.results[i]

    def candidate_id(self, i: int) -> str:
        c = self.candidates[i]
        return c.id if c.id is not None else str(i)

    def depth_ppm(self, i: int) -> float | None:
        """The candidate's depth: the one given, else the run's estimate (or None)."""
        c = self.candidates[i]
        if c.depth_ppm is not None:
            return c.depth_ppm
        return self.depth_estimates_ppm[i] if i < len(self.depth_estimates_ppm) else None

    def flags(self, i: int) -> list[str]:
        """Candidate ``i``'s run-level flags: ``NO_SIGNAL`` and ``NO_TRANSIT_ON_DATA`` from the
        signal record, ``OOT_VARIABILITY`` from the variability assessment (empty where neither
        was measured)."""
        out = list(self.signal[i]["flags"]) if self.signal is not None else []
        if self.variability is not None and self.variability[i] and self.variability[i].get("flag"):
            out.append("OOT_VARIABILITY")
        return out

    def to_dict(self, include_raw: bool = True) -> dict[str, Any]:
        out = []
        for i, (c, res) in enumerate(zip(self.candidates, self.results, strict=True)):
            out.append(
                {
                    "id": self.candidate_id(i),
                    "period_days": c.period_days,
                    "t0_btjd": c.t0_btjd,
                    "duration_hours": c.duration_hours,
                    "depth_ppm": self.depth_ppm(i),
                    "checks": _CHECKS,
                }
            )
            if self.signal is not None:
                out[-1]["signal"] = {k: v for k, v in self.signal[i].items() if k != "flags"}
                out[-1]["flags"] = self.flags(i)
            if self.masking is not None:
                out[-1]["masking"] = self.masking["candidates"][i]
            if self.detrending is not None:
                out[-1]["detrending"] = self.detrending["candidates"][i]
            if self.variability is not None:
                out[-1]["variability"] = self.variability[i]
            if self.dispositions is not None:
                out[-1]["disposition"] = self.dispositions[i]
            out[-1] = to_jsonable(out[-1])
            # CheckResult.to_dict is already JSON-safe: not converted twice (same key position)
            out[-1]["checks"] = {cid: r.to_dict(include_raw=include_raw) for cid, r in res.items()}
        doc = {
            "jaxvet_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "checks": self.checks,
            "notes": list(self.notes),
            "candidates": _CHECKS,
        }
        if self.masking is not None:
            doc["masking"] = {k: v for k, v in self.masking.items() if k != "candidates"}
        if self.detrending is not None:
            doc["detrending"] = {k: v for k, v in self.detrending.items() if k != "candidates"}
        doc = to_jsonable(doc)
        doc["candidates"] = out
        return doc

    def to_json(self, include_raw: bool = True, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(include_raw), indent=indent, allow_nan=False)

    def to_table(self):
        """An astropy Table, one row per candidate (see :func:`jaxvet.outputs.table.report_table`)."""
        from jaxvet.outputs.table import report_table

        return report_table(self)

    def to_pandas(self):
        """The table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise ImportError("VetReport.to_pandas needs pandas: pip install pandas") from None
        return self.to_table().to_pandas()

    def write_table(self, path) -> None:
        """Write :meth:`to_table` to ``path``; the format follows the extension
        (``.parquet``, ``.csv``, ``.ecsv``, ``.fits``)."""
        from jaxvet.outputs.table import write_table

        write_table(self, path)

    def summary_table(self):
        """Status and verdict per check (the first columns of :meth:`to_table`)."""
        t = self.to_table()
        keep = ["id", "period_days", "duration_hours"] + [
            c for cid in self.checks for c in (f"{cid}_status", f"{cid}_verdict")
        ]
        return t[keep]
