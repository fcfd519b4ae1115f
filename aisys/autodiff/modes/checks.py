"""Lab 02 checks. Ground truth: torch differentiating the same programs (float64).

Traces against torch.autograd.grad on the intermediates of f; forward mode against
torch.func.jvp; Jacobians against torch.autograd.functional.jacobian, counting the JVPs and
VJPs used; accumulation against torch's own `.grad`. Reverse mode: `reverse_checks.py`.
"""
from __future__ import annotations

import numpy as np

from aisys.autodiff.counting import counting_calls
from aisys.autodiff.modes.reverse_checks import (ARRAY_SHAPES, GradCheck, TapeCheck, VariableCheck, program_case,
                                                 rule_programs)
from aisys.autodiff.programs import CONSTANT_STEPS, F_STEPS, apply, evaluate, random_program
from aisys.autodiff.truth import INPUTS, close_all, close_list, tensors, torch_jacobian, torch_jvp
from aisys.grading.compare import close
from aisys.grading.spec import PASS, Case, ExerciseCheck, LabSuite, fail, first_failure

TOL = {"rtol": 1e-7, "atol": 1e-9}
EXACT = {"rtol": 1e-12, "atol": 1e-12}   # the chain rule in float64 is exact to a few ulps; finite differences are not
TRACE_KEYS = ("v-1", "v0", "v1", "v2", "v3", "v4", "v5")


def _trace_cases(rng) -> list[Case]:
    points = [(2.0, 5.0)] + [(float(np.round(rng.uniform(0.3, 4.0), 3)), float(np.round(rng.uniform(-4, 4), 3)))
                             for _ in range(4)]
    return [Case("f(2,5)" if i == 0 else f"random-{i}", {"x": list(p)}, 2 if i == 0 else 1)
            for i, p in enumerate(points)]


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


class EvaluationTrace(ExerciseCheck):
    exercise = "evaluation_trace"
    hint = "seven keys 'v-1' ... 'v5'; v1 = ln v-1, v2 = v-1·v0, v3 = sin v0, v4 = v1 + v2, v5 = v4 − v3"

    def cases(self, rng):
        return _trace_cases(rng)

    def run(self, case, student):
        return dict(student.get("evaluation_trace")(*case.inputs["x"]))

    def judge(self, case, output):
        return close_all(output, _torch_trace(*case.inputs["x"])[0], what=lambda k: f"the value of {k}", **TOL)


class AdjointTrace(ExerciseCheck):
    exercise = "adjoint_trace"
    hint = ("v0 and v-1 are each read by two lines: add both contributions (the chain rule sums over paths); "
            "exact local derivatives, not finite differences (the tolerance is 1e-12)")

    def cases(self, rng):
        return _trace_cases(rng)

    def run(self, case, student):
        return dict(student.get("adjoint_trace")(*case.inputs["x"]))

    def judge(self, case, output):
        return close_all(output, _torch_trace(*case.inputs["x"])[1], what=lambda k: f"the adjoint of {k}", **EXACT)


def _tangents(rng, values) -> list:
    return [float(np.round(rng.normal(), 3)) if not isinstance(v, list) else
            np.round(rng.normal(size=np.shape(v)), 3).tolist() for v in values]


def _duals(mod, values, tangents):
    arr = lambda v: np.asarray(v, dtype=float) if isinstance(v, list) else float(v)  # noqa: E731
    return [mod.Dual(arr(v), arr(t)) for v, t in zip(values, tangents)]


