"""Lab 01, part 3 — the computation graph itself.

A framework represents a program as a directed acyclic graph: nodes are operators, edges
are the tensors between them (`aisys.graph.Graph`). Three things every framework does with
it, and you will too:

1. **Capture** it. PyTorch builds the graph as the code runs: every result remembers its
   `grad_fn`, and `grad_fn.next_functions` point to the nodes that made its inputs, down to
   one `AccumulateGrad` node per leaf tensor that requires grad.
2. **Order** it. An operator may run once all its inputs exist: a topological order.
   Kahn's algorithm repeatedly takes a node with no unprocessed inputs.
3. **Differentiate** it. The backward graph is the forward graph's dual: one `*_grad` node
   per node, edges reversed (gradients flow from the output back to the inputs), plus
   edges from the forward values each gradient needs (d(ln x)/dx = 1/x needs x).
"""
from __future__ import annotations

from collections import deque

from aisys.graph import Graph
from aisys.graph.expressions import GRAD_NEEDS


def graph_from_torch(output) -> Graph:
    """The backward graph torch recorded for `output`, as a Graph.

    One node per distinct autograd node reachable from `output.grad_fn`: name it anything
    unique, set `op` to the node's class name (`type(fn).__name__`: "SubBackward0",
    "MulBackward0", "AccumulateGrad", ...) and `inputs` to the names of its
    `next_functions` that are not None — the nodes that produced its inputs in the forward
    pass, so edges point the way data flowed forward.

    For f(x1, x2) = ln(x1) + x1·x2 − sin(x2) that is Log, Mul, Sin, Add and Sub backward
    nodes plus two AccumulateGrad nodes — x1 feeds two ops but is still *one* node.

    Hint: walk from `output.grad_fn` with a stack, keyed by the function object itself
    (`id(fn)`), so a node reached twice is created once.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def topo_sort(graph: Graph) -> list[str]:
    """A topological order of the node names: every node after all of its inputs.

    Use Kahn's algorithm: count each node's inputs (its in-degree), start from the nodes
    with none, and each time you emit a node, decrement its consumers' counts. If nodes
    remain when the queue empties, the graph has a cycle: raise ValueError naming some of
    the nodes on it. Each node appears exactly once. (`graph.consumers()` gives the
    successor lists.)

    Hint: an input listed twice (x * x) is two edges, so count edges, not distinct inputs.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def backward_graph(graph: Graph) -> Graph:
    """The dual (backward) graph of a forward graph built from `aisys.graph.expressions` ops.

    For every forward node `n` (inputs included) add a node `f"{n}_grad"` with op
    `f"{n.op}_grad"`. Its inputs are:
      - the `_grad` node of every consumer of `n` (edges reversed; a value used twice gets
        two gradient contributions, which its `_grad` node sums), and
      - the forward values those consumers' gradients read, as given by
        `GRAD_NEEDS[op]`: "inputs" (all of the consumer's inputs), "output" (the
        consumer itself) or "" (nothing). Add each such forward value once as a node
        named like the forward node with op "saved", and list it as an input of the
        consumer's `_grad` node — of the grad node of the *consuming op*, not of `n`.

    Example: for v1 = log(x1), `v1_grad` gets input `x1` (saved), and `x1_grad` gets input
    `v1_grad`. The output's `_grad` node has no inputs: it is the seed dL/dL = 1.

    Hint: loop over forward nodes; for each, look at its consumers. Build the saved-value
    nodes first so they come before the nodes that read them.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
