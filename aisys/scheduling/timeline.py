"""What a scheduler returns: which op ran on which worker (or device), from when to when.

A `Timeline` is plain enough to cross a process boundary (`to_plain`), to be checked
against a graph (`aisys.scheduling.properties`), drawn as a Gantt chart
(`aisys.ui.gantt`) and exported for Perfetto (`aisys.scheduling.chrome_trace`).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Slot:
    op: str
    worker: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Timeline:
    workers: list[str] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)

    def add(self, op: str, worker: str, start: float, end: float) -> Slot:
        """Record that `op` ran on `worker` during [start, end)."""
        if worker not in self.workers:
            self.workers.append(worker)
        slot = Slot(str(op), str(worker), float(start), float(end))
        self.slots.append(slot)
        return slot

    @property
    def makespan(self) -> float:
        return max((s.end for s in self.slots), default=0.0) - min((s.start for s in self.slots), default=0.0)

    def busy(self, worker: str) -> float:
        return sum(s.duration for s in self.slots if s.worker == worker)

    def utilisation(self) -> dict[str, float]:
        """Busy time / makespan per worker."""
        span = self.makespan or 1.0
        return {w: self.busy(w) / span for w in self.workers}

    def placement(self) -> dict[str, str]:
        return {s.op: s.worker for s in self.slots}

    def to_plain(self) -> dict:
        return {"workers": list(self.workers), "slots": [[s.op, s.worker, s.start, s.end] for s in self.slots]}

    @classmethod
    def from_plain(cls, data: dict) -> "Timeline":
        timeline = cls(workers=[str(w) for w in data.get("workers", [])])
        for op, worker, start, end in data["slots"]:
            timeline.add(op, worker, start, end)
        return timeline


def as_plain(result: object) -> dict:
    """A student's return value as plain timeline data (a clear TypeError otherwise)."""
    if isinstance(result, Timeline):
        return result.to_plain()
    raise TypeError(f"expected an aisys.scheduling.timeline.Timeline, got {type(result).__name__}")
