"""Lab 04 end to end: the reference and two other correct styles score 100, stubs 0, planted
bugs — at the corners (falsy live values, repeated frame names, zero trips, lists edited in
place, state kept between calls) — lose points in their own exercise on every seed; then
the bench itself."""
from __future__ import annotations

import math

import pytest

from aisys.catalog import find_lab
from aisys.controlflow import programs as P
from aisys.controlflow.autodiff import vjp
from aisys.controlflow.checks import SUITE
from aisys.controlflow.dataflow import DataflowGraph, GraphBuildError
from aisys.controlflow.interpreter import ExecutionError, execute, frame_iterations
from aisys.workspace import Student
from conftest import REPO, STUBS, check_json, run_cli, workspace
from inprocess import grade_in_process
from test_lab03_ad_challenges import SEEDS

FOLDER = "04_control_flow"


@pytest.fixture(scope="module")
def reference():
    return Student(find_lab("control-flow"), REPO / "solutions")


def test_solutions_score_full_marks_and_the_same_seed_gives_the_same_report():
    a, proc = check_json("control-flow", "--solutions", "--seed", "11")
    b, _ = check_json("control-flow", "--solutions", "--seed", "11")
    assert proc.returncode == 0, proc.stdout
    assert a["score"] == a["max_score"] == 100.0
    for report in (a, b):
        report["labs"][0].pop("duration_s")
    assert a == b


