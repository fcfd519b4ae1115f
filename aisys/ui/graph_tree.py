"""A Graph as a rich Tree: each sink at the root, its inputs as children (shared nodes are
marked ↺ after their first appearance, so a DAG prints without repeating subtrees)."""
from __future__ import annotations

from rich.tree import Tree

from aisys.graph.ir import Graph

_OP_STYLE = {"input": "cyan", "AccumulateGrad": "cyan", "saved": "magenta"}


def graph_tree(graph: Graph, title: str) -> Tree:
    tree = Tree(f"[bold]{title}[/]")
    seen: set[str] = set()

    def label(name: str) -> str:
        node = graph.nodes.get(name)
        op = node.op if node else "?"
        style = _OP_STYLE.get(op, "green")
        return f"[{style}]{name}[/] [dim]{op}[/]" if op != name else f"[{style}]{name}[/]"

    def grow(parent: Tree, name: str) -> None:
        if name in seen:
            parent.add(f"{label(name)} [dim]↺[/]")
            return
        seen.add(name)
        branch = parent.add(label(name))
        for src in graph.nodes[name].inputs if name in graph.nodes else []:
            grow(branch, src)

    for sink in graph.sinks():
        grow(tree, sink)
    return tree
