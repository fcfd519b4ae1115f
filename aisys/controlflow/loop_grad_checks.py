"""Check of while_loop_grad. Ground truth: torch autograd of the same Python loop.

Every seed has the same corners, the seed drawing the start and the cotangents: zero trips,
one to three trips, five to eight trips (two bodies), an all-zero cotangent (gradient 0),
a start at x = y = 0, two calls in a row (a stack or graph kept between calls shows
there), and nonzero cotangents on the counters i and n (every loop variable's cotangent
flows back, not only x's and y's), and loop_vars and output_grads handed in as tuples (the
signature takes any Sequence). The lists handed in must come back unchanged.
"""
from __future__ import annotations

from functools import partial
from types import SimpleNamespace

from aisys.controlflow import programs as P
from aisys.controlflow.student_code import stub_elsewhere_is_an_error
from aisys.errors import StudentCodeError
from aisys.grading.compare import close
from aisys.grading.shapes import NUMBER, dict_of, expect, list_of, require, tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail, first_failure

CALL = dict_of({"outputs": list_of(NUMBER, 4), "grads": list_of(NUMBER, 4)})


def torch_loop_grad(body: str, start: list, cotangents: list) -> tuple[list, list]:
    """(final loop variables, d(Σ cotangent·output)/d start) by torch autograd of the Python loop."""
    import torch

    ns = SimpleNamespace(sin=torch.sin, cos=torch.cos, exp=torch.exp)
    xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    vs = list(xs)
    while bool(P.grad_cond(ns, *vs)):
        vs = list(P.GRAD_BODIES[body](ns, *vs))
    total = sum(v * g for v, g in zip(vs, cotangents))
    grads = torch.autograd.grad(total, xs, allow_unused=True) if total.requires_grad else [None] * len(xs)
    return [float(v.detach()) for v in vs], [0.0 if g is None else float(g) for g in grads]


class WhileLoopGradCheck(ExerciseCheck):
    exercise = "while_loop_grad"
    hint = ("push each iteration's inputs in the forward loop; pop in reverse applying vjp(body_fn, saved, grads); "
            "a fresh graph per call; leave loop_vars and output_grads alone")

    def cases(self, rng):
        def call(body, trips, start=None, grads=None, counter_grads=(0.0, 0.0), tuples=False):
            start = start or [round(float(v), 3) for v in rng.uniform(-1, 1, size=2)]
            grads = grads or [round(float(v), 3) for v in rng.normal(size=2)]
            return {"body": body, "vars": [*start, 0.0, float(trips)], "grads": [*grads, *counter_grads],
                    "tuples": tuples}
        nonzero = lambda: round(float(rng.choice([-1, 1]) * rng.uniform(0.5, 2)), 3)  # noqa: E731
        k = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
        plan = [("spiral-0-trips", [call("spiral", 0)], 1), ("spiral-few", [call("spiral", k(1, 3))], 2),
                ("spiral-many", [call("spiral", k(5, 8))], 2), ("decay-few", [call("decay", k(1, 3))], 2),
                ("decay-many", [call("decay", k(5, 8))], 2),
                ("zero-cotangent", [call("spiral", k(2, 5), grads=[0.0, 0.0])], 1),
                ("start-at-zero", [call("decay", k(2, 5), start=[0.0, 0.0])], 1),
                ("two-calls", [call("decay", k(2, 5)), call("spiral", k(2, 5))], 1),
                ("counter-cotangents", [call("spiral", k(1, 4), counter_grads=(nonzero(), nonzero()))], 1),
                ("tuples-in", [call("decay", k(1, 3), tuples=True)], 1)]
        return [Case(cid, {"calls": calls}, w) for cid, calls, w in plan]

    def run(self, case, student):
        fn, results = student.get("while_loop_grad"), []
        for call in case.inputs["calls"]:
            box = tuple if call.get("tuples") else list   # a Sequence: a list, or a tuple in one case
            loop_vars, cotangents = box(call["vars"]), box(call["grads"])
            with stub_elsewhere_is_an_error(self.exercise):
                out = fn(partial(P.grad_cond, P.GRAPH_MATH), partial(P.GRAD_BODIES[call["body"]], P.GRAPH_MATH),
                         loop_vars, cotangents)
            require(out, tuple_of(list_of(NUMBER, 4), list_of(NUMBER, 4)), self.exercise,
                    "(final_vars, grads): two lists of 4 floats")
            if list(loop_vars) != call["vars"] or list(cotangents) != call["grads"]:
                raise StudentCodeError("while_loop_grad changed the loop_vars or output_grads list it was given")
            results.append({"outputs": [float(v) for v in out[0]], "grads": [float(g) for g in out[1]]})
        return results

    def judge(self, case, output):
        calls = case.inputs["calls"]
        shaped = expect(output, list_of(CALL, len(calls)), "the results")
        if not shaped.passed:
            return shaped
        for k, (call, got) in enumerate(zip(calls, output)):
            final, grads = torch_loop_grad(call["body"], call["vars"], call["grads"])
            verdict = first_failure(close(got["outputs"], final, rtol=1e-9, what="outputs"),
                                    close(got["grads"], grads, rtol=1e-7, atol=1e-9, what="gradients"))
            if not verdict.passed:
                return fail((f"call {k + 1} of {len(calls)}: " if len(calls) > 1 else "") + verdict.message)
        return PASS


LOOP_GRAD_CHECKS = [WhileLoopGradCheck()]
