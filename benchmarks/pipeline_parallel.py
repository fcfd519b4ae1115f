"""Lab 09: the reference 1F1B runner on 4 real ranks, beside naive model parallelism and torch's own.

Run with `python -m benchmarks.pipeline_parallel [--quick]` (or through `python -m benchmarks`).
Every side gets the same seeded model (8 blocks Linear → tanh, 2 per stage, float32), the same
batch in 8 micro-batches, and trains the same step:

- the reference `PipelineRunner` (solutions/09) with the reference 1F1B and GPipe schedules;
- the reference `naive_model_parallel` (the whole batch, one stage at a time);
- torch's `torch.distributed.pipelining`: a `PipelineStage` per rank run by `Schedule1F1B` and
  `ScheduleGPipe` (gloo on CPU).

Each step starts after a barrier on every rank; a step's time is the slowest rank's, and a row
shows the median over turns taken in rotation (a burst of load hits every side alike). Rows:
1F1B vs naive (what pipelining buys here), 1F1B and GPipe vs torch's schedules, and the
activations stage 0 holds at its peak under 1F1B vs GPipe (p vs m).
"""
from __future__ import annotations

import sys
import time

from benchmarks.common import REPO, Timing, error_row, make_row

WORLD = 4


def shapes(quick: bool) -> dict:
    n_micro = 2 * WORLD
    return {"seed": 5, "partition": [2] * WORLD, "d_in": 256, "hidden": 256, "rows": 32 * n_micro,
            "n_micro": n_micro, "loss": "mse", "lr": 0.01, "repeats": 5 if quick else 15}


def _reference():
    from aisys.catalog import find_lab
    from aisys.workspace import Student

    return Student(find_lab("pipeline-parallel"), REPO / "solutions")


def _torch_step(stage_mod, schedule_cls, spec: dict, batch: tuple):
    """One step of torch.distributed.pipelining on this rank (stage = rank)."""
    import torch
    import torch.nn.functional as F
    from torch.distributed.pipelining import PipelineStage

    from aisys.parallel import context

    rank, world = context.rank(), context.world_size()
    stage = PipelineStage(stage_mod, rank, world, torch.device("cpu"))
    schedule = schedule_cls(stage, n_microbatches=spec["n_micro"], loss_fn=F.mse_loss)
    inputs, targets = batch

    def step():
        stage_mod.zero_grad()
        if rank == 0:
            schedule.step(inputs)
        elif rank == world - 1:
            schedule.step(target=targets, losses=[])
        else:
            schedule.step()
    return step


def rank_bench(quick: bool) -> dict:
    """On every rank: build every side, then time them in turns; peak activations under each schedule."""
    import torch
    import torch.distributed as dist
    from torch.distributed.pipelining import Schedule1F1B, ScheduleGPipe

    from aisys.parallel import context
    from aisys.parallel.pipeline_parallel.model import batches, loss_fn, stage_module
    from aisys.parallel.pipeline_parallel.tracker import StageWatch

    spec, ref = shapes(quick), _reference()
    rank, world = context.rank(), context.world_size()
    batch = batches(spec, 1, torch.float32)[0]
    inputs, targets = batch

    def stage():
        return stage_module(spec, rank, torch.float32)

    schedules = {"ours_1f1b": "one_f_one_b_schedule", "ours_gpipe": "gpipe_schedule"}
    stages = {name: stage() for name in schedules}
    runners = {name: ref.get("PipelineRunner")(stages[name], ref.get(fn)(world, spec["n_micro"]), spec["hidden"],
                                               loss_fn("mse"))
               for name, fn in schedules.items()}
    naive_stage, naive = stage(), ref.get("naive_model_parallel")
    sides = {"ours_1f1b": lambda: runners["ours_1f1b"].step(inputs, targets),
             "ours_gpipe": lambda: runners["ours_gpipe"].step(inputs, targets),
             "naive": lambda: naive(naive_stage, inputs, targets, spec["hidden"], loss_fn("mse")),
             "torch_1f1b": _torch_step(stage(), Schedule1F1B, spec, batch),
             "torch_gpipe": _torch_step(stage(), ScheduleGPipe, spec, batch)}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for turn in range(spec["repeats"] + 1):        # turn 0 warms up (torch infers shapes there)
        for name, step in sides.items():
            dist.barrier()
            start = time.perf_counter()
            step()
            if turn:
                times[name].append(time.perf_counter() - start)
    peaks = {}
    for name in ("ours_1f1b", "ours_gpipe"):
        watch = StageWatch(stages[name], rank == 0)
        runners[name].step(inputs, targets)
        peaks[name] = watch.end_step()["peak"]
        watch.close()
    return {"times": times, "peaks": peaks}


def slowest_rank(results: list[dict], name: str) -> list[float]:
    """Per turn, the slowest rank's time: a pipeline step ends when its last rank is done."""
    return [max(turn) for turn in zip(*(r["times"][name] for r in results))]


def rows_from(results: list[dict], quick: bool) -> list[dict]:
    s = shapes(quick)
    t = {name: Timing(slowest_rank(results, name)) for name in results[0]["times"]}
    size = (f"{sum(s['partition'])} blocks {s['hidden']}×{s['hidden']} fp32, {s['rows']} rows in {s['n_micro']} "
            f"micro-batches, {WORLD} ranks gloo")
    peaks = results[0]["peaks"]
    return [
        make_row("1F1B step (reference PipelineRunner)", None, t["naive"].median, "s", timing=t["ours_1f1b"],
                 reference_name="naive_model_parallel (reference)",
                 note=f"{size}; the formula's best (one device per stage): (m+p−1)/(m·p) = "
                      f"{(s['n_micro'] + WORLD - 1) / (s['n_micro'] * WORLD):.2f}"),
        make_row("1F1B step (reference PipelineRunner)", None, t["torch_1f1b"].median, "s", timing=t["ours_1f1b"],
                 reference_name="torch.distributed.pipelining Schedule1F1B", note=size),
        make_row("GPipe step (reference PipelineRunner)", None, t["torch_gpipe"].median, "s",
                 timing=t["ours_gpipe"], reference_name="torch.distributed.pipelining ScheduleGPipe", note=size),
        make_row("stage 0 peak activations, 1F1B", peaks["ours_1f1b"], peaks["ours_gpipe"], "micro-batches",
                 reference_name="GPipe (same runner)", note=f"p/m = {WORLD}/{s['n_micro']}: 1F1B ∝ p, GPipe ∝ m"),
    ]


def main(quick: bool = False) -> list[dict]:
    """Launch 4 ranks once, return (and print) the rows."""
    from aisys.parallel.launch import launch

    try:
        import torch.distributed.pipelining  # noqa: F401 - imported once here, inherited by forked ranks

        results = launch(rank_bench, WORLD, quick, backend="gloo", device="cpu", timeout=120.0)  # torch's side: CPU
        rows = rows_from(results, quick)
    except Exception as err:  # one error row rather than a crash of the runner
        rows = [error_row("pipeline_parallel", f"{type(err).__name__}: {str(err)[-400:]}")]
    for row in rows:
        print({k: row.get(k) for k in ("name", "value", "reference", "ratio", "unit")})
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import run_standalone

    run_standalone("pipeline_parallel", quick="--quick" in sys.argv)
