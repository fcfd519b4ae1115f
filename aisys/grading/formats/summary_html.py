"""`summary.html`: one self-contained page an instructor opens in a browser.

No scripts, no network, no external CSS or fonts: the histogram and the per-exercise bars
are inline SVG, the tables plain HTML. Every string that came from a submission or a
folder name is HTML-escaped.
"""
from __future__ import annotations

import html

from aisys.grading.gradebook import Row, Summary

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; } th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #666; } svg text { font: 11px system-ui, sans-serif; fill: #333; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def histogram_svg(summary: Summary, width: int = 640, height: int = 220) -> str:
    bins = summary.histogram
    top = max((n for _, n in bins), default=0) or 1
    pad, bar_w = 30, (width - 40) / max(1, len(bins))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="histogram of totals">']
    for i, (label, n) in enumerate(bins):
        h = (height - 2 * pad) * n / top
        x, y = 30 + i * bar_w, height - pad - h
        parts.append(f'<rect class="bin" x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
                     f'fill="#4a7bd0"><title>{_e(label)}: {n}</title></rect>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - pad + 14}" text-anchor="middle">{_e(label)}</text>')
        if n:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bar(share: float, width: int = 120) -> str:
    filled = max(0.0, min(1.0, share)) * width
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="12" role="img">'
            f'<rect width="{width}" height="12" fill="#e6e6e6"/><rect class="share" width="{filled:.1f}" '
            f'height="12" fill="#3a9a5b"/></svg>')


def _flags(summary: Summary) -> str:
    if not summary.flags:
        return ""
    items = "".join(f"<li>{_e(flag)}</li>" for flag in summary.flags)
    return ("<h2>Copies of the reference</h2><p class=muted>Staff only. A hint for a person to look at: "
            f"short answers can match honestly.</p><ul id=\"flags\">{items}</ul>\n")


def render_summary_html(summary: Summary, rows: list[Row], title: str) -> str:
    exercises = "".join(
        f"<tr><td>{_e(s.column)}</td><td class=num>{s.mean:.1f} / {s.max_score:g}</td>"
        f"<td class=num>{s.median:g}</td><td>{_bar(s.full_share)} {100 * s.full_share:.0f}%</td>"
        f"<td>{_e(s.common_failure) or '<span class=muted>—</span>'}"
        f"{f' <span class=muted>({s.common_count})</span>' if s.common_count else ''}</td></tr>"
        for s in summary.exercises)
    students = "".join(
        f"<tr><td>{_e(row.student)}</td><td>{_e(row.ident)}</td>"
        f"<td class=num>{(row.report.score if row.report else 0):g}</td>"
        f"<td class=muted>{_e(row.note)}</td></tr>" for row in rows)
    mean = sum(summary.totals) / len(summary.totals) if summary.totals else 0.0
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{_e(title)}</h1>
<p>{summary.students} students · mean total {mean:.1f} / {summary.max_total:g}</p>
<h2>Totals</h2>
{histogram_svg(summary)}
<h2>Exercises</h2>
<table id="exercises"><tr><th>exercise</th><th>mean</th><th>median</th><th>at full marks</th>
<th>most common failing case (students)</th></tr>
{exercises}</table>
{_flags(summary)}<h2>Students</h2>
<table id="students"><tr><th>student</th><th>id</th><th>total</th><th>note</th></tr>
{students}</table>
</body></html>
"""
