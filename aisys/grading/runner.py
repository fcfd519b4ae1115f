"""Grading labs: plan cases in the parent, run them in a worker, judge, score, report."""
from __future__ import annotations

import functools
import hashlib
import importlib
import platform
import queue
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import aisys
from aisys.catalog import Lab
from aisys.grading.isolation import Isolation, choose
from aisys.grading.plain import from_plain
from aisys.grading.reaper import reaping
from aisys.grading.report import (CaseResult, ExerciseResult, LabResult, Report, exercise_score,
                                  exercise_status)
from aisys.grading.sanitize import clean
from aisys.grading.session import ChildRun, GradingSession, SessionError
from aisys.grading.spec import Case, LabSuite, Verdict

DEFAULT_SEED = 0
DEFAULT_TIMEOUT = 120.0
MAX_MESSAGE = 4000
MAX_OUTPUT = 2000


def load_suite(lab: Lab) -> LabSuite:
    return importlib.import_module(lab.checks_module).SUITE


def grade(labs: list[Lab], labs_dir: Path, *, seed: int = DEFAULT_SEED, timeout: float = DEFAULT_TIMEOUT,
          jobs: int = 1, on_lab_done: Callable[[LabResult], None] | None = None,
          shown_dir: str | None = None, renames: dict[str, str] | None = None,
          isolation: Isolation | None = None, only: dict[str, set[str]] | None = None,
          forbidden: str | None = None) -> Report:
    """Grade `labs` found in `labs_dir`, `jobs` labs at a time (one grading session each).

    The sessions' fork servers start first, importing torch while this process imports the
    checks; every checks module is imported before any student code runs, so nothing graded
    code does can change how the parent judges. Judging a lab overlaps running the next one.
    `shown_dir` is what the report calls the labs directory (a submission's path rather than
    its staged copy); `renames` maps staged paths back to the submitted ones in messages;
    `only` limits a lab to some exercises.
    """
    isolation = isolation or choose("auto")
    todo: queue.Queue = queue.Queue()
    for lab in labs:
        todo.put(lab)
    judged: dict[str, Future] = {}

    def start() -> GradingSession | None:
        try:
            return GradingSession(labs_dir, isolation, labs, forbidden=forbidden)
        except (SessionError, OSError) as err:
            return _Failed(str(err))

    with reaping():
        sessions = [start() for _ in range(max(1, min(jobs, len(labs))))]
        suites = {lab.slug: _load_or_error(lab) for lab in labs}

        def finish(lab: Lab, make: Callable[[], LabResult]) -> LabResult:
            result = make()
            if on_lab_done:
                on_lab_done(result)
            return result

        def worker(session) -> None:
            try:
                while True:
                    try:
                        lab = todo.get_nowait()
                    except queue.Empty:
                        return
                    suite, wanted = suites[lab.slug], (only or {}).get(lab.slug)
                    if not isinstance(suite, LabSuite):
                        judged[lab.slug] = judges.submit(finish, lab, functools.partial(_broken_lab, lab, suite, wanted))
                        continue
                    if not session.alive:
                        session.close()
                        session = start()
                    chosen, cases, failed = _plan(lab, suite, seed, wanted)
                    if failed:
                        judged[lab.slug] = judges.submit(finish, lab, functools.partial(_broken_lab, lab, failed, wanted))
                        continue
                    child = session.run_lab(lab, cases, timeout)
                    judged[lab.slug] = judges.submit(finish, lab, functools.partial(
                        _judged_lab, lab, suite, chosen, cases, child, timeout, labs_dir))
            finally:
                session.close()

        with ThreadPoolExecutor(max_workers=1) as judges:
            threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in sessions]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            ordered = [judged[lab.slug].result() for lab in sorted(labs, key=lambda lab: lab.number)]
    for result in ordered:
        for old, new in (renames or {}).items():
            _rename_paths(result, old, new)
    extra = _provenance(labs, labs_dir)
    extra["isolation"] = isolation.to_dict()
    return Report(aisys_version=aisys.__version__, seed=seed, labs_dir=clean(shown_dir or str(labs_dir)),
                  score=round(sum(r.score for r in ordered), 4),
                  max_score=sum(r.max_score for r in ordered), labs=ordered, extra=extra)


class _Failed:
    """A session that could not start: every lab it is given reports why."""

    alive = True

    def __init__(self, why: str):
        self.why = why

    def run_lab(self, lab: Lab, cases: list[Case], timeout: float) -> ChildRun:
        return ChildRun(killed_because=self.why)

    def close(self) -> None:
        pass


