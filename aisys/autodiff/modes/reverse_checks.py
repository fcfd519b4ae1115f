"""Lab 02 checks for reverse mode's `Variable`: values and backward rules (`Tape`: tape_checks.py).

Each rule is judged by what it computes, through the checker's own sweep over the student's
recorded entries (`_sweep`), against torch.autograd.grad — first order, and second order
(a rule computed with numpy on `.value` is a constant to the next sweep). Fixed in every
seed: every op, constants on either side, broadcasting, the same operand twice, operands
that must come back unchanged, a matrix product and a sum (first and second order), and
the memory the matmul rule allocates (a VJP, never the Jacobian).
"""
from __future__ import annotations

import tracemalloc

import numpy as np

from aisys.autodiff.modes.common import (ARRAY_SHAPES, CHANGED, draw, edited, gradients, leaves, open_tape,
                                         program_case, result_of)
from aisys.autodiff.programs import (CONSTANT_STEPS, EVERY_OP_STEPS, F_STEPS, MATMUL_SHAPES, MATMUL_STEPS, apply,
                                     evaluate)
from aisys.autodiff.truth import INPUTS, TOL, close_list, tensors, torch_value
from aisys.grading.compare import close
from aisys.grading.shapes import INT, STR, array, dict_of, expect, list_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail

UNARY_RULES = {"neg": "-a", "sin": "sin(a)", "cos": "cos(a)", "exp": "exp(a)", "log": "log(a)", "tanh": "tanh(a)"}
BINARY_RULES = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "pow": "a ** b"}
CONSTANT_RULES = [("2 - a", "sub", [2.0, "a"]), ("a ** 3", "pow", ["a", 3.0]), ("1.5 ** a", "pow", [1.5, "a"]),
                  ("1 / a", "div", [1.0, "a"]), ("a * 0.5", "mul", ["a", 0.5])]
SAME_OPERAND_RULES = [(label.replace("b", "a"), op, ["a", "a"]) for op, label in BINARY_RULES.items()]
MATRIX_RULES = [("a @ b", "matmul", ["a", "b"]), ("sum(a)", "sum", ["a"])]
#: (label, op, number): `number op a`, a reflected op — one entry, the forward op's, operands as written
REFLECTED = [("2.0 + a", "add", 2.0), ("2.0 - a", "sub", 2.0), ("2.0 * a", "mul", 2.0), ("2.0 / a", "div", 2.0),
             ("1.5 ** a", "pow", 1.5)]
RECORDED = dict_of({"entries": INT, "op": STR, "forward_op": STR, "inputs": list_of(STR)})
MEMORY_SHAPES = ([40, 30], [30, 50])   # the Jacobian of a @ b wrt a alone would hold 2000 × 1200 numbers
MEMORY_FACTOR = 16                     # peak bytes allowed per byte of a, b and g


def rule_programs(constants: bool = False, unary: bool = True, same_operand: bool = False,
                  matrix: bool = False) -> list[tuple[str, str, list]]:
    """(label, op, args) of the one-op programs over leaves "a" and "b" that test each rule."""
    if constants:
        return CONSTANT_RULES
    if same_operand:
        return SAME_OPERAND_RULES
    if matrix:
        return MATRIX_RULES
    ops = [(label, op, ["a"]) for op, label in UNARY_RULES.items()] if unary else []
    return ops + [(label, op, ["a", "b"]) for op, label in BINARY_RULES.items()]


