"""The one stub generator: labs/ is made from solutions/, never edited by hand.

In a solution file every answer body sits between two marker lines:

    # BEGIN SOLUTION            -> replaced by `raise NotImplementedError(...)`
    # BEGIN SOLUTION: pass      -> replaced by the code after the colon (empty: removed)
    ...the answer...
    # END SOLUTION

The marker lines never reach labs/. Signatures, docstrings and hints stay in the solution
file and flow into the stub, so there is one place to edit them.

A student's files are sacred: `write_stubs` remembers what it generated (a manifest of
hashes in `labs/.stubs-manifest.json`) and refuses to replace a file that differs from both
that and the new stub — the student edited it — unless forced, and even then it keeps a copy.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from typing import Callable

from aisys.catalog import LABS, REPO_DIR
from aisys.errors import UserError

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::(?P<code>.*))?\s*$")
_END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
STUB_RAISE = 'raise NotImplementedError("not implemented yet: read the docstring and its hint")'
MANIFEST = ".stubs-manifest.json"
BACKUPS = ".aisys-backup"

# (line number of the BEGIN marker, the innermost function around it or "") → replacement
# lines, or None to keep the answer itself (used to build test variants from the answers)
Replace = Callable[[int, str], "str | None"]


class MarkerError(ValueError):
    pass


def generate_stub(source: str, filename: str = "<solution>", replace: Replace | None = None) -> str:
    """Replace each marked answer in `source` by its stub line (or by what `replace` says)."""
    functions = _enclosing_functions(source) if replace else {}
    out: list[str] = []
    inside_since: int | None = None
    keep = False
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if inside_since is not None:
                raise MarkerError(f"{filename}:{number}: BEGIN SOLUTION inside the block opened at line {inside_since}")
            inside_since = number
            code = STUB_RAISE if begin["code"] is None else begin["code"].strip()
            if replace is not None:
                override = replace(number, functions.get(number, ""))
                keep = override is None
                code = "" if keep else override
            if code:
                out.append(f"{begin['indent']}{code}\n")
        elif end:
            if inside_since is None:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without a BEGIN")
            inside_since, keep = None, False
        elif inside_since is None or keep:
            out.append(line)
    if inside_since is not None:
        raise MarkerError(f"{filename}:{inside_since}: BEGIN SOLUTION is never closed")
    return "".join(out)


def _enclosing_functions(source: str) -> dict[int, str]:
    """line number → name of the innermost function containing it (markers are comments,
    so the answer's own source parses)."""
    inner: dict[int, tuple[int, str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            span = node.end_lineno - node.lineno
            for line in range(node.lineno, node.end_lineno + 1):
                if line not in inner or span < inner[line][0]:
                    inner[line] = (span, node.name)
    return {line: name for line, (_, name) in inner.items()}


def variant(source: str, body: str, filename: str = "<solution>") -> str:
    """The answers with every answer body inside a function replaced by `body` (e.g.
    'return None'): what a student who forgot every `return` would hand in. Constructors keep
    their answers, so objects still get built."""
    def replace(line: int, function: str) -> str | None:
        return None if function in ("", "__init__", "__post_init__", "__new__") else body
    return generate_stub(source, filename, replace)


def expected_stubs(repo: Path = REPO_DIR) -> dict[Path, str]:
    """labs/<folder>/<file>.py → its generated text, for every solution file of every lab."""
    stubs = {}
    for lab in LABS:
        src_dir = repo / "solutions" / lab.folder
        for src in sorted(src_dir.glob("*.py")) if src_dir.is_dir() else []:
            stubs[repo / "labs" / lab.folder / src.name] = generate_stub(src.read_text(), str(src))
    return stubs


def drifted_stubs(repo: Path = REPO_DIR) -> list[Path]:
    """Stub files whose text differs from what the solutions generate."""
    return [path for path, text in expected_stubs(repo).items()
            if not path.is_file() or path.read_text() != text]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest(labs: Path) -> dict[str, str]:
    try:
        data = json.loads((labs / MANIFEST).read_text())
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def edited_files(repo: Path = REPO_DIR) -> list[Path]:
    """Lab files a student changed: present, not what the stubs were last generated as, and
    not what they would be generated as now."""
    labs = repo / "labs"
    known = _manifest(labs)
    edited = []
    for path, text in expected_stubs(repo).items():
        if not path.is_file():
            continue
        current = path.read_text()
        if current != text and known.get(path.relative_to(labs).as_posix()) != _digest(current):
            edited.append(path)
    return edited


def write_stubs(repo: Path = REPO_DIR, *, force: bool = False) -> tuple[list[Path], Path | None]:
    """Regenerate every drifted stub; returns (files written, backup folder or None).

    A file the student edited is never replaced silently: without `force` this raises
    UserError naming them; with it, they are copied to labs/.aisys-backup/<time>/ first.
    """
    labs = repo / "labs"
    stubs = expected_stubs(repo)
    edited = edited_files(repo)
    if edited and not force:
        names = ", ".join(str(p.relative_to(repo)) for p in edited)
        raise UserError(f"not overwriting {len(edited)} edited lab file(s): {names} "
                        "(they differ from the stubs aisys generated; --force keeps a backup and replaces them)")
    backup = None
    if edited:
        backup = labs / BACKUPS / time.strftime("%Y%m%d-%H%M%S")
        for path in edited:
            target = backup / path.relative_to(labs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    written = [path for path, text in stubs.items() if not path.is_file() or path.read_text() != text]
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stubs[path])
    (labs / MANIFEST).write_text(manifest_text(stubs, labs))
    return written, backup


def manifest_text(stubs: dict[Path, str], labs: Path) -> str:
    """The manifest of generated stubs: each lab file's hash, so later runs know an edit."""
    manifest = {path.relative_to(labs).as_posix(): _digest(text) for path, text in stubs.items()}
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"
