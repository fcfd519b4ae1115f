"""Finding a labs directory and importing a student's lab files by path.

A lab file is loaded with `importlib` from its path (never from `sys.path`), so the same
code loads `labs/` (the student's workspace), `solutions/` (the reference) or a submitted
copy. Errors become one readable line that names the file and line.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

from aisys.catalog import LABS, REPO_DIR, Lab, find_lab
from aisys.errors import StudentCodeError, UserError


def resolve_labs_dir(labs_dir: str | os.PathLike | None = None, solutions: bool = False) -> Path:
    """`--solutions` → the repository's solutions/; `--labs-dir` → that; else ./labs or the repo's."""
    if solutions and labs_dir:
        raise UserError("give either --labs-dir or --solutions, not both")
    if solutions:
        path = REPO_DIR / "solutions"
    elif labs_dir:
        path = Path(labs_dir)
    elif (Path.cwd() / "labs").is_dir():
        path = Path.cwd() / "labs"
    else:
        path = REPO_DIR / "labs"
    if not path.is_dir():
        raise UserError(f"labs directory not found: {path}")
    return path.resolve()


def display_path(path: Path) -> str:
    """A path as a student would type it: relative to the current directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Student:
    """One lab's files in one labs directory, imported lazily by path."""

    def __init__(self, lab: Lab, labs_dir: Path):
        self.lab = lab
        self.labs_dir = Path(labs_dir)
        self._modules: dict[str, ModuleType] = {}

    def path(self, file: str) -> Path:
        return self.labs_dir / self.lab.folder / file

    def where(self, name: str) -> str:
        """'labs/01_graph/graphs.py: topo_sort' — where the student edits an exercise."""
        return f"{display_path(self.path(self.lab.exercise(name).file))}: {name}"

    def module(self, file: str) -> ModuleType:
        if file not in self._modules:
            self._modules[file] = load_module(self.path(file), self.lab)
        return self._modules[file]

    def get(self, name: str) -> Any:
        """The student's object for exercise `name` (StudentCodeError if the file won't load)."""
        mod = self.module(self.lab.exercise(name).file)
        try:
            return getattr(mod, name)
        except AttributeError:
            raise StudentCodeError(f"{self.where(name)} is missing (was it renamed or deleted?)") from None


_IMPORT_TIMED_OUT: set[Path] = set()


def load_module(path: Path, lab: Lab) -> ModuleType:
    """Import one file by path; a syntax or import error becomes a one-line StudentCodeError,
    and so does an import that runs past the case's time (said once, then for every later use
    of the file, instead of a half-imported module whose functions seem to be missing)."""
    path = Path(path).resolve()
    if path in _IMPORT_TIMED_OUT:
        raise StudentCodeError(_timed_out(path))
    if not path.is_file():
        raise StudentCodeError(f"lab file not found: {display_path(path)}")
    name = f"aisys_lab{lab.number:02d}_{path.stem}_{zlib.crc32(str(path.parent).encode()):08x}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        sys.modules.pop(name, None)
        where = f"{display_path(Path(err.filename or path))}:{err.lineno}"
        raise StudentCodeError(f"{where}: SyntaxError: {err.msg}") from None
    except Exception as err:  # an import-time failure in the student's own file
        sys.modules.pop(name, None)
        line = _student_line(err, path)
        raise StudentCodeError(
            f"{display_path(path)}{line}: {type(err).__name__}: {err}") from None
    except BaseException as err:   # the case's time ran out (or an exit) while importing
        sys.modules.pop(name, None)
        if type(err).__name__ == "CaseTimeout":
            _IMPORT_TIMED_OUT.add(path)
            raise StudentCodeError(_timed_out(path)) from None
        raise
    return module


def _timed_out(path: Path) -> str:
    return (f"{display_path(path)}: importing this file timed out — code at the top level of the file "
            "(outside any function) runs on import: is there an endless loop or a long computation there?")


def _student_line(err: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == path]
    return f":{frames[-1].lineno}" if frames else ""


def stub_origin(err: BaseException, labs_dir: Path) -> tuple[Path, str] | None:
    """Where in the student's files a NotImplementedError came from: (file, function).

    The innermost frame under `labs_dir` is the stub that still raises — often a helper the
    exercise calls, or another lab's file, rather than the exercise itself.
    """
    root = Path(labs_dir).resolve()
    origin = None
    tb = err.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_absolute() and root in path.resolve().parents:
            code = tb.tb_frame.f_code
            origin = (path, getattr(code, "co_qualname", code.co_name))
        tb = tb.tb_next
    return origin


def stub_note(err: BaseException, student: "Student", exercise: str) -> str:
    """'' when `exercise` itself is the stub; else which other function still raises."""
    origin = stub_origin(err, student.labs_dir)
    if origin is None or origin[1].split(".")[0] == exercise:
        return ""
    return f"{display_path(origin[0])}: {origin[1]}"


def sibling(caller_file: str, slug: str, file: str) -> ModuleType:
    """Load another lab's file from the same labs directory as `caller_file`.

    Lab 03 builds on the student's own lab-02 reverse mode: in labs/ it gets theirs,
    in solutions/ the reference, in a submission the submitted one.
    """
    labs_dir = Path(caller_file).resolve().parent.parent
    return Student(find_lab(slug), labs_dir).module(file)


__all__ = ["LABS", "Student", "display_path", "load_module", "resolve_labs_dir", "sibling", "stub_note",
           "stub_origin"]
