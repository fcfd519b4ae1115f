"""Copying lab files into a fresh labs directory without trusting the source tree.

Used for `aisys check --submission DIR`, `grade-class` (nothing of a student's but the lab
files the catalog names is ever imported — no conftest, no helper modules) and for a
sandbox that reads a copy rather than the original.

A submission may hold the files as `DIR/labs/NN_slug/file.py`, `DIR/NN_slug/file.py`,
`NN_slug/` anywhere below DIR (a repository inside a zip), or flat — `DIR/file.py`, or in
the shallowest folder below DIR that holds them (every lab file name in the catalog is unique).

Symlinks are never followed, at any depth: the tree is walked without following links, and
each file is opened with O_NOFOLLOW and checked on the open descriptor (a regular file, at
most `MAX_FILE_BYTES`), so a link to another student's work or to `solutions/` is refused,
not read. Refused files are reported with the reason.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from aisys.catalog import LABS, Lab

MAX_FILE_BYTES = 2 * 2**20
_SKIP = ("__pycache__", "node_modules")


@dataclass
class Staged:
    copied: dict[str, str] = field(default_factory=dict)    # "<folder>/<file>" → where it came from
    refused: dict[str, str] = field(default_factory=dict)   # "<folder>/<file>" → why


def _real_dirs(root: Path) -> list[Path]:
    """Every directory below `root` reached without following a symlink (hidden ones skipped)."""
    found = []
    for top, dirs, _ in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP
                         and not os.path.islink(os.path.join(top, d)))
        found.extend(Path(top) / d for d in dirs)
    return found


def lab_folder_in(root: Path, lab: Lab, dirs: list[Path] | None = None) -> Path | None:
    """Where `lab`'s files are inside a submission (None: nowhere). Never through a symlink."""
    candidates = [d for d in (dirs if dirs is not None else _real_dirs(root)) if d.name == lab.folder]
    if candidates:
        return min(candidates, key=lambda d: (d.parent.name != "labs", len(d.relative_to(root).parts), str(d)))
    for folder in [root, *sorted(dirs if dirs is not None else _real_dirs(root),
                                 key=lambda d: (len(d.relative_to(root).parts), str(d)))]:
        if any(os.path.lexists(folder / file) for file in lab.files):
            return folder                     # flat: the files themselves, in the shallowest folder
    return None


def stage(source: Path, dest: Path, labs: tuple[Lab, ...] = LABS) -> Staged:
    """Copy each lab's named files from `source` into `dest/<folder>/` (world-readable)."""
    result = Staged()
    dest.mkdir(parents=True, exist_ok=True)
    dirs = _real_dirs(source)
    for lab in labs:
        folder = lab_folder_in(source, lab, dirs)
        if folder is None:
            continue
        for file in lab.files:
            path = folder / file
            if not os.path.lexists(path):
                continue
            key = f"{lab.folder}/{file}"
            why = copy_file(path, dest / lab.folder / file)
            if why:
                result.refused[key] = why
            else:
                result.copied[key] = str(path)
    open_up(dest)
    return result


def copy_labs(source: Path, dest: Path, labs: tuple[Lab, ...] = LABS) -> Staged:
    """A self-check's copy: every .py file in each lab folder (students may split their work
    into helper modules), with the same rules as `stage`."""
    result = Staged()
    dest.mkdir(parents=True, exist_ok=True)
    for lab in labs:
        folder = source / lab.folder
        if not folder.is_dir() or folder.is_symlink():
            continue
        for top in [folder, *_real_dirs(folder)]:
            for name in sorted(os.listdir(top)):
                path = top / name
                if not name.endswith(".py") or name.startswith(".") or os.path.isdir(path) and not path.is_symlink():
                    continue
                key = path.relative_to(source).as_posix()
                why = copy_file(path, dest / key)
                (result.refused if why else result.copied)[key] = why or str(path)
    open_up(dest)
    return result


def copy_file(path: Path, target: Path) -> str:
    """Copy one file without following links; '' on success, else why it was refused."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        return "a symbolic link (never followed)" if os.path.islink(path) else f"unreadable ({err.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > MAX_FILE_BYTES:
            return f"too large ({info.st_size / 2**20:.1f} MiB; the limit is {MAX_FILE_BYTES >> 20} MiB)"
        data = b""
        while len(data) <= MAX_FILE_BYTES:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
        if len(data) > MAX_FILE_BYTES:
            return f"too large (over {MAX_FILE_BYTES >> 20} MiB)"
    finally:
        os.close(fd)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    os.chmod(target, 0o644)
    return ""


def open_up(root: Path) -> None:
    """Folders of a staged copy readable by the sandbox's user (whatever the umask was)."""
    for top, dirs, _ in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(top, name), 0o755)
    os.chmod(root, 0o755)
