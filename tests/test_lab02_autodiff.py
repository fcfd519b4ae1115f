"""Lab 02 autodiff: the reference scores 100, stubs 0, answers in other styles 100, and every plausible
bug loses points in its own exercise on every seed; bench unit tests.

Variants are graded in-process (`grade_here`, lab 01's helper: the checks' own run and judge
halves); the CLI path — the solutions, the stubs, one planted-bug run — runs once for both labs
(session fixtures and a test in lab 01's file).
"""
from __future__ import annotations

import math
import types

import numpy as np
import pytest

from aisys.autodiff.counting import counting_backward_runs, counting_calls, counting_code_runs
from aisys.autodiff.modes.checks import SUITE
from aisys.autodiff.modes.dual_checks import BFS_TRAP_STEPS
from aisys.autodiff.programs import EVERY_OP_STEPS, F_STEPS, evaluate, random_program, tape_lines
from aisys.autodiff.truth import close_list, torch_grad
from aisys.graph.plain import scalars_as_floats
from conftest import STUBS, workspace
from test_lab01_graph import (SEEDS, assert_bugs_caught, bug_groups, demo_text, failures, grade_here, lab_report,
                              solutions_report, stubs_report)  # noqa: F401 (session fixtures)

FOLDER = "02_autodiff"


# ------------------------------------------------------------------ the CLI path (shared with lab 01's file)

def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stderr
    lab = lab_report(report, "autodiff")
    assert lab["score"] == lab["max_score"] == 100


def test_stubs_score_zero_without_traceback(stubs_report):
    report, proc = stubs_report
    assert proc.returncode == 1
    lab = lab_report(report, "autodiff")
    assert lab["score"] == 0
    assert all(ex["status"] == "not_implemented" for ex in lab["exercises"])
    assert "Traceback" not in proc.stderr


def test_demo_with_the_solution():
    from aisys.workspace import resolve_labs_dir

    out = demo_text("autodiff", resolve_labs_dir(solutions=True))
    assert "11.65207146" in out and "v2 = v-1 * v0" in out
    assert "v6 = " in out and "recorded 7 new ones" in out          # the backward tape, printed
    assert "breadth-first from L" in out and "reverse topological" in out and "✗ no" in out
    assert "your run_backward_graph on f" in out and "never J" in out


def test_demo_runs_on_the_stubs():
    out = demo_text("autodiff", STUBS)
    assert "not implemented yet" in out and "breadth-first" in out


# ------------------------------------------------------------------ correct, in other styles

