"""`--format text`: a table per lab, and under it what to fix first."""
from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from aisys.grading.report import LabResult, Report

STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "magenta",
         "not_implemented": "yellow"}
LABEL = {"not_implemented": "not started"}


def lab_table(lab: LabResult) -> Group:
    table = Table(title=f"lab {lab.number:02d} {lab.slug} — {lab.score:g} / {lab.max_score:g}",
                  title_justify="left", expand=False)
    for column in ("exercise", "file", "score", "status", "cases"):
        table.add_column(column, justify="right" if column == "score" else "left")
    notes = []
    for ex in lab.exercises:
        passed = sum(c.status == "passed" for c in ex.cases)
        table.add_row(ex.name, ex.file, f"{ex.score:g}/{ex.max_score:g}",
                      Text(LABEL.get(ex.status, ex.status), style=STYLE[ex.status]),
                      f"{passed}/{len(ex.cases)}")
        for case in ex.cases:
            if case.status in ("failed", "error", "timeout"):
                notes.append(_note(ex.name, ex.hint, case))
    return Group(table, *notes[:12], *([Text(f"… and {len(notes) - 12} more")] if len(notes) > 12 else []))


def _note(exercise: str, hint: str, case) -> Text:
    text = Text(f"  {exercise} / {case.id}: ", style="bold")
    text.append(f"{case.status}: ", style=STYLE[case.status])
    text.append(case.message.strip())
    if hint and case.status == "failed":
        text.append(f"\n    hint: {hint}", style="dim")
    if case.output.strip():
        text.append(f"\n    your output: {case.output.strip()[:300]}", style="dim")
    return text


def summary(report: Report) -> Text:
    line = Text(f"total {report.score:g} / {report.max_score:g}   seed {report.seed}   "
                f"labs dir {report.labs_dir}", style="bold")
    if report.seed != 0:
        line.append("\nthis run used a non-public seed: the public checks are a guide; "
                    "hidden inputs decide the grade", style="dim")
    return line


def render_text(report: Report) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=110, no_color=True, highlight=False)
    for lab in report.labs:
        console.print(lab_table(lab))
    console.print(summary(report))
    return buffer.getvalue()
