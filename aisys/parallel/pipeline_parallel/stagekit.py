"""What the rank-level checks share: seeded model specs, a rank's stage, its loss, its results.

A spec (JSON-able case inputs) fixes the model (seed, layers per stage, widths), the batch
(rows), the loss and the optimizer; `model.py` builds the same thing on a rank and in the
parent. Stages get uneven numbers of layers, so a message that reaches the wrong rank shows.
"""
from __future__ import annotations

from typing import Any

from aisys.errors import StudentCodeError
from aisys.grading.compare import close
from aisys.grading.shapes import describe
from aisys.grading.spec import PASS, Verdict, fail

RTOL, ATOL = 1e-7, 1e-10       # float64 all the way: a real bug is orders of magnitude away


def spec(rng, world: int, rows: int, loss: str, layers: int | None = None) -> dict:
    """Seeded model and batch for `world` stages: uneven layers per stage, hidden ≠ d_in."""
    layers = layers or world + int(rng.integers(1, world + 2))
    cuts = sorted(int(c) for c in rng.choice(range(1, layers), size=world - 1, replace=False))
    partition = [b - a for a, b in zip([0, *cuts], [*cuts, layers])]
    hidden = int(rng.integers(5, 9))
    return {"world": world, "seed": int(rng.integers(1 << 30)), "partition": partition, "rows": rows,
            "d_in": hidden + int(rng.integers(1, 4)), "hidden": hidden, "loss": loss, "lr": 0.1}


def my_stage(inputs: dict):
    """(this rank's stage on its device, rank, world, device)."""
    from aisys.parallel import context
    from aisys.parallel.pipeline_parallel.model import stage_module

    rank, world, device = context.rank(), context.world_size(), context.device()
    return stage_module(inputs, rank).to(device), rank, world, device


def read_loss(value: Any, last: bool, who: str) -> float | None:
    """The loss the student returned, on the last rank (a readable error otherwise); None elsewhere."""
    import torch

    if not last:
        return None
    if torch.is_tensor(value) and value.numel() == 1:
        return float(value.detach().cpu().double().reshape(()))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise StudentCodeError(f"{who} returned {describe(value)} on the last rank; expected the loss, a number")


def arrays(tensors) -> list:
    """Gradients or parameters as float64 numpy arrays (None stays None)."""
    return [None if t is None else t.detach().double().cpu().numpy() for t in tensors]


def judge_tensors(got: list, want: list, rank: int, what: str) -> Verdict:
    """One rank's per-parameter arrays against the single-process truth."""
    if len(got) != len(want):
        return fail(f"rank {rank} reported {len(got)} {what} tensors; its stage has {len(want)} parameters "
                    "(was the stage module replaced?)")
    for k, (g, w) in enumerate(zip(got, want)):
        name = f"rank {rank}'s {what} of stage parameter {k} ({'weight' if k % 2 == 0 else 'bias'} of block {k // 2})"
        if g is None:
            return fail(f"{name} is None — no gradient reached this stage")
        verdict = close(g, w, rtol=RTOL, atol=ATOL, what=name)
        if not verdict.passed:
            return verdict
    return PASS


def judge_loss(got: float | None, want: float, what: str) -> Verdict:
    if got is None:
        return fail(f"the last rank reported no loss {what}")
    return close(got, want, rtol=RTOL, atol=ATOL, what=f"the last rank's loss {what}")


def neighbour_messages(rank: int, world: int, count: int, nbytes: int) -> dict:
    """What one stage exchanges for `count` micro-batches: activations from s−1 and to s+1,
    gradients from s+1 and to s−1 — want[(op, peer)] = (count, bytes each)."""
    want = {}
    if rank > 0:
        want[("recv", rank - 1)] = (count, nbytes)
        want[("send", rank - 1)] = (count, nbytes)
    if rank < world - 1:
        want[("send", rank + 1)] = (count, nbytes)
        want[("recv", rank + 1)] = (count, nbytes)
    return want
