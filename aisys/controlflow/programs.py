"""The programs lab 04 runs, each written once against a namespace `ns` so the same code is
plain Python (`PY`), a dataflow graph built with your `cond`/`while_loop` (`graph_ns`), or
torch (for autograd ground truth). That is the whole point of functional control flow: the
program says *what* branches and loops, the namespace says *how*.
"""
from __future__ import annotations

import contextlib
import math
from types import SimpleNamespace
from typing import Any, Callable

from aisys.controlflow import dataflow


def _py_cond(pred, true_fn, false_fn, operands):
    return list(true_fn(*operands) if pred else false_fn(*operands))


def _py_while(cond_fn, body_fn, loop_vars):
    vs = list(loop_vars)
    while cond_fn(*vs):
        vs = list(body_fn(*vs))
    return vs


PY = SimpleNamespace(sin=math.sin, cos=math.cos, exp=math.exp, cond=_py_cond, while_loop=_py_while,
                     scope=lambda name: contextlib.nullcontext())


GRAPH_MATH = SimpleNamespace(sin=dataflow.sin, cos=dataflow.cos, exp=dataflow.exp)


def graph_ns(g: dataflow.DataflowGraph, lowering: Any) -> SimpleNamespace:
    """Graph mode: control flow through the student's lowering (`lowering.cond`, ...)."""
    return SimpleNamespace(**vars(GRAPH_MATH), cond=lowering.cond, while_loop=lowering.while_loop,
                           scope=g.scope)


# ---------------------------------------------------------------- branches


def piecewise(ns, x):
    """2x + 1 if x > 0 else -x"""
    def then(x):
        with ns.scope("then"):
            return (x * 2 + 1,)

    def other(x):
        with ns.scope("else"):
            return (-x,)
    return ns.cond(x > 0, then, other, [x])


def two_operands(ns, x, y):
    """(y - x, x * y) if x < y else (x - y, x + y)"""
    def then(x, y):
        with ns.scope("then"):
            return (y - x, x * y)

    def other(x, y):
        with ns.scope("else"):
            return (x - y, x + y)
    return ns.cond(x < y, then, other, [x, y])


def one_operand_each(ns, x, y):
    """y * 2 if x > 0 else x - 1: each branch reads only one of the two operands"""
    def then(x, y):
        with ns.scope("then"):
            return (y * 2,)

    def other(x, y):
        with ns.scope("else"):
            return (x - 1,)
    return ns.cond(x > 0, then, other, [x, y])


def same_operand_twice(ns, x):
    """(a·b + a) if x > 0 else (a − 2b), with a and b the same x: one Value, two operands"""
    def then(a, b):
        with ns.scope("then"):
            return (a * b + a,)

    def other(a, b):
        with ns.scope("else"):
            return (a - b * 2,)
    return ns.cond(x > 0, then, other, [x, x])


def identity_branch(ns, x):
    """x if x < 5 else x - 5: the true branch returns its operand untouched (no op of its own)"""
    def other(x):
        with ns.scope("else"):
            return (x - 5,)
    return ns.cond(x < 5, lambda x: (x,), other, [x])


def two_conds(ns, x, y):
    """two conds in one graph, one taking each side: a = |x − y| by branches, then a·2 or a + x"""
    def first_then(x, y):
        with ns.scope("first/then"):
            return (x - y,)

    def first_else(x, y):
        with ns.scope("first/else"):
            return (y - x,)

    def second_then(a, x):
        with ns.scope("second/then"):
            return (a * 2,)

    def second_else(a, x):
        with ns.scope("second/else"):
            return (a + x,)
    (a,) = ns.cond(x > y, first_then, first_else, [x, y])
    return ns.cond(x < y, second_then, second_else, [a, x])


def nested_cond(ns, x):
    """x > 0: (x > 10: x - 10 else x * 3) else x * x"""
    def inner_then(x):
        with ns.scope("then/then"):
            return (x - 10,)

    def inner_else(x):
        with ns.scope("then/else"):
            return (x * 3,)

    def then(x):
        with ns.scope("then"):
            return ns.cond(x > 10, inner_then, inner_else, [x])

    def other(x):
        with ns.scope("else"):
            return (x * x,)
    return ns.cond(x > 0, then, other, [x])


# ---------------------------------------------------------------- loops


def sum_to(ns, n, i, s):
    """s = 0 + 1 + ... + n (i and s start at 0)"""
    i, s, n = ns.while_loop(lambda i, s, n: i <= n, lambda i, s, n: (i + 1, s + i, n), [i, s, n])
    return [s]


