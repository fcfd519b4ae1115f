"""What converted code calls: Python control flow when the condition is a Python value,
torch's functional control flow (`torch.cond`, `torch.while_loop`) when it is a tensor.

Source conversion cannot know the type of a condition before running, so — like Paddle's
`convert_ifelse` — it rewrites every `if`/`while` into a call here and decides at run time.
`STATS` counts which way each top-level call went (the checks read it).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Sequence

import torch

from aisys.controlflow.torch_control import torch_while_loop

STATS: Counter = Counter()


def _count(key: str) -> None:
    if not torch.compiler.is_compiling():   # calls nested inside a traced body are not counted
        STATS[key] += 1


def convert_cond(pred: Any, true_fn: Callable, false_fn: Callable, operands: Sequence) -> tuple:
    """`true_fn(*operands) if pred else false_fn(*operands)`, as one graph op for a tensor pred."""
    if isinstance(pred, torch.Tensor):
        _count("cond")
        return tuple(torch.cond(pred, _fresh(true_fn), _fresh(false_fn), tuple(operands)))
    _count("python_if")
    return tuple(true_fn(*operands) if pred else false_fn(*operands))


def _fresh(branch: Callable) -> Callable:
    """torch.cond refuses a branch that hands an operand back unchanged (aliasing), which is
    what a branch that does not assign one of the names does: return copies instead."""
    def copied(*operands):
        return tuple(t.clone() if isinstance(t, torch.Tensor) else t for t in branch(*operands))
    return copied


def convert_while(cond_fn: Callable, body_fn: Callable, loop_vars: Sequence) -> tuple:
    """`while cond_fn(*vs): vs = body_fn(*vs)`, as one graph op for a tensor condition."""
    first = cond_fn(*loop_vars)
    if isinstance(first, torch.Tensor):
        _count("while_loop")
        return tuple(torch_while_loop()(cond_fn, body_fn, tuple(loop_vars)))
    _count("python_while")
    values, go = tuple(loop_vars), first
    while go:
        values = tuple(body_fn(*values))
        go = cond_fn(*values)
    return values
