"""What each rank does for `aisys lab run data-parallel`; the parent (demo.py) draws it.

Every part runs the student's code on every rank and returns plain data. A stub or a bug
becomes {"status": "stub"} / {"status": "error", ...} so the demo goes on. Results are
all-gathered, so under torchrun global rank 0 can draw the whole picture too.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

SEED = 2024
DDP_STEPS = 4
HIDDEN = 192          # big enough for several buckets and a visible timeline
BUCKET_CAP_MB = 0.002
BATCH_PER_RANK = 32


def _part(student, name: str, body) -> dict:
    """Run one exercise's part on this rank; a stub or a bug is reported, not raised."""
    try:
        return {"status": "ok", **body(student.get(name))}
    except NotImplementedError:
        return {"status": "stub"}
    except Exception as err:  # the student's bug: keep its traceback for the parent
        from aisys.grading.execute import student_traceback

        return {"status": "error", "trace": student_traceback(err, student) or traceback.format_exc(limit=-3)}


def ring_part(ring_all_reduce) -> dict:
    import torch

    from aisys.parallel import comm, context

    n = 1 << 16
    tensor = torch.full((n,), float(context.rank() + 1), device=context.device())
    with comm.comm_log().capture() as records:
        ring_all_reduce(tensor)
    world = context.world_size()
    return {"n": n, "ok": bool(torch.all(tensor == world * (world + 1) / 2).item()),
            "sent": sum(r["bytes"] for r in records if r["op"] == "send"),
            "messages": sum(r["op"] == "send" for r in records)}


def _size(nbytes: int) -> str:
    """Bytes as a short label: '512 B', '6 KiB' (a bias all-reduce is under 1 KiB)."""
    return f"{nbytes} B" if nbytes < 1024 else f"{nbytes / 1024:.3g} KiB"


def ddp_part(cls, **kwargs) -> dict:
    import torch.nn.functional as F

    from aisys.parallel import comm, context
    from aisys.parallel.data_parallel.toys import MomentumSGD, make_toy, shard, toy_batches

    rank, world, dev = context.rank(), context.world_size(), context.device()
    model = make_toy(SEED + 7919 * rank, hidden=HIDDEN).to(dev)
    ddp = cls(model, **kwargs)
    opt = MomentumSGD(model.parameters(), lr=0.05)
    losses, spans = [], []
    for batch in toy_batches(SEED + 1, DDP_STEPS, BATCH_PER_RANK * world):
        x, y = (t.to(dev) for t in shard(batch, rank, world))
        opt.zero_grad()
        with comm.comm_log().capture() as records:
            t0 = time.perf_counter()
            loss = F.mse_loss(ddp(x), y)
            loss.backward()
            t1 = time.perf_counter()
            ddp.sync_gradients()
            t2 = time.perf_counter()
        opt.step()
        spans = [("forward+backward", 0.0, t1 - t0)] + [
            (f"all_reduce {_size(r['bytes'])}", r["start"] - t0, (r["end"] or t2) - t0)
            for r in records if r["op"] == "all_reduce" and r["bytes"]] + [("wait (sync_gradients)", t1 - t0, t2 - t0)]
        mean = loss.detach().clone()
        comm.all_reduce(mean, op="avg")
        losses.append(float(mean))
    names = {id(p): n for n, p in model.named_parameters()}
    buckets = [[names.get(id(p), "?") for p in b] for b in getattr(ddp, "buckets", [])]
    return {"losses": losses, "spans": spans, "buckets": buckets,
            "params": {n: t.detach().cpu() for n, t in model.state_dict().items()}}


def zero_part(cls) -> dict:
    import torch.nn.functional as F

    from aisys.parallel import context
    from aisys.parallel.data_parallel.check_zero import held_numel
    from aisys.parallel.data_parallel.toys import make_toy, shard, toy_batches

    out = {}
    for stage in (1, 2):
        model = make_toy(SEED, hidden=64)
        opt = cls(model.parameters(), stage=stage, lr=0.01)
        for batch in toy_batches(SEED + 2, 3, 8 * context.world_size()):
            x, y = shard(batch, context.rank(), context.world_size())
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
        exclude = {p.untyped_storage().data_ptr() for p in model.parameters()}
        out[f"stage{stage}"] = {"held": held_numel(opt, exclude),
                                "total": sum(p.numel() for p in model.parameters() if p.requires_grad),
                                "params": {n: t.detach().cpu() for n, t in model.state_dict().items()}}
    return out


def ps_part(cls) -> dict:
    import torch

    from aisys.parallel import context
    from aisys.parallel.data_parallel.check_ps import DIM, quadratics

    problems = quadratics(SEED, max(1, context.world_size() - 1))

    def grad_fn(x, rank):
        a, c = problems[rank - 1]
        return torch.as_tensor(a) @ (x - torch.as_tensor(c))

    out = {}
    for mode, staleness, lr, steps in (("sync", 0, 0.1, 40), ("async", 2, 0.15 / len(problems), 40),
                                       ("async", 2, 1.2 / len(problems), 12)):
        final = cls(torch.zeros(DIM, dtype=torch.float64), lr=lr, mode=mode, staleness=staleness).run(grad_fn, steps)
        out[f"{mode} staleness={staleness} lr={lr:.3g}"] = final.tolist()
    return out


def demo_on_rank(labs_dir: str) -> list:
    """Every part on this rank; returns all ranks' results (all-gathered)."""
    import torch.distributed as dist

    from aisys.catalog import find_lab
    from aisys.parallel import context
    from aisys.workspace import Student

    student = Student(find_lab("data-parallel"), Path(labs_dir))
    mine = {"rank": context.rank(), "device": str(context.device()),
            "ring": _part(student, "ring_all_reduce", ring_part),
            "naive": _part(student, "NaiveDDP", ddp_part),
            "bucketed": _part(student, "BucketedDDP", lambda cls: ddp_part(cls, bucket_cap_mb=BUCKET_CAP_MB)),
            "zero": _part(student, "ZeroOptimizer", zero_part),
            "ps": _part(student, "ParameterServer", ps_part)}
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    return everyone
