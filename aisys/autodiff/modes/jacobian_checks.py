"""Lab 02 checks: whole Jacobians by n JVPs or m VJPs, and torch's `.grad` accumulating.

Passes are counted where the work happens, not by patching a name: runs of the student's
`jvp` / `grad` *code* (however they are called: an alias bound at import still counts),
runs of f, and runs of torch's autograd engine for `accumulation_demo` (so
`from torch.autograd import backward` counts as well as `loss.backward()`).
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from aisys.autodiff.counting import counting_backward_runs, counting_code_runs
from aisys.autodiff.modes.common import CHANGED, open_tape
from aisys.autodiff.programs import evaluate, random_program
from aisys.autodiff.truth import TOL, close_all, tensors, torch_jacobian
from aisys.grading.compare import close
from aisys.grading.shapes import INT, NUMBER, array, dict_of, expect, mapping, require
from aisys.grading.spec import Case, ExerciseCheck, fail, first_failure


class _JacobianCheck(ExerciseCheck):
    """J against torch, and the number of passes: n JVPs forward, m VJPs (grad runs) reverse
    (and, reverse, one recorded run of f that all m sweeps share)."""

    mode_file, counted, per = "", "", ""

    def cases(self, rng):
        cases = []
        for cid, n, m in (("wide-6x1", 6, 1), ("tall-1x5", 1, 5), ("square-3x3", 3, 3), ("one-by-one", 1, 1),
                          ("random", int(rng.integers(2, 5)), int(rng.integers(2, 5)))):
            inputs = [f"x{k}" for k in range(n)]
            steps, outs = random_program(rng, int(rng.integers(6, 12)) + m, inputs=inputs, outputs=m)
            x = np.round(rng.uniform(0.5, 2.0, size=n), 3).tolist()
            cases.append(Case(cid, {"steps": [list(s) for s in steps], "outputs": outs, "inputs": inputs, "x": x}))
        return cases

    def run(self, case, student):
        i = case.inputs
        runs = {"f": 0}

        def f(*xs):
            runs["f"] += 1
            env = evaluate(i["steps"], dict(zip(i["inputs"], xs)))
            return [env[o] for o in i["outputs"]]

        x = list(i["x"])
        mode = student.module(self.mode_file)
        counted = getattr(mode, self.counted, None)
        with counting_code_runs(counted) as calls, (open_tape(mode) if self.per == "output" else nullcontext()):
            jac = student.get(self.exercise)(f, x)
        require(jac, array(), self.exercise, "an m × n array")
        out = {"J": np.asarray(jac, dtype=float), "passes": calls["calls"],
               "changed": [] if x == i["x"] else ["the list x was modified"]}
        if self.per == "output":
            out["f_runs"] = runs["f"]
        return out

    def judge(self, case, output):
        i = case.inputs
        n, m = len(i["inputs"]), len(i["outputs"])
        fields = {"J": array((m, n)), "passes": INT, "changed": CHANGED} | (
            {"f_runs": INT} if self.per == "output" else {})
        verdict = expect(output, dict_of(fields), f"{self.exercise}'s result")
        if not verdict.passed:
            return verdict
        want = torch_jacobian(i["steps"], i["outputs"], i["inputs"], i["x"])
        verdict = close(output["J"], want, what="the Jacobian J", **TOL)
        expected = n if self.per == "input" else m
        if verdict.passed and output["passes"] != expected:
            return fail(f"J is right but it took {output['passes']} calls of {self.counted} for "
                        f"n={n} inputs, m={m} outputs: {self.exercise} should make exactly one per {self.per}")
        if verdict.passed and self.per == "output" and output["f_runs"] != 1:
            return fail(f"J is right but f ran {output['f_runs']} times for m={m} outputs: record f once on "
                        "Variables and sweep that one tape once per output")
        if verdict.passed and output["changed"]:
            return fail(f"{self.exercise} changed its argument ({output['changed'][0]})")
        return verdict


class JacobianForward(_JacobianCheck):
    exercise, mode_file, counted, per = "jacobian_forward", "forward_mode.py", "jvp", "input"
    hint = "one forward_mode.jvp per input with a one-hot tangent; its output tangents are a column of J"


class JacobianReverse(_JacobianCheck):
    exercise, mode_file, counted, per = "jacobian_reverse", "reverse_mode.py", "grad", "output"
    hint = "run f once on Variables, then one reverse_mode.grad per output; each gives a row of J"


ACCUMULATION_NAMES = {"loss": "the loss", "grad_first": "x.grad after the first backward",
                      "grad_second": "x.grad after the second backward",
                      "grad_after_zero": "x.grad after zero_() and a third backward"}


class Accumulation(ExerciseCheck):
    exercise = "accumulation_demo"
    hint = "backward adds into x.grad; retain_graph=True keeps the graph for the next backward; zero_() clears"

    def cases(self, rng):
        return [Case("x=3", {"x": 3.0}, 2), Case("zero-gradient", {"x": 1.0}), Case("x=0", {"x": 0.0}),
                Case("int-x", {"x": 2})] + [Case(f"random-{k}", {"x": float(np.round(rng.uniform(-3, 5), 3))})
                                            for k in range(2)]

    def run(self, case, student):
        demo = student.get("accumulation_demo")
        with counting_backward_runs() as runs:
            result = require(demo(case.inputs["x"]), dict, "accumulation_demo", "a dict of four floats")
        return {"result": dict(result), "backward_runs": runs["calls"]}

    def judge(self, case, output):
        verdict = expect(output, dict_of({"result": mapping(NUMBER, keys=ACCUMULATION_NAMES), "backward_runs": INT}),
                         "accumulation_demo's result")
        if not verdict.passed:
            return verdict
        x = tensors([float(case.inputs["x"])], requires_grad=True)[0]
        loss = (x + 1 - 2 * x) ** 2
        seen = []
        for zero_first in (False, False, True):
            if zero_first:
                x.grad.zero_()
            loss.backward(retain_graph=True)
            seen.append(x.grad.item())
        want = {"loss": loss.item(), "grad_first": seen[0], "grad_second": seen[1], "grad_after_zero": seen[2]}
        verdict = close_all(output["result"], want, what=lambda k: f"{ACCUMULATION_NAMES[k]} ({k!r})", **TOL)
        if verdict.passed and output["backward_runs"] != 3:
            return first_failure(fail(f"the values are right, but torch's backward ran {output['backward_runs']} "
                                      "times: read them from x.grad after three backward calls on the same loss"))
        return verdict
