"""Tables and bars for the pipeline lab: stage costs, step times beside the formula, memory.

Every number is printed as text beside its bar, so the charts still read when piped (colour
only decorates). Schedules themselves are drawn by the shared Gantt renderer (aisys.ui.gantt).
"""
from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from aisys.ui.safe import escape

_STYLES = ("cyan", "magenta", "green", "yellow")


def _bar(value: float, top: float, width: int, style: str) -> Text:
    cells = max(1, round(width * value / top)) if value > 0 and top > 0 else 0
    return Text("█" * cells, style=style)


def stage_costs(rows: list[tuple[str, list[int], float]], title: str, width: int = 40) -> Table:
    """stage | layers | cost | bar — one row per stage (name, layer indices, summed cost)."""
    top = max((cost for *_, cost in rows), default=0.0)
    table = Table(title=escape(title), title_justify="left", box=None, padding=(0, 1))
    for column, justify in (("stage", "left"), ("layers", "left"), ("cost", "right"), ("", "left")):
        table.add_column(column, justify=justify, no_wrap=True)
    for i, (name, layers, cost) in enumerate(rows):
        span = f"{layers[0]}–{layers[-1]}" if len(layers) > 1 else (str(layers[0]) if layers else "—")
        mark = "  ← slowest" if cost == top else ""
        table.add_row(escape(name), span, f"{cost:g}", _bar(cost, top, width, _STYLES[i % 4]) + Text(mark))
    return table


STEP_COLUMNS = ("variant", "step", "÷ one", "naive ÷ it", "formula", "the article")


def step_times(rows: list[tuple[str, ...]], title: str) -> Table:
    """One row per way of training a step: measured time, time ÷ one process, speed-up over naive,
    the formula's time ÷ one process, and what the article measured."""
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for column in STEP_COLUMNS:
        table.add_column(column, no_wrap=column != "the article", overflow="fold",
                         justify="left" if column in ("variant", "the article") else "right")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def activations(rows: list[tuple[str, list[int | None]]], formula: dict[str, list[int | None]],
                title: str, width: int = 24) -> Table:
    """Per stage, one bar per schedule: micro-batches alive at once, measured, and the formula."""
    top = max((v for _, values in rows for v in values if v), default=1)
    table = Table(title=escape(title), title_justify="left", box=None, padding=(0, 1))
    table.add_column("stage", no_wrap=True)
    for name, _ in rows:
        table.add_column(f"{name} (measured · formula)", no_wrap=True)
    stages = max((len(values) for _, values in rows), default=0)
    for s in range(stages):
        cells = []
        for k, (name, values) in enumerate(rows):
            value = values[s] if s < len(values) else None
            said = (formula.get(name) or [None] * stages)[s]
            if value is None:
                cells.append(Text("—"))
                continue
            text = _bar(value, top, width, _STYLES[k % 4])
            text.append(f" {value}" + (f" · {said}" if said is not None else ""))
            cells.append(text)
        table.add_row(str(s), *cells)
    return table