def test_stubs_score_zero_not_started():
    report, proc = check_json("control-flow", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


SWITCH = """\
    dead = Token(None, data.tag, True)
    if data.dead or pred.dead:
        return dead, dead
    return (dead, data) if bool(pred.value) else (data, dead)"""
MERGE = """\
    arrived = [t for t in inputs if t is not None]
    for token in arrived:
        if not token.dead:
            return token
"""
ENTER = "    return Token(token.value, token.tag + ((frame, 0),), token.dead)"
EXIT = "    return Token(token.value, token.tag[:-1])"
NEXT = "    frame, i = token.tag[-1]\n    return Token(token.value, token.tag[:-1] + ((frame, i + 1),))"
COND = """\
    sides = [g.switch(x, pred) for x in operands]
    true_out = list(true_fn(*[t for _, t in sides]))
    false_out = list(false_fn(*[f for f, _ in sides]))
"""
WHILE = """\
    merges = [g.merge([g.enter(v, frame)]) for v in loop_vars]
    pred = cond_fn(*merges)
"""
BACK_EDGES = """\
    for merge, new in zip(merges, body_out):
        g.add_input(merge, g.next_iteration(new))
    return [g.exit(f) for f, _ in sides]"""
UNROLL = """\
    values = list(loop_vars)
    for _ in range(n):
        values = list(body_fn(*values))
    return values"""
TAPE = """\
    def taped_body(*vs):
        return body_fn(*g.push("tape", vs))

    outs = lowering.while_loop(cond_fn, taped_body, xs)"""
POPS = "    for saved in reversed(run.stacks.get(\"tape\", [])):\n"
SEED_GRADS = "    grads = [float(v) for v in output_grads]\n"

OTHER_CORRECT = {
    # list-returning switch through tokens.dead, a generator merge, dataclasses.replace for the frame rules,
    # zip(*) cond, Exits wired before the back edges, recursive unroll, a stack popped with .pop()
    "replace-and-recursion": {
        "primitives.py": [
            (SWITCH, "    from aisys.controlflow.tokens import dead\n    if data.dead or pred.dead:\n"
                     "        return [dead(data.tag), dead(data.tag)]\n"
                     "    return [dead(data.tag), data] if pred.value else [data, dead(data.tag)]"),
            (MERGE, "    live = next((t for t in inputs if t is not None and not t.dead), None)\n"
                    "    if live is not None:\n        return live\n    arrived = [t for t in inputs if t]\n"),
            (ENTER, "    import dataclasses\n    return dataclasses.replace(token, tag=(*token.tag, (frame, 0)))"),
            (EXIT, "    import dataclasses\n    return dataclasses.replace(token, tag=token.tag[:-1])"),
            (NEXT, "    *outer, (frame, i) = token.tag\n"
                   "    return Token(token.value, (*outer, (frame, i + 1)), False)")],
        "lowering.py": [
            (COND, "    false_in, true_in = zip(*[g.switch(x, pred) for x in operands]) if operands else ((), ())\n"
                   "    false_out = list(false_fn(*false_in))\n    true_out = list(true_fn(*true_in))\n"),
            (BACK_EDGES, "    exits = [g.exit(f) for f, _ in sides]\n    for merge, new in zip(merges, body_out):\n"
                         "        g.add_input(merge, g.next_iteration(new))\n    return exits"),
            (UNROLL, "    if n <= 0:\n        return list(loop_vars)\n"
                     "    return unroll(body_fn, n - 1, list(body_fn(*loop_vars)))")],
        "loop_grad.py": [(POPS + "        grads = vjp(body_fn, saved, grads)",
                          "    stack = list(run.stacks.get(\"tape\", []))\n    while stack:\n"
                          "        grads = vjp(body_fn, stack.pop(), grads)")]},
    # index-assigned switch sides with copied tokens, enter from lists, the false branch built first, Enters
    # before Merges, the tape pushed in cond_fn (one extra push, the final values, dropped)
    "copies-and-cond-tape": {
        "primitives.py": [
            (SWITCH, "    sides = [Token(None, data.tag, True), Token(None, data.tag, True)]\n"
                     "    if not (data.dead or pred.dead):\n"
                     "        sides[1 if pred.value else 0] = Token(data.value, data.tag, False)\n"
                     "    return tuple(sides)"),
            (ENTER, "    return Token(token.value, tuple(list(token.tag) + [(frame, 0)]), token.dead)")],
        "lowering.py": [
            (COND, "    sides = [g.switch(x, pred) for x in operands]\n"
                   "    false_out = list(false_fn(*[f for f, _ in sides]))\n"
                   "    true_out = list(true_fn(*[t for _, t in sides]))\n"),
            (WHILE, "    entered = [g.enter(v, frame) for v in loop_vars]\n"
                    "    merges = [g.merge([e]) for e in entered]\n    pred = cond_fn(*merges)\n")],
        "loop_grad.py": [
            (TAPE, "    def taped_cond(*vs):\n        g.push(\"tape\", vs)\n        return cond_fn(*vs)\n\n"
                   "    outs = lowering.while_loop(taped_cond, body_fn, xs)"),
            (POPS, "    for saved in reversed(run.stacks.get(\"tape\", [])[:-1]):\n")]},
}


@pytest.mark.parametrize("name", sorted(OTHER_CORRECT))
def test_other_correct_answers_score_full_marks_on_every_seed(tmp_path, name):
    scores = grade_in_process(workspace(tmp_path, FOLDER, OTHER_CORRECT[name]), "control-flow")
    assert {key: e["failed"] for key, e in scores.items() if e["fraction"] < 1} == {}


# workspace → edits, and for each exercise its bug must cost: (a case that fails, words in its message)
BUGS = {   # rule bugs apart from lowering bugs: cond, while_loop and while_loop_grad run on the student's rules
    "falsy-rules": ({"primitives.py": [
        ("    if data.dead or pred.dead:", "    if not data.value or pred.dead:   # 0 taken for dead"),
        ("        if not token.dead:\n            return token", "        if token.value:\n            return token"),
        (EXIT, "    if not token.value:\n        return None\n" + EXIT),
        (NEXT, "    if not token.value:\n        return None\n" + NEXT),
        (ENTER, "    return Token(token.value, token.tag + ((frame, 0),), not token.value)")]},
        {"switch": ("falsy-data", "dead flag is wrong"), "merge": ("falsy-live", "live"),
         "exit_": ("falsy-live", "should fire"), "next_iteration": ("falsy-live", "should fire"),
         "enter": ("falsy-live", "dead flag")}),
    "names-and-in-place-rules": ({"primitives.py": [
        (SWITCH, SWITCH.replace("dead = Token(None, data.tag, True)", "dead = Token(data.value, data.tag, True)")),
        (MERGE, "    while None in inputs:\n        inputs.remove(None)\n" + MERGE),
        (ENTER, "    kept = tuple(p for p in token.tag if p[0] != frame)\n"
                "    return Token(token.value, kept + ((frame, 0),), token.dead)"),
        (EXIT, "    return Token(token.value, tuple(p for p in token.tag if p[0] != token.tag[-1][0]))"),
        (NEXT, "    frame, i = token.tag[-1]\n    k = [f for f, _ in token.tag].index(frame)\n"
               "    tag = list(token.tag)\n    tag[k] = (frame, tag[k][1] + 1)\n"
               "    return Token(token.value, tuple(tag))")]},
        {"switch": ("true-side", "carries no value"), "merge": ("back-edge", "changed its input"),
         "enter": ("same-name", "tag"), "exit_": ("same-name", "tag"), "next_iteration": ("same-name", "tag")}),
    "stateful-merge": ({"primitives.py": [
        ("import Token\n", "import Token\n\n_FIRED = set()\n"),
        (MERGE, "    key = tuple(t.tag for t in inputs if t is not None)\n    if key in _FIRED:\n"
                "        return None\n    _FIRED.add(key)\n" + MERGE)]},
        {"merge": ("repeated", "should fire")}),
    "lowering-in-place": ({
        "lowering.py": [
            (COND, "    for k, x in enumerate(operands):\n        operands[k] = g.switch(x, pred)\n"
                   "    sides = list(operands)\n" + COND.split("\n", 1)[1]),
            ("    frame = g.unique_frame(\"while\")", "    frame = \"while\"   # one name for every loop"),
            (UNROLL, "    for _ in range(n):\n        loop_vars[:] = body_fn(*loop_vars)\n    return loop_vars")],
        "loop_grad.py": [(SEED_GRADS + POPS + "        grads = vjp(body_fn, saved, grads)",
                          "    grads = output_grads\n" + POPS + "        grads[:] = vjp(body_fn, saved, grads)")]},
        {"cond": ("piecewise-positive", "changed the operands"), "while_loop": ("two-loops", "frame name"),
         "unroll": ("n=1", "changed the loop_vars"), "while_loop_grad": ("spiral-few", "changed the loop_vars")}),
    "half-switch-off-by-one-zero-trips": ({
        "lowering.py": [("sides = [g.switch(x, pred) for x in operands]\n",
                         "sides = [g.switch(x, pred) for x in operands[:1]] + [(x, x) for x in operands[1:]]\n"),
                        (UNROLL, UNROLL.replace("range(n)", "range(n - 1)"))],
        "loop_grad.py": [(SEED_GRADS, "    grads = [float(v) for v in output_grads] if run.stacks.get('tape') "
                                      "else [0.0] * 4\n")]},
        {"cond": ("one-operand-each-else", "untaken branch"), "unroll": ("n=1", "outputs"),
         "while_loop_grad": ("spiral-0-trips", "gradients")}),
    "forward-pops": ({"loop_grad.py": [(POPS, "    for saved in run.stacks.get(\"tape\", []):\n")]},
                     {"while_loop_grad": ("spiral-many", "gradients")}),
    "one-tape-for-all-calls": ({"loop_grad.py": [
        ("from aisys.workspace import sibling\n", "from aisys.workspace import sibling\n\n_TAPE = []\n"),
        (POPS, "    _TAPE.extend(run.stacks.get(\"tape\", []))   # one tape for every call\n"
               "    for saved in reversed(_TAPE):\n")]},
        {"while_loop_grad": ("two-calls", "gradients")}),
    "merge-forwards-the-last-live": ({"primitives.py": [
        ("    for token in arrived:\n", "    for token in reversed(arrived):\n")]},
        {"merge": ("two-live", "later live input")}),
    "unroll-returns-loop-vars": ({"lowering.py": [(UNROLL, UNROLL.replace("list(loop_vars)", "loop_vars"))]},
                                 {"unroll": ("n=0", "returned the loop_vars list")}),
    "unroll-returns-a-tuple": ({"lowering.py": [
        (UNROLL, "    values = tuple(loop_vars)\n    for _ in range(n):\n        values = body_fn(*values)\n"
                 "    return values")]},
        {"unroll": ("n=1", "returned a tuple")}),
    "grad-needs-a-list": ({"loop_grad.py": [   # a list method on loop_vars: a tuple (a Sequence) raises
        ("    run = execute(g, rules, {x.node: float(v) for x, v in zip(xs, loop_vars)})\n",
         "    run = execute(g, rules, {x.node: v for x, v in zip(xs, loop_vars)})\n"
         "    loop_vars.sort(key=lambda v: 0)\n")]},
        {"while_loop_grad": ("tuples-in", "'tuple' object has no attribute 'sort'")}),
    "grad-drops-counter-cotangents": ({"loop_grad.py": [
        (SEED_GRADS, "    grads = [float(v) for v in output_grads[:2]] + [0.0] * (len(output_grads) - 2)\n")]},
        {"while_loop_grad": ("counter-cotangents", "gradients")}),
}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_planted_bugs_lose_points_in_their_own_exercise_on_every_seed(tmp_path, name):
    edits, expected = BUGS[name]
    scores = grade_in_process(workspace(tmp_path, FOLDER, edits), "control-flow", exercises=set(expected))
    for seed in SEEDS:
        for ex, (case, words) in expected.items():
            entry = scores[(seed, ex)]
            assert entry["fraction"] < 1, (seed, ex)
            assert case in entry["failed"] and words in entry["failed"][case], (seed, ex, entry["failed"])


def test_a_merge_that_waits_for_every_input_loses_merge_and_deadlocks_loops(tmp_path):
    waits = "    arrived = [t for t in inputs if t is not None]\n"
    labs = workspace(tmp_path, FOLDER, {"primitives.py": [
        (waits, waits + "    if len(arrived) < len(inputs):\n        return None\n")]})
    scores = grade_in_process(labs, "control-flow", {"merge", "while_loop"}, (0,))
    assert "should fire" in scores[(0, "merge")]["failed"]["loop-entry"]
    assert scores[(0, "while_loop")]["fraction"] == 0
    assert all("stalled" in m for m in scores[(0, "while_loop")]["failed"].values())


def test_a_loop_that_exits_from_the_merge_is_caught(tmp_path):
    """Exit fed by the Merge (every iteration) instead of the Switch's false side: the last
    value out is even right, but Exit sends a live token per iteration."""
    labs = workspace(tmp_path, FOLDER, {"lowering.py": [
        ("return [g.exit(f) for f, _ in sides]", "return [g.exit(m) for m in merges]")]})
    scores = grade_in_process(labs, "control-flow", {"while_loop", "cond"}, (0,))
    failed = scores[(0, "while_loop")]["failed"]
    zero_trips = {"sum-zero-trips", "factorial-of-0", "collatz-from-1"}   # Exit fires once: right there
    assert set(failed) == {c.id for c in SUITE.plan(0) if c.exercise == "while_loop"} - zero_trips
    assert all("second live token" in m for m in failed.values())
    assert scores[(0, "cond")]["fraction"] == 1


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def test_demo_exits_zero_with_the_solution_and_fits_100_columns():
    proc = run_cli("lab", "run", "control-flow", "--solution", env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and _widest(proc.stdout) <= 100
    assert "✗" not in proc.stdout and "while_1" in proc.stdout
    merged_dead = next(line for line in proc.stdout.splitlines() if "[dead, dead]" in line)
    assert "dead @ main:0/while_0:2" in merged_dead   # the tag in the table's title
    assert "The last column of table 4 ran" in proc.stdout
    assert "push" in proc.stdout and "pop" in proc.stdout   # the stack, iteration by iteration


def test_demo_runs_on_the_stubs():
    """In-process (what `aisys lab run control-flow` calls): every section says where to edit."""
    import io

    from rich.console import Console

    from aisys.labrun import DemoOptions, run_demo

    lab, out = find_lab("control-flow"), io.StringIO()
    run_demo(lab, Student(lab, STUBS), Console(file=out, width=100), DemoOptions())
    text = out.getvalue()
    assert "lowering.py: cond" in text and "table 4 needs your" in text and _widest(text) <= 100


# ---------------------------------------------------------------- the bench


def test_interpreter_logs_frames_and_iterations(reference):
    rules, lowering = reference.module("primitives.py"), reference.module("lowering.py")
    g, outs = P.build(P.nested_loops, lowering, ["n", "i", "total"])
    run = execute(g, rules, {"n": 3, "i": 0, "total": 0})
    assert run.value(outs[0]) == sum(i * j for i in range(3) for j in range(i))
    counts = sorted(frame_iterations(run.log).values())
    assert counts == [1, 2, 3, 4]   # inner loops of outer iterations 0..2, then the outer loop


def test_a_value_from_outside_a_loop_and_an_empty_merge_are_refused_at_build_time(reference):
    lowering = reference.module("lowering.py")
    g = DataflowGraph()
    n, i = g.placeholder("n"), g.placeholder("i")
    with pytest.raises(GraphBuildError, match="Enter"):
        lowering.while_loop(lambda i: i < n, lambda i: (i + 1,), [i])
    with pytest.raises(GraphBuildError, match="at least one input"):
        g.merge([])


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
    body = lambda x, y, i, n: P.grad_body_spiral(P.GRAPH_MATH, x, y, i, n)  # noqa: E731
    primals, ct, eps = [0.4, -0.7, 0.0, 3.0], [1.3, -0.2, 0.0, 0.0], 1e-6
    got = vjp(body, primals, ct)
    for k in range(2):
        up, down = list(primals), list(primals)
        up[k] += eps
        down[k] -= eps
        f = lambda p: sum(c * v for c, v in zip(ct, P.grad_body_spiral(P.PY, *p)))  # noqa: E731
        assert math.isclose(got[k], (f(up) - f(down)) / (2 * eps), rel_tol=1e-6)


def test_new_programs_agree_between_python_and_the_reference_graphs(reference):
    lowering, rules = reference.module("lowering.py"), reference.module("primitives.py")
    feeds = {"two_conds": {"x": 1.5, "y": -2.0}, "identity_branch": {"x": 2.0}, "same_operand_twice": {"x": -3.0},
             "two_loops": {"n": 5, "i": 0, "s": 0}, "doubling": {"x": 3}, "halving": {"x": -37.5, "k": 0}}
    for name, feed in feeds.items():
        program = (P.BRANCH_PROGRAMS | P.LOOP_PROGRAMS)[name]
        g, outs = P.build(program, lowering, list(feed))
        run = execute(g, rules, feed)
        assert [run.value(o) for o in outs] == list(program(P.PY, *feed.values())), name