class VariableCheck(ExerciseCheck):
    exercise = "Variable"
    hint = ("each op: numpy for a new value, and a backward rule written with Variable ops (a VJP: g @ b.T, never "
            "the Jacobian); binary elementwise rules go through _unbroadcast; lift plain numbers with _lift")

    def cases(self, rng):
        def rules(cid: str, kind: str, shapes, weight: float = 1.0, **extra) -> Case:
            return Case(cid, {"rules": kind, "shapes": [list(s) for s in shapes], "values": draw(rng, shapes),
                              "g_seed": int(rng.integers(2 ** 31)), **extra}, weight)

        return [
            program_case(rng, "values-f", F_STEPS), program_case(rng, "values-constants", CONSTANT_STEPS),
            program_case(rng, "values-every-op", EVERY_OP_STEPS), program_case(rng, "values-random", None),
            program_case(rng, "values-arrays", None, ARRAY_SHAPES),
            program_case(rng, "values-matmul", MATMUL_STEPS, MATMUL_SHAPES),
            rules("rules-scalar", "every-op", ((), ()), 2), rules("rules-broadcast", "every-op", ARRAY_SHAPES, 2),
            rules("rules-constants", "constants", ((), ())),
            rules("rules-second-order", "every-op", ((), ()), 2, order=2),
            rules("rules-same-operand", "same-operand", ((), ())),
            rules("rules-arrays-untouched", "untouched", ([2, 3], [2, 3])),   # an in-place += would work here
            rules("rules-matrix", "matrix", MATMUL_SHAPES, 2),
            rules("rules-matrix-second-order", "matrix", MATMUL_SHAPES, order=2),
            rules("rules-matmul-memory", "memory", MEMORY_SHAPES, 2),
            Case("reflected-ops", {"reflected": True, "values": [0.75]}),
        ]

    @staticmethod
    def _ops(case) -> list:
        kind = case.inputs["rules"]
        if kind == "memory":
            return MATRIX_RULES[:1]
        return rule_programs(kind == "constants", unary=not case.inputs["shapes"][0] or kind in ("matrix", "untouched"),
                             same_operand=kind == "same-operand", matrix=kind == "matrix")

    @staticmethod
    def _inputs(case) -> tuple:
        # log and pow need positive arguments
        return tuple(np.abs(np.asarray(v, dtype=float)) + 0.25 for v in case.inputs["values"])

    @staticmethod
    def _seed(case, y_shape) -> np.ndarray:
        """The upstream gradient g for an op's output: seeded, shaped like that output."""
        return np.random.default_rng(case.inputs["g_seed"]).normal(size=tuple(y_shape)).round(3)

    def run(self, case, student):
        mod = student.module("reverse_mode.py")
        if case.inputs.get("reflected"):
            return _recorded_reflected(mod, case.inputs["values"][0])
        if "steps" in case.inputs:
            with open_tape(mod):
                env = evaluate(case.inputs["steps"], dict(zip(INPUTS, leaves(mod, case.inputs["values"]))),
                               check=result_of(mod.Variable))
            return env[case.inputs["output"]].value
        a, b = self._inputs(case)
        out, changed = {}, []
        for label, op, args in self._ops(case):
            with open_tape(mod) as tape:
                env = {"a": mod.Variable(a.copy(), name="a"), "b": mod.Variable(b.copy(), name="b")}
                start = len(tape.entries)
                y = apply(op, [env[x] if isinstance(x, str) else x for x in args])
                result_of(mod.Variable)(op, y)
                used = [env[x] for x in dict.fromkeys(x for x in args if isinstance(x, str))]
                g = self._seed(case, np.shape(y.value))
                if case.inputs["rules"] == "memory":
                    out[label], out["peak_bytes"] = _measured_sweep(mod, tape.entries[start:], y, used, g)
                elif case.inputs.get("order") == 2:   # sweep once keeping the graph, then sweep each gradient
                    first = _sweep(mod, tape.entries[start:], y, used, mod.Variable(g, name="g"), taped=True)
                    out[label] = []
                    for gj in first:
                        out[label] += ([np.zeros_like(np.asarray(x.value, dtype=float)) for x in used] if gj is None
                                       else _sweep(mod, tape.entries[start:], gj, used,
                                                   np.ones_like(np.asarray(gj.value, dtype=float))))
                else:
                    out[label] = _sweep(mod, tape.entries[start:], y, used, g)
            changed += edited([a, b], [env["a"].value, env["b"].value], [f"{label}: a.value", f"{label}: b.value"])
        return {"grads": out, "changed": changed} if case.inputs["rules"] != "memory" else \
            {"grads": {k: v for k, v in out.items() if k != "peak_bytes"}, "peak_bytes": out["peak_bytes"],
             "changed": changed}

    def judge(self, case, output):
        if case.inputs.get("reflected"):
            return _judge_reflected(output)
        if "steps" in case.inputs:
            verdict = expect(output, array(), "the program's value")
            if not verdict.passed:
                return verdict
            want = torch_value(case.inputs["steps"], case.inputs["output"], case.inputs["values"])
            return close(output, want, what="the program's value", **TOL)
        ops, order = self._ops(case), case.inputs.get("order", 1)
        sizes = {label: len(dict.fromkeys(x for x in args if isinstance(x, str))) for label, _, args in ops}
        fields = {"grads": dict_of({label: list_of(array(), n * n if order == 2 else n)
                                    for label, n in sizes.items()}), "changed": CHANGED}
        if case.inputs["rules"] == "memory":
            fields["peak_bytes"] = INT
        verdict = expect(output, dict_of(fields), "the rules' gradients")
        if not verdict.passed:
            return verdict
        if output["changed"]:
            return fail(f"an op edited its operand in place ({output['changed'][0]}): compute a new value")
        verdict = self._compare_rules(case, output["grads"], ops, order)
        if verdict.passed and case.inputs["rules"] == "memory":
            budget = MEMORY_FACTOR * sum(int(np.prod(s)) * 8 for s in (*MEMORY_SHAPES, (40, 50)))
            if output["peak_bytes"] > budget:
                return fail(f"the gradients of a @ b are right, but its backward rule allocated "
                            f"{output['peak_bytes'] / 1e6:.1f} MB for (40×30) @ (30×50) — more than "
                            f"{budget / 1e6:.1f} MB: a VJP is g @ b.T and a.T @ g, never the Jacobian")
        return verdict

    def _compare_rules(self, case, grads: dict, ops: list, order: int) -> Verdict:
        import torch

        a, b = tensors(self._inputs(case), requires_grad=True)
        for label, op, args in ops:
            env = {"a": a, "b": b}
            y = apply(op, [env[x] if isinstance(x, str) else x for x in args])
            names = list(dict.fromkeys(x for x in args if isinstance(x, str)))
            used = [env[x] for x in names]
            g = torch.tensor(self._seed(case, tuple(y.shape)), dtype=torch.float64)
            if order == 2:
                want = [t.numpy() for t in _second_derivatives(y, used, g)]
                what = [f"the second derivative of {label}: ∂/∂{x} of its gradient with respect to {j}"
                        for j in names for x in names]
            else:
                want = [t.numpy() for t in torch.autograd.grad(y, used, g)]
                what = [f"the gradient of {label} with respect to {x}" for x in names]
            verdict = close_list(grads[label], want, what, **TOL)
            if not verdict.passed:
                return verdict if order != 2 else fail(
                    f"{verdict.message} — a rule must build its gradient with Variable ops (a value computed "
                    "with numpy on .value is a constant to the next grad)")
        return PASS


