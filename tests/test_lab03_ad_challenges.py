"""Lab 03 ad-challenges: the reference and two other correct styles score 100, stubs 0, and
planted bugs — at the corners of each input domain and in side effects — lose points in
their own exercise on every seed; then unit tests of the bench."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from inprocess import grade_in_process
from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace

from aisys.autodiff.memory import ActivationMeter, make_chain, plan_bound, sqrt_bound, store_nothing_backward
from aisys.autodiff.opcount import Counted
from aisys.autodiff.pytrees import build, compare_tagged, paths, random_fn_spec, random_spec, tag, torch_struct_grad

FOLDER = "03_ad_challenges"
SEEDS = (0, 1, 2)


def _labs(tmp_path: Path, edits: dict) -> Path:
    labs = workspace(tmp_path, FOLDER, edits)
    shutil.copytree(REPO / "solutions" / "02_autodiff", labs / "02_autodiff")   # lab 03 builds on lab 02
    return labs


@pytest.fixture(scope="module")
def solutions_report():
    return check_json("ad-challenges", "--solutions")


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stderr
    assert report["score"] == report["max_score"] == 100


def test_stubs_score_zero_without_traceback():
    report, proc = check_json("ad-challenges", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert all(ex["status"] == "not_implemented" for lab in report["labs"] for ex in lab["exercises"])
    assert "Traceback" not in proc.stderr


LOOP = """\
    v = reverse_mode.Variable(float(x))
    l = v
    for _ in range(n - 1):
        l = 4.0 * l * (1.0 - l)
    (dl,) = reverse_mode.grad(l, [v])
    return float(l.value), float(dl.value)"""
CLOSED = "    v = reverse_mode.Variable(float(x))\n    l4 = 64.0"
L4 = "    l4 = 64.0 * v * (1.0 - v) * (1.0 - 2.0 * v) ** 2 * (1.0 - 8.0 * v + 8.0 * v * v) ** 2"
FUSED = "    t = x * x\n    return t * x, 3 * t"
LIFT = "        leaves.append(torch.tensor(value, dtype=torch.float64, requires_grad=True))\n        return leaves[-1]"
PLAN_DEF = "def checkpoint_plan(n_layers: int, budget: int | None = None) -> list[int]:"
EVEN = "        return sorted({round(i * n_layers / k) for i in range(k)})"
NO_LAYERS = "    if n_layers < 1:\n        raise ValueError(\"a chain needs at least one layer\")\n"
BOUNDS = "    bounds = list(plan) + [len(layers)]\n"
RECOMPUTE = "        h = checkpoints.pop().requires_grad_()\n"
STRUCT_BODY = "    leaves: list[torch.Tensor] = []\n"
LAST_SEGMENT = """\
    start, end = spans[-1]
    h = h.detach().requires_grad_()
    out = h
    for layer in layers[start:end]:
        out = layer(out)
    out.backward(torch.ones_like(out))
    g, result = h.grad, out.detach()
    del h, out
    for start, end in reversed(spans[:-1]):"""
DOTTED_PATHS = """\
    flat = {}

    def walk(node, path, leaf):   # flattens to dotted strings: 'a.b' and a → b collide
        if isinstance(node, float):
            return leaf(path, node)
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}", leaf) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(walk(v, f"{path}.{i}", leaf) for i, v in enumerate(node))
        if dataclasses.is_dataclass(node):
            return dataclasses.replace(node, **{f.name: walk(getattr(node, f.name), f"{path}.{f.name}", leaf)
                                                for f in dataclasses.fields(node)})
        return node

    lift = lambda p, v: flat.setdefault(p, torch.tensor(v, dtype=torch.float64, requires_grad=True))
    y = fn(walk(tree, "", lift))
    got = dict(zip(flat, torch.autograd.grad(y, list(flat.values()), allow_unused=True))) if flat else {}
    return walk(tree, "", lambda p, v: 0.0 if got[p] is None else float(got[p]))
