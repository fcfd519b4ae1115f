"""Checks of cond, while_loop and unroll. Ground truth: the same program run as plain Python
and the execution log (only the taken branch's ops run; per-frame iteration counts).

Every seed has the same corners, the seed drawing the values. cond: both sides, the pred at
its boundary (x = 0 → the else side, output 0), one operand passed twice, a branch that
returns its operand untouched, each branch reading one operand only, nested conds, two
conds in one graph. while_loop: zero trips, one trip, outputs of 0, Collatz from 1, one Value
as two loop variables, negative floats, two loops in a row, nested loops with per-frame
iteration counts. unroll: n = 0 and 1, zeros, two unrolls in one graph; it returns a new
list (not the one it was given, not a tuple). Lists handed to the student's function must
come back unchanged.
"""
from __future__ import annotations

import contextlib
from functools import partial
from types import SimpleNamespace
from typing import Any

from aisys.controlflow import programs as P
from aisys.controlflow.dataflow import DataflowGraph
from aisys.controlflow.interpreter import ExecutionError, execute
from aisys.controlflow.ops import PRIMITIVES
from aisys.controlflow.student_code import RULE_NAMES, require_values, run_program, stub_elsewhere_is_an_error
from aisys.errors import StudentCodeError
from aisys.grading.compare import close
from aisys.grading.shapes import INT, NUMBER, STR, dict_of, expect, list_of, require, tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail, first_failure

COUNTS = dict_of({p: INT for p in PRIMITIVES})


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


def _missing_primitives(counts: dict, wanted: tuple) -> Verdict:
    missing = [p for p in wanted if not counts[p]]
    return fail(f"the graph has no {', '.join(missing)} node: lower onto the primitives") if missing else PASS


class CondCheck(ExerciseCheck):
    exercise = "cond"
    hint = ("switch each operand on pred (the same Value may come twice); true_fn gets the true sides, false_fn "
            "the false sides; merge pairwise; leave the operands list alone")

    def cases(self, rng):
        u = lambda lo, hi: round(float(rng.uniform(lo, hi)), 3)  # noqa: E731
        plan = [("piecewise-positive", "piecewise", {"x": u(0.5, 5)}, 1),
                ("piecewise-negative", "piecewise", {"x": u(-5, -0.5)}, 1),
                ("piecewise-at-zero", "piecewise", {"x": 0.0}, 1),
                ("two-operands-less", "two_operands", {"x": u(-3, 0), "y": u(0.5, 3)}, 1),
                ("two-operands-greater", "two_operands", {"x": u(1, 4), "y": u(-2, 0.5)}, 1),
                ("same-operand-twice", "same_operand_twice", {"x": u(-4, 4) or 1.0}, 1),
                ("identity-branch-taken", "identity_branch", {"x": u(-3, 4.5)}, 1),
                ("identity-branch-untaken", "identity_branch", {"x": u(5.5, 9)}, 1),
                ("nested-then-then", "nested_cond", {"x": u(11, 20)}, 1),
                ("nested-then-else", "nested_cond", {"x": u(0.5, 9)}, 1),
                ("nested-else", "nested_cond", {"x": u(-6, -0.5)}, 1),
                ("one-operand-each-then", "one_operand_each", {"x": u(0.5, 4), "y": u(-4, 4)}, 1),
                ("one-operand-each-else", "one_operand_each", {"x": u(-4, -0.5), "y": u(-4, 4)}, 2),
                ("two-conds", "two_conds", {"x": u(-3, 3), "y": u(-3, 3)}, 1)]
        return [Case(cid, {"program": prog, "feeds": feeds}, w) for cid, prog, feeds, w in plan]

    def run(self, case, student):
        with stub_elsewhere_is_an_error(self.exercise):
            return run_program(student, P.BRANCH_PROGRAMS[case.inputs["program"]], case.inputs["feeds"], scopes=True)

    def judge(self, case, output):
        want, scopes = python_scopes(P.BRANCH_PROGRAMS[case.inputs["program"]], case.inputs["feeds"])
        shaped = expect(output, dict_of({"outputs": list_of(NUMBER, len(want)), "primitives": COUNTS,
                                         "live_scopes": list_of(STR)}), "the result")
        if not shaped.passed:
            return shaped
        verdict = first_failure(close(output["outputs"], want, rtol=1e-9, what="outputs"),
                                _missing_primitives(output["primitives"], ("Switch", "Merge")))
        if not verdict.passed:
            return verdict
        extra = sorted(set(output["live_scopes"]) - set(scopes))
        if extra:
            return fail(f"ops of an untaken branch executed ({', '.join(extra)}): only the taken side of "
                        "the Switch may carry live tokens")
        missing = sorted(set(scopes) - set(output["live_scopes"]))
        return fail(f"the taken branch's ops never ran live ({', '.join(missing)})") if missing else PASS


