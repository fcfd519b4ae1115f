"""Staff-only: which submitted exercises are the reference answer, give or take formatting.

Each exercise's definition (the function or class the catalog names) is parsed and compared
with the reference's as an AST with docstrings dropped — so whitespace, comments, blank lines
and docstring edits do not hide a copy, while any change to the code does. A match is a
flag for a person to look at (a short answer can match honestly), never a score change. In
the student edition (no `solutions/`) there is nothing to compare with, and nothing is said.
"""
from __future__ import annotations

import ast
from pathlib import Path

from aisys.catalog import REPO_DIR, Lab


def _normalised(source: str) -> dict[str, str]:
    """Top-level name → a formatting-free dump of its definition (docstrings removed)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = ast.dump(node, annotate_fields=False, include_attributes=False)
    return found


def matches_reference(labs_dir: Path, labs: list[Lab], solutions: Path | None = None) -> list[str]:
    """'<folder>/<file>: <exercise>' for every submitted exercise equal to the reference."""
    solutions = solutions or REPO_DIR / "solutions"
    if not solutions.is_dir():
        return []
    found = []
    for lab in labs:
        for file in lab.files:
            mine, ref = labs_dir / lab.folder / file, solutions / lab.folder / file
            if not mine.is_file() or not ref.is_file():
                continue
            theirs, reference = _normalised(mine.read_text(errors="replace")), _normalised(ref.read_text())
            for ex in lab.exercises:
                if ex.file == file and ex.name in reference and theirs.get(ex.name) == reference[ex.name]:
                    found.append(f"{lab.folder}/{file}: {ex.name}")
    return found
