"""Who handed in what: the students in a folder of submissions, whatever tool made it.

Accepted layouts (each entry of SUBMISSIONS is one student unless said otherwise):

- one folder or `.zip` per student, named by the student (any LMS, or by hand);
- GitHub Classroom (`gh classroom clone student-repos`): folders `<assignment>-<login>` —
  the shared `<assignment>-` prefix is dropped;
- Gradescope's "Export Submissions": folders `submission_<id>` beside
  `submission_metadata.yml`, whose submitter names replace the ids;
- Moodle's "Download all submissions": folders `<Full Name>_<id>_assignsubmission_file_`;
- Canvas's "Download Submissions": flat files `<login>[_LATE]_<id>_<id>_<original name>`
  (a resubmission gets `-1`, `-2` before the extension), grouped into one student each.

A student whose files cannot be read is still listed, so the gradebook has their row.
"""
from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from aisys.catalog import LABS
from aisys.errors import UserError

LAB_FILES = {file for lab in LABS for file in lab.files}
MAX_ZIP_BYTES = 64 * 2**20          # uncompressed, lab files only
_CANVAS = re.compile(r"^(?P<login>[^_]+(?:_[^_]+)*?)(?:_LATE)?_(?P<a>\d+)_(?P<b>\d+)_(?P<name>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_\d+_assignsubmission_\w*$")
_RESUBMITTED = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.[^.]+)$")


@dataclass
class Submission:
    student: str                               # as the gradebook names them
    paths: list[Path] = field(default_factory=list)   # a folder, a zip, or (Canvas) files
    renamed: dict[str, str] = field(default_factory=dict)   # Canvas: file path → its original name

    @property
    def key(self) -> str:
        """A file-system-safe name for this student's report folder."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.student).strip("._") or "student"


def find_submissions(root: Path) -> list[Submission]:
    """Every student in `root`, sorted by name (UserError if there is none)."""
    if not root.is_dir():
        raise UserError(f"submissions folder not found: {root}")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX")))
    names = _gradescope_names(root)
    found: dict[str, Submission] = {}
    canvas: dict[str, Submission] = {}
    for entry in entries:
        if entry.is_symlink():
            continue                            # never followed: it could point at anything
        match = _CANVAS.match(entry.name) if entry.is_file() else None
        if match:
            original = match["name"]
            again = _RESUBMITTED.match(original)
            if again and again["stem"] + again["ext"] in LAB_FILES | {"submission.zip"}:
                original = again["stem"] + again["ext"]
            sub = canvas.setdefault(match["login"], Submission(match["login"]))
            sub.paths.append(entry)
            sub.renamed[str(entry)] = original
        elif entry.is_dir() or entry.suffix.lower() == ".zip":
            base = entry.name if entry.is_dir() else entry.stem
            name = names.get(entry.name) or _moodle_name(base) or base
            found.setdefault(name, Submission(name)).paths.append(entry)
    _drop_shared_prefix(found)
    for login, sub in canvas.items():
        if login in found:
            found[login].paths += sub.paths
            found[login].renamed.update(sub.renamed)
        else:
            found[login] = sub
    if not found:
        raise UserError(f"{root} holds no submissions (one folder or .zip per student, or Canvas's files)")
    return [found[name] for name in sorted(found, key=str.lower)]


def _moodle_name(folder: str) -> str:
    match = _MOODLE.match(folder)
    return match["name"] if match else ""


def _gradescope_names(root: Path) -> dict[str, str]:
    """submission_<id> → the submitters' names, from Gradescope's metadata (plain YAML)."""
    meta = root / "submission_metadata.yml"
    if not meta.is_file() or meta.is_symlink():
        return {}
    names: dict[str, str] = {}
    current = None
    for line in meta.read_text(errors="replace").splitlines():
        top = re.match(r"^(submission_\d+):\s*$", line)
        if top:
            current = top.group(1)
            continue
        person = re.match(r"^\s*(?:-\s*)?:name:\s*(.+?)\s*$", line)
        if current and person:
            who = person.group(1).strip("'\"")
            names[current] = f"{names[current]} & {who}" if current in names else who
    return names


def _drop_shared_prefix(found: dict[str, Submission]) -> None:
    """GitHub Classroom names every repository `<assignment>-<login>`: keep the login."""
    names = list(found)
    if len(names) < 2:
        return
    prefix = os.path.commonprefix(names)
    cut = prefix.rfind("-") + 1
    if cut <= 1 or any(len(n) <= cut for n in names):
        return
    for name in names:
        sub = found.pop(name)
        sub.student = name[cut:]
        found[sub.student] = sub


def materialize(sub: Submission, dest: Path) -> list[tuple[str, str]]:
    """Lay the student's files out under `dest` (zips extracted safely); returns what was
    skipped and why, as (file name, reason)."""
    notes: list[tuple[str, str]] = []
    dest.mkdir(parents=True, exist_ok=True)
    for path in sub.paths:
        original = sub.renamed.get(str(path), path.name)
        if path.is_dir():
            notes += _copy_tree(path, dest / path.name)
        elif original.lower().endswith(".zip"):
            notes += _extract(path, dest / Path(original).stem)
        elif original in LAB_FILES and not (dest / original).exists():
            from aisys.grading.staging import copy_file

            why = copy_file(path, dest / original)
            if why:
                notes.append((original, why))
    return notes


def _copy_tree(src: Path, dest: Path) -> list[tuple[str, str]]:
    """The lab files (and zips) in a student's folder, never through a symlink."""
    from aisys.grading.staging import copy_file

    notes = []
    for top, dirs, files in os.walk(src, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(top, d))]
        for name in files:
            path = Path(top) / name
            rel = path.relative_to(src)
            if name in LAB_FILES:
                why = copy_file(path, dest / rel)
                if why:
                    notes.append((name, why))
            elif name.lower().endswith(".zip") and not path.is_symlink():
                notes += _extract(path, dest / rel.parent / path.stem)
    return notes


def _extract(archive: Path, dest: Path) -> list[tuple[str, str]]:
    """Only lab files, only regular entries, no absolute or `..` paths, bounded sizes."""
    notes, total = [], 0
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = PurePosixPath(info.filename)
                mode = info.external_attr >> 16
                if info.is_dir() or name.name not in LAB_FILES:
                    continue
                if name.is_absolute() or ".." in name.parts or (mode and (mode & 0o170000) not in (0, 0o100000)):
                    notes.append((name.name, f"not a plain file inside {archive.name}"))
                    continue
                if info.file_size > 2 * 2**20 or total + info.file_size > MAX_ZIP_BYTES:
                    notes.append((name.name, f"too large (inside {archive.name})"))
                    continue
                total += info.file_size
                target = dest.joinpath(*[p for p in name.parts if p not in ("", ".")])
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    target.write_bytes(src.read(2 * 2**20 + 1))
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as err:
        notes.append((archive.name, f"not a readable zip ({type(err).__name__})"))
    return notes