CORRECT_VARIANTS = {
    "other-algorithms": {
        "traces.py": [   # the adjoints by a generic reverse sweep over a list of (output, inputs, partials)
            ("    v = evaluation_trace(x1, x2)\n    bar = {\"v5\": 1.0}",
             "    v = evaluation_trace(x1, x2)\n    lines = [('v5', ['v4', 'v3'], [1.0, -1.0]), ('v4', ['v1', 'v2'], [1.0, 1.0]),\n"
             "             ('v3', ['v0'], [math.cos(v['v0'])]), ('v2', ['v-1', 'v0'], [v['v0'], v['v-1']]),\n"
             "             ('v1', ['v-1'], [1 / v['v-1']])]\n    out = dict.fromkeys(v, 0.0)\n    out['v5'] = 1.0\n"
             "    for y, xs, partials in lines:\n        for x, p in zip(xs, partials):\n"
             "            out[x] += out[y] * p\n    return out\n    bar = {\"v5\": 1.0}")],
        "forward_mode.py": [   # tuples for tuples, lists for lists
            ("        return [o.value for o in outs], [o.tangent * np.ones_like(o.value) for o in outs]",
             "        kind = type(result)\n        return kind(o.value for o in outs), kind(o.tangent * np.ones_like(o.value)"
             " for o in outs)")],
        "reverse_mode.py": [   # grad by a depth-first order of the entries reachable from the output
            ("    tape = output.tape\n    ones = 1.0",
             "    made = {id(e.output): e for e in output.tape.entries}\n    order, seen = [], set()\n\n"
             "    def visit(v):\n        if id(v) in seen or id(v) not in made:\n            return\n        seen.add(id(v))\n"
             "        for x in made[id(v)].inputs:\n            visit(x)\n        order.append(made[id(v)])\n\n"
             "    visit(output)\n    adj = {id(output): Variable(np.ones_like(np.asarray(output.value, dtype=float))"
             " if np.ndim(output.value) else 1.0, constant=True, tape=output.tape)}\n"
             "    for entry in reversed(order):\n        if id(entry.output) not in adj:\n            continue\n"
             "        for x, gx in zip(entry.inputs, entry.backward(adj[id(entry.output)], entry.output)):\n"
             "            if gx is not None and not x.constant:\n"
             "                adj[id(x)] = adj[id(x)] + gx if id(x) in adj else gx\n"
             "    return [adj[id(x)] if id(x) in adj else Variable(np.zeros_like(np.asarray(x.value, dtype=float))"
             " if np.ndim(x.value) else 0.0, constant=True, tape=output.tape) for x in inputs]\n"
             "    tape = output.tape\n    ones = 1.0"),
            ("lambda g, out: (g @ b.T, a.T @ g))", "lambda g, out: (g @ b.transpose(), a.transpose() @ g))")],
        "jacobians.py": [   # jvp bound at import time: still one run of its code per column
            ("def jacobian_forward(f: Callable[..., list], x: Sequence[float]) -> np.ndarray:",
             "def jacobian_forward(f: Callable[..., list], x: Sequence[float], jvp=forward_mode.jvp) -> np.ndarray:"),
            ("forward_mode.jvp(f, list(x), [1.0 if i == j else 0.0 for i in range(n)])",
             "jvp(f, tuple(x), tuple(1.0 if i == j else 0.0 for i in range(n)))"),
            ("    rows = [[float(g.value) for g in reverse_mode.grad(y, xs)] for y in ys]",
             "    rows = [[float(g.value) for g in reverse_mode.grad(y, xs)] for y in ys[::-1]][::-1]")],
        "accumulation.py": [   # the issue's own case: backward imported by name; .grad = None to clear
            ("import torch\n", "import torch\nfrom torch.autograd import backward\n"),
            ("    loss.backward(retain_graph=True)\n    first", "    backward(loss, retain_graph=True)\n    first"),
            ("    t.grad.zero_()\n    loss.backward()", "    t.grad = None\n    backward(loss)")],
        "dual_graph.py": [   # Kahn on the dual with pending counts, a stack for the ready nodes
            ("    incoming = {name: 0.0 for name in forward.nodes}",
             "    pending = {n.name: sum(i.endswith('_grad') for i in n.inputs) for n in dual if n.op != 'saved'}\n"
             "    readers = {}\n    for n in dual:\n        for i in n.inputs:\n"
             "            if i.endswith('_grad'):\n                readers.setdefault(i, []).append(n.name)\n"
             "    ready, total, adj = [g for g, k in pending.items() if k == 0], dict.fromkeys(forward.nodes, 0.0), {}\n"
             "    while ready:\n        g = ready.pop()\n        name = g[:-len('_grad')]\n        node = forward[name]\n"
             "        adj[name] = total[name] + (1.0 if name == output else 0.0)\n"
             "        args = [primal[i] for i in node.inputs]\n"
             "        for src, d in zip(node.inputs, local_derivatives(node.op, args, primal[name])):\n"
             "            total[src] += adj[name] * d\n        for r in readers.get(g, []):\n"
             "            pending[r] -= 1\n            if pending[r] == 0:\n                ready.append(r)\n"
             "    return adj\n    incoming = {name: 0.0 for name in forward.nodes}")],
    },
}


