"""Tables for the tensor-parallel demo: collectives per layer, errors against the dense model,
and the student's layers beside torch's `parallelize_module`."""
from __future__ import annotations

import math

from rich.table import Table


SHORT = {"all_reduce": "AR", "all_gather": "AG", "reduce_scatter": "RS", "broadcast": "BC", "send": "send",
         "recv": "recv", "barrier": "barrier"}
LEGEND = ("AR = all-reduce, AG = all-gather, RS = reduce-scatter; B = bytes handed to the calls "
          "(the CommLog's payload)")


def kind_text(kind: str) -> str:
    """'all_reduce(sum)' → 'AR', 'all_reduce(max)' → 'AR max', 'reduce_scatter(sum)' → 'RS'."""
    base, _, op = kind.partition("(")
    op = op.rstrip(")")
    return SHORT.get(base, base) + (f" {op}" if op and op != "sum" else "")


def ops_text(summary: dict | None) -> str:
    """{'kinds': {'all_reduce(sum)': {'calls': 1, 'bytes': 256}}, ...} → '1 AR · 256 B'; '—' for none."""
    if not summary:
        return "?"
    kinds = summary.get("kinds") or {}
    if not kinds:
        return "[dim]—[/]"
    text = " + ".join(f"{v['calls']} {kind_text(k)}" for k, v in sorted(kinds.items()))
    total = sum(v["bytes"] for v in kinds.values())
    return text + (f" [dim]· {total} B[/]" if total else "")


def error_text(value: float | None, tol: float = 1e-4) -> str:
    """A max |difference|, green when it is rounding noise, red otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "[red]missing[/]"
    if value <= tol:
        return "[green]0[/]" if value == 0 else f"[green]{value:.0e}[/]"
    return f"[bold red]{value:.2g}[/]"


def operator_table(rows: list[tuple[str, str, str, dict | None]]) -> Table:
    """rows: (name, forward meaning, backward meaning, rank-0 result or None if not run)."""
    table = Table(title="the mappings (rank 0's CommLog; |Δ| against the arithmetic they promise)",
                  title_justify="left", caption=LEGEND)
    table.add_column("mapping", no_wrap=True)
    for col in ("forward", "backward"):
        table.add_column(col)
    for col in ("comm forward", "comm backward", "|Δ| fwd / bwd"):
        table.add_column(col, no_wrap=True)
    for name, fwd, bwd, res in rows:
        if res is None:
            table.add_row(name, fwd, bwd, "[yellow]not run[/]", "", "")
            continue
        table.add_row(name, fwd, bwd, ops_text(res["fwd"]), ops_text(res["bwd"]),
                      f"{error_text(res['forward_diff'])} / {error_text(res['backward_diff'])}")
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


def sequence_table(tp: dict, sp: dict, world: int) -> Table:
    """Plain TP beside sequence parallelism: collectives, bytes on the wire, activations kept."""
    table = Table(title=f"one MLP sublayer (LayerNorm, MLP, dropout, residual), rank 0 of {world}",
                  title_justify="left", caption=LEGEND)
    table.add_column("")
    table.add_column("plain TP (ParallelMLP)")
    table.add_column("sequence parallel")
    rows = [("forward collectives", ops_text(tp["fwd"]), ops_text(sp["fwd"])),
            ("backward collectives", ops_text(tp["bwd"]), ops_text(sp["bwd"])),
            ("bytes sent per rank (ring)", f"{_wire(tp):.0f} B",
             f"{_wire(sp) - _wire(sp, 'wire_all_reduce'):.0f} B + {_wire(sp, 'wire_all_reduce'):.0f} B "
             "(all-reduced parameter gradients)"),
            ("LayerNorm + dropout activations kept", f"{tp['region']} B", f"{sp['region']} B"),
            ("output max |Δ| vs dense", error_text(tp["diff"]), error_text(sp["diff"]))]
    for row in rows:
        table.add_row(*row)
    return table


def _wire(side: dict, key: str = "wire") -> float:
    return side["fwd"][key] + side["bwd"][key]


def embedding_table(rows: list[tuple[str, dict | None]], world: int) -> Table:
    """The two embedding splits: weight per rank, forward collective, bytes, error."""
    table = Table(title=f"the two embedding splits, rank 0 of {world}", title_justify="left", caption=LEGEND)
    for col in ("split", "weight on this rank", "forward", "bytes sent (ring)", "output |Δ|"):
        table.add_column(col)
    for name, res in rows:
        if res is None:
            table.add_row(name, "[yellow]not run[/]", "", "", "")
            continue
        weight = "?" if res.get("weight_bytes") is None else f"{res['weight_bytes']} B"
        table.add_row(name, weight, ops_text(res["fwd"]), f"{res['fwd']['wire']:.0f} B",
                      error_text(res["diffs"]["output"]))
    return table


def versus_table(rows: list[tuple[str, str, str]], title: str) -> Table:
    table = Table(title=title, title_justify="left", caption=LEGEND)
    table.add_column("")
    table.add_column("your layers (aisys.parallel.comm)")
    table.add_column("torch parallelize_module / loss_parallel")
    for row in rows:
        table.add_row(*row)
    return table