def _load_or_error(lab: Lab) -> LabSuite | str:
    """The lab's suite, or why it could not be loaded (the report is written either way)."""
    try:
        return load_suite(lab)
    except Exception as err:  # a broken checks module must not lose the other labs' grades
        return f"the grader could not load this lab's checks ({type(err).__name__}: {err})"


def _selected(lab: Lab, wanted: set[str] | None) -> list:
    return [ex for ex in lab.exercises if not wanted or ex.name in wanted]


def _broken_lab(lab: Lab, why: str, wanted: set[str] | None = None) -> LabResult:
    chosen = _selected(lab, wanted)
    exercises = [ExerciseResult(name=ex.name, file=ex.file, score=0.0, max_score=ex.points, status="error",
                                cases=[CaseResult("grader", "error", message=clean(why, MAX_MESSAGE))])
                 for ex in chosen]
    return LabResult(slug=lab.slug, number=lab.number, score=0.0, max_score=sum(ex.points for ex in chosen),
                     exercises=exercises)


def _plan(lab: Lab, suite: LabSuite, seed: int, wanted: set[str] | None) -> tuple[list, list[Case], str]:
    """(the exercises graded, their cases, '' or why planning failed)."""
    chosen = _selected(lab, wanted)
    try:
        names = {ex.name for ex in chosen}
        return chosen, [case for case in suite.plan(seed) if case.exercise in names], ""
    except Exception as err:
        return chosen, [], f"the grader could not plan this lab's cases ({type(err).__name__}: {err})"


def grade_lab(lab: Lab, labs_dir: Path, *, seed: int, timeout: float, suite: LabSuite | None = None,
              only: set[str] | None = None, isolation: Isolation | None = None) -> LabResult:
    """One lab in a session of its own."""
    suite = suite or load_suite(lab)
    chosen, cases, failed = _plan(lab, suite, seed, only)
    if failed:
        return _broken_lab(lab, failed, only)
    try:
        with GradingSession(labs_dir, isolation or choose("auto"), [lab]) as session:
            child = session.run_lab(lab, cases, timeout)
    except (SessionError, OSError) as err:
        child = ChildRun(killed_because=str(err))
    return _judged_lab(lab, suite, chosen, cases, child, timeout, labs_dir)


def _judged_lab(lab: Lab, suite: LabSuite, chosen: list, cases: list[Case], child: ChildRun, timeout: float,
                labs_dir: Path) -> LabResult:
    exercises = []
    for ex in chosen:
        check = suite.checks.get(ex.name)
        results = [_case_result(suite, case, child, timeout) for case in cases if case.exercise == ex.name]
        if check is None or not results:
            results = [CaseResult("missing-check", "error", message="this exercise has no checks yet")]
        exercises.append(ExerciseResult(
            name=ex.name, file=ex.file, score=exercise_score(ex.points, results), max_score=ex.points,
            status=exercise_status([r.status for r in results]),
            hint=getattr(check, "hint", ""), cases=results))
    result = LabResult(slug=lab.slug, number=lab.number, score=round(sum(e.score for e in exercises), 4),
                       max_score=sum(ex.points for ex in chosen), exercises=exercises,
                       output=clean(child.feedback), duration_s=round(child.duration_s, 3))
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
            return CaseResult(case.id, "error", message=clean(f"the checker was killed: {child.killed_because}"),
                              weight=case.weight)
        return CaseResult(case.id, "error", weight=case.weight,
                          message=f"the checker process exited (code {child.returncode}) before this case"
                                  " reported; see the lab output")
    stdout, status = clean(rec.get("stdout") or "", MAX_OUTPUT), rec.get("status")
    if status not in ("ok", "not_implemented", "error", "timeout"):   # forged: only the parent passes
        return CaseResult(case.id, "error", stdout, clean(f"invalid result record (status {status!r})", 200),
                          case.weight)
    if status != "ok":
        return CaseResult(case.id, status, stdout, clean(rec.get("message") or "", MAX_MESSAGE), case.weight)
    verdict = _judge(suite, case, rec.get("output"))
    return CaseResult(case.id, "passed" if verdict.passed else "failed", stdout,
                      "" if verdict.passed else clean(verdict.message, MAX_MESSAGE), case.weight)


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
            if path.is_file() and not path.is_symlink():
                hashes[f"{lab.folder}/{file}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    versions = {"python": platform.python_version(), "aisys": aisys.__version__}
    for name in ("torch", "numpy"):
        mod = sys.modules.get(name)
        if mod is not None:
            versions[name] = getattr(mod, "__version__", "?")
    return {"versions": versions, "file_hashes": hashes}
