"""Random straight-line and if/else programs for `to_ssa` (seeded, so the checks can draw
fresh ones for every seed). Integers only, so "same results" means exactly the same."""
from __future__ import annotations

import numpy as np

VARS = ("a", "b", "c", "d")

ARTICLE = '''def f(a, b):
    c = a * 2
    d = b
    if a > b:
        c = c - b
        d = d + 1
    else:
        c = c + b
    d = d * 3 + c
    return (a, b, c, d)
'''


def random_program(rng: np.random.Generator, statements: int = 6, max_depth: int = 2,
                   branches: bool = True) -> str:
    """`def f(a, b)` with c and d defined first, then random assignments and if/else."""
    lines = ["def f(a, b):", "    c = a + b", "    d = a - b"]

    def expr() -> str:
        u, w = rng.choice(VARS, size=2)
        kind = int(rng.integers(0, 4))
        k = int(rng.integers(1, 6))
        return [f"{u} + {w}", f"{u} - {w}", f"{u} * {k % 3 + 1}", f"{u} - {k}"][kind]

    def block(indent: str, n: int, depth: int) -> None:
        for _ in range(n):
            roll = rng.random()
            target = str(rng.choice(VARS))
            if branches and depth < max_depth and roll < 0.3:
                u, w = rng.choice(VARS, size=2)
                test = f"{u} > {w}" if rng.random() < 0.5 else f"{u} < {int(rng.integers(-5, 6))}"
                lines.append(f"{indent}if {test}:")
                block(indent + "    ", int(rng.integers(1, 4)), depth + 1)
                if rng.random() < 0.75:
                    lines.append(f"{indent}else:")
                    block(indent + "    ", int(rng.integers(1, 4)), depth + 1)
            elif roll < 0.45:
                lines.append(f"{indent}{target} += {rng.choice(VARS)}")
            else:
                lines.append(f"{indent}{target} = {expr()}")

    block("    ", statements, 0)
    lines.append("    return (a, b, c, d)")
    return "\n".join(lines) + "\n"


def run_source(source: str, inputs: list[list[int]]) -> list:
    """Execute `def f` from `source` on each (a, b) pair (our own generated code only)."""
    namespace: dict = {}
    exec(compile(source, "<program>", "exec"), namespace)
    return [list(namespace["f"](*pair)) for pair in inputs]
