"""Lab 09, part 4 — running a schedule on real ranks.

A schedule (part 3) says in which order stage s runs F(i) and B(i). The runner is the loop
that makes one rank do it, for one training step:

- split the batch into m equal **micro-batches** (`torch.chunk` along rows);
- F(i): take micro-batch i (rank 0) or receive its activation from rank s − 1; run the stage;
  send the output to rank s + 1 — or, on the last rank, compute micro-batch i's loss;
  **keep** what the backward will need (the input leaf and the output) until B(i);
- B(i): receive the gradient of the output from rank s + 1 (the last rank backpropagates its
  loss instead), run `output.backward(gradient)`, send the input's `.grad` to rank s − 1, and
  **drop** micro-batch i's tensors — that is where 1F1B's memory saving comes from;
- **gradient accumulation**: do not zero gradients between micro-batches — `.grad` sums
  them. With loss_i = loss_fn(output_i, targets_i) / m, the sum over i is the gradient of the
  full-batch loss (a mean over rows), so k steps equal k steps of one process on whole batches.

Two traps that a single process never shows:

- **Sends block until the receiver posts its receive** (gloo and NCCL alike). In 1F1B's
  steady phase a stage sends an activation forward while its neighbour sends a gradient back:
  two blocking sends face each other and wait forever. Post sends with `comm.isend` and wait
  for the handle later — for an activation, when its gradient comes back (by then it has
  surely arrived); for gradients, at the end of the step.
- **A handle keeps its tensor alive**, as does any list or dict entry: memory is freed only when
  the last reference goes. Keep micro-batch i's tensors (and its send handle) only until B(i).

The stage must be called as `stage(x)` (the checks watch its forward hooks: one forward per
micro-batch, in the schedule's order, and how many micro-batches are alive at once).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from aisys.parallel import comm
from aisys.parallel.launch import rank, world_size


class PipelineRunner:
    """Execute this rank's part of a pipeline schedule, one training step at a time.

    `stage` is this rank's module; `schedule` the whole schedule (one list of ("F", i) /
    ("B", i) steps per stage — this rank runs `schedule[rank()]`); `hidden` the width of the
    activations between stages (they are (rows / m, hidden), dtype and device of the inputs);
    `loss_fn(output, targets)` a mean over rows (the last rank uses it).

    `step(inputs, targets)` runs one step on the whole batch (every rank is handed both; the
    rows divide evenly into the m micro-batches), accumulating into the stage's `.grad` (the
    caller zeroes gradients and steps the optimizer, as in any torch loop). It returns the
    full-batch loss (a number or a one-element tensor) on the last rank and None elsewhere.

    Hint: one dict micro-batch → (input, output) and one micro-batch → activation-send handle;
    pop both at B(i). Wait the gradient-send handles before returning.
    """

    def __init__(self, stage: torch.nn.Module, schedule, hidden: int, loss_fn=F.mse_loss):
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def step(self, inputs: torch.Tensor, targets: torch.Tensor):
        raise NotImplementedError("not implemented yet: read the docstring and its hint")