class WhileLoopCheck(ExerciseCheck):
    exercise = "while_loop"
    hint = ("Enter → Merge → cond_fn → Switch; true side → body → NextIteration → back into the Merge; false side "
            "→ Exit; a fresh frame per loop (g.unique_frame); leave loop_vars alone")

    def cases(self, rng):
        n = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
        plan = [("sum-zero-trips", "sum_to", {"n": -n(1, 5), "i": 0, "s": 0}, 1),
                ("sum-0..0", "sum_to", {"n": 0, "i": 0, "s": 0}, 1),
                ("sum-0..n", "sum_to", {"n": n(3, 30), "i": 0, "s": 0}, 1),
                ("factorial-of-0", "factorial", {"n": 0, "i": 1, "acc": 1}, 1),
                ("factorial", "factorial", {"n": n(5, 12), "i": 1, "acc": 1}, 1),
                ("collatz-from-1", "collatz", {"n": 1, "steps": 0}, 1),
                ("collatz", "collatz", {"n": n(2, 40), "steps": 0}, 1),
                ("collatz-long", "collatz", {"n": n(41, 99), "steps": 0}, 1),
                ("one-value-two-vars", "doubling", {"x": n(1, 9)}, 1),
                ("negative-floats", "halving", {"x": -round(float(rng.uniform(2, 50)), 3), "k": 0}, 1),
                ("two-loops", "two_loops", {"n": n(2, 12), "i": 0, "s": 0}, 1),
                ("nested-loops", "nested_loops", {"n": n(3, 6), "i": 0, "total": 0}, 2)]
        return [Case(cid, {"program": prog, "feeds": feeds}, w) for cid, prog, feeds, w in plan]

    def run(self, case, student):
        with stub_elsewhere_is_an_error(self.exercise):
            return run_program(student, P.LOOP_PROGRAMS[case.inputs["program"]], case.inputs["feeds"],
                               frames=case.inputs["program"] == "nested_loops")

    def judge(self, case, output):
        nested = case.inputs["program"] == "nested_loops"
        want, _ = python_scopes(P.LOOP_PROGRAMS[case.inputs["program"]], case.inputs["feeds"])
        fields = {"outputs": list_of(NUMBER, len(want)), "primitives": COUNTS, "loops": tuple_of(INT, INT)}
        if nested:
            fields["frames"] = list_of(tuple_of(INT, INT, INT))
        shaped = expect(output, dict_of(fields), "the result")
        if not shaped.passed:
            return shaped
        verdict = first_failure(close(output["outputs"], want, rtol=1e-12, what="outputs"),
                                _missing_primitives(output["primitives"], PRIMITIVES))
        if not verdict.passed:
            return verdict
        loops, names = output["loops"]
        if names < loops:
            return fail(f"{loops} loops were built but their Enters use {names} frame name(s): every loop needs a "
                        "frame of its own (g.unique_frame) — TensorFlow names each frame uniquely")
        if not nested:
            return PASS
        n = case.inputs["feeds"]["n"]
        expected = {(1, 0): n + 1} | {(2, k): k + 1 for k in range(n)}
        got = {(d, k): c for d, k, c in output["frames"]}
        for key, count in expected.items():
            if got.get(key) != count:
                where = "the outer loop" if key[0] == 1 else f"the inner loop of outer iteration {key[1]}"
                return fail(f"{where} ran {got.get(key, 0)} iterations in its frame (its own iteration ids)")
        return PASS if set(got) == set(expected) and len(output["frames"]) == len(got) else \
            fail("the log shows loop frames that should not exist")


class UnrollCheck(ExerciseCheck):
    exercise = "unroll"
    hint = "call body_fn n times while building (n may be 0); no Switch/Merge/Enter/Exit/NextIteration; new lists"

    def cases(self, rng):
        r = lambda: round(float(rng.normal()), 3)  # noqa: E731
        trips = [int(k) for k in rng.choice(range(2, 10), size=3, replace=False)]
        cases = [Case("n=0", {"ns": [0], "x": r(), "y": r()}), Case("n=1", {"ns": [1], "x": r(), "y": r()}),
                 Case("zeros", {"ns": [trips[0]], "x": 0.0, "y": 0.0})]
        cases += [Case(f"n={k}", {"ns": [k], "x": r(), "y": r()}) for k in trips[1:]]
        two = [int(rng.integers(1, 5)), int(rng.integers(0, 5))]
        cases.append(Case("two-unrolls", {"ns": two, "x": r(), "y": r()}))
        return cases

    def run(self, case, student):
        g = DataflowGraph()
        values = [g.placeholder("x"), g.placeholder("y")]
        unroll = student.get("unroll")
        for n in case.inputs["ns"]:   # several unrolls chain into one graph
            given = list(values)
            out = unroll(partial(P.unroll_body, P.GRAPH_MATH), n, values)
            if len(values) != 2 or any(a is not b for a, b in zip(given, values)):
                raise StudentCodeError("unroll changed the loop_vars list it was given: build new lists instead")
            if out is values:
                raise StudentCodeError(f"unroll (n={n}) returned the loop_vars list it was given: return a new "
                                       "list, even when n is 0")
            require(out, list, "unroll", "a list of graph Values (the two loop variables after n steps)")
            values = require_values(out, "unroll", 2, "the two loop variables after n steps")
        no_rules = SimpleNamespace(**{r: _refuse for r in RULE_NAMES})
        run = execute(g, no_rules, {"x": case.inputs["x"], "y": case.inputs["y"]})
        return {"outputs": [run.value(o) for o in values], "n_ops": len(g) - 2}

    def judge(self, case, output):
        shaped = expect(output, dict_of({"outputs": list_of(NUMBER, 2), "n_ops": INT}), "the result")
        if not shaped.passed:
            return shaped
        vs = [case.inputs["x"], case.inputs["y"]]
        for _ in range(sum(case.inputs["ns"])):
            vs = list(P.unroll_body(P.PY, *vs))
        body = DataflowGraph()
        P.unroll_body(P.GRAPH_MATH, body.placeholder("x"), body.placeholder("y"))
        per_body, total = len(body) - 2, sum(case.inputs["ns"])
        verdict = close(output["outputs"], vs, rtol=1e-12, what="outputs")
        if not verdict.passed:
            return verdict
        if output["n_ops"] != total * per_body:
            return fail(f"the graph has {output['n_ops']} ops; unrolling {total} times in all should give that many "
                        f"× the body's {per_body}")
        return PASS


def _refuse(*args):
    raise ExecutionError("an unrolled loop must not need control-flow primitives")


LOWERING_CHECKS = [CondCheck(), WhileLoopCheck(), UnrollCheck()]
