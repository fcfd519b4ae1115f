"""Lab 02 checks for `grad`: one backward sweep against torch.autograd.grad (float64).

Every seed holds the classic mistakes, each a case of its own: a leaf read on several paths,
a non-leaf reused, `grad` called twice, constants, broadcasting, an unused array input,
grad of grad (`create_graph=True`; also where an adjoint is exactly 0 yet depends on an
input), a matrix product, leaves that share a name (adjoints keyed by `.name` collide), gradients with respect to an intermediate and to the output
itself, the same input listed twice, an output that is a leaf, and a program recorded in
a `with Tape()` block that has ended (the sweep walks the output's tape, not the current
one). Leaf values must come back unchanged, and so must the recorded program: every
intermediate's value and name (what `tape.log()` shows).
"""
from __future__ import annotations

from aisys.autodiff.modes.common import ARRAY_SHAPES, CHANGED, draw, edited, gradients, leaves, open_tape, \
    program_case, result_of, snapshot
from aisys.autodiff.programs import (CONSTANT_STEPS, EVERY_OP_STEPS, F_STEPS, FAN_OUT_STEPS, MATMUL_SHAPES,
                                     MATMUL_STEPS, NONLEAF_REUSE_STEPS, evaluate)
from aisys.autodiff.truth import INPUTS, TOL, close_list, torch_grad, torch_grad_wrt
from aisys.grading.shapes import array, dict_of, expect, list_of
from aisys.grading.spec import Case, ExerciseCheck, fail, first_failure

WRT_INTERMEDIATE = ["t0", "x1", "t4"]   # in NONLEAF_REUSE_STEPS: the reused t0, a leaf, the output itself
#: y = (x1·x1)·x2 at x2 = 0: the adjoint of t0 is exactly 0 there, yet it depends on x2, so
#: ∂/∂x2 of ∂y/∂x1 = 2·x1 ≠ 0 — a sweep that skips zero-valued adjoints gets 0
ZERO_ADJOINT_STEPS = [("t0", "mul", ["x1", "x1"]), ("t1", "mul", ["t0", "x2"])]


class GradCheck(ExerciseCheck):
    exercise = "grad"
    hint = ("key adjoints by id(variable), never by name; accumulate adj[x] = adj[x] + g (never overwrite); sweep "
            "output.tape from output.index down; write every rule with Variable ops")

    def cases(self, rng):
        return [
            program_case(rng, "f", F_STEPS), program_case(rng, "every-op", EVERY_OP_STEPS),
            program_case(rng, "random-0", None), program_case(rng, "random-1", None),
            program_case(rng, "fan-out-leaf", FAN_OUT_STEPS, weight=2),
            program_case(rng, "nonleaf-reuse", NONLEAF_REUSE_STEPS, weight=2),
            program_case(rng, "called-twice", None, weight=2, twice=True),
            program_case(rng, "constants", CONSTANT_STEPS),
            program_case(rng, "broadcast", None, ARRAY_SHAPES, weight=2),
            program_case(rng, "unused-array-input", FAN_OUT_STEPS, ARRAY_SHAPES),   # x2, shape (4,), unused
            program_case(rng, "matmul", MATMUL_STEPS, MATMUL_SHAPES, weight=2),
            program_case(rng, "second-order-f", F_STEPS, order=2),
            program_case(rng, "second-order-random", None, weight=2, order=2),
            program_case(rng, "second-order-broadcast", None, ARRAY_SHAPES, order=2),
            program_case(rng, "second-order-matmul", MATMUL_STEPS, MATMUL_SHAPES, order=2),
            program_case(rng, "leaves-share-a-name", NONLEAF_REUSE_STEPS, weight=2, names=[None, None]),
            program_case(rng, "wrt-intermediate-and-output", NONLEAF_REUSE_STEPS, weight=2, wrt=WRT_INTERMEDIATE),
            program_case(rng, "same-input-twice", F_STEPS, wrt=["x2", "x1", "x2"]),
            Case("output-is-a-leaf", {"steps": [], "output": "x1", "values": [1.25, 0.5]}),
            program_case(rng, "after-the-with-block", NONLEAF_REUSE_STEPS, weight=2, closed_tape=True),
            Case("second-order-zero-adjoint", {"steps": [list(s) for s in ZERO_ADJOINT_STEPS], "output": "t1",
                                               "values": [draw(rng)[0], 0.0], "order": 2}),
        ]

    @staticmethod
    def _wrt(case) -> list[str]:
        return list(case.inputs.get("wrt", INPUTS))

    def run(self, case, student):
        i = case.inputs
        mod = student.module("reverse_mode.py")
        grad = student.get("grad")

        def record() -> tuple[list, dict]:
            xs = leaves(mod, i["values"], i.get("names", INPUTS))
            return xs, evaluate(i["steps"], dict(zip(INPUTS, xs)), check=result_of(mod.Variable))

        with open_tape(mod):   # a fresh tape per case: no case sweeps another's entries
            xs, env = record()
            if not i.get("closed_tape"):
                return self._sweeps(case, mod, grad, xs, env)
        return self._sweeps(case, mod, grad, xs, env)   # the block has ended: grad must use output.tape

    def _sweeps(self, case, mod, grad, xs: list, env: dict) -> dict:
        i = case.inputs
        before = snapshot(*(x.value for x in xs))
        program = {n: v for n, v in env.items() if n not in INPUTS and isinstance(v, mod.Variable)}
        recorded = snapshot(*(v.value for v in program.values()))
        names = [v.name for v in program.values()]
        wrt = [env[name] for name in self._wrt(case)]

        def values(result, who: str) -> list:
            return [g.value for g in gradients(result, len(wrt), who, mod.Variable)]

        first = gradients(grad(env[i["output"]], wrt), len(wrt), "grad", mod.Variable)
        out = {"grads": [g.value for g in first]}
        if i.get("twice"):
            out["again"] = values(grad(env[i["output"]], wrt), "grad (a second call)")
        if i.get("order") == 2:
            out["grads"] = values(grad(first[0], xs), "grad (of a gradient)")
        out["changed"] = edited(before, [x.value for x in xs], [f"leaf {n}" for n in INPUTS]) + edited(
            recorded, [v.value for v in program.values()], [f"the value of {n}" for n in program]) + [
            f"the name of {n} was changed" for (n, v), name in zip(program.items(), names) if v.name != name]
        return out

    def judge(self, case, output):
        i = case.inputs
        order = i.get("order", 1)
        wrt = INPUTS if order == 2 else self._wrt(case)
        grads = list_of(array(), len(wrt))   # each gradient's exact shape is compared with torch's below
        fields = {"grads": grads, "changed": CHANGED} | ({"again": grads} if i.get("twice") else {})
        verdict = expect(output, dict_of(fields), "grad's results")
        if not verdict.passed:
            return verdict
        if order == 2:
            want = torch_grad(i["steps"], i["output"], i["values"], order=2)
            names = [f"the second derivative ∂²y/∂x1∂{x}" for x in INPUTS]
        else:
            want = torch_grad_wrt(i["steps"], i["output"], i["values"], wrt)
            names = [f"the gradient ∂y/∂{x}" for x in wrt]
        verdict = first_failure(
            close_list(output["grads"], want, names, **TOL),
            close_list(output["again"], want, [f"{n} from the second call" for n in names], **TOL)
            if i.get("twice") else verdict)
        if verdict.passed and output["changed"]:
            return fail(f"grad changed the program it sweeps ({output['changed'][0]}): a sweep only reads the "
                        "recorded values and names")
        return verdict
