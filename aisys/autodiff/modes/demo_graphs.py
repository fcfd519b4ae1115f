"""`aisys lab run autodiff`, sections 6-7: the backward graph as static IR, and its visiting order.

6 runs your `run_backward_graph` on lab 01's dual graph of f (static dual-graph AD: the
backward graph exists before any number does). 7 is the bench's own panel: breadth-first
from the loss, as the article describes the static backward pass, against a reverse
topological order, on a graph where the two disagree.
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from aisys.autodiff.modes.dual_checks import BFS_TRAP_STEPS
from aisys.autodiff.orders import adjoints_in_order, bfs_from, reverse_topological
from aisys.autodiff.truth import torch_node_adjoints
from aisys.graph.dual import dual_graph
from aisys.graph.expressions import F_STEPS, graph_of
from aisys.ui.attempt import attempt
from aisys.ui.safe import escape
from aisys.workspace import Student

F_AT = {"x1": 2.0, "x2": 5.0}
TRAP_AT = {"x1": 0.7, "x2": 1.3}


def static_graph(student: Student, console: Console) -> None:
    console.rule("6 · static dual-graph AD: lab 01's backward graph, run on numbers")
    forward = graph_of(F_STEPS)
    dual = dual_graph(forward)
    console.print(f"the dual graph of f has {len(dual)} nodes: " + ", ".join(
        f"{n.name} ← {', '.join(n.inputs) or 'seed 1'}" for n in dual if n.op != "saved"))

    def run(fn):
        got = fn(forward, dual, "v5", dict(F_AT))
        if not isinstance(got, dict):
            raise TypeError(f"run_backward_graph returned {type(got).__name__}; expected a dict")
        return got

    adjoints = attempt(console, student, "run_backward_graph", run)
    if adjoints is None:
        return
    truth = torch_node_adjoints(F_STEPS, F_AT, "v5", list(forward.nodes))
    table = Table("node", "dL/dnode (yours)", "torch", "= torch?", title="your run_backward_graph on f at (2, 5)")
    for name in forward.nodes:
        mine = adjoints.get(name)
        ok = isinstance(mine, (int, float)) and abs(mine - truth[name]) <= 1e-9 * (1 + abs(truth[name]))
        table.add_row(name, escape(f"{mine:.10g}" if isinstance(mine, (int, float)) else mine),
                      f"{truth[name]:.10g}", "✓ yes" if ok else "✗ no")
    console.print(table)


def visiting_order(console: Console) -> None:
    console.rule("7 · a backward pass needs a reverse topological order, not breadth-first from the loss")
    forward = graph_of(BFS_TRAP_STEPS)
    console.print("L = t4 = (t0 + exp(cos t0)) · x2 with t0 = sin x1: t0 feeds t3 directly and through t1 → t2.")
    truth = torch_node_adjoints(BFS_TRAP_STEPS, TRAP_AT, "t4", list(forward.nodes))
    table = Table("visiting order", "nodes, each once", "dL/dx1", "= torch?",
                  title=f"the same local VJPs, two orders (x1 = {TRAP_AT['x1']}, x2 = {TRAP_AT['x2']})")
    for label, order in (("breadth-first from L", bfs_from(forward, "t4")),
                         ("reverse topological", reverse_topological(forward))):
        got = adjoints_in_order(BFS_TRAP_STEPS, TRAP_AT, "t4", order)["x1"]
        ok = abs(got - truth["x1"]) <= 1e-9 * (1 + abs(truth["x1"]))
        table.add_row(label, " → ".join(order), f"{got:.10g}", "✓ yes" if ok else "✗ no")
    console.print(table)
    console.print(f"torch: dL/dx1 = {truth['x1']:.10g}. Breadth-first reaches t0 at depth 2 and passes its "
                  "adjoint on before t1 (depth 3) has sent its share.")
