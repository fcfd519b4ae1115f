"""Lab 07, part 6 — ZeRO-1 for any optimizer: shard the state, keep the optimizer's own step.

`ZeroOptimizer` hand-wrote Adam on a flat shard. Real code never re-implements the update
rule: it wraps the optimizer the user chose (`torch.optim.Adam`, `AdamW` with weight decay,
`SGD` with momentum, or one you have never seen) and gives it only this rank's piece of
every parameter, so the optimizer allocates state for that piece only. That is what
`torch.distributed.optim.ZeroRedundancyOptimizer` does, and DeepSpeed's ZeRO-1:

    reduce gradients (average over ranks) → inner optimizer steps on this rank's shards
                                            → all-gather (or broadcast) the updated shards

Elementwise optimizers (all of the above) update every element from its own gradient and
its own state, so running them on shards changes nothing but where the state lives: after
k steps the parameters equal the unsharded optimizer's **bit for bit** — provided the
sharded step sees exactly what the unsharded one would:

- the same hyperparameters per parameter group (groups may differ in lr, weight decay...),
  *read at every step* (a learning-rate scheduler edits `self.param_groups`);
- a parameter whose `.grad` is None this step is skipped by torch's optimizers (no update,
  no weight decay, no state change): its shards must be skipped too, not fed zeros;
- the same averaged gradient (mean over ranks).

`ShardedOptimizer` is a real `torch.optim.Optimizer`: `param_groups`, `zero_grad()` and
`step()` work as usual, and its constructor takes what `optimizer_cls` takes.
"""
from __future__ import annotations

import torch

from aisys.parallel import comm, context


class ShardedOptimizer(torch.optim.Optimizer):
    """Shard `optimizer_cls`'s state over the ranks; run its own step on this rank's shards.

        opt = ShardedOptimizer(model.parameters(), torch.optim.AdamW, lr=1e-3, weight_decay=0.1)
        loss.backward()          # each rank on its own data
        opt.step()               # average grads, step the shards, gather the parameters
        opt.zero_grad()

    Hint: `super().__init__(params, kwargs)` builds `self.param_groups`. For each parameter
    keep a shard: pad its flat data to N·S elements (S = ceil(numel/N)), keep elements
    `[r·S, (r+1)·S)` as a new leaf tensor, and build `self.optimizer = optimizer_cls(groups)`
    whose groups hold the shards with each original group's hyperparameters. In `step`:
    copy the hyperparameters again, `comm.reduce_scatter_tensor(shard.grad, padded_grad,
    op="avg")` (or leave `shard.grad = None` when `p.grad is None`), `self.optimizer.step()`,
    then `comm.all_gather_into_tensor` each shard back into its parameter.
    """

    def __init__(self, params, optimizer_cls: type, **kwargs):
        super().__init__(params, kwargs)
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        raise NotImplementedError("not implemented yet: read the docstring and its hint")
        return loss


