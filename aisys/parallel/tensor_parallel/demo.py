"""`aisys lab run tensor-parallel [--nproc N]`: see Megatron's layers at work on N real ranks.

1. the three conjugate operators and when they talk;
2. where every weight lives (a grid per weight, one colour per rank, measured from your shards);
3. what each layer communicates, and how far it is from the dense layer;
4. why the MLP splits columns first (GeLU before the sum is wrong);
5. your block and loss beside torch's own DeviceMesh + parallelize_module / loss_parallel;
6. the communication volume: your formula against the CommLog;
7. dropout: one seed for replicated activations, one per rank inside the TP region.
"""
from __future__ import annotations

from typing import Any, Callable

from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel

from aisys.ui.attempt import attempt
from aisys.ui.tp_layout import legend, qkv_row_labels, shard_grid
from aisys.ui.tp_tables import error_text, layer_table, operator_table, ops_text, versus_table

OPERATORS = (("copy_to_tp", "identity", "all-reduce (sum)"),
             ("reduce_from_tp", "all-reduce (sum)", "identity"),
             ("gather_from_tp", "all-gather (concat)", "split (own slice)"))


class RankFailure(RuntimeError):
    """An exercise raised on a rank; the message is the student's own traceback."""


def from_rank(section: dict) -> Callable[[Any], dict]:
    """An `attempt` action that replays a rank's outcome in the parent."""
    def action(_student_object: Any) -> dict:
        if section["status"] == "not_implemented":
            raise NotImplementedError
        if section["status"] == "error":
            raise RankFailure(section.get("message", "failed on a rank"))
        return section
    return action


def run(student, console: Console, options) -> None:
    import torch.distributed.tensor.parallel  # noqa: F401 - imported once here, inherited by forked ranks

    from aisys.parallel.launch import LaunchError, launch, under_torchrun
    from aisys.parallel.tensor_parallel.demo_ranks import collect

    if not under_torchrun():
        console.print(f"launching {options.nproc} ranks (backend {options.backend}, device {options.device}) …")
    try:
        ranks = launch(collect, options.nproc, student.lab.slug, str(student.labs_dir),
                       backend=options.backend, device=options.device, timeout=30.0)
    except LaunchError as err:
        console.print(Panel(str(err)[-4000:], title="[red]the ranks failed", border_style="red"))
        return
    if under_torchrun():        # each torchrun process got its own rank's result: pool them on rank 0
        ranks = pooled(ranks[0])
        if ranks is None:
            return
    first = ranks[0]
    s = first["sizes"]
    console.print(f"{first['world']} ranks · backend {first['backend']} · device {first['device']} · "
                  f"batch {s['batch']} seq {s['seq']} hidden {s['hidden']} heads {s['heads']} "
                  f"ffn {s['ffn']} vocab {s['vocab']}")
    if first["world"] == 1:
        console.print("[yellow]one rank: nothing is split, and torch skips its collectives (yours still run, "
                      "as no-ops). Try --nproc 2 or 4.[/]")
    show_operators(console, student, first)
    show_layouts(console, student, ranks)
    show_layers(console, student, first)
    show_order(console, student, first)
    show_versus_torch(console, student, first)
    show_volume(console, student, first)
    show_dropout(console, first["world"])


def pooled(mine: dict) -> list[dict] | None:
    """Under torchrun: every rank's result on rank 0 (None on the other ranks, which stay quiet)."""
    import torch.distributed as dist

    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return everyone if dist.get_rank() == 0 else None


def show_operators(console: Console, student, first: dict) -> None:
    console.rule("1 · f, g and the gather")
    rows = []
    for name, fwd, bwd in OPERATORS:
        rows.append((name, fwd, bwd, attempt(console, student, name, from_rank(first["operators"][name]))))
    console.print(operator_table(rows))


