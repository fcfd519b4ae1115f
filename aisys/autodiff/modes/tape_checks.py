"""Lab 02 checks for reverse mode's `Tape`: the article's log format for every op (negation,
constants and the matrix product too), nested with-blocks, and entry indices.
"""
from __future__ import annotations

import numpy as np

from aisys.autodiff.modes.common import leaves, open_tape, program_case, result_of
from aisys.autodiff.programs import CONSTANT_STEPS, EVERY_OP_STEPS, F_STEPS, MATMUL_SHAPES, MATMUL_STEPS, evaluate, \
    tape_lines
from aisys.autodiff.truth import INPUTS
from aisys.grading.compare import equal
from aisys.grading.shapes import BOOL, INT, NUMBER, STR, dict_of, expect, list_of, optional, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail

COMMUTATIVE = ("add", "mul")

TAPE_PROPERTIES = {
    "outer": "ops run in the outer with-block (outside the inner one) should be recorded on the outer tape only",
    "inner": "an op run in the inner with-block should be recorded on the inner tape only",
    "restored": "when the inner with-block ends, Tape.current() should be the outer tape again",
    "z": "sin computed in the inner with-block has the wrong value",
    "after": "an op run after the inner with-block has the wrong value",
    "default_is_stable": "outside every with-block, Tape.current() should return the same default tape each time",
    "outer_exited": "when the outer with-block ends, Tape.current() should no longer be the outer tape",
    "index": "each op's output should carry its entry's position on the tape in .index (0, 1, 2, …)",
    "leaf": "a leaf Variable (made by you, not by an op) should have .index None",
    "names": "op outputs should be named v1, v2, v3, … in the order they are recorded",
    "outputs_are_entries": "tape.entries[y.index].output should be y itself",
}
NESTING = dict_of({"outer": INT, "inner": INT, "restored": BOOL, "z": NUMBER, "after": NUMBER,
                   "default_is_stable": BOOL, "outer_exited": BOOL})
INDEX = dict_of({"index": list_of(optional(INT), 3), "leaf": optional(INT), "names": list_of(STR, 3),
                 "outputs_are_entries": BOOL})


class TapeCheck(ExerciseCheck):
    exercise = "Tape"
    hint = ("record appends Entry(op, inputs, output, backward) and names the output v{k}; "
            "log() prints 'v2 = v-1 * v0', 'v3 = sin(v0)', 'v6 = -v5', 'v7 = v6 * 2.0', 'v1 = x1 @ x2'")

    def cases(self, rng):
        return [program_case(rng, "log-f", F_STEPS, names=["v-1", "v0"], weight=2),
                program_case(rng, "log-every-op", EVERY_OP_STEPS, weight=2),
                program_case(rng, "log-constants", CONSTANT_STEPS),
                program_case(rng, "log-matmul", MATMUL_STEPS, MATMUL_SHAPES),
                program_case(rng, "log-random", None),
                Case("nesting", {}), Case("index", {})]

    def run(self, case, student):
        mod = student.module("reverse_mode.py")
        if case.id == "nesting":
            with open_tape(mod) as outer:
                x = mod.Variable(1.5, name="x")
                y = x * x
                with open_tape(mod) as inner:
                    z = mod.Variable(0.5, name="z").sin()
                after = (y + x).value
                back = mod.Tape.current() is outer
            return {"outer": len(outer.entries), "inner": len(inner.entries), "restored": back,
                    "z": z.value, "after": after, "default_is_stable": mod.Tape.current() is mod.Tape.current(),
                    "outer_exited": mod.Tape.current() is not outer}
        if case.id == "index":
            with open_tape(mod) as tape:
                x = mod.Variable(0.3, name="x")
                ys = [x.sin(), x * 2.0]
                ys.append(ys[0] + ys[1])
            return {"index": [y.index for y in ys], "leaf": x.index, "names": [y.name for y in ys],
                    "outputs_are_entries": all(isinstance(y.index, int) and 0 <= y.index < len(tape.entries)
                                               and tape.entries[y.index].output is y for y in ys)}
        names = case.inputs.get("names", list(INPUTS))
        with open_tape(mod) as tape:
            evaluate(case.inputs["steps"], dict(zip(INPUTS, leaves(mod, case.inputs["values"], names))),
                     check=result_of(mod.Variable))
        return list(require(tape.log(), list_of(STR), "Tape.log", "a list of str, one line per entry"))

    def judge(self, case, output):
        if case.id in ("nesting", "index"):
            shape = NESTING if case.id == "nesting" else INDEX
            verdict = expect(output, shape, f"the {case.id} case's observations")
            if not verdict.passed:
                return verdict
            expected = ({"outer": 2, "inner": 1, "restored": True, "z": float(np.sin(0.5)), "after": 3.75,
                         "default_is_stable": True, "outer_exited": True} if case.id == "nesting" else
                        {"index": [0, 1, 2], "leaf": None, "names": ["v1", "v2", "v3"], "outputs_are_entries": True})
            return _first_broken(output, expected)
        verdict = expect(output, list_of(STR), "the tape's log")
        if not verdict.passed:
            return verdict
        names = dict(zip(INPUTS, case.inputs.get("names", INPUTS)))
        want = tape_lines(case.inputs["steps"], names)
        # the operand order of `2.0 + x` is what Variable.__radd__ recorded (the Variable check
        # judges it): the log of a commutative op may show either order
        swapped = tape_lines([(n, op, args[::-1] if op in COMMUTATIVE else args)
                              for n, op, args in case.inputs["steps"]], names)
        if len(output) != len(want):
            return fail(f"the tape holds {len(output)} entries; the program has {len(want)} primitive ops")
        for k, (got, line, other) in enumerate(zip(output, want, swapped)):
            if got not in (line, other):
                return fail(f"tape line {k + 1} is {got!r}; it should record op {case.inputs['steps'][k][1]!r} "
                            f"on its inputs in the article's format")
        return PASS


def _first_broken(output: dict, expected: dict) -> Verdict:
    """The first property of a Tape case that does not hold, as a sentence."""
    for key, want in expected.items():
        got = output.get(key)
        ok = abs(got - want) < 1e-12 if isinstance(want, float) else equal(got, want).passed
        if not ok:
            return fail(TAPE_PROPERTIES[key])
    return PASS

