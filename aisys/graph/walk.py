"""The bench's one graph walker: a topological order by depth-first search.

Lab 01 asks students to write Kahn's algorithm themselves (`topo_sort`); the bench needs an
order of its own, used by every topic that needs one (scheduling, execution), so no check
or demo ever depends on a student's or the reference's answer. It walks the other classic
way — depth first from each node to its inputs, emitting a node once all its inputs are
out — so the student edition ships a walker but not the exercise's answer.
"""
from __future__ import annotations

from aisys.graph.ir import Graph


def topological_order(graph: Graph) -> list[str]:
    """Node names, each after all of its inputs; ValueError on a cycle."""
    state: dict[str, int] = {}          # 1: on the current path, 2: emitted
    order: list[str] = []
    for root in (node.name for node in graph):
        stack = [(root, iter(graph[root].inputs))] if root not in state else []
        if stack:
            state[root] = 1
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                state[name] = 2
                order.append(name)
            elif state.get(child) == 1:
                raise ValueError("graph has a cycle")
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(graph[child].inputs)))
    return order