@pytest.mark.parametrize("name", sorted(CORRECT_VARIANTS))
def test_correct_answers_in_other_styles_score_full_marks(name, tmp_path):
    labs = workspace(tmp_path, FOLDER, CORRECT_VARIANTS[name])
    for seed in (0, 1):
        results = grade_here(labs, "autodiff", seed=seed)
        wrong = {ex: failures(results, ex) for ex in results if failures(results, ex)}
        assert not wrong, wrong


# ------------------------------------------------------------------ wrong answers, each in its own exercise

BUGS = {
    "trace-cached-first-point": ("evaluation_trace", {"traces.py": [
        ("def evaluation_trace(x1: float, x2: float) -> dict[str, float]:",
         "_FIRST: dict = {}\n\n\ndef evaluation_trace(x1: float, x2: float) -> dict[str, float]:"),
        ('    v["v5"] = v["v4"] - v["v3"]\n    return v', '    v["v5"] = v["v4"] - v["v3"]\n'
                                                        '    return dict(_FIRST.setdefault("v", v))')]},
        {"after-another-point"}, "the value of"),
    "adjoint-overwrites": ("adjoint_trace", {"traces.py": [
        ('bar["v0"] += bar["v2"] * v["v-1"]', 'bar["v0"] = bar["v2"] * v["v-1"]')]}, {"f(2,5)", "zeros"},
        "the adjoint of v0"),
    "adjoint-finite-differences": ("adjoint_trace", {"traces.py": [
        ("    v = evaluation_trace(x1, x2)\n    bar = {",
         "    f, h = (lambda a, b: evaluation_trace(a, b)['v5']), 1e-5\n"
         "    return {'v5': 1.0, 'v4': 1.0, 'v3': -1.0, 'v2': 1.0, 'v1': 1.0,\n"
         "            'v0': (f(x1, x2 + h) - f(x1, x2 - h)) / (2 * h), "
         "'v-1': (f(x1 + h, x2) - f(x1 - h, x2)) / (2 * h)}\n    bar = {")]}, {"f(2,5)"}, "off by"),
    "dual-ln-term-always": ("Dual", {"forward_mode.py": [("if np.any(o.tangent != 0):", "if True:")]},
                            {"rules-negative-base"}, "tangent of a ** 3"),
    "dual-adds-in-place": ("Dual", {"forward_mode.py": [
        ("        o = self._lift(other)\n        return Dual(self.value + o.value, self.tangent + o.tangent)",
         "        o = self._lift(other)\n        t = self.tangent\n        t += o.tangent\n"
         "        return Dual(self.value + o.value, t)")]}, {"rules-arrays-untouched"}, "in place"),
    "jvp-only-tuples": ("jvp", {"forward_mode.py": [
        ("    if isinstance(result, (tuple, list)):", "    if isinstance(result, tuple):")]},
        {"list-of-three", "one-element-list"}, "shape"),
    "jvp-always-lists": ("jvp", {"forward_mode.py": [
        ("    out = Dual._lift(result)\n    return out.value, out.tangent * np.ones_like(out.value)",
         "    out = Dual._lift(result)\n    return [out.value], [out.tangent * np.ones_like(out.value)]")]},
        {"one-output"}, "shape"),
    "jvp-no-lift": ("jvp", {"forward_mode.py": [
        ("        outs = [Dual._lift(r) for r in result]", "        outs = list(result)")]},
        {"with-a-constant-output"}, "tangent"),
    "tape-logs-neg-as-a-function": ("Tape", {"reverse_mode.py": [
        ('            elif e.op == "neg":\n                lines.append(f"{e.output.name} = -{names[0]}")\n', "")]},
        {"log-every-op"}, "tape line"),
    "tape-never-pops": ("Tape", {"reverse_mode.py": [("        Tape._stack.remove(self)", "        pass")]},
                        {"nesting"}, "outer tape again"),
    "tape-index-from-one": ("Tape", {"reverse_mode.py": [("        output.index = len(self.entries) - 1",
                                                          "        output.index = len(self.entries)")]},
                            {"index"}, ".index"),
    "variable-numpy-rule": ("Variable", {"reverse_mode.py": [("(g * self.cos(),)", "(g * np.cos(self.value),)")]},
                            {"rules-second-order"}, "second derivative of sin(a)"),
    "variable-matmul-jacobian": ("Variable", {"reverse_mode.py": [
        ("                            lambda g, out: (g @ b.T, a.T @ g))",
         "                            lambda g, out: _jacobian_vjp(g, a, b))"),
        ("def _unbroadcast(", "def _jacobian_vjp(g, a, b):\n    n, k = np.shape(a.value)\n    m = np.shape(b.value)[1]\n"
         "    ja = np.kron(np.eye(n), np.asarray(b.value).T)            # (n·m) × (n·k)\n"
         "    jb = np.kron(np.asarray(a.value), np.eye(m))              # (n·m) × (k·m)\n"
         "    flat = np.asarray(g.value).reshape(-1)\n"
         "    return (Variable((flat @ ja).reshape(n, k), tape=g.tape) * 1.0,\n"
         "            Variable((flat @ jb).reshape(k, m), tape=g.tape) * 1.0)\n\n\ndef _unbroadcast(")]},
        {"rules-matmul-memory"}, "never the Jacobian"),
    "variable-adds-in-place": ("Variable", {"reverse_mode.py": [   # reuses the operand's buffer
        ("        a, b = self, self._lift(other)\n        return self._result(\"add\", (a, b), a.value + b.value,",
         "        a, b = self, self._lift(other)\n        if isinstance(a.value, np.ndarray) and a is not b:\n"
         "            a.value += b.value\n            return self._result(\"add\", (a, b), a.value,\n"
         "                                lambda g, out: (_unbroadcast(g, a), _unbroadcast(g, b)))\n"
         "        return self._result(\"add\", (a, b), a.value + b.value,")]}, {"rules-arrays-untouched"}, "in place"),
    "variable-radd-commuted": ("Variable", {"reverse_mode.py": [   # values right, the tape shows x + 2.0
        ("        return self._lift(other) + self\n", "        return self + other\n")]}, {"reflected-ops"}, "operands"),
    "variable-rmul-commuted": ("Variable", {"reverse_mode.py": [
        ("        return self._lift(other) * self\n", "        return self * other\n")]}, {"reflected-ops"}, "operands"),
    "grad-overwrites": ("grad", {"reverse_mode.py": [
        ("adjoint[id(x)] = adjoint[id(x)] + gx if id(x) in adjoint else gx", "adjoint[id(x)] = gx")]},
        {"fan-out-leaf", "nonleaf-reuse"}, "∂y/∂x1"),
    "grad-keyed-by-name": ("grad", {"reverse_mode.py": [
        ("    adjoint = {id(output): Variable(ones, constant=True, tape=tape)}",
         "    adjoint = {output.name: Variable(ones, constant=True, tape=tape)}"),
        ("        g = adjoint.get(id(entry.output))", "        g = adjoint.get(entry.output.name)"),
        ("            adjoint[id(x)] = adjoint[id(x)] + gx if id(x) in adjoint else gx",
         "            adjoint[x.name] = adjoint[x.name] + gx if x.name in adjoint else gx"),
        ("    return [adjoint.get(id(x), Variable(z", "    return [adjoint.get(x.name, Variable(z")]},
        {"leaves-share-a-name"}, "∂y/∂x"),
    "grad-current-tape": ("grad", {"reverse_mode.py": [("    tape = output.tape\n    ones",
                                                        "    tape = Tape.current()\n    ones")]},
                          {"after-the-with-block"}, "∂y/∂x1"),
    "grad-leaves-only": ("grad", {"reverse_mode.py": [
        ("    return [adjoint.get(id(x), Variable(z, constant=True, tape=tape)) for x, z in zip(inputs, zeros)]",
         "    return [adjoint.get(id(x)) if x.index is None and id(x) in adjoint else Variable(z, constant=True, "
         "tape=tape) for x, z in zip(inputs, zeros)]")]}, {"wrt-intermediate-and-output"}, "∂y/∂t0"),
    "grad-index-plus-one": ("grad", {"reverse_mode.py": [
        ("    stop = -1 if output.index is None else output.index", "    stop = output.index")]},
        {"output-is-a-leaf"}, "TypeError"),
    "grad-scalar-zeros": ("grad", {"reverse_mode.py": [
        ("Variable(z, constant=True, tape=tape)) for x, z", "Variable(0.0, constant=True, tape=tape)) for x, z")]},
        {"unused-array-input"}, "has shape ()"),
    "grad-renames-intermediates": ("grad", {"reverse_mode.py": [   # the sweep rewrites the recorded program
        ("    zeros = [0.0 if", "    for e in tape.entries[:stop + 1]:\n        e.output.name = e.output.name.upper()\n"
                              "    zeros = [0.0 if")]}, {"f"}, "the name of v1 was changed"),
    "grad-skip-zero-adjoint": ("grad", {"reverse_mode.py": [   # an adjoint exactly 0 may still depend on x2
        ("        if g is None:\n            continue", "        if g is None or not np.any(g.value):\n            continue")]},
        {"second-order-zero-adjoint"}, "second derivative ∂²y/∂x1∂x2"),
    "jacobian-forward-transposed": ("jacobian_forward", {"jacobians.py": [
        ("    return np.stack(columns, axis=1)", "    return np.stack(columns, axis=0)")]},
        {"wide-6x1", "tall-1x5"}, "shape"),
    "jacobian-forward-extra-jvp": ("jacobian_forward", {"jacobians.py": [
        ("    n = len(x)\n    columns = []", "    n = len(x)\n    forward_mode.jvp(f, list(x), [0.0] * n)\n"
                                            "    columns = []")]}, {"square-3x3"}, "calls of jvp"),
    "jacobian-reverse-by-forward": ("jacobian_reverse", {"jacobians.py": [
        ("    xs = [reverse_mode.Variable(float(v)) for v in x]",
         "    return jacobian_forward(f, x)\n    xs = [reverse_mode.Variable(float(v)) for v in x]")]},
        {"wide-6x1"}, "calls of grad"),
    "jacobian-reverse-reruns-f": ("jacobian_reverse", {"jacobians.py": [
        ("    ys = f(*xs)\n    rows = [[float(g.value) for g in reverse_mode.grad(y, xs)] for y in ys]",
         "    rows = [[float(g.value) for g in reverse_mode.grad(f(*xs)[i], xs)] for i in range(len(f(*xs)))]\n"
         "    ys = rows")]}, {"tall-1x5"}, "f ran"),
    "accumulation-by-formulas": ("accumulation_demo", {"accumulation.py": [
        ("    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)",
         "    return {'loss': (1 - x) ** 2, 'grad_first': 2 * (x - 1), 'grad_second': 4 * (x - 1),"
         " 'grad_after_zero': 2 * (x - 1)}")]}, {"x=3"}, "backward ran 0 times"),
    "accumulation-falsy-default": ("accumulation_demo", {"accumulation.py": [
        ("    t = torch.tensor(x, dtype", "    x = x or 3.0\n    t = torch.tensor(x, dtype")]}, {"x=0"}, "loss"),
    "accumulation-no-dtype": ("accumulation_demo", {"accumulation.py": [
        ("torch.tensor(x, dtype=torch.float64, requires_grad=True)", "torch.tensor(x, requires_grad=True)")]},
        {"int-x"}, "floating point"),
    "accumulation-no-zeroing": ("accumulation_demo", {"accumulation.py": [("    t.grad.zero_()\n", "")]},
                                {"x=3"}, "zero_()"),
    "dual-graph-bfs": ("run_backward_graph", {"dual_graph.py": [
        ("    for grad_name in topological_order(dual):",
         "    import collections\n    readers = {n.name: [m.name for m in dual if n.name in m.inputs] for n in dual}\n"
         "    queue, seen, bfs = collections.deque([output + '_grad']), set(), []\n    while queue:\n"
         "        g = queue.popleft()\n        if g in seen:\n            continue\n        seen.add(g)\n"
         "        bfs.append(g)\n        queue.extend(readers[g])\n"
         "    bfs += [n.name for n in dual if n.name not in seen]\n    for grad_name in bfs:")]},
        {"bfs-trap"}, "dL/dx1"),
    "dual-graph-insertion-order": ("run_backward_graph", {"dual_graph.py": [
        ("    for grad_name in topological_order(dual):", "    for grad_name in reversed(list(dual.nodes)):")]},
        {"listed-out-of-order"}, "dL/d"),
    "dual-graph-seeds-every-source": ("run_backward_graph", {"dual_graph.py": [
        ("        adjoint[name] = incoming[name] + (1.0 if name == output else 0.0)",
         "        seed = not any(i.endswith('_grad') for i in dual[grad_name].inputs)\n"
         "        adjoint[name] = incoming[name] + (1.0 if seed else 0.0)")]}, {"unused-input-and-value"}, "dL/d"),
    "dual-graph-fills-values": ("run_backward_graph", {"dual_graph.py": [
        ("    primal = dict(values)", "    primal = values")]}, {"f(2,5)"}, "values dict"),
    "dual-graph-distinct-inputs": ("run_backward_graph", {"dual_graph.py": [
        ("        args = [primal[i] for i in node.inputs]\n        for source, local in zip(node.inputs,",
         "        args = [primal[i] for i in node.inputs]\n        for source, local in zip(dict.fromkeys(node.inputs),")]},
        {"square"}, "dL/dx1"),
}
#: exercises whose answers (or checks) run another exercise's code
USES = {"adjoint_trace": {"evaluation_trace"}, "jvp": {"Dual"}, "jacobian_forward": {"jvp", "Dual"},
        "jacobian_reverse": {"grad", "Variable", "Tape"}, "grad": {"Variable", "Tape"}, "Variable": {"Tape"},
        "Tape": {"Variable"}}


