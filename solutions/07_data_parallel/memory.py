"""Lab 07, part 9 — where training memory goes: model states and activations.

Training a Transformer with Adam in mixed precision keeps two kinds of memory on a device
(the article, after the ZeRO and ZeRO-Infinity papers):

**Model states**, 16 bytes per parameter: fp16 parameters (2) and fp16 gradients (2) for
forward and backward, and the optimizer's fp32 master parameters, momentum and variance
(4 + 4 + 4 = 12). Almost all of a Transformer block's parameters sit in its four linear
layers, of shapes (h, 3h), (h, h), (h, 4h) and (4h, h): 12h² per block, so

    Ψ ≈ 12 · n_layers · h²        model states = 2Ψ + 2Ψ + 12Ψ = 16Ψ bytes

**Activations**, what forward keeps for backward, grow with batch b and sequence s. The
article counts (16·h + 2·heads·s) bytes per token and block: fp16 copies of the block's
hidden-size tensors (the 16h) and one attention-probability row per head (the 2·heads·s).
Without recomputation every block keeps its activations:

    activations = b · s · n_layers · (16·h + 2·heads·s)

**Activation checkpointing** keeps only the fp16 input of every c-th block (a checkpoint,
2·b·s·h bytes each, n_layers/c of them) and recomputes a segment of c blocks in backward,
which then needs that segment's activations (the "activation working memory"):

    activations = 2·b·s·h · n_layers/c + b · s · c · (16·h + 2·heads·s)

Small c stores many checkpoints, large c a large working memory; c ≈ √n_layers balances
them — the same √n as lab 03's checkpoint plan.
"""
from __future__ import annotations


def training_memory(n_layers: int, hidden: int, heads: int, batch: int, seq: int,
                    checkpoint_every: int | None = None) -> dict[str, float]:
    """Bytes of each part of training memory for a Transformer, per the formulas above.

    Returns {"parameters", "gradients", "optimizer", "activations", "total"} in bytes
    (floats; "total" is the sum of the other four). `checkpoint_every=None`: no activation
    checkpointing; otherwise a checkpoint every `checkpoint_every` blocks (it divides
    n_layers).

    training_memory(1, 1024, 16, 1, 512)["parameters"] == 2 * 12 * 1024**2.

    Hint: compute Ψ first; parameters and gradients are 2 bytes each per parameter in
    fp16, the optimizer 12; then the activation formula for the checkpointing case.
    """
    # BEGIN SOLUTION
    psi = 12 * n_layers * hidden**2
    per_block = batch * seq * (16 * hidden + 2 * heads * seq)
    if checkpoint_every is None:
        activations = n_layers * per_block
    else:
        checkpoints = 2 * batch * seq * hidden * n_layers / checkpoint_every
        activations = checkpoints + checkpoint_every * per_block
    parts = {"parameters": 2.0 * psi, "gradients": 2.0 * psi, "optimizer": 12.0 * psi,
             "activations": float(activations)}
    return {**parts, "total": sum(parts.values())}
    # END SOLUTION
