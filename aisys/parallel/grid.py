"""A process grid: ranks laid out as a (data-parallel × tensor-parallel) matrix.

Megatron-style layout: the tensor-parallel ranks of one model replica are *consecutive*
(they talk every layer, so they should share the fastest links), and the data-parallel
ranks that hold the same shard are *strided*. For world 4 as 2 × 2:

    tp group 0: ranks 0, 1        dp group 0: ranks 0, 2
    tp group 1: ranks 2, 3        dp group 1: ranks 1, 3

Rank r sits at (dp_rank, tp_rank) = divmod(r, tp). Groups come from `context.new_group`
(cached, created by their members only), so a grid can live inside a `context.scope`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aisys.parallel import context


@dataclass(frozen=True)
class ProcessGrid:
    dp: int
    tp: int

    def __post_init__(self) -> None:
        if self.dp < 1 or self.tp < 1:
            raise ValueError("grid sides must be at least 1")

    @property
    def size(self) -> int:
        return self.dp * self.tp

    def coords(self, rank: int | None = None) -> tuple[int, int]:
        """(dp_rank, tp_rank) of `rank` (this rank by default)."""
        rank = context.rank() if rank is None else rank
        if not 0 <= rank < self.size:
            raise ValueError(f"rank {rank} is outside a {self.dp}×{self.tp} grid")
        return divmod(rank, self.tp)

    def tp_ranks(self, rank: int | None = None) -> list[int]:
        """The ranks of `rank`'s tensor-parallel group (consecutive)."""
        dp_rank, _ = self.coords(rank)
        return [dp_rank * self.tp + t for t in range(self.tp)]

    def dp_ranks(self, rank: int | None = None) -> list[int]:
        """The ranks of `rank`'s data-parallel group (strided by tp)."""
        _, tp_rank = self.coords(rank)
        return [d * self.tp + tp_rank for d in range(self.dp)]

    def tp_group(self) -> Any:
        """This rank's tensor-parallel process group."""
        return context.new_group(self.tp_ranks())

    def dp_group(self) -> Any:
        """This rank's data-parallel process group."""
        return context.new_group(self.dp_ranks())


def grid_for(world: int, tp: int) -> ProcessGrid:
    """The grid with `tp`-wide model replicas over `world` ranks."""
    if world % tp:
        raise ValueError(f"{world} ranks cannot be split into tensor-parallel groups of {tp}")
    return ProcessGrid(world // tp, tp)
