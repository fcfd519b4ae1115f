"""Lab 08, part 5 — the vocabulary split: embedding in, cross entropy out.

A language model's two biggest matrices are V×h (V ≈ 50k–250k tokens): the input embedding
and the output projection to logits. Megatron splits both by **vocabulary**: rank r owns
token ids [r·V/W, (r+1)·V/W).

Embedding, split by vocabulary (rows). Rank r can only look up its own ids. It maps them to
local rows, looks up *every* position (ids it does not own point at row 0), zeroes the rows
of ids it does not own, and one all-reduce (g) adds the W partial results: each position
received its vector from exactly one rank. Backward needs no communication: the gradient
of an embedding row only involves positions with that id, which this rank owns.

Embedding, split by columns (the article's other split: the hidden dimension). Rank r keeps
*all* V rows but only columns [r·D/W, (r+1)·D/W): it looks up every id without masking and
an all-gather (gather_from_tp) concatenates the column blocks. The trade-off:

    split by      memory per rank   forward collective       bytes one rank sends (ring)
    vocabulary    V/W × D           all-reduce of (…, D)     2·(W−1)/W × n
    columns       V × D/W           all-gather of (…, D/W)   (W−1)/W × n      (half)

(n = the bytes of the full output). Same memory; the column split moves half the bytes
and needs no masking, but D must divide by W — and the vocabulary split is the one that
matches a vocabulary-parallel output layer (tied weights) and the loss below, which is why
Megatron uses it for language models. The column split suits many medium tables (the
article's recommendation-model setting) and any V.

Cross entropy. After a column-parallel output layer, rank r holds logits z[:, V_r] for
its vocabulary block only. Gathering the full B·S×V logits would defeat the point. Instead,
per token (batch × seq values, not V):

    m   = max_v z_v                  all-reduce MAX of the local maxima (for stability)
    s   = Σ_v exp(z_v − m)           all-reduce SUM of the local exp-sums
    z_t = the target's logit − m     all-reduce SUM (only the owner adds a non-zero)
    loss = log s − z_t

(The source article says the exp-sum is reduced with MAX: that is a slip — the softmax
denominator is a sum over *all* V entries, so it is SUM.) The targets stay what they are,
integer ids, the same on every rank: rank r tests which of them fall in its block. (The
article one-hot encodes them and scatters the one-hot matrix — tokens × V numbers where
tokens numbers do.) The gradient stays local: dloss/dz_v = softmax_v − [v = target], times
the incoming gradient — no collective at all.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aisys.parallel import comm
from aisys.workspace import sibling

_ops = sibling(__file__, "tensor-parallel", "operators.py")
reduce_from_tp, gather_from_tp, tp_world_and_rank = _ops.reduce_from_tp, _ops.gather_from_tp, _ops.tp_world_and_rank


class VocabParallelEmbedding(nn.Module):
    """This rank's rows [vocab_start, vocab_end) of a dense `nn.Embedding`.

    Attributes the checks read: `weight` (V/W, D), `vocab_start`, `vocab_end`.
    forward(ids): ids of any shape with values in [0, V), the same on every rank; returns
    the full (*ids.shape, D) embeddings on every rank.

    Hint: mask = (ids < start) | (ids >= end); look up `(ids - start)` with masked ids
    replaced by 0; zero the masked rows (multiply, or `masked_fill`, not in place on a
    tensor autograd needs); then reduce_from_tp. Reject V not divisible by W (ValueError).
    """

    def __init__(self, dense: nn.Embedding, group=None):
        super().__init__()
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")


class ColumnParallelEmbedding(nn.Module):
    """This rank's columns [r·D/W, (r+1)·D/W) of a dense `nn.Embedding`, for every token.

    Attributes the checks read: `weight` (V, D/W) — all V rows, this rank's block of the
    embedding dimension, a fresh Parameter. forward(ids): ids of any shape with values in
    [0, V), the same on every rank; returns the full (*ids.shape, D) embeddings on every
    rank. Any V works; D not divisible by the ranks raises ValueError naming embedding_dim
    and the number of ranks.

    Hint: one line of forward — look up every id in your columns, then gather_from_tp (its
    backward hands each rank the gradient of its own columns; repeated ids accumulate by
    themselves in F.embedding's backward).
    """

    def __init__(self, dense: nn.Embedding, group=None):
        super().__init__()
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")


class VocabParallelCrossEntropy(torch.autograd.Function):
    """Per-token cross entropy from vocabulary-split logits; local backward.

    Hint: forward — the three all-reduces in the module docstring (MAX, SUM, SUM), each on
    a tensor of shape `target.shape`; save softmax = exp(z − m)/s, the local target index
    and the mask of tokens whose target this rank owns. backward — grad = softmax, subtract
    1 at the owned targets, multiply by grad_output[..., None]; return (grad, None, None).
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor, group=None) -> torch.Tensor:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        raise NotImplementedError("not implemented yet: read the docstring and its hint")


def vocab_parallel_cross_entropy(logits: torch.Tensor, target: torch.Tensor, group=None) -> torch.Tensor:
    """Cross entropy of each token, `F.cross_entropy(full_logits, target, reduction="none")`.

    logits: (..., V/W), this rank's vocabulary block [r·V/W, (r+1)·V/W) of the full logits;
    target: (...) integer ids in [0, V), the same on every rank. Returns (...) losses, the
    same on every rank. Never gathers the full logits, and leaves `logits` as it was.
    """
    return VocabParallelCrossEntropy.apply(logits, target, group)
