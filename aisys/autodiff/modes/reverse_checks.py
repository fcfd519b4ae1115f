"""Lab 02 checks for reverse mode: `Variable`, `Tape`, `grad` against torch.autograd.grad.

Programs are seeded random trees plus fixed ones that catch the classic mistakes: a leaf
read on several paths, a non-leaf reused, `grad` called twice, constants on either side,
broadcasting, and `grad` of `grad` (torch with `create_graph=True`).
"""
from __future__ import annotations

import numpy as np

from aisys.autodiff.programs import (CONSTANT_STEPS, F_STEPS, FAN_OUT_STEPS, NONLEAF_REUSE_STEPS,
                                     apply, evaluate, random_program, tape_lines)
from aisys.autodiff.truth import INPUTS, close_list, tensors, torch_grad, torch_value
from aisys.grading.compare import close, equal
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail, first_failure

TOL = {"rtol": 1e-7, "atol": 1e-9}
ARRAY_SHAPES = ([3, 1], [4])


def _draw(rng, shapes=((), ())) -> list:
    return [float(np.round(rng.uniform(0.5, 2.0), 3)) if not s else
            np.round(rng.uniform(-2.0, 2.0, size=s), 3).tolist() for s in shapes]


def program_case(rng, cid: str, steps=None, shapes=((), ()), weight: float = 1.0, **extra) -> Case:
    """A case holding a program (a fixed one, or a random one when `steps` is None)."""
    if steps is None:
        steps, outs = random_program(rng, int(rng.integers(5, 12)))
        output = outs[-1]
    else:
        output = steps[-1][0]
    return Case(cid, {"steps": [list(s) for s in steps], "output": output,
                      "values": _draw(rng, shapes), **extra}, weight)


UNARY_RULES = {"neg": "-a", "sin": "sin(a)", "cos": "cos(a)", "exp": "exp(a)", "log": "log(a)", "tanh": "tanh(a)"}
BINARY_RULES = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "pow": "a ** b"}
CONSTANT_RULES = [("2 - a", "sub", [2.0, "a"]), ("a ** 3", "pow", ["a", 3.0]), ("1.5 ** a", "pow", [1.5, "a"]),
                  ("1 / a", "div", [1.0, "a"]), ("a * 0.5", "mul", ["a", 0.5])]


def rule_programs(constants: bool = False, unary: bool = True) -> list[tuple[str, str, list]]:
    """(label, op, args) of the one-op programs over leaves "a" and "b" that test each rule:
    every op (unary ones only when `unary`), or constants on either side."""
    if constants:
        return CONSTANT_RULES
    ops = [(label, op, ["a"]) for op, label in UNARY_RULES.items()] if unary else []
    return ops + [(label, op, ["a", "b"]) for op, label in BINARY_RULES.items()]


def _leaves(mod, values, names=INPUTS):
    return [mod.Variable(np.asarray(v, dtype=float) if isinstance(v, list) else float(v), name=n)
            for v, n in zip(values, names)]