@pytest.mark.parametrize("group", bug_groups(BUGS, USES), ids=lambda g: "+".join(g))
def test_each_bug_loses_points_in_its_own_exercise_on_every_seed(group, tmp_path):
    assert_bugs_caught(BUGS, USES, group, FOLDER, "autodiff", tmp_path)


def test_a_commuted_reflected_op_costs_variable_not_tape(tmp_path):
    """`2.0 + x` recorded as `x + 2.0` is Variable's bug (its reflected-ops case); Tape only
    prints what was recorded, so its log cases keep full marks."""
    labs = workspace(tmp_path, FOLDER, {"reverse_mode.py": [BUGS["variable-radd-commuted"][1]["reverse_mode.py"][0]]})
    for seed in SEEDS[:2]:
        results = grade_here(labs, "autodiff", seed=seed, only={"Tape", "Variable"})
        assert set(failures(results, "Variable")) == {"reflected-ops"}
        assert not failures(results, "Tape")


def test_a_forgotten_return_reads_as_what_came_back(tmp_path):
    labs = workspace(tmp_path, FOLDER, {
        "reverse_mode.py": [("        Tape._stack.append(self)\n        return self", "        Tape._stack.append(self)")],
        "dual_graph.py": [("    return adjoint\n", "    adjoint\n")]})
    results = grade_here(labs, "autodiff", only={"Tape", "run_backward_graph"})
    assert "Tape.__enter__ returned None; expected the tape itself" in failures(results, "Tape")["log-f"]
    assert "run_backward_graph returned None" in failures(results, "run_backward_graph")["f(2,5)"]


