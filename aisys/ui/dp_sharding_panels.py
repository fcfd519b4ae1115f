"""Tables for the data-parallel demo's second half: ZeRO stages, sharded optimizers, FSDP memory,
loss scaling, training memory. Plain values in, rich tables out; readable without colour."""
from __future__ import annotations

from rich.table import Table

from aisys.ui.parallel_bars import bars


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def zero_table(rows: list[tuple[str, dict | str, float | None]], psi: int, world: int) -> Table:
    """rows: (label, measured row or a status word, formula ×Ψ or None)."""
    table = Table(title=f"one training step, Adam, Ψ = {psi:,} parameters on {world} ranks (rank 0; traffic "
                        "in elements per rank, the paper's accounting)", title_justify="left")
    for column in ("stage", "traffic", "formula", "params", "grads kept", "optimizer state"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    for label, row, formula in rows:
        want = "" if formula is None else f"{formula:g}Ψ"
        if isinstance(row, str):
            table.add_row(label, row, want, "", "", "")
            continue
        table.add_row(label, f"{row['volume']:.2f}Ψ", want, _bytes(row["param_bytes"]), _bytes(row["grad_bytes"]),
                      f"{row['state']:,}")
    return table


def sharded_table(results: dict, world: int) -> Table:
    table = Table(title=f"ShardedOptimizer vs the unsharded torch optimizer, 3 steps on {world} ranks",
                  title_justify="left")
    for column in ("optimizer_cls", "max |difference|", "state, rank 0", "unsharded state"):
        table.add_column(column, justify="right" if column != "optimizer_cls" else "left")
    for label, row in results.items():
        exact = "0 (bit for bit)" if row["max_diff"] == 0 else f"{row['max_diff']:.1e} (NOT exact)"
        table.add_row(label, exact, f"{row['state']:,}", f"{row['unsharded']:,}")
    return table


def fsdp_memory_table(unit_rows: list[list], dtype: str) -> Table:
    """unit_rows: [unit, full weight bytes, bytes gathered at its forward, kept after it]."""
    table = Table(title=f"FSDP ({dtype}), rank 0, one step: heap bytes per unit (measured)", title_justify="left")
    for column in ("unit", "full weights", "live while it runs", "kept after it (activations)"):
        table.add_column(column, justify="right")
    for unit, full, live, kept in unit_rows:
        table.add_row(str(unit), _bytes(full), _bytes(live), _bytes(kept))
    return table


def fsdp_peak_bars(fsdp_peak: float, model_bytes: float, unit_bytes: float) -> Table:
    return bars([("FSDP: peak of gathered weights", fsdp_peak / 1e3), ("one unit's full weights", unit_bytes / 1e3),
                 ("DDP: all weights, all the time", model_bytes / 1e3)], unit="KB",
                title="full-size weights live on a rank (measured for FSDP)")


def scaler_table(steps: list[list], truth: list[tuple[bool, float]], world: int, overflow_rank: int) -> Table:
    table = Table(title=f"DynamicLossScaler on {world} ranks vs torch.amp.GradScaler on the whole vector "
                        f"(step 3: overflow only on rank {overflow_rank}; step 6: NaN on rank 0)",
                  title_justify="left")
    for column in ("step", "yours", "scale after", "GradScaler", "scale after "):
        table.add_column(column, justify="right")
    for i, ((stepped, scale), (want_step, want_scale)) in enumerate(zip(steps, truth)):
        table.add_row(str(i), "step" if stepped else "SKIP", f"{scale:g}", "step" if want_step else "SKIP",
                      f"{want_scale:g}")
    return table


def underflow_table(rows: list[list]) -> Table:
    table = Table(title="dW = xᵀ·k computed in fp16 (fp16: smallest subnormal 5.96e-8, smallest normal 6.1e-5, "
                        "largest 65504)", title_justify="left")
    for column in ("upstream gradient k", "zeros, unscaled", "error, unscaled", "zeros, scaled", "error, scaled"):
        table.add_column(column, justify="right")
    for k, zero, err, zero_s, err_s in rows:
        table.add_row(f"{k:.0e}", f"{zero:.0%}", f"{err:.1e}", f"{zero_s:.0%}", f"{err_s:.1e}")
    return table


def memory_formula_table(rows: list[tuple[str, dict, dict | None]]) -> Table:
    """rows: (label, training_memory's dict, measured dict or None)."""
    table = Table(title="training memory per device (mixed-precision Adam): 16Ψ of model states + activations",
                  title_justify="left")
    for column in ("setup", "params", "grads", "optimizer", "activations", "total", "measured total"):
        table.add_column(column, justify="right" if column != "setup" else "left")
    for label, got, measured in rows:
        table.add_row(label, *(_bytes(got[k]) for k in ("parameters", "gradients", "optimizer", "activations",
                                                          "total")),
                      _bytes(measured["total"]) if measured and "total" in measured else "")
    return table
