"""Lab 01 end to end: solutions earn 100, stubs 0, correct-but-different answers 100, and every
plausible wrong answer loses points in its own exercise, on every seed.

Variants are graded in-process (`grade_here`: the checks' own run and judge halves, no
subprocess), which is what keeps this file fast; the CLI path is covered by the solutions,
stubs, one planted-bug run and the demos.
"""
from __future__ import annotations

import functools

import pytest
from rich.cells import cell_len

from aisys.catalog import find_lab
from aisys.graph.checks import SUITE, canonical
from aisys.graph.dual import dual_graph
from aisys.graph.dual_checks import BackwardGraph, expression_cases
from aisys.graph.expressions import F_STEPS, graph_of, random_steps, run_float
from aisys.graph.ir import Graph
from aisys.graph.walk import orderable, topological_order
from conftest import STUBS, check_json, exercise, run_cli, workspace

FOLDER = "01_graph"
SEEDS = (0, 1, 2)


def grade_here(labs, slug: str = "graph", seed: int = 0, only: set[str] | None = None) -> dict:
    """{exercise: {case id: failure message or None}} for a labs dir, graded in this process
    with the checks' own run (child half) and judge (parent half) on plain data."""
    from aisys.grading.execute import execute_case
    from aisys.grading.plain import from_plain
    from aisys.grading.runner import _judge, load_suite
    from aisys.workspace import Student

    import sys
    from pathlib import Path

    root = str(Path(labs).resolve())
    for name in [n for n, m in sys.modules.items() if n.startswith("aisys_lab")
                 and str(getattr(m, "__file__", "")).startswith(root)]:
        del sys.modules[name]   # a fresh import per run, as in the grading child
    lab = find_lab(slug)
    suite, student = load_suite(lab), Student(lab, labs)
    results: dict[str, dict[str, str | None]] = {}
    for case in suite.plan(seed):
        if only and case.exercise not in only:
            continue
        record = execute_case(suite.checks[case.exercise], case, student)
        if record["status"] == "ok":
            verdict = _judge(suite, case, from_plain(record["output"]))
            message = None if verdict.passed else verdict.message
        else:
            message = f"{record['status']}: {record['message']}"
        results.setdefault(case.exercise, {})[case.id] = message
    return results


def failures(results: dict, name: str) -> dict[str, str]:
    return {cid: msg for cid, msg in results[name].items() if msg is not None}


# ------------------------------------------------------------------ the CLI path (labs 01 and 02 together)

@functools.lru_cache(maxsize=None)
def _graded(*args: str) -> tuple:
    """One CLI run per argument list per test process, whichever test file asks first."""
    return check_json("graph", "autodiff", *args, "--jobs", "2")


@pytest.fixture
def solutions_report():
    """`aisys check graph autodiff --solutions`: one CLI run for both labs' files (time)."""
    return _graded("--solutions")


@pytest.fixture
def stubs_report():
    return _graded("--labs-dir", str(STUBS))


def lab_report(report: dict, slug: str) -> dict:
    return next(lab for lab in report["labs"] if lab["slug"] == slug)


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stdout
    lab = lab_report(report, "graph")
    assert lab["score"] == lab["max_score"] == 100.0
    assert all(ex["status"] == "passed" for ex in lab["exercises"])
    assert lab["number"] == 1 and {"id", "status", "output"} <= set(lab["exercises"][0]["cases"][0])


