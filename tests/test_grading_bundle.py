"""`aisys grade-bundle` and `aisys check --submission`: the Gradescope autograder zip, run
locally against sample submissions, and what is (not) read from a submission."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aisys.catalog import find_lab
from conftest import REPO, run_cli

GRAPH = find_lab("graph")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    proc = run_cli("grade-bundle", "graph", "--output", str(out), "--seed", "4242", "--timeout", "60")
    assert proc.returncode == 0, proc.stderr
    return out


def test_bundle_layout(bundle):
    with zipfile.ZipFile(bundle) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        run = zf.read("run_autograder").decode()
    for script in ("setup.sh", "run_autograder"):
        assert script in infos, "scripts belong at the zip root"
        assert stat.S_IMODE(infos[script].external_attr >> 16) & 0o111, f"{script} is not executable"
    assert "pyproject.toml" in infos and "aisys/cli.py" in infos and "aisys/grading/worker.py" in infos
    assert not [n for n in infos if n.startswith(("solutions/", "labs/", "tests/")) or "__pycache__" in n]
    assert infos["seed"].external_attr >> 16 & 0o077 == 0
    assert "--submission" in run and "--format gradescope" in run and "--isolation best" in run
    assert "--seed-file" in run and "--seed " not in run, "the seed must never be on a command line"
    with zipfile.ZipFile(bundle) as zf:
        setup, pinned = zf.read("setup.sh").decode(), zf.read("PINNED.txt").decode()
    import torch

    assert f"torch=={torch.__version__.split('+')[0]}" in setup and "torch==" in pinned, "torch is pinned"


def test_a_bundle_needs_a_seed_or_says_public():
    proc = run_cli("grade-bundle", "graph", "--output", "/nonexistent/x.zip")
    assert proc.returncode == 2 and "--public-seed" in proc.stderr
    proc = run_cli("grade-bundle", "graph", "--seed", "-5", "--output", "/nonexistent/x.zip")
    assert proc.returncode == 2 and "whole number" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def installed(bundle, tmp_path_factory) -> Path:
    """The bundle unpacked and installed by its own setup.sh (a virtual environment with the
    pinned versions and the bundled aisys), as Gradescope does — offline here: the pinned
    versions are the ones this machine already has."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AISYS_SKIP_APT": "1", "PIP_NO_INDEX": "1"}
    proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root


def _autograde(root: Path, submission: Path, **env) -> dict:
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(submission, root / "submission", symlinks=True)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), **env}
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                          timeout=300, env=env, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.slow
def test_run_autograder_grades_a_repository_submission(installed, tmp_path):
    """A submitted repository (labs/ one level down) with a conftest that must never run,
    graded by the bundle's own installed aisys (not this checkout's)."""
    repo = tmp_path / "submission" / "my-aisys"
    shutil.copytree(REPO / "solutions" / GRAPH.folder, repo / "labs" / GRAPH.folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    marker = tmp_path / "conftest-ran"
    for name in ("conftest.py", "sitecustomize.py", "labs/__init__.py"):
        (repo / name).write_text(f"open({str(marker)!r}, 'w').close()\n")
    results = _autograde(installed, tmp_path / "submission")
    assert results["score"] == GRAPH.max_score, results["output"]
    assert results["extra_data"]["seed"] == 4242
    assert results["extra_data"]["isolation"]["mode"] in ("namespaces", "uid")
    assert "hidden" in results["output"]
    assert not marker.exists(), "a file of the submission outside the lab files was imported"
    results = _autograde(installed, tmp_path / "submission", AISYS_SECRET_SEED="77")
    assert results["extra_data"]["seed"] == 77 and results["score"] == GRAPH.max_score


def test_run_autograder_reports_when_the_grader_cannot_run(bundle, tmp_path):
    root = tmp_path / "root"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    (tmp_path / "empty").mkdir()
    results = _autograde(root, tmp_path / "empty", AISYS_VENV=str(tmp_path / "no-such-venv"))
    assert results["score"] == 0 and results["tests"] == [] and "could not grade" in results["output"]


@pytest.mark.slow
def test_submission_reads_only_the_named_lab_files(tmp_path):
    """Flat files at the submission root; a helper module next to them is not copied, so a
    lab file that imports it fails that file's exercises only."""
    sub = tmp_path / "sub"
    shutil.copytree(REPO / "solutions" / GRAPH.folder, sub, ignore=shutil.ignore_patterns("__pycache__"))
    (sub / "helper.py").write_text("SECRET = 1\n")
    functions = sub / "functions.py"
    functions.write_text(functions.read_text().replace("import torch\n", "import torch\nimport helper\n", 1))
    proc = run_cli("check", "graph", "--submission", str(sub), "--format", "json")
    report = json.loads(proc.stdout)
    scores = {ex["name"]: ex for ex in report["labs"][0]["exercises"]}
    assert proc.returncode == 1
    for name in ("MyReLU", "MySigmoid"):
        assert scores[name]["score"] == 0 and "helper" in scores[name]["cases"][0]["message"]
    others = [ex for name, ex in scores.items() if name not in ("MyReLU", "MySigmoid")]
    assert all(ex["status"] == "passed" for ex in others)
    assert report["labs_dir"] == str(sub)
    assert str(sub / "functions.py") in scores["MyReLU"]["cases"][0]["message"], "name the submitted file"


def test_submission_errors_are_one_line(tmp_path):
    proc = run_cli("check", "graph", "--submission", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "not found" in proc.stderr
    proc = run_cli("check", "graph", "--submission", str(tmp_path), "--solutions")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_staging_finds_each_layout(tmp_path):
    from aisys.grading.staging import stage

    layouts = {"labs": tmp_path / "a" / "labs" / GRAPH.folder, "folder": tmp_path / "b" / GRAPH.folder,
               "nested": tmp_path / "c" / "x" / "y" / GRAPH.folder, "flat": tmp_path / "d"}
    for folder in layouts.values():
        folder.mkdir(parents=True)
        for file in GRAPH.files:
            (folder / file).write_text("# student code\n")
        (folder / "helper.py").write_text("")
    (layouts["flat"] / "tensors_link.py").symlink_to(REPO / "solutions" / GRAPH.folder / "tensors.py")
    for name, folder in layouts.items():
        root = tmp_path / ("a" if name == "labs" else folder.relative_to(tmp_path).parts[0])
        dest = tmp_path / f"staged-{name}"
        dest.mkdir()
        copied = stage(root, dest).copied
        assert sorted(copied) == sorted(f"{GRAPH.folder}/{f}" for f in GRAPH.files), name
        assert not (dest / GRAPH.folder / "helper.py").exists()