def show_layouts(console: Console, student, ranks: list[dict]) -> None:
    console.rule("2 · where the weights live")
    s = ranks[0]["sizes"]
    panels = []
    layers = ranks[0]["layers"]
    mlp_parts = ("ParallelMLP",) if layers["ParallelMLP"]["status"] == "ok" else \
        ("ColumnParallelLinear", "RowParallelLinear")      # the MLP's two halves on their own
    for name in ("ParallelAttention", *mlp_parts, "VocabParallelEmbedding"):
        if attempt(console, student, name, from_rank(layers[name])) is None:
            continue
        for title, grid in ranks[0]["layers"][name]["grids"].items():
            owned = [r["layers"][name].get("grids", {}).get(title, {}).get("owned", []) for r in ranks]
            labels = qkv_row_labels(s["hidden"], s["heads"]) if "in_proj" in title else None
            panels.append(shard_grid(title, grid["shape"], grid["axis"], owned, labels))
    if panels:
        console.print(Columns(panels))
        console.print(legend(len(ranks)))
        console.print("[dim]rows are output features, columns input features (torch's Linear layout). The QKV "
                      "weight is stored [Wq; Wk; Wv]: each rank owns the q, k and v rows of its own heads.[/]")


def show_layers(console: Console, student, first: dict) -> None:
    console.rule("3 · what each layer says on the wire")
    rows = [(name, attempt(console, student, name, from_rank(res))) for name, res in first["layers"].items()]
    console.print(layer_table(rows))


def show_order(console: Console, student, first: dict) -> None:
    """Megatron's reason for column-then-row, computed here on one device."""
    import torch

    from aisys.parallel.tensor_parallel import dense as D
    from aisys.parallel.tensor_parallel.demo_ranks import SEED

    console.rule("4 · why the MLP splits columns first")
    s = first["sizes"]
    _, fc1, fc2 = D.block_parts(SEED, s["hidden"], s["heads"], s["ffn"])
    x = D.seeded(SEED + 40, s["batch"], s["seq"], s["hidden"], dtype=torch.float32)
    with torch.no_grad():
        wrong = (D.gelu_before_sum(fc1, fc2, x, first["world"]) - D.DenseMLP(fc1, fc2)(x)).abs().max().item()
    console.print(f"split fc1 by rows and apply GeLU before the all-reduce: max |Δ| vs dense = "
                  f"{error_text(wrong)} — GeLU(a + b) ≠ GeLU(a) + GeLU(b).")
    mlp = attempt(console, student, "ParallelMLP", from_rank(first["layers"]["ParallelMLP"]))
    if mlp is not None:
        console.print(f"your ParallelMLP (column split, GeLU on whole columns, then the row split): "
                      f"max |Δ| = {error_text(mlp['diffs']['output'])}, with {ops_text(mlp['fwd'])} "
                      f"forward and {ops_text(mlp['bwd'])} backward.")


def show_versus_torch(console: Console, student, first: dict) -> None:
    console.rule("5 · beside torch: init_device_mesh + parallelize_module (Colwise/Rowwise), loss_parallel")
    theirs = first["torch_block"]
    if theirs["status"] != "ok":
        console.print(f"[red]torch's parallelize_module run failed:[/] {theirs.get('message', '')}")
        return
    blocker = "ParallelAttention" if first["layers"]["ParallelAttention"]["status"] != "ok" else "ParallelMLP"
    mine = attempt(console, student, blocker, from_rank(first["student_block"]))
    rows = [("forward collectives", ops_text(mine["fwd"]) if mine else "—", ops_text(theirs["fwd"])),
            ("backward collectives", ops_text(mine["bwd"]) if mine else "—", ops_text(theirs["bwd"]))]
    if mine:
        rows += [("output max |Δ| vs dense", error_text(_gap(mine["out"], theirs["dense_out"])),
                  error_text(_gap(theirs["out"], theirs["dense_out"]))),
                 ("input grad max |Δ| vs dense", error_text(_gap(mine["x_grad"], theirs["dense_x_grad"])),
                  error_text(_gap(theirs["x_grad"], theirs["dense_x_grad"]))),
                 ("your output vs torch's", error_text(_gap(mine["out"], theirs["out"])), ""),
                 ("rank 0's shards vs torch's", ", ".join(
                     f"{k} {'[green]same[/]' if _gap(v, theirs['shards'][k]) == 0 else '[red]differ[/]'}"
                     for k, v in mine["shards"].items()), "")]
    console.print(versus_table(rows, "one transformer block (attention + MLP, residuals), rank 0"))
    ours, torch_loss = first["student_loss"], first["torch_loss"]
    loss = attempt(console, student, "vocab_parallel_cross_entropy", from_rank(ours))
    if torch_loss["status"] == "ok":
        console.print(versus_table([
            ("forward collectives", ops_text(loss["fwd"]) if loss else "—", ops_text(torch_loss["fwd"])),
            ("loss max |Δ| vs F.cross_entropy", error_text(_gap(loss["loss"], torch_loss["dense"])) if loss else "—",
             error_text(_gap(torch_loss["loss"], torch_loss["dense"])))],
            "vocabulary-parallel cross entropy (no logits gathered), rank 0"))


