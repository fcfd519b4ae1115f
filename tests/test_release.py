"""`aisys release OUT`: the student edition has no answers in any form, and passes its own tests."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aisys.grading.release import answer_windows, code_lines
from conftest import REPO, run_cli


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "aisys-student"
    proc = run_cli("release", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_edition_has_no_answers_in_any_form(edition):
    files = [p for p in edition.rglob("*") if p.is_file()]
    assert not (edition / "solutions").exists() and not (edition / "benchmarks").exists()
    assert not any("solutions" in p.relative_to(edition).parts for p in files)
    windows = answer_windows(REPO, size=6)
    assert windows, "no answers found to look for"
    leaks = [(str(p.relative_to(edition)), w.splitlines()[0]) for p in files
             for w in windows if w in code_lines(p.read_text(errors="replace"))]
    assert not leaks, leaks[:5]
    readme = (edition / "README.md").read_text()
    assert "instructor-only" not in readme and "--solution" not in readme
    assert (edition / "labs" / ".stubs-manifest.json").is_file()


def test_the_edition_refuses_a_second_write(edition):
    proc = run_cli("release", str(edition))
    assert proc.returncode == 2 and "not empty" in proc.stderr


@pytest.mark.slow
def test_the_edition_passes_its_own_tests(edition):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=edition,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
