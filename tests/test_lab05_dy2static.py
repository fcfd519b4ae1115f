"""Lab 05 end to end (solutions 100, stubs 0, planted bugs lose points) and the bench."""
from __future__ import annotations

import ast

import numpy as np
import pytest
import torch

from aisys.dy2static import programs as P
from aisys.dy2static import runtime
from aisys.dy2static.convert_checks import TraceCheck
from aisys.dy2static.ssa_programs import random_program, run_source
from aisys.dy2static.static_graph import Ref, StaticGraph
from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace

FOLDER = "05_dy2static"


@pytest.fixture(scope="module")
def solutions_report():
    return check_json("dy2static", "--solutions")


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stdout
    assert report["score"] == report["max_score"] == 100.0
    assert "def forward" not in proc.stderr   # torch's chatter is kept out of the report
    # no timestamped torch log lines in the report: the same seed gives the same report
    assert not report["labs"][0].get("output")
    assert not any(c.get("output") for ex in report["labs"][0]["exercises"] for c in ex["cases"])


def test_stubs_score_zero_not_started():
    report, proc = check_json("dy2static", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


def test_planted_bugs_lose_points_with_a_reason(tmp_path):
    """Three wrong answers in one workspace (one per file): a tracer whose replay re-runs the
    Python, an SSA without φ, a conversion that hands back the eager function."""
    labs = workspace(tmp_path, FOLDER, {
        "tracing.py": [("    graph.set_output(tree_map(as_ref, output))\n    return graph",
                        "    graph.set_output(tree_map(as_ref, output))\n"
                        "    graph.__class__ = type('Rerun', (StaticGraph,), {'__call__': lambda self, *xs: fn(*xs)})\n"
                        "    return graph")],
        "ssa.py": [("for name in sorted(set(then_env) & set(else_env)):", "for name in []:")],
        "convert.py": [("    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))",
                        "    fn.source = inspect.getsource(fn)\n    return fn\n    tree = None")]})
    report, proc = check_json("dy2static", "--labs-dir", str(labs))
    assert proc.returncode == 1
    trace, ssa, convert = (exercise(report, n) for n in ("trace", "to_ssa", "to_static"))
    assert trace["score"] == 0
    assert all("ran the Python function again" in c["message"] for c in trace["cases"])
    assert 0 < ssa["score"] < ssa["max_score"]     # straight-line code needs no φ
    assert any(c["id"].startswith("branches") and "φ" in c["message"] for c in ssa["cases"])
    assert convert["score"] < convert["max_score"] / 2
    messages = " ".join(c["message"] for c in convert["cases"])
    assert "convert_cond" in messages and "SyntaxError" in messages and "no cond node" in messages
    assert exercise(report, "capture_report")["status"] == "passed"


def test_conversion_scoping_mistakes_and_tuple_ops_lose_their_cases(tmp_path):
    """One workspace, independent cases: the if's outputs taken from the true branch only, a
    body temporary carried as a loop variable, a SyntaxError that does not say the line, the
    function's closure variables dropped; a tracer that records only ops returning a single
    tensor (not `chunk`) and never notes a baked-in branch."""
    labs = workspace(tmp_path, FOLDER, {
        "convert.py": [("outputs = _assigned(node.body + node.orelse)", "outputs = _assigned(node.body)"),
                       ("loop_vars = [n for n in _assigned(node.body) if n in defined]",
                        "loop_vars = _assigned(node.body)"),
                       ('raise SyntaxError(f"line {node.lineno}: `{word}` inside', 'raise SyntaxError(f"`{word}` inside'),
                       ("free = list(fn.__code__.co_freevars)", "free = []"),
                       ("cells = [c.cell_contents for c in fn.__closure__ or ()]", "cells = []")],
        "tracing.py": [("if not any(isinstance(leaf, torch.Tensor) for leaf in leaves):",
                        "if not isinstance(result, torch.Tensor):"),
                       ("if func is torch.Tensor.__bool__:", "if False:")]})
    report, proc = check_json("dy2static", "--labs-dir", str(labs))
    assert proc.returncode == 1
    convert = {c["id"]: c for c in exercise(report, "to_static")["cases"] if c["status"] != "passed"}
    assert set(convert) == {"if-assigns-different-names", "while-with-temporary", "break-is-refused",
                            "return-in-branch-is-refused", "closure-indented-source"}, convert
    assert "limit" in convert["closure-indented-source"]["message"]   # the closure variable it lost
    assert "not the line" in convert["break-is-refused"]["message"]
    trace = {c["id"]: c["message"] for c in exercise(report, "trace")["cases"] if c["status"] != "passed"}
    assert list(trace) == ["notes-branch-baked-in", "tuple-returning-op"], trace
    assert "graph.notes" in trace["notes-branch-baked-in"] and "replay" in trace["tuple-returning-op"]


def test_a_note_where_nothing_was_baked_in_fails():
    """The judge alone (no child process): a tracer that always writes a note is caught too."""
    check = TraceCheck()
    cases = {c.id: c for c in check.cases(np.random.default_rng(0))}
    output = {"python_calls": 0, "ops": 3, "notes": ["maybe a branch"]}
    assert check.judge(cases["notes-branch-baked-in"], output).passed
    verdict = check.judge(cases["notes-none-without-branch"], output)
    assert not verdict.passed and "graph.notes" in verdict.message


@pytest.mark.parametrize("args", [(), ("--solution",)])
def test_demo_exits_zero(args):
    proc = run_cli("lab", "run", "dy2static", *args, env={"COLUMNS": "140"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    if args:
        assert "✗" in proc.stdout and "convert_cond" in proc.stdout and "φ" in proc.stdout


# ---------------------------------------------------------------- the bench


def test_static_graph_replays_refs_and_constants():
    g = StaticGraph()
    x = g.placeholder()
    a = g.call(torch.mul, (x, 3.0))
    b = g.call(torch.split, (a, 1))
    g.set_output([Ref(b.name, 1), a])
    second, whole = g(torch.tensor([1.0, 2.0]))
    assert second.tolist() == [6.0] and whole.tolist() == [3.0, 6.0]
    assert "torch.mul(%x0, 3.0)" in str(g) and g.op_names() == ["torch.mul", "torch.split"]


def test_runtime_dispatches_on_the_condition_type():
    runtime.STATS.clear()
    assert runtime.convert_cond(True, lambda: (1,), lambda: (2,), ()) == (1,)
    assert runtime.convert_while(lambda i: i < 3, lambda i: (i + 1,), (0,)) == (3,)
    (y,) = runtime.convert_cond(torch.tensor(False), lambda x: (x + 1,), lambda x: (x - 1,), (torch.ones(2),))
    assert y.tolist() == [0.0, 0.0]
    assert runtime.STATS == {"python_if": 1, "python_while": 1, "cond": 1}


def test_random_programs_are_valid_and_deterministic():
    a = random_program(np.random.default_rng(3), 7)
    assert a == random_program(np.random.default_rng(3), 7)
    ast.parse(a)
    assert len(run_source(a, [[1, 2], [-3, 4]])) == 2


def test_the_eager_examples_really_branch():
    assert P.relu_or_square(torch.ones(3)).tolist() == [3.0, 3.0, 3.0]
    assert P.relu_or_square(-torch.ones(3)).tolist() == [3.0, 3.0, 3.0]   # (-2)^2 - 1: the other formula
    x, steps = P.halve_until_small(torch.tensor([3.0, 4.0]))
    assert steps.item() == 3
