"""Lab 02, part 4 — whole Jacobians: n forward passes or m backward sweeps.

For f: Rⁿ → Rᵐ the Jacobian J is m × n. Neither mode ever builds it on the way; each pass
gives one slice of it:

- forward mode: one JVP `J·eⱼ` per input direction eⱼ → column j; **n passes**;
- reverse mode: one VJP `eᵢᵀ·J` per output → row i; **m sweeps** (after one recorded run).

So a "wide" function (many inputs, one output — every loss) wants reverse mode, and a
"tall" one (one input, many outputs) wants forward mode. This is why training uses
backpropagation: n is the number of parameters, m is 1.

Both functions take `f(*xs)` returning a list of m values and `x`, a list of n floats
(leave it as it is), and return J as an m × n numpy array. They must use *your* `jvp` and
`grad`, one call per column or row: the checks count how many times their code runs,
however you call them.

Source: 计算图与自动微分 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from aisys.workspace import sibling

forward_mode = sibling(__file__, "autodiff", "forward_mode.py")
reverse_mode = sibling(__file__, "autodiff", "reverse_mode.py")


def jacobian_forward(f: Callable[..., list], x: Sequence[float]) -> np.ndarray:
    """J (m × n) from n calls of `forward_mode.jvp`, one per unit tangent eⱼ.

    Hint: for j in range(n), tangents = [1.0 if i == j else 0.0 for i in range(n)];
    the JVP's output tangents are column j.
    """
    # BEGIN SOLUTION
    n = len(x)
    columns = []
    for j in range(n):
        _, tangents = forward_mode.jvp(f, list(x), [1.0 if i == j else 0.0 for i in range(n)])
        columns.append(np.asarray(tangents, dtype=float).reshape(-1))
    return np.stack(columns, axis=1)
    # END SOLUTION


def jacobian_reverse(f: Callable[..., list], x: Sequence[float]) -> np.ndarray:
    """J (m × n) from one recorded run of f and m calls of `reverse_mode.grad`, one per output.

    Hint: xs = [reverse_mode.Variable(v) for v in x]; ys = f(*xs); row i is
    [g.value for g in reverse_mode.grad(ys[i], xs)].
    """
    # BEGIN SOLUTION
    xs = [reverse_mode.Variable(float(v)) for v in x]
    ys = f(*xs)
    rows = [[float(g.value) for g in reverse_mode.grad(y, xs)] for y in ys]
    return np.array(rows, dtype=float).reshape(len(ys), len(xs))
    # END SOLUTION