class VariableCheck(ExerciseCheck):
    exercise = "Variable"
    hint = ("each op: numpy for the value, and a backward rule written with Variable ops; "
            "binary rules go through _unbroadcast; lift plain numbers with _lift")

    def cases(self, rng):
        return [
            program_case(rng, "values-f", F_STEPS),
            program_case(rng, "values-constants", CONSTANT_STEPS),
            program_case(rng, "values-random", None),
            program_case(rng, "values-arrays", None, ARRAY_SHAPES),
            Case("rules-scalar", {"shapes": [[], []], "values": _draw(rng), "g": float(rng.normal())}, 2),
            Case("rules-broadcast", {"shapes": ARRAY_SHAPES, "values": _draw(rng, ARRAY_SHAPES),
                                     "g": rng.normal(size=(3, 4)).round(3).tolist()}, 2),
            Case("rules-constants", {"shapes": [[], []], "values": _draw(rng), "g": 1.0, "constants": True}, 2),
            Case("rules-second-order", {"shapes": [[], []], "values": _draw(rng), "g": float(rng.normal()),
                                        "order": 2}, 2),
        ]

    def _ops(self, case):
        """(label, op, arg spec) for each single-op program a rules case runs."""
        return rule_programs(bool(case.inputs.get("constants")), unary=not case.inputs["shapes"][0])

    def _inputs(self, case):
        # log and pow need positive arguments
        return tuple(np.abs(np.asarray(v, dtype=float)) + 0.25 for v in case.inputs["values"])

    def run(self, case, student):
        mod = student.module("reverse_mode.py")
        if "steps" in case.inputs:
            leaves = _leaves(mod, case.inputs["values"])
            return evaluate(case.inputs["steps"], dict(zip(INPUTS, leaves)))[case.inputs["output"]].value
        a, b = self._inputs(case)
        g = np.asarray(case.inputs["g"], dtype=float)
        out = {}
        for label, op, args in self._ops(case):
            with mod.Tape() as tape:
                env = {"a": mod.Variable(a, name="a"), "b": mod.Variable(b, name="b")}
                start = len(tape.entries)
                y = apply(op, [env[x] if isinstance(x, str) else x for x in args])
                leaves = [env[x] for x in dict.fromkeys(x for x in args if isinstance(x, str))]
                if case.inputs.get("order") == 2:   # sweep once keeping the graph, then sweep each gradient
                    first = _sweep(mod, tape.entries[start:], y, leaves, mod.Variable(g, name="g"), taped=True)
                    out[label] = [0.0 if d is None else d for gj in first for d in (
                        [None] * len(leaves) if gj is None else
                        _sweep(mod, tape.entries[start:], gj, leaves, np.ones_like(np.asarray(gj.value, dtype=float))))]
                else:
                    out[label] = _sweep(mod, tape.entries[start:], y, leaves, g)
        return out

    def judge(self, case, output):
        if "steps" in case.inputs:
            want = torch_value(case.inputs["steps"], case.inputs["output"], case.inputs["values"])
            return close(output, want, what="the program's value", **TOL)
        import torch

        a, b = tensors(self._inputs(case), requires_grad=True)
        g = tensors([case.inputs["g"]])[0]
        if not isinstance(output, dict):
            return fail("the rules should give a gradient for each op's inputs")
        for label, op, args in self._ops(case):
            env = {"a": a, "b": b}
            y = apply(op, [env[x] if isinstance(x, str) else x for x in args])
            used = [env[x] for x in dict.fromkeys(x for x in args if isinstance(x, str))]
            leaf_names = list(dict.fromkeys(x for x in args if isinstance(x, str)))
            if case.inputs.get("order") == 2:
                want = [t.numpy() for t in _second_derivatives(y, used, g)]
                names = [f"the second derivative of {label}: ∂/∂{x} of its gradient with respect to {j}"
                         for j in leaf_names for x in leaf_names]
            else:
                want = [t.numpy() for t in torch.autograd.grad(y, used, g)]
                names = [f"the gradient of {label} with respect to {x}" for x in leaf_names]
            verdict = close_list(output.get(label), want, names, **TOL)
            if not verdict.passed:
                return verdict if case.inputs.get("order") != 2 else fail(
                    f"{verdict.message} — a rule must build its gradient with Variable ops (a value computed "
                    "with numpy on .value is a constant to the next grad)")
        return PASS


def _sweep(mod, entries: list, y, leaves: list, g, taped: bool = False) -> list:
    """The gradient of `leaves` through the entries one op recorded, by the checker's own
    sweep over *the student's* backward rules (so an op built from several primitives, like
    `2 - a` as `(-a) + 2`, is judged by what it computes, not how).

    Numbers (numpy) by default; `taped=True` seeds with the Variable `g` and adds the
    student's gradients as Variables, so the result can be swept again (second order)."""
    adjoint = {id(y): g}
    for entry in reversed(list(entries)):
        if id(entry.output) not in adjoint:
            continue
        seed = adjoint[id(entry.output)]
        grads = entry.backward(seed if taped else mod.Variable(seed, name="g"), entry.output)
        for x, gx in zip(entry.inputs, grads):
            if gx is None or getattr(x, "constant", False):
                continue
            if taped:
                adjoint[id(x)] = adjoint[id(x)] + gx if id(x) in adjoint else gx
            else:
                adjoint[id(x)] = adjoint.get(id(x), 0.0) + np.asarray(gx.value, dtype=float)
    return [adjoint.get(id(leaf)) for leaf in leaves]


def _second_derivatives(y, used: list, g) -> list:
    """torch: ∂/∂x of (the gradient of y, seeded with g, with respect to j), for j, then x, in used."""
    import torch

    result = []
    for first in torch.autograd.grad(y, used, g, create_graph=True):
        got = (torch.autograd.grad(first, used, torch.ones_like(first), allow_unused=True, retain_graph=True)
               if first.requires_grad else [None] * len(used))
        result += [torch.zeros_like(x) if d is None else d for d, x in zip(got, used)]
    return result


