"""Graphviz DOT text for a Graph (paste into `dot -Tsvg` or an online viewer)."""
from __future__ import annotations

from aisys.graph.ir import Graph

_SHAPES = {"input": "ellipse", "saved": "note", "AccumulateGrad": "ellipse"}


def to_dot(graph: Graph, name: str = "G", rankdir: str = "LR") -> str:
    lines = [f'digraph "{name}" {{', f"  rankdir={rankdir};", '  node [fontname="Helvetica"];']
    for node in graph:
        shape = _SHAPES.get(node.op, "box")
        label = node.name if node.op in (node.name, "input") else f"{node.name}\\n{node.op}"
        lines.append(f'  "{node.name}" [label="{label}", shape={shape}];')
    for src, dst in graph.edges:
        lines.append(f'  "{src}" -> "{dst}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
