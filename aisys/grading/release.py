"""`aisys release OUT`: the student edition of this repository.

What a class gets: the `aisys` package, `labs/` (the stubs, generated afresh from the
answers, with their briefs), the README without its instructor-only parts, `docs/`, the
project file, and a test suite of its own (`tests/test_edition.py`) — and nothing from
which the answers can be rebuilt: no `solutions/`, no toolkit tests (their planted bugs are
edits of the answers), no benchmarks (they time the answers). In the edition,
`--solution`/`--solutions` answer in one line that it has none. The instructor keeps the
full repository.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from aisys.catalog import LABS, REPO_DIR
from aisys.errors import UserError
from aisys.stubs import MANIFEST, expected_stubs, manifest_text

_INSTRUCTOR = re.compile(r"<!-- instructor-only -->.*?<!-- /instructor-only -->\n?", re.S)
_TOP_FILES = ("pyproject.toml", ".gitignore", "LICENSE")

EDITION_TESTS = '''"""The student edition's own tests: it installs, lists, shows, runs and grades the stubs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRISTINE = ROOT / "tests" / "fixtures" / "labs"      # the stubs as released: never your own labs/


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    """A copy of the released stubs: the tests never read or grade the labs/ you work in."""
    copy = tmp_path_factory.mktemp("stubs") / "labs"
    shutil.copytree(PRISTINE, copy)
    return copy


def aisys(*args, timeout=600):
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "aisys", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_there_are_no_reference_answers():
    assert not (ROOT / "solutions").exists()
    for args in (["lab", "run", "graph", "--solution"], ["check", "graph", "--solutions"]):
        proc = aisys(*args)
        assert proc.returncode == 2 and "no reference answers" in proc.stderr, proc.stderr


def test_the_labs_are_listed_and_every_brief_shows():
    assert "graph" in aisys("lab", "list").stdout
    for lab in ("graph", "1"):
        for lang in ("en", "zh"):
            assert aisys("lab", "show", lab, "--lang", lang).returncode == 0


@pytest.mark.parametrize("lab", ["graph"])
def test_a_demo_runs_on_the_stubs(lab, stubs):
    proc = aisys("lab", "run", lab, "--labs-dir", str(stubs))
    assert proc.returncode == 0 and "not implemented yet" in proc.stdout, proc.stderr


def test_the_stubs_grade_to_zero_not_started(stubs):
    proc = aisys("check", "--format", "json", "--labs-dir", str(stubs))
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["score"] == 0 and report["labs"]
    assert {ex["status"] for lab in report["labs"] for ex in lab["exercises"]} == {"not_implemented"}
'''


def build_release(out: Path, repo: Path = REPO_DIR) -> list[Path]:
    """Write the student edition into `out` (which must not exist or be empty)."""
    if not (repo / "solutions").is_dir():
        raise UserError("aisys release: this edition has no reference answers (it is the student edition)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not empty: give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(repo / "aisys", out / "aisys", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for folder in ("docs",):       # the student's docs: not the class walk-through or the tour tool
        if (repo / folder).is_dir():
            shutil.copytree(repo / folder, out / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "tour.py", "class.md"))
    for name in _TOP_FILES:
        if (repo / name).is_file():
            shutil.copyfile(repo / name, out / name)
    readme = (repo / "README.md").read_text(encoding="utf-8")
    (out / "README.md").write_text(_INSTRUCTOR.sub("", readme), encoding="utf-8")
    for lab in LABS:
        for brief in sorted((repo / "labs" / lab.folder).glob("README*.md")):
            target = out / "labs" / lab.folder / brief.name
            target.parent.mkdir(parents=True, exist_ok=True)
            lines = brief.read_text(encoding="utf-8").splitlines(keepends=True)
            target.write_text("".join(l for l in lines if "--solution" not in l), encoding="utf-8")
    stubs = expected_stubs(repo)
    for path, text in stubs.items():                     # generated afresh: never a solved copy
        target = out / path.relative_to(repo)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (out / "labs" / MANIFEST).write_text(manifest_text(stubs, repo / "labs"))
    shutil.copytree(out / "labs", out / "tests" / "fixtures" / "labs",
                    ignore=shutil.ignore_patterns("README*.md"))   # pristine stubs for the edition's tests
    (out / "tests" / "test_edition.py").write_text(EDITION_TESTS, encoding="utf-8")
    ci = out / ".ci" / "run"
    ci.parent.mkdir()
    ci.write_text("#!/usr/bin/env bash\nset -euo pipefail\ncd \"$(dirname \"$0\")/..\"\n"
                  "python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu\n"
                  "python -m pip install --quiet -e \".[dev]\"\n"
                  "python -m pytest -q\n")
    ci.chmod(0o755)
    return sorted(p for p in out.rglob("*") if p.is_file())


def answer_windows(repo: Path = REPO_DIR, size: int = 3) -> set[str]:
    """Every run of `size` consecutive code lines inside the answers (whitespace stripped,
    comments and blank lines dropped): no file of the edition may contain one."""
    found = set()
    for src in (repo / "solutions").glob("*/*.py"):
        block: list[str] | None = None
        for line in src.read_text().splitlines():
            if "# BEGIN SOLUTION" in line:
                block = []
            elif "# END SOLUTION" in line and block is not None:
                found.update("\n".join(block[i:i + size]) for i in range(len(block) - size + 1))
                block = None
            elif block is not None and line.strip() and not line.strip().startswith("#"):
                block.append(line.strip())
    return found


def code_lines(text: str) -> str:
    """A file's text as `answer_windows` sees code: stripped lines, no blanks or comments."""
    return "\n".join(l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#"))


__all__ = ["build_release", "answer_windows", "code_lines", "MANIFEST"]
