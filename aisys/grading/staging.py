"""Copying exactly the lab files the catalog names into a fresh labs directory.

Used for `aisys check --submission DIR` (a student's copy of the workspace: nothing of
theirs but the named lab files is ever imported — no conftest, no helper modules) and for
a sandbox user that cannot read the original directory.

A submission may hold the files as `DIR/labs/NN_slug/file.py`, `DIR/NN_slug/file.py`,
`NN_slug/` anywhere below DIR (a repository inside a zip), or flat `DIR/file.py` (every
lab file name in the catalog is unique).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from aisys.catalog import LABS, Lab

MAX_FILE_BYTES = 2 * 2**20


def lab_folder_in(root: Path, lab: Lab) -> Path | None:
    """Where `lab`'s files are inside a submission (None: nowhere)."""
    for candidate in (root / "labs" / lab.folder, root / lab.folder):
        if candidate.is_dir():
            return candidate
    found = sorted((p for p in root.rglob(lab.folder) if p.is_dir() and not _hidden(p, root)),
                   key=lambda p: (len(p.relative_to(root).parts), str(p)))
    if found:
        return found[0]
    if any((root / file).is_file() for file in lab.files):
        return root
    return None


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(root).parts)


def stage(source: Path, dest: Path, labs: tuple[Lab, ...] = LABS) -> dict[str, str]:
    """Copy each lab's named files from `source` into `dest/<folder>/`; returns
    {"<folder>/<file>": the path it was copied from}.

    Regular files only (a symlink could point at the reference answers), world-readable,
    at most 2 MiB each.
    """
    copied = {}
    dest.mkdir(parents=True, exist_ok=True)
    for lab in labs:
        folder = lab_folder_in(source, lab)
        if folder is None:
            continue
        for file in lab.files:
            path = folder / file
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            target = dest / lab.folder / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            os.chmod(target, 0o644)
            os.chmod(target.parent, 0o755)
            copied[f"{lab.folder}/{file}"] = str(path)
    os.chmod(dest, 0o755)
    return copied
