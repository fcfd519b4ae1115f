"""Lab 08, part 4 — sequence parallelism: split what tensor parallelism leaves replicated.

In a Megatron layer only the region between f and g is split (by features). LayerNorm,
dropout and the residual add run outside it on the full (batch, seq, hidden) activation —
the same work and the same memory on every rank. Korthikanti et al. (2022) noticed that
these ops treat every token on its own, so they can be split along the **sequence**:

    x_r (b, s/W, h) ─LayerNorm─> gather_from_sp ─> ·A_r ─GeLU─> ·B_r ─> reduce_scatter_to_sp
                    ─> + b_B ─> dropout ─> + x_r                           → (b, s/W, h)

f's all-reduce (in backward) becomes gather_from_sp's reduce-scatter, and g's all-reduce
(in forward) becomes reduce_scatter_to_sp. A ring all-reduce *is* a reduce-scatter followed
by an all-gather, so the bytes on the wire do not change — but LayerNorm, dropout and the
residual now hold s/W tokens per rank: their activation memory drops by a factor of W.

Two things change with it:

- A replicated parameter applied to a sequence chunk gets a *partial* gradient: each rank
  only saw its own tokens. LayerNorm's weight and bias, and fc2's bias (added after the
  reduce-scatter) need the sum over ranks — which is exactly f's backward. Pass them through
  copy_to_tp where you use them (Megatron all-reduces these "sequence-parallel" gradients
  after backward instead; the sum is the same).
- Dropout now sees different tokens on each rank, so each rank must draw its own mask: with
  one shared random stream every rank would drop the same positions of its chunk — token t
  and token t + s/W always together, which no dense dropout does. Megatron keeps a separate
  tensor-parallel generator seeded with seed + 2718 + rank (and the ordinary, shared one for
  replicated activations).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from aisys.workspace import sibling

_ops = sibling(__file__, "tensor-parallel", "operators.py")
_layers = sibling(__file__, "tensor-parallel", "layers.py")
copy_to_tp, gather_from_sp, reduce_scatter_to_sp = _ops.copy_to_tp, _ops.gather_from_sp, _ops.reduce_scatter_to_sp
tp_world_and_rank = _ops.tp_world_and_rank
ColumnParallelLinear, RowParallelLinear = _layers.ColumnParallelLinear, _layers.RowParallelLinear


class SequenceParallelMLP(nn.Module):
    """A pre-LayerNorm MLP sublayer, x + dropout(fc2(GeLU(fc1(LayerNorm(x))))), with sequence
    parallelism around the tensor-parallel MLP.

    Built from the dense `norm: nn.LayerNorm(h)` (with or without weight and bias),
    `fc1: Linear(h, ffn)` and `fc2: Linear(ffn, h)`; the activation is `F.gelu` (exact).
    Attributes the checks read: `norm` — a LayerNorm of its own holding copies of the whole
    dense weight and bias (replicated on every rank; the dense modules are left untouched) —
    `fc1` (a ColumnParallelLinear) and `fc2` (a RowParallelLinear) for their shards.
    forward(x): x is this rank's chunk of the sequence, (batch, seq/W, h); returns the same
    tokens of the output, (batch, seq/W, h). In training mode (the default) dropout with
    probability `dropout_p` (0 ≤ p < 1; kept values scaled by 1/(1 − p)) draws from a random
    generator of this rank's own, seeded from `seed` and the rank's index in the group
    (Megatron: seed + 2718 + rank): ranks draw different masks, each call a new one, and a
    layer built again with the same seed draws the same masks again. In eval mode, or with
    p = 0, nothing is dropped. Per call: one all-gather and one reduce-scatter of activations
    in each direction, and in backward the all-reduce of the partial parameter gradients —
    no all-reduce of activations.

    Hint: __init__ — `copy.deepcopy(norm)`, ColumnParallelLinear(fc1, group),
    RowParallelLinear(fc2, group), a generator on fc1.weight's device. forward — do not call
    fc1/fc2 (their f and g are what SP replaces): F.layer_norm(x, ..., copy_to_tp(weight),
    copy_to_tp(bias), eps), gather_from_sp, F.linear with fc1's shard, GeLU, F.linear with
    fc2's weight only, reduce_scatter_to_sp, + copy_to_tp(fc2's bias), then the mask
    `torch.rand(h.shape, generator=..., device=...) >= p`, and the residual.
    """

    def __init__(self, norm: nn.LayerNorm, fc1: nn.Linear, fc2: nn.Linear, dropout_p: float = 0.0,
                 group=None, seed: int = 0):
        super().__init__()
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")
