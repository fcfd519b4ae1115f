"""Lab 01 checks, autograd Functions: values, gradients and Jacobians against torch's ops (float64).

Beyond one call on one tensor, every seed also meets the corners: ReLU exactly at 0,
sigmoid at ±800 (where exp overflows), an empty tensor, a 0-d scalar, a Function applied
twice in a row, two interleaved calls (state kept on the class instead of on `ctx` mixes
them up), an upstream gradient shared with another branch (`f(x) + x`: modifying
grad_output in place corrupts the other branch), inputs that must come back unchanged, and
an output the caller edits in place (returning x itself, a view of it, ties x to that edit).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from aisys.grading.compare import close
from aisys.grading.shapes import array, dict_of, expect, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail

TOL = {"rtol": 1e-10, "atol": 1e-12}   # float64 formulas agree to ~1e-14; a float32 step is ~1e-8 off
NAMES = {"y": "the output y", "grad": "x.grad after backward", "jacobian": "the Jacobian through your backward",
         "y_a": "the output of the first call", "y_b": "the output of the second call",
         "grad_a": "the first input's gradient", "grad_b": "the second input's gradient"}
SIDE_EFFECTS = {"x_after": "forward changed its input x in place; return a new tensor (clamp, not clamp_)",
                "g_after": "backward changed grad_output in place; return a new tensor (grad_output * mask)",
                "x_after_edit": "editing forward's output in place changed its input x: forward returned x itself "
                                "(or a view of it); return a new tensor"}


def _probed(cls: Any, name: str) -> Any:
    """`cls` with its backward's return value checked, so a forgotten return reads
    "MyReLU.backward returned None; ..." rather than torch's engine error."""
    import torch

    def is_gradient(value: Any) -> bool:
        if isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        return isinstance(value, torch.Tensor)

    class Probe(cls):
        @staticmethod
        def backward(ctx, *grads):
            return require(cls.backward(ctx, *grads), is_gradient, f"{name}.backward",
                           "a tensor shaped like grad_output")
    return Probe


