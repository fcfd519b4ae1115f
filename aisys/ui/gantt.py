"""A terminal Gantt chart for any timeline: one row per worker, one bar per op.

Takes anything with `workers` and `slots` (each slot has op, worker, start, end) — a
scheduling `Timeline`, a collective log turned into one, a timeline with link rows for the
transfers between devices — so every lab draws time the same way. Bars are scaled to
`width` characters and labelled with their op; an op too short to label gets a block, and
neighbouring blocks alternate █ and ▓ so they stay apart without colour (piped output).
Under the chart, a legend names the ops that were too short to label, row by row.

The percentage beside a row is the share of the chart's wall time (first start to last
end) in which that row is busy: overlapping ops on one row (several all-reduces in
flight) count once, so every row is at most 100%.
"""
from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from aisys.ui.safe import escape, safe_text

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta")
_BLOCKS = ("█", "▓")
_LEGEND_NAMES = 8   # unlabelled ops named per row before "…"


def busy_time(slots: list) -> float:
    """Length of the union of the slots' [start, end) intervals (overlaps counted once)."""
    total, reach = 0.0, float("-inf")
    for slot in sorted(slots, key=lambda s: s.start):
        begin = max(slot.start, reach)
        if slot.end > begin:
            total += slot.end - begin
        reach = max(reach, slot.end)
    return total


def _row(mine: list, start: float, scale: float, row: int) -> tuple[Text, list[str]]:
    """One worker's bar, and the ops on it too short to carry their label."""
    bar, cursor, unlabelled = Text(), 0, []
    for i, slot in enumerate(mine):
        left = max(int(round((slot.start - start) * scale)), cursor)
        right = max(left + 1, int(round((slot.end - start) * scale)))
        if right <= left:
            continue
        bar.append(" " * (left - cursor))
        label = str(slot.op)[: right - left - 1] if right - left > 2 else ""
        colour = _COLOURS[(i + row) % len(_COLOURS)]
        if label:
            bar.append_text(safe_text(label.center(right - left - 1) + "▏", style=f"black on {colour}"))
            if len(label) < len(str(slot.op)):
                unlabelled.append(str(slot.op))
        else:
            bar.append(_BLOCKS[len(unlabelled) % 2] * (right - left), style=colour)
            unlabelled.append(str(slot.op))
        cursor = right
    return bar, unlabelled


def gantt(timeline: Any, title: str = "", width: int = 54, unit: str = "", legend: bool = True) -> Table:
    """A rich Table: worker | bar | busy %, with a time axis (and a legend) in the caption."""
    slots = list(timeline.slots)
    start = min((s.start for s in slots), default=0.0)
    end = max((s.end for s in slots), default=0.0)
    span = (end - start) or 1.0
    scale = width / span
    table = Table(title=title or None, show_header=False, box=None, pad_edge=False, padding=(0, 1),
                  caption_justify="left")
    table.add_column(style="bold", no_wrap=True, min_width=max((len(str(w)) for w in timeline.workers), default=1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", style="dim", no_wrap=True, min_width=6)
    short: list[str] = []
    for row, worker in enumerate(timeline.workers):
        mine = sorted((s for s in slots if s.worker == worker), key=lambda s: s.start)
        bar, unlabelled = _row(mine, start, scale, row)
        table.add_row(safe_text(worker), bar, f"{100 * busy_time(mine) / span:5.1f}%")
        if unlabelled:
            names = ", ".join(unlabelled[:_LEGEND_NAMES]) + (", …" if len(unlabelled) > _LEGEND_NAMES else "")
            short.append(f"{worker}: {names}")
    axis = f"0 … {end - start:.6g}{(' ' + unit) if unit else ''}"
    caption = f"time {axis} · % = share of that wall time each row is busy"
    if legend and short:
        caption += "\nunlabelled (too short), in order — " + escape("; ".join(short))
    table.caption = caption
    return table
