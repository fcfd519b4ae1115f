"""A number that counts the arithmetic done on it — to grade *how* a value was computed.

`Counted(3.0, counter)` behaves like a float under + − × / and ** but records each
operation in `counter` (a `collections.Counter`): `mul` for `a*b` and `2*a`, `pow` for
`a**k`, and so on. It deliberately has no `__float__`, so code cannot slip out of the
counting by converting to a float. The fused-derivative check uses it to assert that
(x³, 3x²) costs at most three multiplications.
"""
from __future__ import annotations

from collections import Counter
from typing import Any


class Counted:
    __slots__ = ("value", "counter")

    def __init__(self, value: float, counter: Counter):
        self.value = value
        self.counter = counter

    def _op(self, name: str, other: Any, fn) -> "Counted":
        other_value = other.value if isinstance(other, Counted) else other
        if not isinstance(other_value, (int, float)):
            return NotImplemented
        self.counter[name] += 1
        return Counted(fn(self.value, other_value), self.counter)

    def __add__(self, o):
        return self._op("add", o, lambda a, b: a + b)

    def __radd__(self, o):
        return self._op("add", o, lambda a, b: b + a)

    def __sub__(self, o):
        return self._op("sub", o, lambda a, b: a - b)

    def __rsub__(self, o):
        return self._op("sub", o, lambda a, b: b - a)

    def __mul__(self, o):
        return self._op("mul", o, lambda a, b: a * b)

    def __rmul__(self, o):
        return self._op("mul", o, lambda a, b: b * a)

    def __truediv__(self, o):
        return self._op("div", o, lambda a, b: a / b)

    def __rtruediv__(self, o):
        return self._op("div", o, lambda a, b: b / a)

    def __pow__(self, o):
        return self._op("pow", o, lambda a, b: a ** b)

    def __rpow__(self, o):
        return self._op("pow", o, lambda a, b: b ** a)

    def __neg__(self):
        self.counter["neg"] += 1
        return Counted(-self.value, self.counter)

    def __repr__(self) -> str:
        return f"Counted({self.value!r})"
