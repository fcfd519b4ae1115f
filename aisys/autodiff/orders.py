"""In which order a backward pass may visit the nodes — shown, with torch doing the arithmetic.

A node's backward op may run only once every consumer has sent its share of dL/dn: a reverse
topological order. The article 计算图与自动微分 says a static framework builds the backward
graph by walking the forward graph breadth-first from the loss; as a *visiting* order that
is not enough, and `adjoints_in_order` shows what it costs: it runs each node's local VJP
(torch, on the node alone, seeded with the adjoint gathered so far) in the order given, so a
node visited before all of its consumers passes on an incomplete adjoint.
"""
from __future__ import annotations

from collections import deque

from aisys.graph.expressions import run_torch
from aisys.graph.ir import Graph
from aisys.graph.walk import topological_order


def bfs_from(graph: Graph, output: str) -> list[str]:
    """Nodes in breadth-first order from `output` towards the inputs, each once (first reached)."""
    order, seen, queue = [], {output}, deque([output])
    while queue:
        name = queue.popleft()
        order.append(name)
        for src in graph[name].inputs:
            if src not in seen:
                seen.add(src)
                queue.append(src)
    return order


def reverse_topological(graph: Graph) -> list[str]:
    return list(reversed(topological_order(graph)))


def adjoints_in_order(steps: list, values: dict[str, float], output: str, order: list[str]) -> dict[str, float]:
    """dL/dn for every node, visiting the nodes in `order` once each. Each visit runs the node's
    *local* VJP (torch, on detached copies of its inputs: no path behind them counts)."""
    import torch

    steps = [tuple(s) for s in steps]
    env = run_torch(steps, {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()})
    step_of = {name: (name, op, args) for name, op, args in steps}
    adjoint = {name: 0.0 for name in env}
    adjoint[output] = 1.0
    for name in order:
        if name not in step_of:
            continue
        srcs = list(dict.fromkeys(step_of[name][2]))
        local = {s: env[s].detach().clone().requires_grad_() for s in srcs}
        out = run_torch([step_of[name]], local)[name]
        grads = torch.autograd.grad(out, [local[s] for s in srcs], torch.tensor(adjoint[name], dtype=torch.float64))
        for src, g in zip(srcs, grads):
            adjoint[src] += float(g)
    return adjoint
