"""Lab 02 autodiff: the reference scores 100, stubs 0, plausible bugs lose points; bench unit tests."""
from __future__ import annotations

import math
import types

import numpy as np
import pytest

from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace

from aisys.autodiff.counting import counting_calls
from aisys.autodiff.programs import F_STEPS, evaluate, random_program, tape_lines
from aisys.autodiff.truth import close_list, torch_grad

FOLDER = "02_autodiff"


@pytest.fixture(scope="module")
def solutions_report():
    return check_json("autodiff", "--solutions")


@pytest.fixture(scope="module")
def stubs_report():
    return check_json("autodiff", "--labs-dir", str(STUBS))


def _failed_cases(report: dict, name: str) -> dict[str, str]:
    return {c["id"]: c.get("message", "") for c in exercise(report, name)["cases"] if c["status"] != "passed"}


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stderr
    assert report["score"] == report["max_score"] == 100


def test_stubs_score_zero_without_traceback(stubs_report):
    report, proc = stubs_report
    assert proc.returncode == 1
    assert report["score"] == 0
    assert all(ex["status"] == "not_implemented" for lab in report["labs"] for ex in lab["exercises"])
    assert "Traceback" not in proc.stderr


def test_no_accumulation_on_fan_out_loses_points(tmp_path):
    """Overwritten adjoints (grad, adjoint_trace), a sin rule built on numpy values (Variable), and a
    jvp that does not lift a plain-number output."""
    labs = workspace(tmp_path, FOLDER, {
        "reverse_mode.py": [("adjoint[id(x)] = adjoint[id(x)] + gx if id(x) in adjoint else gx",
                             "adjoint[id(x)] = gx"),
                            ("(g * self.cos(),)", "(g * np.cos(self.value),)")],
        "forward_mode.py": [("        outs = [Dual._lift(r) for r in result]", "        outs = list(result)")],
        "traces.py": [('bar["v0"] += bar["v2"] * v["v-1"]', 'bar["v0"] = bar["v2"] * v["v-1"]')]})
    report, proc = check_json("autodiff", "--labs-dir", str(labs))
    assert proc.returncode == 1
    failed = _failed_cases(report, "grad")
    assert {"fan-out-leaf", "nonleaf-reuse"} <= set(failed)
    assert "∂y/∂x1" in failed["fan-out-leaf"] and "off by" in failed["fan-out-leaf"]
    assert "f(2,5)" in _failed_cases(report, "adjoint_trace")
    rules = _failed_cases(report, "Variable")       # first-order rules right, the second derivative not
    assert set(rules) == {"rules-second-order"} and "second derivative of sin(a)" in rules["rules-second-order"]
    assert exercise(report, "Dual")["status"] == "passed"
    assert set(_failed_cases(report, "jvp")) == {"two-outputs-and-a-constant"}


def test_untaped_rule_broadcast_and_pass_count_bugs_lose_points(tmp_path):
    """Untaped mul rule, no unbroadcast, scalar zeros for an unused array, J by the wrong mode,
    the ln(base) term of a ** b always on (nan for a negative base), accumulation by hand-written formulas,
    input adjoints by central finite differences."""
    labs = workspace(tmp_path, FOLDER, {
        "reverse_mode.py": [
            ("lambda g, out: (_unbroadcast(g * b, a), _unbroadcast(g * a, b))",
             "lambda g, out: (_unbroadcast(g * b.value, a), _unbroadcast(g * a.value, b))"),
            ("return grad if np.shape(grad.value) == shape else grad.sum_to(shape)", "return grad"),
            ("Variable(z, constant=True, tape=tape)) for x, z", "Variable(0.0, constant=True, tape=tape)) for x, z")],
        "forward_mode.py": [("if np.any(o.tangent != 0):", "if True:")],
        "traces.py": [("    v = evaluation_trace(x1, x2)\n    bar = {",
                       "    f, h = (lambda a, b: evaluation_trace(a, b)['v5']), 1e-5\n"
                       "    return {'v5': 1.0, 'v4': 1.0, 'v3': -1.0, 'v2': 1.0, 'v1': 1.0,\n"
                       "            'v0': (f(x1, x2 + h) - f(x1, x2 - h)) / (2 * h), "
                       "'v-1': (f(x1 + h, x2) - f(x1 - h, x2)) / (2 * h)}\n    bar = {")],
        "accumulation.py": [("    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)",
                             "    return {'loss': (1 - x) ** 2, 'grad_first': 2 * (x - 1), 'grad_second': 4 * (x - 1),"
                             " 'grad_after_zero': 2 * (x - 1)}")],
        "jacobians.py": [("    xs = [reverse_mode.Variable(float(v)) for v in x]",
                          "    return jacobian_forward(f, x)\n    xs = [reverse_mode.Variable(float(v)) for v in x]")]})
    report, _ = check_json("autodiff", "--labs-dir", str(labs))
    failed = _failed_cases(report, "grad")
    assert "second-order-f" in failed and "f" not in failed       # first order still right
    assert "broadcast" in failed and "shape" in failed["broadcast"]
    assert "∂y/∂x2 has shape ()" in failed["unused-array-input"]
    assert "second derivative of a * b" in _failed_cases(report, "Variable")["rules-second-order"]
    dual = _failed_cases(report, "Dual")
    assert "rules-negative-base" in dual and "tangent of a ** 3" in dual["rules-negative-base"]
    assert "backward ran 0 times" in _failed_cases(report, "accumulation_demo")["x=3"]
    assert "f(2,5)" in _failed_cases(report, "adjoint_trace")                   # off by ~1e-11: not exact
    wide = _failed_cases(report, "jacobian_reverse")["wide-6x1"]
    assert "calls of grad" in wide and "J is right" in wide
    assert exercise(report, "jacobian_forward")["status"] == "passed"


