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
        # BEGIN SOLUTION
        world, _ = tp_world_and_rank(group)
        embed_dim, heads = mha.embed_dim, mha.num_heads
        if heads % world:
            raise ValueError(f"ParallelAttention: num_heads={heads} is not divisible by the {world} ranks")
        rows = per_head_rows(embed_dim, heads).to(mha.in_proj_weight.device)
        has_bias = mha.in_proj_bias is not None
        fused = nn.Linear(embed_dim, 3 * embed_dim, bias=has_bias,
                          device=mha.in_proj_weight.device, dtype=mha.in_proj_weight.dtype)
        with torch.no_grad():
            fused.weight.copy_(mha.in_proj_weight[rows])
            if has_bias:
                fused.bias.copy_(mha.in_proj_bias[rows])
        self.qkv = ColumnParallelLinear(fused, group)
        self.out = RowParallelLinear(mha.out_proj, group)
        self.num_local_heads, self.head_dim = heads // world, embed_dim // heads
        # END SOLUTION

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        # BEGIN SOLUTION
        batch, seq, _ = x.shape
        qkv = self.qkv(x).view(batch, seq, self.num_local_heads, 3, self.head_dim)
        q, k, v = qkv.permute(3, 0, 2, 1, 4).unbind(0)          # each (batch, heads, seq, d)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        o = o.transpose(1, 2).reshape(batch, seq, self.num_local_heads * self.head_dim)
        return self.out(o)
        # END SOLUTION
