"""Rich pieces of the scheduling lab's demo: schedule summaries, dispatch tables, modes."""
from __future__ import annotations

from typing import Iterable

from rich.table import Table

from aisys.scheduling.timeline import Timeline


def schedule_summary(rows: Iterable[tuple[str, Timeline, float]], unit: str = "units") -> Table:
    """One row per schedule: makespan, lower bound, ratio, per-worker utilisation."""
    table = Table(title="makespan vs the lower bound max(critical path, work/m)", title_justify="left")
    for column in ("schedule", f"makespan ({unit})", "lower bound", "ratio", "utilisation"):
        table.add_column(column, justify="left" if column in ("schedule", "utilisation") else "right")
    for name, timeline, bound in rows:
        use = "  ".join(f"{w} {100 * u:.0f}%" for w, u in timeline.utilisation().items())
        table.add_row(name, f"{timeline.makespan:.4g}", f"{bound:.4g}",
                      f"{timeline.makespan / bound:.2f}" if bound else "—", use)
    return table


def dispatch_table(rows: Iterable[tuple[str, str, str, str, str]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("op", "device", "layout", "dtype", "kernel"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


def lookup_table(rows: Iterable[tuple[str, str, str]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("call")
    table.add_column("our Dispatcher")
    table.add_column("torch.library")
    for row in rows:
        table.add_row(*row)
    return table


def modes_table(rows: list[dict]) -> Table:
    table = Table(title="execution modes: who talks to whom", title_justify="left")
    for column in ("mode", "launches", "host↔device", "device↔device"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for row in rows:
        table.add_row(row["mode"], str(row["launches"]), str(row["host_device"]), str(row["device_device"]))
    return table
