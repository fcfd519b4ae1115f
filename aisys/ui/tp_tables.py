"""Tables for the tensor-parallel demo: collectives per layer, errors against the dense model,
and the student's layers beside torch's `parallelize_module`."""
from __future__ import annotations

import math

from rich.table import Table


SHORT = {"all_reduce": "AR", "all_gather": "AG", "all_gather_into_tensor": "AG", "reduce_scatter_tensor": "RS",
         "broadcast": "BC", "send": "send", "recv": "recv", "barrier": "barrier"}
LEGEND = "AR = all-reduce, AG = all-gather, RS = reduce-scatter, BC = broadcast; bytes = payload handed to the call"


def ops_text(summary: dict | None) -> str:
    """{'ops': {'all_reduce': 1}, 'bytes': 256} → '1 AR · 256 B'; '—' when nothing was sent."""
    if not summary:
        return "?"
    ops = summary.get("ops") or {}
    if not ops:
        return "[dim]—[/]"
    text = " + ".join(f"{n} {SHORT.get(op, op)}" for op, n in sorted(ops.items()))
    return text + (f" [dim]· {summary['bytes']} B[/]" if summary.get("bytes") else "")


def error_text(value: float | None, tol: float = 1e-4) -> str:
    """A max |difference|, green when it is rounding noise, red otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "[red]missing[/]"
    if value <= tol:
        return "[green]0[/]" if value == 0 else f"[green]{value:.0e}[/]"
    return f"[bold red]{value:.2g}[/]"


def operator_table(rows: list[tuple[str, str, str, dict | None]]) -> Table:
    """rows: (name, forward meaning, backward meaning, rank-0 result or None if not run)."""
    table = Table(title="the conjugate operators (rank 0's CommLog)", title_justify="left", caption=LEGEND)
    table.add_column("operator", no_wrap=True)
    for col in ("forward", "backward", "comm forward", "comm backward", "forward |Δ|", "backward |Δ|"):
        table.add_column(col)
    for name, fwd, bwd, res in rows:
        if res is None:
            table.add_row(name, fwd, bwd, "[yellow]not run[/]", "", "", "")
            continue
        table.add_row(name, fwd, bwd, ops_text(res["fwd"]), ops_text(res["bwd"]),
                      error_text(res["forward_diff"]), error_text(res["backward_diff"]))
    return table


def layer_table(rows: list[tuple[str, dict | None]]) -> Table:
    """Per layer: what it communicated in forward and backward, and its error vs the dense layer."""
    table = Table(title="communication per layer, and max |Δ| vs the dense layer (rank 0)",
                  title_justify="left", caption=LEGEND)
    table.add_column("layer", no_wrap=True)
    for col in ("forward", "backward", "output", "input grad", "shard grad"):
        table.add_column(col)
    for name, res in rows:
        if res is None:
            table.add_row(name, "[yellow]not run[/]", "", "", "", "")
            continue
        d = res["diffs"]
        table.add_row(name, ops_text(res["fwd"]), ops_text(res["bwd"]), error_text(d.get("output")),
                      error_text(d["input grad"]) if "input grad" in d else "[dim]n/a[/]",
                      error_text(d["weight-shard grad"]) if "weight-shard grad" in d else "[dim]n/a[/]")
    return table


def versus_table(rows: list[tuple[str, str, str]], title: str) -> Table:
    table = Table(title=title, title_justify="left", caption=LEGEND)
    table.add_column("")
    table.add_column("your layers (aisys.parallel.comm)")
    table.add_column("torch parallelize_module / loss_parallel")
    for row in rows:
        table.add_row(*row)
    return table
