"""The eager functions lab 05 traces, converts and captures. Each counts its own Python
calls in `CALLS`, so a check can tell a replayed graph from a re-run of the Python."""
from __future__ import annotations

from collections import Counter

import torch

CALLS: Counter = Counter()


# ---------------------------------------------------------------- tensor control flow


def relu_or_square(x):
    """The article's example, fixed: the condition is a scalar, `h.sum() > 0`."""
    CALLS["relu_or_square"] += 1
    h = x * 2.0
    if h.sum() > 0:
        y = torch.relu(h) + 1.0
    else:
        y = h * h - 1.0
    return y


def halve_until_small(x):
    """A data-dependent trip count: halve x until its norm is at most 1."""
    CALLS["halve_until_small"] += 1
    steps = torch.zeros(())
    while x.norm() > 1.0:
        x = x / 2.0
        steps = steps + 1.0
    return x, steps


def branch_in_loop(x, n):
    """A tensor `if` inside a tensor `while`: n steps that push acc up or down."""
    CALLS["branch_in_loop"] += 1
    i = torch.zeros((), dtype=torch.int64)
    acc = torch.zeros_like(x)
    while i < n:
        if acc.sum() > 1.0:
            acc = acc - x.abs()
        else:
            acc = acc + x.abs() * 0.5
        i = i + 1
    return acc


def scale_one_side(x, y):
    """Each branch assigns a different variable: both must leave the converted `if`."""
    CALLS["scale_one_side"] += 1
    a = x * 1.0
    b = y * 1.0
    if (a - b).sum() > 0:
        a = a * 0.5
    else:
        b = b * 2.0
    return a, b


def shrink_with_temporary(x):
    """The loop body has a temporary (`half`) that does not exist before the loop."""
    CALLS["shrink_with_temporary"] += 1
    steps = torch.zeros(())
    while x.abs().max() > 1.0:
        half = x * 0.5
        x = half - 0.05
        steps = steps + 1.0
    return x, steps


def make_clipped_step(limit: float):
    """A closure whose source is indented: conversion must dedent it and keep `limit`."""
    def clipped_step(x):
        CALLS["clipped_step"] += 1
        y = x * 1.5
        if y.abs().max() > limit:
            y = y / y.abs().max() * limit
        return y
    return clipped_step


clipped_step = make_clipped_step(2.0)


def python_flag(x, flag):
    """A Python bool condition: conversion must keep it a plain Python `if`."""
    CALLS["python_flag"] += 1
    if flag:
        y = x + 1.0
    else:
        y = x - 1.0
    return y


def fixed_loop(x):
    """A Python loop with a fixed trip count: tracing unrolls it, and that is fine."""
    CALLS["fixed_loop"] += 1
    for _ in range(3):
        x = torch.tanh(x * 1.5 + 0.1)
    return x


def halves_mixed(x):
    """An op that returns a tuple (`chunk`): each piece is an output of that one node."""
    CALLS["halves_mixed"] += 1
    low, high = x.chunk(2)
    return torch.tanh(high * 2.0 - low)


# ---------------------------------------------------------------- unsupported by conversion


def break_in_loop(x):
    while x.sum() > 0:
        x = x - 1.0
        if x.max() < 0.5:
            break
    return x


def return_in_branch(x):
    if x.sum() > 0:
        return x * 2.0
    return -x


# ---------------------------------------------------------------- for capture_report


def straight(x):
    return torch.relu(x * 2.0) + 1.0


def shape_branch(x):
    if x.shape[0] > 2:
        return x.sum(0)
    return x.mean(0)


def with_torch_cond(x):
    return torch.cond(x.sum() > 0, lambda x: x.sin(), lambda x: x.cos(), (x,))


def item_scale(x):
    return x * float(x.max())


CAPTURE_PROGRAMS = {"straight": straight, "relu_or_square": relu_or_square, "fixed_loop": fixed_loop,
                    "shape_branch": shape_branch, "item_scale": item_scale, "with_torch_cond": with_torch_cond}