def show_volume(console: Console, student, first: dict) -> None:
    console.rule("6 · communication volume of one layer, forward + backward")
    volume = attempt(console, student, "tp_comm_volume", from_rank(first["volume"]))
    theirs = first["torch_block"]
    measured = theirs if theirs["status"] == "ok" else None
    if volume is None or measured is None:
        return
    formula = volume["formula"]
    calls = sum(measured["fwd"]["ops"].values()) + sum(measured["bwd"]["ops"].values())
    logged = measured["fwd"]["bytes"] + measured["bwd"]["bytes"]
    ok = formula.get("all_reduces") == calls and formula.get("bytes") == logged
    verdict = "[green]agree[/]" if ok else "[red]disagree[/]"
    if first["world"] == 1:
        verdict = "[dim](one rank: torch sent nothing to compare with)[/]"
    console.print(f"your tp_comm_volume: {formula.get('all_reduces')} all-reduces, {formula.get('bytes')} B "
                  f"(ring: {formula.get('ring_bytes_per_rank')} B sent per rank) · torch's logged run: "
                  f"{calls} all-reduces, {logged} B → {verdict}")


def _gap(a, b) -> float:
    return float((a.float() - b.float()).abs().max())


def show_dropout(console: Console, world: int, tokens: int = 4, features: int = 16, seed: int = 1234) -> None:
    """What each rank's dropout mask looks like under the two seeding rules (no ranks needed:
    a mask is a function of the generator's seed)."""
    import torch
    from rich.text import Text

    from aisys.ui.tp_layout import rank_colour

    console.rule("7 · dropout: one seed outside the TP region, one per rank inside")
    width = features // world if features % world == 0 else features

    def mask(s: int, cols: int) -> torch.Tensor:
        return torch.rand(tokens, cols, generator=torch.Generator().manual_seed(s)) > 0.5

    def picture(title: str, seeds: list[int]) -> Text:
        blocks = [mask(s, width) for s in seeds]
        text = Text(f"{title}\n")
        for t in range(tokens):
            for r, block in enumerate(blocks):
                text.append("".join("■" if keep else "·" for keep in block[t].tolist()), style=rank_colour(r))
                text.append(" ")
            text.append("\n")
        return text

    console.print(picture("inside the TP region, the same seed on every rank — every shard drops the same "
                          "columns (correlated, not the dense model's dropout):", [seed] * world))
    console.print(picture("inside, a seed per rank (Megatron: seed + 2718 + rank) — independent masks, like "
                          "one dense mask over all columns:", [seed + 2718 + r for r in range(world)]))
    console.print("outside the region (replicated activations, e.g. after g) every rank must drop the *same* "
                  "entries or the copies drift apart: there all ranks draw from one shared seed. Megatron keeps "
                  "both generators and switches between them.")
