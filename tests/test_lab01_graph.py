"""Lab 01 end to end: solutions earn 100, stubs 0, wrong and hostile answers what they deserve."""
from __future__ import annotations

import json

import pytest

from aisys.graph.checks import canonical
from aisys.graph.expressions import F_STEPS, graph_of, random_steps, run_float
from aisys.graph.ir import Graph
from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace


@pytest.fixture(scope="module")
def solutions_report():
    report, proc = check_json("graph", "--solutions")
    return report, proc


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stdout
    assert report["score"] == report["max_score"] == 100.0
    assert all(ex["status"] == "passed" for ex in report["labs"][0]["exercises"])


def test_report_follows_the_schema(solutions_report):
    report, _ = solutions_report
    assert {"aisys_version", "seed", "labs_dir", "score", "max_score", "labs"} <= set(report)
    lab = report["labs"][0]
    assert (lab["slug"], lab["number"]) == ("graph", 1)
    case = lab["exercises"][0]["cases"][0]
    assert {"id", "status", "output"} <= set(case)


def test_stubs_score_zero_not_started():
    report, proc = check_json("graph", "--labs-dir", str(STUBS))
    assert proc.returncode == 1
    assert report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


def test_same_seed_same_report(tmp_path):
    a, _ = check_json("graph", "--solutions", "--seed", "7")
    b, _ = check_json("graph", "--solutions", "--seed", "7")
    for report in (a, b):
        report["labs"][0].pop("duration_s")
    assert a == b


def test_a_topo_sort_that_ignores_edges_gets_partial_credit(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [
        ("indegree = {node.name: len(node.inputs) for node in graph}",
         "indegree = {node.name: len(node.inputs[:1]) for node in graph}")]})
    report, proc = check_json("graph", "--labs-dir", str(labs))
    topo = exercise(report, "topo_sort")
    assert proc.returncode == 1
    assert 0 < topo["score"] < topo["max_score"]
    failed = [c for c in topo["cases"] if c["status"] == "failed"]
    assert failed and all(("->" in c["message"] or "cycle" in c["message"]) for c in failed)
    assert exercise(report, "row_major_strides")["status"] == "passed"


def test_a_graph_walk_without_dedup_fails_with_a_reason(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [
        ("if fn is None or id(fn) in names:\n            continue\n        names[id(fn)]",
         "if fn is None:\n            continue\n        names[id(fn)]")]})
    report, _ = check_json("graph", "--labs-dir", str(labs))
    ex = exercise(report, "graph_from_torch")
    assert ex["score"] == 0 and ex["status"] in ("failed", "error")
    assert all("duplicate node" in c["message"] or "differ" in c["message"] for c in ex["cases"])


def test_sys_exit_mid_check_earns_nothing(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"tensors.py": [
        ('    # BEGIN SOLUTION\n    strides = []', '    # BEGIN SOLUTION\n    import sys; sys.exit(0)\n    strides = []')]})
    report, proc = check_json("graph", "--labs-dir", str(labs))
    assert exercise(report, "row_major_strides")["score"] == 0
    assert proc.returncode == 1


def test_os_exit_at_import_earns_nothing(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"functions.py": [("import torch\n", "import torch, os\nos._exit(0)\n")]})
    report, proc = check_json("graph", "--labs-dir", str(labs))
    assert exercise(report, "MyReLU")["score"] == 0 and exercise(report, "MySigmoid")["score"] == 0
    assert proc.returncode == 1


def test_an_infinite_loop_times_out_and_the_run_finishes(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [
        ("    # BEGIN SOLUTION\n    indegree", "    # BEGIN SOLUTION\n    while True:\n        pass\n    indegree")]})
    report, proc = check_json("graph", "--labs-dir", str(labs), "--timeout", "90")
    topo = exercise(report, "topo_sort")
    assert topo["score"] == 0 and topo["status"] == "timeout"
    assert exercise(report, "backward_graph")["status"] == "passed"   # later cases still ran


def test_printing_a_fake_report_earns_nothing(tmp_path):
    fake = json.dumps({"case": "topo_sort/diamond", "status": "ok", "output": {"order": []}, "score": 100})
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [
        ("    # BEGIN SOLUTION\n    indegree",
         f"    print({fake!r}); print('PASSED 100/100')\n    raise NotImplementedError\n    indegree")]})
    report, _ = check_json("graph", "--labs-dir", str(labs))
    assert exercise(report, "topo_sort")["score"] == 0


@pytest.mark.parametrize("stubs", [False, True])
def test_demo_runs_and_exits_zero(stubs, tmp_path):
    args = ["lab", "run", "graph"] + ([] if stubs else ["--solution", "--dot", str(tmp_path / "f.dot")])
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    if stubs:
        assert "not implemented yet — edit labs/01_graph/graphs.py: topo_sort" in proc.stdout
    else:
        assert "SubBackward0" in proc.stdout
        assert (tmp_path / "f.dot").read_text().startswith('digraph "f"')


def test_random_expressions_are_finite_and_single_output():
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(20):
        steps = random_steps(rng, 10)
        graph = graph_of(steps)
        assert graph.sinks() == [steps[-1][0]]
        assert np.isfinite(run_float(steps, {"x1": 1.5, "x2": 0.7})[steps[-1][0]])


def test_canonical_form_ignores_names_but_not_structure():
    f = graph_of(F_STEPS)
    renamed = Graph.from_plain({"nodes": [{"name": f"z{n.name}", "op": n.op, "inputs": [f"z{i}" for i in n.inputs]}
                                          for n in f]})
    assert canonical(renamed) == canonical(f)
    swapped = graph_of([("v1", "log", ["x2"])] + F_STEPS[1:])
    assert canonical(swapped) != canonical(f)
