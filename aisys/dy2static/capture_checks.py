"""Checks of `to_ssa` (single assignment, same results) and `capture_report` (torch itself)."""
from __future__ import annotations

import ast
import warnings
from collections import Counter
from typing import Any

from aisys.dy2static import programs as P
from aisys.quiet import quiet_torch
from aisys.dy2static.ssa_programs import ARTICLE, random_program, run_source
from aisys.grading.compare import equal
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail


class SSACheck(ExerciseCheck):
    exercise = "to_ssa"
    hint = "a dict name → current version; copy it per branch; after an if, φ = then_v if cond else else_v"

    def cases(self, rng):
        pairs = lambda: [[int(v) for v in rng.integers(-9, 10, size=2)] for _ in range(10)]
        return ([Case("article", {"source": ARTICLE, "inputs": pairs()}),
                 Case("straight-line", {"source": random_program(rng, 6, branches=False), "inputs": pairs()})]
                + [Case(f"branches-{i}", {"source": random_program(rng, 5 + i), "inputs": pairs()}, weight=2)
                   for i in range(3)])

    def run(self, case, student):
        source = student.get("to_ssa")(case.inputs["source"])
        return {"source": source, "outputs": run_source(source, case.inputs["inputs"])}

    def judge(self, case, output):
        source = output.get("source")
        try:
            tree = ast.parse(source)
        except (SyntaxError, TypeError, ValueError):
            return fail("to_ssa must return valid Python source")
        funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        if not funcs:
            return fail("the result has no function definition")
        if any(isinstance(n, ast.AugAssign) for n in ast.walk(funcs[0])):
            return fail("an augmented assignment (x += ...) reassigns a name: give the result a new name")
        stores = Counter(a.arg for a in funcs[0].args.args)
        stores.update(n.id for n in ast.walk(funcs[0]) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        twice = sorted(name for name, k in stores.items() if k > 1)
        if twice:
            return fail(f"{twice[0]!r} is assigned {stores[twice[0]]} times (SSA: once)")
        truth = run_source(case.inputs["source"], case.inputs["inputs"])
        got = output.get("outputs") or []
        for k, (mine, want) in enumerate(zip(got, truth)):
            if equal(mine, want).passed is False:
                return fail(f"input {k}: the SSA program returns different values than the original "
                            "(a missing or wrong φ after an if?)")
        return PASS if len(got) == len(truth) else fail("missing results")


CAPTURE_INPUTS = {"straight": [4], "relu_or_square": [4], "fixed_loop": [4], "shape_branch": [3, 2],
                  "item_scale": [4], "with_torch_cond": [4]}


class CaptureCheck(ExerciseCheck):
    exercise = "capture_report"
    hint = "try each tool inside warnings.catch_warnings(record=True); report type(err).__name__ on failure"
    case_timeout = 60.0

    def cases(self, rng):
        return [Case(name, {"fn": name, "shape": shape, "seed": int(rng.integers(0, 2**31))})
                for name, shape in CAPTURE_INPUTS.items()]

    @staticmethod
    def _inputs(case):
        import torch

        return (torch.randn(*case.inputs["shape"], generator=torch.Generator().manual_seed(case.inputs["seed"])),)

    def run(self, case, student):
        with quiet_torch():   # torch prints graphs and timestamped warnings when a tool refuses
            return student.get("capture_report")(getattr(P, case.inputs["fn"]), self._inputs(case))

    def judge(self, case, output):
        want = torch_capture(getattr(P, case.inputs["fn"]), self._inputs(case))
        if not isinstance(output, dict):
            return fail("expected a dict with keys symbolic_trace, jit_trace, export")
        return equal({k: v for k, v in output.items()}, want, what="report")


def torch_capture(fn, inputs: tuple) -> dict[str, dict[str, Any]]:
    """What the three tools do, asked of torch directly (the ground truth)."""
    import torch

    def attempt(capture, tool):
        with warnings.catch_warnings(record=True) as caught, quiet_torch():
            warnings.simplefilter("always")
            try:
                ops, error = capture(), None
            except Exception as err:  # the refusal is the fact we report
                ops, error = None, type(err).__name__
        warned = tool == "jit_trace" and any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)
        return {"ok": error is None, "error": error, "ops": ops, "warned": warned}

    class Wrapper(torch.nn.Module):
        def forward(self, *args):
            return fn(*args)
    fx = lambda: sum(n.op in ("call_function", "call_method", "call_module")
                     for n in torch.fx.symbolic_trace(fn).graph.nodes)
    jit = lambda: sum(n.kind().startswith("aten::") for n in torch.jit.trace(fn, inputs).graph.nodes())
    export = lambda: sum(n.op == "call_function" for n in torch.export.export(Wrapper(), inputs).graph.nodes)
    return {"symbolic_trace": attempt(fx, "symbolic_trace"), "jit_trace": attempt(jit, "jit_trace"),
            "export": attempt(export, "export")}
