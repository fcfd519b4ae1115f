"""Lab 07, part 1 — giving every rank its own slice of the data.

Data parallelism runs the *same* model on N ranks, each on a *different* part of every
batch. PyTorch's `DistributedSampler` decides which sample indices rank r sees, and it is
worth knowing exactly, because every rank must agree on it without talking to the others:

1. start from `0..n-1`, or, with `shuffle=True`, from one permutation that every rank draws
   identically: a `torch.Generator` seeded with `seed + epoch` and `torch.randperm(n)`
   (a new epoch → a new permutation, the same on every rank);
2. make the length divisible by `world`: either pad by wrapping around to the start
   (`drop_last=False`, total = ceil(n / world) · world; some samples are seen twice) or cut
   the tail (`drop_last=True`, total = floor(n / world) · world);
3. deal them out like cards: rank r takes `indices[r : total : world]`.

Every rank gets the same count, so every rank runs the same number of steps — which matters
because each step ends in a collective that all ranks must join.
"""
from __future__ import annotations


def shard_indices(n: int, world: int, rank: int, shuffle: bool = True, seed: int = 0, epoch: int = 0,
                  drop_last: bool = False) -> list[int]:
    """The sample indices rank `rank` of `world` reads in epoch `epoch`, as DistributedSampler does.

    shard_indices(10, 4, 1, shuffle=False) == [1, 5, 9]: pad 0..9 to 12 with 0, 1, then
    take every 4th starting at 1. With drop_last=True the same call gives [1, 5].

    Hint: `g = torch.Generator(); g.manual_seed(seed + epoch); torch.randperm(n, generator=g)`;
    pad with `indices[:pad]` repeated as often as needed (pad can exceed n when n < world).
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
