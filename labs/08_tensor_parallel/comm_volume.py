"""Lab 08, part 6 — how much a tensor-parallel transformer talks.

A transformer layer is an attention block followed by an MLP block. With Megatron's layout
each block has one f (all-reduce in backward) at its entrance and one g (all-reduce in
forward) at its exit, and each of those all-reduces carries a full activation of shape
(batch, seq, hidden). So per layer and per training step (forward + backward):

    all-reduces      2 (forward) + 2 (backward) = 4
    payload          4 · batch · seq · hidden · element_size  bytes

The payload is what `comm.all_reduce` is handed (what the CommLog records). What actually
crosses the wire depends on the algorithm: a ring all-reduce (reduce-scatter, then
all-gather) makes each rank send 2(W−1)/W times the payload. Note what is *missing*: the
weights never move, and the volume does not shrink as W grows — TP trades compute per rank
for a fixed, frequent, latency-bound stream of activations, which is why it stays inside
one fast-linked node while data parallelism spans nodes.
"""
from __future__ import annotations


def tp_comm_volume(batch: int, seq: int, hidden: int, layers: int, world: int,
                   element_size: int = 4) -> dict:
    """Per rank, one forward + backward of `layers` Megatron transformer layers on `world` ranks.

    Returns {"all_reduces": int, "bytes": int, "ring_bytes_per_rank": float}:
    the number of all-reduce calls, their total payload in bytes (numel × element_size, as
    logged), and the bytes one rank sends in a ring all-reduce of that payload.

    Hint: count the f's and g's of one layer, multiply; ring: 2·(world − 1)/world · bytes.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
