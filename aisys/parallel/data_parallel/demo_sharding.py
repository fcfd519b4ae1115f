"""The demo's second half, drawn in the parent: memory formulas, ZeRO stages side by side,
ShardedOptimizer exactness, FSDP's measured memory and traffic, loss scaling."""
from __future__ import annotations

from rich.console import Console

from aisys.parallel.data_parallel import demo_parts_sharding as S
from aisys.ui import dp_sharding_panels as U
from aisys.ui.attempt import attempt
from aisys.ui.parallel_bars import bars
from aisys.workspace import Student

GPT = {"n_layers": 24, "hidden": 2048, "heads": 16, "batch": 8, "seq": 1024}
SMALL = {"n_layers": 6, "hidden": 128, "heads": 4, "batch": 2, "seq": 64}


def memory_panels(student: Student, console: Console) -> None:
    console.rule("2 · memory: ZeRO per device and training memory")
    console.print("[dim]Ψ = 7.5 B parameters on N_d = 64 devices; the ZeRO paper says 120 / 31.4 / 16.6 / 1.9 GB[/]",
                  justify="center")
    names = ("stage 0 (DP)", "stage 1 (P_os)", "stage 2 (P_os+g)", "stage 3 (P_os+g+p)")
    gb = attempt(console, student, "zero_memory", lambda fn: [float(fn(7.5e9, 64, s)) for s in range(4)])
    comm = attempt(console, student, "zero_comm", lambda fn: [float(fn(1.0, s)) for s in range(4)])
    if gb is not None:
        console.print(bars([(n, v) for n, v in zip(names, gb)], unit="GB"))
    if comm is not None:
        console.print("communication per step and rank: " + ", ".join(f"{n.split(' (')[0]}: {c:g}Ψ"
                                                                        for n, c in zip(names, comm)))

    def table(fn):
        from aisys.parallel.data_parallel.transformer import measure_training_memory

        gpt = [(f"GPT-like, {GPT['n_layers']} layers, no checkpointing", fn(**GPT), None),
               ("   checkpoint every 4 blocks", fn(**GPT, checkpoint_every=4), None),
               ("   checkpoint every block", fn(**GPT, checkpoint_every=1), None)]
        small = []
        for ckpt in (None, 2):
            measure_training_memory(**SMALL, checkpoint_every=ckpt)          # warm the allocator up
            small.append((f"small model (measured), {'no checkpointing' if ckpt is None else 'every 2'}",
                          fn(**SMALL, checkpoint_every=ckpt), measure_training_memory(**SMALL, checkpoint_every=ckpt)))
        return U.memory_formula_table(gpt + small)
    shown = attempt(console, student, "training_memory", table)
    if shown is not None:
        console.print(shown)
        console.print("[dim]Ψ = 12·n_layers·h²; params 2Ψ + grads 2Ψ + optimizer 12Ψ = 16Ψ. The small model "
                      "(exactly 12·n·h² parameters, bf16 + fp32 Adam) is trained for one step and measured.[/]")


def zero_panel(parts, console: Console, student: Student, world: int) -> None:
    console.rule("5 · ZeRO stages side by side: what each rank sends and keeps (CommLog + tensors)")
    formula = attempt(console, student, "zero_comm", lambda fn: [float(fn(1.0, s)) for s in range(4)]) or [None] * 4
    rows = []
    for key, exercise, label, stage in (("zero-dp", "NaiveDDP", "DP (NaiveDDP + Adam)", 0),
                                        ("zero-1", "ShardedOptimizer", "ZeRO-1: reduce-scatter + all-gather", 1),
                                        ("zero-1-article", "", "ZeRO-1, the article's all-reduce + all-gather", None),
                                        ("zero-2", "ZeroOptimizer", "ZeRO-2 (ZeroOptimizer, stage 2)", 2),
                                        ("zero-3", "FSDP", "ZeRO-3 (FSDP)", 3)):
        mine = parts.ranks(key) if not exercise else parts.value(key, exercise)
        want = 3.0 if stage is None else formula[stage]
        rows.append((label, mine[0] if mine and mine[0]["status"] == "ok" else "not run", want))
    from aisys.parallel.data_parallel.toys import make_stack

    psi = sum(p.numel() for p in make_stack(S.SEED, **S.STACK).parameters())
    console.print(U.zero_table(rows, psi, world))
    console.print("[dim]Stages 1 and 2 move 2Ψ like DP (the article's 3Ψ for ZeRO-1 comes from all-reducing "
                  "first); stage 2 keeps no full gradients; stage 3 gathers the weights twice (3Ψ) and keeps "
                  "1/N of everything.[/]")


