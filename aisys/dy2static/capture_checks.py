"""Check of `capture_report`. Ground truth: torch's own capture tools, asked directly."""
from __future__ import annotations

import warnings
from typing import Any

from aisys.dy2static import programs as P
from aisys.grading.compare import equal
from aisys.grading.shapes import BOOL, INT, STR, dict_of, expect, optional, require
from aisys.grading.spec import Case, ExerciseCheck
from aisys.quiet import quiet_torch

TOOLS = ("symbolic_trace", "jit_trace", "export")
#: program → example input shape. tiny_net is an nn.Module (call_module nodes in FX);
#: method_chain uses Tensor methods (call_method nodes).
CAPTURE_INPUTS = {"straight": [4], "relu_or_square": [4], "fixed_loop": [4], "shape_branch": [3, 2],
                  "item_scale": [4], "with_torch_cond": [4], "method_chain": [3, 4], "tiny_net": [2, 4]}
REPORT = dict_of({tool: dict_of({"ok": BOOL, "error": optional(STR), "ops": optional(INT), "warned": BOOL})
                  for tool in TOOLS})


class CaptureCheck(ExerciseCheck):
    exercise = "capture_report"
    hint = ("try each tool inside warnings.catch_warnings(record=True); count call_function, call_method and "
            "call_module nodes in FX; report type(err).__name__ on failure")
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
            report = student.get("capture_report")(getattr(P, case.inputs["fn"]), self._inputs(case))
        return require(report, dict, "capture_report", "a dict with keys symbolic_trace, jit_trace, export")

    def judge(self, case, output):
        shape = expect(output, REPORT, "capture_report's result")
        if not shape.passed:   # before asking torch: the ground truth costs seconds
            return shape
        return equal(output, torch_capture(getattr(P, case.inputs["fn"]), self._inputs(case)), what="report")


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
    fx = lambda: sum(n.op in ("call_function", "call_method", "call_module")   # noqa: E731
                     for n in torch.fx.symbolic_trace(fn).graph.nodes)
    jit = lambda: sum(n.kind().startswith("aten::")   # noqa: E731
                      for n in torch.jit.trace(fn, inputs).inlined_graph.nodes())
    export = lambda: sum(n.op == "call_function"   # noqa: E731
                         for n in torch.export.export(Wrapper(), inputs).graph.nodes)
    return {"symbolic_trace": attempt(fx, "symbolic_trace"), "jit_trace": attempt(jit, "jit_trace"),
            "export": attempt(export, "export")}
