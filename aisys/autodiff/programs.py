"""Seeded random straight-line programs for the autodiff labs, and one evaluator for them all.

A program is plain data — a list of steps `(name, op, args)` where an arg is a value's name
or a float constant — so the grading parent and the student's child build the same program
from a case's inputs. Lab 01's expressions (`aisys.graph.expressions`) use names only; these
add what trips up a hand-written autodiff: constants on either side (`2.0 - x`, `x ** 3.0`),
`pow` with a variable exponent, `div`, `exp`, `log`, and values reused on several paths.

`evaluate` runs a program on anything that has Python's operators and `.sin()`-style
methods: torch tensors (ground truth), the student's `Dual` and `Variable`, floats, arrays.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from aisys.graph.expressions import F_STEPS

BINARY = ("add", "sub", "mul", "div", "pow")
UNARY = ("neg", "sin", "cos", "exp", "log", "tanh")
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}
BOUND = 50.0   # keep every value's magnitude under this, so gradients stay finite and tame

#: Constants on both sides of every binary op: rsub, rpow, rdiv, pow by a constant.
CONSTANT_STEPS: list = [
    ("t0", "sub", [2.0, "x1"]), ("t1", "pow", ["x2", 3.0]), ("t2", "pow", [1.5, "t0"]),
    ("t3", "div", [1.0, "t2"]), ("t4", "mul", [0.5, "t3"]), ("t5", "add", [1.0, "t4"]),
    ("t6", "add", ["t5", "t1"]), ("t7", "sub", ["t6", 0.25]), ("t8", "div", ["t7", 2.0]),
]
#: x1 read on several paths (x1·x1·x1 + sin x1); x2 never read (its gradient is 0).
FAN_OUT_STEPS: list = [
    ("t0", "mul", ["x1", "x1"]), ("t1", "mul", ["t0", "x1"]), ("t2", "sin", ["x1"]),
    ("t3", "add", ["t1", "t2"]), ("t4", "add", ["t3", "x1"]),
]
#: a non-leaf (t0 = x1·x2) read by three later ops.
NONLEAF_REUSE_STEPS: list = [
    ("t0", "mul", ["x1", "x2"]), ("t1", "mul", ["t0", "t0"]), ("t2", "sin", ["t0"]),
    ("t3", "add", ["t1", "t2"]), ("t4", "mul", ["t3", "t0"]),
]

#: Every elementwise op once, negation included, constants on both sides (a tape log must
#: get each one's format right on every seed).
EVERY_OP_STEPS: list = [
    ("t0", "neg", ["x1"]), ("t1", "cos", ["x2"]), ("t2", "exp", ["t1"]), ("t3", "tanh", ["t0"]),
    ("t4", "div", ["t2", "t3"]), ("t5", "sin", ["t4"]), ("t6", "mul", ["t5", "x1"]), ("t7", "log", ["t2"]),
    ("t8", "pow", ["t7", 2.0]), ("t9", "sub", ["t6", "t8"]), ("t10", "add", ["t9", "x2"]),
    ("t11", "pow", ["x1", "t1"]), ("t12", "sub", [1.0, "t11"]), ("t13", "neg", ["t12"]),
    ("t14", "add", ["t13", "t10"]),
]
#: A layer and a loss on matrices: x1 (3×4) @ x2 (4×2), tanh, squared, summed to a scalar.
MATMUL_STEPS: list = [
    ("t0", "matmul", ["x1", "x2"]), ("t1", "tanh", ["t0"]), ("t2", "mul", ["t1", "t1"]), ("t3", "sum", ["t2"]),
]
MATMUL_SHAPES = ([3, 4], [4, 2])

__all__ = ["F_STEPS", "CONSTANT_STEPS", "EVERY_OP_STEPS", "FAN_OUT_STEPS", "MATMUL_SHAPES", "MATMUL_STEPS",
           "NONLEAF_REUSE_STEPS", "apply", "evaluate", "random_program", "tape_lines", "op_counts"]


def apply(op: str, args: Sequence[Any]) -> Any:
    """One step on any number-like values (operators for binary ops, methods for unary)."""
    if op == "matmul":
        return args[0] @ args[1]
    if op == "sum":
        return args[0].sum()
    if op in BINARY:
        a, b = args
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        if op == "div":
            return a / b
        return a ** b
    (a,) = args
    if op == "neg":
        return -a
    if isinstance(a, (int, float)):
        return getattr(math, op)(a)
    if isinstance(a, np.ndarray):
        return getattr(np, op)(a)
    return getattr(a, op)()


def evaluate(steps: list, env: dict, check: Callable[[str, Any], Any] | None = None) -> dict:
    """Run `steps` with the leaves in `env`; returns every named value.

    `check(op, result)` sees each step's result before the next step uses it (the checks
    use it to say "Variable op 'mul' returned None" instead of failing inside this loop)."""
    values = dict(env)
    for name, op, args in steps:
        values[name] = apply(op, [values[a] if isinstance(a, str) else float(a) for a in args])
        if check is not None:
            check(op, values[name])
    return values


class _Builder:
    """Appends steps, tracking a bound on each value's magnitude to keep programs finite."""

    def __init__(self, rng: np.random.Generator, inputs: Sequence[str], input_bound: float):
        self.rng, self.steps = rng, []
        self.names = list(inputs)
        self.bound = {name: input_bound for name in inputs}

    def pick(self) -> str:
        pool = self.names[-4:] if self.rng.random() < 0.7 else self.names
        return str(self.rng.choice(pool))

    def emit(self, op: str, args: list, bound: float) -> str:
        name = f"t{len(self.steps)}"
        self.steps.append((name, op, args))
        self.names.append(name)
        self.bound[name] = bound
        return name

    def macro(self, kind: str) -> None:
        a, b = self.pick(), self.pick()
        ba, bb = self.bound[a], self.bound[b]
        if kind in ("sin", "cos", "tanh"):
            self.emit(kind, [a], 1.0)
        elif kind == "neg":
            self.emit("neg", [a], ba)
        elif kind == "exp":       # exp(tanh(a)): bounded by e
            self.emit("exp", [self.emit("tanh", [a], 1.0)], math.e)
        elif kind == "log":       # log(a*a + 1): always defined
            sq = self.emit("mul", [a, a], ba * ba)
            self.emit("log", [self.emit("add", [sq, 1.0], ba * ba + 1)], math.log(ba * ba + 1))
        elif kind in ("add", "sub"):
            self.emit(kind, [a, b], ba + bb)
        elif kind == "mul":
            self.emit("mul", [a, b], ba * bb)
        elif kind == "div":       # a / (1 + b*b): the denominator stays >= 1
            sq = self.emit("mul", [b, b], bb * bb)
            self.emit("div", [a, self.emit("add", [1.0, sq], 1 + bb * bb)], ba)
        elif kind == "pow-const":
            k = float(self.rng.choice([2.0, 3.0]))
            self.emit("pow", [a, k], ba ** k)
        elif kind == "pow-var":   # (a*a + 0.5) ** tanh(b): base > 0, exponent in (-1, 1)
            sq = self.emit("mul", [a, a], ba * ba)
            base = self.emit("add", [sq, 0.5], ba * ba + 0.5)
            self.emit("pow", [base, self.emit("tanh", [b], 1.0)], max(ba * ba + 0.5, 2.0))
        elif kind == "const":     # a constant on the left or the right
            c = float(np.round(self.rng.uniform(0.5, 2.5), 2))
            form = int(self.rng.integers(3))
            if form == 0:
                self.emit("mul", [a, c], ba * c)
            elif form == 1:
                self.emit("sub", [c, a], ba + c)
            else:
                self.emit("pow", [c, self.emit("tanh", [a], 1.0)], c if c > 1 else 1 / c)

    def safe_macro(self, kind: str) -> None:
        """`kind`, unless it could leave the bound: then squash a value with tanh instead."""
        saved = (len(self.steps), list(self.names), dict(self.bound))
        self.macro(kind)
        if self.bound[self.names[-1]] > BOUND:
            del self.steps[saved[0]:]
            self.names, self.bound = saved[1], saved[2]
            self.emit("tanh", [self.pick()], 1.0)


