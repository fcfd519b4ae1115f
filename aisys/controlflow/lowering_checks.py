"""Checks of cond, while_loop, unroll and while_loop_grad. Ground truth: the same program
run as plain Python (branches, loops), torch autograd (gradients), and the execution log
(only the taken branch's ops run; per-frame iteration counts)."""
from __future__ import annotations

import contextlib
import traceback
from functools import partial
from types import SimpleNamespace
from typing import Any

from aisys.controlflow import programs as P
from aisys.controlflow.dataflow import DataflowGraph
from aisys.controlflow.interpreter import ExecutionError, RuleNotImplemented, execute, frame_iterations
from aisys.controlflow.ops import PRIMITIVES
from aisys.errors import StudentCodeError
from aisys.grading.compare import close
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail, first_failure

RULE_NAMES = ("switch", "merge", "enter", "exit_", "next_iteration")


def student_rules(student: Any) -> SimpleNamespace:
    return SimpleNamespace(**{name: student.get(name) for name in RULE_NAMES})


@contextlib.contextmanager
def stub_elsewhere_is_an_error(exercise: str):
    """A stub *this* exercise calls (cond inside a while body, while_loop inside
    while_loop_grad) is an error that names it, not "not started" for this exercise."""
    try:
        yield
    except NotImplementedError as err:
        frames = traceback.extract_tb(err.__traceback__)
        culprit = frames[-1].name if frames else exercise
        if culprit != exercise:
            raise StudentCodeError(f"{exercise} uses your {culprit}, which is not implemented yet") from None
        raise


def run_program(student: Any, program, feeds: dict) -> dict:
    """Build `program` with the student's lowering, run it on the student's rules."""
    lowering = SimpleNamespace(cond=student.get("cond"), while_loop=student.get("while_loop"))
    g, outs = P.build(program, lowering, list(feeds))
    try:
        run = execute(g, student_rules(student), feeds)
    except RuleNotImplemented as err:
        raise StudentCodeError(f"{err} — the graph runs on your firing rules (primitives.py)") from None
    return {"outputs": [run.value(o) for o in outs], "ops": g.op_counts(),
            "live_scopes": sorted({f.scope for f in run.live() if f.scope}),
            "frames": [[len(k) - 1, k[-2][1] if len(k) > 2 else 0, n] for k, n in frame_iterations(run.log).items()]}


def python_scopes(program, feeds: dict) -> tuple[list, list]:
    """The outputs and the branch scopes that Python itself enters (the truth for 'only the
    taken branch runs')."""
    entered: set[str] = set()

    @contextlib.contextmanager
    def scope(name):
        entered.add(name)
        yield
    ns = SimpleNamespace(**{**vars(P.PY), "scope": scope})
    return list(program(ns, *feeds.values())), sorted(entered)


def _missing_primitives(ops: dict, wanted: tuple) -> Verdict:
    missing = [p for p in wanted if not ops.get(p)]
    return fail(f"the graph has no {', '.join(missing)} node: lower onto the primitives") if missing else PASS


