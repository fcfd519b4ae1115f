"""Grading student-code variants in the test process, with the same `execute_case` the
grading worker uses and the suite's own judges — no child process, no torch import per run —
so a test can grade many variants on several seeds. Also the demo as a piped run prints it
(no colour, 100 columns)."""
from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from aisys.catalog import find_lab
from aisys.grading.execute import execute_case
from aisys.grading.plain import from_plain
from aisys.labrun import DemoOptions, run_demo
from aisys.workspace import Student
from conftest import REPO


def graded_cases(labs: Path, slug: str, exercises=None, seeds=(0,), only=None, skip=()) -> dict:
    """{(seed, exercise, case id): (status, message, weight)} for `labs`, graded here."""
    from aisys.grading.runner import load_suite

    lab = find_lab(slug)
    suite, student, results = load_suite(lab), Student(lab, labs), {}
    for seed in seeds:
        for case in suite.plan(seed):
            if (exercises and case.exercise not in exercises) or (only and case.id not in only) \
                    or case.id.startswith(tuple(skip)):
                continue
            record = execute_case(suite.checks[case.exercise], case, student)
            if record["status"] == "ok":
                verdict = suite.judge(case, from_plain(record["output"]))
                status, message = ("passed" if verdict.passed else "failed"), verdict.message
            else:
                status, message = record["status"], record["message"]
            results[(seed, case.exercise, case.id)] = (status, message, case.weight)
    return results


def grade_in_process(labs: Path, slug: str, exercises=None, seeds=(0, 1, 2)) -> dict[tuple[int, str], dict]:
    """{(seed, exercise): {"fraction", "failed": {case id: message}}}."""
    out: dict = {}
    for (seed, exercise, case_id), (status, message, weight) in graded_cases(labs, slug, exercises, seeds).items():
        entry = out.setdefault((seed, exercise), {"got": 0.0, "max": 0.0, "failed": {}})
        entry["max"] += weight
        if status == "passed":
            entry["got"] += weight
        else:
            entry["failed"][case_id] = message
    for entry in out.values():
        entry["fraction"] = entry["got"] / entry["max"]
    return out


def grade(slug: str, suite, labs: Path, name: str, seeds=(0,), only=None, skip=()) -> dict:
    """{(seed, case id): (status, message)} for one exercise of `labs`."""
    return {(seed, case_id): (status, message) for (seed, _, case_id), (status, message, _) in
            graded_cases(labs, slug, [name], seeds, only, skip).items()}


def failures(results: dict) -> dict:
    return {key: message for key, (status, message) in results.items() if status != "passed"}


def lost_on_every_seed(results: dict, case_id: str, words: str = "") -> None:
    """The case whose id starts with `case_id` fails on every seed graded, with `words` in its
    message; some other case passes (the variant is broken by the planted bug only)."""
    bad = failures(results)
    for seed in {s for s, _ in results}:
        key = next((k for k in results if k[0] == seed and k[1].startswith(case_id)), None)
        assert key in bad, (seed, case_id, results.get(key))
        assert words in bad[key], bad[key]
    assert len(bad) < len(results), "every case failed: the variant is broken beyond the planted bug"


def answer(folder: str, file: str, nth: int = 0) -> str:
    """The nth answer body of a solution file (between its markers): what a variant replaces."""
    text = (REPO / "solutions" / folder / file).read_text()
    return re.findall(r"# BEGIN SOLUTION\n(.*?\n)\s*# END SOLUTION", text, re.S)[nth]


def demo_text(slug: str, labs: Path, trace: Path | None = None) -> str:
    """The demo in-process, as a piped run prints it: no colour (every mark is a character),
    at most 100 columns (asserted)."""
    lab = find_lab(slug)
    console = Console(file=io.StringIO(), width=100, color_system=None, record=True)
    run_demo(lab, Student(lab, labs), console, DemoOptions(solution=labs == REPO / "solutions", trace=trace))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    return text