def _recorded_reflected(mod, value: float) -> dict:
    """What each reflected op (`2.0 - a`) recorded: entries, their op, the forward op's
    (`a - 2.0`), and the operands in recorded order ("a", the lifted number's value, or
    "another Variable")."""
    out = {}
    for label, op, number in REFLECTED:
        with open_tape(mod) as tape:
            a = mod.Variable(value, name="a")
            start = len(tape.entries)
            result_of(mod.Variable)(op, apply(op, [number, a]))
            entries = tape.entries[start:]
            mid = len(tape.entries)
            result_of(mod.Variable)(op, apply(op, [a, number]))
            forward = tape.entries[mid:]
        last = entries[-1] if entries else None
        out[label] = {"entries": len(entries), "op": str(getattr(last, "op", "")),
                      "forward_op": str(getattr(forward[-1], "op", "")) if forward else "",
                      "inputs": [] if last is None else [
                          "a" if x is a else repr(float(x.value)) if getattr(x, "constant", False)
                          and np.ndim(x.value) == 0 else "another Variable" for x in last.inputs]}
    return out


def _judge_reflected(output) -> Verdict:
    verdict = expect(output, dict_of({label: RECORDED for label, _, _ in REFLECTED}), "the reflected ops' entries")
    if not verdict.passed:
        return verdict
    for label, op, number in REFLECTED:
        got = output[label]
        if got["entries"] != 1:
            return fail(f"{label} recorded {got['entries']} tape entries; a reflected op lifts the number and "
                        "reuses the forward op: one entry")
        if got["op"] != got["forward_op"]:
            num, symbol, a = label.split()
            return fail(f"{label} recorded op {got['op']!r}, but {a} {symbol} {num} records {got['forward_op']!r}: "
                        "a reflected op reuses the forward op")
        if got["inputs"] != [repr(number), "a"]:
            return fail(f"{label} recorded its operands as {got['inputs']}: the lifted number comes first, as "
                        "written, so the tape shows one entry like `v1 = 2.0 - x`")
    return PASS


def _sweep(mod, entries: list, y, used: list, g, taped: bool = False) -> list:
    """The gradient of `used` through the entries one op recorded, by the checker's own
    sweep over *the student's* backward rules (so an op built from several primitives, like
    `2 - a` as `(-a) + 2`, is judged by what it computes, not how).

    Numbers (numpy) by default; `taped=True` seeds with the Variable `g` and adds the
    student's gradients as Variables, so the result can be swept again (second order)."""
    adjoint = {id(y): g}
    for entry in reversed(list(entries)):
        if id(entry.output) not in adjoint:
            continue
        seed = adjoint[id(entry.output)]
        grads = gradients(entry.backward(seed if taped else mod.Variable(seed, name="g"), entry.output),
                          len(entry.inputs), f"the backward rule of {entry.op!r}", mod.Variable)
        for x, gx in zip(entry.inputs, grads):
            if gx is None or getattr(x, "constant", False):
                continue
            if taped:
                adjoint[id(x)] = adjoint[id(x)] + gx if id(x) in adjoint else gx
            else:
                adjoint[id(x)] = adjoint.get(id(x), 0.0) + np.asarray(gx.value, dtype=float)
    return [adjoint.get(id(x)) if taped else adjoint.get(id(x), np.zeros_like(np.asarray(x.value, dtype=float)))
            for x in used]


def _measured_sweep(mod, entries: list, y, used: list, g) -> tuple[list, int]:
    """`_sweep`, with the peak memory Python and numpy allocate meanwhile (tracemalloc)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        grads = _sweep(mod, entries, y, used, g)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if started:
            tracemalloc.stop()
    return grads, int(peak)


def _second_derivatives(y, used: list, g) -> list:
    """torch: ∂/∂x of (the gradient of y, seeded with g, with respect to j), for j, then x, in used."""
    import torch

    result = []
    for first in torch.autograd.grad(y, used, g, create_graph=True):
        got = (torch.autograd.grad(first, used, torch.ones_like(first), allow_unused=True, retain_graph=True)
               if first.requires_grad else [None] * len(used))
        result += [torch.zeros_like(x) if d is None else d for d, x in zip(got, used)]
    return result


__all__ = ["VariableCheck", "rule_programs"]