class CondCheck(ExerciseCheck):
    exercise = "cond"
    hint = "switch each operand on pred; true_fn gets the true sides, false_fn the false sides; merge pairwise"

    def cases(self, rng):
        u = lambda lo, hi: round(float(rng.uniform(lo, hi)), 3)
        return [Case("piecewise-positive", {"program": "piecewise", "feeds": {"x": u(0.5, 5)}}),
                Case("piecewise-negative", {"program": "piecewise", "feeds": {"x": u(-5, -0.5)}}),
                Case("two-operands-less", {"program": "two_operands", "feeds": {"x": u(-3, 0), "y": u(0.5, 3)}}),
                Case("two-operands-greater", {"program": "two_operands", "feeds": {"x": u(1, 4), "y": u(-2, 0.5)}}),
                Case("nested-then-then", {"program": "nested_cond", "feeds": {"x": u(11, 20)}}),
                Case("nested-then-else", {"program": "nested_cond", "feeds": {"x": u(0.5, 9)}}),
                Case("nested-else", {"program": "nested_cond", "feeds": {"x": u(-6, -0.5)}}),
                Case("one-operand-each-then", {"program": "one_operand_each",
                                               "feeds": {"x": u(0.5, 4), "y": u(-4, 4)}}),
                Case("one-operand-each-else", {"program": "one_operand_each",
                                               "feeds": {"x": u(-4, -0.5), "y": u(-4, 4)}}, weight=2)]

    def run(self, case, student):
        with stub_elsewhere_is_an_error(self.exercise):
            return run_program(student, P.BRANCH_PROGRAMS[case.inputs["program"]], case.inputs["feeds"])

    def judge(self, case, output):
        want, scopes = python_scopes(P.BRANCH_PROGRAMS[case.inputs["program"]], case.inputs["feeds"])
        verdict = first_failure(close(output.get("outputs"), want, rtol=1e-9, what="outputs"),
                                _missing_primitives(output.get("ops", {}), ("Switch", "Merge")))
        if not verdict.passed:
            return verdict
        extra = sorted(set(output.get("live_scopes", [])) - set(scopes))
        if extra:
            return fail(f"ops of an untaken branch executed ({', '.join(extra)}): only the taken side of "
                        "the Switch may carry live tokens")
        missing = sorted(set(scopes) - set(output.get("live_scopes", [])))
        return fail(f"the taken branch's ops never ran live ({', '.join(missing)})") if missing else PASS


class WhileLoopCheck(ExerciseCheck):
    exercise = "while_loop"
    hint = "Enter → Merge → cond_fn → Switch; true side → body → NextIteration → back into the Merge; false side → Exit"

    def cases(self, rng):
        n = lambda lo, hi: int(rng.integers(lo, hi + 1))
        return [Case("sum-0..0", {"program": "sum_to", "feeds": {"n": 0, "i": 0, "s": 0}}),
                Case("sum-0..n", {"program": "sum_to", "feeds": {"n": n(3, 30), "i": 0, "s": 0}}),
                Case("factorial-small", {"program": "factorial", "feeds": {"n": n(0, 3), "i": 1, "acc": 1}}),
                Case("factorial", {"program": "factorial", "feeds": {"n": n(5, 12), "i": 1, "acc": 1}}),
                Case("collatz", {"program": "collatz", "feeds": {"n": n(2, 40), "steps": 0}}),
                Case("collatz-long", {"program": "collatz", "feeds": {"n": n(41, 99), "steps": 0}}),
                Case("nested-loops", {"program": "nested_loops", "feeds": {"n": n(3, 6), "i": 0, "total": 0}},
                     weight=2)]

    def run(self, case, student):
        with stub_elsewhere_is_an_error(self.exercise):
            return run_program(student, P.LOOP_PROGRAMS[case.inputs["program"]], case.inputs["feeds"])

    def judge(self, case, output):
        want, _ = python_scopes(P.LOOP_PROGRAMS[case.inputs["program"]], case.inputs["feeds"])
        verdict = first_failure(close(output.get("outputs"), want, rtol=1e-12, what="outputs"),
                                _missing_primitives(output.get("ops", {}), PRIMITIVES))
        if not verdict.passed or case.inputs["program"] != "nested_loops":
            return verdict
        n = case.inputs["feeds"]["n"]
        expected = {(1, 0): n + 1} | {(2, k): k + 1 for k in range(n)}
        got = {(d, k): c for d, k, c in output.get("frames", [])}
        for key, count in expected.items():
            if got.get(key) != count:
                where = "the outer loop" if key[0] == 1 else f"the inner loop of outer iteration {key[1]}"
                return fail(f"{where} ran {got.get(key, 0)} iterations in its frame (its own iteration ids)")
        return PASS if set(got) == set(expected) else fail("the log shows loop frames that should not exist")


