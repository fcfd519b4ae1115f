"""A class's grades as plain data: the gradebook CSV and the summary statistics.

`grades.csv` has one row per student: `student`, `id` (the platform's: Canvas user id,
Moodle participant id, Gradescope sid or email; empty for plain folders), then one column per
exercise (`01 graph: topo_sort`), one per lab (`lab 01 graph`), and `total` last — a shape
Canvas's and Moodle's gradebook imports map column by column. The summary says, per exercise, the mean,
the median, the share of students at full marks and the most common failing case, and
bins the totals into a histogram. A student whose grading failed outright gets a row of
zeros and the reason.
"""
from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field

from aisys.catalog import Lab
from aisys.grading.report import Report


@dataclass
class Row:
    student: str
    report: Report | None
    note: str = ""            # why there is no report, or what the roster noticed
    ident: str = ""           # the platform's id: Canvas user, Moodle participant, Gradescope sid or email


@dataclass
class ExerciseStats:
    column: str
    max_score: float
    mean: float
    median: float
    full_share: float         # fraction of students at full marks
    common_failure: str       # "case id: message" most often seen among those who lost points
    common_count: int


@dataclass
class Summary:
    students: int
    max_total: float
    totals: list[float] = field(default_factory=list)
    exercises: list[ExerciseStats] = field(default_factory=list)
    histogram: list[tuple[str, int]] = field(default_factory=list)   # (bin label, students)
    flags: list[str] = field(default_factory=list)   # staff-only: submissions equal to the reference


def columns(labs: list[Lab], only: dict[str, set[str]] | None = None) -> tuple[list[tuple], list[Lab]]:
    """[(lab, exercise)] in catalog order, limited to the graded exercises."""
    chosen = [(lab, ex) for lab in labs for ex in lab.exercises
              if not (only or {}).get(lab.slug) or ex.name in only[lab.slug]]
    return chosen, labs


def _score(report: Report | None, lab: Lab, exercise: str | None = None) -> float:
    if report is None:
        return 0.0
    for result in report.labs:
        if result.slug == lab.slug:
            if exercise is None:
                return result.score
            return next((ex.score for ex in result.exercises if ex.name == exercise), 0.0)
    return 0.0


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: never from a folder name."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grades_csv(rows: list[Row], labs: list[Lab], only: dict[str, set[str]] | None = None) -> str:
    chosen, _ = columns(labs, only)
    graded_labs = [lab for lab in labs if any(l is lab for l, _ in chosen)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "id", *(f"{lab.number:02d} {lab.slug}: {ex.name}" for lab, ex in chosen),
                     *(f"lab {lab.number:02d} {lab.slug}" for lab in graded_labs), "total"])
    for row in rows:
        cells = [f"{_score(row.report, lab, ex.name):g}" for lab, ex in chosen]
        labs_cells = [f"{_score(row.report, lab):g}" for lab in graded_labs]
        total = row.report.score if row.report is not None else 0.0
        writer.writerow([_cell(row.student), _cell(row.ident), *cells, *labs_cells, f"{total:g}"])
    return "\ufeff" + out.getvalue()         # a byte-order mark: spreadsheets then read the names as UTF-8


def summarize(rows: list[Row], labs: list[Lab], only: dict[str, set[str]] | None = None,
              bins: int = 10) -> Summary:
    chosen, _ = columns(labs, only)
    max_total = sum(ex.points for _, ex in chosen)
    totals = [row.report.score if row.report is not None else 0.0 for row in rows]
    summary = Summary(students=len(rows), max_total=max_total, totals=totals)
    for lab, ex in chosen:
        scores = [_score(row.report, lab, ex.name) for row in rows]
        failures: Counter = Counter()
        for row in rows:
            for case in _cases(row.report, lab, ex.name):
                if case.status != "passed":
                    status = "not started" if case.status == "not_implemented" else case.status
                    said = _gist(case.message.replace(f"{row.student}: ", ""))
                    failures[f"{case.id}: {status}" + (f": {said}" if said and said != status else "")] += 1
                    break                       # one per student: "how many students hit this"
        common, count = failures.most_common(1)[0] if failures else ("", 0)
        summary.exercises.append(ExerciseStats(
            column=f"{lab.number:02d} {lab.slug}: {ex.name}", max_score=ex.points,
            mean=statistics.fmean(scores) if scores else 0.0,
            median=statistics.median(scores) if scores else 0.0,
            full_share=sum(s >= ex.points - 1e-9 for s in scores) / len(scores) if scores else 0.0,
            common_failure=common, common_count=count))
    summary.histogram = histogram(totals, max_total, bins)
    for row in rows:
        same = (row.report.extra.get("matches_reference") or []) if row.report is not None else []
        if same:
            summary.flags.append(f"{row.student}: {len(same)} exercise(s) equal the reference answer "
                                 f"({', '.join(x.split(': ')[-1] for x in same[:4])}{', …' if len(same) > 4 else ''})")
    return summary


def _gist(message: str) -> str:
    """One line of a message: for a traceback its last line (the exception), else its first."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return (lines[-1] if lines[0].startswith("File ") else lines[0])[:120]


def _cases(report: Report | None, lab: Lab, exercise: str) -> list:
    if report is None:
        return []
    for result in report.labs:
        if result.slug == lab.slug:
            for ex in result.exercises:
                if ex.name == exercise:
                    return ex.cases
    return []


def histogram(totals: list[float], max_total: float, bins: int = 10) -> list[tuple[str, int]]:
    """Students per score band: [0, 10%), [10%, 20%), …, [90%, 100%]."""
    if max_total <= 0:
        return [("0", len(totals))]
    width = max_total / bins
    counts = [0] * bins
    for total in totals:
        counts[min(bins - 1, max(0, int(total / width)))] += 1
    return [(f"{i * width:g}–{(i + 1) * width:g}", n) for i, n in enumerate(counts)]
