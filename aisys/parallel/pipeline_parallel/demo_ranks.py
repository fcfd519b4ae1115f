"""What every rank measures for `aisys lab run pipeline-parallel`; plain data back to the parent.

One model (2 blocks per stage, float32), one batch, four ways to train a step: the whole model
in one process (rank 0 alone), `naive_model_parallel`, and `PipelineRunner` with a GPipe and a
1F1B schedule — the student's schedules when they are written, the bench's otherwise. Each is
timed (a barrier before every step; the step time is the slowest rank's), and a `StageWatch`
counts the micro-batches each stage keeps alive. A stub reports `not_implemented` on every rank
at the same point, so the others carry on; a bug on one rank can leave its neighbours waiting
until the group timeout.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from aisys.parallel.sections import guarded  # noqa: E402 - light

SEED = 9
REPEATS = 3


def sizes(world: int) -> dict:
    """Big enough that a stage computes for longer than a message takes; m = 2p micro-batches."""
    n_micro = 2 * world
    return {"seed": SEED, "partition": [2] * world, "d_in": 512, "hidden": 512, "rows": 64 * n_micro,
            "n_micro": n_micro, "loss": "mse", "lr": 0.01}


def timed(step: Callable[[], Any]) -> list[float]:
    """Wall time of REPEATS steps after one warm-up, each started together on every rank."""
    import torch.distributed as dist

    step()
    times = []
    for _ in range(REPEATS):
        dist.barrier()
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def single_process(spec: dict, batch: tuple, device) -> dict:
    """Rank 0 trains the whole model on the whole batch (the others wait at the barriers)."""
    import torch
    from torch import nn

    from aisys.parallel.pipeline_parallel.model import loss_fn, make_layers

    model = nn.Sequential(*make_layers(spec["seed"], sum(spec["partition"]), spec["d_in"], spec["hidden"],
                                       torch.float32)).to(device)
    inputs, targets = batch

    def step():
        model.zero_grad()
        loss_fn(spec["loss"])(model(inputs), targets).backward()
    return {"times": timed(step)}


def idle(_spec: dict, _batch: tuple, _device) -> dict:
    """What the ranks other than 0 do while rank 0 times the single process: meet the barriers."""
    return {"times": timed(lambda: None)}


def naive_part(student, spec: dict, batch: tuple, stage) -> dict:
    from aisys.parallel.commlog import comm_log
    from aisys.parallel.pipeline_parallel.model import loss_fn

    fn = student.get("naive_model_parallel")
    inputs, targets = batch
    with comm_log().capture() as recs:
        times = timed(lambda: fn(stage, inputs, targets, spec["hidden"], loss_fn(spec["loss"])))
    return {"times": times, "peak": 1, "bytes": _p2p_bytes(recs) // (REPEATS + 1)}


def runner_part(student, spec: dict, batch: tuple, stage, schedule: list, first_stage: bool) -> dict:
    from aisys.parallel.commlog import comm_log
    from aisys.parallel.pipeline_parallel.model import loss_fn
    from aisys.parallel.pipeline_parallel.tracker import StageWatch

    runner = student.get("PipelineRunner")(stage, schedule, spec["hidden"], loss_fn(spec["loss"]))
    inputs, targets = batch
    with comm_log().capture() as recs:
        times = timed(lambda: runner.step(inputs, targets))
    watch = StageWatch(stage, first_stage)
    runner.step(inputs, targets)
    seen = watch.end_step()
    watch.close()
    return {"times": times, "peak": seen["peak"], "bytes": _p2p_bytes(recs) // (REPEATS + 1)}


def _p2p_bytes(recs: list[dict]) -> int:
    return sum(int(r["bytes"]) for r in recs if r["op"] == "send")


def schedules(student, world: int, n_micro: int) -> dict:
    """The student's two schedules if they run and are sound, else the bench's (and why)."""
    from aisys.parallel.pipeline_parallel import canonical
    from aisys.parallel.pipeline_parallel.simulate import ScheduleProblem, completeness, simulate, steps_of

    out = {}
    for key, name, fallback in (("gpipe", "gpipe_schedule", canonical.gpipe),
                                ("1f1b", "one_f_one_b_schedule", canonical.one_f_one_b)):
        got = guarded(student, lambda n=name: {"schedule": steps_of(student.get(n)(world, n_micro))})
        if got["status"] == "ok":
            try:
                problem = completeness(got["schedule"], n_micro) if len(got["schedule"]) == world else "wrong length"
                if not problem:
                    simulate(got["schedule"])
            except (ScheduleProblem, TypeError, ValueError, IndexError) as err:
                problem = str(err)
            if not problem:
                out[key] = {"schedule": got["schedule"], "source": "yours"}
                continue
        out[key] = {"schedule": fallback(world, n_micro), "source": "bench"}
    return out


def collect(labs_dir: str) -> list[dict]:
    """Every measurement on this rank; returns all ranks' results (all-gathered)."""
    import torch
    import torch.distributed as dist

    from aisys.catalog import find_lab
    from aisys.parallel import context
    from aisys.parallel.pipeline_parallel.model import batches, stage_module
    from aisys.workspace import Student

    torch.manual_seed(SEED)
    student = Student(find_lab("pipeline-parallel"), Path(labs_dir))
    rank, world, device = context.rank(), context.world_size(), context.device()
    spec = sizes(world)
    batch = tuple(t.to(device) for t in batches(spec, 1, torch.float32)[0])
    stage = stage_module(spec, rank, torch.float32).to(device)
    mine: dict = {"rank": rank, "world": world, "device": str(device), "backend": context.backend(), "sizes": spec}
    mine["single"] = (single_process if rank == 0 else idle)(spec, batch, device)
    mine["naive"] = guarded(student, lambda: naive_part(student, spec, batch, stage))
    plans = schedules(student, world, spec["n_micro"])
    for key, plan in plans.items():
        mine[key] = guarded(student, lambda p=plan: runner_part(student, spec, batch, stage, p["schedule"],
                                                                rank == 0))
        mine[key]["source"] = plan["source"]
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return everyone
