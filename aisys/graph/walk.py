"""The bench's one graph walker: a topological order (Kahn's algorithm).

Lab 01 asks students to write this themselves (`topo_sort`); the bench keeps its own copy
here, used by every topic that needs an order (scheduling, execution), so no check or demo
ever depends on a student's or the reference's answer.
"""
from __future__ import annotations

from collections import deque

from aisys.graph.ir import Graph


def topological_order(graph: Graph) -> list[str]:
    """Node names, each after all of its inputs; ValueError on a cycle."""
    indegree = {node.name: len(node.inputs) for node in graph}
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
    if len(order) != len(graph):
        raise ValueError("graph has a cycle")
    return order
