"""The model every rank cuts its stage from, and the single process it must agree with.

A stack of `n_layers` seeded blocks, each Linear → tanh, float64: the first maps `d_in`
features to `hidden`, the others keep `hidden`, so every activation that crosses a stage
boundary has shape (rows, hidden) — and the input does not, so a receive buffer shaped like
the input is wrong. A stage is a contiguous run of blocks (`stage_module`), built identically
on the rank (from the seed) and in the grading parent (the truth).
"""
from __future__ import annotations

from typing import Callable, Sequence

LOSSES = ("mse", "l1", "smooth_l1")   # each a mean over the batch, so micro-batch losses average


def loss_fn(name: str) -> Callable:
    import torch.nn.functional as F

    return {"mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss}[name]


def make_layers(seed: int, n_layers: int, d_in: int, hidden: int, dtype=None) -> list:
    """`n_layers` blocks (Linear → tanh) with seeded weights (float64 unless `dtype` says)."""
    import torch
    from torch import nn

    dtype = dtype or torch.float64
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for k in range(n_layers):
        linear = nn.Linear(d_in if k == 0 else hidden, hidden, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator, dtype=torch.float64)
                                / linear.in_features ** 0.5)
            linear.bias.copy_(torch.randn(hidden, generator=generator, dtype=torch.float64) * 0.1)
        layers.append(nn.Sequential(linear, nn.Tanh()))
    return layers


def bounds(partition: Sequence[int]) -> list[tuple[int, int]]:
    """Layers per stage (e.g. [2, 1, 3]) → [(start, end), ...]."""
    edges = [0]
    for count in partition:
        edges.append(edges[-1] + int(count))
    return list(zip(edges[:-1], edges[1:]))


def stage_module(spec: dict, stage: int, dtype=None):
    """Stage `stage`'s blocks as one nn.Sequential (spec: seed, partition, d_in, hidden)."""
    from torch import nn

    layers = make_layers(spec["seed"], sum(spec["partition"]), spec["d_in"], spec["hidden"], dtype)
    start, end = bounds(spec["partition"])[stage]
    return nn.Sequential(*layers[start:end])


def batches(spec: dict, steps: int, dtype=None) -> list[tuple]:
    """`steps` full batches (inputs (rows, d_in), targets (rows, hidden)), float64 unless `dtype` says."""
    import torch

    generator = torch.Generator().manual_seed(spec["seed"] + 1)
    made = [(torch.randn(spec["rows"], spec["d_in"], generator=generator, dtype=torch.float64),
             torch.randn(spec["rows"], spec["hidden"], generator=generator, dtype=torch.float64) * 0.5)
            for _ in range(steps)]
    return [(x.to(dtype), y.to(dtype)) for x, y in made] if dtype is not None else made


def make_optimizer(params, spec: dict):
    """The same optimizer on the ranks and in the single process: torch.optim.SGD's momentum
    update, from lab 07's bench (torch.optim itself imports the compiler stack: seconds per rank)."""
    from aisys.parallel.data_parallel.toys import MomentumSGD

    return MomentumSGD(params, spec["lr"])


def single_process(spec: dict, steps: int) -> dict:
    """The truth: the whole model on one process, full batches. Per stage, its parameters
    after `steps` steps (and its gradients of the first step); the loss of every step."""
    import torch
    from torch import nn

    layers = make_layers(spec["seed"], sum(spec["partition"]), spec["d_in"], spec["hidden"])
    model = nn.Sequential(*layers)
    optimizer = make_optimizer(model.parameters(), spec)
    losses, first_grads = [], None
    for inputs, targets in batches(spec, steps):
        optimizer.zero_grad()
        loss = loss_fn(spec["loss"])(model(inputs), targets)
        loss.backward()
        losses.append(loss.item())
        if first_grads is None:
            first_grads = [_stage_tensors(layers, spec, s, grads=True) for s in range(len(spec["partition"]))]
        optimizer.step()
    params = [_stage_tensors(layers, spec, s) for s in range(len(spec["partition"]))]
    return {"losses": losses, "params": params, "grads": first_grads}


def _stage_tensors(layers: list, spec: dict, stage: int, grads: bool = False) -> list:
    from torch import nn

    start, end = bounds(spec["partition"])[stage]
    tensors = [p.grad if grads else p for p in nn.Sequential(*layers[start:end]).parameters()]
    return [t.detach().clone().numpy() for t in tensors]


def param_count(spec: dict, stage: int) -> int:
    """How many parameter tensors stage `stage` has (2 per block)."""
    start, end = bounds(spec["partition"])[stage]
    return 2 * (end - start)