class DualCheck(ExerciseCheck):
    exercise = "Dual"
    hint = ("lift plain numbers to Dual(c, 0); product rule ȧb + aḃ; quotient (ȧb − aḃ)/b²; sin → cos·ȧ; "
            "a ** b adds the ln(a) term only when ḃ ≠ 0")
    RULE_LEAVES = {"a": "x1", "b": "x2"}   # the rule programs' leaves, as torch_jvp names them

    def cases(self, rng):
        cases = [program_case(rng, "f", F_STEPS), program_case(rng, "constants", CONSTANT_STEPS, weight=2),
                 program_case(rng, "random-0", None), program_case(rng, "random-1", None),
                 program_case(rng, "random-2", None), program_case(rng, "arrays", None, ARRAY_SHAPES, weight=2)]
        positive = [float(np.round(rng.uniform(0.5, 2.0), 3)) for _ in range(2)]   # log and pow need a > 0
        cases += [Case("rules-every-op", {"rules": "every-op", "values": positive}, 2),
                  Case("rules-negative-base", {"rules": "constants",
                                               "values": [float(np.round(rng.uniform(-2.0, -0.5), 3)), 1.0]})]
        for case in cases:
            case.inputs["tangents"] = _tangents(rng, case.inputs["values"])
        return cases

    def _rules(self, case) -> list:
        return rule_programs(constants=case.inputs["rules"] == "constants")

    def run(self, case, student):
        i = case.inputs
        if "rules" in i:   # one op at a time: each rule's value and tangent
            mod, out = student.module("forward_mode.py"), {}
            for label, op, args in self._rules(case):
                env = dict(zip("ab", _duals(mod, i["values"], i["tangents"])))
                y = apply(op, [env[x] if isinstance(x, str) else x for x in args])
                out[label] = {"value": getattr(y, "value", None), "tangent": getattr(y, "tangent", None)}
            return out
        env = evaluate(i["steps"], dict(zip(INPUTS, _duals(student.module("forward_mode.py"), i["values"],
                                                           i["tangents"]))))
        out = env[i["output"]]
        return {"value": out.value, "tangent": out.tangent}

    def judge(self, case, output):
        i = case.inputs
        if not isinstance(output, dict):
            return fail("the program's result should be a Dual with a value and a tangent")
        if "rules" in i:
            for label, op, args in self._rules(case):
                step = ("y", op, [self.RULE_LEAVES.get(x, x) if isinstance(x, str) else x for x in args])
                values, dots = torch_jvp([step], ["y"], i["values"], i["tangents"])
                got = output.get(label) or {}
                verdict = first_failure(close(got.get("value"), values[0], what=f"the value of {label}", **TOL),
                                        close(got.get("tangent"), dots[0], what=f"the tangent of {label}", **TOL))
                if not verdict.passed:
                    return verdict
            return PASS
        values, dots = torch_jvp(i["steps"], [i["output"]], i["values"], i["tangents"])
        tangent = output.get("tangent")
        if tangent is not None and np.ndim(tangent) == 0 and values[0].ndim:
            tangent = np.full(values[0].shape, float(tangent))   # a constant's scalar 0 tangent
        return first_failure(close(output.get("value"), values[0], what="the result's value", **TOL),
                             close(tangent, dots[0], what="the result's tangent", **TOL))


class JvpCheck(ExerciseCheck):
    exercise = "jvp"
    hint = "f(*[Dual(p, t) for p, t in zip(primals, tangents)]); return (values, tangents) shaped like f's result"

    def cases(self, rng):
        cases = []
        for cid, outputs, shapes in (("one-output", 1, ((), ())), ("two-outputs-and-a-constant", 2, ((), ())),
                                     ("three-outputs", 3, ((), ())), ("arrays", 2, ARRAY_SHAPES)):
            steps, outs = random_program(rng, int(rng.integers(5, 10)), outputs=outputs)
            case = program_case(rng, cid, steps, shapes)
            if cid.endswith("constant"):
                case.inputs["constant"] = 2.5   # f also returns a plain number: its tangent is 0
            case.inputs["outputs"] = outs
            case.inputs["tangents"] = _tangents(rng, case.inputs["values"])
            cases.append(case)
        return cases

    def run(self, case, student):
        i = case.inputs
        multi = len(i["outputs"]) > 1
        runs = {"f": 0}

        def f(x1, x2):
            runs["f"] += 1
            env = evaluate(i["steps"], {"x1": x1, "x2": x2})
            constant = (i["constant"],) if "constant" in i else ()
            return tuple(env[o] for o in i["outputs"]) + constant if multi else env[i["outputs"][0]]

        arr = lambda v: np.asarray(v, dtype=float) if isinstance(v, list) else float(v)  # noqa: E731
        values, dots = student.get("jvp")(f, [arr(v) for v in i["values"]], [arr(t) for t in i["tangents"]])
        return {"values": list(values) if multi else [values], "tangents": list(dots) if multi else [dots],
                "f_runs": runs["f"]}

    def judge(self, case, output):
        i = case.inputs
        values, dots = torch_jvp(i["steps"], i["outputs"], i["values"], i["tangents"])
        if "constant" in i:
            values, dots = values + [np.float64(i["constant"])], dots + [np.float64(0.0)]
        if not isinstance(output, dict):
            return fail("jvp should return (outputs, output_tangents)")
        count = range(len(values))
        verdict = first_failure(close_list(output["values"], values, [f"the value of output {k}" for k in count],
                                           **TOL),
                                close_list(output["tangents"], dots, [f"the tangent of output {k}" for k in count],
                                           **TOL))
        if verdict.passed and output.get("f_runs") != 1:
            return fail(f"the results are right, but jvp ran f {output.get('f_runs')} times: forward mode gets the "
                        "value and the tangent from one run of f on Dual numbers")
        return verdict


