"""`aisys grade-class`: a whole class in one run.

For every student found in SUBMISSIONS (`roster`): lay out their files (zips extracted
safely), stage the lab files the catalog names, and grade them in a session of their own —
sandboxed like any untrusted run, `jobs` students at a time — then write their reports in
every requested format under `OUT/students/<name>/`. A student whose files and seed are
unchanged since the last run is not graded again (their saved report is reused) unless
`force`. One broken or hostile submission costs only its own row. At the end:
`OUT/grades.csv`, `OUT/summary.html`, and the summary in the terminal.
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


def grade_class(subs: list[Submission], run: ClassRun, *, jobs: int = 1,
                progress: Callable[[Row, bool], None] | None = None) -> list[Row]:
    """Grade every submission; `progress(row, reused)` after each student."""
    (run.out / "students").mkdir(parents=True, exist_ok=True)
    rows: dict[str, Row] = {}
    lock = threading.Lock()

    def one(sub: Submission) -> None:
        try:
            row, reused = _grade_student(sub, run)
        except Exception as err:   # noqa: BLE001 - one student's failure is their row, not the class's
            row, reused = Row(sub.student, None, f"could not be graded: {type(err).__name__}: {err}"[:300]), False
        with lock:
            rows[sub.student] = row
        if progress:
            progress(row, reused)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, subs))
    return [rows[sub.student] for sub in subs]


def _grade_student(sub: Submission, run: ClassRun) -> tuple[Row, bool]:
    from aisys.grading.command import mark_refused
    from aisys.grading.formats import FORMATS
    from aisys.grading.runner import grade
    from aisys.grading.similarity import matches_reference
    from aisys.grading.staging import stage

    folder = run.out / "students" / sub.key
    with tempfile.TemporaryDirectory(prefix="aisys-class-") as tmp:
        raw, staged_dir = Path(tmp) / "raw", Path(tmp) / "staged"
        notes = materialize(sub, raw)
        staged = stage(raw, staged_dir, tuple(run.labs))
        refused = dict(staged.refused)
        for name, why in notes:
            if name in FILE_FOR and f"{FILE_FOR[name]}/{name}" not in staged.copied:
                refused.setdefault(f"{FILE_FOR[name]}/{name}", why)
        key = _key(staged_dir, refused, run)
        saved = folder / FILES["json"]
        if not run.force and (folder / ".key").is_file() and (folder / ".key").read_text() == key and saved.is_file():
            return Row(sub.student, report_from_dict(json.loads(saved.read_text()))), True
        renames = {str(staged_dir / rel): f"{sub.student}: {rel}" for rel in staged.copied}
        renames[str(staged_dir)] = sub.student
        report = grade(run.labs, staged_dir, seed=run.seed, timeout=run.timeout, jobs=1, shown_dir=sub.student,
                       renames=renames, isolation=run.isolation, only=run.only)
        mark_refused(report, refused)
        report.seed_hidden = run.seed_hidden
        report.extra.update(student=sub.student, matches_reference=matches_reference(staged_dir, run.labs),
                            skipped_files={name: why for name, why in notes})
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for fmt in dict.fromkeys(["json", *run.formats]):
        (folder / FILES[fmt]).write_text(FORMATS[fmt](report), encoding="utf-8")
    (folder / ".key").write_text(key)
    return Row(sub.student, report), False


def _key(staged: Path, refused: dict[str, str], run: ClassRun) -> str:
    """Changes when anything that decides the grade changes: files, seed, labs, aisys."""
    digest = hashlib.sha256()
    digest.update(json.dumps([aisys.__version__, run.seed, [lab.slug for lab in run.labs],
                               sorted((k, sorted(v)) for k, v in run.only.items()), sorted(refused.items()),
                               run.isolation.mode, run.timeout]).encode())
    for path in sorted(staged.rglob("*.py")):
        digest.update(path.relative_to(staged).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
