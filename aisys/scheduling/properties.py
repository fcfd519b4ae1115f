"""What makes a schedule right, as properties a grader can test without knowing the answer.

- **valid**: every op exactly once, on a known worker, for exactly its duration; each op
  starts after all its inputs end (plus the transfer time when they ran elsewhere); no
  worker runs two ops at once.
- **work-conserving** (greedy): no op waits while a worker sits idle — the property behind
  Graham's bound.
- **FIFO**: an op that became ready earlier never starts later.
- **priority**: an op never starts while a ready op with a higher priority still waits.

Each function returns None, or one sentence naming the ops and the time where it broke.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Mapping

import numpy as np

from aisys.graph.ir import Graph
from aisys.scheduling.timeline import Timeline

EPS = 1e-6

Duration = Callable[[str, str], float]              # (op, worker) -> time
Transfer = Callable[[str, str, str], float]         # (producer op, its worker, consumer's worker) -> time


def validity_problem(graph: Graph, timeline: Timeline, workers: list[str], duration: Duration,
                     transfer: Transfer | None = None) -> str | None:
    counts = Counter(s.op for s in timeline.slots)
    missing = [n.name for n in graph if counts[n.name] == 0]
    if missing:
        return f"{len(missing)} op(s) never scheduled, e.g. {missing[0]!r}"
    repeated = [op for op, c in counts.items() if c > 1]
    if repeated:
        return f"op {repeated[0]!r} is scheduled {counts[repeated[0]]} times (each op runs once)"
    unknown = [s.op for s in timeline.slots if s.op not in graph]
    if unknown:
        return f"the timeline has an op that is not in the graph: {unknown[0]!r}"
    slot = {s.op: s for s in timeline.slots}
    for s in timeline.slots:
        if s.worker not in workers:
            return f"op {s.op!r} runs on unknown worker {s.worker!r} (workers: {', '.join(workers)})"
        if not (np.isfinite(s.start) and np.isfinite(s.end)) or s.start < -EPS:
            return f"op {s.op!r} has a negative or non-finite start/end"
        want = duration(s.op, s.worker)
        if abs(s.duration - want) > EPS * max(1.0, want):
            return f"op {s.op!r} on {s.worker!r} lasts {s.duration:.6g}, not its cost on that worker"
    for node in graph:
        for src in node.inputs:
            gap = transfer(src, slot[src].worker, slot[node.name].worker) if transfer else 0.0
            early = slot[src].end + gap - slot[node.name].start
            if early > EPS * max(1.0, slot[src].end):
                what = f" and then needs {gap:.6g} to reach this device (a transfer)" if gap else ""
                return (f"{node.name!r} starts too early, at t={slot[node.name].start:.6g}: it reads {src!r}, "
                        f"which ends at t={slot[src].end:.6g}{what}")
    by_worker: dict[str, list] = {}
    for s in timeline.slots:
        by_worker.setdefault(s.worker, []).append(s)
    for worker, slots in by_worker.items():
        slots.sort(key=lambda s: (s.start, s.end))
        for a, b in zip(slots, slots[1:]):
            if b.start < a.end - EPS * max(1.0, a.end):
                return (f"worker {worker!r} runs {a.op!r} and {b.op!r} at once "
                        f"(they overlap by {a.end - b.start:.6g} from t={b.start:.6g}), "
                        "but a worker runs one op at a time")
    return None


def ready_times(graph: Graph, timeline: Timeline) -> dict[str, float]:
    """When each op's last input ended (0 for sources)."""
    end = {s.op: s.end for s in timeline.slots}
    return {n.name: max((end[i] for i in n.inputs), default=0.0) for n in graph}


def idle_problem(graph: Graph, timeline: Timeline, n_workers: int, ready: Mapping[str, float] | None = None,
                 ops: set[str] | None = None) -> str | None:
    """Work-conserving: while an op waits (ready, not started) all n_workers are busy.
    `ready` overrides when each op could start (default: its last input's end); `ops`
    limits the test to those ops (the others may wait for their own reasons)."""
    times = np.unique(np.array([t for s in timeline.slots for t in (s.start, s.end)]))
    delta = np.zeros(len(times))
    np.add.at(delta, np.searchsorted(times, [s.start for s in timeline.slots]), 1)
    np.add.at(delta, np.searchsorted(times, [s.end for s in timeline.slots]), -1)
    busy = np.cumsum(delta)   # busy[i]: workers running during [times[i], times[i+1])
    ready = ready_times(graph, timeline) if ready is None else ready
    for s in timeline.slots:
        if (ops is not None and s.op not in ops) or s.start - ready[s.op] <= EPS:
            continue
        lo = int(np.searchsorted(times, ready[s.op] + EPS, side="right")) - 1
        hi = int(np.searchsorted(times, s.start - EPS, side="right"))
        lo = max(lo, 0)
        if hi > lo and busy[lo:hi].min() < n_workers:
            at = times[lo + int(np.argmin(busy[lo:hi]))]
            return (f"op {s.op!r} waits from t={ready[s.op]:.6g} to t={s.start:.6g} while a worker is idle "
                    f"(at t={max(at, ready[s.op]):.6g}): a greedy scheduler starts a ready op at once")
    return None


