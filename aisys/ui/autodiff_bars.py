"""A horizontal bar chart in the terminal: one labelled bar per row, scaled to the largest."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text


def bar_chart(title: str, rows: list[tuple[str, float]], width: int = 40, unit: str = "",
              style: str = "cyan", log_note: str = "") -> Table:
    """rows: (label, value). Bars share one scale; the value is printed after each bar."""
    table = Table(title=title, show_header=False, box=None, padding=(0, 1))
    table.add_column(justify="right", style="bold")
    table.add_column()
    top = max((v for _, v in rows), default=0) or 1
    for label, value in rows:
        cells = value / top * width
        bar = "█" * int(cells) + ("▌" if cells - int(cells) >= 0.5 else "")
        table.add_row(label, Text(bar or "▏", style=style) + Text(f" {value:g}{unit}"))
    if log_note:
        table.caption = log_note
    return table
