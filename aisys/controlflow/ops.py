"""The arithmetic ops a dataflow graph may hold: how each computes, and its vector-Jacobian
product (for reverse mode through a loop body). Values are Python floats and bools."""
from __future__ import annotations

import math
from typing import Callable

# name -> (compute, vjp). vjp(inputs, output, g) returns one cotangent per input.
OPS: dict[str, tuple[Callable, Callable | None]] = {
    "add": (lambda a, b: a + b, lambda x, y, g: (g, g)),
    "sub": (lambda a, b: a - b, lambda x, y, g: (g, -g)),
    "mul": (lambda a, b: a * b, lambda x, y, g: (g * x[1], g * x[0])),
    "div": (lambda a, b: a / b, lambda x, y, g: (g / x[1], -g * x[0] / x[1] ** 2)),
    "neg": (lambda a: -a, lambda x, y, g: (-g,)),
    "sin": (math.sin, lambda x, y, g: (g * math.cos(x[0]),)),
    "cos": (math.cos, lambda x, y, g: (-g * math.sin(x[0]),)),
    "exp": (math.exp, lambda x, y, g: (g * y,)),
    "floordiv": (lambda a, b: a // b, None),
    "mod": (lambda a, b: a % b, None),
    "lt": (lambda a, b: a < b, None),
    "le": (lambda a, b: a <= b, None),
    "gt": (lambda a, b: a > b, None),
    "ge": (lambda a, b: a >= b, None),
    "identity": (lambda a: a, lambda x, y, g: (g,)),
}

# The five control-flow primitives: their firing rules are the student's (primitives.py).
PRIMITIVES = ("Switch", "Merge", "Enter", "Exit", "NextIteration")
