"""Lab 04 end to end (solutions 100, stubs 0, planted bugs lose points) and the bench itself."""
from __future__ import annotations

import math

import pytest

from aisys.catalog import find_lab
from aisys.controlflow import programs as P
from aisys.controlflow.autodiff import vjp
from aisys.controlflow.dataflow import DataflowGraph, GraphBuildError
from aisys.controlflow.interpreter import ExecutionError, execute, frame_iterations
from aisys.workspace import Student
from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace

FOLDER = "04_control_flow"


@pytest.fixture(scope="module")
def solutions_report():
    return check_json("control-flow", "--solutions")


@pytest.fixture(scope="module")
def reference():
    return Student(find_lab("control-flow"), REPO / "solutions")


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stdout
    assert report["score"] == report["max_score"] == 100.0


def test_same_seed_same_report():
    a, _ = check_json("control-flow", "--solutions", "--seed", "11")
    b, _ = check_json("control-flow", "--solutions", "--seed", "11")
    for report in (a, b):
        report["labs"][0].pop("duration_s")
    assert a == b


def test_stubs_score_zero_not_started():
    report, proc = check_json("control-flow", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_merge_that_waits_for_both_inputs_deadlocks_loops(tmp_path):
    """Also in this workspace: a cond that switches only its first operand (the others reach
    both branches live, so an untaken branch that reads only them runs)."""
    labs = workspace(tmp_path, FOLDER, {"primitives.py": [(
        "    arrived = [t for t in inputs if t is not None]\n",
        "    arrived = [t for t in inputs if t is not None]\n    if len(arrived) < len(inputs):\n        return None\n")],
        "lowering.py": [("sides = [g.switch(x, pred) for x in operands]\n",
                         "sides = [g.switch(x, pred) for x in operands[:1]] + [(x, x) for x in operands[1:]]\n")]})
    report, proc = check_json("control-flow", "--labs-dir", str(labs))
    merge, loop = exercise(report, "merge"), exercise(report, "while_loop")
    assert proc.returncode == 1
    assert 0 < merge["score"] < merge["max_score"]
    assert any("loop-entry" == c["id"] and "should fire" in c["message"] for c in merge["cases"])
    assert loop["score"] == 0 and any("stalled" in c["message"] for c in loop["cases"])
    # a cond's Merge gets both inputs anyway; only the one-operand branch shows the half switch
    cond = {c["id"]: c["message"] for c in exercise(report, "cond")["cases"] if c["status"] != "passed"}
    assert list(cond) == ["one-operand-each-else"] and "untaken branch" in cond["one-operand-each-else"]


def test_a_cond_without_switch_and_a_gradient_popping_forwards_lose_points(tmp_path):
    labs = workspace(tmp_path, FOLDER, {
        "lowering.py": [
            ("true_out = list(true_fn(*[t for _, t in sides]))", "true_out = list(true_fn(*operands))"),
            ("false_out = list(false_fn(*[f for f, _ in sides]))", "false_out = list(false_fn(*operands))")],
        "loop_grad.py": [
            ('for saved in reversed(run.stacks.get("tape", [])):', 'for saved in run.stacks.get("tape", []):')]})
    report, _ = check_json("control-flow", "--labs-dir", str(labs))
    cond, grad = exercise(report, "cond"), exercise(report, "while_loop_grad")
    assert cond["score"] < cond["max_score"]
    assert any("untaken branch" in c["message"] for c in cond["cases"])
    assert 0 < grad["score"] < grad["max_score"]   # 0 and 1 trips are still right
    failed = [c for c in grad["cases"] if c["status"] == "failed"]
    assert failed and all("gradients" in c["message"] for c in failed)
    loop_cases = {c["id"]: c["status"] for c in exercise(report, "while_loop")["cases"]}
    assert loop_cases["sum-0..n"] == "passed"   # only collatz uses cond inside its loop


def test_a_loop_that_exits_from_the_merge_is_caught(tmp_path):
    """Exit fed by the Merge (every iteration) instead of the Switch's false side: the last
    value out is even right, but Exit sends a live token per iteration."""
    labs = workspace(tmp_path, FOLDER, {"lowering.py": [
        ("return [g.exit(f) for f, _ in sides]", "return [g.exit(m) for m in merges]")]})
    report, _ = check_json("control-flow", "--labs-dir", str(labs))
    loop = exercise(report, "while_loop")
    assert loop["score"] == 0
    assert all("second live token" in c["message"] and "Exit" in c["message"] for c in loop["cases"])
    assert exercise(report, "cond")["status"] == "passed"


@pytest.mark.parametrize("args", [(), ("--solution",)])
def test_demo_exits_zero(args):
    proc = run_cli("lab", "run", "control-flow", *args, env={"COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    if args:
        assert "✗" not in proc.stdout and "while_1" in proc.stdout
        merged_dead = next(line for line in proc.stdout.splitlines() if "[dead, dead]" in line)
        assert "dead @ main:0/while_0:2" in merged_dead   # the tag in the table's title
        assert "The last column of table 4 ran" in proc.stdout
    else:
        assert "edit labs/04_control_flow/lowering.py: cond" in proc.stdout
        assert "table 4 ran" not in proc.stdout   # table 4 was not drawn


# ---------------------------------------------------------------- the bench


def test_interpreter_logs_frames_and_iterations(reference):
    rules, lowering = reference.module("primitives.py"), reference.module("lowering.py")
    g, outs = P.build(P.nested_loops, lowering, ["n", "i", "total"])
    run = execute(g, rules, {"n": 3, "i": 0, "total": 0})
    assert run.value(outs[0]) == sum(i * j for i in range(3) for j in range(i))
    counts = sorted(frame_iterations(run.log).values())
    assert counts == [1, 2, 3, 4]   # inner loops of outer iterations 0..2, then the outer loop


def test_a_value_from_outside_a_loop_is_refused_at_build_time(reference):
    lowering = reference.module("lowering.py")
    g = DataflowGraph()
    n, i = g.placeholder("n"), g.placeholder("i")
    with pytest.raises(GraphBuildError, match="Enter"):
        lowering.while_loop(lambda i: i < n, lambda i: (i + 1,), [i])


def test_python_if_on_a_graph_value_explains_itself():
    g = DataflowGraph()
    with pytest.raises(TypeError, match="cond"):
        bool(g.placeholder("x") > 0)


def test_a_next_iteration_that_keeps_the_tag_collides(reference):
    rules = reference.module("primitives.py")
    broken = type("R", (), {n: staticmethod(getattr(rules, n)) for n in ("switch", "merge", "enter", "exit_")})
    broken.next_iteration = staticmethod(lambda t: None if t.dead else t)
    g, _ = P.build(P.sum_to, reference.module("lowering.py"), ["n", "i", "s"])
    with pytest.raises(ExecutionError, match="second live token"):
        execute(g, broken, {"n": 3, "i": 0, "s": 0})


def test_vjp_matches_finite_differences():
    body = lambda x, y, i, n: P.grad_body_spiral(P.GRAPH_MATH, x, y, i, n)
    primals, ct, eps = [0.4, -0.7, 0.0, 3.0], [1.3, -0.2, 0.0, 0.0], 1e-6
    got = vjp(body, primals, ct)
    for k in range(2):
        up, down = list(primals), list(primals)
        up[k] += eps
        down[k] -= eps
        f = lambda p: sum(c * v for c, v in zip(ct, P.grad_body_spiral(P.PY, *p)))
        assert math.isclose(got[k], (f(up) - f(down)) / (2 * eps), rel_tol=1e-6)
