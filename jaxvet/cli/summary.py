"""The human-readable result table printed by ``jaxvet vet`` and ``jaxvet demo``."""

from __future__ import annotations

__all__ = ["format_summary"]


def format_summary(report) -> str:
    """A readable table: one line per candidate, verdict (or status) per check."""
    lines = []
    head = f"{'candidate':<14} {'P [d]':>9} {'D [h]':>6} " + " ".join(f"{c:>13}" for c in report.checks)
    lines.append(head)
    lines.append("-" * len(head))
    for i, (c, res) in enumerate(zip(report.candidates, report.results, strict=True)):
        cells = []
        for cid in report.checks:
            r = res.get(cid)
            cells.append(f"{(r.verdict or r.status) if r else '-':>13}")
        lines.append(
            f"{(c.id or str(i))[:14]:<14} {c.period_days:>9.4f} {c.duration_hours:>6.2f} " + " ".join(cells)
        )
    return "\n".join(lines)
