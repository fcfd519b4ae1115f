"""The demo's sequence-parallel experiment: one pre-LayerNorm MLP sublayer, twice.

Plain TP: every rank holds the whole sequence, runs LayerNorm and dropout on all of it, and
the student's ParallelMLP all-reduces once each way. Sequence parallel: the student's
SequenceParallelMLP on this rank's chunk of the sequence. Both run in training mode with
dropout (p = 0.1) for what they communicate (the CommLog) and what they keep for backward
(saved-tensor hooks), and once more without dropout to compare with the dense sublayer.
"""
from __future__ import annotations

from typing import Any

from aisys.parallel.tensor_parallel.casekit import activation_bytes, saving
from aisys.parallel.tensor_parallel.demo_ranks import comm_summary, diff, fwd_bwd

P_DROP = 0.1


def plain_versus_sequence(student: Any, parts: dict) -> dict:
    """Comm, saved activations and error of the plain-TP and the sequence-parallel sublayer.

    "region" is what LayerNorm and dropout keep for backward: measured around those two
    calls in the plain sublayer, and as the sequence-chunk tensors of the SP sublayer."""
    import torch

    from aisys.parallel import context
    from aisys.parallel.tensor_parallel import dense as D

    world, rank = context.world_size(), context.rank()
    norm, fc1, fc2, x, up = (parts[k] for k in ("norm", "fc1", "fc2", "x", "upstream"))
    batch, seq = x.shape[:2]
    n = seq // world
    chunk = slice(rank * n, (rank + 1) * n)
    want = D.sequence_mlp(norm, fc1, fc2, x).detach()
    mlp = student.get("ParallelMLP")(fc1, fc2)
    shared = torch.Generator(device=x.device).manual_seed(1234)     # replicated activations: one stream
    region: list = []

    def plain(t, saved, p=P_DROP):
        start = len(saved)
        h = norm(t)
        region.extend(saved[start:])
        h = mlp(h)
        start = len(saved)
        if p:
            h = h * (torch.rand(h.shape, generator=shared, device=h.device) >= p) / (1 - p)
        region.extend(saved[start:])
        return t + h

    with saving() as saved:
        _, fwd, bwd = fwd_bwd(lambda t: plain(t, saved), x.detach().clone().requires_grad_(), up)
    with torch.no_grad():
        gap = diff(plain(x, [], 0.0), want)
    out = {"tp": {"fwd": comm_summary(fwd), "bwd": comm_summary(bwd),
                  "region": activation_bytes(region, list(norm.parameters())), "diff": gap}}
    layer = student.get("SequenceParallelMLP")(norm, fc1, fc2, dropout_p=P_DROP)
    with saving() as saved:
        _, fwd, bwd = fwd_bwd(layer, x[:, chunk].detach().clone().requires_grad_(), up[:, chunk])
    with torch.no_grad():
        gap = diff(layer.eval()(x[:, chunk]), want[:, chunk])
    out["sp"] = {"fwd": comm_summary(fwd), "bwd": comm_summary(bwd),
                 "region": activation_bytes(saved, list(layer.parameters()), lead=(batch, n)), "diff": gap}
    return out
