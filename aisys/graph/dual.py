"""The bench's dual (backward) graph builder, by the same contract as lab 01's `backward_graph`.

Lab 01 asks students to write the builder; the bench keeps its own (as it keeps its own
walker in `walk.py`) so that lab 02's `run_backward_graph` is graded on a dual graph that
does not depend on anyone's lab-01 answer, and so the demos can draw one.

The contract, for every forward node n (inputs included): a node `n_grad` with op
`n.op + "_grad"` — n's backward op. Its inputs are the `_grad` node of each consumer of n,
once per use (those send dL/dn back), then the forward values n's own derivative reads
(`GRAD_NEEDS[n.op]`: n's inputs, n itself, or nothing), each listed once and each present
in the dual graph as a node of op "saved" named like the forward node.
"""
from __future__ import annotations

from aisys.graph.expressions import GRAD_NEEDS
from aisys.graph.ir import Graph, Node


def saved_by(node: Node) -> list[str]:
    """The forward values `node`'s own derivative reads, each once, in input order."""
    need = GRAD_NEEDS.get(node.op, "")
    if need == "inputs":
        return list(dict.fromkeys(node.inputs))
    return [node.name] if need == "output" else []


def dual_graph(forward: Graph) -> Graph:
    """The backward graph of `forward`: saved-value nodes first, then one `_grad` node per
    forward node, consumers' gradients before the values the derivative reads."""
    dual, consumers = Graph(), forward.consumers()
    for name in dict.fromkeys(v for node in forward for v in saved_by(node)):
        dual.add(name, "saved")
    for node in forward:
        dual.add(f"{node.name}_grad", f"{node.op}_grad",
                 [f"{c}_grad" for c in consumers.get(node.name, [])] + saved_by(node))
    return dual


#: One training step of the article's conv + ReLU example, f(x) = ReLU(Conv(w, x) + b) and
#: Loss = f(x) − label: (name, op, inputs) of the forward graph.
CONV_RELU_STEPS: list[tuple[str, str, list[str]]] = [
    ("c", "conv", ["x", "w"]), ("z", "add", ["c", "b"]), ("y", "relu", ["z"]), ("L", "sub", ["y", "label"]),
]
CONV_RELU_INPUTS = ("x", "w", "b", "label")
PARAMETERS = ("w", "b")


def update_control_edges(forward: Graph, dual: Graph) -> dict[str, list[str]]:
    """For each parameter p, the update `p ← p − lr·p_grad` overwrites p in place, so it must
    wait for every op that still reads the old p — the forward ops that consume it and the
    backward ops that read it as a saved value. No tensor flows along those edges: they are
    *control* edges, order only. Returns {update node: [ops it must wait for]}."""
    edges = {}
    for p in PARAMETERS:
        readers = [c for c in forward.consumers().get(p, [])]
        readers += [n.name for n in dual if p in n.inputs and not n.name.endswith(f"{p}_grad")]
        edges[f"update_{p}"] = list(dict.fromkeys(readers))
    return edges