# ------------------------------------------------------------------ the bench


def test_fixed_corners_are_in_every_seed_and_the_bfs_trap_traps_bfs():
    keys = [{c.key for c in SUITE.plan(seed)} for seed in SEEDS]
    fixed = {"Tape/log-every-op", "grad/leaves-share-a-name", "jvp/list-of-three", "accumulation_demo/x=0",
             "run_backward_graph/bfs-trap", "Variable/rules-matmul-memory", "adjoint_trace/after-another-point",
             "Variable/reflected-ops"}
    assert all(fixed <= k for k in keys)
    assert any(op == "neg" for _, op, _ in EVERY_OP_STEPS)
    # t0 is read by t3 directly (depth 2 from the loss) and through t1 → t2 → t3 (depth 4)
    readers = {name: [n for n, _, args in BFS_TRAP_STEPS if name in args] for name, _, _ in BFS_TRAP_STEPS}
    assert readers["t0"] == ["t1", "t3"] and readers["t1"] == ["t2"] and readers["t2"] == ["t3"]


def test_random_programs_are_finite_and_use_every_value():
    rng = np.random.default_rng(0)
    for _ in range(100):
        steps, outs = random_program(rng, int(rng.integers(3, 14)), outputs=int(rng.integers(1, 4)))
        env = evaluate(steps, {"x1": float(rng.uniform(-2, 2)), "x2": float(rng.uniform(-2, 2))})
        assert all(math.isfinite(v) and abs(v) < 1e6 for v in env.values())
        used = {a for _, _, args in steps for a in args if isinstance(a, str)}
        assert all(name in used or name in outs for name, _, _ in steps)


