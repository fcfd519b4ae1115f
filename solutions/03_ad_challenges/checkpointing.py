"""Lab 03, part 4 — memory vs recompute: gradient checkpointing on real torch tensors.

Reverse mode needs, for every layer, the activations its backward reads — so a plain
training step keeps all n of them alive until backward reaches them: memory O(n). The
other extreme keeps nothing but the input and recomputes each layer's input from scratch
when backward needs it: memory O(1), but n(n−1)/2 extra forward ops.

Checkpointing sits in between (Chen et al. 2016, "sublinear memory cost"; the article's
重计算 / recomputation). Cut the chain into k segments and keep only each segment's
*input* (a checkpoint) during the forward pass, running the segments under `no_grad`.
In backward, take the segments last to first: recompute one segment from its checkpoint
with autograd on, backpropagate through it, free it. At most k checkpoints plus one
segment's activations are alive at once:

    peak ≈ k + n/k,   smallest at k = √n:  peak ≈ 2√n,  at the price of ≈ n extra forward ops

Each segment is recomputed once at most. The last one needs no recompute at all if the
forward pass runs it with autograd on (its activations are needed first anyway);
`torch.utils.checkpoint.checkpoint_sequential(layers, k, x)` does exactly that.

Source: 自动微分的挑战&未来 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch


def checkpoint_plan(n_layers: int, budget: int | None = None) -> list[int]:
    """Where the segments start: a sorted list of layer indices beginning with 0.

    The plan's cost is its number of segments plus its longest segment (checkpoints plus
    one segment recomputed), e.g. [0, 8, 16, ..., 56] for 64 layers costs 8 + 8 = 16.

    - `budget=None`: the √n plan — k = ⌈√n⌉ segments of near-equal length (cost ≈ 2√n);
    - `budget=B`: the plan with the *fewest* segments whose cost is at most B (enough
      budget, B ≥ n + 1, gives [0]: one segment, nothing recomputed). Raise ValueError
      when no plan fits — budget 0 is a budget, not "no budget".

    n_layers < 1 raises ValueError. Each call returns a new list: the caller may edit it.

    Hint: k segments of near-equal length cost k + ⌈n/k⌉; try k = 1, 2, ... and cut the
    chain at round(i·n/k) for i in range(k). Test `budget is None`, not `not budget`.
    """
    # BEGIN SOLUTION
    def even(k: int) -> list[int]:
        return sorted({round(i * n_layers / k) for i in range(k)})

    def cost(k: int) -> int:
        return k + math.ceil(n_layers / k)

    if n_layers < 1:
        raise ValueError("a chain needs at least one layer")
    if budget is None:
        return even(math.ceil(math.sqrt(n_layers)))
    for k in range(1, n_layers + 1):
        if cost(k) <= budget:
            return even(k)
    best = min(cost(k) for k in range(1, n_layers + 1))
    raise ValueError(f"budget {budget} is too small: {n_layers} layers need at least {best} activations")
    # END SOLUTION


def checkpointed_forward_backward(layers: Sequence[Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor,
                                  plan: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the chain `layers` on x and backpropagate loss = output.sum() with the plan.

    Returns `(output, grad_x)`: the chain's output (detached) and ∂loss/∂x. The layers'
    parameters receive their gradients in `.grad`, exactly as `loss.backward()` on a plain
    run would give them: added to what `.grad` already holds (gradients accumulate; never
    zero or replace them — that is the caller's call). Keep at most one checkpoint per segment plus one segment's
    activations alive (the checks measure it with saved-tensor hooks), and recompute no
    segment twice (they count every layer call). Leave the caller's `x` and `plan` as they
    were: no `requires_grad_()` on x itself, no edits to the list.

    Hint: forward — every segment but the last under `torch.no_grad()`, keeping only its
    input (`h.detach()`); the last segment with autograd (or under no_grad too, and
    recompute it like the others). Backward — `out.backward(g)` from
    `torch.ones_like(out)`; then for each earlier segment, last to first: pop its
    checkpoint, `.requires_grad_()`, recompute the segment, `.backward(g)`, g = its `.grad`.
    Drop references (`del`) as you go, or they stay alive.
    """
    # BEGIN SOLUTION
    bounds = list(plan) + [len(layers)]
    spans = list(zip(bounds[:-1], bounds[1:]))
    checkpoints = []
    h = x.detach()
    with torch.no_grad():
        for start, end in spans[:-1]:
            checkpoints.append(h)
            for layer in layers[start:end]:
                h = layer(h)
    start, end = spans[-1]
    h = h.detach().requires_grad_()
    out = h
    for layer in layers[start:end]:
        out = layer(out)
    out.backward(torch.ones_like(out))
    g, result = h.grad, out.detach()
    del h, out
    for start, end in reversed(spans[:-1]):
        h = checkpoints.pop().requires_grad_()
        out = h
        for layer in layers[start:end]:
            out = layer(out)
        out.backward(g)
        g = h.grad
        del h, out
    return result, g
    # END SOLUTION
