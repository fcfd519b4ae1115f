"""What `aisys check` does between parsing options and exiting: find the code, grade, report."""
from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from aisys.catalog import LABS, Lab, find_lab
from aisys.errors import UserError
from aisys.grading.report import Report

MAX_SEED = 2**63 - 1
PROGRESS = Path(".aisys") / "progress.json"


@dataclass
class Graded:
    """The directory the workers read, the one the report names, and how to map between them."""
    where: Path
    shown: str
    renames: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)   # "<folder>/<file>" → why it was refused


@contextlib.contextmanager
def graded_dir(labs_dir: Path | None, solutions: bool, submission: Path | None) -> Iterator[Graded]:
    """A submission is staged: only the catalog's lab files are copied out of it (never
    through a symlink), into a fresh temporary directory; messages then name the originals."""
    from aisys.workspace import resolve_labs_dir

    if submission is None:
        where = resolve_labs_dir(labs_dir, solutions=solutions)
        yield Graded(where, str(where))
        return
    if labs_dir or solutions:
        raise UserError("give --submission alone, without --labs-dir or --solutions")
    if not submission.is_dir():
        raise UserError(f"submission directory not found: {submission}")
    from aisys.grading.staging import stage

    with tempfile.TemporaryDirectory(prefix="aisys-submission-") as tmp:
        staged = stage(submission.resolve(), Path(tmp))
        renames = {str(Path(tmp) / name): original for name, original in staged.copied.items()}
        renames[str(tmp)] = str(submission)    # files it lacks: "not found" under its own path
        yield Graded(Path(tmp), str(submission), renames, staged.refused)


def mark_refused(report: Report, refused: dict[str, str]) -> None:
    """Exercises whose submitted file was refused say so, with the reason."""
    for lab in report.labs:
        folder = find_lab(lab.slug).folder
        for ex in lab.exercises:
            why = refused.get(f"{folder}/{ex.file}")
            if why:
                for case in ex.cases:
                    case.status, case.message = "error", f"the submitted {ex.file} was refused: {why}"
                ex.status, ex.score = "error", 0.0
        lab.score = round(sum(ex.score for ex in lab.exercises), 4)
    report.score = round(sum(lab.score for lab in report.labs), 4)


def parse_targets(names: tuple[str, ...] | list[str]) -> tuple[list[Lab], dict[str, set[str]]]:
    """`graph`, `1`, `01_graph` name a lab; `graph:topo_sort` one exercise of it."""
    from aisys.catalog import find_labs

    plain, only = [], {}
    for name in names:
        lab_name, sep, exercise = str(name).partition(":")
        try:
            lab = find_lab(lab_name)
        except UserError:
            owner = next((l for l in LABS for ex in l.exercises if ex.name == lab_name), None)
            if owner is None or sep:
                raise
            raise UserError(f"{lab_name!r} is an exercise, not a lab: write {owner.slug}:{lab_name}") from None
        if sep:
            try:
                lab.exercise(exercise)
            except KeyError:
                known = ", ".join(ex.name for ex in lab.exercises)
                raise UserError(f"lab {lab.slug!r} has no exercise {exercise!r} (it has: {known})") from None
            only.setdefault(lab.slug, set()).add(exercise)
        else:
            plain.append(lab.slug)
    for slug in plain:                  # a whole lab named beside one of its exercises: all of it
        only.pop(slug, None)
    labs = find_labs(plain + list(only)) if names else find_labs([])
    return labs, only


def read_seed(seed: int | None, seed_file: Path | None) -> tuple[int, bool]:
    """(seed, hidden): from --seed-file (a file or '-' for stdin: never on a command line) or
    --seed; hidden when it is not the public default 0."""
    if seed_file is not None:
        if seed is not None:
            raise UserError("give --seed or --seed-file, not both")
        try:
            text = (sys.stdin.read(64) if str(seed_file) == "-" else seed_file.read_text()[:64]).strip()
        except OSError as err:
            raise UserError(f"cannot read the seed file {seed_file}: {err.strerror}") from None
        seed = check_seed(text, "the seed file")
    value = 0 if seed is None else seed
    return value, value != 0


def check_seed(text: str, where: str = "--seed") -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UserError(f"{where} must be a whole number from 0 to {MAX_SEED}, got {str(text)[:20]!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise UserError(f"{where} must be a whole number from 0 to {MAX_SEED}, got {value}")
    return value


def write_report(path: Path, text: str) -> None:
    """Write atomically, replacing whatever regular file or symlink is at `path` (a file graded
    code wrote, a link); a device or pipe (/dev/stdout, /dev/null) is written to, never replaced."""
    import stat

    if path.is_dir() and not path.is_symlink():
        raise UserError(f"cannot write the report to {path}: it is a directory")
    try:
        mode = os.stat(path).st_mode if path.exists() and not path.is_symlink() else 0
        if mode and not stat.S_ISREG(mode):
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".aisys-report-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(f"cannot write the report to {path}: {err.strerror}") from None


def run_check(labs: list[Lab], where: Path, shown: str, *, seed: int, timeout: float, jobs: int,
              console, renames: dict[str, str] | None = None, isolation=None,
              only: dict[str, set[str]] | None = None, seed_hidden: bool = False) -> Report:
    """Grade with a live status line on `console`."""
    from rich.markup import escape

    from aisys.grading.runner import grade

    seed_shown = "hidden" if seed_hidden else seed
    last = load_progress(where)   # the slowest labs first (last time's, else the catalog's), so jobs finish together
    labs = sorted(labs, key=lambda lab: -float((last.get(lab.slug) or {}).get("seconds", lab.check_seconds)))
    with console.status(f"grading {len(labs)} lab(s) in {escape(shown)} (seed {seed_shown}) …"):
        def done(result):
            console.print(f"  graded lab {result.number:02d} {result.slug}: "
                          f"{result.score:g}/{result.max_score:g} ({result.duration_s:.1f} s)")
        report = grade(labs, where, seed=seed, timeout=timeout, jobs=jobs, on_lab_done=done, shown_dir=shown,
                       renames=renames, isolation=isolation, only=only)
    report.seed_hidden = seed_hidden
    return report


def save_progress(labs_dir: Path, report: Report) -> None:
    """A student's own check: remember each lab's score for `aisys lab list` (best effort)."""
    path = labs_dir / PROGRESS
    try:
        progress = json.loads(path.read_text()) if path.is_file() else {}
        if not isinstance(progress, dict):
            progress = {}
        for lab in report.labs:
            if lab.max_score == sum(ex.max_score for ex in lab.exercises) and \
                    len(lab.exercises) == len(find_lab(lab.slug).exercises):
                progress[lab.slug] = {"score": lab.score, "max_score": lab.max_score, "seconds": lab.duration_s,
                                      "when": time.strftime("%Y-%m-%d %H:%M")}
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(progress, indent=1, sort_keys=True) + "\n")
    except (OSError, ValueError):
        pass


def load_progress(labs_dir: Path) -> dict:
    try:
        data = json.loads((labs_dir / PROGRESS).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
