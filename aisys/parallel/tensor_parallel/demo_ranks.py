"""What every rank computes for `aisys lab run tensor-parallel`; plain data back to the parent.

Each exercise runs guarded: a stub reports `not_implemented`, a bug reports its message, and
the rest of the demo goes on (a bug that leaves one rank behind in a collective ends the
launch at the group timeout instead). The truth here is the dense model on the same rank —
this is a picture for the student, not the grader.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

SEED = 8


def sizes(world: int) -> dict:
    """Small shapes that divide evenly by `world` (and make a readable grid)."""
    hidden = world * max(2, 8 // world)
    return {"batch": 2, "seq": 4, "hidden": hidden, "heads": world, "ffn": 2 * hidden, "vocab": 2 * hidden}


def guarded(student: Any, action: Callable[[], dict]) -> dict:
    from aisys.errors import StudentCodeError
    from aisys.grading.execute import student_traceback

    try:
        return {"status": "ok", **action()}
    except NotImplementedError:
        return {"status": "not_implemented"}
    except StudentCodeError as err:
        return {"status": "error", "message": str(err)}
    except Exception as err:  # the student's bug: report it, keep going
        return {"status": "error", "message": student_traceback(err, student)}


def owned(shard, dense, axis: int) -> list[int]:
    """For each row (axis 0) or column (axis 1) of `shard`, its index in `dense` (-1: none)."""
    import torch

    s, d = shard.detach().cpu().double(), dense.detach().cpu().double()
    if axis == 1:
        s, d = s.T, d.T
    gaps = torch.cdist(s.reshape(s.shape[0], -1), d.reshape(d.shape[0], -1))
    best, gap = gaps.argmin(1), gaps.min(1).values
    return [int(b) if g < 1e-5 else -1 for b, g in zip(best, gap)]


def diff(a, b) -> float:
    if a is None or b is None:
        return float("nan")
    return float((a.detach().float().cpu() - b.detach().float().cpu()).abs().max())


def fwd_bwd(module_call: Callable, x, upstream) -> tuple[Any, list[dict], list[dict]]:
    from aisys.parallel.tensor_parallel.casekit import comm_phase

    with comm_phase() as fwd:
        y = module_call(x)
    with comm_phase() as bwd:
        y.backward(upstream)
    return y, [dict(r) for r in fwd], [dict(r) for r in bwd]


def comm_summary(recs: list[dict]) -> dict:
    from collections import Counter

    return {"ops": dict(Counter(r["op"] for r in recs)), "bytes": sum(int(r["bytes"]) for r in recs)}


def collect(slug: str, labs_dir: str) -> dict:
    """Run every exercise on this rank and report what the demo draws."""
    import torch

    from aisys.catalog import find_lab
    from aisys.parallel import context
    from aisys.parallel.tensor_parallel import dense as D
    from aisys.parallel.tensor_parallel import demo_layers
    from aisys.workspace import Student

    torch.manual_seed(SEED)
    student = Student(find_lab(slug), Path(labs_dir))
    world, rank = context.world_size(), context.rank()
    size = sizes(world)
    dev = context.device()
    mha, fc1, fc2 = (m.to(dev) for m in D.block_parts(SEED, size["hidden"], size["heads"], size["ffn"]))
    emb = D.seeded_embedding(SEED + 30, size["vocab"], size["hidden"], dtype=torch.float32).to(dev)
    x = D.seeded(SEED + 40, size["batch"], size["seq"], size["hidden"], dtype=torch.float32).to(dev)
    upstream = D.seeded(SEED + 41, size["batch"], size["seq"], size["hidden"], dtype=torch.float32).to(dev)
    parts = {"mha": mha, "fc1": fc1, "fc2": fc2, "emb": emb, "x": x, "upstream": upstream}
    out = {"rank": rank, "world": world, "sizes": size, "device": str(dev), "backend": context.backend()}
    out["operators"] = {name: guarded(student, lambda n=name: demo_layers.operator(student, n, x))
                        for name in ("copy_to_tp", "reduce_from_tp", "gather_from_tp")}
    out["layers"] = {name: guarded(student, lambda n=name: demo_layers.layer(student, n, parts))
                     for name in demo_layers.LAYERS}
    out["student_block"] = guarded(student, lambda: demo_layers.student_block(student, parts))
    out["torch_block"] = guarded(student, lambda: demo_layers.torch_block(parts))
    out["student_loss"] = guarded(student, lambda: demo_layers.student_loss(student, size))
    out["torch_loss"] = guarded(student, lambda: demo_layers.torch_loss(size))
    out["volume"] = guarded(student, lambda: demo_layers.volume(student, size, world))
    return out
