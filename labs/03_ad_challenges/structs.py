"""Lab 03, part 3 — differentiating through data structures (pytrees).

Real programs pass structures around: a dict of layers, a dataclass of hyper-parameters,
a list of (weight, bias) tuples. Some fields are differentiable numbers; others are
integers, strings or flags that have no derivative (a layer count, an activation name, a
`frozen` switch). An AD system must carry gradients through the structure — JAX calls
these *pytrees*: flatten the tree to its differentiable leaves, differentiate with respect
to that flat list, and unflatten the gradients back into the same shape. Fields without a
derivative are not leaves: they ride along unchanged (the article's "complex data types").

Source: 自动微分的挑战&未来 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch


def grad_of_struct(fn: Callable[[Any], torch.Tensor], tree: Any) -> Any:
    """∂fn(tree)/∂leaf for every float leaf of `tree`, in a structure shaped like `tree`.

    `tree` nests dicts, lists, tuples and dataclass instances; its leaves are Python floats
    (differentiable, 0.0 included), or ints, strings, bools and None (left exactly as they
    are — note that a bool is also an int). A bare float is a tree too, containers may be
    empty, and a tree may hold no float at all (then there is nothing to differentiate). `fn` returns a scalar torch tensor. The result has the same containers (the
    same dataclass types) with each float replaced by its gradient as a float (0.0 when fn
    does not use it). Leaves are *positions*: one list object that appears twice in the
    tree is two sets of leaves, each with its own gradients. Do not modify `tree`, and keep
    no state between calls.

    Hint: write one function `_map(node, leaf_fn)` that rebuilds the containers and
    applies leaf_fn to each float (`dataclasses.is_dataclass`, `dataclasses.replace`).
    Use it twice: floats → float64 tensors with requires_grad (collect them in a list), then,
    after `torch.autograd.grad(y, leaves, allow_unused=True)`, floats → their gradients.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def _map(node: Any, leaf_fn: Callable[[float], Any]) -> Any:
    """A copy of `node` with every float leaf replaced by `leaf_fn(leaf)` (a tree map).

    Hint: check `float` first; then dict, list and tuple (rebuild them from mapped items);
    then dataclass instances (`dataclasses.replace(node, field=mapped, ...)` keeps the type,
    even for frozen ones); anything else comes back as it is.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
