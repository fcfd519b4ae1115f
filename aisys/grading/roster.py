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
MAX_FILES = 200                     # lab files taken from one zip or folder (a class has ~30 names)
MAX_ENTRIES = 20_000                # zip entries or folder files looked at
# Canvas: <sortable name>[_LATE]_<user id>_<attachment id>_<original file name>
_CANVAS = re.compile(r"^(?P<login>[^_]+(?:_[^_]+)*?)(?:_LATE)?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<name>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_\w*$")
_RESUBMITTED = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<ext>\.[^.]+)$")


@dataclass
class Submission:
    student: str                               # as the gradebook names them
    ident: str = ""                            # the platform's id (Canvas user, Moodle participant, sid, …)
    paths: list[Path] = field(default_factory=list)   # a folder, a zip, or (Canvas) files
    renamed: dict[str, str] = field(default_factory=dict)   # Canvas: file path → its original name
    members: list[tuple[str, str]] = field(default_factory=list)   # a group's (name, id): one row each
    notes: list[str] = field(default_factory=list)                 # what the roster noticed

    @property
    def key(self) -> str:
        """A file-system-safe, unique name for this student's report folder (letters of any
        script kept; the platform's id added when there is one)."""
        base = re.sub(r"[^\w.-]+", "_", self.student, flags=re.UNICODE).strip("._") or "student"
        return f"{base}-{self.ident}" if self.ident else base


def find_submissions(root: Path, skip: Path | None = None) -> list[Submission]:
    """Every submission in `root`, sorted by name (UserError if there is none). `skip` is a
    folder to ignore (the output folder, when it lies inside)."""
    if not root.is_dir():
        raise UserError(f"submissions folder not found: {root}")
    skipped = skip.resolve() if skip is not None and skip.exists() else None
    entries = sorted(p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))
                     and (skipped is None or p.resolve() != skipped))
    people = _gradescope_people(root)
    found: list[Submission] = []
    canvas: dict[tuple[str, str], Submission] = {}
    for entry in entries:
        if entry.is_symlink():
            continue                            # never followed: it could point at anything
        match = _CANVAS.match(entry.name) if entry.is_file() else None
        if match:
            sub = canvas.setdefault((match["login"], match["user"]), Submission(match["login"], match["user"]))
            sub.paths.append(entry)
            sub.renamed[str(entry)] = match["name"]
        elif entry.is_dir() or entry.suffix.lower() == ".zip":
            base = entry.name if entry.is_dir() else entry.stem
            moodle = _MOODLE.match(base)
            if base in people:
                members = people[base]
                sub = Submission(" & ".join(name for name, _ in members), members[0][1] or base, [entry],
                                 members=members)
            elif moodle:
                sub = Submission(moodle["name"], moodle["id"], [entry])
            else:
                sub = Submission(base, "", [entry])
            found.append(sub)
    for sub in canvas.values():
        _latest_canvas_files(sub)
        found.append(sub)
    _drop_classroom_prefix(found)
    if not found:
        raise UserError(f"{root} holds no submissions (one folder or .zip per student, or Canvas's files)")
    _flag_same_names(found)
    return sorted(found, key=lambda sub: (sub.student.lower(), sub.ident))


def _latest_canvas_files(sub: Submission) -> None:
    """Canvas keeps every attempt: for each file name keep the newest (the highest resubmission
    number, then the highest attachment id) and say which were left out."""
    best: dict[str, tuple[tuple[int, int], Path]] = {}
    for path in sub.paths:
        original = sub.renamed[str(path)]
        again = _RESUBMITTED.match(original)
        number = 0
        if again and again["stem"] + again["ext"] in LAB_FILES | {"submission.zip"}:
            original, number = again["stem"] + again["ext"], int(again["n"])
        attachment = int(_CANVAS.match(path.name)["attachment"])
        rank = (number, attachment)
        if original not in best or rank > best[original][0]:
            if original in best:
                sub.notes.append(f"an older {original} ({best[original][1].name}) was not graded")
            best[original] = (rank, path)
        else:
            sub.notes.append(f"an older {original} ({path.name}) was not graded")
    sub.paths = [path for _, path in best.values()]
    sub.renamed = {str(path): name for name, (_, path) in best.items()}


