"""Rich tables for lab 04: a dataflow graph's wiring (with output ports), an execution log
(which op fired, in which frame and iteration, live or dead) and a loop gradient's stack."""
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


def stack_table(pushed: Sequence[Sequence], popped: Sequence[tuple[Sequence, Sequence]]) -> Table:
    """The tape of a loop gradient, step by step: each forward iteration pushes its inputs
    (x, y, i, n); backward pops them last-first and turns the cotangent ḡ_{k+1} into ḡ_k
    with that iteration's VJP. `popped` is [(values popped, cotangent after its VJP)]."""
    table = Table(title="the stack: forward pushes, backward pops (last in, first out)", title_justify="left")
    for col in ("step", "stack op", "iteration", "x, y (i, n)", "depth after", "cotangent x̄, ȳ after"):
        table.add_column(col, justify="right" if col in ("step", "iteration", "depth after") else "left")
    def values(v: Sequence) -> str:
        return f"{_fmt(v[0])}, {_fmt(v[1])} ({_fmt(v[2])}, {_fmt(v[3])})" if len(v) >= 4 else _fmt(v)
    step = 0
    for k, saved in enumerate(pushed):
        table.add_row(str(step), "push", str(k), values(saved), str(k + 1), "")
        step += 1
    depth, left = len(pushed), [tuple(v) for v in pushed]
    for saved, grads in popped:
        depth -= 1
        k = max((i for i, v in enumerate(left) if v == tuple(saved)), default=None)   # which push this pops
        if k is not None:
            left[k] = None
        table.add_row(str(step), "pop", "?" if k is None else str(k), values(saved), str(depth),
                      f"{_fmt(grads[0])}, {_fmt(grads[1])}" if len(grads) >= 2 else _fmt(grads))
        step += 1
    return table
