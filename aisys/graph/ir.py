"""A tiny graph IR: nodes are operators, edges are the tensors flowing between them.

`Graph` is plain data (names, op strings, input lists) so it crosses process boundaries,
prints as a tree or as DOT, and can be checked without running anything. Node order is
insertion order; `inputs` lists the nodes whose outputs a node consumes (an input used
twice is listed twice, as in `x * x`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)


class Graph:
    """Nodes by name, in insertion order. Edges point from producer to consumer."""

    def __init__(self, nodes: Iterable[Node] = ()):
        self.nodes: dict[str, Node] = {}
        for node in nodes:
            self.nodes[node.name] = node

    def add(self, name: str, op: str, inputs: Iterable[str] = (), **attrs) -> Node:
        """Append a node and return it. Names are unique (a repeat raises ValueError); inputs
        may name nodes added later, and a value used twice is listed twice."""
        if name in self.nodes:
            raise ValueError(f"duplicate node name {name!r}")
        node = Node(name, op, list(inputs), dict(attrs))
        self.nodes[name] = node
        return node

    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(producer, consumer) pairs, one per use."""
        return [(src, node.name) for node in self for src in node.inputs]

    def consumers(self) -> dict[str, list[str]]:
        """name → the nodes that use its output (the successor lists Kahn's algorithm walks)."""
        out: dict[str, list[str]] = {name: [] for name in self.nodes}
        for src, dst in self.edges:
            out.setdefault(src, []).append(dst)
        return out

    def sources(self) -> list[str]:
        return [n.name for n in self if not n.inputs]

    def sinks(self) -> list[str]:
        used = {src for src, _ in self.edges}
        return [n.name for n in self if n.name not in used]

    def to_plain(self) -> dict:
        """JSON-able form; attrs travel too when a node has any (they must be plain data)."""
        return {"nodes": [{"name": n.name, "op": n.op, "inputs": list(n.inputs),
                           **({"attrs": dict(n.attrs)} if n.attrs else {})} for n in self]}

    @classmethod
    def from_plain(cls, data: dict) -> "Graph":
        return cls(Node(str(d["name"]), str(d["op"]), [str(i) for i in d.get("inputs", [])],
                        dict(d.get("attrs") or {})) for d in data["nodes"])

    def __repr__(self) -> str:
        return f"Graph({len(self)} nodes, {len(self.edges)} edges)"
