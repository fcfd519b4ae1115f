"""Shard-layout grids for tensor parallelism: which rows/columns of a dense weight each rank holds.

One cell per weight entry (rows = output features, columns = input features, torch's
layout) showing the rank that owns it as a digit (0-9, then a-z; "·" where no rank holds
it), so the grid reads piped or printed; colour only repeats it. The ownership is
*measured* — each rank's shard was matched against the dense weight — so a wrong split
shows up as a wrong picture.
"""
from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

RANK_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_white", "orange3")
GLYPHS = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_CELLS = 24     # rows or columns beyond this are sampled evenly


def rank_colour(rank: int) -> str:
    return RANK_COLOURS[rank % len(RANK_COLOURS)] if rank >= 0 else "grey37"


def rank_glyph(rank: int) -> str:
    """The character a grid cell shows for `rank` ('·' for nobody, '+' past the 36th rank)."""
    if rank < 0:
        return "·"
    return GLYPHS[rank] if rank < len(GLYPHS) else "+"


def owner_matrix(shape: list[int], axis: int, owned_by_rank: list[list[int]]) -> list[list[int]]:
    """owner[i][j] = the rank holding dense entry (i, j); -1 when no rank holds it.

    `owned_by_rank[r]` lists the dense row (axis 0) or column (axis 1) index of each slice
    of rank r's shard (-1 where a slice matched nothing)."""
    rows, cols = shape
    owner = [[-1] * cols for _ in range(rows)]
    for rank, indices in enumerate(owned_by_rank):
        for index in indices:
            if index < 0:
                continue
            if axis == 0:
                owner[index] = [rank] * cols
            else:
                for row in owner:
                    row[index] = rank
    return owner


def _sample(n: int) -> list[int]:
    if n <= MAX_CELLS:
        return list(range(n))
    return sorted({round(i * (n - 1) / (MAX_CELLS - 1)) for i in range(MAX_CELLS)})


def shard_grid(title: str, shape: list[int], axis: int, owned_by_rank: list[list[int]],
               row_labels: dict[int, str] | None = None) -> Panel:
    """A panel with one cell (the owner's digit) per weight entry, and the split direction."""
    owner = owner_matrix(shape, axis, owned_by_rank)
    text = Text()
    for n, i in enumerate(_sample(shape[0])):
        if n:
            text.append("\n")
        label = (row_labels or {}).get(i, "")
        text.append(f"{label:>3} " if row_labels else "", style="dim")
        for j in _sample(shape[1]):
            text.append(rank_glyph(owner[i][j]), style=rank_colour(owner[i][j]))
    missing = sum(cell < 0 for row in owner for cell in row)
    split = "rows split (column-parallel)" if axis == 0 else "columns split (row-parallel)"
    footer = Text(f"{shape[0]}×{shape[1]}, {split}", style="dim")
    if missing:
        footer.append(f", {missing} entries on no rank", style="red")
    return Panel(Group(text, footer), title=title, expand=False)


def legend(world: int) -> Text:
    text = Text("each cell shows the rank that holds that entry: ")
    for r in range(world):
        text.append(rank_glyph(r), style=rank_colour(r))
        text.append(" ")
    text.append(" (· = no rank)", style=rank_colour(-1))
    return text


def qkv_row_labels(embed_dim: int, num_heads: int) -> dict[int, str]:
    """Labels for the rows of [W_q; W_k; W_v]: where each head's q, k and v start."""
    d = embed_dim // num_heads
    return {which * embed_dim + h * d: f"{'qkv'[which]}{h}" for which in range(3) for h in range(num_heads)}
