"""`--format text`: a table per lab, and under it what to fix first."""
from __future__ import annotations

import io

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from aisys.grading.report import LabResult, Report

STYLE = {"passed": "green", "failed": "red", "error": "red", "timeout": "magenta",
         "not_implemented": "yellow"}
LABEL = {"not_implemented": "not started"}


def points(value: float) -> str:
    """Scores as people write them: 11.8, not 11.7857 (the JSON report keeps the precision)."""
    return f"{round(value, 1):g}"


def lab_table(lab: LabResult) -> Group:
    table = Table(title=f"lab {lab.number:02d} {lab.slug} — {points(lab.score)} / {points(lab.max_score)}",
                  title_justify="left", expand=False)
    for column in ("exercise", "file", "score", "status", "cases"):
        table.add_column(column, justify="right" if column == "score" else "left")
    notes = []
    for ex in lab.exercises:
        passed = sum(c.status == "passed" for c in ex.cases)
        table.add_row(ex.name, ex.file, f"{points(ex.score)}/{points(ex.max_score)}",
                      Text(LABEL.get(ex.status, ex.status), style=STYLE[ex.status]),
                      f"{passed}/{len(ex.cases)}")
        said: dict[str, list[str]] = {}    # one note per distinct message (a broken file breaks every case)
        for case in ex.cases:
            if case.status in ("failed", "error", "timeout"):
                said.setdefault(case.message.strip(), []).append(case.id)
        for message, ids in said.items():
            notes.append(_note(ex.name, next(c for c in ex.cases if c.id == ids[0]), ids))
        if ex.hint and any(c.status == "failed" for c in ex.cases):
            notes.append(Padding(Text(f"hint for {ex.name}: {ex.hint}", style="dim"), (0, 0, 0, 4)))
    more = [Text(f"  … and {len(notes) - 12} more (--format json lists every case)")] if len(notes) > 12 else []
    return Group(table, *notes[:12], *more)


def _note(exercise: str, case, ids: list[str]) -> Padding:
    more = len(ids) - 1
    cases = f"{ids[0]} (and {more} more case{'s' if more > 1 else ''})" if more else ids[0]
    text = Text(f"{exercise} / {cases}: ", style="bold")
    text.append(f"{case.status}: ", style=STYLE[case.status])
    text.append(case.message.strip())
    if case.output.strip():
        text.append(f"\nyour output: {case.output.strip()[:300]}", style="dim")
    return Padding(text, (0, 0, 0, 2))


def summary(report: Report) -> Text:
    seed = "hidden" if report.seed_hidden else report.seed
    line = Text(f"total {points(report.score)} / {points(report.max_score)}   seed {seed}   "
                f"labs dir {report.labs_dir}", style="bold")
    for note in report.notes:
        line.append(f"\nnote on your submission: {note}", style="yellow")
    isolation = report.extra.get("isolation", {}).get("mode")
    if isolation:
        line.append(f"\nisolation: {isolation}", style="dim")
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
