"""The human-readable result table printed by ``jaxvet vet`` and ``jaxvet demo``."""

from __future__ import annotations

from jaxvet.checks import headline_metrics

__all__ = ["format_summary", "headline_line", "signal_line", "disposition_line", "DETAIL_MAX_CANDIDATES"]

#: up to this many candidates, the summary adds one line of headline metrics per candidate
DETAIL_MAX_CANDIDATES = 20


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def headline_line(cand_id: str, results: dict) -> str:
    """``"  <id>: V01: oe_box_sigma_robust=0.828, ...; V02: ..."``: each check's headline metrics
    (:func:`jaxvet.checks.headline_metrics`, the verdict statistic first)."""
    parts = []
    for cid, r in results.items():
        vals = [f"{k}={_fmt(r.metrics[k])}" for k in headline_metrics(cid) if k in (r.metrics or {})]
        if vals:
            parts.append(f"{cid}: " + ", ".join(vals))
    return f"  {cand_id}: " + "; ".join(parts)


def signal_line(report, i: int) -> str:
    """``"  <id>: NO_SIGNAL (depth -23 +- 18 ppm, SNR -1.3, 8 transits on the data)"`` for a
    candidate with run-level flags, else ``""``."""
    flags = report.flags(i) if hasattr(report, "flags") else []
    if not flags:
        return ""
    c = report.candidates[i]
    s = report.signal[i] if report.signal is not None else None
    if s is None:
        return f"  {c.id or str(i)}: {', '.join(flags)}"
    what = (f"depth {s['depth_ppm']:.0f} +- {s['depth_err_ppm']:.0f} ppm, SNR {s['snr']:.2g}"
            if s["depth_ppm"] is not None else "no in-transit points")
    n_tr = s["n_transits_on_data"]
    return f"  {c.id or str(i)}: {', '.join(flags)} ({what}, {n_tr} transit(s) on the data)"


def disposition_line(report, i: int) -> str:
    """``"  <id>: disposition FP (ODD_EVEN, V_SHAPE) [jaxvet-default@4]"``, or ``""`` when the
    run did not disposition its candidates."""
    disp = getattr(report, "dispositions", None)
    if disp is None:
        return ""
    d = disp[i]
    c = report.candidates[i]
    why = f" ({', '.join(d['reasons'])})" if d["reasons"] else ""
    return f"  {c.id or str(i)}: disposition {d['class']}{why} [{d['policy']}]"


def format_summary(report, *, details: bool | None = None) -> str:
    """A readable table: one line per candidate (period, duration, depth, then the verdict or
    status of each check); with ``details`` (default: up to :data:`DETAIL_MAX_CANDIDATES`
    candidates) one line of headline metrics per candidate below it."""
    lines = []
    head = f"{'candidate':<14} {'P [d]':>9} {'D [h]':>6} {'depth [ppm]':>11} " + " ".join(
        f"{c:>13}" for c in report.checks
    )
    lines.append(head)
    lines.append("-" * len(head))
    for i, (c, res) in enumerate(zip(report.candidates, report.results, strict=True)):
        cells = []
        for cid in report.checks:
            r = res.get(cid)
            cells.append(f"{(r.verdict or r.status) if r else '-':>13}")
        depth = report.depth_ppm(i)
        dcell = f"{depth:>11.1f}" if depth is not None else f"{'-':>11}"
        lines.append(
            f"{(c.id or str(i))[:14]:<14} {c.period_days:>9.4f} {c.duration_hours:>6.2f} {dcell} "
            + " ".join(cells)
        )
    for i in range(len(report.candidates)):
        line = signal_line(report, i)
        if line:
            lines.append(line)
    for i in range(len(report.candidates)):
        line = disposition_line(report, i)
        if line:
            lines.append(line)
    if details is None:
        details = len(report.candidates) <= DETAIL_MAX_CANDIDATES
    if details:
        for i, (c, res) in enumerate(zip(report.candidates, report.results, strict=True)):
            lines.append(headline_line(c.id or str(i), res))
    return "\n".join(lines)