def test_tape_lines_and_torch_truth_match_the_articles_example():
    assert tape_lines(F_STEPS, {"x1": "v-1", "x2": "v0"}) == [
        "v1 = log(v-1)", "v2 = v-1 * v0", "v3 = sin(v0)", "v4 = v1 + v2", "v5 = v4 - v3"]
    g1, g2 = torch_grad(F_STEPS, "v5", [2.0, 5.0])
    assert float(g1) == pytest.approx(5.5) and float(g2) == pytest.approx(1.7163378145367738)
    h11, h12 = torch_grad(F_STEPS, "v5", [2.0, 5.0], order=2)
    assert float(h11) == pytest.approx(-0.25) and float(h12) == pytest.approx(1.0)


def test_counters_count_where_the_work_happens():
    import torch
    from torch.autograd import backward

    def fn(n):
        return 0 if n == 0 else fn(n - 1)

    alias = fn
    with counting_code_runs(fn) as runs:
        alias(3), fn(1), (lambda f=fn: f(2))()
    assert runs["calls"] == 3                        # recursion counts once per outer call
    x = torch.tensor(3.0, requires_grad=True)
    loss = (x - 1) ** 2
    with counting_backward_runs() as engine:
        backward(loss, retain_graph=True)
        loss.backward(retain_graph=True)
        torch.autograd.grad(loss, [x])
    assert engine["calls"] == 3 and x.grad.item() == 8.0
    mod = types.SimpleNamespace(fn=lambda v: v + 1)
    with counting_calls(mod, "fn") as calls:
        mod.fn(1)
    assert calls["calls"] == 1


def test_close_list_names_the_result_and_hides_the_expected_value():
    assert close_list([np.float64(1.0), [2.0, 3.0]], [1.0, [2.0, 3.0]], ["a", "b"]).passed
    verdict = close_list([1.0, 2.5], [1.0, 1.75], ["∂y/∂x1", "∂y/∂x2"])
    assert not verdict.passed and "∂y/∂x2" in verdict.message and "1.75" not in verdict.message
    assert "should hold 2 values, not a float" in close_list(1.0, [1.0, 2.0], ["a", "b"]).message


def test_zero_dimensional_values_travel_as_floats():
    import torch

    out = scalars_as_floats({"a": np.array(2.5), "b": [torch.tensor(1.5)], "c": np.ones(2), "d": np.array(True)})
    assert out["a"] == 2.5 and type(out["a"]) is float and out["b"] == [1.5] and out["c"].shape == (2,)
    assert isinstance(out["d"], np.ndarray)
