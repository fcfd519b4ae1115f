"""`aisys lab run graph`, section 5: one training step of the article's conv + ReLU network.

f(x) = ReLU(Conv(w, x) + b), Loss = f(x) − label. The forward graph, the backward graph your
`backward_graph` derives from it, and the update of each parameter — which overwrites w in
place, so it must wait for every op that still reads the old w: the conv in the forward
pass and the conv's backward op, which reads w as a saved value. No tensor flows along
those edges; they are *control edges* (order only), the special edges the article's
figure leaves out.
"""
from __future__ import annotations

from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from aisys.graph.dual import CONV_RELU_INPUTS, CONV_RELU_STEPS, PARAMETERS, update_control_edges
from aisys.graph.expressions import graph_of
from aisys.graph.ir import Graph
from aisys.graph.plain import graph_output, rebuild
from aisys.ui.attempt import attempt
from aisys.ui.graph_tree import graph_tree
from aisys.workspace import Student

STAGES = [("1 forward", "conv, add (bias), relu: the model computes y"),
          ("2 loss", "sub: L = y − label"),
          ("3 autodiff", "backward_graph derives the dual graph (before anything runs, in a static framework)"),
          ("4 backprop", "run the dual graph from L_grad = 1 back to w_grad and b_grad"),
          ("5 update", "w ← w − lr·w_grad, b ← b − lr·b_grad: each waits on control edges")]


def training_step(student: Student, console: Console) -> None:
    console.rule("5 · one training step: conv + ReLU, its backward graph, and control edges")
    forward = graph_of(CONV_RELU_STEPS, CONV_RELU_INPUTS)
    trees = [graph_tree(forward, "forward: f(x) = ReLU(Conv(w, x) + b), L = f(x) − label")]
    dual = attempt(console, student, "backward_graph",
                   lambda fn: rebuild(graph_output(fn(forward), "backward_graph")))
    if dual is not None:
        trees.append(graph_tree(dual, "backward (your backward_graph; saved = read, not recomputed)"))
    console.print(Columns([Panel(t) for t in trees]))
    updates = Graph()
    for p in PARAMETERS:
        updates.add(f"{p}_grad", "gradient")
        updates.add(f"update_{p}", "assign", [f"{p}_grad"])
    edges = update_control_edges(forward, dual if dual is not None else Graph())
    console.print(Panel(graph_tree(updates, "update: data edge from p_grad, control edges from p's readers",
                                   control=edges), expand=False))
    table = Table("stage", "what runs", title="the five stages of a training step")
    for stage, text in STAGES:
        table.add_row(stage, text)
    console.print(table)
    if dual is None:
        console.print("(the control edges from backward ops appear once backward_graph works: the conv's "
                      "backward op reads the saved w)")