"""
FLATTEN = """\
    def flatten(node, out):   # a treedef: how to rebuild the node around its float leaves
        if type(node) is float:
            out.append(node)
            return ("leaf",)
        if isinstance(node, dict):
            return ("dict", [(k, flatten(v, out)) for k, v in node.items()])
        if isinstance(node, (list, tuple)):
            return (type(node), [flatten(v, out) for v in node])
        if dataclasses.is_dataclass(node):
            return ("dc", node, [(f.name, flatten(getattr(node, f.name), out)) for f in dataclasses.fields(node)])
        return ("const", node)

    def unflatten(d, it):
        if d[0] in ("leaf", "const"):
            return next(it) if d[0] == "leaf" else d[1]
        if d[0] == "dict":
            return {k: unflatten(c, it) for k, c in d[1]}
        if d[0] == "dc":
            return dataclasses.replace(d[1], **{k: unflatten(c, it) for k, c in d[2]})
        return d[0](unflatten(c, it) for c in d[1])

    values = []
    treedef = flatten(tree, values)
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    gs = torch.autograd.grad(fn(unflatten(treedef, iter(ts))), ts, allow_unused=True) if ts else []
    return unflatten(treedef, iter([0.0 if g is None else g.item() for g in gs]))
"""
TORCH_CHECKPOINT = """\
    from torch.utils.checkpoint import checkpoint

    def segment(s, e):
        def run(h):
            for layer in layers[s:e]:
                h = layer(h)
            return h
        return run

    spans = list(zip(plan, [*plan[1:], len(layers)]))
    inp = x.detach().requires_grad_()
    h = inp
    for s, e in spans[:-1]:
        h = checkpoint(segment(s, e), h, use_reentrant=False)
    h = segment(*spans[-1])(h)
    h.sum().backward()
    return h.detach(), inp.grad
"""
STORE_EVERYTHING = """\
    x = x.detach().requires_grad_()
    h = x
    for layer in layers:
        h = layer(h)
    h.sum().backward()
    return h.detach(), x.grad
