"""Lab 02, part 3 — reverse mode by operator overloading with a tape.

Reverse mode runs the program once forward, *recording* every primitive on a tape (its
inputs, its output and how to send a gradient back through it), then replays the tape
backwards with adjoints v̄ = ∂out/∂v (the adjoint trace of part 1, automated):

    v̄_out = 1;   for each entry, newest first:   v̄_input += v̄_output · ∂output/∂input

One backward sweep gives the gradient with respect to *every* input — a vector-Jacobian
product — so reverse mode costs m sweeps for m outputs: the right tool for a loss (m = 1).

Three details make or break it (the checks test each one):

- **fan-out accumulates**: a value read by several ops receives the *sum* of their
  contributions (`+=`, never `=`);
- **the backward pass is itself recorded**: the rules are written with Variable operations,
  so the gradients are Variables on the tape and `grad(grad(y, [x])[0], [x])` gives the
  second derivative (this is `create_graph=True` in torch);
- **broadcasting is undone**: if `a` of shape (3, 1) met `b` of shape (4,) in `a * b`, the
  gradient of `a` must be summed back to shape (3, 1) (`_unbroadcast`).

This is the design of the article 动手实现 PyTorch 微分 (ZOMI, AISystem 05Framework/02AutoDiff),
where each op appends a TapeEntry(inputs, outputs, propagate) to a global tape.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}


@dataclass
class Entry:
    """One recorded primitive: `output = op(*inputs)`; `backward(g, output)` returns one
    gradient (a Variable, or None for 'no gradient') per input, given g = ∂L/∂output."""
    op: str
    inputs: tuple
    output: "Variable"
    backward: Callable


class Tape:
    """An ordered record of primitives: `.entries` is a list of `Entry`, oldest first.

    - `with Tape() as tape:` makes `tape` the current tape for the block (nesting restores
      the outer one on exit); outside any block `Tape.current()` is one module-wide tape.
    - `record(op, inputs, output, backward)` appends an Entry and names the output
      `v{k}` where k is the entry's position counting from 1 (v1, v2, ...), and sets
      `output.index` to its position counting from 0 (what `grad` starts from).
    - `log()` lists the entries in the article's style, one string each:
      `"v2 = v-1 * v0"` for + − * / ** @ (symbols + - * / ** @), `"v6 = -v5"` for negation,
      `"v3 = sin(v0)"` for the functions and any other op (`sum(v4)`, `transpose(v2)`);
      inputs by their `.name` (a lifted constant's name is its repr: `v7 = v6 * 2.0`).

    `with Tape() as tape:` must give the tape itself (`__enter__` returns self); `__exit__`
    returns nothing. The stack of active tapes is the one piece of state that belongs on the
    class: every Variable made inside the block records there, whatever code makes it.

    Hint: keep the stack of active tapes in the class attribute `_stack`; `current()` is
    its last item, else `_default`.
    """

    _stack: ClassVar[list["Tape"]] = []
    _default: ClassVar["Tape | None"] = None

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __enter__(self) -> "Tape":
        # BEGIN SOLUTION
        Tape._stack.append(self)
        return self
        # END SOLUTION

    def __exit__(self, *exc: Any) -> None:
        # BEGIN SOLUTION
        Tape._stack.remove(self)
        # END SOLUTION

    @classmethod
    def current(cls) -> "Tape":
        # BEGIN SOLUTION
        if cls._stack:
            return cls._stack[-1]
        if cls._default is None:
            cls._default = Tape()
        return cls._default
        # END SOLUTION

    def record(self, op: str, inputs: Sequence["Variable"], output: "Variable",
               backward: Callable) -> Entry:
        # BEGIN SOLUTION
        entry = Entry(op, tuple(inputs), output, backward)
        self.entries.append(entry)
        output.name = f"v{len(self.entries)}"
        output.index = len(self.entries) - 1
        return entry
        # END SOLUTION

    def log(self) -> list[str]:
        # BEGIN SOLUTION
        lines = []
        for e in self.entries:
            names = [x.name for x in e.inputs]
            if e.op in _SYMBOLS:
                lines.append(f"{e.output.name} = {names[0]} {_SYMBOLS[e.op]} {names[1]}")
            elif e.op == "neg":
                lines.append(f"{e.output.name} = -{names[0]}")
            else:
                lines.append(f"{e.output.name} = {e.op}({', '.join(names)})")
        return lines
        # END SOLUTION


class Variable:
    """A value (float or numpy array) that records every operation on it to a tape.

    `Variable(value, name=None)` is a leaf on `Tape.current()`; `.value`, `.name`, `.tape`;
    `.index` is its entry's position on the tape (None for a leaf); `.constant` is True for
    plain numbers lifted into Variables (they get no gradient). Supports + − × / **
    (a Variable or a plain number on either side), unary minus, `.sin() .cos() .exp()
    .log() .tanh()`, the matrix product `a @ b` (2-d arrays) and `.sum()` (of every
    element, a scalar). Each op computes the value with numpy — into a *new* value, never
    editing an operand's `.value` — and records, through `_result`, a backward rule written
    **with Variable operations** (so it can be differentiated again).

    A backward rule is a vector-Jacobian product: it maps g = ∂L/∂out to ∂L/∂input without
    ever building the Jacobian. For `a @ b` with a (n×k) and b (k×m) the Jacobian with
    respect to a has nm × nk entries; the VJP is one matrix product, g @ bᵀ (n×m times m×k).
    The checks measure the memory your matmul rule allocates: it must stay the size of the
    operands, not of J.

    Hint: the rules, with g the output's gradient and out the output:
    add (g, g) · sub (g, −g) · mul (g·b, g·a) · div (g/b, −g·a/(b·b)) · neg −g ·
    pow (g·b·a**(b−1), g·out·log a — only when b is not constant) · sin g·cos a ·
    cos −g·sin a · exp g·out · log g/a · tanh g·(1 − out·out) ·
    matmul (g @ b.T, a.T @ g) · sum g.broadcast_to(a's shape). Binary elementwise rules pass
    each gradient through `_unbroadcast(grad, input)`. Reflected ops (`2.0 - x`, `1.5 ** x`)
    lift the number and reuse the forward op, so the tape shows one entry `v1 = 2.0 - x`.
    `x * x` hands the same Variable in twice: each side gets its own gradient.
    """

    __array_ufunc__ = None   # numpy must hand `array * Variable` over to Variable.__rmul__

    def __init__(self, value: Any, name: str | None = None, *, constant: bool = False,
                 tape: Tape | None = None):
        self.value = value
        self.tape = tape if tape is not None else Tape.current()
        self.constant = constant
        self.index: int | None = None
        self.name = name if name is not None else (repr(value) if constant else "x")

    def __repr__(self) -> str:
        return f"Variable({self.name}={self.value!r})"

    def _lift(self, x: Any) -> "Variable":
        """A plain number becomes a constant Variable on this Variable's tape."""
        if isinstance(x, Variable):
            return x
        return Variable(float(x) if np.ndim(x) == 0 else np.asarray(x, dtype=float),
                        constant=True, tape=self.tape)

    def _result(self, op: str, inputs: Sequence["Variable"], value: Any, backward: Callable) -> "Variable":
        """The output Variable of one op, recorded on the tape unless every input is constant."""
        if all(x.constant for x in inputs):
            return Variable(value, constant=True, tape=self.tape)
        out = Variable(value, tape=self.tape)
        self.tape.record(op, inputs, out, backward)
        return out

    # -------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        a, b = self, self._lift(other)
        return self._result("add", (a, b), a.value + b.value,
                            lambda g, out: (_unbroadcast(g, a), _unbroadcast(g, b)))
        # END SOLUTION

    def __radd__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        return self._lift(other) + self
        # END SOLUTION

    def __sub__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        a, b = self, self._lift(other)
        return self._result("sub", (a, b), a.value - b.value,
                            lambda g, out: (_unbroadcast(g, a), _unbroadcast(-g, b)))
        # END SOLUTION

    def __rsub__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        return self._lift(other) - self
        # END SOLUTION

    def __mul__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        a, b = self, self._lift(other)
        return self._result("mul", (a, b), a.value * b.value,
                            lambda g, out: (_unbroadcast(g * b, a), _unbroadcast(g * a, b)))
        # END SOLUTION

    def __rmul__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        return self._lift(other) * self
        # END SOLUTION

    def __truediv__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        a, b = self, self._lift(other)
        return self._result("div", (a, b), a.value / b.value,
                            lambda g, out: (_unbroadcast(g / b, a), _unbroadcast(-g * a / (b * b), b)))
        # END SOLUTION

    def __rtruediv__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        return self._lift(other) / self
        # END SOLUTION

    def __neg__(self) -> "Variable":
        # BEGIN SOLUTION
        return self._result("neg", (self,), -self.value, lambda g, out: (-g,))
        # END SOLUTION

    def __pow__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        a, b = self, self._lift(other)

        def backward(g: Variable, out: Variable) -> tuple:
            ga = _unbroadcast(g * b * a ** (b - 1.0), a)
            return ga, (None if b.constant else _unbroadcast(g * out * a.log(), b))

        return self._result("pow", (a, b), a.value ** b.value, backward)
        # END SOLUTION

    def __rpow__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        return self._lift(other) ** self
        # END SOLUTION

    # -------------------------------------------------- functions
    def sin(self) -> "Variable":
        # BEGIN SOLUTION
        return self._result("sin", (self,), np.sin(self.value), lambda g, out: (g * self.cos(),))
        # END SOLUTION

    def cos(self) -> "Variable":
        # BEGIN SOLUTION
        return self._result("cos", (self,), np.cos(self.value), lambda g, out: (-g * self.sin(),))
        # END SOLUTION

    def exp(self) -> "Variable":
        # BEGIN SOLUTION
        return self._result("exp", (self,), np.exp(self.value), lambda g, out: (g * out,))
        # END SOLUTION

    def log(self) -> "Variable":
        # BEGIN SOLUTION
        return self._result("log", (self,), np.log(self.value), lambda g, out: (g / self,))
        # END SOLUTION

    def tanh(self) -> "Variable":
        # BEGIN SOLUTION
        return self._result("tanh", (self,), np.tanh(self.value), lambda g, out: (g * (1.0 - out * out),))
        # END SOLUTION

    # -------------------------------------------------- matrices
    def __matmul__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        a, b = self, self._lift(other)
        return self._result("matmul", (a, b), np.matmul(a.value, b.value),
                            lambda g, out: (g @ b.T, a.T @ g))
        # END SOLUTION

    def __rmatmul__(self, other: Any) -> "Variable":
        # BEGIN SOLUTION
        return self._lift(other) @ self
        # END SOLUTION

    def sum(self) -> "Variable":
        # BEGIN SOLUTION
        shape = np.shape(self.value)
        return self._result("sum", (self,), float(np.sum(self.value)), lambda g, out: (g.broadcast_to(shape),))
        # END SOLUTION

    # -------------------------------------------------- shape bookkeeping (given)
    def transpose(self) -> "Variable":
        """The matrix transpose, recorded (so a rule that uses it can be differentiated again)."""
        return self._result("transpose", (self,), np.swapaxes(np.asarray(self.value), -1, -2).copy(),
                            lambda g, out: (g.transpose(),))

    @property
    def T(self) -> "Variable":
        return self.transpose()

    def sum_to(self, shape: tuple) -> "Variable":
        """Sum a broadcast value back down to `shape` (numpy's broadcasting, undone)."""
        value = np.asarray(self.value)
        lead = value.ndim - len(shape)
        value = value.sum(axis=tuple(range(lead))) if lead > 0 else value
        axes = tuple(i for i, size in enumerate(shape) if size == 1 and value.shape[i] != 1)
        value = value.sum(axis=axes, keepdims=True) if axes else value
        source = np.shape(self.value)
        return self._result("sum_to", (self,), value.reshape(shape) if shape else float(value),
                            lambda g, out: (g.broadcast_to(source),))

    def broadcast_to(self, shape: tuple) -> "Variable":
        source = np.shape(self.value)
        return self._result("broadcast_to", (self,), np.broadcast_to(self.value, shape).copy(),
                            lambda g, out: (g.sum_to(source),))


def _unbroadcast(grad: Variable, like: Variable) -> Variable:
    """`grad` summed down to `like`'s shape when the forward op broadcast `like` up."""
    shape = np.shape(like.value)
    return grad if np.shape(grad.value) == shape else grad.sum_to(shape)


def grad(output: Variable, inputs: Sequence[Variable]) -> list[Variable]:
    """∂output/∂x for each x in `inputs`, by one backward sweep over output's tape.

    The sweep starts from an adjoint of ones shaped like `output` (for a non-scalar output
    that is the gradient of its sum, as `torch.autograd.grad(output.sum(), inputs)`), walks
    the entries of `output`'s own tape (`output.tape`, not whichever tape is current) from
    `output`'s entry back to the first, calls each entry's `backward(g, entry.output)` when
    its output has an adjoint, and **adds** what comes back into the adjoints of the entry's
    inputs (skip None and constant inputs). Returns one Variable per input, shaped like it:
    zeros for an input `output` does not depend on.

    `inputs` may hold any Variables — leaves, intermediates, `output` itself (∂y/∂y = 1),
    the same one twice — and `output` may be a leaf (its `.index` is None: nothing to
    sweep). Names play no part: leaves made without a name all share one, so key adjoints
    by identity, never by `.name`. Leave the values you are given as they are.

    The returned gradients are Variables built by recorded operations, so calling `grad`
    on them differentiates again; calling `grad` twice on the same output gives the same
    answer (entries recorded by a backward sweep come *after* the output, so a later
    sweep ignores them).

    Hint: keep adjoints in a dict keyed by `id(variable)`; `adj[k] = adj[k] + g` (a
    recorded Variable addition) — never overwrite. Iterate over a *copy* of
    `tape.entries[:output.index + 1]`: the backward rules append new entries as you go.
    """
    # BEGIN SOLUTION
    tape = output.tape
    ones = 1.0 if np.ndim(output.value) == 0 else np.ones_like(output.value, dtype=float)
    adjoint = {id(output): Variable(ones, constant=True, tape=tape)}
    stop = -1 if output.index is None else output.index
    for entry in reversed(tape.entries[:stop + 1]):
        g = adjoint.get(id(entry.output))
        if g is None:
            continue
        for x, gx in zip(entry.inputs, entry.backward(g, entry.output)):
            if gx is None or x.constant:
                continue
            adjoint[id(x)] = adjoint[id(x)] + gx if id(x) in adjoint else gx
    zeros = [0.0 if np.ndim(x.value) == 0 else np.zeros_like(x.value, dtype=float) for x in inputs]
    return [adjoint.get(id(x), Variable(z, constant=True, tape=tape)) for x, z in zip(inputs, zeros)]
    # END SOLUTION