def fifo_problem(graph: Graph, timeline: Timeline, ready: Mapping[str, float] | None = None,
                 ops: set[str] | None = None) -> str | None:
    """First ready, first started (among `ops`, ready at `ready`, when given)."""
    ready = ready_times(graph, timeline) if ready is None else ready
    slots = sorted((s for s in timeline.slots if ops is None or s.op in ops), key=lambda s: ready[s.op])
    latest = None   # the slot with the latest start among ops ready strictly earlier
    i = 0
    for s in slots:
        while i < len(slots) and ready[slots[i].op] < ready[s.op] - EPS:
            if latest is None or slots[i].start > latest.start:
                latest = slots[i]
            i += 1
        if latest is not None and latest.start > s.start + EPS:
            return (f"{latest.op!r} was ready first (t={ready[latest.op]:.6g}) but started after "
                    f"{s.op!r} (ready t={ready[s.op]:.6g}): a FIFO queue serves ops in the order they became ready")
    return None


def priority_problem(graph: Graph, timeline: Timeline, priority: Mapping[str, float]) -> str | None:
    """No op starts while a ready op of strictly higher priority is still waiting. An op made
    ready at t by a zero-cost op that itself ran at t may lose to ops started at t (which of
    the two happened first at that instant is the scheduler's choice)."""
    ready = ready_times(graph, timeline)
    slot = {s.op: s for s in timeline.slots}
    by_zero = {n.name for n in graph if any(slot[u].end == ready[n.name] and slot[u].duration <= EPS
                                            for u in n.inputs)}
    slots = sorted(timeline.slots, key=lambda s: s.start)
    for s in slots:
        for other in slots:
            waiting = ready[other.op] < s.start - EPS or (ready[other.op] <= s.start + EPS and other.op not in by_zero)
            if (waiting and other.start > s.start + EPS
                    and priority[other.op] > priority[s.op] + EPS):
                return (f"at t={s.start:.6g} {s.op!r} started while {other.op!r} was ready and has a longer "
                        f"path to the end ({priority[other.op]:.6g} > {priority[s.op]:.6g})")
    return None


def heft_problem(graph: Graph, timeline: Timeline, devices: list, link) -> str | None:
    """HEFT's placement rule: each op finishes no later than it could have on any device,
    given where and when its inputs finished in *this* timeline and what was already placed
    there. Ops are visited by decreasing upward rank (the exercise's formula); how equal ranks
    are ordered is the student's choice, so "already placed" counts every other op of equal
    or higher rank — the latest a device could have been busy until, whatever the tie order.
    A device listed earlier whose finish here is exactly the op's own finish (computed here
    the same on the op's device) was an exact tie: the first listed must have been kept."""
    from aisys.scheduling.costgraph import node_costs, topological_order
    from aisys.scheduling.devices import transfer

    costs, order, consumers, p = node_costs(graph), topological_order(graph), graph.consumers(), len(devices)
    size = {n.name: float(n.attrs.get("bytes", 0)) for n in graph}
    rank: dict[str, float] = {}
    for n in reversed(order):
        mean = sum(d.time(costs[n]) for d in devices) / p
        comm = link.time(size[n]) * (p - 1) / p
        rank[n] = mean + max((comm + rank[c] for c in consumers[n]), default=0.0)
    slot = {s.op: s for s in timeline.slots}
    for n in order:
        tie = rank[n] - EPS * max(1.0, abs(rank[n]))
        finish = {}
        for d in devices:
            free = max((slot[m].end for m in order if m != n and slot[m].worker == d.name and rank[m] >= tie),
                       default=0.0)
            ready = max((slot[u].end + transfer(link, size[u], slot[u].worker, d.name) for u in graph[n].inputs),
                        default=0.0)
            finish[d.name] = max(ready, free) + d.time(costs[n])
        better = min(finish, key=finish.get)
        if slot[n].end > finish[better] + EPS * max(1.0, finish[better]):
            if better == slot[n].worker:   # its device was free earlier when its turn came: wrong visiting order
                return (f"{n!r} finishes at t={slot[n].end:.6g} on {better!r}, later than it could have in HEFT's "
                        "order: visit ops by decreasing rank (mean compute + mean transfer + max consumer rank)")
            return (f"{n!r} finishes at t={slot[n].end:.6g} on {slot[n].worker!r}, but placed on {better!r} it "
                    "would have finished earlier (transfers included): HEFT keeps the device with the earliest finish")
        # an exact tie: this computation gives the op's own finish on its device, and exactly that on a device
        # listed before it (the latest that device could have been free, so no earlier: a tie, first listed wins)
        if finish[slot[n].worker] == slot[n].end:
            first = next(d.name for d in devices if finish[d.name] == slot[n].end)
            if first != slot[n].worker:
                return (f"{n!r} would finish at t={slot[n].end:.6g} on {first!r} and on {slot[n].worker!r} alike, "
                        f"and it went to {slot[n].worker!r}: on a tie HEFT keeps the device listed first")
    return None
