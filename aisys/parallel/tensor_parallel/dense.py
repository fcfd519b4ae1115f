"""Dense (single-device) reference modules for lab 08, and seeded inputs for them.

Everything a check or the demo compares against lives here: the MLP, an attention block
with a *per-head* fused QKV projection (Megatron's layout, so torch's `parallelize_module`
can split it by heads with a plain ColwiseParallel), and a small transformer stack. They
are deliberately ordinary torch: the ground truth is `F.linear`, `F.gelu`,
`nn.MultiheadAttention`, `F.embedding` and `F.cross_entropy`, not anything from solutions/.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def seeded(seed: int, *shape: int, dtype: torch.dtype = torch.float64, scale: float = 1.0) -> torch.Tensor:
    """A normal tensor that every process rebuilds identically from `seed` (CPU generator)."""
    gen = torch.Generator().manual_seed(int(seed))
    return (torch.randn(*shape, generator=gen, dtype=dtype) * scale)


def seeded_ids(seed: int, high: int, *shape: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randint(0, int(high), shape, generator=gen)


def seeded_linear(seed: int, in_features: int, out_features: int, bias: bool = True,
                  dtype: torch.dtype = torch.float64) -> nn.Linear:
    """nn.Linear with weights drawn from `seed` (same on every rank and in the grader)."""
    layer = nn.Linear(in_features, out_features, bias=bias, dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(seeded(seed, out_features, in_features, dtype=dtype, scale=in_features ** -0.5))
        if bias:
            layer.bias.copy_(seeded(seed + 1, out_features, dtype=dtype, scale=0.5))
    return layer


def seeded_mha(seed: int, embed_dim: int, num_heads: int, dtype: torch.dtype = torch.float64
               ) -> nn.MultiheadAttention:
    mha = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True, dtype=dtype)
    with torch.no_grad():  # every parameter from the seed; non-zero biases so a dropped bias shows
        mha.in_proj_weight.copy_(seeded(seed, 3 * embed_dim, embed_dim, dtype=dtype, scale=embed_dim ** -0.5))
        mha.out_proj.weight.copy_(seeded(seed + 1, embed_dim, embed_dim, dtype=dtype, scale=embed_dim ** -0.5))
        mha.in_proj_bias.copy_(seeded(seed + 2, 3 * embed_dim, dtype=dtype, scale=0.3))
        mha.out_proj.bias.copy_(seeded(seed + 3, embed_dim, dtype=dtype, scale=0.3))
    return mha


def seeded_embedding(seed: int, vocab: int, dim: int, dtype: torch.dtype = torch.float64) -> nn.Embedding:
    emb = nn.Embedding(vocab, dim, dtype=dtype)
    with torch.no_grad():
        emb.weight.copy_(seeded(seed, vocab, dim, dtype=dtype))
    return emb


def seeded_layer_norm(seed: int, hidden: int, affine: bool = True, dtype: torch.dtype = torch.float64
                      ) -> nn.LayerNorm:
    """nn.LayerNorm(hidden) with a weight near 1 and a bias near 0 drawn from `seed` (a dropped
    weight or bias shows)."""
    norm = nn.LayerNorm(hidden, elementwise_affine=affine, dtype=dtype)
    if affine:
        with torch.no_grad():
            norm.weight.copy_(1 + seeded(seed, hidden, dtype=dtype, scale=0.3))
            norm.bias.copy_(seeded(seed + 1, hidden, dtype=dtype, scale=0.3))
    return norm


def sequence_mlp(norm: nn.LayerNorm, fc1: nn.Linear, fc2: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """The dense pre-LayerNorm MLP sublayer that SequenceParallelMLP splits: x + fc2(GeLU(fc1(LN(x))))."""
    return x + fc2(F.gelu(fc1(norm(x))))


def causal_mask(seq: int) -> torch.Tensor:
    """Boolean mask for nn.MultiheadAttention: True where a query may NOT look (the future)."""
    return torch.ones(seq, seq, dtype=torch.bool).triu(1)


def mha_forward(mha: nn.MultiheadAttention, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
    mask = causal_mask(x.shape[1]).to(x.device) if causal else None
    return mha(x, x, x, need_weights=False, attn_mask=mask, is_causal=causal)[0]


def per_head_rows(embed_dim: int, num_heads: int) -> torch.Tensor:
    """Row order [q_0; k_0; v_0; q_1; ...] of a fused QKV weight stacked as [W_q; W_k; W_v]."""
    d = embed_dim // num_heads
    head = torch.arange(d)
    return torch.cat([which * embed_dim + h * d + head for h in range(num_heads) for which in range(3)])


class DenseMLP(nn.Module):
    """fc2(GeLU(fc1(x))), the block Megatron splits column-then-row."""

    def __init__(self, fc1: nn.Linear, fc2: nn.Linear):
        super().__init__()
        self.fc1, self.fc2 = fc1, fc2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DenseAttention(nn.Module):
    """Self-attention with a per-head fused `qkv` Linear and an `out` Linear.

    Its forward reads the number of heads from the width `qkv` returns, so the same code
    runs dense (all heads) and after torch's ColwiseParallel left only local heads.
    """

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        e, h = mha.embed_dim, mha.num_heads
        rows = per_head_rows(e, h)
        self.head_dim = e // h
        self.qkv = nn.Linear(e, 3 * e, dtype=mha.in_proj_weight.dtype)
        self.out = nn.Linear(e, e, dtype=mha.in_proj_weight.dtype)
        with torch.no_grad():
            self.qkv.weight.copy_(mha.in_proj_weight[rows])
            self.qkv.bias.copy_(mha.in_proj_bias[rows])
            self.out.weight.copy_(mha.out_proj.weight)
            self.out.bias.copy_(mha.out_proj.bias)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        batch, seq, _ = x.shape
        qkv = self.qkv(x)
        heads = qkv.shape[-1] // (3 * self.head_dim)
        q, k, v = qkv.view(batch, seq, heads, 3, self.head_dim).permute(3, 0, 2, 1, 4).unbind(0)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out(o.transpose(1, 2).reshape(batch, seq, heads * self.head_dim))


class DenseBlock(nn.Module):
    """x + attention(x), then + mlp(·): a transformer layer without norms or dropout."""

    def __init__(self, mha: nn.MultiheadAttention, fc1: nn.Linear, fc2: nn.Linear):
        super().__init__()
        self.attn, self.mlp = DenseAttention(mha), DenseMLP(fc1, fc2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x, causal=True)
        return x + self.mlp(x)


def block_parts(seed: int, hidden: int, heads: int, ffn: int, dtype: torch.dtype = torch.float32):
    """(mha, fc1, fc2) for one seeded layer: what both the student's and torch's TP are built from."""
    return (seeded_mha(seed, hidden, heads, dtype), seeded_linear(seed + 10, hidden, ffn, dtype=dtype),
            seeded_linear(seed + 20, ffn, hidden, dtype=dtype))


def dense_stack(seed: int, hidden: int, heads: int, ffn: int, layers: int,
                dtype: torch.dtype = torch.float32) -> nn.Sequential:
    return nn.Sequential(*[DenseBlock(*block_parts(seed + 100 * i, hidden, heads, ffn, dtype))
                           for i in range(layers)])


def gelu_before_sum(fc1: nn.Linear, fc2: nn.Linear, x: torch.Tensor, world: int) -> torch.Tensor:
    """The wrong order, simulated on one device: split fc1 by *input* features (rows of A),
    apply GeLU to each rank's partial product, and only then sum. Compare with DenseMLP."""
    k = fc1.in_features // world
    partial = [F.linear(x[..., r * k:(r + 1) * k], fc1.weight[:, r * k:(r + 1) * k]) for r in range(world)]
    hidden = sum(F.gelu(p + fc1.bias / world) for p in partial)
    return fc2(hidden)
