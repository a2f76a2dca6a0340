"""One page per candidate: the vetting sheet, and an HTML index of a run's sheets.

:func:`plot_sheet` lays out, on one landscape page, the panels of the checks that ran (each drawn
by that check's plotter from ``raw["plot_data"]``): the phase-folded transit with the fitted
trapezoid (V05), odd vs even transits (V01), the phase-0.5 window (V02), per-epoch depths (V04),
per-sector depths (V21), the pixel panels (V09 difference image, V08 centroid shift) when stamps
were given, and a table of every check's status, verdict and key metrics; under the title, the
candidate's disposition (class, reason codes, policy; docs/disposition.md).  A panel whose check
did not run or was skipped says so.  :func:`write_report` writes ``<id>.png`` and ``<id>.pdf``
per candidate and ``index.html``, a table of all candidates sortable by any column, with
thumbnails linking to the sheets.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from jaxvet.checks import headline_metrics
from jaxvet.results import CheckResult

__all__ = ["plot_sheet", "write_report", "sheet_filename"]

#: the panels of a sheet, in reading order: (check id, plotter module:function)
PANELS = (
    ("V05", "v05:plot_transit_shape"),
    ("V01", "v01:plot_odd_even_folded"),
    ("V02", "v02:plot_secondary_eclipse"),
    ("V04", "v04:plot_depth_stability"),
    ("V21", "v21:plot_sector_consistency"),
    ("V09", "pixels:plot_difference_image"),
)


def sheet_filename(candidate_id: str) -> str:
    """A file-system-safe stem for a candidate id (``TOI-5807.01`` stays readable)."""
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(candidate_id)).strip("._")
    return stem or "candidate"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _key_metrics(r: CheckResult) -> str:
    names = [k for k in headline_metrics(r.id) if k in r.metrics]
    if not names:
        numeric = [k for k, v in r.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        names = numeric[:3]
    return ", ".join(f"{k}={_fmt(r.metrics[k])}" for k in names[:3])


def _panel(ax, cid: str, spec: str, r: CheckResult | None):
    import importlib

    if r is None or r.status != "ok" or not (r.raw or {}).get("plot_data"):
        why = "not run" if r is None else (r.status if r.status != "ok" else "no plot data")
        ax.text(0.5, 0.5, f"{cid}: {why}", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    mod, fn = spec.split(":")
    plot = getattr(importlib.import_module(f"jaxvet.plotting.{mod}"), fn)
    plot(r, ax=ax)
    ax.set_title(f"{cid} {r.name} - {r.verdict or r.status}", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.xaxis.label.set_size(8)
    ax.yaxis.label.set_size(8)
    if ax.get_legend() is not None:  # a panel's legend stays inside its own axes on a sheet
        if ax.child_axes:  # an inset takes the room a legend would need
            ax.get_legend().remove()
        else:
            ax.legend(fontsize=6, loc="best", framealpha=0.8)


def _table(ax, results: dict[str, CheckResult]):
    ax.axis("off")
    rows = [[cid, r.name, r.status, r.verdict or "-", _key_metrics(r)] for cid, r in sorted(results.items())]
    if not rows:
        ax.text(0.5, 0.5, "no checks", ha="center", va="center")
        return
    tab = ax.table(cellText=rows, colLabels=["check", "name", "status", "verdict", "key metrics"],
                   colWidths=[0.06, 0.2, 0.08, 0.1, 0.56], loc="upper center", cellLoc="left")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7.5)
    tab.scale(1.0, 1.25)
    colours = {"pass": "#d9f2d9", "warn": "#fff2cc", "fail": "#f8d0d0", "insufficient": "#e6e6e6"}
    for i, row in enumerate(rows, start=1):
        tab[i, 3].set_facecolor(colours.get(row[3], "white"))


def plot_sheet(report, index: int, *, fig=None):
    """The sheet of candidate ``index`` of a :class:`~jaxvet.outputs.VetReport`; returns the figure."""
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(11.0, 8.5))
    c = report.candidates[index]
    results = report.results[index]
    depth = report.depth_ppm(index)
    title = (f"{report.candidate_id(index)}   P = {c.period_days:.6g} d   t0 = {c.t0_btjd:.5f} BTJD   "
             f"D = {c.duration_hours:.3g} h" + (f"   depth = {depth:.4g} ppm" if depth is not None else ""))
    fig.suptitle(title, fontsize=11)
    disp = getattr(report, "dispositions", None)
    if disp is not None:
        d = disp[index]
        colour = {"PC": "#1a7f1a", "FP": "#b22222", "FA": "#b8860b"}.get(d["class"], "0.3")
        why = f": {', '.join(d['reasons'])}" if d["reasons"] else ""
        fig.text(0.5, 0.955, f"disposition {d['class']}{why}   [{d['policy']}]", ha="center", va="top",
                 fontsize=9, color=colour, weight="bold")
    grid = fig.add_gridspec(3, 3, height_ratios=[1.0, 1.0, 0.9], hspace=0.45, wspace=0.28,
                            left=0.06, right=0.98, top=0.92, bottom=0.03)
    panels = list(PANELS)
    if "V09" not in results and "V08" in results:  # the pixel panel: V09, else V08
        panels[-1] = ("V08", "pixels:plot_centroid_shift")
    for k, (cid, spec) in enumerate(panels):
        _panel(fig.add_subplot(grid[k // 3, k % 3]), cid, spec, results.get(cid))
    _table(fig.add_subplot(grid[2, :]), results)
    return fig


def write_report(report, out_dir, *, max_sheets: int | None = None, dpi: int = 110) -> Path:
    """Write ``<id>.png``/``<id>.pdf`` sheets (the first ``max_sheets`` candidates) and
    ``index.html`` listing every candidate; returns the index path."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = len(report) if max_sheets is None else min(len(report), max(int(max_sheets), 0))
    stems: list[str | None] = []
    seen: set[str] = set()
    for i in range(len(report)):
        stem = sheet_filename(report.candidate_id(i))
        while stem in seen:
            stem += "_"
        seen.add(stem)
        if i < n:
            fig = plot_sheet(report, i)
            fig.savefig(out / f"{stem}.png", dpi=dpi)
            fig.savefig(out / f"{stem}.pdf")
            plt.close(fig)
            stems.append(stem)
        else:
            stems.append(None)
    index = out / "index.html"
    index.write_text(_index_html(report, stems))
    return index


