"""What `aisys check` does between parsing options and exiting: find the code, grade, report."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from aisys.catalog import Lab
from aisys.errors import UserError
from aisys.grading.report import Report


@contextlib.contextmanager
def graded_dir(labs_dir: Path | None, solutions: bool, submission: Path | None
               ) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """(directory the children read, directory the report names, {copied path: original}).
    A submission is staged: only the catalog's lab files are copied out of it, into a fresh
    temporary directory; messages then name the original files."""
    from aisys.workspace import resolve_labs_dir

    if submission is None:
        where = resolve_labs_dir(labs_dir, solutions=solutions)
        yield where, str(where), {}
        return
    if labs_dir or solutions:
        raise UserError("give --submission alone, without --labs-dir or --solutions")
    if not submission.is_dir():
        raise UserError(f"submission directory not found: {submission}")
    from aisys.grading.staging import stage

    with tempfile.TemporaryDirectory(prefix="aisys-submission-") as tmp:
        copied = stage(submission.resolve(), Path(tmp))
        renames = {str(Path(tmp) / name): original for name, original in copied.items()}
        renames[str(tmp)] = str(submission)    # files it lacks: "not found" under its own path
        yield Path(tmp), str(submission), renames


def write_report(path: Path, text: str) -> None:
    """Write atomically, replacing whatever is at `path` (a file graded code wrote, a symlink)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".aisys-report-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:
        raise UserError(f"cannot write the report to {path}: {err.strerror}") from None


def run_check(labs: list[Lab], where: Path, shown: str, *, seed: int, timeout: float, jobs: int,
              console, renames: dict[str, str] | None = None) -> Report:
    """Grade with a live status line on `console`."""
    from aisys.grading.runner import grade

    with console.status(f"grading {len(labs)} lab(s) in {shown} (seed {seed}) …"):
        def done(result):
            console.print(f"  graded lab {result.number:02d} {result.slug}: "
                          f"{result.score:g}/{result.max_score:g} ({result.duration_s:.1f} s)")
        return grade(labs, where, seed=seed, timeout=timeout, jobs=jobs, on_lab_done=done, shown_dir=shown,
                     renames=renames)
