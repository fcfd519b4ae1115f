"""Lab 03, part 2 — fused derivative code: compute a function and its derivative together.

An AD system that generates derivative *code* (source transformation, or a compiler
fusing forward and backward) can share work between the two. For f(x) = x³ the
derivative is f'(x) = 3x²; both need x·x:

    t = x·x        (shared)
    f  = t·x
    f' = 3·t

three multiplications for the pair, where computing them separately (x·x·x, then 3·x·x)
takes five. The same sharing is what a framework does when backward reuses a value
the forward pass saved.

Source: 自动微分的挑战&未来 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

from typing import Any


def fused_cube(x: Any) -> tuple[Any, Any]:
    """(x³, 3x²) with at most three multiplications and no `**`.

    x is a number-like object: the checks pass one that counts every operation, so use
    plain arithmetic on x only (no float(x), no math functions, no pow).

    Hint: t = x * x is the shared piece.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
