"""Lab 03 checks of programs, not formulas: the logistic loop and its closed form through the
student's lab-02 reverse mode, and the fused (x³, 3x²) counted by an op-counting number.

Every seed has the same corners — n = 1, x = 0 (value 0), x = 0.5 (derivative 0 from l₃ on),
x outside [0, 1], and one case of several calls in a row: the same n with another x, the
same x with another n, then a repeat (a result cached under the wrong key, or state kept
between calls, shows there); the seed varies the rest.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from aisys.autodiff.counting import counting_calls
from aisys.autodiff.opcount import Counted
from aisys.autodiff.truth import close_list, tensors
from aisys.errors import StudentCodeError
from aisys.grading.shapes import INT, NUMBER, describe, dict_of, expect, list_of, require, tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail
from aisys.workspace import sibling

TOL = {"rtol": 1e-7, "atol": 1e-9}
OPS = ("add", "sub", "mul", "div", "pow", "neg")


def torch_logistic(x: float, n: int | None) -> list[float]:
    """(l_n, dl_n/dx) by torch: the loop when n is given, the article's closed form for l₄."""
    import torch

    v = tensors([x], requires_grad=True)[0]
    if n is None:
        y = 64 * v * (1 - v) * (1 - 2 * v) ** 2 * (1 - 8 * v + 8 * v * v) ** 2
    else:
        y = v
        for _ in range(n - 1):
            y = 4 * y * (1 - y)
    (g,) = torch.autograd.grad(y, [v], allow_unused=True)
    return [y.item(), 0.0 if g is None else g.item()]


def _call_label(calls: list, k: int, text: str) -> str:
    return f"call {k + 1} of {len(calls)} ({text}): " if len(calls) > 1 else ""


class _LogisticCheck(ExerciseCheck):
    closed = False

    def _names(self) -> list[str]:
        return (["l₄ (the first result)", "dl₄/dx (the second result)"] if self.closed else
                ["l_n (the first result)", "dl_n/dx (the second result)"])

    def cases(self, rng):
        u = lambda lo, hi: float(np.round(rng.uniform(lo, hi), 4))  # noqa: E731
        n = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
        if self.closed:
            plan = [("x=0.3", [0.3], 2), ("x=0", [0.0], 1), ("x=0.5", [0.5], 1),
                    ("outside-0..1", [u(-0.5, -0.05) if rng.random() < 0.5 else u(1.05, 1.5)], 1),
                    ("random", [u(0.02, 0.98)], 1)]
            a, b = u(0.02, 0.98), u(-0.3, 1.3)
            plan.append(("three-calls", [a, b, a], 1))
            return [Case(cid, {"calls": [[x] for x in xs]}, w) for cid, xs, w in plan]
        plan = [("x=0.3,n=4", [[0.3, 4]], 2), ("n=1", [[u(0.02, 0.98), 1]], 1),
                ("x=0", [[0.0, n(2, 6)]], 1), ("x=0.5", [[0.5, n(3, 6)]], 1),
                ("negative-x", [[u(-0.5, -0.05), n(2, 5)]], 1), ("n=2", [[u(0.02, 0.98), 2]], 1),
                ("random", [[u(0.02, 0.98), n(6, 13)]], 1)]
        a, b, k = u(0.02, 0.98), u(0.02, 0.98), n(3, 6)   # same n, other x; same x, other n; a repeat
        plan.append(("four-calls", [[a, k], [b, k], [a, k + n(1, 3)], [a, k]], 1))
        return [Case(cid, {"calls": calls}, w) for cid, calls, w in plan]

    def run(self, case, student):
        fn = student.get(self.exercise)
        module = student.module("control_flow.py")
        reverse_mode = sibling(module.__file__, "autodiff", "reverse_mode.py")   # the same module object theirs is
        results, grads, loops = [], [], []
        for args in case.inputs["calls"]:
            # how the derivative was made: lab 02's grad, once; the closed form must not run the loop
            with counting_calls(reverse_mode, "grad", module) as g, counting_calls(module, "logistic_loop") as lp:
                result = fn(*args)
            what = "(l₄, dl₄/dx)" if self.closed else "(l_n, dl_n/dx)"
            require(result, tuple_of(NUMBER, NUMBER), self.exercise, f"a pair of floats {what}")
            results.append([float(v) for v in result])
            grads.append(g["calls"])
            loops.append(lp["calls"])
        out = {"results": results, "grad_calls": grads}
        return {**out, "loop_calls": loops} if self.closed else out

    def judge(self, case, output):
        calls = case.inputs["calls"]
        fields = {"results": list_of(tuple_of(NUMBER, NUMBER), len(calls)), "grad_calls": list_of(INT, len(calls))}
        if self.closed:
            fields["loop_calls"] = list_of(INT, len(calls))
        shaped = expect(output, dict_of(fields), "the result")
        if not shaped.passed:
            return shaped
        for k, args in enumerate(calls):
            label = _call_label(calls, k, ", ".join(f"{name}={v}" for name, v in zip("xn", args)))
            want = torch_logistic(args[0], None if self.closed else args[1])
            verdict = close_list(output["results"][k], want, self._names(), **TOL)
            if not verdict.passed:
                return fail(label + verdict.message)
            if self.closed and output["loop_calls"][k]:
                return fail(label + "the values are right, but logistic_closed called logistic_loop: evaluate "
                            "the closed-form polynomial itself")
            if output["grad_calls"][k] != 1:
                return fail(label + f"the values are right, but reverse_mode.grad was called "
                            f"{output['grad_calls'][k]} times: the derivative must come from one grad call of "
                            "your lab-02 reverse mode, not from a hand-written formula")
        return PASS