_SORT_JS = """
function sortBy(col){const t=document.getElementById('cands');const rows=[...t.tBodies[0].rows];
const asc=t.dataset.col==col?t.dataset.asc!='1':true;t.dataset.col=col;t.dataset.asc=asc?'1':'0';
const key=r=>{const v=r.cells[col].dataset.v??r.cells[col].textContent;const f=parseFloat(v);
return isNaN(f)?v:f};rows.sort((a,b)=>{const x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*(asc?1:-1)});
rows.forEach(r=>t.tBodies[0].appendChild(r));}
"""
_VERDICT_RANK = {"fail": 0, "warn": 1, "insufficient": 2, "pass": 3, None: 4}


def _index_html(report, stems: list[str | None]) -> str:
    e = html.escape
    disp = getattr(report, "dispositions", None)
    head = ["sheet", "id", "period (d)", "duration (h)", "depth (ppm)",
            *(["disposition"] if disp is not None else []), *report.checks]
    ths = "".join(f'<th onclick="sortBy({k})">{e(h)}</th>' for k, h in enumerate(head))
    body = []
    for i, stem in enumerate(stems):
        c = report.candidates[i]
        thumb = (f'<a href="{e(stem)}.pdf"><img src="{e(stem)}.png" width="160" alt="sheet"></a>'
                 if stem else "")
        depth = report.depth_ppm(i)
        cells = [f"<td>{thumb}</td>", f"<td>{e(report.candidate_id(i))}</td>",
                 f"<td>{c.period_days:.6g}</td>", f"<td>{c.duration_hours:.3g}</td>",
                 f"<td>{'' if depth is None else f'{depth:.4g}'}</td>"]
        if disp is not None:
            d = disp[i]
            why = e("; ".join(d["reasons"]))
            cells.append(f'<td class="d{e(d["class"])}" title="{why}">{e(d["class"])}</td>')
        for cid in report.checks:
            r = report.results[i].get(cid)
            v = None if r is None else r.verdict
            label = "-" if r is None else (v or r.status)
            cells.append(f'<td class="{e(str(v))}" data-v="{_VERDICT_RANK.get(v, 4)}">{e(label)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    style = ("body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:3px 6px}th{cursor:pointer;background:#eee}.pass{background:#d9f2d9}"
             ".warn{background:#fff2cc}.fail{background:#f8d0d0}.insufficient{background:#e6e6e6}"
             ".dPC{background:#d9f2d9}.dFP{background:#f8d0d0}.dFA{background:#fff2cc}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>jaxvet report</title>"
            f"<style>{style}</style><script>{_SORT_JS}</script></head><body>"
            f"<h1>jaxvet report: {len(report)} candidate(s)</h1>"
            f"<p>Click a column header to sort (verdict columns sort fail, warn, insufficient, pass).</p>"
            f"<table id='cands'><thead><tr>{ths}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"</body></html>")
