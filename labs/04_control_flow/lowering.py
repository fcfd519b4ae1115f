"""Lab 04, part 2 — lowering `cond` and `while_loop` onto the five primitives.

TensorFlow's functional control flow (`tf.cond`, `tf.while_loop`) takes *functions* for the
branches and the loop body. Calling them once on symbolic values builds their ops into the
graph, wired through the primitives so that at run time only the right ops fire:

    cond:   operands ─Switch(pred)─┬─true side──→ true_fn ops ──┐
                                   └─false side─→ false_fn ops ─┴─Merge─→ outputs

    while:  loop_vars ─Enter─→ Merge ─→ cond_fn ─→ pred
                                │  ↑                 │
                                │  NextIteration ←── body_fn ←─ true side ─┐
                                └──────────────────Switch(pred)────────────┤
                                                               false side ─→ Exit ─→ outputs

The graph is built once, whatever the trip count: the loop is a cycle in the graph, and
the frames/iteration ids on tokens keep the iterations apart at run time.

Build with the methods of the graph (`g = pred.graph` or `loop_vars[0].graph`):
`g.switch(v, pred)` → (false_side, true_side), `g.merge([a, b])`, `g.enter(v, frame)`,
`g.exit(v)`, `g.next_iteration(v)`, `g.add_input(merge, v)` (the back edge),
`g.unique_frame("while")` (a fresh frame name).
"""
from __future__ import annotations

from typing import Callable, Sequence

from aisys.controlflow.dataflow import Value


def cond(pred: Value, true_fn: Callable, false_fn: Callable, operands: Sequence[Value]) -> list[Value]:
    """`true_fn(*operands)` if pred else `false_fn(*operands)`, as a graph: returns the
    merged outputs (one Value per branch output; both branches return the same number).

    Switch every operand on `pred`; call `true_fn` on the true sides and `false_fn` on the
    false sides, so the untaken branch only ever sees dead tokens; Merge the two results
    pairwise. The same Value may come twice among the operands, and a branch may return an
    operand untouched; several conds may share one graph (and one pred). Leave the
    `operands` list as it was given.

    Hint: `sides = [g.switch(x, pred) for x in operands]`; `sides[k][1]` is the true side.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def while_loop(cond_fn: Callable, body_fn: Callable, loop_vars: Sequence[Value]) -> list[Value]:
    """`while cond_fn(*vs): vs = body_fn(*vs)` as a graph; returns the final loop variables.

    For each loop variable: Enter a fresh frame, Merge (the Enter now, the NextIteration
    back edge later), Switch on the predicate `cond_fn(*merged)`; the true side feeds
    `body_fn`, whose outputs go through NextIteration back into the Merges; the false side
    leaves through Exit. Every value the body needs must be a loop variable (a value from
    outside would need an Enter too). The loop may run zero times; one Value may be passed
    as two loop variables; two loops in one graph need two frames (`g.unique_frame`).
    Leave the `loop_vars` list as it was given.

    Hint: create the Merges with one input (`g.merge([entered])`), build the body, then
    `g.add_input(merge, g.next_iteration(new_value))`.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def unroll(body_fn: Callable, n: int, loop_vars: Sequence[Value]) -> list[Value]:
    """Apply `body_fn` n times in a row, with no control-flow primitives at all.

    When the trip count is a compile-time constant, MindSpore (and XLA) may simply copy the
    body n times: a bigger graph (n × the body's ops) but a plain DAG that the scheduler and
    the optimiser understand fully, with no frames at run time.

    n may be 0 (the loop variables come back as they are, in a new list); leave the
    `loop_vars` list as it was given.

    Hint: a Python `for` loop over `range(n)` while *building* the graph.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
