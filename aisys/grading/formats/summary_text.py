"""The class summary in the terminal: per-exercise statistics and a histogram of totals."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from aisys.grading.gradebook import Summary


def summary_view(summary: Summary, width: int = 30) -> Group:
    table = Table(title=f"class summary — {summary.students} students", title_justify="left")
    for column, justify in (("exercise", "left"), ("mean", "right"), ("median", "right"),
                            ("full marks", "right"), ("most common failing case (students)", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for s in summary.exercises:
        table.add_row(s.column, f"{s.mean:.1f}/{s.max_score:g}", f"{s.median:g}", f"{100 * s.full_share:.0f}%",
                      Text(f"{s.common_failure} ({s.common_count})" if s.common_count else "—"))
    top = max((n for _, n in summary.histogram), default=0) or 1
    bars = Table(title=f"totals (out of {summary.max_total:g})", title_justify="left", show_header=False,
                 box=None, padding=(0, 1))
    bars.add_column(justify="right", no_wrap=True)
    bars.add_column(no_wrap=True)
    for label, n in summary.histogram:
        bars.add_row(label, Text("█" * round(width * n / top) + f" {n}"))
    flags = [Text("copies of the reference (staff only; a person should look — short answers can match):",
                  style="bold")] + [Text(f"  {flag}") for flag in summary.flags] if summary.flags else []
    return Group(table, bars, *flags)