def test_demo_exits_zero_with_the_solution():
    proc = run_cli("lab", "run", "autodiff", "--solution")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "11.65207146" in proc.stdout and "v2 = v-1 * v0" in proc.stdout


def test_demo_runs_on_the_stubs():
    """In-process (what `aisys lab run autodiff` calls): every section says where to edit."""
    import io

    from rich.console import Console

    from aisys.catalog import find_lab
    from aisys.labrun import DemoOptions, run_demo
    from aisys.workspace import Student

    lab, out = find_lab("autodiff"), io.StringIO()
    run_demo(lab, Student(lab, STUBS), Console(file=out, width=100), DemoOptions())
    assert "not implemented yet" in out.getvalue()


# ------------------------------------------------------------------ bench


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


def test_counting_calls_counts_and_restores():
    mod = types.SimpleNamespace(fn=lambda x: x + 1)
    alias = types.SimpleNamespace(fn=mod.fn)
    original = mod.fn
    with counting_calls(mod, "fn", alias) as calls:
        mod.fn(1), alias.fn(2)
    assert calls["calls"] == 2 and mod.fn is original and alias.fn is original


def test_close_list_names_the_result_and_hides_the_expected_value():
    assert close_list([np.float64(1.0), [2.0, 3.0]], [1.0, [2.0, 3.0]], ["a", "b"]).passed
    verdict = close_list([1.0, 2.5], [1.0, 1.75], ["∂y/∂x1", "∂y/∂x2"])
    assert not verdict.passed and "∂y/∂x2" in verdict.message and "1.75" not in verdict.message
    assert "should hold 2 values, not a float" in close_list(1.0, [1.0, 2.0], ["a", "b"]).message


def test_right_values_by_too_many_runs_of_f_lose_points(tmp_path):
    """In-process: jacobian_reverse re-running f for every row instead of sweeping one shared tape,
    and a jvp by central finite differences (three runs of f, values within 1e-7)."""
    from aisys.autodiff.modes.checks import SUITE
    from aisys.catalog import find_lab
    from aisys.grading.execute import execute_case
    from aisys.grading.plain import from_plain
    from aisys.workspace import Student

    labs = workspace(tmp_path, FOLDER, {"jacobians.py": [
        ("    ys = f(*xs)\n    rows = [[float(g.value) for g in reverse_mode.grad(y, xs)] for y in ys]",
         "    rows = [[float(g.value) for g in reverse_mode.grad(f(*xs)[i], xs)] for i in range(len(f(*xs)))]\n"
         "    ys = rows")],
        "forward_mode.py": [("    result = f(*(Dual(p, t) for p, t in zip(primals, tangents)))\n",
                             "    at = lambda s: f(*(np.asarray(p) + s * np.asarray(t)\n"
                             "                       for p, t in zip(primals, tangents)))\n"
                             "    if True:\n        return at(0.0), (at(1e-6) - at(-1e-6)) / 2e-6\n"
                             "    result = f(*(Dual(p, t) for p, t in zip(primals, tangents)))\n")]})
    student = Student(find_lab("autodiff"), labs)
    for key, words in (("jacobian_reverse/tall-1x5", "f ran 6 times for m=5 outputs"),
                       ("jvp/one-output", "jvp ran f 3 times")):
        case = next(c for c in SUITE.plan(0) if c.key == key)
        record = execute_case(SUITE.checks[case.exercise], case, student)
        verdict = SUITE.judge(case, from_plain(record["output"]))   # arrays travel as plain data
        assert not verdict.passed and words in verdict.message, (key, verdict.message)


def test_tape_nesting_bug_names_the_broken_property(tmp_path):
    """In-process: a with-block that never pops its tape fails `nesting` with a sentence, not a dict path."""
    from aisys.autodiff.modes.checks import SUITE
    from aisys.catalog import find_lab
    from aisys.grading.execute import execute_case
    from aisys.workspace import Student

    labs = workspace(tmp_path, FOLDER, {"reverse_mode.py": [("        Tape._stack.remove(self)", "        pass")]})
    case = next(c for c in SUITE.plan(0) if c.key == "Tape/nesting")
    record = execute_case(SUITE.checks["Tape"], case, Student(find_lab("autodiff"), labs))
    verdict = SUITE.judge(case, record["output"])
    assert not verdict.passed and "Tape.current() should be the outer tape again" in verdict.message
