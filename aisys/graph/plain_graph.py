"""A Graph crossing the process boundary: what the child sends, what the judge expects.

The child turns the student's `Graph` into plain data (`graph_output`, which first makes
sure it *is* a Graph, so a forgotten return reads "topo_sort returned None; ..."); the
judge checks that plain data's full shape (`GRAPH`) and that names are unique before it
rebuilds a Graph to compare.
"""
from __future__ import annotations

from typing import Any

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
    """What a graph holds, to tell afterwards whether a student's function changed it."""
    return [(n.name, n.op, list(n.inputs)) for n in graph]


def expect_graph(plain: Any, what: str) -> Verdict:
    """Full shape first, then unique names (a dict rebuilt from duplicates would hide them)."""
    verdict = expect(plain, GRAPH, what)
    if not verdict.passed:
        return verdict
    names = [n["name"] for n in plain["nodes"]]
    repeated = sorted({n for n in names if names.count(n) > 1})
    return fail(f"{what} has duplicate node names: {repeated[:3]}") if repeated else PASS


def rebuild(plain: dict) -> Graph:
    """A judge's Graph from plain data that passed `expect_graph`."""
    return Graph(Node(n["name"], n["op"], list(n["inputs"])) for n in plain["nodes"])
