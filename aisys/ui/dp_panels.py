"""Tables for the data-parallel demo's first half: data shards, ring traffic, the parameter server.

Plain values in, rich tables out; every mark that matters is a character (`*`, `skip`,
`diverged`), not only a colour, so the demo still reads when piped.
"""
from __future__ import annotations

from rich.table import Table


def shard_table(rows: list[list[str]], n: int, world: int, columns: list[str]) -> Table:
    """rows[r] = rank r's index lists as text (padding marked '*')."""
    total = -(-n // world) * world
    table = Table(title=f"n = {n} samples on {world} ranks: padded to {total} by repeating the first ones "
                        f"(marked *), or cut to {n // world * world} with drop_last",
                  title_justify="left")
    table.add_column("rank")
    for column in columns:
        table.add_column(column)
    for r, row in enumerate(rows):
        table.add_row(str(r), *row)
    return table


def marked(indices: list[int], padded_positions: set[int], rank: int, world: int) -> str:
    """'[3, 7, 1*]': an index dealt from the padding gets a star."""
    parts = [f"{i}*" if rank + k * world in padded_positions else str(i) for k, i in enumerate(indices)]
    return "[" + ", ".join(parts) + "]"


def ring_table(rows: list[dict]) -> Table:
    """rows: {"world", "n", "ok", "messages", "sent"} per ring size (rank 0's numbers)."""
    table = Table(title="ring all-reduce of n float32 per rank: bytes rank 0 sent vs 2(N−1)/N · n · 4",
                  title_justify="left")
    for column in ("N", "correct sum", "messages", "measured bytes", "formula bytes", "measured / n·4"):
        table.add_column(column, justify="right")
    for row in rows:
        formula = 2 * (row["world"] - 1) * row["n"] * 4 / row["world"]
        table.add_row(str(row["world"]), "yes" if row["ok"] else "NO", str(row["messages"]), f"{row['sent']:,}",
                      f"{formula:,.0f}", f"{row['sent'] / (row['n'] * 4):.3f}")
    return table


def ps_table(modes: dict, workers: int, rounds: tuple[int, ...]) -> Table:
    """Relative error to the optimum after t rounds (each round: every worker sends one gradient)."""
    table = Table(title=f"parameter server, {workers} workers: relative error to the optimum after t rounds "
                        f"(t·{workers} gradients); every mode takes the same effective step",
                  title_justify="left")
    table.add_column("mode (lr per update)")
    for t in rounds:
        table.add_column(f"t={t}", justify="right")
    for label, info in modes.items():
        cells = [f"{e:.1e}" if e < 1e3 else "diverged" for e in info["errors"]]
        table.add_row(f"{label} ({info['lr']:.3g})", *cells)
    return table