class _FunctionCheck(ExerciseCheck):
    torch_op = ""

    def cases(self, rng):
        def draw(shape):
            return rng.normal(size=shape).round(3).tolist()

        cases = [Case(f"random-{i}", {"kind": "single", "x": draw(shape), "g": draw(shape)})
                 for i, shape in enumerate(([5], [3, 4], [2, 3, 2]))]
        def both_signs(n):   # every seed holds positive and negative entries, never 0
            return (np.abs(rng.normal(size=n)) + 0.1) * np.resize([1, -1], n)

        a = both_signs(6)
        cases += [Case("applied-twice", {"kind": "single", "x": draw([6]), "g": draw([6]), "twice": True}),
                  # b = -2a - 1: ReLU masks and sigmoid slopes differ from a's everywhere it matters
                  Case("two-interleaved-calls", {"kind": "pair", "x": a.round(3).tolist(),
                                                 "b": (-2 * a - 1).round(3).tolist(), "g": draw([6]),
                                                 "gb": draw([6])}, 2),
                  Case("grad-shared-with-a-branch", {"kind": "shared", "x": both_signs(5).round(3).tolist(),
                                                     "g": draw([5])}, 2),
                  # an empty tensor beside a real one: only code that is right on both passes
                  Case("empty", {"kind": "pair", "x": [], "b": both_signs(3).round(3).tolist(), "g": [],
                                 "gb": draw([3])}),
                  Case("scalar", {"kind": "single", "x": float(np.round(rng.normal(), 3)), "g": 1.5}),
                  # all positive, so the output equals x: still a tensor of its own, which the caller may edit
                  Case("output-edited-by-caller", {"kind": "edit", "x": np.abs(both_signs(4)).round(3).tolist()})]
        if self.exercise == "MyReLU":
            cases.append(Case("at-zero", {"kind": "single", "x": [-1.0, 0.0, 0.0, 2.0], "g": [1.0, 2.0, 3.0, 4.0]}))
        else:
            cases.append(Case("extremes", {"kind": "single", "x": [-800.0, -40.0, -1e-3, 0.0, 40.0, 800.0],
                                           "g": [1.0] * 6}))
        return cases

    def _outputs(self, case, fn, tensor) -> dict:
        """What a case computes with the function `fn` (yours or torch's) — the same code for both."""
        import torch

        i = case.inputs
        if i["kind"] == "edit":   # no autograd: the caller owns the output and doubles it in place
            x = tensor(i["x"], False)
            y = fn(x)
            with torch.no_grad():
                y.mul_(2.0)
            return {"y": y, "x_after_edit": x}
        x, g = tensor(i["x"], True), tensor(i["g"], False)
        if i["kind"] == "pair":
            b, gb = tensor(i["b"], True), tensor(i["gb"], False)
            ya, yb = fn(x), fn(b)
            ((ya * g).sum() + (yb * gb).sum()).backward()
            return {"y_a": ya.detach(), "y_b": yb.detach(), "grad_a": x.grad, "grad_b": b.grad}
        if i["kind"] == "shared":
            y = fn(x)
            (y + x).backward(g)
            return {"y": y.detach(), "grad": x.grad}
        twice = i.get("twice")
        y = fn(fn(x)) if twice else fn(x)
        y.backward(g)
        out = {"y": y.detach(), "grad": x.grad}
        if x.numel():
            flat = x.detach().reshape(-1).clone()
            out["jacobian"] = torch.autograd.functional.jacobian(lambda v: fn(fn(v)) if twice else fn(v), flat)
        return out

    def run(self, case, student):
        import torch

        probe = _probed(student.get(self.exercise), self.exercise)

        def apply(x):
            y = probe.apply(x)
            return require(y, lambda v: isinstance(v, torch.Tensor) and v.shape == x.shape,
                           f"{self.exercise}.apply", "a tensor shaped like its input")

        made: dict[str, Any] = {}

        def tensor(values, requires_grad):
            t = torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)
            made.setdefault("x" if requires_grad else "g", (t, t.detach().clone()))
            return t

        out = self._outputs(case, apply, tensor)
        for key, label in (("grad", "x.grad"), ("grad_a", "the first input's .grad"),
                           ("grad_b", "the second input's .grad")):
            if key in out:
                require(out[key], torch.Tensor, f"{self.exercise}.backward ({label} after backward)",
                        "a tensor shaped like grad_output")
        if case.inputs["kind"] == "single":
            out["x_after"], out["g_after"] = made["x"][0].detach(), made["g"][0]
        return out

    def judge(self, case, output):
        import torch

        op = getattr(torch, self.torch_op)
        want = self._outputs(case, op, lambda v, r: torch.tensor(v, dtype=torch.float64, requires_grad=r))
        if case.inputs["kind"] == "single":
            want["x_after"] = torch.tensor(case.inputs["x"], dtype=torch.float64)
            want["g_after"] = torch.tensor(case.inputs["g"], dtype=torch.float64)
        want = {k: np.asarray(v.detach().numpy()) for k, v in want.items()}
        verdict = expect(output, dict_of({k: array(v.shape) for k, v in want.items()}), f"{self.exercise}'s results")
        if not verdict.passed:
            return verdict
        return _compare(output, want)


def _compare(output: dict, want: dict) -> Verdict:
    for key, expected in want.items():
        if key in SIDE_EFFECTS:
            if not np.array_equal(np.asarray(output[key], dtype=float), expected, equal_nan=True):
                return fail(SIDE_EFFECTS[key])
            continue
        verdict = close(output[key], expected, what=NAMES[key], **TOL)
        if not verdict.passed:
            return verdict
    return PASS


class MyReLUCheck(_FunctionCheck):
    exercise = "MyReLU"
    torch_op = "relu"
    hint = ("backward returns grad_output times the mask x > 0 (strictly: the gradient at 0 is 0); keep the mask "
            "on ctx, never on the class, and build a new tensor rather than editing grad_output")


class MySigmoidCheck(_FunctionCheck):
    exercise = "MySigmoid"
    torch_op = "sigmoid"
    hint = ("the derivative is s * (1 - s) with s the forward *output* (saved on ctx); exp(-x) alone overflows "
            "at x = -800, s never does")
