"""The one stub generator: labs/ is made from solutions/, never edited by hand.

In a solution file every answer body sits between two marker lines:

    # BEGIN SOLUTION            -> replaced by `raise NotImplementedError(...)`
    # BEGIN SOLUTION: pass      -> replaced by the code after the colon (empty: removed)
    ...the answer...
    # END SOLUTION

The marker lines never reach labs/. Signatures, docstrings and hints stay in the solution
file and flow into the stub, so there is one place to edit them.
"""
from __future__ import annotations

import re
from pathlib import Path

from aisys.catalog import LABS, REPO_DIR

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::(?P<code>.*))?\s*$")
_END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
STUB_RAISE = 'raise NotImplementedError("not implemented yet: read the docstring and its hint")'


class MarkerError(ValueError):
    pass


def generate_stub(source: str, filename: str = "<solution>") -> str:
    """Replace each marked answer in `source` by its stub line."""
    out: list[str] = []
    inside_since: int | None = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if inside_since is not None:
                raise MarkerError(f"{filename}:{number}: BEGIN SOLUTION inside the block opened at line {inside_since}")
            inside_since = number
            code = STUB_RAISE if begin["code"] is None else begin["code"].strip()
            if code:
                out.append(f"{begin['indent']}{code}\n")
        elif end:
            if inside_since is None:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without a BEGIN")
            inside_since = None
        elif inside_since is None:
            out.append(line)
    if inside_since is not None:
        raise MarkerError(f"{filename}:{inside_since}: BEGIN SOLUTION is never closed")
    return "".join(out)


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


def write_stubs(repo: Path = REPO_DIR) -> list[Path]:
    """Regenerate every drifted stub; returns the files written."""
    written = drifted_stubs(repo)
    stubs = expected_stubs(repo)
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stubs[path])
    return written
