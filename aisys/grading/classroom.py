"""`aisys grade-class`: a whole class in one run.

For every submission found in SUBMISSIONS (`roster`): lay out its files (zips extracted
safely), stage the lab files the catalog names, and grade them in a session of their own —
sandboxed like any untrusted run, `jobs` students at a time — then write the reports:
`OUT/students/<name>/` holds what can be handed back (text, JUnit: no seed), `OUT/staff/<name>/`
what must not be (the JSON model and Gradescope's results.json: the seed, file hashes, the
copy-of-the-reference flag). A submission whose files and seed are unchanged since the last
run is not graded again (its saved report is reused; missing formats are rebuilt from it)
unless `force`. One broken or hostile submission costs only its own row; a group's
submission gives every member a row. A one-exercise regrade (`graph:topo_sort`) writes to
`OUT/partial/<selection>/` and never touches the full results. At the end: `grades.csv`,
`summary.html`, and the summary in the terminal.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import aisys
from aisys.catalog import LABS, Lab
from aisys.grading.gradebook import Row
from aisys.grading.isolation import Isolation
from aisys.grading.report import Report, report_from_dict
from aisys.grading.roster import Submission, materialize

FILES = {"json": "report.json", "junit": "report.xml", "gradescope": "results.json", "text": "report.txt"}
STAFF_ONLY = {"json", "gradescope"}        # they carry the seed and the staff-only flags
FILE_FOR = {file: lab.folder for lab in LABS for file in lab.files}


@dataclass
class ClassRun:
    labs: list[Lab]
    only: dict[str, set[str]]
    out: Path
    seed: int
    seed_hidden: bool
    isolation: Isolation
    formats: list[str]
    timeout: float = 300.0
    force: bool = False


def output_dir(out: Path, only: dict[str, set[str]]) -> Path:
    """Where a run's results go: OUT itself for whole labs, OUT/partial/<selection> otherwise."""
    if not only:
        return out
    selection = "+".join(f"{slug}-{'-'.join(sorted(names))}" for slug, names in sorted(only.items()))
    return out / "partial" / selection


def grade_class(subs: list[Submission], run: ClassRun, *, jobs: int = 1,
                progress: Callable[[Submission, Row, bool], None] | None = None) -> list[Row]:
    """Grade every submission; `progress(submission, row, reused)` after each. One row per
    student (a group's members share their submission's report)."""
    rows: dict[str, Row] = {}
    lock = threading.Lock()

    def one(sub: Submission) -> None:
        try:
            report, reused = _grade_submission(sub, run)
            row = Row(sub.student, report, "; ".join(sub.notes), sub.ident)
        except Exception as err:   # noqa: BLE001 - one student's failure is their row, not the class's
            report, reused = None, False
            row = Row(sub.student, None, f"could not be graded: {type(err).__name__}: {err}"[:300], sub.ident)
        with lock:
            rows[sub.key] = row
        if progress:
            progress(sub, row, reused)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, subs))
    out = []
    for sub in subs:
        row = rows[sub.key]
        people = sub.members or [(sub.student, sub.ident)]
        out += [Row(name, row.report, row.note, ident) for name, ident in people]
    return out


def _grade_submission(sub: Submission, run: ClassRun) -> tuple[Report, bool]:
    from aisys.grading.command import mark_refused
    from aisys.grading.runner import grade
    from aisys.grading.similarity import matches_reference
    from aisys.grading.staging import stage

    base = output_dir(run.out, run.only)
    staff, students = base / "staff" / sub.key, base / "students" / sub.key
    with tempfile.TemporaryDirectory(prefix="aisys-class-") as tmp:
        raw, staged_dir = Path(tmp) / "raw", Path(tmp) / "staged"
        notes = materialize(sub, raw)
        staged = stage(raw, staged_dir, tuple(run.labs))
        refused = dict(staged.refused)
        for name, why in notes:
            if name in FILE_FOR and f"{FILE_FOR[name]}/{name}" not in staged.copied:
                refused.setdefault(f"{FILE_FOR[name]}/{name}", why)
        key = _key(staged_dir, refused, run)
        saved = staff / FILES["json"]
        if not run.force and (staff / ".key").is_file() and (staff / ".key").read_text() == key and saved.is_file():
            report = report_from_dict(json.loads(saved.read_text()))
            _write(report, run.formats, staff, students, key, only_missing=True)
            return report, True
        renames = {str(staged_dir / rel): f"{sub.student}: {rel}" for rel in staged.copied}
        renames[str(staged_dir)] = sub.student
        report = grade(run.labs, staged_dir, seed=run.seed, timeout=run.timeout, jobs=1, shown_dir=sub.student,
                       renames=renames, isolation=run.isolation, only=run.only)
        mark_refused(report, refused)
        report.seed_hidden = run.seed_hidden
        report.notes = list(sub.notes) + [f"{name}: {why}" for name, why in notes if name not in FILE_FOR]
        report.extra.update(student=sub.student, id=sub.ident, members=sub.members,
                            matches_reference=matches_reference(staged_dir, run.labs),
                            skipped_files={name: why for name, why in notes})
    _write(report, run.formats, staff, students, key)
    return report, False


def _write(report: Report, formats: list[str], staff: Path, students: Path, key: str,
           only_missing: bool = False) -> None:
    """The staff's JSON always; every requested format where it belongs."""
    from aisys.grading.formats import FORMATS

    if not only_missing:
        for folder in (staff, students):
            if folder.exists():
                shutil.rmtree(folder)
    for fmt in dict.fromkeys(["json", *formats]):
        folder = staff if fmt in STAFF_ONLY else students
        path = folder / FILES[fmt]
        if only_missing and path.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(FORMATS[fmt](report), encoding="utf-8")
    (staff / ".key").write_text(key)


def _key(staged: Path, refused: dict[str, str], run: ClassRun) -> str:
    """Changes when anything that decides the grade changes: files, seed, labs, aisys."""
    digest = hashlib.sha256()
    digest.update(json.dumps([aisys.__version__, run.seed, [lab.slug for lab in run.labs],
                               sorted((k, sorted(v)) for k, v in run.only.items()), sorted(refused.items()),
                               run.isolation.mode, run.timeout]).encode())
    for path in sorted(staged.rglob("*.py")):
        digest.update(path.relative_to(staged).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
