"""Lab 02, part 2 — forward mode: dual numbers carry a derivative alongside each value.

Forward mode pushes a *tangent* through the program together with the value. Extend every
number x to a dual number x + ẋ·ε with ε² = 0; then Taylor's formula becomes exact:

    g(x + ẋε) = g(x) + g'(x)·ẋ·ε

so evaluating the program on duals gives f(x) in the value part and the directional
derivative J·ẋ in the ε part — a Jacobian-vector product (JVP) in one pass, without ever
forming J. Each primitive needs its own rule, for example

    (a + ȧε)(b + ḃε) = ab + (ȧb + aḃ)ε        sin(a + ȧε) = sin a + cos(a)·ȧ ε
    (a + ȧε) / (b + ḃε) = a/b + (ȧb − aḃ)/b² ε    a ** b = exp(b·ln a)

One forward pass gives one column of J (seed ẋ with a unit vector), so forward mode costs
n passes for a function of n inputs: cheap for "tall" functions, expensive for "wide" ones.
Values may be Python floats or numpy arrays (elementwise, numpy broadcasting).

Source: 计算图与自动微分 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


class Dual:
    """A value and its tangent: `Dual(value, tangent)`; `.value`, `.tangent`.

    Supports + − × / ** (a Dual or a plain number on either side, or the same Dual on both:
    `a * a`), unary minus, and the methods `.sin() .cos() .exp() .log() .tanh()`; each
    returns a *new* Dual and leaves its operands' values and tangents untouched (with numpy
    arrays, `self.tangent *= ...` would edit the caller's array).

    Hint: turn a plain number c into Dual(c, 0) first (`_lift`), then each method is one
    line: the value rule and the derivative rule side by side. For a ** b use
    d(a**b) = b·a**(b−1)·ȧ + a**b·ln(a)·ḃ, and skip the ln term when ḃ is exactly 0 (so
    (−2.0) ** 2 still works).
    """

    __array_ufunc__ = None   # numpy must hand `array + Dual` over to Dual.__radd__

    def __init__(self, value: Any, tangent: Any = 0.0):
        self.value = value
        self.tangent = tangent

    def __repr__(self) -> str:
        return f"Dual({self.value!r}, {self.tangent!r})"

    @staticmethod
    def _lift(x: Any) -> "Dual":
        return x if isinstance(x, Dual) else Dual(x, 0.0)

    def __add__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __radd__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __sub__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __rsub__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __mul__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __rmul__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __truediv__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __rtruediv__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __neg__(self) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __pow__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __rpow__(self, other: Any) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def sin(self) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def cos(self) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def exp(self) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def log(self) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def tanh(self) -> "Dual":
        raise NotImplementedError("not implemented yet: read the docstring and its hint")


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Evaluate f at `primals` and its Jacobian-vector product with `tangents`, in one pass.

    f takes one argument per primal and returns one value, or a tuple or a list of values.
    The result is `(outputs, output_tangents)` shaped like f's result — like
    `torch.func.jvp(f, primals, tangents)`: a bare value gives two bare values (floats or
    arrays); a tuple or a list of m values — even m = 1 — gives two lists of m. An output
    that does not depend on the inputs (a plain number) has tangent 0. `primals` and
    `tangents` may be lists or tuples; leave them as they are, and run f exactly once.

    Hint: call f on `Dual(p, t)` for each pair, then unpack `.value` and `.tangent` from
    what comes back (lift plain numbers with `Dual._lift`).
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