class TapeCheck(ExerciseCheck):
    exercise = "Tape"
    hint = ("record appends Entry(op, inputs, output, backward) and names the output v{k}; "
            "log() prints 'v2 = v-1 * v0', 'v3 = sin(v0)', 'v6 = -v5'")

    def cases(self, rng):
        return [program_case(rng, "log-f", F_STEPS, names=["v-1", "v0"], weight=2),
                program_case(rng, "log-constants", CONSTANT_STEPS),
                program_case(rng, "log-random", None, weight=2),
                Case("nesting", {}), Case("index", {})]

    def run(self, case, student):
        mod = student.module("reverse_mode.py")
        if case.id == "nesting":
            with mod.Tape() as outer:
                x = mod.Variable(1.5, name="x")
                y = x * x
                with mod.Tape() as inner:
                    z = mod.Variable(0.5, name="z").sin()
                after = (y + x).value
                back = mod.Tape.current() is outer
            return {"outer": len(outer.entries), "inner": len(inner.entries), "restored": back,
                    "z": z.value, "after": after, "default_is_stable": mod.Tape.current() is mod.Tape.current(),
                    "outer_exited": mod.Tape.current() is not outer}
        if case.id == "index":
            with mod.Tape() as tape:
                x = mod.Variable(0.3, name="x")
                ys = [x.sin(), x * 2.0]
                ys.append(ys[0] + ys[1])
            return {"index": [y.index for y in ys], "leaf": x.index, "names": [y.name for y in ys],
                    "outputs_are_entries": all(tape.entries[y.index].output is y for y in ys)}
        names = case.inputs.get("names", list(INPUTS))
        with mod.Tape() as tape:
            leaves = _leaves(mod, case.inputs["values"], names)
            evaluate(case.inputs["steps"], dict(zip(INPUTS, leaves)))
        return list(tape.log())

    def judge(self, case, output):
        if case.id == "nesting":
            return _first_broken(output, {"outer": 2, "inner": 1, "restored": True, "z": float(np.sin(0.5)),
                                          "after": 3.75, "default_is_stable": True, "outer_exited": True})
        if case.id == "index":
            return _first_broken(output, {"index": [0, 1, 2], "leaf": None, "names": ["v1", "v2", "v3"],
                                          "outputs_are_entries": True})
        names = dict(zip(INPUTS, case.inputs.get("names", INPUTS)))
        want = tape_lines(case.inputs["steps"], names)
        if not isinstance(output, list) or len(output) != len(want):
            return fail(f"the tape holds {len(output) if isinstance(output, list) else '?'} entries; "
                        f"the program has {len(want)} primitive ops")
        for i, (got, line) in enumerate(zip(output, want)):
            if got != line:
                return fail(f"tape line {i + 1} is {got!r}; it should record op {case.inputs['steps'][i][1]!r} "
                            f"on its inputs in the article's format")
        return PASS


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


def _first_broken(output: dict, expected: dict) -> Verdict:
    """The first property of a Tape case that does not hold, as a sentence."""
    for key, want in expected.items():
        if not equal(output.get(key), want).passed:
            return fail(TAPE_PROPERTIES[key])
    return PASS


class GradCheck(ExerciseCheck):
    exercise = "grad"
    hint = "accumulate with adj[x] = adj[x] + g (never overwrite), and write every rule with Variable ops"

    def cases(self, rng):
        return [
            program_case(rng, "f", F_STEPS),
            program_case(rng, "random-0", None), program_case(rng, "random-1", None),
            program_case(rng, "random-2", None),
            program_case(rng, "fan-out-leaf", FAN_OUT_STEPS, weight=2),
            program_case(rng, "nonleaf-reuse", NONLEAF_REUSE_STEPS, weight=2),
            program_case(rng, "called-twice", None, weight=2, twice=True),
            program_case(rng, "constants", CONSTANT_STEPS),
            program_case(rng, "broadcast", None, ARRAY_SHAPES, weight=2),
            program_case(rng, "second-order-f", F_STEPS, order=2),
            program_case(rng, "second-order-random", None, weight=2, order=2),
            program_case(rng, "second-order-broadcast", None, ARRAY_SHAPES, order=2),
            program_case(rng, "unused-array-input", FAN_OUT_STEPS, ARRAY_SHAPES),   # x2, shape (4,), unused
        ]

    def run(self, case, student):
        mod = student.module("reverse_mode.py")
        grad = student.get("grad")
        leaves = _leaves(mod, case.inputs["values"])
        y = evaluate(case.inputs["steps"], dict(zip(INPUTS, leaves)))[case.inputs["output"]]
        first = grad(y, leaves)
        result = [g.value for g in first]
        if case.inputs.get("twice"):
            return {"first": result, "second": [g.value for g in grad(y, leaves)]}
        if case.inputs.get("order") == 2:
            return [g.value for g in grad(first[0], leaves)]
        return result

    def judge(self, case, output):
        i = case.inputs
        order = i.get("order", 1)
        want = torch_grad(i["steps"], i["output"], i["values"], order=order)
        names = ([f"the gradient ∂y/∂{x}" for x in INPUTS] if order == 1 else
                 [f"the second derivative ∂²y/∂x1∂{x}" for x in INPUTS])
        if i.get("twice"):
            if not isinstance(output, dict):
                return fail("grad should return the gradients on both calls")
            return first_failure(close_list(output.get("first"), want, names, **TOL),
                                 close_list(output.get("second"), want, [f"{n} from the second call" for n in names],
                                            **TOL))
        return close_list(output, want, names, **TOL)


__all__ = ["GradCheck", "TapeCheck", "VariableCheck", "program_case", "rule_programs"]
