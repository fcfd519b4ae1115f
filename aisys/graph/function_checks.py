"""Lab 01 checks, autograd Functions: values, gradients and Jacobians against torch's ops."""
from __future__ import annotations

import numpy as np

from aisys.grading.compare import close
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail



class _FunctionCheck(ExerciseCheck):
    """Forward values, gradients for a random upstream gradient, and the full Jacobian
    through the student's backward — compared with torch's own op in float64."""

    torch_op = ""

    def cases(self, rng):
        cases = []
        for i, shape in enumerate(([5], [3, 4], [2, 3, 2])):
            cases.append(Case(f"random-{i}", {"x": rng.normal(size=shape).round(3).tolist(),
                                              "g": rng.normal(size=shape).tolist()}))
        cases.append(Case("composed", {"x": rng.normal(size=[6]).tolist(), "g": [1.0] * 6, "twice": True}))
        if self.exercise == "MyReLU":
            cases.append(Case("at-zero", {"x": [-1.0, 0.0, 0.0, 2.0], "g": [1.0, 1.0, 1.0, 1.0]}))
        return cases

    def _forward(self, fn, x, twice):
        return fn(fn(x)) if twice else fn(x)

    def run(self, case, student):
        import torch

        cls = student.get(self.exercise)
        x = torch.tensor(case.inputs["x"], dtype=torch.float64, requires_grad=True)
        y = self._forward(cls.apply, x, case.inputs.get("twice"))
        y.backward(torch.tensor(case.inputs["g"], dtype=torch.float64))
        flat = x.detach().reshape(-1).clone()
        jac = torch.autograd.functional.jacobian(lambda v: self._forward(cls.apply, v, case.inputs.get("twice")), flat)
        return {"y": y.detach(), "grad": x.grad, "jacobian": jac}

    def judge(self, case, output):
        import torch

        op = getattr(torch, self.torch_op)
        x = torch.tensor(case.inputs["x"], dtype=torch.float64, requires_grad=True)
        y = self._forward(op, x, case.inputs.get("twice"))
        y.backward(torch.tensor(case.inputs["g"], dtype=torch.float64))
        jac = torch.autograd.functional.jacobian(
            lambda v: self._forward(op, v, case.inputs.get("twice")), x.detach().reshape(-1))
        return _all_close(output, {"y": y.detach(), "grad": x.grad, "jacobian": jac}, rtol=1e-7, atol=1e-9)


def _all_close(output: dict, expected: dict, **tol) -> Verdict:
    if not isinstance(output, dict):
        return fail("expected a dict of results")
    for key, want in expected.items():
        verdict = close(output.get(key), np.asarray(want), what=key, **tol)
        if not verdict.passed:
            return verdict
    return PASS


class MyReLUCheck(_FunctionCheck):
    exercise = "MyReLU"
    torch_op = "relu"
    hint = "backward multiplies grad_output by the mask x > 0 (strictly: the gradient at 0 is 0)"


class MySigmoidCheck(_FunctionCheck):
    exercise = "MySigmoid"
    torch_op = "sigmoid"
    hint = "the derivative is s * (1 - s) with s the forward *output*; save it with ctx.save_for_backward"
