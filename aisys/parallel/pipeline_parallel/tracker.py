"""Watching a stage while student code drives it: which steps ran, in what order, and what memory.

`StageWatch` puts a forward hook on the stage module. The k-th forward call of a training step
is F-event k; a tensor hook on its output marks B-event k when autograd reaches it. So the
trace is the order in which the rank *really* computed (whatever it sent), and "the backward
of the forward call k" identifies micro-batches without trusting student bookkeeping.

Memory is measured on storages, not Python objects: `weakref.finalize` on the storage of each
forward's output (and, below stage 0, of its received input — stage 0's input is the caller's
batch) fires when the last reference to that memory goes — a dict entry, a send handle, a
`.detach()` view all keep it. At each forward the watch counts the micro-batches still alive:

- *peak*: the most alive at once, not counting the micro-batch backwarded last (a loop's local
  variable may hold it until it is reassigned — that is not a leak);
- *stale*: micro-batches alive although their backward ran before that one — a leak;
- *kept*: micro-batches still alive after the step returned (after a garbage collection).
"""
from __future__ import annotations

import gc
import weakref
from typing import Any


class StageWatch:
    def __init__(self, stage: Any, first_stage: bool):
        gc.freeze()   # what exists now is not the step's: later collections stay cheap (a forked rank's
        #               first full collection touches every page it shares with its parent)
        self.first_stage = first_stage
        self._handle = stage.register_forward_hook(self._forward)
        self.begin_step()

    def begin_step(self) -> None:
        self.trace: list[list] = []          # ["F", k] / ["B", k]
        self.alive: dict[int, int] = {}      # forward call k → its tracked storages still alive
        self.backwarded: list[int] = []
        self.peak = 0
        self.stale = 0

    def _forward(self, module: Any, args: tuple, output: Any) -> None:
        import torch

        k = sum(1 for kind, _ in self.trace if kind == "F")
        self.trace.append(["F", k])
        self.alive[k] = 0
        tensors = [output] if torch.is_tensor(output) else []
        if not self.first_stage and args and torch.is_tensor(args[0]):
            tensors.append(args[0])
        for storage in {id(t.untyped_storage()): t.untyped_storage() for t in tensors}.values():
            self.alive[k] += 1
            weakref.finalize(storage, self._freed, k, self.alive)
        if torch.is_tensor(output) and output.requires_grad:
            output.register_hook(lambda grad, k=k: self._backward(k))
        self._measure()

    def _backward(self, k: int) -> None:
        self.trace.append(["B", k])
        self.backwarded.append(k)

    @staticmethod
    def _freed(k: int, alive: dict) -> None:
        alive[k] = alive.get(k, 1) - 1

    def _live(self) -> set[int]:
        return {k for k, n in self.alive.items() if n > 0}

    def _measure(self) -> None:
        live = self._live()
        latest = self.backwarded[-1] if self.backwarded else None
        excused = {latest} if latest is not None else set()
        self.peak = max(self.peak, len(live - excused))
        self.stale = max(self.stale, len((live & set(self.backwarded)) - excused))

    def end_step(self) -> dict:
        """What this step showed (plain data); call after the student's step returned."""
        gc.collect()
        return {"trace": [list(e) for e in self.trace], "peak": self.peak, "stale": self.stale,
                "kept": len(self._live())}

    def close(self) -> None:
        self._handle.remove()
        gc.unfreeze()
