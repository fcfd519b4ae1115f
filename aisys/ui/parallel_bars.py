"""Horizontal bar charts for the parallel labs (memory per device, bytes per rank)."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text


def bars(rows: list[tuple[str, float]], unit: str = "", width: int = 48, title: str = "") -> Table:
    """label | ████ | value: bars scaled to the largest value."""
    top = max((v for _, v in rows), default=0.0) or 1.0
    table = Table(title=title or None, show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    for i, (label, value) in enumerate(rows):
        cells = max(1, round(width * value / top)) if value > 0 else 0
        table.add_row(label, Text("█" * cells, style=("cyan", "magenta", "green", "yellow")[i % 4]),
                      f"{value:.4g} {unit}".strip())
    return table