class LogisticLoop(_LogisticCheck):
    exercise = "logistic_loop"
    hint = ("l₁ = x, so n − 1 updates l = 4·l·(1 − l) on a lab-02 Variable; then grad(l, [v]) once; return "
            "plain floats (erratum: 1 − l_n, not 1 − l₁)")


class LogisticClosed(_LogisticCheck):
    exercise, closed = "logistic_closed", True
    hint = "64·v·(1 − v)·(1 − 2v)**2·(1 − 8v + 8v²)**2 on a lab-02 Variable, then grad once; return plain floats"


class FusedCube(ExerciseCheck):
    """Two kinds of case, so correct-but-unfused code earns half the points:
    `values-*` judge (x³, 3x²) against torch; `op-count-*` also count the operations."""
    exercise = "fused_cube"
    hint = ("x³ and 3x² share a factor: compute it once, keep it in a variable and build both results "
            "from it; avoid ** (a power hides multiplications); leave x itself alone")
    MAX_MULS = 3

    def cases(self, rng):
        draw = lambda: float(np.round(rng.uniform(-4, 4), 3))  # noqa: E731
        values = [Case(f"values-x={x:g}", {"xs": [x]}) for x in (2.0, -1.5, 0.0, 1.0, draw())]
        values.append(Case("values-two-calls", {"xs": [draw(), draw()]}))
        counts = [Case(f"op-count-x={x:g}", {"xs": [x], "count": True}, 2) for x in (1.5, -2.0, draw())]
        return values + counts

    def run(self, case, student):
        fn, results, tallies = student.get("fused_cube"), [], []
        for x in case.inputs["xs"]:
            counter = Counter()
            given = Counted(x, counter)
            out = fn(given)
            require(out, lambda o: isinstance(o, (tuple, list)) and len(o) == 2, "fused_cube",
                    "a pair (x³, 3x²) computed from x")
            if not all(isinstance(o, Counted) for o in out):
                raise StudentCodeError(f"fused_cube returned {_describe_pair(out)}; expected two values computed "
                                       "from x with arithmetic (a float(x), a math function or a constant escapes "
                                       "the op counter)")
            if given.value != x or given.counter is not counter or any(o.counter is not counter for o in out):
                raise StudentCodeError("fused_cube changed its input x (its value or its counter): compute new "
                                       "values from x instead")
            results.append([o.value for o in out])
            tallies.append({op: counter[op] for op in OPS})
        out = {"values": results}
        return {**out, "ops": tallies} if case.inputs.get("count") else out

    def judge(self, case, output) -> Verdict:
        xs = case.inputs["xs"]
        fields = {"values": list_of(tuple_of(NUMBER, NUMBER), len(xs))}
        if case.inputs.get("count"):
            fields["ops"] = list_of(dict_of({op: INT for op in OPS}), len(xs))
        shaped = expect(output, dict_of(fields), "the result")
        if not shaped.passed:
            return shaped
        import torch

        for k, x in enumerate(xs):
            label = _call_label(xs, k, f"x={x:g}")
            v = tensors([x], requires_grad=True)[0]
            cube = v ** 3
            (deriv,) = torch.autograd.grad(cube, [v])
            verdict = close_list(output["values"][k], [cube.item(), deriv.item()],
                                 ["x³ (the first result)", "3x² (the second result)"], **TOL)
            if not verdict.passed:
                return fail(label + verdict.message)
            if case.inputs.get("count"):
                ops = output["ops"][k]
                if ops["pow"]:
                    return fail(f"x³ and 3x² are right, but ** was used {ops['pow']} time(s): a power hides "
                                "multiplications, so compute the shared factor once instead")
                if ops["mul"] > self.MAX_MULS:
                    return fail(f"x³ and 3x² are right, but they took {ops['mul']} multiplications; sharing "
                                f"work between them needs only {self.MAX_MULS}")
        return PASS


def _describe_pair(out) -> str:
    return "(" + ", ".join(describe(o) for o in out) + ")"