def sharded_panel(parts, console: Console, world: int) -> None:
    console.rule("6 · ShardedOptimizer: any torch optimizer, its own step, 1/N of its state")
    parts.show("sharded", "ShardedOptimizer", lambda mine: console.print(U.sharded_table(
        {k: v for k, v in mine[0].items() if k != "status"}, world)))


def fsdp_panel(parts, console: Console, world: int) -> None:
    console.rule("7 · FSDP (ZeRO-3): gather a unit, run it, free it — measured on the heap")
    from aisys.parallel.data_parallel.toys import make_stack, toy_batches, train_single_process

    def draw(mine):
        import torch

        for dtype, info in mine[0].items():
            if not isinstance(info, dict):
                continue
            if all(info["memory"]):                 # gloo frees buffers late: show the quieter step
                rows = min((_unit_rows(dict(step), info["unit_bytes"]) for step in info["memory"]),
                           key=lambda rows: max(r[2] for r in rows))
                console.print(U.fsdp_memory_table(rows, dtype))
                console.print(U.fsdp_peak_bars(max(r[2] for r in rows), info["model_bytes"], max(info["unit_bytes"])))
            _, losses = train_single_process(make_stack(S.SEED, **S.FSDP_STACK), toy_batches(S.SEED + 1, 4, 4 * world),
                                             0.01, None if dtype == "float32" else getattr(torch, dtype), world)
            console.print(f"{dtype}: rank 0's loss per step " + ", ".join(f"{v:.5f}" for v in info["losses"])
                          + "; one process with the same casts: " + ", ".join(f"{v[0]:.5f}" for v in losses))
            console.print("  traffic of the last step: " + _sequence(info["events"]))
    parts.show("fsdp", "FSDP", draw)


def _unit_rows(at: dict, unit_bytes: list[int]) -> list[list]:
    """[unit, full bytes, bytes live while it ran beyond activations, bytes kept after it]."""
    rows, kept = [], 0
    for u, full in enumerate(unit_bytes):
        before, after = at[f"fwd-before:{u}"], at[f"fwd-after:{u}"]
        rows.append([u, full, max(at[f"fwd-gathered:{u}"], at[f"fwd-computed:{u}"]) - kept, after - before])
        kept += max(0, after - before)
    return rows


def _sequence(events: list) -> str:
    """'AG F0 · AG F1 · … | B3 AG RS · B2 AG RS …': collectives between the units' hooks."""
    out = []
    for what, arg, _ in events:
        if what == "fwd-before":
            out.append(f"F{arg}")
        elif what == "bwd-before":
            out.append(f"B{arg}")
        elif what == "backward":
            out.append("|")
        elif what in ("ag", "rs", "ar"):
            out.append(what.upper())
    return " ".join(out)


def scaler_panel(parts, console: Console, world: int) -> None:
    console.rule("8 · mixed precision: dynamic loss scaling (fp16 holds 5.96e-8 … 65504)")

    def draw(mine):
        from aisys.grading.spec import Case
        from aisys.parallel.data_parallel.check_precision import grad_scaler_truth

        info = mine[0]
        stepped, scales, _ = grad_scaler_truth(Case(**info["case"]))
        console.print(U.scaler_table(info["steps"], list(zip(stepped, scales)), world, world - 1))
        console.print(U.underflow_table(info["underflow"]))
        console.print("[dim]Without scaling, gradients below fp16's range become 0 and their update is lost; "
                      "scaled by S they survive, and unscaling in fp32 restores them.[/]")
    parts.show("scaler", "DynamicLossScaler", draw)
