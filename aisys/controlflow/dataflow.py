"""Building a dataflow graph the TF1 way: call functions on symbolic `Value`s and each call
adds a node. `x + 1` adds an `add` node; `g.switch(x, p)` adds a Switch with two outputs.

The graph is an `aisys.graph.Graph` (lab 01's IR), so it prints as a tree or as DOT. Extra
facts live in each node's `attrs`:

- `ports`: for each input, which output of the producer it reads (a Switch has two:
  0 = false side, 1 = true side);
- `operands`: the op's argument list, with `None` where an edge input goes and a Python
  number where a constant was folded in (`x * 2` has one edge and the constant 2);
- `ctx`: the loop frames the node sits in, which the builder uses to refuse an edge that
  jumps into a loop without an Enter (the classic mistake: capture a value from outside).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Sequence

from aisys.controlflow.ops import OPS
from aisys.graph.ir import Graph, Node


class GraphBuildError(ValueError):
    """An edge the interpreter could never fire, caught while the graph is built."""


@dataclass(frozen=True, eq=False)
class Value:
    """One output (`port`) of one node of a `DataflowGraph`."""

    graph: "DataflowGraph"
    node: str
    port: int = 0

    def _op(self, op: str, *args) -> "Value":
        return self.graph.op(op, self, *args)

    def __add__(self, o): return self._op("add", o)
    def __radd__(self, o): return self.graph.op("add", o, self)
    def __sub__(self, o): return self._op("sub", o)
    def __rsub__(self, o): return self.graph.op("sub", o, self)
    def __mul__(self, o): return self._op("mul", o)
    def __rmul__(self, o): return self.graph.op("mul", o, self)
    def __truediv__(self, o): return self._op("div", o)
    def __rtruediv__(self, o): return self.graph.op("div", o, self)
    def __floordiv__(self, o): return self._op("floordiv", o)
    def __mod__(self, o): return self._op("mod", o)
    def __neg__(self): return self._op("neg")
    def __lt__(self, o): return self._op("lt", o)
    def __le__(self, o): return self._op("le", o)
    def __gt__(self, o): return self._op("gt", o)
    def __ge__(self, o): return self._op("ge", o)

    def __bool__(self):
        raise TypeError("a graph Value has no truth value while the graph is being built: "
                        "use cond()/while_loop() instead of a Python if/while")

    def __repr__(self) -> str:
        return f"Value({self.node}:{self.port})"


def sin(x: Value) -> Value: return x.graph.op("sin", x)
def cos(x: Value) -> Value: return x.graph.op("cos", x)
def exp(x: Value) -> Value: return x.graph.op("exp", x)


class DataflowGraph:
    """A graph under construction. Nodes are added in creation order."""

    def __init__(self) -> None:
        self.ir = Graph()
        self._counts: dict[str, int] = {}
        self._scope: str | None = None

    # ---- naming and scopes
    def _name(self, stem: str) -> str:
        n = self._counts.get(stem, 0)
        self._counts[stem] = n + 1
        return f"{stem}_{n}"

    def unique_frame(self, stem: str = "while") -> str:
        """A fresh frame name for a new loop ('while_0', 'while_1', ...)."""
        return self._name(f"frame:{stem}").split(":", 1)[1]

    @contextlib.contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Tag every node made inside with attrs['scope'] (the checks use it to see which
        branch's ops ran)."""
        outer, self._scope = self._scope, name
        try:
            yield
        finally:
            self._scope = outer

    def _add(self, op: str, inputs: Sequence[Value], ctx: tuple, **attrs) -> Node:
        for v in inputs:
            if not isinstance(v, Value) or v.graph is not self:
                raise GraphBuildError(f"{op}: input {v!r} is not a Value of this graph")
        node = self.ir.add(self._name(op), op, [v.node for v in inputs],
                           ports=[v.port for v in inputs], ctx=ctx, **attrs)
        if self._scope:
            node.attrs["scope"] = self._scope
        return node

    def ctx(self, v: Value) -> tuple:
        return self.ir[v.node].attrs["ctx"]

    def _same_ctx(self, op: str, values: Sequence[Value]) -> tuple:
        ctxs = {self.ctx(v) for v in values}
        if len(ctxs) > 1:
            raise GraphBuildError(
                f"{op}: its inputs live in different loop frames {sorted(ctxs)}; a value from "
                "outside a loop must come in through Enter (pass it as a loop variable)")
        return ctxs.pop() if ctxs else ()

    # ---- ordinary ops
    def placeholder(self, name: str) -> Value:
        node = self.ir.add(name, "input", [], ports=[], ctx=())
        return Value(self, node.name)

    def op(self, op: str, *args) -> Value:
        """An arithmetic op; Python numbers among `args` become constants of the node."""
        if op not in OPS:
            raise GraphBuildError(f"unknown op {op!r}")
        edges = [a for a in args if isinstance(a, Value)]
        operands = [None if isinstance(a, Value) else a for a in args]
        if not edges:
            raise GraphBuildError(f"{op}: needs at least one Value input")
        node = self._add(op, edges, self._same_ctx(op, edges), operands=operands)
        return Value(self, node.name)

    def push(self, stack: str, values: Sequence[Value]) -> list[Value]:
        """A StackPush: each time it fires live it appends its input values to the run's
        stack `stack`, and passes them through unchanged."""
        node = self._add("StackPush", values, self._same_ctx("StackPush", values), stack=stack)
        return [Value(self, node.name, i) for i in range(len(values))]

    # ---- the five control-flow primitives (their firing rules are in primitives.py)
    def switch(self, data: Value, pred: Value) -> tuple[Value, Value]:
        """(false_side, true_side): data goes out on one side, a dead token on the other."""
        node = self._add("Switch", [data, pred], self._same_ctx("Switch", [data, pred]))
        return Value(self, node.name, 0), Value(self, node.name, 1)

    def merge(self, values: Sequence[Value]) -> Value:
        """Forwards whichever input arrives live. A loop's Merge is made with its Enter
        input only; `add_input` wires the NextIteration back edge once the body exists."""
        if not values:
            raise GraphBuildError("merge: a Merge needs at least one input")
        node = self._add("Merge", values, self._same_ctx("Merge", values))
        return Value(self, node.name)

    def add_input(self, merge: Value, value: Value) -> None:
        """Wire `value` as one more input of the Merge `merge` (the loop's back edge)."""
        node = self.ir[merge.node]
        if node.op != "Merge":
            raise GraphBuildError(f"add_input: {merge.node} is a {node.op}, not a Merge")
        if self.ctx(value) != node.attrs["ctx"]:
            raise GraphBuildError(f"add_input: {value.node} is in frame {self.ctx(value)}, "
                                  f"the Merge in {node.attrs['ctx']}")
        node.inputs.append(value.node)
        node.attrs["ports"].append(value.port)

    def enter(self, value: Value, frame: str) -> Value:
        """Moves a value into loop frame `frame` (iteration 0 of a new frame instance)."""
        node = self._add("Enter", [value], self.ctx(value) + (frame,), frame=frame)
        return Value(self, node.name)

    def exit(self, value: Value) -> Value:
        """Moves a value out of the innermost loop frame."""
        ctx = self.ctx(value)
        if not ctx:
            raise GraphBuildError("exit: the value is not inside a loop frame")
        node = self._add("Exit", [value], ctx[:-1])
        return Value(self, node.name)

    def next_iteration(self, value: Value) -> Value:
        """Sends a value to the next iteration of its frame."""
        node = self._add("NextIteration", [value], self.ctx(value))
        return Value(self, node.name)

    # ---- summaries
    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.ir:
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts

    def __len__(self) -> int:
        return len(self.ir)
