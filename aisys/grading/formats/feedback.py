"""Plain-text feedback shared by the file formats (Gradescope, JUnit): what a student reads."""
from __future__ import annotations

from aisys.grading.report import ExerciseResult, LabResult, Report

LABEL = {"not_implemented": "not started"}
MAX_CASE_OUTPUT = 300


def case_line(case) -> str:
    line = f"{case.id}: {LABEL.get(case.status, case.status)}"
    if case.status != "passed" and case.message.strip() not in ("", LABEL.get(case.status, case.status)):
        line += f": {case.message.strip()}"
    if case.status != "passed" and case.output.strip():
        line += f"\n    your output: {case.output.strip()[:MAX_CASE_OUTPUT]}"
    return line


def exercise_feedback(ex: ExerciseResult) -> str:
    """Each case's status; for the ones that did not pass, why (never the expected values)."""
    passed = sum(c.status == "passed" for c in ex.cases)
    if ex.status == "not_implemented":
        return f"0 / {ex.max_score:g} points: not started (edit {ex.file}: {ex.name})"
    lines = [f"{ex.score:g} / {ex.max_score:g} points, {passed} of {len(ex.cases)} cases passed"]
    lines += [case_line(c) for c in ex.cases]
    if ex.hint and ex.status not in ("passed", "not_implemented"):
        lines.append(f"hint: {ex.hint}")
    return "\n".join(lines)


def lab_feedback(lab: LabResult) -> str:
    """The checker process's own output (feedback only), when there was any."""
    text = lab.output.strip()
    return f"lab {lab.number:02d} {lab.slug}: output of your code outside the cases:\n{text}" if text else ""


def report_summary(report: Report) -> str:
    line = f"total {report.score:g} / {report.max_score:g}"
    line += "".join(f"\nnote on your submission: {note}" for note in report.notes)
    if report.seed != 0:
        line += ("\nthese results use hidden inputs (a non-public seed): passing the public checks"
                 " (`aisys check`) is a guide; the hidden ones decide the grade")
    return line
