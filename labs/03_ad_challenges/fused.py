"""Lab 03, part 2 — fused derivative code: compute a function and its derivative together.

An AD system that generates derivative *code* (source transformation, or a compiler
fusing forward and backward) sees the function and its derivative side by side, so it can
spot a subexpression they both need, compute it once, and reuse it. Frameworks do the same
when backward reuses a value the forward pass saved: for the sigmoid s = σ(x), the
derivative σ'(x) = s·(1 − s) needs no new exponential, only the saved s.

Here the function is f(x) = x³ with f'(x) = 3x². Written separately, x·x·x and 3·x·x take
four multiplications. Look at the two formulas together: one product appears in both.
Computed once and shared, the pair costs three multiplications.

Source: 自动微分的挑战&未来 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

from typing import Any


def fused_cube(x: Any) -> tuple[Any, Any]:
    """(x³, 3x²) with at most three multiplications and no `**`.

    x is a number-like object: the checks pass one that counts every operation, so use
    plain arithmetic on x only (no float(x), no math functions, no pow), and leave x itself
    unchanged. x may be 0, 1 or negative.

    Hint: which product do x³ and 3x² have in common? Store it in a variable.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
