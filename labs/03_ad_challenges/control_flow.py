"""Lab 03, part 1 — AD differentiates programs, not formulas: a loop and its closed form.

The logistic map is a three-line loop:

    l₁ = x,    l_{k+1} = 4·l_k·(1 − l_k)

Unrolled three times it is the polynomial l₄ = 64x(1−x)(1−2x)²(1−8x+8x²)² (at x = 0.3,
l₄ = 0.99434496). Symbolic differentiation would expand that formula — and its size grows
exponentially with the number of iterations ("expression swell"). Automatic
differentiation never sees a formula: your lab-02 tape records the ops the loop actually
executed (three per iteration), so the loop and the closed form give the same value and
the same derivative at the cost of the program itself.

Erratum: the article writes the recurrence as 4·l_n·(1 − l_1); it is 4·l_n·(1 − l_n).

Both functions below run on *your* lab-02 reverse mode (loaded from the same labs
directory by `aisys.workspace.sibling`), so finish lab 02's Variable, Tape and grad first.

Source: 自动微分的挑战&未来 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

from aisys.workspace import sibling

reverse_mode = sibling(__file__, "autodiff", "reverse_mode.py")


def logistic_loop(x: float, n: int) -> tuple[float, float]:
    """(l_n, dl_n/dx) for the logistic map started at l₁ = x, by a Python loop.

    n = 1 is x itself (derivative 1); n = 4 is the article's l₄. x may be any float: 0 stays
    0, 0.5 reaches 1 and then 0 (derivative 0), values outside [0, 1] run off to −∞. The
    derivative comes from one `reverse_mode.grad` call on a `reverse_mode.Variable` — no
    hand-written derivative — and each call stands alone (no state kept between calls).

    Hint: start from one `reverse_mode.Variable`, run the recurrence as written (how many
    updates take l₁ to l_n?), then ask `reverse_mode.grad` for the derivative; return plain
    floats (`.value`), not Variables.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def logistic_closed(x: float) -> tuple[float, float]:
    """(l₄, dl₄/dx) from the closed form 64x(1−x)(1−2x)²(1−8x+8x²)², by reverse mode.

    Hint: the same recipe as `logistic_loop`, with the formula written on the Variable
    (`** 2` works on Variables).
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
