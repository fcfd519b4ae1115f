"""`aisys lab run tensor-parallel [--nproc N]`: see Megatron's layers at work on N real ranks.

1. the seven mappings and when they talk;
2. where every weight lives (a grid per weight, one digit per rank, measured from your shards);
3. what each layer communicates, and how far it is from the dense layer;
4. why the MLP splits columns first (GeLU before the sum is wrong);
5. sequence parallelism: the same bytes as plain TP, 1/N of LayerNorm's and dropout's memory;
6. the two embedding splits side by side;
7. your block and loss beside torch's own DeviceMesh + parallelize_module / loss_parallel;
8. the communication volume: your formula against the CommLog;
9. dropout: one seed for replicated activations, one per rank inside the TP region.

Every string from student code or torch is shown as plain text (`aisys.ui.safe`). When your
code raised on some rank the demo still draws the rest, then exits with status 1.
"""
from __future__ import annotations



from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel

from aisys.parallel.sections import from_rank
from aisys.ui.attempt import attempt
from aisys.ui.safe import safe_text
from aisys.ui.tp_layout import legend, qkv_row_labels, shard_grid
from aisys.ui.tp_tables import error_text, layer_table, operator_table, ops_text

OPERATORS = (("copy_to_tp", "identity", "all-reduce"),
             ("reduce_from_tp", "all-reduce", "identity"),
             ("gather_from_tp", "all-gather, dim -1", "split, dim -1"),
             ("scatter_to_tp", "split, dim -1", "all-gather, dim -1"),
             ("scatter_to_sp", "split, seq", "all-gather, seq"),
             ("gather_from_sp", "all-gather, seq", "reduce-scatter, seq"),
             ("reduce_scatter_to_sp", "reduce-scatter, seq", "all-gather, seq"))


def run(student, console: Console, options) -> None:
    import torch.distributed.tensor.parallel  # noqa: F401 - imported once here, inherited by forked ranks

    from aisys.errors import StudentCodeError
    from aisys.parallel.launch import LaunchError, launch, under_torchrun
    from aisys.parallel.tensor_parallel import demo_panels as P
    from aisys.parallel.tensor_parallel.demo_ranks import collect

    if not under_torchrun():
        console.print(f"launching {options.nproc} ranks (backend {options.backend}, device {options.device}) …")
    try:
        ranks = launch(collect, options.nproc, student.lab.slug, str(student.labs_dir),
                       backend=options.backend, device=options.device, timeout=30.0)
    except LaunchError as err:
        console.print(Panel(safe_text(str(err)[-4000:]), title="the ranks failed", border_style="red"))
        raise StudentCodeError("the demo's ranks failed (see above)") from None
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
    P.show_sequence(console, student, first)
    P.show_embeddings(console, student, first)
    P.show_versus_torch(console, student, first)
    P.show_volume(console, student, first)
    P.show_dropout(console, first["world"])
    failed = failures(first)
    if failed:
        raise StudentCodeError(f"your code raised on some rank in: {', '.join(failed)} (shown above)")


def failures(first: dict) -> list[str]:
    """The sections where student code raised (on any rank: the ranks agreed on it)."""
    sections = {**first["operators"], **first["layers"]}
    sections.update({"the sequence-parallel sublayer": first["sequence"], "your block": first["student_block"],
                     "your loss": first["student_loss"], "tp_comm_volume": first["volume"]})
    return [name for name, section in sections.items() if section.get("status") == "error"]


def pooled(mine: dict) -> list[dict] | None:
    """Under torchrun: every rank's result on rank 0 (None on the other ranks, which stay quiet)."""
    import torch.distributed as dist

    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return everyone if dist.get_rank() == 0 else None


def show_operators(console: Console, student, first: dict) -> None:
    console.rule("1 · the mappings: f, g, the gathers and the scatters")
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
    for name in ("ParallelAttention", *mlp_parts, "VocabParallelEmbedding", "ColumnParallelEmbedding"):
        if attempt(console, student, name, from_rank(layers[name])) is None:
            continue
        for title, grid in layers[name]["grids"].items():
            owned = [r["layers"][name].get("grids", {}).get(title, {}).get("owned", []) for r in ranks]
            labels = qkv_row_labels(s["hidden"], s["heads"]) if "in_proj" in title else None
            panels.append(shard_grid(title, grid["shape"], grid["axis"], owned, labels))
    if panels:
        console.print(Columns(panels))
        console.print(legend(len(ranks)))
        console.print("[dim]rows are output features, columns input features (torch's Linear layout; an "
                      "embedding's rows are token ids). The QKV weight is stored [Wq; Wk; Wv]: each rank owns the "
                      "q, k and v rows of its own heads.[/]")


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
