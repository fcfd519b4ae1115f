"""Sections 5-9 of the tensor-parallel demo: sequence parallelism, the embedding splits, torch's
own tensor parallelism beside yours, the communication volume, and dropout's two seeds."""
from __future__ import annotations

from rich.console import Console

from aisys.parallel.tensor_parallel.demo import from_rank
from aisys.ui.attempt import attempt
from aisys.ui.safe import escape
from aisys.ui.tp_tables import embedding_table, error_text, ops_text, sequence_table, versus_table


def _calls(summary: dict) -> int:
    return sum(v["calls"] for v in summary["kinds"].values())


def _bytes(summary: dict) -> int:
    return sum(v["bytes"] for v in summary["kinds"].values())


def show_sequence(console: Console, student, first: dict) -> None:
    console.rule("5 · sequence parallelism: LayerNorm and dropout on 1/N of the tokens")
    blocker = "SequenceParallelMLP" if first["layers"]["ParallelMLP"]["status"] == "ok" else "ParallelMLP"
    result = attempt(console, student, blocker, from_rank(first["sequence"]))
    if result is None:
        return
    tp, sp, world = result["tp"], result["sp"], first["world"]
    if world == 1:
        console.print("one rank: there is no sequence to split (try --nproc 2 or 4).")
        return
    console.print(sequence_table(tp, sp, world))
    activations = sum(sp[p]["wire"] - sp[p]["wire_all_reduce"] for p in ("fwd", "bwd"))
    plain = tp["fwd"]["wire"] + tp["bwd"]["wire"]
    ratio = f"{tp['region'] / sp['region']:.2g}×" if sp["region"] else "—"
    moved = f"{activations / plain:.3g}×" if plain else "— (plain TP sent nothing)"
    console.print(f"measured on rank 0: for the activations the ring moves {moved} plain TP's "
                  "bytes (an all-reduce is a reduce-scatter plus an all-gather), while LayerNorm and dropout keep "
                  f"{ratio} less for backward on {world} ranks — they see seq/{world} tokens. The price: the "
                  "replicated LayerNorm and bias gradients are partial on each rank and get summed.")


def show_embeddings(console: Console, student, first: dict) -> None:
    console.rule("6 · the two embedding splits: by vocabulary (rows) or by columns (hidden)")
    rows = [(name, attempt(console, student, name, from_rank(first["layers"][name])))
            for name in ("VocabParallelEmbedding", "ColumnParallelEmbedding")]
    console.print(embedding_table(rows, first["world"]))
    console.print("[dim]the same memory per rank; the column split sends half the bytes (an all-gather, not an "
                  "all-reduce) and needs no masking, but the vocabulary split is the one that matches a "
                  "vocabulary-parallel output layer and loss.[/]")


def show_versus_torch(console: Console, student, first: dict) -> None:
    console.rule("7 · beside torch: init_device_mesh + parallelize_module (Colwise/Rowwise), loss_parallel")
    theirs = first["torch_block"]
    if theirs["status"] != "ok":
        console.print(f"[red]torch's parallelize_module run failed:[/] {escape(theirs.get('message', ''))}")
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
    console.rule("8 · communication volume of one layer, forward + backward")
    volume = attempt(console, student, "tp_comm_volume", from_rank(first["volume"]))
    theirs = first["torch_block"]
    if volume is None or theirs["status"] != "ok":
        return
    formula = volume["formula"]
    calls = _calls(theirs["fwd"]) + _calls(theirs["bwd"])
    logged = _bytes(theirs["fwd"]) + _bytes(theirs["bwd"])
    ok = formula.get("all_reduces") == calls and formula.get("bytes") == logged
    verdict = "[green]agree[/]" if ok else "[red]disagree[/]"
    if first["world"] == 1:
        verdict = "[dim](one rank: torch sent nothing to compare with)[/]"
    shown = {k: escape(repr(formula.get(k))) for k in ("all_reduces", "bytes", "ring_bytes_per_rank")}
    console.print(f"your tp_comm_volume: {shown['all_reduces']} all-reduces, {shown['bytes']} B (ring: "
                  f"{shown['ring_bytes_per_rank']} B sent per rank) · torch's logged run: {calls} all-reduces, "
                  f"{logged} B → {verdict}")


def _gap(a, b) -> float:
    """max |a − b|; infinite when the shapes differ (a wrong shard is a difference, not a crash)."""
    if a is None or b is None or tuple(a.shape) != tuple(b.shape):
        return float("inf")
    return float((a.float() - b.float()).abs().max()) if a.numel() else 0.0


def show_dropout(console: Console, world: int, tokens: int = 4, features: int = 16, seed: int = 1234) -> None:
    """What each rank's dropout mask looks like under the two seeding rules (no ranks needed:
    a mask is a function of the generator's seed)."""
    import torch
    from rich.text import Text

    from aisys.ui.tp_layout import rank_colour

    console.rule("9 · dropout: one seed outside the TP region, one per rank inside")
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
                  "both generators and switches between them. With sequence parallelism the dropout after the "
                  "reduce-scatter sees different tokens on each rank, so it draws from the per-rank one.")