def test_stubs_score_zero_not_started(stubs_report):
    report, proc = stubs_report
    assert proc.returncode == 1
    lab = lab_report(report, "graph")
    assert lab["score"] == 0
    assert {ex["status"] for ex in lab["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_planted_bugs_lose_points_through_the_cli(tmp_path):
    """One workspace with bugs in both labs, graded the way a student grades (one CLI run)."""
    workspace(tmp_path, "02_autodiff", {
        "reverse_mode.py": [("adjoint[id(x)] = adjoint[id(x)] + gx if id(x) in adjoint else gx",
                             "adjoint[id(x)] = gx")],
        "accumulation.py": [("    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)",
                             "    return {'loss': (1 - x) ** 2, 'grad_first': 2 * (x - 1), 'grad_second': 4 * (x - 1),"
                             " 'grad_after_zero': 2 * (x - 1)}")]})
    labs = workspace(tmp_path, FOLDER, {"graphs.py": [
        ("indegree = {node.name: len(node.inputs) for node in graph}",
         "indegree = {node.name: len(set(node.inputs)) for node in graph}"),
        ("if fn is None or id(fn) in names:\n            continue\n        names[id(fn)]",
         "if fn is None:\n            continue\n        names[id(fn)]")]})
    report, proc = check_json("graph", "autodiff", "--labs-dir", str(labs), "--jobs", "2")
    assert proc.returncode == 1
    topo = exercise(report, "topo_sort")
    assert 0 < topo["score"] < topo["max_score"]
    failed = [c for c in topo["cases"] if c["status"] == "failed"]
    assert failed and all(("->" in c["message"] or "exactly once" in c["message"]) for c in failed)
    torch_graph = exercise(report, "graph_from_torch")
    assert torch_graph["score"] == 0 and all("duplicate node name" in c["message"] for c in torch_graph["cases"])
    assert exercise(report, "row_major_strides")["status"] == "passed"
    grad = {c["id"]: c["message"] for c in exercise(report, "grad")["cases"] if c["status"] != "passed"}
    assert {"fan-out-leaf", "nonleaf-reuse"} <= set(grad) and "off by" in grad["fan-out-leaf"]
    accumulation = {c["id"]: c["message"] for c in exercise(report, "accumulation_demo")["cases"]}
    assert "backward ran 0 times" in accumulation["x=3"]
    assert exercise(report, "Dual")["status"] == "passed"


def test_demo_with_the_solution_through_the_cli(tmp_path):
    proc = run_cli("lab", "run", "graph", "--solution", "--dot", str(tmp_path / "f.dot"), env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert max(cell_len(line) for line in proc.stdout.splitlines()) <= 100
    assert "SubBackward0" in proc.stdout and "y = x·ln(x)" in proc.stdout
    assert "control edge" in proc.stdout and "update_w" in proc.stdout
    assert (tmp_path / "f.dot").read_text().startswith('digraph "f"')


def demo_text(slug: str, labs) -> str:
    """What `aisys lab run SLUG` prints at 100 columns, run in this process (piped: no colour)."""
    import io

    from rich.console import Console

    from aisys.labrun import DemoOptions, run_demo
    from aisys.workspace import Student

    lab, out = find_lab(slug), io.StringIO()
    run_demo(lab, Student(lab, labs), Console(file=out, width=100), DemoOptions())
    text = out.getvalue()
    assert max(cell_len(line) for line in text.splitlines()) <= 100
    return text


def test_demo_runs_on_the_stubs():
    text = demo_text("graph", STUBS)
    assert "not implemented yet — edit " in text and "01_graph/graphs.py: topo_sort" in text
    assert "update_w" in text and "y = x·ln(x)" in text


# ------------------------------------------------------------------ correct, in other styles

CORRECT_VARIANTS = {
    "numpy-and-dfs": {
        "tensors.py": [
            ("    strides = []\n    step = 1\n    for size in reversed(shape):\n        strides.append(step)\n"
             "        step *= max(int(size), 1)\n    return tuple(reversed(strides))",
             "    import numpy as np\n    sizes = [max(int(s), 1) for s in shape][1:] + [1]\n"
             "    return tuple(int(v) for v in np.cumprod(sizes[::-1])[::-1]) if shape else ()"),
            ("    contiguous = all(size == 1 or s == e for size, s, e in zip(shape, strides, expected))",
             "    contiguous = [s for n, s in zip(shape, strides) if n != 1] == "
             "[e for n, e in zip(shape, expected) if n != 1]")],
        "functions.py": [
            ("        ctx.save_for_backward(x)\n        return x.clamp(min=0)",
             "        ctx.save_for_backward(x > 0)\n        return torch.where(x > 0, x, torch.zeros_like(x))"),
            ("        (x,) = ctx.saved_tensors\n        return grad_output * (x > 0).to(grad_output.dtype)",
             "        (mask,) = ctx.saved_tensors\n        out = grad_output.clone()\n        out[~mask] = 0\n"
             "        return out"),
            ("        s = 1.0 / (1.0 + torch.exp(-x))",
             "        s = torch.where(x >= 0, 1 / (1 + torch.exp(-x)), torch.exp(x) / (1 + torch.exp(x)))")],
        "graphs.py": [
            ("    graph = Graph()\n    names: dict[int, str] = {}",
             "    import itertools\n    counter = itertools.count()\n    graph = Graph()\n"
             "    names: dict[int, str] = {}\n\n    def visit(fn):\n"
             "        if fn is None or id(fn) in names:\n            return\n"
             "        names[id(fn)] = f'node{next(counter)}'\n        for nxt, _ in fn.next_functions:\n"
             "            visit(nxt)\n        graph.add(names[id(fn)], type(fn).__name__,\n"
             "                  [names[id(n)] for n, _ in fn.next_functions if n is not None])\n\n"
             "    visit(output.grad_fn)\n    return graph\n    names = {}"),
            # depth-first topological sort with three colours instead of Kahn
            ("    indegree = {node.name: len(node.inputs) for node in graph}",
             "    state, order = {}, []\n\n    def visit(name, path):\n"
             "        if state.get(name) == 'done':\n            return\n"
             "        if state.get(name) == 'open':\n            raise ValueError(f'graph has a cycle through {name}')\n"
             "        state[name] = 'open'\n        for src in graph[name].inputs:\n            visit(src, path)\n"
             "        state[name] = 'done'\n        order.append(name)\n\n"
             "    for node in graph:\n        visit(node.name, [])\n    return order\n"
             "    indegree = {node.name: len(node.inputs) for node in graph}"),
            # the grad nodes first, saved nodes after, built from the edge list
            ("    dual = Graph()\n    consumers = graph.consumers()",
             "    dual, grads = Graph(), {n.name: [] for n in graph}\n    for src, dst in graph.edges:\n"
             "        grads[src].append(dst + '_grad')\n    saved = []\n    for node in graph:\n"
             "        need = GRAD_NEEDS.get(node.op, '')\n"
             "        reads = sorted(set(node.inputs), key=node.inputs.index) if need == 'inputs' else \\\n"
             "            [node.name] if need == 'output' else []\n"
             "        dual.add(node.name + '_grad', node.op + '_grad', grads[node.name] + reads)\n"
             "        saved += [r for r in reads if r not in saved]\n    for name in saved:\n"
             "        dual.add(name, 'saved')\n    return dual\n    consumers = graph.consumers()")],
    },
    # the docstring fixes the group order (consumers' _grad nodes, then saved values), not the
    # order within a group
    "dual-each-group-reversed": {"graphs.py": [
        ("        inputs = [f\"{c}_grad\" for c in consumers.get(node.name, [])] + needed[node.name]",
         "        inputs = [f\"{c}_grad\" for c in consumers.get(node.name, [])][::-1] + needed[node.name][::-1]")]},
    # other float64 formulas agree with torch's far inside the tolerance (~1e-15 relative)
    "float64-formulas": {"functions.py": [
        ("        return grad_output * (x > 0).to(grad_output.dtype)",
         "        return grad_output * torch.heaviside(x, torch.zeros((), dtype=x.dtype))"),
        ("        s = 1.0 / (1.0 + torch.exp(-x))", "        s = 0.5 + 0.5 * torch.tanh(x / 2)")]},
}


@pytest.mark.parametrize("name", sorted(CORRECT_VARIANTS))
def test_correct_answers_in_other_styles_score_full_marks(name, tmp_path):
    labs = workspace(tmp_path, FOLDER, CORRECT_VARIANTS[name])
    for seed in (0, 1):
        results = grade_here(labs, seed=seed)
        wrong = {ex: failures(results, ex) for ex in results if failures(results, ex)}
        assert not wrong, wrong


# ------------------------------------------------------------------ wrong answers, each in its own exercise

# (exercise, {file: edits}, case ids that must fail on every seed, a word of the message)
BUGS = {
    "strides-reverse-in-place": ("row_major_strides", {"tensors.py": [
        ("    strides = []\n    step = 1\n    for size in reversed(shape):",
         "    if isinstance(shape, list):\n        shape.reverse()\n        shape = shape[::-1]\n"
         "    strides = []\n    step = 1\n    for size in reversed(shape):")]},
        {"matrix"}, "changed its argument"),
    "strides-zero-size-as-zero": ("row_major_strides", {"tensors.py": [
        ("        step *= max(int(size), 1)", "        step *= int(size)")]}, {"zero-size"}, "strides"),
    "offset-negative-wraps": ("flat_offset", {"tensors.py": [
        ("        if not 0 <= idx < size:", "        if idx >= size:")]}, {"negative-index"}, "IndexError"),
    "offset-ignored-without-strides": ("flat_offset", {"tensors.py": [
        ("    return int(offset + sum(i * s for i, s in zip(index, steps)))",
         "    return int((offset if strides is not None else 0) + sum(i * s for i, s in zip(index, steps)))")]},
        {"offset-without-strides"}, "wrong storage position"),
    "offset-no-ndim-check": ("flat_offset", {"tensors.py": [
        ("    if len(index) != len(shape):", "    if False:")]}, {"wrong-ndim"}, "IndexError"),
    "info-contiguous-without-size-one": ("tensor_info", {"tensors.py": [
        ("    contiguous = all(size == 1 or s == e", "    contiguous = all(s == e")]},
        {"size-one-dim"}, "is_contiguous"),
    "info-empty-not-contiguous": ("tensor_info", {"tensors.py": [
        ('        "is_contiguous": bool(contiguous or t.numel() == 0),', '        "is_contiguous": bool(contiguous),')]},
        {"empty"}, "is_contiguous"),
    "relu-mask-on-the-class": ("MyReLU", {"functions.py": [
        ("        ctx.save_for_backward(x)\n        return x.clamp(min=0)",
         "        MyReLU.mask = x > 0\n        return x.clamp(min=0)"),
        ("        (x,) = ctx.saved_tensors\n        return grad_output * (x > 0).to(grad_output.dtype)",
         "        return grad_output * MyReLU.mask.to(grad_output.dtype)")]},
        {"two-interleaved-calls"}, "gradient"),
    "relu-edits-grad-output": ("MyReLU", {"functions.py": [
        ("        return grad_output * (x > 0).to(grad_output.dtype)",
         "        grad_output[x <= 0] = 0\n        return grad_output")]},
        {"grad-shared-with-a-branch"}, "x.grad"),
    "relu-clamps-in-place": ("MyReLU", {"functions.py": [
        ("        ctx.save_for_backward(x)\n        return x.clamp(min=0)",
         "        ctx.save_for_backward(x.clone())\n        return x.clamp_(min=0)")]}, {"at-zero"}, "in place"),
    "relu-article-mask": ("MyReLU", {"functions.py": [   # the article's `grad_input[input < 0] = 0`
        ("(x > 0).to(grad_output.dtype)", "(x >= 0).to(grad_output.dtype)")]}, {"at-zero"}, "x.grad"),
    "relu-returns-x-when-positive": ("MyReLU", {"functions.py": [   # the output aliases x: a caller's edit reaches x
        ("        return x.clamp(min=0)", "        return x if bool((x > 0).all()) else x.clamp(min=0)")]},
        {"output-edited-by-caller"}, "returned x itself"),
    "relu-float32-grad": ("MyReLU", {"functions.py": [   # gradients are checked in float64
        ("        return grad_output * (x > 0).to(grad_output.dtype)",
         "        return grad_output.float() * (x > 0)")]}, {"random-1", "random-2"}, "x.grad"),
    "sigmoid-exp-derivative": ("MySigmoid", {"functions.py": [
        ("        ctx.save_for_backward(s)\n        return s", "        ctx.save_for_backward(x)\n        return s"),
        ("        (s,) = ctx.saved_tensors\n        return grad_output * s * (1.0 - s)",
         "        (x,) = ctx.saved_tensors\n        return grad_output * torch.exp(-x) / (1 + torch.exp(-x)) ** 2")]},
        {"extremes"}, "non-finite"),
    "sigmoid-output-on-the-class": ("MySigmoid", {"functions.py": [
        ("        ctx.save_for_backward(s)\n        return s", "        MySigmoid.s = s\n        return s"),
        ("        (s,) = ctx.saved_tensors\n        return grad_output * s * (1.0 - s)",
         "        s = MySigmoid.s\n        return grad_output * s * (1.0 - s)")]},
        {"two-interleaved-calls"}, "gradient"),
    "capture-keeps-none": ("graph_from_torch", {"graphs.py": [
        ("        inputs = [names[id(nxt)] for nxt, _ in fn.next_functions if nxt is not None]",
         "        inputs = [names.get(id(nxt), 'None') for nxt, _ in fn.next_functions]")]},
        {"constant-operand", "input-without-grad"}, "not in the graph"),
    "capture-names-kept-between-calls": ("graph_from_torch", {"graphs.py": [
        ("def graph_from_torch(output) -> Graph:", "_SEEN: dict = {}\n\n\ndef graph_from_torch(output) -> Graph:"),
        ("    names: dict[int, str] = {}\n    order: list = []",
         "    names: dict[int, str] = _SEEN\n    order: list = []")]}, {"f", "square"}, "differ"),
    "capture-runs-backward": ("graph_from_torch", {"graphs.py": [
        ("    graph = Graph()\n    names: dict[int, str] = {}", "    output.backward()\n    graph = Graph()\n"
                                                               "    names: dict[int, str] = {}")]},
        {"f"}, "backward"),
    "capture-inputs-reversed": ("graph_from_torch", {"graphs.py": [
        ("        inputs = [names[id(nxt)] for nxt, _ in fn.next_functions if nxt is not None]",
         "        inputs = [names[id(nxt)] for nxt, _ in reversed(fn.next_functions) if nxt is not None]")]},
        {"f", "every-op"}, "order"),
    "topo-deletes-edges": ("topo_sort", {"graphs.py": [
        ("        for nxt in consumers.get(name, []):\n            indegree[nxt] -= 1",
         "        for nxt in consumers.get(name, []):\n            graph[nxt].inputs.remove(name)\n"
         "            indegree[nxt] -= 1")]}, {"diamond", "f"}, "changed the graph"),
    "topo-indegree-on-attrs": ("topo_sort", {"graphs.py": [
        ("    indegree = {node.name: len(node.inputs) for node in graph}",
         "    for node in graph:\n        node.attrs['indegree'] = len(node.inputs)\n"
         "    indegree = {node.name: node.attrs['indegree'] for node in graph}")]},
        {"diamond", "f"}, "attrs were modified"),
    "topo-silent-cycle-message": ("topo_sort", {"graphs.py": [
        ('raise ValueError(f"graph has a cycle through {\', \'.join(stuck[:5])}")',
         'raise ValueError("cycle detected")')]}, {"cycle", "self-loop"}, "name at least one node"),
    "topo-state-in-a-default": ("topo_sort", {"graphs.py": [
        ("def topo_sort(graph: Graph) -> list[str]:", "def topo_sort(graph: Graph, _done=set()) -> list[str]:"),
        ("        order.append(name)\n        for nxt in consumers",
         "        if name in _done:\n            continue\n        _done.add(name)\n"
         "        order.append(name)\n        for nxt in consumers")]}, {"diamond"}, "second call"),
    "dual-saved-on-the-consumer": ("backward_graph", {"graphs.py": [   # the docstring's old misreading
        ("        inputs = [f\"{c}_grad\" for c in consumers.get(node.name, [])] + needed[node.name]",
         "        inputs = [f\"{c}_grad\" for c in consumers.get(node.name, [])] + \\\n"
         "            [v for c in dict.fromkeys(consumers.get(node.name, [])) for v in needed[c]]")]},
        {"f", "every-op"}, "saved"),
    "dual-saved-twice-for-x-times-x": ("backward_graph", {"graphs.py": [
        ("list(dict.fromkeys(node.inputs)) if need == \"inputs\"", "list(node.inputs) if need == \"inputs\"")]},
        {"square", "unused-value"}, "each once"),
    "dual-marks-forward-attrs": ("backward_graph", {"graphs.py": [
        ("        dual.add(f\"{node.name}_grad\", f\"{node.op}_grad\", inputs)\n    return dual",
         "        dual.add(f\"{node.name}_grad\", f\"{node.op}_grad\", inputs)\n"
         "        node.attrs['grad'] = f'{node.name}_grad'\n    return dual")]},
        {"f", "square"}, "attrs were modified"),
    "dual-saved-before-grads": ("backward_graph", {"graphs.py": [
        ("        inputs = [f\"{c}_grad\" for c in consumers.get(node.name, [])] + needed[node.name]",
         "        inputs = needed[node.name] + [f\"{c}_grad\" for c in consumers.get(node.name, [])]")]},
        {"f", "every-op"}, "before a consumer's _grad"),
    "dual-edits-forward": ("backward_graph", {"graphs.py": [
        ("    dual = Graph()\n    consumers = graph.consumers()",
         "    dual = Graph()\n    consumers = graph.consumers()\n    for n in graph:\n        n.inputs.sort()")]},
        {"f"}, "changed the forward graph"),
}


#: exercises whose answers call another exercise's (a bug there shows in them too)
USES = {"flat_offset": {"row_major_strides"}, "tensor_info": {"row_major_strides"}}


def bug_groups(bugs: dict, uses: dict[str, set[str]]) -> list[list[str]]:
    """Bugs packed into few workspaces: at most one per exercise in each, none in an exercise
    that uses another bugged one, and no two edits of one file that overlap."""
    def related(a: str, b: str) -> bool:
        return a == b or a in uses.get(b, ()) or b in uses.get(a, ())

    def compatible(group: list[str], name: str) -> bool:
        olds = [old for other in group + [name] for edits in bugs[other][1].values() for old, _ in edits]
        return not any(a != b and (a in b or b in a) for a in olds for b in olds) and len(set(olds)) == len(olds)

    groups: list[list[str]] = []
    for name, (ex, _, _, _) in bugs.items():
        for group in groups:
            if not any(related(bugs[other][0], ex) for other in group) and compatible(group, name):
                group.append(name)
                break
        else:
            groups.append([name])
    return groups


def assert_bugs_caught(bugs: dict, uses: dict, group: list[str], folder: str, slug: str, tmp_path) -> None:
    """Each bug of the group loses points in its own exercise, on the cases it names, with a
    message holding its word, on every seed; exercises no bug touches keep full marks (checked
    on the first seed)."""
    edits: dict[str, list] = {}
    for name in group:
        for file, pairs in bugs[name][1].items():
            edits.setdefault(file, []).extend(pairs)
    labs = workspace(tmp_path, folder, edits)
    touched = {bugs[name][0] for name in group}
    touched |= {ex for ex, used in uses.items() if used & touched}
    for seed in SEEDS:   # every exercise on the first seed; then the bugged ones only (time)
        results = grade_here(labs, slug, seed=seed, only=None if seed == SEEDS[0] else touched)
        for name in group:
            ex, _, must_fail, word = bugs[name]
            failed = failures(results, ex)
            assert failed, (name, seed, "kept full marks")
            assert must_fail <= set(failed), (name, seed, must_fail - set(failed), failed)
            assert any(word in failed[c] for c in must_fail or failed), (name, seed, failed)
        clean = [ex for ex in results if ex not in touched and failures(results, ex)]
        assert not clean, (group, seed, {ex: failures(results, ex) for ex in clean})


@pytest.mark.parametrize("group", bug_groups(BUGS, USES), ids=lambda g: "+".join(g))
def test_each_bug_loses_points_in_its_own_exercise_on_every_seed(group, tmp_path):
    assert_bugs_caught(BUGS, USES, group, FOLDER, "graph", tmp_path)


def test_a_forgotten_return_reads_as_what_came_back(tmp_path):
    labs = workspace(tmp_path, FOLDER, {"graphs.py": [
        ("    return order\n    # END SOLUTION", "    order\n    # END SOLUTION"),
        ("        dual.add(f\"{node.name}_grad\", f\"{node.op}_grad\", inputs)\n    return dual",
         "        dual.add(f\"{node.name}_grad\", f\"{node.op}_grad\", inputs)\n    return 'dual'")],
        "functions.py": [("        return grad_output * s * (1.0 - s)", "        grad_output * s * (1.0 - s)")]})
    results = grade_here(labs, only={"topo_sort", "backward_graph", "MySigmoid"})
    assert "topo_sort returned None; expected a list of node names" in failures(results, "topo_sort")["diamond"]
    assert "backward_graph returned a str ('dual')" in failures(results, "backward_graph")["f"]
    assert "MySigmoid.backward returned None" in failures(results, "MySigmoid")["random-0"]


# ------------------------------------------------------------------ the bench


def test_cases_are_seeded_and_fixed_corners_are_in_every_seed():
    a, b = SUITE.plan(7), SUITE.plan(7)
    assert [c.to_json() for c in a] == [c.to_json() for c in b]
    ids = [{c.key for c in SUITE.plan(seed)} for seed in SEEDS]
    fixed = {"MyReLU/at-zero", "MySigmoid/extremes", "graph_from_torch/constant-operand", "topo_sort/empty-graph",
             "flat_offset/negative-index", "backward_graph/unused-value", "topo_sort/self-loop"}
    assert all(fixed <= keys for keys in ids)


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
    flipped = graph_of([(name, op, list(reversed(args))) for name, op, args in F_STEPS])
    assert canonical(flipped) != canonical(f) and canonical(flipped, ordered=False) == canonical(f, ordered=False)


def test_the_bench_walker_and_dual_builder_meet_lab_01s_own_contract():
    import numpy as np

    rng = np.random.default_rng(3)
    check = BackwardGraph()
    for case in expression_cases(rng):
        forward = graph_of([tuple(s) for s in case.inputs["steps"]], reverse=bool(case.inputs.get("reverse")))
        plain = dual_graph(forward).to_plain()
        assert check.judge(case, {"dual": plain, "again": plain, "changed": []}).passed, case.id
        order = topological_order(forward)
        assert sorted(order) == sorted(forward.nodes)
    cyclic = Graph()
    cyclic.add("a", "op", ["b"])
    cyclic.add("b", "op", ["a"])
    cyclic.add("c", "op")
    assert orderable(cyclic) == (["c"], ["a", "b"])
    with pytest.raises(ValueError, match="cycle through a, b"):
        topological_order(cyclic)
