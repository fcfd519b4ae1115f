"""Lab 02 checks. Ground truth: torch differentiating the same programs (float64).

Traces (here) against torch.autograd.grad on the intermediates of f; forward mode
(`forward_checks`) against torch's forward-mode AD; reverse mode (`reverse_checks`,
`grad_checks`) against torch.autograd.grad; Jacobians and accumulation (`jacobian_checks`)
against torch.autograd.functional.jacobian and torch's own `.grad`; the dual graph
(`dual_checks`) against torch.autograd.grad on every node.
"""
from __future__ import annotations

import numpy as np

from aisys.autodiff.modes.dual_checks import RunBackwardGraph
from aisys.autodiff.modes.forward_checks import DualCheck, JvpCheck
from aisys.autodiff.modes.grad_checks import GradCheck
from aisys.autodiff.modes.jacobian_checks import Accumulation, JacobianForward, JacobianReverse
from aisys.autodiff.modes.reverse_checks import VariableCheck
from aisys.autodiff.modes.tape_checks import TapeCheck
from aisys.autodiff.programs import F_STEPS, evaluate
from aisys.autodiff.truth import TOL, close_all
from aisys.graph.plain import plain_scalars
from aisys.grading.shapes import NUMBER, expect, mapping, require
from aisys.grading.spec import Case, ExerciseCheck, LabSuite

EXACT = {"rtol": 1e-12, "atol": 1e-12}   # the chain rule in float64 is exact to a few ulps; finite differences are not
TRACE_KEYS = ("v-1", "v0", "v1", "v2", "v3", "v4", "v5")


def _trace_cases(rng) -> list[Case]:
    def point():
        return [float(np.round(rng.uniform(0.3, 4.0), 3)), float(np.round(rng.uniform(-4, 4), 3))]

    return [Case("f(2,5)", {"x": [2.0, 5.0]}, 2),
            Case("zeros", {"x": [1.0, 0.0]}),              # ln 1 = 0, x2 = 0: v0, v1, v2, v3 all 0
            Case("negative-x2", {"x": [0.5, -3.0]}),
            # the other trace function ran first, at another point: nothing may carry over
            Case("after-another-point", {"x": point(), "before": point()}),
            Case("random-1", {"x": point()}), Case("random-2", {"x": point()})]


def _torch_trace(x1: float, x2: float) -> tuple[dict, dict]:
    import torch

    v = {"v-1": torch.tensor(x1, dtype=torch.float64, requires_grad=True),
         "v0": torch.tensor(x2, dtype=torch.float64, requires_grad=True)}
    for name, op, args in F_STEPS:   # the same steps, Baydin's names
        key = {"x1": "v-1", "x2": "v0"}
        v[name] = evaluate([(name, op, [key.get(a, a) for a in args])], v)[name]
    adjoints = torch.autograd.grad(v["v5"], [v[k] for k in TRACE_KEYS[:-1]])
    values = {k: v[k].item() for k in TRACE_KEYS}
    bars = {k: g.item() for k, g in zip(TRACE_KEYS, adjoints)} | {"v5": 1.0}
    return values, bars


class _TraceCheck(ExerciseCheck):
    other = ""           # the other trace function, run first in `after-another-point`
    which = 0            # 0: the evaluation trace, 1: the adjoint trace
    what = ""
    tol = TOL

    def cases(self, rng):
        return _trace_cases(rng)

    def run(self, case, student):
        if "before" in case.inputs:
            try:
                student.get(self.other)(*case.inputs["before"])
            except Exception:   # not written yet, or broken: that is the other exercise's business
                pass
        out = student.get(self.exercise)(*case.inputs["x"])
        return dict(require(out, dict, self.exercise, "a dict with the keys 'v-1', 'v0', ..., 'v5'"))

    def judge(self, case, output):
        verdict = expect(output, mapping(NUMBER, keys=TRACE_KEYS), f"{self.exercise}'s result")
        if not verdict.passed:
            return verdict
        truth = _torch_trace(*case.inputs["x"])[self.which]
        return close_all(output, truth, what=lambda k: f"{self.what} {k}", **self.tol)


class EvaluationTrace(_TraceCheck):
    exercise, other, which, what = "evaluation_trace", "adjoint_trace", 0, "the value of"
    hint = "seven keys 'v-1' ... 'v5'; v1 = ln v-1, v2 = v-1·v0, v3 = sin v0, v4 = v1 + v2, v5 = v4 − v3"


class AdjointTrace(_TraceCheck):
    exercise, other, which, what, tol = "adjoint_trace", "evaluation_trace", 1, "the adjoint of", EXACT
    hint = ("v0 and v-1 are each read by two lines: add both contributions (the chain rule sums over paths); "
            "exact local derivatives, not finite differences (the tolerance is 1e-12); recompute the trace "
            "at this call's point")


SUITE = LabSuite("autodiff", [plain_scalars(check) for check in (
    EvaluationTrace(), AdjointTrace(), DualCheck(), JvpCheck(), VariableCheck(), TapeCheck(), GradCheck(),
    JacobianForward(), JacobianReverse(), Accumulation(), RunBackwardGraph())])
