"""Costs on a lab-01 `Graph`, and the numbers every schedule is measured against.

A node's attrs carry what a scheduler needs to know:
  - `cost`:  its compute time in abstract units on a speed-1 worker (an int, so that
             simulated times add up exactly);
  - `bytes`: the size of its output — what a cross-device edge has to move.

Two lower bounds hold for *any* schedule of a graph on m identical workers:
  - the critical path: the longest chain of dependent ops can't be shortened;
  - work / m: m workers can't do more than m units of work per unit of time.
Graham (1966) showed any greedy (work-conserving) list schedule finishes within
work / m + critical path — at most about twice the optimum.
"""
from __future__ import annotations

from typing import Mapping

from aisys.graph.ir import Graph, Node
from aisys.graph.walk import topological_order  # noqa: F401 - the bench's one walker, re-exported

COST = "cost"
BYTES = "bytes"


def node_costs(graph: Graph) -> dict[str, float]:
    """name → compute cost from the `cost` attr (0 when absent)."""
    return {node.name: float(node.attrs.get(COST, 0)) for node in graph}


def bottom_levels(graph: Graph, costs: Mapping[str, float]) -> dict[str, float]:
    """Longest path from each node to any exit, counting the node's own cost."""
    consumers = graph.consumers()
    level: dict[str, float] = {}
    for name in reversed(topological_order(graph)):
        level[name] = costs[name] + max((level[c] for c in consumers[name]), default=0.0)
    return level


def critical_path(graph: Graph, costs: Mapping[str, float] | None = None) -> float:
    costs = node_costs(graph) if costs is None else costs
    return max(bottom_levels(graph, costs).values(), default=0.0)


def total_work(graph: Graph, costs: Mapping[str, float] | None = None) -> float:
    costs = node_costs(graph) if costs is None else costs
    return float(sum(costs[n.name] for n in graph))


def lower_bound(graph: Graph, n_workers: int, costs: Mapping[str, float] | None = None) -> float:
    """max(critical path, work / m): no schedule on m workers can beat it."""
    return max(critical_path(graph, costs), total_work(graph, costs) / n_workers)


def graham_bound(graph: Graph, n_workers: int, costs: Mapping[str, float] | None = None) -> float:
    """work / m + critical path: every greedy list schedule finishes within it."""
    return total_work(graph, costs) / n_workers + critical_path(graph, costs)


def to_spec(graph: Graph) -> list:
    """Plain data with attrs (lab 01's `to_plain` keeps structure only): crosses processes."""
    return [[n.name, n.op, list(n.inputs), dict(n.attrs)] for n in graph]


def from_spec(spec: list) -> Graph:
    return Graph(Node(str(name), str(op), [str(i) for i in inputs], dict(attrs))
                 for name, op, inputs, attrs in spec)
