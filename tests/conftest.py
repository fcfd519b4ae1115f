"""Shared test helpers: run the CLI in a subprocess, make a workspace with a planted bug."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    """`python -m aisys ARGS` as a user would run it; returns the completed process (text)."""
    return subprocess.run([sys.executable, "-m", "aisys", *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


def check_json(*args: str, **kwargs) -> tuple[dict, subprocess.CompletedProcess]:
    """`aisys check ... --format json`, parsed."""
    proc = run_cli("check", *args, "--format", "json", **kwargs)
    assert proc.stdout.strip(), f"no JSON on stdout; stderr:\n{proc.stderr}"
    return json.loads(proc.stdout), proc


def workspace(tmp_path: Path, folder: str, edits: dict[str, list[tuple[str, str]]] | None = None) -> Path:
    """A labs dir holding solutions/<folder> with text edits applied: a plausible wrong answer.

    edits: {"graphs.py": [(old, new), ...]} — each `old` must occur in the file.
    """
    labs = tmp_path / "labs"
    shutil.copytree(REPO / "solutions" / folder, labs / folder)
    for file, pairs in (edits or {}).items():
        path = labs / folder / file
        text = path.read_text()
        for old, new in pairs:
            assert old in text, f"{old!r} not in {file}"
            text = text.replace(old, new)
        path.write_text(text)
    return labs


def exercise(report: dict, name: str) -> dict:
    """One exercise's entry in a JSON report."""
    for lab in report["labs"]:
        for ex in lab["exercises"]:
            if ex["name"] == name:
                return ex
    raise KeyError(name)


@pytest.fixture
def repo() -> Path:
    return REPO
