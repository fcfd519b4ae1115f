"""The bench's one graph walker: a topological order by depth-first search.

Lab 01 asks students to write Kahn's algorithm themselves (`topo_sort`); the bench needs an
order of its own, used by every topic that needs one (scheduling, execution, lab 01's
judges), so no check or demo ever depends on a student's or the reference's answer. It walks
the other classic way — depth first from each node to its inputs, emitting a node once all
its inputs are out — so the student edition ships a walker but not the exercise's answer.
"""
from __future__ import annotations

from aisys.graph.ir import Graph


def orderable(graph: Graph) -> tuple[list[str], list[str]]:
    """(the nodes that can be ordered, in a topological order; the nodes that cannot: on a
    cycle or after one, in the graph's order). An input that names no node of the graph is
    ignored (it is nobody's output here)."""
    on_path, done, stuck = set(), set(), set()
    order: list[str] = []
    for root in graph.nodes:
        if root in done:
            continue
        path = [root]
        stack = [(root, iter([i for i in graph[root].inputs if i in graph.nodes]))]
        on_path.add(root)
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(name)
                done.add(name)
                if name in stuck or any(i in stuck for i in graph[name].inputs):
                    stuck.add(name)
                else:
                    order.append(name)
            elif child in on_path:                     # a cycle: everything from child to here
                stuck.update(path[path.index(child):])
            elif child not in done:
                on_path.add(child)
                path.append(child)
                stack.append((child, iter([i for i in graph[child].inputs if i in graph.nodes])))
    return order, [name for name in graph.nodes if name in stuck]


def topological_order(graph: Graph) -> list[str]:
    """Node names, each after all of its inputs; ValueError on a cycle."""
    order, stuck = orderable(graph)
    if stuck:
        raise ValueError(f"graph has a cycle through {', '.join(stuck[:5])}")
    return order
