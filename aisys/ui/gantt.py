"""A terminal Gantt chart for any timeline: one row per worker, one bar per op.

Takes anything with `workers` and `slots` (each slot has op, worker, start, end) — a
scheduling `Timeline`, or a collective log turned into one — so every lab draws time the
same way. Bars are scaled to `width` characters; an op too short to label gets a block.
The percentage beside a row is the share of the chart's wall time (first start to last
end) in which that row is busy: overlapping ops on one row (several all-reduces in
flight) count once, so every row is at most 100%.
"""
from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta")


def busy_time(slots: list) -> float:
    """Length of the union of the slots' [start, end) intervals (overlaps counted once)."""
    total, reach = 0.0, float("-inf")
    for slot in sorted(slots, key=lambda s: s.start):
        begin = max(slot.start, reach)
        if slot.end > begin:
            total += slot.end - begin
        reach = max(reach, slot.end)
    return total


def gantt(timeline: Any, title: str = "", width: int = 54, unit: str = "") -> Table:
    """A rich Table: worker | bar | busy %, with a time axis in the caption."""
    slots = list(timeline.slots)
    start = min((s.start for s in slots), default=0.0)
    end = max((s.end for s in slots), default=0.0)
    span = (end - start) or 1.0
    scale = width / span
    table = Table(title=title or None, show_header=False, box=None, pad_edge=False, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True, min_width=max((len(w) for w in timeline.workers), default=1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", style="dim", no_wrap=True, min_width=6)
    for row, worker in enumerate(timeline.workers):
        mine = sorted((s for s in slots if s.worker == worker), key=lambda s: s.start)
        bar = Text()
        cursor = 0
        for i, slot in enumerate(mine):
            left = int(round((slot.start - start) * scale))
            right = max(left + 1, int(round((slot.end - start) * scale)))
            left = max(left, cursor)
            if right <= left:
                continue
            bar.append(" " * (left - cursor))
            label = slot.op[: right - left - 1] if right - left > 2 else ""
            cell = (label.center(right - left - 1) + "▏") if label else "█" * (right - left)
            bar.append(cell, style=f"black on {_COLOURS[(i + row) % len(_COLOURS)]}" if label
                       else _COLOURS[(i + row) % len(_COLOURS)])
            cursor = right
        table.add_row(worker, bar, f"{100 * busy_time(mine) / span:5.1f}%")
    axis = f"0 … {end - start:.6g}{(' ' + unit) if unit else ''}"
    table.caption = f"time {axis} · % = share of that wall time each row is busy"
    return table
