"""Lab 02, part 1 — the evaluation trace and the adjoint trace, by hand.

Automatic differentiation is neither symbolic algebra nor finite differences: it runs the
program and applies the chain rule to each *elementary* operation it meets. Write the
program as a trace, one primitive per line (Baydin et al.'s numbering: inputs are v-1 and
v0, intermediates v1, v2, ...). For the running example of the articles

    f(x1, x2) = ln(x1) + x1·x2 − sin(x2)

    v-1 = x1          v2 = v-1 · v0        v5 = v4 − v3  = f
    v0  = x2          v3 = sin(v0)
    v1  = ln(v-1)     v4 = v1 + v2

and f(2, 5) = 11.652071455223084.

Reverse mode walks that trace backwards with *adjoints* v̄i = ∂f/∂vi, starting from
v̄5 = 1. Each line sends its adjoint to its inputs, multiplied by the local derivative;
a value used by several lines (v-1 and v0 both are) **adds** the contributions of every
path — the chain rule is a sum over paths. At (2, 5): ∂f/∂x1 = 5.5, ∂f/∂x2 = 1.7163378145367738.

Source: 计算图与自动微分 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

import math


def evaluation_trace(x1: float, x2: float) -> dict[str, float]:
    """The forward (primal) trace of f: {"v-1": ..., "v0": ..., "v1": ..., ..., "v5": ...}.

    Seven entries, keys exactly "v-1", "v0", "v1", "v2", "v3", "v4", "v5", each a float,
    following the numbering in the module docstring.

    Hint: one line per primitive — math.log, multiplication, math.sin, an addition and a
    subtraction. v5 is f itself.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def adjoint_trace(x1: float, x2: float) -> dict[str, float]:
    """The reverse (adjoint) trace of f: {"v5": 1.0, "v4": ..., ..., "v0": ..., "v-1": ...}.

    Each value is v̄i = ∂f/∂vi, keys as in `evaluation_trace`. v̄-1 and v̄0 are the gradient
    of f, so they must collect the contributions of *every* line that reads them.

    Hint: go from v5 down to v-1. v̄3 = −v̄5; v̄2 = v̄4 (= v̄5); v̄0 gets v̄2·v-1 from the
    product *and* v̄3·cos(v0) from the sine — add them. Reuse the forward values from
    `evaluation_trace` *at this call's point* (call it here; nothing may carry over from an
    earlier call at another point). Zeros are ordinary values: at (1, 0), v0 … v3 are all 0.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
