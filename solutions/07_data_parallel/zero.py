"""Lab 07, part 4 — ZeRO: stop keeping N copies of everything.

Plain data parallelism replicates the whole training state on every rank. With mixed
precision and Adam, one parameter costs **16 bytes** (the ZeRO paper's accounting):
2 (fp16 weight) + 2 (fp16 gradient) + K = 12 of optimizer state (fp32 master weight,
momentum and variance, 4 + 4 + 4). For Ψ = 7.5 B parameters that is 120 GB per device, on
every device. ZeRO (Rajbhandari et al., 2020) partitions the state over the N_d ranks:

| stage | partitioned                  | bytes per device          | Ψ=7.5B, N_d=64 |
|-------|------------------------------|---------------------------|----------------|
| 0 (DP)| nothing                      | (2 + 2 + K) Ψ             | 120 GB         |
| 1     | optimizer state (P_os)       | (2 + 2) Ψ + K Ψ / N_d     | 31.4 GB        |
| 2     | + gradients (P_os+g)         | 2 Ψ + (2 + K) Ψ / N_d     | 16.6 GB        |
| 3     | + parameters (P_os+g+p)      | (2 + 2 + K) Ψ / N_d       | 1.9 GB         |

Communication per step and rank, in elements: an all-reduce is a reduce-scatter (Ψ) plus an
all-gather (Ψ), so DP moves 2Ψ. Stages 1 and 2 move the same 2Ψ: reduce-scatter the
gradients (each rank only needs the average of *its* shard), update that shard, all-gather
the updated parameters. Stage 3 also has to all-gather the parameters for backward: 3Ψ.
(Some write-ups say stage 1 costs more than DP; it does not.)

`ZeroOptimizer` implements stages 1 and 2 on a flat view of all trainable parameters cut
into N equal shards (the last one padded): rank r owns elements [r·S, (r+1)·S) and keeps
Adam's two moment vectors for those S elements only.
"""
from __future__ import annotations

import math

import torch

from aisys.parallel import comm, context


def zero_memory(psi: float, n_d: int, stage: int, k: int = 12) -> float:
    """Model-state memory per device in GB (1e9 bytes) for ZeRO stage 0-3 (table above).

    zero_memory(7.5e9, 64, 0) == 120.0 (mixed-precision Adam: 2 + 2 + 12 bytes per parameter).

    Hint: weights 2Ψ, gradients 2Ψ, optimizer states KΨ; each stage divides one more of the
    three by n_d.
    """
    # BEGIN SOLUTION
    weights, grads, states = 2 * psi, 2 * psi, k * psi
    if stage >= 1:
        states /= n_d
    if stage >= 2:
        grads /= n_d
    if stage >= 3:
        weights /= n_d
    return (weights + grads + states) / 1e9
    # END SOLUTION


def zero_comm(psi: float, stage: int) -> float:
    """Elements each rank communicates per training step under ZeRO stage 0-3.

    Hint: count reduce-scatters and all-gathers of the full model, Ψ each; stage 3 needs one
    more all-gather than the others.
    """
    # BEGIN SOLUTION
    return (3 if stage >= 3 else 2) * psi
    # END SOLUTION


class ZeroOptimizer:
    """Adam whose state is sharded over the ranks (ZeRO stage 1 or 2).

        opt = ZeroOptimizer(model.parameters(), stage=2, lr=1e-2)
        loss.backward()     # each rank on its own data: gradients differ per rank
        opt.step()          # averages gradients, updates this rank's shard, gathers parameters
        opt.zero_grad()

    `step()` does the whole data-parallel update, so no DDP wrapper is needed:
    1. flatten all gradients into one padded vector of N·S elements;
    2. `comm.reduce_scatter_tensor(my_grad, flat, op="avg")`: this rank's shard of the average;
    3. Adam on this rank's shard of the flat parameters, with this rank's moment vectors;
    4. `comm.all_gather_into_tensor(flat_params, my_params)` and copy back into the parameters.
    Stage 2 then also releases the gradients (`p.grad = None`): each rank keeps only the
    shard it reduced, which is what divides gradient memory by N.

    Adam, as torch.optim.Adam computes it — **bit for bit**: the grader compares your
    parameters with unsharded `torch.optim.Adam`'s exactly, and floating-point results
    depend on the order of operations (m·β1 + (1−β1)·g and m + (1−β1)·(g − m) differ in
    the last bit about half the time). torch, per step t:

        m.lerp_(g, 1 − β1)                       # m ← m + (1−β1)(g − m)
        v.mul_(β2).addcmul_(g, g, value=1 − β2)
        step_size = lr / (1 − β1**t)
        denom = (v.sqrt() / (1 − β2**t) ** 0.5).add_(ε)
        p.addcdiv_(m, denom, value=−step_size)

    Elementwise operations give the same bits wherever an element sits in a tensor, so
    doing this on your shard of a flat vector matches torch on the whole parameters.

    Hint: keep only shard-sized tensors (S elements) as attributes — the grader counts the
    tensors your optimizer holds. Here you write the update yourself; `ShardedOptimizer`
    (sharded.py) wraps any torch optimizer instead.
    """

    def __init__(self, params, stage: int = 1, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        if stage not in (1, 2):
            raise ValueError("ZeroOptimizer implements stages 1 and 2")
        self.params = [p for p in params if p.requires_grad]
        self.stage, self.lr, self.betas, self.eps = stage, lr, betas, eps
        # BEGIN SOLUTION
        self.world, self.rank = context.world_size(), context.rank()
        self.numel = sum(p.numel() for p in self.params)
        self.shard = math.ceil(self.numel / self.world)
        self.start = self.rank * self.shard
        like = self.params[0]
        self.exp_avg = torch.zeros(self.shard, dtype=like.dtype, device=like.device)
        self.exp_avg_sq = torch.zeros(self.shard, dtype=like.dtype, device=like.device)
        self.steps = 0
        # END SOLUTION

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        # BEGIN SOLUTION
        padded = self.shard * self.world
        flat_grad = self._flat([p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params], padded)
        grad = torch.empty(self.shard, dtype=flat_grad.dtype, device=flat_grad.device)
        comm.reduce_scatter_tensor(grad, flat_grad, op="avg")
        del flat_grad
        if self.stage == 2:
            for p in self.params:
                p.grad = None                                  # only the reduced shard survives

        self.steps += 1
        beta1, beta2 = self.betas
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1 ** self.steps)
        denom = (self.exp_avg_sq.sqrt() / (1 - beta2 ** self.steps) ** 0.5).add_(self.eps)
        flat_params = self._flat([p.detach() for p in self.params], padded)
        mine = flat_params[self.start:self.start + self.shard].clone()
        mine.addcdiv_(self.exp_avg, denom, value=-step_size)

        comm.all_gather_into_tensor(flat_params, mine)
        offset = 0
        for p in self.params:
            p.copy_(flat_params[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
        # END SOLUTION

    # BEGIN SOLUTION: 
    @staticmethod
    def _flat(tensors: list[torch.Tensor], padded: int) -> torch.Tensor:
        flat = torch.cat([t.reshape(-1) for t in tensors])
        return torch.cat([flat, flat.new_zeros(padded - flat.numel())])
    # END SOLUTION
