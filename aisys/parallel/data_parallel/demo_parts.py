"""Rank-side bodies of the demo's first half: ring, DDP, parameter server (plain data out).

Each body takes the student's object and returns a dict; `demo_ranks` runs it inside the
right scope and turns a stub or a failure into a status. Sizes are picked so the formulas
show: the ring at N = 2 *and* N = 4 (at N = 2 the factor 2(N−1)/N is 1 and hides itself),
the parameter server with three workers and one effective step for every mode.
"""
from __future__ import annotations

import time

SEED = 2024
DDP_STEPS = 4
HIDDEN = 192          # big enough for several buckets and a visible timeline
BUCKET_CAP_MB = 0.002
BATCH_PER_RANK = 32
RING_N = (1 << 16) + 3          # not a multiple of N: chunks differ by one element
PS_LR = 0.5                     # the synchronous step; async workers take PS_LR / workers each
PS_ROUNDS = (2, 5, 10, 20, 30)


def ring_part(ring_all_reduce) -> dict:
    import torch

    from aisys.parallel import comm, context

    tensor = torch.full((RING_N,), float(context.rank() + 1), device=context.device())
    with comm.comm_log().capture() as records:
        ring_all_reduce(tensor)
    world = context.world_size()
    return {"n": RING_N, "world": world, "ok": bool(torch.all(tensor == world * (world + 1) / 2).item()),
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


def ps_part(cls) -> dict:
    """Error to the optimum after t rounds, for sync and async with the same effective step."""
    import numpy as np
    import torch

    from aisys.parallel import context
    from aisys.parallel.data_parallel.check_ps import DIM, quadratics

    workers = context.world_size() - 1
    problems = quadratics(SEED, max(1, workers))
    optimum = np.linalg.solve(sum(a for a, _ in problems), sum(a @ c for a, c in problems))

    def grad_fn(x, rank):
        a, c = problems[rank - 1]
        return torch.as_tensor(a) @ (x - torch.as_tensor(c))

    modes = {"sync": ("sync", 0, PS_LR), **{f"async, staleness {s}": ("async", s, PS_LR / workers) for s in (0, 1, 3)}}
    out = {}
    for label, (mode, staleness, lr) in modes.items():
        errors = []
        for rounds in PS_ROUNDS:
            final = cls(torch.zeros(DIM, dtype=torch.float64), lr=lr, mode=mode, staleness=staleness) \
                .run(grad_fn, rounds)
            errors.append(float(np.linalg.norm(final.detach().numpy() - optimum) / np.linalg.norm(optimum)))
        out[label] = {"lr": lr, "errors": errors}
    return {"workers": workers, "modes": out}
