"""Grading labs: plan cases in the parent, run them in a child, judge, score, report."""
from __future__ import annotations

import hashlib
import importlib
import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import aisys
from aisys.catalog import Lab
from aisys.grading.plain import from_plain
from aisys.grading.report import (CaseResult, ExerciseResult, LabResult, Report, exercise_score,
                                  exercise_status)
from aisys.grading.reaper import reaping
from aisys.grading.sandbox import ChildRun, run_child
from aisys.grading.spec import Case, LabSuite, Verdict

DEFAULT_SEED = 0
DEFAULT_TIMEOUT = 120.0


def load_suite(lab: Lab) -> LabSuite:
    return importlib.import_module(lab.checks_module).SUITE


def grade(labs: list[Lab], labs_dir: Path, *, seed: int = DEFAULT_SEED, timeout: float = DEFAULT_TIMEOUT,
          jobs: int = 1, on_lab_done: Callable[[LabResult], None] | None = None,
          shown_dir: str | None = None, renames: dict[str, str] | None = None) -> Report:
    """Grade `labs` found in `labs_dir`; labs run in parallel children when jobs > 1.

    Every checks module is imported before any student code runs, so nothing a child does
    to files on disk can change how the parent judges. `shown_dir` is what the report
    calls the labs directory (a submission's path rather than its staged copy); `renames`
    maps staged file paths back to the submitted ones in messages.
    """
    suites = {lab.slug: _load_or_error(lab) for lab in labs}
    with reaping():
        def one(lab: Lab) -> LabResult:
            suite = suites[lab.slug]
            result = (grade_lab(lab, labs_dir, seed=seed, timeout=timeout, suite=suite)
                      if isinstance(suite, LabSuite) else _broken_lab(lab, suite))
            if on_lab_done:
                on_lab_done(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(one, labs))
    for result in results:
        for old, new in (renames or {}).items():
            _rename_paths(result, old, new)
    return Report(aisys_version=aisys.__version__, seed=seed, labs_dir=shown_dir or str(labs_dir),
                  score=round(sum(r.score for r in results), 4),
                  max_score=sum(r.max_score for r in results), labs=results,
                  extra=_provenance(labs, labs_dir))


def _load_or_error(lab: Lab) -> LabSuite | str:
    """The lab's suite, or why it could not be loaded (the report is written either way)."""
    try:
        return load_suite(lab)
    except Exception as err:  # a broken checks module must not lose the other labs' grades
        return f"the grader could not load this lab's checks ({type(err).__name__}: {err})"


def _broken_lab(lab: Lab, why: str) -> LabResult:
    exercises = [ExerciseResult(name=ex.name, file=ex.file, score=0.0, max_score=ex.points, status="error",
                                cases=[CaseResult("grader", "error", message=why)]) for ex in lab.exercises]
    return LabResult(slug=lab.slug, number=lab.number, score=0.0, max_score=lab.max_score, exercises=exercises)


def grade_lab(lab: Lab, labs_dir: Path, *, seed: int, timeout: float, suite: LabSuite | None = None) -> LabResult:
    suite = suite or load_suite(lab)
    try:
        cases = suite.plan(seed)
    except Exception as err:
        return _broken_lab(lab, f"the grader could not plan this lab's cases ({type(err).__name__}: {err})")
    child = run_child(lab, labs_dir, cases, timeout)
    exercises = []
    for ex in lab.exercises:
        check = suite.checks.get(ex.name)
        results = [_case_result(suite, case, child, timeout) for case in cases if case.exercise == ex.name]
        if check is None or not results:
            results = [CaseResult("missing-check", "error", message="this exercise has no checks yet")]
        exercises.append(ExerciseResult(
            name=ex.name, file=ex.file, score=exercise_score(ex.points, results), max_score=ex.points,
            status=exercise_status([r.status for r in results]),
            hint=getattr(check, "hint", ""), cases=results))
    result = LabResult(slug=lab.slug, number=lab.number, score=round(sum(e.score for e in exercises), 4),
                       max_score=lab.max_score, exercises=exercises, output=child.feedback,
                       duration_s=round(child.duration_s, 3))
    if child.read_dir and child.read_dir != str(labs_dir):
        _rename_paths(result, child.read_dir, str(labs_dir))
    return result


def _rename_paths(result: LabResult, old: str, new: str) -> None:
    """Messages name the files the student knows, not the temporary copy that was graded."""
    result.output = result.output.replace(old, new)
    for ex in result.exercises:
        for case in ex.cases:
            case.message, case.output = case.message.replace(old, new), case.output.replace(old, new)


def _case_result(suite: LabSuite, case: Case, child: ChildRun, timeout: float) -> CaseResult:
    rec = child.records.get(case.key)
    if rec is None:
        if child.timed_out:
            return CaseResult(case.id, "timeout", message=f"the lab ran past {timeout:g} s; killed",
                              weight=case.weight)
        if child.killed_because:
            return CaseResult(case.id, "error", message=f"the checker was killed: {child.killed_because}",
                              weight=case.weight)
        return CaseResult(case.id, "error", weight=case.weight,
                          message=f"the checker process exited (code {child.returncode}) before this case"
                                  " reported; see the lab output")
    stdout, status = str(rec.get("stdout") or ""), rec.get("status")
    if status not in ("ok", "not_implemented", "error", "timeout"):   # forged: only the parent passes
        return CaseResult(case.id, "error", stdout, f"invalid result record (status {status!r})", case.weight)
    if status != "ok":
        return CaseResult(case.id, status, stdout, str(rec.get("message") or ""), case.weight)
    verdict = _judge(suite, case, rec.get("output"))
    return CaseResult(case.id, "passed" if verdict.passed else "failed", stdout,
                      "" if verdict.passed else verdict.message, case.weight)


def _judge(suite: LabSuite, case: Case, output) -> Verdict:
    """Judging never trusts the output's shape: anything unexpected is a failure, not a crash."""
    try:
        verdict = suite.judge(case, from_plain(output))
        return verdict if isinstance(verdict, Verdict) else Verdict(False, "judge returned no verdict")
    except Exception as err:  # malformed student output (wrong type, keys, lengths)
        return Verdict(False, f"unexpected output ({type(err).__name__}: {err})")


def _provenance(labs: list[Lab], labs_dir: Path) -> dict:
    hashes = {}
    for lab in labs:
        for file in lab.files:
            path = labs_dir / lab.folder / file
            if path.is_file():
                hashes[f"{lab.folder}/{file}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    versions = {"python": platform.python_version(), "aisys": aisys.__version__}
    for name in ("torch", "numpy"):
        mod = sys.modules.get(name)
        if mod is not None:
            versions[name] = getattr(mod, "__version__", "?")
    return {"versions": versions, "file_hashes": hashes}
