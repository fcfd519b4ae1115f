"""Rich pieces of the scheduling lab's demo: schedule summaries, hand-off counts, dispatch
tables, execution modes and a partitioned graph."""
from __future__ import annotations

from typing import Any, Iterable

from rich.table import Table

from aisys.ui.safe import escape

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


def handoff_table(rows: Iterable[tuple[str, Timeline, int, str]], unit: str = "units") -> Table:
    """One row per schedule: makespan, how many ops went through the shared queue, a note."""
    table = Table(title="the same graph, the same threads", title_justify="left")
    for column in ("schedule", f"makespan ({unit})", "hand-offs", "note"):
        table.add_column(column, justify="right" if column in (f"makespan ({unit})", "hand-offs") else "left")
    for name, timeline, handoffs, note in rows:
        table.add_row(name, f"{timeline.makespan:.4g}", str(handoffs), note)
    return table


def partition_table(graph: Any, title: str) -> Table:
    """A partitioned graph drawn as one column per device and one row per dependency level:
    each op as `name = op(inputs)`, each send as `⇒ value to dN`, each recv as `⇐ value from dN`."""
    from aisys.graph.walk import topological_order

    device = {n.name: n.attrs.get("device") for n in graph}
    consumers = graph.consumers()
    level: dict[str, int] = {}
    for name in topological_order(graph):
        level[name] = 1 + max((level[i] for i in graph[name].inputs), default=-1)
    devices = sorted({d for d in device.values() if isinstance(d, int)})
    cells: dict[int, dict[int, list[str]]] = {}
    for node in graph:
        if node.op == "send":
            targets = sorted({f"d{device[c]}" for c in consumers[node.name]})
            text = f"⇒ {node.inputs[0] if node.inputs else '?'} to {', '.join(targets)}"
        elif node.op == "recv":
            origin = graph[node.inputs[0]] if node.inputs and node.inputs[0] in graph else None
            text = f"⇐ {origin.inputs[0] if origin and origin.inputs else '?'} from d{device.get(origin.name) if origin else '?'}"
        else:
            shown = [_received(graph, i) for i in node.inputs]
            text = f"{node.name} = {node.op}({', '.join(shown)})" if node.inputs else f"{node.name} ({node.op})"
        cells.setdefault(level[node.name], {}).setdefault(device[node.name], []).append(escape(text))
    table = Table(title=title, title_justify="left")
    table.add_column("level", justify="right")
    for d in devices:
        table.add_column(f"device {d}")
    for lv in sorted(cells):
        table.add_row(str(lv), *("\n".join(cells[lv].get(d, [])) for d in devices))
    return table


def _received(graph: Any, name: str) -> str:
    """An input read through a recv, shown as the value it carries: `⇐up`."""
    node = graph[name] if name in graph else None
    if node is None or node.op != "recv" or not node.inputs or node.inputs[0] not in graph:
        return name
    send = graph[node.inputs[0]]
    return f"⇐{send.inputs[0]}" if send.inputs else name