def factorial(ns, n, i, acc):
    """acc = n! (i and acc start at 1)"""
    i, acc, n = ns.while_loop(lambda i, acc, n: i <= n, lambda i, acc, n: (i + 1, acc * i, n), [i, acc, n])
    return [acc]


def collatz(ns, n, steps):
    """Collatz steps from n down to 1: a trip count nobody knows before running."""
    def body(n, steps):
        half = lambda n: (n // 2,)
        triple = lambda n: (n * 3 + 1,)
        (n,) = ns.cond(n % 2 < 1, half, triple, [n])
        return n, steps + 1
    n, steps = ns.while_loop(lambda n, steps: n > 1, body, [n, steps])
    return [steps]


def nested_loops(ns, n, i, total):
    """total = sum of i * j for 0 <= j < i < n: the inner loop runs i times in outer iteration i."""
    def outer_body(i, total, n):
        j, total, _ = ns.while_loop(lambda j, total, i: j < i,
                                    lambda j, total, i: (j + 1, total + i * j, i), [i * 0, total, i])
        return i + 1, total, n
    i, total, n = ns.while_loop(lambda i, total, n: i < n, outer_body, [i, total, n])
    return [total]


def two_loops(ns, n, i, s):
    """two loops one after the other: s = 0 + ... + n, then how many halvings take s to 1"""
    i, s, n = ns.while_loop(lambda i, s, n: i <= n, lambda i, s, n: (i + 1, s + i, n), [i, s, n])
    s, k = ns.while_loop(lambda s, k: s > 1, lambda s, k: (s // 2, k + 1), [s, i * 0])
    return [k]


def doubling(ns, x):
    """one Value as two loop variables: a doubles until 100, b adds up the a's"""
    a, b = ns.while_loop(lambda a, b: a < 100, lambda a, b: (a * 2, b + a), [x, x])
    return [a, b]


def halving(ns, x, k):
    """floats, negative, sign flipping: x ← −x/2 while x² > 1"""
    x, k = ns.while_loop(lambda x, k: x * x > 1, lambda x, k: (x * -0.5, k + 1), [x, k])
    return [x, k]


BRANCH_PROGRAMS: dict[str, Callable] = {"piecewise": piecewise, "two_operands": two_operands,
                                        "one_operand_each": one_operand_each, "nested_cond": nested_cond,
                                        "same_operand_twice": same_operand_twice, "identity_branch": identity_branch,
                                        "two_conds": two_conds}
LOOP_PROGRAMS: dict[str, Callable] = {"sum_to": sum_to, "factorial": factorial, "collatz": collatz,
                                      "nested_loops": nested_loops, "two_loops": two_loops, "doubling": doubling,
                                      "halving": halving}


# ---------------------------------------------------------------- differentiable loops
# (cond, body) pairs over loop variables (x, y, i, n); only x and y carry gradients.

def grad_cond(ns, x, y, i, n):
    return i < n


def grad_body_spiral(ns, x, y, i, n):
    return ns.sin(x) * 0.9 + y * 0.3, y * 0.8 - x * x * 0.1, i + 1, n


def grad_body_decay(ns, x, y, i, n):
    return x * ns.exp(y * -0.2), ns.cos(x) + y * 0.5, i + 1, n


GRAD_BODIES: dict[str, Callable] = {"spiral": grad_body_spiral, "decay": grad_body_decay}


def unroll_body(ns, x, y):
    """One step of a fixed-length recurrence (MindSpore unrolls these at compile time)."""
    return x * 0.5 + ns.sin(y), y - x * 0.25


def build(program: Callable, lowering: Any, names: list[str]) -> tuple[dataflow.DataflowGraph, list]:
    """The dataflow graph of `program` on placeholders `names`, lowered by `lowering`."""
    g = dataflow.DataflowGraph()
    inputs = [g.placeholder(name) for name in names]
    return g, list(program(graph_ns(g, lowering), *inputs))


def torch_ns() -> SimpleNamespace:
    """The same programs on torch's own functional control flow (torch.cond, torch.while_loop).

    torch's higher-order ops refuse a branch or body that returns one of its inputs unchanged
    (an output aliasing an input), which our programs do (`n` rides along a loop untouched):
    cloning every output keeps them happy.
    """
    import torch

    from aisys.controlflow.torch_control import torch_while_loop

    def fresh(fn):
        return lambda *args: tuple(out.clone() for out in fn(*args))
    return SimpleNamespace(sin=torch.sin, cos=torch.cos, exp=torch.exp, scope=lambda name: contextlib.nullcontext(),
                           cond=lambda p, t, f, ops: list(torch.cond(p, fresh(t), fresh(f), tuple(ops))),
                           while_loop=lambda c, b, vs: list(torch_while_loop()(c, fresh(b), tuple(vs))))
