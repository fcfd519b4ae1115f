"""What each rank does for `aisys lab run data-parallel`; the parent (demo.py) draws it.

One launch runs every part. A part runs the student's code in a scope (the requested
world, or four ranks where a panel needs them) and returns plain data; a stub becomes
{"status": "not_implemented"}, a failure {"status": "error", "message": <the student's frames>} — and
a collective that waited past the group timeout is named as a likely deadlock in that
student function. After a failure the ranks agree through the rendezvous store (never a
collective, which the failure may have left out of step) and rebuild the process group,
so the next part still runs. Under torchrun there is no side channel: after a failure the
ranks stop and global rank 0 reports what it has.
"""
from __future__ import annotations

from pathlib import Path

from aisys.parallel.data_parallel import demo_parts as P
from aisys.parallel.data_parallel import demo_parts_sharding as S

PS_WORLD = 4            # one server and three workers: something to race


def parts(world: int, launched: int) -> list[tuple[str, str, object, int]]:
    """(key, exercise, body, ranks it runs on) in the order the ranks run them."""
    ring_worlds = sorted({w for w in (2, 4, world) if w <= launched})
    return [(f"ring{w}", "ring_all_reduce", P.ring_part, w) for w in ring_worlds] + [
        ("naive", "NaiveDDP", P.ddp_part, world),
        ("bucketed", "BucketedDDP", lambda cls: P.ddp_part(cls, bucket_cap_mb=P.BUCKET_CAP_MB), world),
        ("zero-dp", "NaiveDDP", S.zero_row_dp, world),
        ("zero-1", "ShardedOptimizer", S.zero_row_sharded, world),
        ("zero-1-article", None, S.zero_row_article, world),
        ("zero-2", "ZeroOptimizer", S.zero_row_stage2, world),
        ("zero-3", "FSDP", S.zero_row_fsdp, world),
        ("sharded", "ShardedOptimizer", S.sharded_part, world),
        ("fsdp", "FSDP", S.fsdp_part, world),
        ("scaler", "DynamicLossScaler", S.scaler_part, world),
        ("ps", "ParameterServer", P.ps_part, min(launched, max(world, PS_WORLD))),
    ]


def _run(student, exercise: str | None, body) -> dict:
    """One part on this rank; a stub or a bug is reported, not raised."""
    from aisys.parallel.sections import guarded

    return guarded(student, lambda: body(student.get(exercise) if exercise else None))


def demo_on_rank(labs_dir: str, world: int) -> dict:
    """Every part on this rank; a dict key → result (rank 0 under torchrun: every rank's)."""
    import time

    from aisys.catalog import find_lab
    from aisys.parallel import context, ranks
    from aisys.parallel.sections import exchange
    from aisys.workspace import Student

    student = Student(find_lab("data-parallel"), Path(labs_dir))
    launched, me = ranks.world_of_launch(), context.rank()
    mine: dict = {"rank": me, "device": str(context.device())}
    for index, (key, exercise, body, size) in enumerate(parts(world, launched)):
        started = time.monotonic()
        with context.scope(size) as member:
            result = _run(student, exercise, body) if member else {"status": "skip"}
        mine[key] = result
        if result["status"] == "error":
            ranks.abandon_group()
        if ranks.base_store() is None:                 # torchrun: no side channel to agree through
            if result["status"] == "error":
                break
            continue
        notes = exchange(f"demo-{index}", me, launched, f"{result['status']} {time.monotonic() - started:.3f}", 60.0)
        if any(note.startswith("error") for note in notes):
            if result["status"] != "error":
                ranks.abandon_group()
            if not ranks.rebuild_group():
                break
    if ranks.base_store() is None and ranks.under_torchrun():
        return _gather_under_torchrun(mine)
    return mine


def _gather_under_torchrun(mine: dict) -> dict:
    """Under torchrun each process returns only to itself: rank 0 collects the others'."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return {"everyone": [mine]}
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return {"everyone": everyone}