class _JacobianCheck(ExerciseCheck):
    """J against torch, and the number of passes: n JVPs forward, m VJPs (grad calls) reverse
    (and, reverse, one recorded run of f that all m sweeps share)."""

    mode_file, counted, per = "", "", ""
    f_runs: int | None = None

    def cases(self, rng):
        cases = []
        for cid, n, m in (("wide-6x1", 6, 1), ("tall-1x5", 1, 5), ("square-3x3", 3, 3),
                          ("random", int(rng.integers(2, 5)), int(rng.integers(2, 5)))):
            inputs = [f"x{k}" for k in range(n)]
            steps, outs = random_program(rng, int(rng.integers(6, 12)) + m, inputs=inputs, outputs=m)
            x = np.round(rng.uniform(0.5, 2.0, size=n), 3).tolist()
            cases.append(Case(cid, {"steps": [list(s) for s in steps], "outputs": outs, "inputs": inputs, "x": x}))
        return cases

    def run(self, case, student):
        i = case.inputs
        f_calls = {"f": 0}

        def f(*xs):
            f_calls["f"] += 1
            env = evaluate(i["steps"], dict(zip(i["inputs"], xs)))
            return [env[o] for o in i["outputs"]]

        with counting_calls(student.module(self.mode_file), self.counted, student.module("jacobians.py")) as calls:
            jac = student.get(self.exercise)(f, list(i["x"]))
        calls = {"passes": calls["calls"], **f_calls}
        return {"J": np.asarray(jac, dtype=float), **calls}

    def judge(self, case, output):
        i = case.inputs
        want = torch_jacobian(i["steps"], i["outputs"], i["inputs"], i["x"])
        n, m = len(i["inputs"]), len(i["outputs"])
        verdict = close(output.get("J"), want, what="the Jacobian J", **TOL)
        expected = n if self.per == "input" else m
        if verdict.passed and output.get("passes") != expected:
            return fail(f"J is right but it took {output.get('passes')} calls of {self.counted} for "
                        f"n={n} inputs, m={m} outputs: {self.exercise} should make exactly one per {self.per}")
        if verdict.passed and self.f_runs is not None and output.get("f") != self.f_runs:
            return fail(f"J is right but f ran {output.get('f')} times for m={m} outputs: record f once on "
                        "Variables and sweep that one tape once per output")
        return verdict


class JacobianForward(_JacobianCheck):
    exercise, mode_file, counted, per = "jacobian_forward", "forward_mode.py", "jvp", "input"
    hint = "one forward_mode.jvp per input with a one-hot tangent; its output tangents are a column of J"


class JacobianReverse(_JacobianCheck):
    exercise, mode_file, counted, per = "jacobian_reverse", "reverse_mode.py", "grad", "output"
    f_runs = 1
    hint = "run f once on Variables, then one reverse_mode.grad per output; each gives a row of J"


class Accumulation(ExerciseCheck):
    exercise = "accumulation_demo"
    hint = "backward adds into x.grad; retain_graph=True keeps the graph for the next backward; zero_() clears"

    def cases(self, rng):
        return [Case("x=3", {"x": 3.0}, 2)] + [Case(f"random-{k}", {"x": float(np.round(rng.uniform(-3, 5), 3))})
                                               for k in range(3)]

    def run(self, case, student):
        import torch

        demo = student.get("accumulation_demo")
        with counting_calls(torch.autograd, "backward") as calls:   # Tensor.backward goes through it too
            result = dict(demo(case.inputs["x"]))
        return {"result": result, "backward_calls": calls["calls"]}

    def judge(self, case, output):
        import torch

        x = tensors([case.inputs["x"]], requires_grad=True)[0]
        loss = (x + 1 - 2 * x) ** 2
        seen = []
        for zero_first in (False, False, True):
            if zero_first:
                x.grad.zero_()
            loss.backward(retain_graph=True)
            seen.append(x.grad.item())
        want = {"loss": loss.item(), "grad_first": seen[0], "grad_second": seen[1], "grad_after_zero": seen[2]}
        verdict = close_all(output.get("result"), want, what=lambda k: f"{ACCUMULATION_NAMES[k]} ({k!r})", **TOL)
        if verdict.passed and output.get("backward_calls") != 3:
            return fail(f"the values are right, but torch's backward ran {output.get('backward_calls')} times: "
                        "read them from x.grad after three backward calls on the same loss")
        return verdict


ACCUMULATION_NAMES = {"loss": "the loss", "grad_first": "x.grad after the first backward",
                      "grad_second": "x.grad after the second backward",
                      "grad_after_zero": "x.grad after zero_() and a third backward"}

SUITE = LabSuite("autodiff", [EvaluationTrace(), AdjointTrace(), DualCheck(), JvpCheck(), VariableCheck(),
                              TapeCheck(), GradCheck(), JacobianForward(), JacobianReverse(), Accumulation()])
