"""Reverse mode through one straight-line loop body: the bench's vector-Jacobian product.

`while_loop_grad` needs, for each iteration, d(body outputs)/d(body inputs) applied to a
cotangent. The body is a Python function over `Value`s; we trace it once on placeholders,
evaluate it on the saved inputs, then walk its nodes backwards (lab 02's reverse mode).
"""
from __future__ import annotations

from typing import Callable, Sequence

from aisys.controlflow.dataflow import DataflowGraph, GraphBuildError, Value
from aisys.controlflow.ops import OPS


def vjp(body_fn: Callable[..., Sequence[Value]], primals: Sequence[float],
        cotangents: Sequence[float]) -> list[float]:
    """Cotangents of `body_fn`'s inputs, given its inputs `primals` and the cotangents of
    its outputs. The body may only use arithmetic ops (no cond or loop inside)."""
    g = DataflowGraph()
    xs = [g.placeholder(f"x{i}") for i in range(len(primals))]
    outs = list(body_fn(*xs))
    if len(outs) != len(cotangents):
        raise ValueError(f"body returned {len(outs)} values for {len(cotangents)} cotangents")
    value: dict[str, float] = {x.node: float(p) for x, p in zip(xs, primals)}
    for node in g.ir:
        if node.op == "input":
            continue
        if OPS.get(node.op, (None, None))[1] is None and node.op not in ("lt", "le", "gt", "ge"):
            raise GraphBuildError(f"vjp: op {node.op!r} has no derivative here")
        it = iter(value[i] for i in node.inputs)
        value[node.name] = OPS[node.op][0](*[next(it) if c is None else c for c in node.attrs["operands"]])
    grad: dict[str, float] = {}
    for out, ct in zip(outs, cotangents):
        grad[out.node] = grad.get(out.node, 0.0) + float(ct)
    for node in reversed(list(g.ir)):
        g_out = grad.get(node.name)
        if g_out is None or node.op == "input" or OPS[node.op][1] is None:
            continue
        args = [value[i] for i in node.inputs]
        it = iter(args)
        full = [next(it) if c is None else c for c in node.attrs["operands"]]
        per_operand = OPS[node.op][1](full, value[node.name], g_out)
        edges = iter(node.inputs)
        for c, gi in zip(node.attrs["operands"], per_operand):
            if c is None:
                src = next(edges)
                grad[src] = grad.get(src, 0.0) + gi
    return [grad.get(x.node, 0.0) for x in xs]
