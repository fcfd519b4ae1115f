"""What labs 01-02's checks send across the process boundary, and how the judge reads it.

A Graph: the child turns the student's `Graph` into plain data (`graph_output`, which first
makes sure it *is* a Graph, so a forgotten return reads "topo_sort returned None; ...");
the judge checks that plain data's full shape (`GRAPH`) and that names are unique before it
rebuilds a Graph to compare.

Scalars: a 0-d array or tensor travels as a float (`plain_scalars` wraps a check's `run`),
so every output is a number, a list, a dict or an array with at least one dimension.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from aisys.graph.ir import Graph, Node
from aisys.grading.shapes import STR, dict_of, expect, list_of, require
from aisys.grading.spec import PASS, Verdict, fail

NODE = dict_of({"name": STR, "op": STR, "inputs": list_of(STR)})
GRAPH = dict_of({"nodes": list_of(NODE)})


def graph_output(value: Any, who: str) -> dict:
    """In the child: the student's Graph as plain data (attrs left behind: no check reads them)."""
    require(value, Graph, who, "an aisys.graph.Graph")
    return {"nodes": [{"name": n.name, "op": n.op, "inputs": list(n.inputs)} for n in value]}


def snapshot(graph: Graph) -> list:
    """What a graph holds — names, ops, inputs and each node's attrs (as their repr: a student's
    value there may not compare with ==) — to tell afterwards whether a function changed it."""
    return [(n.name, n.op, list(n.inputs), repr(n.attrs)) for n in graph]


def changes(graph: Graph, before: list) -> list[str]:
    """[] when `graph` still holds what `snapshot` saw as `before`; else what changed, in words."""
    after = snapshot(graph)
    if after == before:
        return []
    if [a[:3] for a in after] == [b[:3] for b in before]:
        node = next(a[0] for a, b in zip(after, before) if a != b)
        return [f"node {node!r}'s attrs were modified"]
    return ["the graph's nodes or edges were modified"]


def expect_graph(plain: Any, what: str) -> Verdict:
    """Full shape first, then unique names (a dict rebuilt from duplicates would hide them)."""
    verdict = expect(plain, GRAPH, what)
    if not verdict.passed:
        return verdict
    names = [n["name"] for n in plain["nodes"]]
    seen: dict = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    repeated = sorted(n for n, k in seen.items() if k > 1)
    return fail(f"{what} has duplicate node names: {repeated[:3]}") if repeated else PASS


def rebuild(plain: dict) -> Graph:
    """A judge's Graph from plain data that passed `expect_graph`."""
    return Graph(Node(n["name"], n["op"], list(n["inputs"])) for n in plain["nodes"])


def scalars_as_floats(value: Any) -> Any:
    """`value` with every 0-d array or tensor (at any depth) replaced by a float."""
    if isinstance(value, dict):
        return {k: scalars_as_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scalars_as_floats(v) for v in value]
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if type(value).__module__ == "torch" and getattr(value, "ndim", None) == 0 and value.dtype.is_floating_point:
        return float(value.item())
    return value


def plain_scalars(check: Any) -> Any:
    """The check, its `run` returning `scalars_as_floats` of what it computed."""
    run = check.run
    check.run = lambda case, student: scalars_as_floats(run(case, student))
    return check