def _gradescope_people(root: Path) -> dict[str, list[tuple[str, str]]]:
    """submission_<id> → [(name, sid or email)] of its submitters, from Gradescope's metadata."""
    meta = root / "submission_metadata.yml"
    if not meta.is_file() or meta.is_symlink():
        return {}
    people: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in meta.read_text(errors="replace").splitlines():
        top = re.match(r"^(submission_\d+):\s*$", line)
        if top:
            current = top.group(1)
            continue
        field_ = re.match(r"^\s*(?:-\s*)?:(name|sid|email):\s*(.*?)\s*$", line)
        if current and field_:
            key, value = field_.group(1), field_.group(2).strip("'\"")
            members = people.setdefault(current, [])
            if key == "name":
                members.append((value, ""))
            elif members and not members[-1][1] and value:
                members[-1] = (members[-1][0], value)       # sid first, else the email
    return people


def _drop_classroom_prefix(found: list[Submission]) -> None:
    """GitHub Classroom names every repository `<assignment>-<login>`: keep the login — only
    when every entry is such a clone (a `.git` inside), so ordinary names never lose a part."""
    plain = [sub for sub in found if not sub.ident and not sub.members]
    if len(plain) < 2 or len(plain) != len(found):
        return
    if not all(len(sub.paths) == 1 and (sub.paths[0] / ".git").exists() for sub in plain):
        return
    names = [sub.student for sub in plain]
    prefix = os.path.commonprefix(names)
    cut = prefix.rfind("-") + 1
    if cut <= 1 or any(len(n) <= cut for n in names):
        return
    for sub in plain:
        sub.ident, sub.student = sub.student[cut:], sub.student[cut:]


def _flag_same_names(found: list[Submission]) -> None:
    """Two submissions under one name stay two rows (their ids tell them apart); say so."""
    seen: dict[str, list[Submission]] = {}
    for sub in found:
        seen.setdefault(sub.student, []).append(sub)
    for name, subs in seen.items():
        if len(subs) > 1:
            for i, sub in enumerate(subs):
                if not sub.ident:
                    sub.ident = str(i + 1)
                sub.notes.append(f"{len(subs)} submissions are named {name!r}: told apart by id {sub.ident}")


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
        elif original in LAB_FILES:
            from aisys.grading.staging import copy_file

            why = copy_file(path, dest / original)
            if why:
                notes.append((original, why))
        elif _near_miss(original):
            notes.append((original, f"not graded: its name is not a lab file's — did you mean {_near_miss(original)}?"))
    return notes


def _copy_tree(src: Path, dest: Path) -> list[tuple[str, str]]:
    """The lab files (and zips) in a student's folder, never through a symlink."""
    from aisys.grading.staging import copy_file

    notes, seen, taken = [], 0, 0
    for top, dirs, files in os.walk(src, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(top, d))]
        seen += len(files)
        if seen > MAX_ENTRIES or taken > MAX_FILES:
            notes.append((src.name, f"more than {MAX_ENTRIES} files or {MAX_FILES} lab files: the rest was not read"))
            break
        for name in files:
            path = Path(top) / name
            rel = path.relative_to(src)
            if name in LAB_FILES:
                taken += 1
                why = copy_file(path, dest / rel)
                if why:
                    notes.append((name, why))
            elif name.lower().endswith(".zip") and not path.is_symlink():
                notes += _extract(path, dest / rel.parent / path.stem)
            elif _near_miss(name):
                notes.append((name, f"not graded: its name is not a lab file's — did you mean {_near_miss(name)}?"))
    return notes


def _extract(archive: Path, dest: Path) -> list[tuple[str, str]]:
    """Only lab files, only regular entries, no absolute or `..` paths, bounded sizes."""
    notes, total, taken = [], 0, 0
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = zf.infolist()
            if len(entries) > MAX_ENTRIES:
                return [(archive.name, f"holds {len(entries)} entries (more than {MAX_ENTRIES}): not read")]
            for info in entries:
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
                taken += 1
                if taken > MAX_FILES:
                    notes.append((archive.name, f"more than {MAX_FILES} lab files: the rest was not read"))
                    break
                total += info.file_size
                target = dest.joinpath(*[p for p in name.parts if p not in ("", ".")])
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    target.write_bytes(src.read(2 * 2**20 + 1))
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as err:
        notes.append((archive.name, f"not a readable zip ({type(err).__name__})"))
    return notes


def _near_miss(name: str) -> str:
    """A lab file's name that `name` was probably meant to be ("Tensors.py", "tensors (1).py")."""
    if not name.endswith(".py") or name in LAB_FILES:
        return ""
    plain = re.sub(r"[\s_-]*(\(\d+\)|copy|\d+)$", "", name[:-3].strip(), flags=re.I).lower() + ".py"
    return next((f for f in LAB_FILES if f == plain or f.lower() == name.lower()), "")
