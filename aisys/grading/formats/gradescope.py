"""`--format gradescope`: Gradescope's autograder `results.json`.

One test per exercise, numbered `lab.exercise` ("1.3"), with the exercise's points as
`max_score` and its partial credit as `score`. The top-level `score` is authoritative (it is
what Gradescope records). Seed, versions and file hashes go to `extra_data`, which staff see
and students do not, so a secret seed stays secret.
"""
from __future__ import annotations

import json

from aisys.grading.formats.feedback import exercise_feedback, lab_feedback, report_summary
from aisys.grading.report import Report


def gradescope_dict(report: Report) -> dict:
    tests = []
    for lab in report.labs:
        for i, ex in enumerate(lab.exercises, start=1):
            tests.append({
                "name": f"lab {lab.number:02d} {lab.slug}: {ex.name} ({ex.file})",
                "number": f"{lab.number}.{i}",
                "score": ex.score,
                "max_score": float(ex.max_score),
                "status": "passed" if ex.status == "passed" else "failed",
                "output": exercise_feedback(ex),
                "visibility": "visible",
            })
    outputs = [lab_feedback(lab) for lab in report.labs if lab_feedback(lab)]
    return {
        "score": report.score,
        "execution_time": round(sum(lab.duration_s for lab in report.labs), 3),
        "output": "\n\n".join([report_summary(report), *outputs]),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"seed": report.seed, "max_score": report.max_score, "labs_dir": report.labs_dir,
                       **report.extra},
    }


def render_gradescope(report: Report) -> str:
    return json.dumps(gradescope_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
