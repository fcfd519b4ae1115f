"""Lab 08, part 3 — self-attention split by heads.

Multi-head attention is already parallel: H heads, each with its own slice of the Q, K and
V projections, never look at each other until the output projection mixes them. So with
W ranks (H divisible by W) rank r takes heads [r·H/W, (r+1)·H/W):

    X ──f──> QKV_r = X·W_qkv,rᵀ          column-parallel: only this rank's heads' rows
         ──> softmax(Q_h·K_hᵀ/√d)·V_h    for each local head h, entirely local
         ──> O_r·W_o,rᵀ ──g──> + b_o     row-parallel output projection: one all-reduce

It is the MLP pattern again (column split, local work, row split): one all-reduce in
forward and one in backward per attention block.

The dense reference is torch's `nn.MultiheadAttention` (batch_first=True). It stores one
`in_proj_weight` of shape (3E, E) = [W_q; W_k; W_v] stacked by *projection*. A contiguous
split of that would give rank 0 all of W_q. Megatron instead lays the fused QKV weight out
*per head*: [q_0; k_0; v_0; q_1; k_1; v_1; ...] (each block head_dim rows). In that order a
contiguous row split hands every rank whole heads — so reorder the rows first, then reuse
ColumnParallelLinear as it is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aisys.parallel.tensor_parallel.dense import per_head_rows
from aisys.workspace import sibling

_layers = sibling(__file__, "tensor-parallel", "layers.py")
ColumnParallelLinear, RowParallelLinear = _layers.ColumnParallelLinear, _layers.RowParallelLinear
tp_world_and_rank = _layers.tp_world_and_rank


class ParallelAttention(nn.Module):
    """This rank's heads of a dense `nn.MultiheadAttention` (batch_first, no dropout).

    Attributes the checks read:
      `qkv` — a ColumnParallelLinear over the per-head fused weight: its `weight` is
              (3E/W, E), rows = q, k, v of local head 0, then of local head 1, ...;
      `out` — a RowParallelLinear over `mha.out_proj`;
      `num_local_heads`, `head_dim`.
    forward(x, causal=False): x (batch, seq, E), the same on every rank; returns the full
    (batch, seq, E) on every rank. `causal=True` hides future positions.

    Hint: build an `nn.Linear(E, 3E)` whose weight/bias are `in_proj_weight[rows]` /
    `in_proj_bias[rows]` with rows = per_head_rows(E, H); wrap it and `mha.out_proj`.
    In forward view the qkv output as (batch, seq, local heads, 3, head_dim), move heads
    before seq, and use `F.scaled_dot_product_attention(q, k, v, is_causal=causal)`.
    """

    def __init__(self, mha: nn.MultiheadAttention, group=None):
        super().__init__()
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")
