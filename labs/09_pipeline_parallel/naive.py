"""Lab 09, part 2 — naive model parallelism: one batch, stage by stage, there and back.

When a model does not fit on one device, give each device a *stage* — a run of consecutive
layers (part 1 chose the cuts). Rank s holds stage s. Training one batch then looks like this:

    forward   rank 0: a_0 = stage_0(x)      ──send a_0──▶  rank 1: a_1 = stage_1(a_0)  ──▶ …
              last rank: loss = loss_fn(a_{p−1}, targets)
    backward  last rank: loss.backward() gives dL/da_{p−2} (the gradient of what it received)
              …  ◀──send dL/da_0──  rank 1 ;  rank 0: a_0.backward(dL/da_0) fills its .grad

Autograd does not cross processes, so each rank stitches its piece of the chain rule by hand:
the received activation is a fresh leaf with `requires_grad=True`; after this rank's backward
its `.grad` is exactly the gradient the previous rank needs; and a rank that sent an activation
`a` finishes its backward with `a.backward(gradient_received)`. The parameters' gradients are
then the same, to rounding, as one process running the whole model on the whole batch.

It works, and it is slow: at every moment one rank computes and p − 1 wait (the article
measured a model split over two GPUs about 7% *slower* than one GPU — no overlap, plus the
copies). Parts 3 and 4 fix that with micro-batches.

Point-to-point calls go through `aisys.parallel.comm` — `comm.send(t, dst)`, `comm.recv(t, src)`
(blocking), `comm.isend` / `comm.irecv` (a handle; `.wait()`) — so the CommLog records each one:
the checks count them, with their peers and sizes. A receive needs a buffer of the right shape,
dtype and device: activations between stages are (rows, hidden) here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from aisys.parallel import comm
from aisys.parallel.launch import rank, world_size


def naive_model_parallel(stage: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, hidden: int,
                         loss_fn=F.mse_loss) -> torch.Tensor | None:
    """One forward and backward of the whole batch through the pipeline of ranks.

    Rank r (of `world_size()`) holds `stage`, the r-th run of layers. Every rank is handed the
    whole batch's `inputs` (rows × d_in) and `targets`; rank 0 feeds `inputs` to its stage, the
    last rank computes `loss_fn(output, targets)`. Activations and their gradients between
    stages have shape (rows, hidden), dtype and device of `inputs`. Accumulate the gradients
    into the stage's parameters (`.grad`); leave `inputs` and `targets` unchanged.

    Returns the loss (a number or a one-element tensor) on the last rank and None on the others.
    Uses exactly one send and one receive per neighbour and direction.

    Hint: ranks > 0 receive into `torch.empty(rows, hidden, ...)` and mark it
    `requires_grad_()`; ranks below the last send their output, receive its gradient and call
    `output.backward(gradient)`; ranks > 0 then send their input's `.grad` back.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
