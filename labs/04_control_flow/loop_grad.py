"""Lab 04, part 3 — gradients through a while loop need a stack.

Reverse mode walks the computation backwards. Through a loop that means running the body's
vector-Jacobian product once per iteration, last iteration first, and each needs the
values the body saw in *that* iteration — which the forward loop overwrote. TensorFlow
saves them in the forward loop (a StackPush per iteration) and builds a second loop for the
backward pass that pops them (StackPop) in reverse order; the trip count comes for free
as the stack's depth.

For a loop `vs_{k+1} = body(vs_k)` run T times, with output cotangent ḡ_T:

    ḡ_k = vjp(body, vs_k, ḡ_{k+1})      for k = T-1, ..., 0

and ḡ_0 is the gradient with respect to the initial loop variables.

Tools: `DataflowGraph` (placeholders, `g.push(stack, values)` → the values passed through,
recorded per live firing in `run.stacks[stack]`), your `while_loop` from lowering.py, your
firing rules from primitives.py, `execute(graph, rules, feeds)` and the bench's
`vjp(body_fn, primals, cotangents)` for one straight-line body.
"""
from __future__ import annotations

from typing import Callable, Sequence

from aisys.controlflow.autodiff import vjp
from aisys.controlflow.dataflow import DataflowGraph
from aisys.controlflow.interpreter import execute
from aisys.workspace import sibling


def while_loop_grad(cond_fn: Callable, body_fn: Callable, loop_vars: Sequence[float],
                    output_grads: Sequence[float]) -> tuple[list[float], list[float]]:
    """Run the loop forward on the dataflow interpreter, then differentiate it in reverse.

    Returns `(final_loop_vars, grads)` where `grads[k]` is d(Σ output_grads · outputs) /
    d loop_vars[k]. `cond_fn` and `body_fn` take and return graph Values, as for your
    `while_loop`. The loop may run zero times (then grads = output_grads). Build a fresh
    graph in every call, and leave `loop_vars` and `output_grads` as they were given.

    Hint: build the loop on placeholders with a body that first pushes its inputs
    (`vs = g.push("tape", vs)`), execute it, then pop `run.stacks["tape"]` in reverse while
    applying `vjp(body_fn, saved, grads)`.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
