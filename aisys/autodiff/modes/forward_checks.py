"""Lab 02 checks, forward mode: `Dual` and `jvp` against torch's forward-mode AD (float64).

Fixed in every seed: f, every op once, constants on either side, a negative base under a
constant power, the same Dual on both sides of an op (`a * a`), array operands that must
come back unchanged; for `jvp`, f returning a bare value, a tuple, a list, a one-element
list and a plain number among its outputs, and primals handed over as tuples.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from aisys.autodiff.modes.common import ARRAY_SHAPES, CHANGED, as_value, edited, program_case, result_of, snapshot
from aisys.autodiff.modes.reverse_checks import rule_programs
from aisys.autodiff.programs import CONSTANT_STEPS, EVERY_OP_STEPS, F_STEPS, apply, evaluate, random_program
from aisys.autodiff.truth import INPUTS, TOL, close_list, torch_jvp
from aisys.grading.compare import close
from aisys.grading.shapes import ANY, INT, array, dict_of, expect, list_of, require, tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail, first_failure


def _tangents(rng, values) -> list:
    return [float(np.round(rng.normal(), 3)) if not isinstance(v, list) else
            np.round(rng.normal(size=np.shape(v)), 3).tolist() for v in values]


def _duals(mod, values, tangents) -> list:
    return [mod.Dual(as_value(v), as_value(t)) for v, t in zip(values, tangents)]


def _tangent_like(tangent: Any, value: Any) -> Any:
    """A constant output's tangent may be a plain 0 even where the value is an array."""
    if tangent is not None and np.ndim(tangent) == 0 and np.ndim(value):
        return np.full(np.shape(value), float(tangent))
    return tangent


NUMBERS = array()   # a number or an array of any shape: the exact shape is compared after


class DualCheck(ExerciseCheck):
    exercise = "Dual"
    hint = ("lift plain numbers to Dual(c, 0); product rule ȧb + aḃ; quotient (ȧb − aḃ)/b²; sin → cos·ȧ; "
            "a ** b adds the ln(a) term only when ḃ ≠ 0; every op returns a new Dual, operands untouched")
    RULE_LEAVES = {"a": "x1", "b": "x2"}   # the rule programs' leaves, as torch_jvp names them

    def cases(self, rng):
        positive = [float(np.round(rng.uniform(0.5, 2.0), 3)) for _ in range(2)]   # log and pow need a > 0
        arrays = [(np.abs(rng.normal(size=(2, 3))) + 0.25).round(3).tolist() for _ in range(2)]   # same shape:
        # an in-place `+=` would work on them, and must still not happen (broadcasting: the `arrays` case)
        cases = [program_case(rng, "f", F_STEPS), program_case(rng, "constants", CONSTANT_STEPS, weight=2),
                 program_case(rng, "every-op", EVERY_OP_STEPS), program_case(rng, "random-0", None),
                 program_case(rng, "random-1", None), program_case(rng, "arrays", None, ARRAY_SHAPES, weight=2),
                 Case("rules-every-op", {"rules": "every-op", "values": positive}, 2),
                 Case("rules-negative-base", {"rules": "constants",
                                              "values": [float(np.round(rng.uniform(-2.0, -0.5), 3)), 1.0]}),
                 Case("rules-same-operand", {"rules": "same-operand", "values": positive}),
                 Case("rules-arrays-untouched", {"rules": "every-op", "values": arrays}, 2)]
        for case in cases:
            case.inputs["tangents"] = _tangents(rng, case.inputs["values"])
        return cases

    @staticmethod
    def _rules(case) -> list:
        kind = case.inputs["rules"]
        return rule_programs(constants=kind == "constants", same_operand=kind == "same-operand")

    def run(self, case, student):
        i = case.inputs
        mod = student.module("forward_mode.py")
        if "rules" not in i:
            env = evaluate(i["steps"], dict(zip(INPUTS, _duals(mod, i["values"], i["tangents"]))),
                           check=result_of(mod.Dual))
            out = env[i["output"]]
            return {"value": out.value, "tangent": out.tangent}
        ops, changed = {}, []
        for label, op, args in self._rules(case):
            env = dict(zip("ab", _duals(mod, i["values"], i["tangents"])))
            before = snapshot(env["a"].value, env["a"].tangent, env["b"].value, env["b"].tangent)
            y = require(apply(op, [env[x] if isinstance(x, str) else x for x in args]),
                        lambda v: isinstance(v, mod.Dual), f"Dual {label}", "a new Dual")
            ops[label] = {"value": y.value, "tangent": y.tangent}
            changed += edited(before, [env["a"].value, env["a"].tangent, env["b"].value, env["b"].tangent],
                              [f"{label}: a.value", f"{label}: a.tangent", f"{label}: b.value",
                               f"{label}: b.tangent"])
        return {"ops": ops, "changed": changed}

    def judge(self, case, output):
        i = case.inputs
        if "rules" not in i:
            verdict = expect(output, dict_of({"value": NUMBERS, "tangent": NUMBERS}), "the program's result")
            if not verdict.passed:
                return verdict
            values, dots = torch_jvp(i["steps"], [i["output"]], i["values"], i["tangents"])
            return first_failure(close(output["value"], values[0], what="the result's value", **TOL),
                                 close(_tangent_like(output["tangent"], values[0]), dots[0],
                                       what="the result's tangent", **TOL))
        rules = self._rules(case)
        verdict = expect(output, dict_of({"ops": dict_of({label: dict_of({"value": NUMBERS, "tangent": NUMBERS})
                                                          for label, _, _ in rules}), "changed": CHANGED}),
                         "the rules' results")
        if not verdict.passed:
            return verdict
        if output["changed"]:
            return fail(f"an op edited its operand in place ({output['changed'][0]}): return a new Dual")
        for label, op, args in rules:
            step = ("y", op, [self.RULE_LEAVES.get(x, x) if isinstance(x, str) else x for x in args])
            values, dots = torch_jvp([step], ["y"], i["values"], i["tangents"])
            got = output["ops"][label]
            verdict = first_failure(
                close(got["value"], values[0], what=f"the value of {label}", **TOL),
                close(_tangent_like(got["tangent"], values[0]), dots[0], what=f"the tangent of {label}", **TOL))
            if not verdict.passed:
                return verdict
        return PASS


