"""Check of `to_ssa`. Ground truth: Python itself — the result must assign every name once
(parameters count) and return exactly what the original returns on seeded integer inputs."""
from __future__ import annotations

import ast
from collections import Counter

from aisys.dy2static.ssa_programs import ARTICLE, FIXED, LOOKALIKES, arity, random_program, run_source
from aisys.errors import StudentCodeError
from aisys.grading.compare import equal
from aisys.grading.shapes import INT, STR, describe, dict_of, expect, list_of, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail


class SSACheck(ExerciseCheck):
    exercise = "to_ssa"
    hint = ("a dict name → current version; copy it per branch; after an if, φ = then_v if cond else else_v "
            "on the saved test; a fresh name must avoid every name the source already uses")

    def cases(self, rng):
        def inputs(source: str) -> list[list[int]]:
            return [[int(v) for v in rng.integers(-9, 10, size=arity(source))] for _ in range(10)]

        def case(name: str, source: str, weight: float = 1.0) -> Case:
            return Case(name, {"source": source, "inputs": inputs(source)}, weight=weight)

        programs = [case("article", ARTICLE), case("straight-line", random_program(rng, 6, branches=False))]
        programs += [case(f"branches-{i}", random_program(rng, 5 + i), 2) for i in range(3)]
        programs.append(case("names-that-look-like-ssa", random_program(rng, 6, names=LOOKALIKES), 2))
        programs += [case(name, source) for name, source in FIXED.items()]
        return programs

    def run(self, case, student):
        source = require(student.get("to_ssa")(case.inputs["source"]), STR, "to_ssa", "a str of Python source")
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError) as err:
            raise StudentCodeError(f"to_ssa returned {describe(source)}, which is not valid Python: {err}") from None
        if not any(isinstance(node, ast.FunctionDef) and node.name == "f" for node in tree.body):
            raise StudentCodeError(f"to_ssa returned {describe(source)}, which defines no function `f`; expected "
                                   "the source of the same function in SSA form")
        try:
            outputs = run_source(source, case.inputs["inputs"])
        except Exception as err:  # the student's program, not the grader, failed
            raise StudentCodeError(f"the source to_ssa returned fails when run: {type(err).__name__}: {err}") \
                from None
        return {"source": source, "outputs": outputs}

    def judge(self, case, output):
        truth = run_source(case.inputs["source"], case.inputs["inputs"][:1])
        shape = expect(output, dict_of({"source": STR, "outputs": list_of(list_of(INT, len(truth[0])),
                                                                           len(case.inputs["inputs"]))}),
                       "to_ssa's result")
        if not shape.passed:
            return shape
        try:
            tree = ast.parse(output["source"])
        except (SyntaxError, ValueError):
            return fail("to_ssa must return valid Python source")
        funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        if not funcs:
            return fail("the result has no function definition")
        if any(isinstance(n, ast.AugAssign) for n in ast.walk(funcs[0])):
            return fail("an augmented assignment (x += ...) reassigns a name: give the result a new name")
        stores = Counter(a.arg for a in funcs[0].args.args)
        stores.update(n.id for n in ast.walk(funcs[0]) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        twice = sorted(name for name, k in stores.items() if k > 1)
        if twice:
            return fail(f"{twice[0]!r} is assigned {stores[twice[0]]} times (SSA: once; a parameter counts) — "
                        "does a fresh name collide with one the source already uses?")
        truth = run_source(case.inputs["source"], case.inputs["inputs"])
        for k, (mine, want) in enumerate(zip(output["outputs"], truth)):
            if not equal(mine, want).passed:
                return fail(f"input {k}: the SSA program returns different values than the original "
                            "(a missing or wrong φ after an if?)")
        return PASS
