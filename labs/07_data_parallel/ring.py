"""Lab 07, part 2 — ring all-reduce from point-to-point messages.

After backward, every rank holds a gradient computed on its own data; data parallelism
needs their sum (or mean) on every rank: an all-reduce. The naive way — everyone sends
everything to everyone — moves (N−1)·n elements per rank. The ring algorithm (Baidu 2017,
NCCL's default) arranges the N ranks in a circle and cuts the tensor into N chunks:

1. **reduce-scatter**, N−1 steps: in step s, rank r sends chunk (r − s) mod N to its right
   neighbour and adds the chunk (r − s − 1) mod N arriving from its left neighbour. After
   N−1 steps rank r holds the complete sum of chunk (r + 1) mod N.
2. **all-gather**, N−1 steps: pass the completed chunks around the ring the same way, this
   time overwriting instead of adding.

Each rank sends 2(N−1) chunks of n/N elements: **2(N−1)/N · n**, nearly independent of N —
which is why the ring scales, and what `aisys check` reads from the CommLog.
"""
from __future__ import annotations

from aisys.parallel import comm, context


def ring_all_reduce(tensor):
    """Sum `tensor` over all ranks, in place, using only comm.isend / comm.irecv; return it.

    Every rank calls it with a tensor of the same shape; afterwards every rank holds the sum.
    `context.rank()` and `context.world_size()` tell you where you sit in the ring.

    Any split into N contiguous chunks works (the grader checks that each message is one chunk
    and that a rank sends about 2(N−1)/N·n elements); each chunk travels N−1 hops per phase.

    Hint: work on `flat = tensor.view(-1)` and `chunks = flat.tensor_split(world)` (views, so
    writing a chunk writes the tensor; chunk sizes may differ by one). In each step post the
    send to the right and the receive from the left *together* (`isend`, `irecv`, then `wait`
    both) — two blocking sends facing each other can deadlock. Receive into a fresh buffer.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
