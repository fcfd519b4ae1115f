"""What every rank computes for `aisys lab run tensor-parallel`; plain data back to the parent.

Each exercise runs guarded: a stub reports `not_implemented`, a bug reports its message, and
the rest of the demo goes on. A bug can also leave the ranks out of step — one rank raises
while the others wait in a collective for it — so after each section the ranks compare
notes through the rendezvous store (not through a collective): a rank that raised first
drops its process group (its peers' pending collectives fail at once instead of at the
timeout), every rank then rebuilds the group, and every rank reports the failing rank's
own error for that section. (Under torchrun there is no store to talk through; a failure
that leaves ranks out of step ends at the group timeout there.) The truth here is the dense
model on the same rank — this is a picture for the student, not the grader.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

SEED = 8


def sizes(world: int) -> dict:
    """Small shapes that divide evenly by `world` (and make a readable grid)."""
    hidden = world * max(2, 8 // world)
    return {"batch": 2, "seq": 2 * world, "hidden": hidden, "heads": world, "ffn": 2 * hidden,
            "vocab": 2 * hidden}


class Guard:
    """Runs the sections of one rank and makes the ranks agree on each outcome."""

    def __init__(self, student: Any, rank: int):
        self.student, self.rank, self.count = student, rank, 0

    def __call__(self, action: Callable[[], dict]) -> dict:
        from aisys.parallel.sections import agree, guarded

        self.count += 1
        return agree(f"tp-demo-{self.count}", guarded(self.student, action))


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
    """max |a − b| (nan: nothing to compare; inf: the shapes differ)."""
    if a is None or b is None:
        return float("nan")
    if tuple(a.shape) != tuple(b.shape):
        return float("inf")
    return float((a.detach().float().cpu() - b.detach().float().cpu()).abs().max()) if a.numel() else 0.0


def fwd_bwd(module_call: Callable, x, upstream) -> tuple[Any, list[dict], list[dict]]:
    from aisys.parallel.tensor_parallel.casekit import comm_phase, tensor_from

    with comm_phase() as fwd:
        y = tensor_from(module_call(x), "the layer")
    with comm_phase() as bwd:
        y.backward(upstream)
    return y, [dict(r) for r in fwd], [dict(r) for r in bwd]


def comm_summary(recs: list[dict]) -> dict:
    """{kind: {"calls", "bytes"}} as the checks read it, plus the bytes one rank sends (of
    which `wire_all_reduce` in all-reduces)."""
    from aisys.parallel import context
    from aisys.parallel.tensor_parallel.casekit import comm_summary as summary

    world = context.world_size()
    return {"kinds": summary(recs), "wire": wire_bytes(recs, world),
            "wire_all_reduce": wire_bytes([r for r in recs if r["op"] == "all_reduce"], world)}


def wire_bytes(recs: list[dict], world: int) -> float:
    """Bytes this rank sends for these collectives with ring algorithms: an all-reduce of n
    bytes sends 2(W−1)/W·n, a reduce-scatter (W−1)/W·n, an all-gather of a block b (W−1)·b."""
    factor = {"all_reduce": 2 * (world - 1) / world, "reduce_scatter_tensor": (world - 1) / world,
              "all_gather": world - 1, "all_gather_into_tensor": world - 1}
    return float(sum(factor.get(str(r["op"]), 0.0) * int(r["bytes"]) for r in recs))


def collect(slug: str, labs_dir: str) -> dict:
    """Run every exercise on this rank and report what the demo draws."""
    import torch

    from aisys.catalog import find_lab
    from aisys.parallel import context
    from aisys.parallel.tensor_parallel import dense as D
    from aisys.parallel.tensor_parallel import demo_layers, demo_sequence
    from aisys.workspace import Student

    torch.manual_seed(SEED)
    student = Student(find_lab(slug), Path(labs_dir))
    world, rank = context.world_size(), context.rank()
    guarded = Guard(student, rank)
    size = sizes(world)
    dev = context.device()
    mha, fc1, fc2 = (m.to(dev) for m in D.block_parts(SEED, size["hidden"], size["heads"], size["ffn"]))
    emb = D.seeded_embedding(SEED + 30, size["vocab"], size["hidden"], dtype=torch.float32).to(dev)
    x = D.seeded(SEED + 40, size["batch"], size["seq"], size["hidden"], dtype=torch.float32).to(dev)
    upstream = D.seeded(SEED + 41, size["batch"], size["seq"], size["hidden"], dtype=torch.float32).to(dev)
    parts = {"mha": mha, "fc1": fc1, "fc2": fc2, "emb": emb, "x": x, "upstream": upstream,
             "norm": D.seeded_layer_norm(SEED + 50, size["hidden"], dtype=torch.float32).to(dev)}
    out = {"rank": rank, "world": world, "sizes": size, "device": str(dev), "backend": context.backend()}
    out["operators"] = {name: guarded(lambda n=name: demo_layers.operator(student, n, x))
                        for name in demo_layers.MAPPINGS}
    out["layers"] = {name: guarded(lambda n=name: demo_layers.layer(student, n, parts))
                     for name in demo_layers.LAYERS}
    out["sequence"] = guarded(lambda: demo_sequence.plain_versus_sequence(student, parts))
    out["student_block"] = guarded(lambda: demo_layers.student_block(student, parts))
    out["torch_block"] = guarded(lambda: demo_layers.torch_block(parts))
    out["student_loss"] = guarded(lambda: demo_layers.student_loss(student, size))
    out["torch_loss"] = guarded(lambda: demo_layers.torch_loss(size))
    out["volume"] = guarded(lambda: demo_layers.volume(student, size, world))
    return out
