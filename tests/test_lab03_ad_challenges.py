"""Lab 03 ad-challenges: the reference scores 100, stubs 0, plausible bugs lose points; bench unit tests."""
from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest

from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace

from aisys.autodiff.memory import ActivationMeter, make_chain, plan_bound, sqrt_bound, store_nothing_backward
from aisys.autodiff.opcount import Counted
from aisys.autodiff.pytrees import build, compare_tagged, paths, random_fn_spec, random_spec, tag, torch_struct_grad

FOLDER = "03_ad_challenges"


@pytest.fixture(scope="module")
def solutions_report():
    return check_json("ad-challenges", "--solutions")


def _failed(report: dict, name: str) -> dict[str, str]:
    return {c["id"]: c.get("message", "") for c in exercise(report, name)["cases"] if c["status"] != "passed"}


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stderr
    assert report["score"] == report["max_score"] == 100


def test_stubs_score_zero_without_traceback():
    report, proc = check_json("ad-challenges", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert all(ex["status"] == "not_implemented" for lab in report["labs"] for ex in lab["exercises"])
    assert "Traceback" not in proc.stderr


def test_plausible_bugs_lose_points(tmp_path):
    """Store-everything plan, a floor-divided plan cost, no checkpointing at all, bools/ints differentiated,
    x*x*x, the article's erratum."""
    labs = workspace(tmp_path, FOLDER, {
        "checkpointing.py": [
            ("        return even(math.ceil(math.sqrt(n_layers)))", "        return list(range(n_layers))"),
            ("        return k + math.ceil(n_layers / k)", "        return k + n_layers // k"),
            ("    bounds = list(plan) + [len(layers)]",
             "    x = x.detach().requires_grad_()\n    h = x\n    for layer in layers:\n        h = layer(h)\n"
             "    h.sum().backward()\n    return h.detach(), x.grad\n    bounds = list(plan) + [len(layers)]")],
        "structs.py": [("    if isinstance(node, float):", "    if isinstance(node, (int, float)) and not isinstance(node, str):")],
        "fused.py": [("    t = x * x\n    return t * x, 3 * t", "    return x * x * x, 3 * x * x")],
        "control_flow.py": [("        l = 4.0 * l * (1.0 - l)", "        l = 4.0 * l * (1.0 - v)")]})
    shutil.copytree(REPO / "solutions" / "02_autodiff", labs / "02_autodiff")   # lab 03 builds on lab 02
    report, proc = check_json("ad-challenges", "--labs-dir", str(labs))
    assert proc.returncode == 1
    plan = _failed(report, "checkpoint_plan")
    assert "sqrt-64" in plan and "65 activations" in plan["sqrt-64"]
    assert "over the budget of 13" in plan["budget-31-in-13"]      # k + ⌊n/k⌋ underestimates the cost
    run = _failed(report, "checkpointed_forward_backward")
    assert "sqrt-64" in run and "alive at the peak" in run["sqrt-64"]
    assert "store-all-12" not in run                     # storing everything is right for the plan [0]
    assert "tree['n'] should come back as an int" in _failed(report, "grad_of_struct")["flat-dict"]
    fused = _failed(report, "fused_cube")            # right values, unfused: only the op-count cases fail
    assert set(fused) == {c["id"] for c in exercise(report, "fused_cube")["cases"] if c["id"].startswith("op-count")}
    assert "4 multiplications" in fused["op-count-x=1.5"] and exercise(report, "fused_cube")["score"] == 7.5
    loop = _failed(report, "logistic_loop")
    assert "x=0.3,n=4" in loop and "n=1" not in loop and loop["x=0.3,n=4"].startswith("l_n (the first result)")
    assert exercise(report, "logistic_closed")["status"] == "passed"


def test_lab03_needs_the_students_lab02(tmp_path):
    """Without lab 02 in the same labs dir the loop exercises error out, naming the missing file
    (run in-process: the same `execute_case` the sandboxed child uses)."""
    from aisys.autodiff.challenges.checks import SUITE
    from aisys.catalog import find_lab
    from aisys.grading.execute import execute_case
    from aisys.workspace import Student

    student = Student(find_lab("ad-challenges"), workspace(tmp_path, FOLDER))
    cases = {c.exercise: c for c in SUITE.plan(0)}
    loop = execute_case(SUITE.checks["logistic_loop"], cases["logistic_loop"], student)
    assert loop["status"] == "error" and "02_autodiff/reverse_mode.py" in loop["message"]
    fused = execute_case(SUITE.checks["fused_cube"], cases["fused_cube"], student)
    assert fused["status"] == "ok" and SUITE.judge(cases["fused_cube"], fused["output"]).passed


def test_right_values_by_the_wrong_route_lose_points(tmp_path):
    """In-process: a hand-written loop derivative, a closed form that calls the loop, struct gradients
    left as tensors, a checkpointer that appends to the caller's plan, struct gradients by finite
    differences — every value right (or nearly), each caught by how it was computed, what type it is,
    or the 1e-12 tolerance."""
    from aisys.autodiff.challenges.checks import SUITE
    from aisys.catalog import find_lab
    from aisys.grading.execute import execute_case
    from aisys.grading.plain import from_plain
    from aisys.workspace import Student

    labs = workspace(tmp_path, FOLDER, {
        "control_flow.py": [
            ("    l = v\n    for _ in range(n - 1):\n        l = 4.0 * l * (1.0 - l)\n"
             "    (dl,) = reverse_mode.grad(l, [v])\n"
             "    return float(l.value), float(dl.value)",
             "    l, dl = float(x), 1.0\n    for _ in range(n - 1):\n"
             "        l, dl = 4.0 * l * (1.0 - l), 4.0 * (1.0 - 2.0 * l) * dl\n    return l, dl"),
            ("    v = reverse_mode.Variable(float(x))\n    l4 = 64.0",
             "    return logistic_loop(x, 4)\n    v = reverse_mode.Variable(float(x))\n    l4 = 64.0")],
        "structs.py": [("float(g) if (g := next(grads)) is not None else 0.0",
                        "g if (g := next(grads)) is not None else 0.0")],
        "checkpointing.py": [("    bounds = list(plan) + [len(layers)]",
                              "    bounds = plan\n    bounds.append(len(layers))")]})
    fd_labs = workspace(tmp_path / "fd", FOLDER, {"structs.py": [   # central finite differences: ~1e-10 off
        ("    leaves: list[torch.Tensor] = []\n",
         "    flat = []\n    _map(tree, flat.append)\n\n    def nudged(i, h):\n        it = iter(range(len(flat)))\n"
         "        return _map(tree, lambda v: torch.tensor(v + (h if next(it) == i else 0.0), dtype=torch.float64))\n\n"
         "    grads = iter([float(fn(nudged(i, 1e-5)) - fn(nudged(i, -1e-5))) / 2e-5 for i in range(len(flat))])\n"
         "    return _map(tree, lambda v: next(grads))\n")]})
    shutil.copytree(REPO / "solutions" / "02_autodiff", labs / "02_autodiff")
    student, cases = Student(find_lab("ad-challenges"), labs), {}
    for case in SUITE.plan(0):
        cases.setdefault(case.exercise, case)
    expected = {"logistic_loop": "reverse_mode.grad was called 0 times",
                "logistic_closed": "logistic_closed called logistic_loop",
                "grad_of_struct": "should be a float, not a Tensor",
                "checkpointed_forward_backward": "the plan list passed in was modified"}
    runs = [(name, words, student) for name, words in expected.items()]
    runs.append(("grad_of_struct", "off by", Student(find_lab("ad-challenges"), fd_labs)))
    for name, words, who in runs:
        record = execute_case(SUITE.checks[name], cases[name], who)
        verdict = SUITE.judge(cases[name], from_plain(record["output"]))
        assert not verdict.passed and words in verdict.message, (name, verdict.message)


@pytest.mark.parametrize("body, failing, words", [
    ("return x ** 3, 3 * x ** 2", "op-count", "** was used"),
    ("t = x * x\n    return t * x, 2 * t", "all", "x²"),
])
def test_fused_cube_splits_values_from_op_count(tmp_path, body, failing, words):
    """In-process: a power loses only the op-count cases; a wrong derivative loses every case."""
    from aisys.autodiff.challenges.checks import SUITE
    from aisys.catalog import find_lab
    from aisys.grading.execute import execute_case
    from aisys.workspace import Student

    labs = workspace(tmp_path, FOLDER, {"fused.py": [("t = x * x\n    return t * x, 3 * t", body)]})
    student = Student(find_lab("ad-challenges"), labs)
    verdicts = {}
    for case in (c for c in SUITE.plan(0) if c.exercise == "fused_cube"):
        record = execute_case(SUITE.checks["fused_cube"], case, student)
        verdicts[case.id] = SUITE.judge(case, record["output"])
    failed = {cid for cid, v in verdicts.items() if not v.passed}
    assert failed == (set(verdicts) if failing == "all" else {c for c in verdicts if c.startswith(failing)})
    assert any(words in verdicts[c].message for c in failed)


def test_demo_exits_zero_with_the_solution():
    proc = run_cli("lab", "run", "ad-challenges", "--solution")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "0.99434496" in proc.stdout and "√n plan" in proc.stdout


def test_demo_runs_on_the_stubs():
    """In-process (what `aisys lab run ad-challenges` calls): every section says where to edit."""
    import io

    from rich.console import Console

    from aisys.catalog import find_lab
    from aisys.labrun import DemoOptions, run_demo
    from aisys.workspace import Student

    lab, out = find_lab("ad-challenges"), io.StringIO()
    run_demo(lab, Student(lab, STUBS), Console(file=out, width=100), DemoOptions())
    assert "not implemented yet" in out.getvalue()


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
    nothing = _run(None)
    assert nothing.peak_alive <= 2 and nothing.forward_ops - 36 == 36 * 35 // 2
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


def test_pytrees_roundtrip_and_truth():
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