KINDS = ("sin", "cos", "tanh", "neg", "exp", "log", "add", "sub", "mul", "div", "pow-const",
         "pow-var", "const", "add", "mul")


def random_program(rng: np.random.Generator, n_macros: int, inputs: Sequence[str] = ("x1", "x2"),
                   outputs: int = 1, input_bound: float = 2.0) -> tuple[list, list[str]]:
    """A seeded random program and the names of its `outputs` results.

    Every value computed is used (dangling values are added into the last output), so the
    last output depends on the whole program and fan-out is common.
    """
    b = _Builder(rng, inputs, input_bound)
    for _ in range(n_macros):
        b.safe_macro(str(rng.choice(KINDS)))
    for _ in range(max(0, outputs - (len(b.names) - len(inputs)))):
        b.emit("sin", [b.pick()], 1.0)
    outs = [n for n in b.names[len(inputs):]][-outputs:]
    used = {a for _, _, args in b.steps for a in args if isinstance(a, str)}
    dangling = [n for n in b.names[len(inputs):] if n not in used and n not in outs]
    last = outs[-1]
    for name in dangling:
        last = b.emit("add", [last, name], 0.0)
    outs[-1] = last
    return [tuple(s) for s in b.steps], outs


def tape_lines(steps: list, names: dict[str, str] | None = None) -> list[str]:
    """The article-style log of a program: `v2 = v-1 * v0`, `v3 = sin(v0)`, `v4 = v1 - 2.0`.

    Step outputs are numbered v1, v2, ... in order; `names` renames the leaves (e.g.
    {"x1": "v-1", "x2": "v0"}); constants print as their Python repr.
    """
    label = dict(names or {})
    lines = []
    for k, (name, op, args) in enumerate(steps, start=1):
        label[name] = f"v{k}"
        shown = [label.get(a, a) if isinstance(a, str) else repr(float(a)) for a in args]
        if op in SYMBOL:
            lines.append(f"v{k} = {shown[0]} {SYMBOL[op]} {shown[1]}")
        elif op == "neg":
            lines.append(f"v{k} = -{shown[0]}")
        else:
            lines.append(f"v{k} = {op}({shown[0]})")
    return lines


def op_counts(steps: list) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, op, _ in steps:
        counts[op] = counts.get(op, 0) + 1
    return counts
