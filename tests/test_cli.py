"""The CLI as a user meets it: help without torch, clear one-line errors, right exit codes."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from aisys.catalog import LABS, find_lab
from aisys.errors import UserError
from conftest import REPO, run_cli, workspace

PROBE = ("import runpy, sys; sys.argv = ['aisys', *{args!r}]\n"
         "try:\n    runpy.run_module('aisys', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "print('TORCH-IMPORTED' if 'torch' in sys.modules else 'TORCH-FREE', file=sys.stderr)")


@pytest.mark.parametrize("args", [["--help"], ["lab", "list"], ["lab", "--help"], ["check", "--help"]])
def test_help_and_list_do_not_import_torch(args):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert "TORCH-FREE" in proc.stderr, proc.stderr


def test_lab_list_names_every_lab():
    proc = run_cli("lab", "list", env={"COLUMNS": "200"})
    assert proc.returncode == 0
    for lab in LABS:
        assert lab.slug in proc.stdout
        assert lab.title_zh in proc.stdout


@pytest.mark.slow
def test_lab_list_shows_the_students_own_scores(tmp_path):
    """After a check of the whole lab, its row shows the score: full, partial, or not yet checked."""
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [("len(node.inputs)", "len(set(node.inputs))")]})
    shutil.copytree(REPO / "solutions" / "04_control_flow", labs / "04_control_flow")
    assert run_cli("check", "graph", "control-flow", "--labs-dir", str(labs)).returncode == 1
    assert run_cli("check", "graph:row_major_strides", "--labs-dir", str(labs)).returncode == 0  # one exercise:
    # not a whole lab's score, so it leaves graph's row as the whole-lab check left it
    rows = {line.split("│")[2].strip(): line.split("│")[-2].strip()
            for line in run_cli("lab", "list", "--labs-dir", str(labs), env={"COLUMNS": "200"}).stdout.splitlines()
            if line.startswith("│ 0")}
    assert rows["control-flow"] == "100/100"
    assert rows["graph"].endswith("/100") and 0 < float(rows["graph"].split("/")[0]) < 100   # the planted bug
    assert rows["autodiff"] == "–/100"


@pytest.mark.parametrize("name", ["graph", "1", "01", "01_graph", "GRAPH"])
def test_lab_names_resolve(name):
    assert find_lab(name).slug == "graph"


def test_unknown_lab_suggests_the_closest():
    with pytest.raises(UserError, match="did you mean 'graph'"):
        find_lab("grph")
    proc = run_cli("lab", "run", "grph")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: no lab 'grph' — did you mean 'graph'?"


@pytest.mark.parametrize("args", [["check", "graph", "--labs-dir", "/no/such/dir"],
                                  ["lab", "run", "graph", "--labs-dir", "/no/such/dir"],
                                  ["check", "graph", "--solutions", "--labs-dir", "labs"],
                                  ["check", "nosuchlab"]])
def test_bad_input_is_one_line_and_exit_2(args):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_lab_show_in_both_languages():
    en = run_cli("lab", "show", "graph")
    zh = run_cli("lab", "show", "1", "--lang", "zh")
    assert en.returncode == zh.returncode == 0
    assert "Computation graphs" in en.stdout
    assert "计算图" in zh.stdout


def test_syntax_error_is_shown_with_file_and_line(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [("def topo_sort(", "def topo_sort((")]})
    run = run_cli("lab", "run", "graph", "--labs-dir", str(labs))
    assert run.returncode == 1, run.stderr          # the file does not import: not a clean run
    assert "graphs.py:" in run.stdout and "SyntaxError" in run.stdout
    assert "how a tensor sits in memory" in run.stdout, "the demo goes on past the broken file"
    assert "Traceback" not in run.stdout + run.stderr
    check = run_cli("check", "graph", "--labs-dir", str(labs), "--format", "json")
    assert check.returncode == 1
    assert "graphs.py:" in check.stdout and "SyntaxError" in check.stdout
    assert "Traceback" not in check.stderr


def test_import_error_is_one_clear_message(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"tensors.py": [("from typing import Sequence",
                                                            "from typing import Sequence\nimport no_such_module")]})
    run = run_cli("lab", "run", "graph", "--labs-dir", str(labs))
    assert "tensors.py:" in run.stdout and "ModuleNotFoundError" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr and run.returncode == 1


def test_a_demo_stuck_in_an_endless_loop_is_stopped_and_named(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [
        ("    # BEGIN SOLUTION\n    indegree", "    # BEGIN SOLUTION\n    while True:\n        pass\n    indegree")]})
    run = run_cli("lab", "run", "graph", "--labs-dir", str(labs), "--timeout", "4", timeout=60)
    assert run.returncode == 1 and "ran past 4 s" in run.stdout
    assert "graphs.py: topo_sort" in run.stdout.replace("\n", "")


def test_python_dash_m_works():
    proc = run_cli("--version")
    assert proc.returncode == 0 and "aisys" in proc.stdout


def test_a_folder_that_is_not_a_labs_dir_is_refused(tmp_path):
    for args in (["lab", "run", "graph"], ["check", "graph"], ["check"]):
        proc = run_cli(*args, "--labs-dir", str(tmp_path))
        assert proc.returncode == 2, args
        assert "is it a labs directory?" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_output_paths_are_checked_before_running(tmp_path):
    proc = run_cli("lab", "run", "graph", "--solution", "--dot", str(tmp_path / "no" / "such" / "f.dot"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: cannot write")


def test_flags_a_lab_does_not_use_are_named():
    proc = run_cli("lab", "run", "graph", "--nproc", "4")
    assert proc.returncode == 0 and "does not use --nproc" in proc.stdout


def test_a_helper_stub_is_named_instead_of_the_exercise(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [
        ("def topo_sort(graph: Graph) -> list[str]:",
         "def _kahn(graph):\n    raise NotImplementedError\n\n\ndef topo_sort(graph: Graph) -> list[str]:\n    return _kahn(graph)\n\n\ndef _unused(graph: Graph) -> list[str]:")]})
    run = run_cli("lab", "run", "graph", "--labs-dir", str(labs))
    assert "graphs.py: _kahn (used by topo_sort)" in run.stdout
    check = run_cli("check", "graph", "--labs-dir", str(labs), "--format", "json")
    assert "graphs.py: _kahn still raises NotImplementedError" in check.stdout
