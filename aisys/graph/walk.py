"""The bench's one graph walker: a topological order (Kahn's algorithm).

Lab 01 asks students to write this themselves (`topo_sort`); the bench keeps its own copy
here, used by every topic that needs an order (scheduling, execution, lab 01's judges), so
no check or demo ever depends on a student's or the reference's answer.
"""
from __future__ import annotations

from collections import deque

from aisys.graph.ir import Graph


def kahn(graph: Graph) -> tuple[list[str], list[str]]:
    """(the nodes Kahn's algorithm can order, the nodes it cannot: on a cycle or after one).

    An input listed twice is two edges; an input that names no node of the graph is
    ignored (it is nobody's output here)."""
    indegree = {node.name: sum(1 for i in node.inputs if i in graph.nodes) for node in graph}
    consumers = graph.consumers()
    ready = deque(name for name, degree in indegree.items() if degree == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for nxt in consumers.get(name, []):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    emitted = set(order)
    return order, [name for name in graph.nodes if name not in emitted]


def topological_order(graph: Graph) -> list[str]:
    """Node names, each after all of its inputs; ValueError on a cycle."""
    order, stuck = kahn(graph)
    if stuck:
        raise ValueError(f"graph has a cycle through {', '.join(stuck[:5])}")
    return order
