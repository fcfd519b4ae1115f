"""Lab 02, part 6 — static dual-graph AD: run lab 01's backward graph on numbers.

A tape (part 3) is recorded while the program runs. A static framework (TensorFlow 1.x,
MindSpore's graph mode) instead derives the backward graph *before* anything runs, as IR —
exactly what lab 01's `backward_graph` builds — and then executes it like any other graph.
Here you are that executor: given the forward graph, its dual and the input values,
produce every adjoint dL/dn.

The dual graph by lab 01's contract: for each forward node n, `n_grad` (op `n.op + "_grad"`)
is n's backward op. Its inputs are the `_grad` nodes of n's consumers (once per use) and the
forward values n's own derivative reads (nodes of op "saved", named like the forward node).
So to run `n_grad` you need

- dL/dn: 1 if n is the output, plus what every consumer's backward op sent to n (a value
  used twice receives twice — by two ops, or from both slots of one op, as in x * x);
- n's local derivatives, from the saved forward values: send dL/dn × ∂n/∂input to each
  of n's inputs.

The order matters. A backward op may run only when *every* consumer has sent its share:
a topological order of the dual graph (a reverse topological order of the forward graph).
Walking breadth-first from the loss is not one — in L = a + cos(a) with a = sin(x), BFS
reaches `a` directly from L before the path through cos has delivered, and x gets a wrong
gradient. Insertion order is not one either: a Graph may list nodes in any order.

The local derivatives of lab 01's ops, with a, b the inputs and out the output:
log 1/a · sin cos a · cos −sin a · exp out · tanh 1 − out² · neg −1 · add (1, 1) ·
sub (1, −1) · mul (b, a) · div (1/b, −a/b²).

Source: 计算图与自动微分 (ZOMI, AISystem 05Framework/03DataFlow), static graphs and dual graphs.
"""
from __future__ import annotations

import math

from aisys.graph import Graph
from aisys.graph.walk import topological_order

FORWARD = {"log": math.log, "sin": math.sin, "cos": math.cos, "exp": math.exp, "tanh": math.tanh,
           "neg": lambda a: -a, "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
           "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


def run_backward_graph(forward: Graph, dual: Graph, output: str, values: dict[str, float]) -> dict[str, float]:
    """Every adjoint dL/dn (L = the node `output`), by executing the dual graph `dual`.

    `forward` is a graph of `aisys.graph.expressions` ops whose `input` nodes get their
    values from `values` ({name: float}); `dual` is its backward graph as lab 01 defines it.
    Return {name: float} with one entry per forward node, inputs included: 1.0 for the
    output, 0.0 for a node the output does not depend on (an unused input, a value nobody
    consumes — its `_grad` node has no gradient inputs, but it is *not* a seed). Leave the
    graphs and the `values` dict as they are.

    Hint: first evaluate the forward graph in a topological order (`FORWARD` above) — the
    saved values come from that pass. Then take the dual's nodes in a topological order
    (`topological_order(dual)` from `aisys.graph.walk`, or your lab-01 `topo_sort`), skip the
    "saved" ones, and for each `n_grad`: set dL/dn, then add dL/dn × ∂n/∂input into an
    "incoming" total for each input of n.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def local_derivatives(op: str, args: list[float], out: float) -> list[float]:
    """∂out/∂input for each input of one op, in input order: `args` are the inputs' forward
    values, `out` the op's own (exp and tanh are cheapest from it). An "input" node has no
    inputs: []. A value used twice (mul(x, x)) has two slots, each with its own derivative.

    Hint: the table in the module docstring, one small function per op — evaluate only the
    op at hand (1/a must not be computed for a sin at a = 0).
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
