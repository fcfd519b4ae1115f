"""What a rank records while training through a student's FSDP (the judge reads it).

The bench, not the student, hooks every unit of the wrapped model:

- forward: a pre-hook placed *before* the student's (live bytes before the unit gathers)
  and one after it, a forward hook before the student's and one after it (after it freed);
- backward: a full-backward pre-hook per unit (fires when the unit's output gradient is
  ready, before the student's own hooks gather the weights again);
- the CommLog records of the step, and when each hook fired, on one clock.

From these the judge reads structure (an all-gather before each unit's forward and its
backward, one reduce-scatter per unit) and memory (how many bytes of full-size weights
were live at each moment: `memprobe` counts the heap, not what the code claims).
"""
from __future__ import annotations

import time
import warnings
from typing import Any

from aisys.parallel.data_parallel.memprobe import Probe

COMM_OPS = {"all_gather": "ag", "all_gather_into_tensor": "ag", "reduce_scatter_tensor": "rs", "all_reduce": "ar"}


class StepTrace:
    """Hooks on every unit of `model` that record one training step at a time."""

    def __init__(self, units: list) -> None:
        self.units = units
        self.probe = Probe()
        self.marks: list[tuple[float, str, int]] = []      # (time, what, unit index)
        self.handles = []
        warnings.filterwarnings("ignore", message="Full backward hook is firing")   # the first unit's input
        for index, unit in enumerate(units):
            self.handles += [
                unit.register_forward_pre_hook(self._mark("fwd-before", index), prepend=True),
                unit.register_forward_pre_hook(self._mark("fwd-gathered", index)),
                unit.register_forward_hook(self._mark("fwd-computed", index), prepend=True),
                unit.register_forward_hook(self._mark("fwd-after", index)),
                unit.register_full_backward_pre_hook(self._mark("bwd-before", index)),
            ]

    def _mark(self, what: str, index: int):
        def hook(*_: Any) -> None:
            self.point(what, index)
        return hook

    def point(self, what: str, index: int = -1) -> None:
        self.marks.append((time.perf_counter(), what, index))
        self.probe.mark(f"{what}:{index}")

    def start(self) -> None:
        self.marks.clear()
        self.probe.start()

    def events(self, records: list[dict]) -> list[list]:
        """Marks and collectives in time order: [what, unit index or bytes, reduce op or '']."""
        merged = [(t, [what, index, ""]) for t, what, index in self.marks]
        merged += [(r["start"], [COMM_OPS.get(r["op"], r["op"]), int(r["bytes"]), str(r.get("reduce_op") or "")])
                   for r in records]
        return [event for _, event in sorted(merged, key=lambda item: item[0])]

    def memory(self) -> list[list]:
        """[label, bytes above the step's start] per sample ([] where it cannot be measured)."""
        return [[label, int(value)] for label, value in self.probe.samples]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def gradient_problem(named: list[tuple[str, Any]]) -> str:
    """'' when every parameter has an fp32 gradient of its data's shape; else the first problem."""
    import torch

    for name, param in named:
        grad = param.grad
        if grad is None:
            return f"{name} has no gradient"
        if tuple(grad.shape) != tuple(param.shape):
            return f"{name}'s gradient has shape {tuple(grad.shape)} but its data has shape {tuple(param.shape)}"
        if grad.dtype != torch.float32:
            return f"{name}'s gradient is {grad.dtype}, not torch.float32"
    return ""