class JvpCheck(ExerciseCheck):
    exercise = "jvp"
    hint = ("f(*[Dual(p, t) for p, t in zip(primals, tangents)]), once; return (values, tangents) shaped like f's "
            "result: a bare value for a bare value, lists for a tuple or a list")
    SHAPES = (("one-output", 1, "bare", "list", ((), ())), ("tuple-of-two", 2, "tuple", "list", ((), ())),
              ("list-of-three", 3, "list", "list", ((), ())), ("one-element-list", 1, "list", "tuple", ((), ())),
              ("with-a-constant-output", 2, "tuple", "list", ((), ())),
              ("primals-as-tuples", 2, "list", "tuple", ((), ())), ("arrays", 2, "tuple", "list", ARRAY_SHAPES))

    def cases(self, rng):
        cases = []
        for cid, outputs, returns, given, shapes in self.SHAPES:
            steps, outs = random_program(rng, int(rng.integers(5, 10)), outputs=outputs)
            case = program_case(rng, cid, steps, shapes, weight=2 if cid in ("list-of-three", "arrays") else 1)
            case.inputs.update(outputs=outs, returns=returns, given=given,
                               tangents=_tangents(rng, case.inputs["values"]))
            if "constant" in cid:
                case.inputs["constant"] = 2.5   # f also returns a plain number: its tangent is 0
            cases.append(case)
        return cases

    def run(self, case, student):
        i = case.inputs
        runs = {"f": 0}

        def f(*xs):
            runs["f"] += 1
            env = evaluate(i["steps"], dict(zip(INPUTS, xs)))
            outs = [env[o] for o in i["outputs"]] + ([i["constant"]] if "constant" in i else [])
            return outs[0] if i["returns"] == "bare" else tuple(outs) if i["returns"] == "tuple" else outs

        container = tuple if i["given"] == "tuple" else list
        primals, tangents = (container(as_value(v) for v in i[k]) for k in ("values", "tangents"))
        before = snapshot(*primals, *tangents)
        result = require(student.get("jvp")(f, primals, tangents), tuple_of(ANY, ANY), "jvp",
                         "a pair (outputs, output_tangents)")
        values, dots = result
        changed = edited(before, [*primals, *tangents], [f"primal {k}" for k in range(len(primals))]
                         + [f"tangent {k}" for k in range(len(tangents))])
        if i["returns"] != "bare":
            m = len(i["outputs"]) + ("constant" in i)
            values = require(values, list_of(ANY, m), "jvp's outputs", f"a list of {m}, like f's result")
            dots = require(dots, list_of(ANY, m), "jvp's output tangents", f"a list of {m}, like f's result")
            values, dots = list(values), list(dots)
        else:
            values, dots = [values], [dots]
        return {"values": values, "tangents": dots, "f_runs": runs["f"], "changed": changed}

    def judge(self, case, output):
        i = case.inputs
        m = len(i["outputs"]) + ("constant" in i)
        verdict = expect(output, dict_of({"values": list_of(NUMBERS, m), "tangents": list_of(NUMBERS, m),
                                          "f_runs": INT, "changed": CHANGED}), "jvp's results")
        if not verdict.passed:
            return verdict
        values, dots = torch_jvp(i["steps"], i["outputs"], i["values"], i["tangents"])
        if "constant" in i:
            values, dots = values + [np.float64(i["constant"])], dots + [np.float64(0.0)]
        count = range(m)
        tangents = [_tangent_like(t, v) for t, v in zip(output["tangents"], values)]
        verdict = first_failure(close_list(output["values"], values, [f"the value of output {k}" for k in count], **TOL),
                                close_list(tangents, dots, [f"the tangent of output {k}" for k in count], **TOL))
        if verdict.passed and output["f_runs"] != 1:
            return fail(f"the results are right, but jvp ran f {output['f_runs']} times: forward mode gets the "
                        "value and the tangent from one run of f on Dual numbers")
        if verdict.passed and output["changed"]:
            return fail(f"jvp changed its arguments ({output['changed'][0]})")
        return verdict
