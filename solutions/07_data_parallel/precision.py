"""Lab 07, part 8 — mixed precision: dynamic loss scaling, as torch.amp.GradScaler does it.

fp16 holds magnitudes from about **5.96e-8** (the smallest subnormal; 6.1e-5 is the smallest
normal number) to **65504**. Late in training many gradients are smaller than that range's
bottom: computed in fp16 they **underflow to zero** and the update they carried is lost.
Loss scaling multiplies the loss by S before backward; by the chain rule every gradient is
S times larger and lands inside fp16's range. Before the optimizer step the fp32 master
gradients are divided by S again (**unscaled**), so the update is unchanged.

S cannot be known in advance, and too large an S makes gradients **overflow** to inf (or
NaN). Dynamic loss scaling searches for it while training:

- every step, after unscaling, check the gradients: any inf or NaN → **skip** the
  optimizer step and **halve** S (`backoff_factor`), and restart the count of clean steps;
- after `growth_interval` clean steps in a row, **grow** S (`growth_factor`) to try a
  larger scale again.

In data parallelism the overflow check must be global: a rank that sees inf in its own
shard of the gradients (ZeRO, FSDP) or its own gradients (before averaging) while another
rank does not would skip a step the others take, and the replicas would drift apart. So
the "found inf" flag is all-reduced with MAX before deciding — what torch's
`ShardedGradScaler` does for FSDP.

    scaler = DynamicLossScaler(init_scale=2.0**16)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)       # optional: e.g. to clip gradients before the step
    stepped = scaler.step(optimizer) # unscales (once), steps unless inf/NaN was found
    scaler.update()                  # halve after an overflow, grow after N clean steps
"""
from __future__ import annotations

import torch

from aisys.parallel import comm


class DynamicLossScaler:
    """Dynamic loss scaling with GradScaler's rules; overflow decisions agreed by all ranks.

    Hint: keep `scale` (a float), a count of clean steps, and per-step state: whether the
    gradients were unscaled already and whether a non-finite value was found. `unscale_`
    multiplies every `p.grad` in `optimizer.param_groups` by 1/scale, checks
    `torch.isfinite(g).all()`, and agrees with the other ranks through
    `comm.all_reduce(flag, op="max")` on a float tensor holding 1.0 if inf/NaN was seen.
    `step` calls `unscale_` only if you have not yet this step. `update` applies the rules
    and resets the per-step state.
    """

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000):
        # BEGIN SOLUTION
        self._scale = float(init_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval = int(growth_interval)
        self._clean_steps = 0
        self._unscaled = False
        self._found_inf = False
        # END SOLUTION

    def get_scale(self) -> float:
        """The current loss scale S."""
        # BEGIN SOLUTION
        return self._scale
        # END SOLUTION

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        """`loss` × S, to call `.backward()` on."""
        # BEGIN SOLUTION
        return loss * self._scale
        # END SOLUTION

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide every gradient the optimizer will use by S; note (on all ranks) any inf/NaN."""
        # BEGIN SOLUTION
        if self._unscaled:
            raise RuntimeError("unscale_() was already called since the last update()")
        inverse = 1.0 / self._scale
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.mul_(inverse)
                    found = found or not bool(torch.isfinite(p.grad).all())
        flag = torch.tensor([1.0 if found else 0.0])
        comm.all_reduce(flag, op="max")
        self._found_inf = bool(flag.item() > 0)
        self._unscaled = True
        # END SOLUTION

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Unscale if not done yet; run `optimizer.step()` unless inf/NaN was found. True if it ran."""
        # BEGIN SOLUTION
        if not self._unscaled:
            self.unscale_(optimizer)
        if self._found_inf:
            return False
        optimizer.step()
        return True
        # END SOLUTION

    def update(self) -> None:
        """End of the step: back off after an overflow, grow after `growth_interval` clean steps."""
        # BEGIN SOLUTION
        if self._found_inf:
            self._scale *= self.backoff_factor
            self._clean_steps = 0
        else:
            self._clean_steps += 1
            if self._clean_steps == self.growth_interval:
                self._scale *= self.growth_factor
                self._clean_steps = 0
        self._unscaled = False
        self._found_inf = False
        # END SOLUTION
