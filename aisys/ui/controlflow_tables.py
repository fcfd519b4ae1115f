"""Rich tables for lab 04: a dataflow graph's wiring (with output ports) and an execution
log (which op fired, in which frame and iteration, live or dead)."""
from __future__ import annotations

from typing import Sequence

from rich.table import Table

from aisys.controlflow.dataflow import DataflowGraph
from aisys.controlflow.interpreter import Firing
from aisys.controlflow.tokens import show_tag

_PORT_NAMES = {"Switch": ("F", "T")}
_PRIMITIVE_STYLE = "bold magenta"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return "" if value is None else str(value)


def wiring_table(g: DataflowGraph, title: str) -> Table:
    """One row per node: its op, the frames it sits in and where each input comes from
    (`switch_0:T` is the true side of a Switch)."""
    table = Table(title=title, title_justify="left")
    for col in ("node", "op", "frames", "inputs"):
        table.add_column(col)
    for node in g.ir:
        inputs = []
        for src, port in zip(node.inputs, node.attrs["ports"]):
            names = _PORT_NAMES.get(g.ir[src].op)
            inputs.append(f"{src}:{names[port]}" if names else src)
        consts = [str(c) for c in node.attrs.get("operands", []) if c is not None]
        style = _PRIMITIVE_STYLE if node.op in ("Switch", "Merge", "Enter", "Exit", "NextIteration") else ""
        table.add_row(node.name, f"[{style}]{node.op}[/]" if style else node.op,
                      "/".join(node.attrs["ctx"]) or "main", ", ".join(inputs + consts))
    return table


def trace_table(log: Sequence[Firing], title: str, limit: int = 40) -> Table:
    """The execution log: step, node, op, frame:iteration tag, live/dead, value."""
    table = Table(title=title, title_justify="left")
    for col in ("step", "node", "op", "frame:iteration", "token", "value"):
        table.add_column(col, justify="right" if col == "step" else "left")
    shown = list(log)[:limit]
    for f in shown:
        token = "[dim]dead[/]" if f.dead else "[green]live[/]"
        row = [str(f.step), f.node, f.op, show_tag(f.tag), token, "" if f.dead else _fmt(f.value)]
        table.add_row(*row, style="dim" if f.dead else None)
    if len(log) > limit:
        table.add_row("…", f"{len(log) - limit} more firings", "", "", "", "")
    return table
