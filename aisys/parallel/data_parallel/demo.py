"""`aisys lab run data-parallel`: shards, ring traffic, buckets and overlap, ZeRO, the PS.

The rank-side work is in demo_ranks.py (one launch for everything); this file draws it.
Under torchrun every process runs the ranks' part and global rank 0 draws.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from rich.console import Console
from rich.table import Table

from aisys.labrun import DemoOptions
from aisys.parallel.data_parallel import demo_ranks as R
from aisys.ui.attempt import attempt
from aisys.ui.gantt import gantt
from aisys.ui.parallel_bars import bars
from aisys.workspace import Student


def run(student: Student, console: Console, options: DemoOptions) -> None:
    import io
    import os

    from aisys.parallel.launch import LaunchError, launch, under_torchrun

    world = options.nproc
    speaker = console
    if under_torchrun():            # every process runs this; only global rank 0 draws
        world = int(os.environ["WORLD_SIZE"])
        if os.environ["RANK"] != "0":
            console = Console(file=io.StringIO())
    shards(student, console, world)
    memory(student, console)
    how = "joining the torchrun group" if under_torchrun() else "launching"
    console.rule(f"{how}: {world} ranks (backend {options.backend}, device {options.device})")
    try:
        gathered = launch(R.demo_on_rank, world, str(student.labs_dir), backend=options.backend,
                          device=options.device, timeout=30.0)
    except LaunchError as err:
        console.print(f"[red]the ranks failed:[/]\n{err}")
        return
    if console is not speaker:
        speaker.print(f"rank {os.environ['RANK']}: done (rank 0 draws the results)")
        return
    results = gathered[0]
    console.print(f"{len(results)} ranks on {', '.join(sorted({r['device'] for r in results}))}")
    ring(student, console, results, world)
    ddp(student, console, results)
    zero(student, console, results, world)
    parameter_server(student, console, results)


def _show(console: Console, student: Student, name: str, part: dict, draw) -> None:
    """Draw a rank-side part through `attempt`, so a stub or an error prints the usual way."""
    def action(_):
        if part["status"] == "stub":
            raise NotImplementedError
        if part["status"] == "error":
            raise RuntimeError(f"on the ranks:\n{part['trace']}")
        draw()
    attempt(console, student, name, action)


def shards(student: Student, console: Console, world: int) -> None:
    console.rule("1 · who reads what: shard_indices (DistributedSampler's rule)")

    def table(fn) -> Table:
        out = Table(title=f"n=10 samples on {world} ranks (padding repeats the first ones)")
        out.add_column("rank")
        for title in ("in order", "shuffled, epoch 0", "shuffled, epoch 1", "drop_last"):
            out.add_column(title)
        for r in range(world):
            out.add_row(str(r), *(str(fn(10, world, r, shuffle=s, seed=0, epoch=e, drop_last=d))
                                  for s, e, d in ((False, 0, False), (True, 0, False), (True, 1, False),
                                                  (True, 0, True))))
        return out
    shown = attempt(console, student, "shard_indices", table)
    if shown is not None:
        console.print(shown)


def memory(student: Student, console: Console) -> None:
    console.rule("2 · ZeRO memory per device, Ψ = 7.5 B parameters, N_d = 64 (paper: 120 / 31.4 / 16.6 / 1.9 GB)")
    names = ("stage 0 (DP)", "stage 1 (P_os)", "stage 2 (P_os+g)", "stage 3 (P_os+g+p)")
    gb = attempt(console, student, "zero_memory", lambda fn: [float(fn(7.5e9, 64, s)) for s in range(4)])
    comm = attempt(console, student, "zero_comm", lambda fn: [float(fn(1.0, s)) for s in range(4)])
    if gb is not None:
        console.print(bars([(n, v) for n, v in zip(names, gb)], unit="GB"))
    if comm is not None:
        console.print("communication per step and rank: " + ", ".join(f"{n.split(' (')[0]}: {c:g}Ψ"
                                                                        for n, c in zip(names, comm)))


def ring(student: Student, console: Console, results: list, world: int) -> None:
    console.rule("3 · ring all-reduce: reduce-scatter + all-gather over send/recv")

    def draw():
        table = Table(title="bytes each rank sent (formula: 2(N−1)/N · n · 4 bytes)")
        for col in ("rank", "correct sum", "messages", "measured bytes", "formula bytes"):
            table.add_column(col)
        for r, res in enumerate(results):
            part = res["ring"]
            formula = 2 * (world - 1) * part["n"] * 4 // world
            table.add_row(str(r), "yes" if part["ok"] else "[red]no[/]", str(part["messages"]),
                          f"{part['sent']:,}", f"{formula:,}")
        console.print(table)
    _show(console, student, "ring_all_reduce", results[0]["ring"], draw)


def ddp(student: Student, console: Console, results: list) -> None:
    from aisys.parallel.data_parallel.toys import make_toy, single_process_losses

    console.rule("4 · DDP: one process per rank, gradients averaged, replicas stay equal")
    reference_model = make_toy(R.SEED, hidden=R.HIDDEN)
    reference = single_process_losses(reference_model, R.SEED + 1, R.DDP_STEPS, R.BATCH_PER_RANK * len(results))
    final = {n: t.detach() for n, t in reference_model.state_dict().items()}
    for key, name in (("naive", "NaiveDDP"), ("bucketed", "BucketedDDP")):
        def draw(key=key, name=name):
            first = results[0][key]
            table = Table(title=f"{name}: loss per step vs one process on the full batch")
            table.add_column("step")
            table.add_column(f"{name} (mean over ranks)")
            table.add_column("one process")
            for i, (a, b) in enumerate(zip(first["losses"], reference)):
                table.add_row(str(i), f"{a:.6f}", f"{b:.6f}")
            console.print(table)
            diff = max(float((res[key]["params"][n] - t).abs().max()) for res in results for n, t in final.items())
            console.print(f"largest parameter difference from one process, over all ranks: {diff:.2e}")
            if first["buckets"]:
                buckets = Table(title=f"buckets (reverse parameter order, cap {R.BUCKET_CAP_MB} MiB)")
                buckets.add_column("bucket")
                buckets.add_column("parameters")
                for i, names in enumerate(first["buckets"]):
                    buckets.add_row(str(i), ", ".join(names))
                console.print(buckets)
            slots = [SimpleNamespace(op=op, worker={"all_reduce": "network", "wait": "waiting"}.get(op.split()[0], "compute"), start=s * 1e3, end=e * 1e3)
                     for op, s, e in first["spans"]]
            workers = list(dict.fromkeys(s.worker for s in slots))
            console.print(gantt(SimpleNamespace(workers=workers, slots=slots),
                                title=f"{name}, last step on rank 0: backward vs all-reduce", unit="ms"))
        _show(console, student, name, results[0][key], draw)
    console.print("[dim]Bucketed: all-reduces start inside backward (overlap); naive: only after it.[/]")


def zero(student: Student, console: Console, results: list, world: int) -> None:
    from aisys.parallel.data_parallel.toys import make_toy, toy_batches, train_single_process_adam

    console.rule("5 · ZeroOptimizer: Adam state sharded over the ranks")

    def draw():
        model = train_single_process_adam(make_toy(R.SEED, hidden=64), toy_batches(R.SEED + 2, 3, 8 * world), 0.01)
        truth = model.state_dict()
        table = Table(title="optimizer elements held per rank (unsharded Adam: 2 × parameters)")
        for col in ("stage", "parameters", "unsharded state", *(f"rank {r}" for r in range(world)), "max diff vs Adam"):
            table.add_column(col)
        for stage in ("stage1", "stage2"):
            parts = [res["zero"][stage] for res in results]
            diff = max(float((p["params"][n] - t).abs().max()) for p in parts for n, t in truth.items())
            table.add_row(stage, str(parts[0]["total"]), str(2 * parts[0]["total"]),
                          *(str(p["held"]) for p in parts), f"{diff:.1e}")
        console.print(table)
    _show(console, student, "ZeroOptimizer", results[0]["zero"], draw)


def parameter_server(student: Student, console: Console, results: list) -> None:
    from aisys.parallel.data_parallel.check_ps import quadratics

    console.rule("6 · parameter server: rank 0 serves, the others push gradients and pull parameters")

    def draw():
        problems = quadratics(R.SEED, max(1, len(results) - 1))
        optimum = np.linalg.solve(sum(a for a, _ in problems), sum(a @ c for a, c in problems))
        table = Table(title="distance to the optimum (relative)")
        table.add_column("mode")
        table.add_column("error")
        for mode, final in results[0]["ps"].items():
            if mode == "status":
                continue
            err = float(np.linalg.norm(np.asarray(final) - optimum) / np.linalg.norm(optimum))
            table.add_row(mode, f"{err:.2e}" + ("  [red]diverged: step too large for stale gradients[/]"
                                                  if err > 1 else ""))
        console.print(table)
    _show(console, student, "ParameterServer", results[0]["ps"], draw)
