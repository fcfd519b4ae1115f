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
    # BEGIN SOLUTION
    import torch

    world, me = context.world_size(), context.rank()
    if world == 1:
        return tensor
    right, left = (me + 1) % world, (me - 1) % world
    flat = tensor.view(-1) if tensor.is_contiguous() else tensor.reshape(-1)
    chunks = flat.tensor_split(world)

    def exchange(send_index: int, recv_index: int):
        incoming = torch.empty_like(chunks[recv_index])
        works = [comm.isend(chunks[send_index].contiguous(), right), comm.irecv(incoming, left)]
        for work in works:
            work.wait()
        return incoming

    for step in range(world - 1):          # reduce-scatter
        send_index, recv_index = (me - step) % world, (me - step - 1) % world
        chunks[recv_index].add_(exchange(send_index, recv_index))
    for step in range(world - 1):          # all-gather
        send_index, recv_index = (me + 1 - step) % world, (me - step) % world
        chunks[recv_index].copy_(exchange(send_index, recv_index))
    if not tensor.is_contiguous():         # reshape made a copy: write the sum back
        tensor.copy_(flat.view(tensor.shape))
    return tensor
    # END SOLUTION
