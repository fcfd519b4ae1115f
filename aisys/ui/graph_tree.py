"""A Graph as a rich Tree: each sink at the root, its inputs as children (shared nodes are
marked ↺ after their first appearance, so a DAG prints without repeating subtrees).

Control edges — "run after", with no tensor flowing — can be drawn too: `control` maps a
node to the nodes it must wait for; they appear as children marked ⇠ … (control). Names
and ops come from student code, so they are escaped before rich sees them; nothing is told
by colour alone (↺ and ⇠ carry the meaning when piped).
"""
from __future__ import annotations

from rich.tree import Tree

from aisys.graph.ir import Graph
from aisys.ui.safe import escape

_OP_STYLE = {"input": "cyan", "AccumulateGrad": "cyan", "saved": "magenta"}


def graph_tree(graph: Graph, title: str, control: dict[str, list[str]] | None = None) -> Tree:
    tree = Tree(f"[bold]{escape(title)}[/]")
    seen: set[str] = set()
    control = control or {}

    def label(name: str) -> str:
        node = graph.nodes.get(name)
        op = node.op if node else "?"
        style = _OP_STYLE.get(op, "green")
        shown = f"[{style}]{escape(name)}[/]"
        return f"{shown} [dim]{escape(op)}[/]" if op != name else shown

    def grow(parent: Tree, name: str) -> None:
        if name in seen:
            parent.add(f"{label(name)} [dim]↺[/]")
            return
        seen.add(name)
        branch = parent.add(label(name))
        for src in graph.nodes[name].inputs if name in graph.nodes else []:
            grow(branch, src)
        for before in control.get(name, []):
            branch.add(f"[yellow]⇠ {escape(before)}[/] [dim](control edge: runs after it)[/]")

    for sink in graph.sinks():
        grow(tree, sink)
    return tree
