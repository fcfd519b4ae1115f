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

The `Graph` API (plain data: names, op strings, input lists):

    g = Graph()
    g.add("x", "input")                 # add(name, op, inputs=()) appends a node and returns it;
    g.add("y", "mul", ["x", "x"])       # a value used twice is listed twice (two edges);
                                        # inputs may name nodes added later (insertion order
                                        # need not be topological); a name already in the
                                        # graph raises ValueError (names are unique)
    for node in g: node.name, node.op, node.inputs     # insertion order
    g["y"], "y" in g, len(g), g.nodes                  # lookup; g.nodes is {name: Node}
    g.edges          # [(producer, consumer), ...], one pair per use
    g.consumers()    # {name: [consumer, ...]}, one entry per use: Kahn's successor lists
    g.sources(), g.sinks()

A graph handed to your function is the caller's: read it, never change it.
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
    pass, so edges point the way data flowed forward. An entry is None where that input
    needs no gradient: a constant tensor, or a leaf without `requires_grad`.

    Only read the graph: torch must still be able to run backward through `output`
    afterwards, and each call starts afresh (keep no names between calls).

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
    remain when the queue empties, the graph has a cycle: raise ValueError whose message
    names at least one node that could not be ordered. Each node appears exactly once; an
    empty graph gives []. Keep your counts in your own dict: the graph is the caller's, and
    a second call on it must work too. (`graph.consumers()` gives the successor lists.)

    Hint: an input listed twice (x * x) is two edges, so count edges, not distinct inputs.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def backward_graph(graph: Graph) -> Graph:
    """The dual (backward) graph of a forward graph built from `aisys.graph.expressions` ops.

    Every forward node n (inputs included) gets a node `f"{n.name}_grad"` with op
    `f"{n.op}_grad"`: n's *backward op*. It receives dL/dn from the backward ops of n's
    consumers and multiplies it by n's own local derivatives, sending a gradient on to each
    of n's inputs. So its inputs are, in this order:

      1. the `_grad` node of every consumer of n, once per use (a value used twice — by
         two ops, or twice by one op as in x * x — gets two gradient contributions);
      2. the forward values *n's own* derivative reads, `GRAD_NEEDS[n.op]`: "inputs"
         (n's inputs, each listed once even if used twice), "output" (n itself) or ""
         (nothing). Each such value is also a node of the dual graph, named like the
         forward node, with op "saved" and no inputs — one node per value, however many
         backward ops read it.

    Nothing else is in the dual graph. Example, f = ln(x1) + x1·x2 − sin(x2): `v1_grad`
    (op "log_grad") has inputs ["v4_grad", "x1"] — the add sends dL/dv1 back, and
    d ln(x1)/dx1 = 1/x1 reads the saved x1; `x1_grad` (op "input_grad") has inputs
    ["v1_grad", "v2_grad"]. The output's `_grad` node has no gradient inputs: it is the
    seed dL/dL = 1. A node nobody consumes gets none either (its gradient is 0).

    Hint: `graph.consumers()` gives, per node, its consumers once per use. Add the saved
    nodes first (a dict keeps them unique), then one `_grad` node per forward node.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