class UnrollCheck(ExerciseCheck):
    exercise = "unroll"
    hint = "call body_fn n times while building; no Switch/Merge/Enter/Exit/NextIteration"

    def cases(self, rng):
        trips = [0, 1] + [int(k) for k in rng.choice(range(2, 10), size=3, replace=False)]
        return [Case(f"n={n}", {"n": n, "x": round(float(rng.normal()), 3), "y": round(float(rng.normal()), 3)})
                for n in trips]

    def run(self, case, student):
        g = DataflowGraph()
        x, y = g.placeholder("x"), g.placeholder("y")
        outs = student.get("unroll")(partial(P.unroll_body, P.GRAPH_MATH), case.inputs["n"], [x, y])
        no_rules = SimpleNamespace(**{r: _refuse for r in RULE_NAMES})
        run = execute(g, no_rules, {"x": case.inputs["x"], "y": case.inputs["y"]})
        return {"outputs": [run.value(o) for o in outs], "ops": g.op_counts()}

    def judge(self, case, output):
        vs = [case.inputs["x"], case.inputs["y"]]
        for _ in range(case.inputs["n"]):
            vs = list(P.unroll_body(P.PY, *vs))
        body = DataflowGraph()
        P.unroll_body(P.GRAPH_MATH, body.placeholder("x"), body.placeholder("y"))
        per_body = len(body) - 2
        ops = {k: v for k, v in output.get("ops", {}).items() if k != "input"}
        verdict = close(output.get("outputs"), vs, rtol=1e-12, what="outputs")
        if not verdict.passed:
            return verdict
        if sum(ops.values()) != case.inputs["n"] * per_body:
            return fail(f"the graph has {sum(ops.values())} ops; unrolling n={case.inputs['n']} times should "
                        f"give n × the body's {per_body}")
        return PASS


def _refuse(*args):
    raise ExecutionError("an unrolled loop must not need control-flow primitives")


class WhileLoopGradCheck(ExerciseCheck):
    exercise = "while_loop_grad"
    hint = "push each iteration's inputs in the forward loop; pop in reverse applying vjp(body_fn, saved, grads)"

    def cases(self, rng):
        cases = []
        for body, trips in (("spiral", 0), ("spiral", int(rng.integers(1, 4))), ("spiral", int(rng.integers(5, 9))),
                            ("decay", int(rng.integers(1, 4))), ("decay", int(rng.integers(5, 9)))):
            x, y = (round(float(v), 3) for v in rng.uniform(-1, 1, size=2))
            grads = [round(float(v), 3) for v in rng.normal(size=2)] + [0.0, 0.0]
            cases.append(Case(f"{body}-{trips}-trips", {"body": body, "vars": [x, y, 0.0, float(trips)],
                                                        "grads": grads}, weight=2 if trips else 1))
        return cases

    def run(self, case, student):
        body = partial(P.GRAD_BODIES[case.inputs["body"]], P.GRAPH_MATH)
        try:
            with stub_elsewhere_is_an_error(self.exercise):
                outs, grads = student.get("while_loop_grad")(partial(P.grad_cond, P.GRAPH_MATH), body,
                                                             case.inputs["vars"], case.inputs["grads"])
        except RuleNotImplemented as err:
            raise StudentCodeError(f"{err} — the forward loop runs on your firing rules") from None
        return {"outputs": list(outs), "grads": list(grads)}

    def judge(self, case, output):
        import torch

        ns = SimpleNamespace(sin=torch.sin, cos=torch.cos, exp=torch.exp)
        start = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in case.inputs["vars"]]
        vs = list(start)
        while bool(P.grad_cond(ns, *vs)):
            vs = list(P.GRAD_BODIES[case.inputs["body"]](ns, *vs))
        total = sum(v * g for v, g in zip(vs, case.inputs["grads"]))
        grads = torch.autograd.grad(total, start, allow_unused=True)
        want = [0.0 if g is None else float(g) for g in grads]
        return first_failure(close(output.get("outputs"), [float(v.detach()) for v in vs], rtol=1e-9, what="outputs"),
                             close(output.get("grads"), want, rtol=1e-7, atol=1e-9, what="gradients"))


LOWERING_CHECKS = [CondCheck(), WhileLoopCheck(), UnrollCheck(), WhileLoopGradCheck()]
