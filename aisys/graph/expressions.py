"""Expressions the graph lab is built on: the articles' f, and seeded random ones.

An expression is plain data — a list of steps `(name, op, input names)` — so the parent
(ground truth) and the child (student code) build exactly the same graph or torch program
from a case's inputs. `GRAD_NEEDS` says which forward values each op's gradient reads: the
extra edges of the backward graph.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from aisys.graph.ir import Graph

UNARY = ("log", "sin", "cos", "exp", "tanh", "neg")
BINARY = ("add", "sub", "mul", "div")

#: op → which forward values its gradient reads: "inputs", "output" or nothing. (conv and relu
#: appear only in the demo's training-step figure: conv needs both x and w, relu its output's sign.)
GRAD_NEEDS: dict[str, str] = {
    "log": "inputs", "sin": "inputs", "cos": "inputs", "mul": "inputs", "div": "inputs",
    "exp": "output", "tanh": "output", "add": "", "sub": "", "neg": "",
    "conv": "inputs", "relu": "output",
}

#: The running example f(x1, x2) = ln(x1) + x1·x2 − sin(x2), in Baydin's numbering.
F_STEPS: list[tuple[str, str, list[str]]] = [
    ("v1", "log", ["x1"]), ("v2", "mul", ["x1", "x2"]), ("v3", "sin", ["x2"]),
    ("v4", "add", ["v1", "v2"]), ("v5", "sub", ["v4", "v3"]),
]


#: Every op of this module once: log, sin, cos, exp, tanh, neg, add, sub, mul, div.
EVERY_OP_STEPS: list[tuple[str, str, list[str]]] = [
    ("t0", "log", ["x1"]), ("t1", "sin", ["x2"]), ("t2", "cos", ["t0"]), ("t3", "exp", ["t1"]),
    ("t4", "tanh", ["x2"]), ("t5", "neg", ["t3"]), ("t6", "mul", ["t2", "t4"]), ("t7", "div", ["t6", "t3"]),
    ("t8", "sub", ["t7", "t5"]), ("t9", "add", ["t8", "x1"]),
]


def graph_of(steps: list, inputs: tuple[str, ...] = ("x1", "x2"), reverse: bool = False) -> Graph:
    """The forward graph of an expression: one `input` node per variable, one node per step.

    `reverse=True` adds the nodes last-first: a legal Graph (inputs may name nodes added
    later) whose insertion order is *not* a topological order."""
    nodes = [(name, "input", []) for name in inputs] + [(name, op, list(args)) for name, op, args in steps]
    graph = Graph()
    for name, op, args in reversed(nodes) if reverse else nodes:
        graph.add(name, op, args)
    return graph


def random_steps(rng: np.random.Generator, n_ops: int, inputs: tuple[str, ...] = ("x1", "x2")) -> list:
    """A seeded random expression whose values stay finite for inputs in [0.5, 2]."""
    names = list(inputs)
    steps = []
    for i in range(n_ops):
        op = str(rng.choice(("sin", "cos", "tanh", "neg") + BINARY))
        arity = 2 if op in BINARY else 1
        args = [str(rng.choice(names[-4:] if rng.random() < 0.7 else names)) for _ in range(arity)]
        if op == "div":
            op = "mul"   # keep denominators away from zero
        steps.append((f"t{i}", op, args))
        names.append(f"t{i}")
    # fold every unused value into the output so the graph has one sink
    used = {a for _, _, args in steps for a in args}
    dangling = [n for n in names if n not in used and n != names[-1]]
    for j, name in enumerate(dangling):
        steps.append((f"s{j}", "add", [names[-1], name]))
        names.append(f"s{j}")
    return steps


_TORCH_OPS: dict[str, Callable] = {
    "log": lambda t, a: t.log(a[0]), "sin": lambda t, a: t.sin(a[0]), "cos": lambda t, a: t.cos(a[0]),
    "exp": lambda t, a: t.exp(a[0]), "tanh": lambda t, a: t.tanh(a[0]), "neg": lambda t, a: -a[0],
    "add": lambda t, a: a[0] + a[1], "sub": lambda t, a: a[0] - a[1],
    "mul": lambda t, a: a[0] * a[1], "div": lambda t, a: a[0] / a[1],
}

_MATH_OPS: dict[str, Callable] = {
    "log": lambda a: math.log(a[0]), "sin": lambda a: math.sin(a[0]), "cos": lambda a: math.cos(a[0]),
    "exp": lambda a: math.exp(a[0]), "tanh": lambda a: math.tanh(a[0]), "neg": lambda a: -a[0],
    "add": lambda a: a[0] + a[1], "sub": lambda a: a[0] - a[1],
    "mul": lambda a: a[0] * a[1], "div": lambda a: a[0] / a[1],
}


def run_torch(steps: list, values: dict):
    """Evaluate steps on torch tensors (building torch's autograd graph); returns all values."""
    import torch

    env = dict(values)
    for name, op, args in steps:
        env[name] = _TORCH_OPS[op](torch, [env[a] for a in args])
    return env


def run_float(steps: list, values: dict) -> dict:
    env = dict(values)
    for name, op, args in steps:
        env[name] = _MATH_OPS[op]([env[a] for a in args])
    return env