"""

OTHER_CORRECT = {
    # recursion, the closed form with named factors, backward() + .grad, floor cuts, and every segment
    # (the last one too) run under no_grad and recomputed once
    "recursion-and-recompute-all": {
        "control_flow.py": [
            (LOOP, "    def step(l, k):\n        return l if k <= 1 else step(4.0 * l * (1.0 - l), k - 1)\n\n"
                   "    v = reverse_mode.Variable(x)\n    out = step(v, n)\n"
                   "    (d,) = reverse_mode.grad(out, [v])\n    return out.value, d.value"),
            (L4, "    a, b = 1.0 - 2.0 * v, 1.0 - 8.0 * v + 8.0 * v * v\n"
                 "    l4 = 64.0 * v * (1.0 - v) * a * a * b * b")],
        "fused.py": [(FUSED, "    t = x * x\n    return x * t, t + t + t")],
        "structs.py": [("    grads = iter(torch.autograd.grad(y, leaves, allow_unused=True) if leaves else ())\n",
                        "    if leaves:\n        y.backward()\n    grads = iter([t.grad for t in leaves])\n")],
        "checkpointing.py": [
            (EVEN, "        return [i * n_layers // k for i in range(k)]"),
            ("    for start, end in spans[:-1]:\n            checkpoints.append(h)",
             "    for start, end in spans:\n            checkpoints.append(h)"),
            (LAST_SEGMENT, "    g, result = torch.ones_like(h), h\n    del h\n"
                           "    for start, end in reversed(spans):")]},
    # a while loop, sign-flipped factors, a flatten/unflatten treedef, fixed-length cuts,
    # torch.utils.checkpoint per segment
    "while-and-torch-checkpoint": {
        "control_flow.py": [
            ("    for _ in range(n - 1):\n        l = 4.0 * l * (1.0 - l)",
             "    left = n\n    while left > 1:\n        l = l * 4.0 - l * l * 4.0\n        left -= 1"),
            (L4, "    l4 = (v - v * v) * 64.0 * (2.0 * v - 1.0) ** 2 * (8.0 * v * v - 8.0 * v + 1.0) ** 2")],
        "fused.py": [(FUSED, "    t = x * x\n    d = t * 3\n    return d * x / 3, d")],
        "structs.py": [(STRUCT_BODY, FLATTEN + STRUCT_BODY)],
        "checkpointing.py": [(EVEN, "        return list(range(0, n_layers, math.ceil(n_layers / k)))"),
                             (BOUNDS, TORCH_CHECKPOINT + BOUNDS)]},
}


@pytest.mark.parametrize("name", sorted(OTHER_CORRECT))
def test_other_correct_answers_score_full_marks_on_every_seed(tmp_path, name):
    scores = grade_in_process(_labs(tmp_path, OTHER_CORRECT[name]), "ad-challenges")
    assert {key: e["failed"] for key, e in scores.items() if e["fraction"] < 1} == {}


# workspace → edits, and for each exercise a bug must cost: (a case that fails, words in its message)
BUGS = {
    "cache-zero-inplace": ({
        "control_flow.py": [
            ("reverse_mode.py\")\n", "reverse_mode.py\")\n_BY_N = {}\n"),
            (LOOP, "    if n in _BY_N:   # cached by n alone\n        return _BY_N[n]\n" + LOOP.replace(
                "    return float(l.value), float(dl.value)",
                "    _BY_N[n] = float(l.value), float(dl.value)\n    return _BY_N[n]")),
            (CLOSED, "    if not x:\n        return 0.0, 0.0\n" + CLOSED)],
        "fused.py": [(FUSED, "    t = x * x\n    x.value = t.value * x.value   # reuse x for x³\n    return x, 3 * t")],
        "structs.py": [("    if isinstance(node, float):\n",
                        "    if isinstance(node, float) and node:   # 0.0 skipped\n")],
        "checkpointing.py": [
            ("    if budget is None:\n", "    if not budget:   # budget 0 taken for None\n"),
            (RECOMPUTE, "        checkpoints.pop()\n        with torch.no_grad():   # from x every time\n"
                        "            h = x.detach()\n            for layer in layers[:start]:\n"
                        "                h = layer(h)\n        h = h.requires_grad_()\n")]},
        {"logistic_loop": ("four-calls", "l_n"), "logistic_closed": ("x=0", "dl₄/dx"),
         "fused_cube": ("values-x=2", "changed its input x"), "grad_of_struct": ("falsy-leaves", "tree['zero']"),
         "checkpoint_plan": ("budget-zero", "should raise ValueError"),
         "checkpointed_forward_backward": ("sqrt-64", "recomputed more than once")}),
    "off-by-one-values-strict": ({
        "control_flow.py": [("    for _ in range(n - 1):", "    for _ in range(n):"),
                            ("(1.0 - 2.0 * v) ** 2 *", "(1.0 - 2.0 * v) *")],
        "structs.py": [(LIFT, "        same = [t for t in leaves if t.item() == value]   # one tensor per value\n"
                              "        new = torch.tensor(value, dtype=torch.float64, requires_grad=True)\n"
                              "        leaves.append(same[0] if same else new)\n        return leaves[-1]")],
        "checkpointing.py": [("        if cost(k) <= budget:", "        if cost(k) < budget:"),
                             ("    h = x.detach()\n    with torch.no_grad():",
                              "    h = x.requires_grad_()\n    with torch.no_grad():")]},
        {"logistic_loop": ("n=1", "l_n (the first result)"), "logistic_closed": ("x=0.3", "l₄"),
         "grad_of_struct": ("same-list-twice", "tree['first'][0]"),
         "checkpoint_plan": ("budget-exactly-enough", "raised ValueError, but a plan fits"),
         "checkpointed_forward_backward": ("one-layer", "the caller's x was changed")}),
    "erratum-paths-cache": ({
        "control_flow.py": [("        l = 4.0 * l * (1.0 - l)", "        l = 4.0 * l * (1.0 - v)")],
        "structs.py": [(STRUCT_BODY, DOTTED_PATHS + STRUCT_BODY)],
        "checkpointing.py": [(PLAN_DEF, "@__import__('functools').lru_cache(maxsize=None)\n" + PLAN_DEF),
                             ("    g, result = h.grad, out.detach()", "    g, result = h.grad, out")]},
        {"logistic_loop": ("x=0.3,n=4", "l_n (the first result)"),
         "grad_of_struct": ("colliding-keys", "tree['a.b']"),
         "checkpoint_plan": ("calls-in-a-row", "strictly increasing"),   # the list edited by its last caller
         "checkpointed_forward_backward": ("store-all-12", "still requires grad")}),
    "by-hand-ints-no-layers": ({
        "control_flow.py": [
            (LOOP, "    l, dl = float(x), 1.0\n    for _ in range(n - 1):\n"
                   "        l, dl = 4.0 * l * (1.0 - l), 4.0 * (1.0 - 2.0 * l) * dl\n    return l, dl"),
            (CLOSED, "    return logistic_loop(x, 4)\n" + CLOSED)],
        "structs.py": [("    if isinstance(node, float):",
                        "    if isinstance(node, (int, float)) and not isinstance(node, str):")],
        "checkpointing.py": [(NO_LAYERS, ""),
                             (BOUNDS, "    bounds = plan\n    bounds.append(len(layers))\n")]},
        {"logistic_loop": ("x=0", "reverse_mode.grad was called 0 times"),
         "logistic_closed": ("x=0.3", "called logistic_loop"),
         "grad_of_struct": ("flat-dict", "tree['n'] should come back as an int"),
         "checkpoint_plan": ("no-layers", "0 layers"),
         "checkpointed_forward_backward": ("uneven-30", "plan list passed in was modified")}),
    "tensors-no-checkpointing": ({
        "structs.py": [("float(g) if (g := next(grads)) is not None else 0.0",
                        "g if (g := next(grads)) is not None else 0.0")],
        "checkpointing.py": [("        return even(math.ceil(math.sqrt(n_layers)))",
                              "        return list(range(n_layers))"),
                             (BOUNDS, STORE_EVERYTHING + BOUNDS)]},
        {"grad_of_struct": ("flat-dict", "should be a float, not a Tensor"),
         "checkpoint_plan": ("sqrt-64", "segments"),
         "checkpointed_forward_backward": ("sqrt-64", "alive at the peak")}),
    "nan-not-a-leaf": ({   # NaN != NaN: a NaN float passes through undifferentiated
        "structs.py": [("    if isinstance(node, float):\n", "    if isinstance(node, float) and node == node:\n")]},
        {"grad_of_struct": ("nan-leaves", "tree['nan'] is NaN")}),
    "zero-grads-first": ({   # wipes what .grad held: plain autograd accumulates
        "checkpointing.py": [(BOUNDS, "    for layer in layers:\n        layer.zero_grad()\n" + BOUNDS)]},
        {"checkpointed_forward_backward": ("grads-accumulate", "already held values")}),
}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_planted_bugs_lose_points_in_their_own_exercise_on_every_seed(tmp_path, name):
    edits, expected = BUGS[name]
    scores = grade_in_process(_labs(tmp_path, edits), "ad-challenges", exercises=set(expected))
    for seed in SEEDS:
        for ex, (case, words) in expected.items():
            entry = scores[(seed, ex)]
            assert entry["fraction"] < 1, (seed, ex)
            assert case in entry["failed"] and words in entry["failed"][case], (seed, ex, entry["failed"])


def test_finite_difference_struct_gradients_miss_the_tolerance(tmp_path):
    labs = _labs(tmp_path, {"structs.py": [(STRUCT_BODY, (
        "    flat = []\n    _map(tree, flat.append)\n\n    def nudged(i, h):\n        it = iter(range(len(flat)))\n"
        "        return _map(tree, lambda v: torch.tensor(v + (h if next(it) == i else 0.0), dtype=torch.float64))\n\n"
        "    grads = iter([float(fn(nudged(i, 1e-5)) - fn(nudged(i, -1e-5))) / 2e-5 for i in range(len(flat))])\n"
        "    return _map(tree, lambda v: next(grads))\n"))]})
    scores = grade_in_process(labs, "ad-challenges", exercises={"grad_of_struct"}, seeds=(0,))
    assert any("off by" in m for m in scores[(0, "grad_of_struct")]["failed"].values())


def test_lab03_needs_the_students_lab02(tmp_path):
    """Without lab 02 in the same labs dir the loop exercises error out, naming the missing file."""
    scores = grade_in_process(workspace(tmp_path, FOLDER), "ad-challenges", {"logistic_loop", "fused_cube"}, (0,))
    assert "02_autodiff/reverse_mode.py" in scores[(0, "logistic_loop")]["failed"]["n=1"]
    assert scores[(0, "fused_cube")]["fraction"] == 1


@pytest.mark.parametrize("body, failing, words", [
    ("return x ** 3, 3 * x ** 2", "op-count", "** was used"),
    ("return x * x * x, 3 * x * x", "op-count", "4 multiplications"),
    ("t = x * x\n    return t * x, 2 * t", "all", "x²"),
])
def test_fused_cube_splits_values_from_op_count(tmp_path, body, failing, words):
    """A power or unshared code loses only the op-count cases (half the points); a wrong derivative all."""
    scores = grade_in_process(workspace(tmp_path, FOLDER, {"fused.py": [(FUSED, "    " + body)]}),
                              "ad-challenges", {"fused_cube"}, (0,))[(0, "fused_cube")]
    cases = {c.id for c in SUITE_PLAN() if c.exercise == "fused_cube"}
    assert set(scores["failed"]) == ({c for c in cases if c.startswith(failing)} if failing != "all"
                                     else cases - {"values-x=0"})   # at x = 0, 2x² = 3x²
    assert scores["fraction"] == 0.5 if failing != "all" else scores["fraction"] < 0.1
    assert any(words in m for m in scores["failed"].values())


def SUITE_PLAN():
    from aisys.autodiff.challenges.checks import SUITE

    return SUITE.plan(0)


def _widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def test_demo_exits_zero_with_the_solution_and_fits_100_columns():
    proc = run_cli("lab", "run", "ad-challenges", "--solution", env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and _widest(proc.stdout) <= 100
    assert "0.99434496" in proc.stdout and "√n plan" in proc.stdout
    assert "fn(tree) =" in proc.stdout and "✗" not in proc.stdout


def test_demo_runs_on_the_stubs():
    """In-process (what `aisys lab run ad-challenges` calls): every section says where to edit."""
    import io

    from rich.console import Console

    from aisys.catalog import find_lab
    from aisys.labrun import DemoOptions, run_demo
    from aisys.workspace import Student

    lab, out = find_lab("ad-challenges"), io.StringIO()
    run_demo(lab, Student(lab, STUBS), Console(file=out, width=100), DemoOptions())
    assert "not implemented yet" in out.getvalue() and _widest(out.getvalue()) <= 100


# ------------------------------------------------------------------ bench


def _run(plan, n=36):
    import torch

    meter = ActivationMeter()
    layers = make_chain(n, 8, seed=3, meter=meter)
    x = torch.linspace(-1, 1, 8, dtype=torch.float64)
    with meter:
        if plan is None:
            store_nothing_backward(layers, x)
        else:
            h = x.requires_grad_()
            for layer in layers:
                h = layer(h)
            h.sum().backward()
    return meter


def test_meter_measures_store_all_and_store_nothing():
    everything = _run("all")
    assert everything.peak_alive == 36 and everything.forward_ops == 36 and everything.peak_saved == 37
    assert everything.layer_calls == {i: 1 for i in range(36)}
    nothing = _run(None)
    assert nothing.peak_alive <= 2 and nothing.forward_ops - 36 == 36 * 35 // 2
    assert nothing.layer_calls[0] == 36 and nothing.layer_calls[35] == 1
    assert everything.alive == 0 and nothing.alive == 0        # every activation freed at the end


def test_plan_bounds():
    assert plan_bound([0], 64) == 65 and plan_bound(list(range(0, 64, 8)), 64) == 16
    assert sqrt_bound(64) == 16 and sqrt_bound(100) == 20


def test_counted_counts_and_cannot_escape():
    c = Counter()
    x = Counted(2.0, c)
    y = 3 * (x * x) - x ** 2 + 1
    assert y.value == 9.0 and c == Counter({"mul": 2, "pow": 1, "sub": 1, "add": 1})
    with pytest.raises(TypeError):
        float(x)


def test_pytrees_roundtrip_truth_and_shared_positions():
    rng = np.random.default_rng(5)
    for _ in range(20):
        spec = random_spec(rng)
        if len(paths(spec, "float")) < 2:
            continue
        fn_spec = random_fn_spec(rng, spec)
        want = tag(torch_struct_grad(spec, fn_spec))
        assert compare_tagged(want, want).passed
        assert tag(build(spec)) == tag(build(spec))
    bad = {"dict": {"n": 1.0}}
    assert "an int" in compare_tagged(bad, {"dict": {"n": {"int": 1}}}).message
    from aisys.autodiff.challenges.struct_checks import corner_trees

    shared = corner_trees(np.random.default_rng(0))["same-list-twice"]
    tree = build(shared)
    assert tree["first"] is tree["second"] and len(paths(shared, "float")) == 5
