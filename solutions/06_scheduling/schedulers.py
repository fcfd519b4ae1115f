"""Lab 06, part 1 — scheduling a graph: which op runs where, and when.

A scheduler turns a dependency graph into a timeline. An op is *ready* once every input
has finished; the scheduler keeps the ready ops in a queue and, whenever a worker is free,
hands it one. Two things decide the outcome:

- the **mechanism** — an event loop over simulated time: start ready ops on idle workers,
  jump to the next moment an op finishes, release its worker, and enqueue the consumers
  that just became ready (Kahn's algorithm, with a clock);
- the **policy** — *which* ready op goes first. FIFO serves them in arrival order. List
  scheduling with a critical-path priority starts the op with the longest remaining path
  to the end (its *bottom level*) first, because that path bounds the makespan.

Any greedy schedule (no worker idles while an op is ready) finishes within Graham's bound
work/m + critical path. On heterogeneous devices, moving a tensor between devices takes
time too: HEFT ranks ops by their average remaining path and puts each on the device where
it would *finish* earliest, transfers included — so it stays on one device when
communication costs more than compute (the article's point about heterogeneous scheduling).
"""
from __future__ import annotations

import heapq
from collections import deque
from typing import Mapping

from aisys.graph.ir import Graph
from aisys.scheduling.costgraph import node_costs, topological_order
from aisys.scheduling.devices import Device, Link, transfer
from aisys.scheduling.timeline import Timeline


class FifoQueue:
    """Ready ops in the order they became ready."""

    def __init__(self) -> None:
        self.items: deque[str] = deque()

    def push(self, name: str) -> None:
        self.items.append(name)

    def pop(self) -> str:
        return self.items.popleft()

    def __len__(self) -> int:
        return len(self.items)


class PriorityQueue:
    """Ready ops, highest priority first (ties: the one pushed first)."""

    def __init__(self, priority: Mapping[str, float]) -> None:
        self.priority = priority
        self.heap: list[tuple[float, int, str]] = []
        self.pushed = 0

    def push(self, name: str) -> None:
        heapq.heappush(self.heap, (-self.priority[name], self.pushed, name))
        self.pushed += 1

    def pop(self) -> str:
        return heapq.heappop(self.heap)[2]

    def __len__(self) -> int:
        return len(self.heap)


def simulate(graph: Graph, n_workers: int, costs: Mapping[str, float], queue) -> Timeline:
    """Greedy event loop: run `graph` on workers "w0".."w{n-1}", taking ready ops from `queue`.

    time = 0; push every source; then repeat until nothing is queued or running:
      1. while an op is queued and a worker is idle: pop the op, start it now on the idle
         worker with the lowest number, for costs[op];
      2. jump to the earliest end among running ops; finish *every* op ending then
         (free its worker, decrement its consumers' input counts, push those reaching 0).
    Finishing all ops that end at one instant before starting new ones matters: an op that
    became ready at t must compete with the others ready at t.

    Hint: two heaps — idle worker numbers, and running ops as (end, worker, op).
    """
    # BEGIN SOLUTION
    workers = [f"w{i}" for i in range(n_workers)]
    timeline = Timeline(workers=list(workers))
    indegree = {node.name: len(node.inputs) for node in graph}
    consumers = graph.consumers()
    for name, degree in indegree.items():
        if degree == 0:
            queue.push(name)
    idle = list(range(n_workers))
    running: list[tuple[float, int, str]] = []
    now = 0.0
    while len(queue) or running:
        while len(queue) and idle:
            op, worker = queue.pop(), heapq.heappop(idle)
            heapq.heappush(running, (now + costs[op], worker, op))
            timeline.add(op, workers[worker], now, now + costs[op])
        now = running[0][0]
        while running and running[0][0] == now:
            _, worker, op = heapq.heappop(running)
            heapq.heappush(idle, worker)
            for nxt in consumers[op]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    queue.push(nxt)
    return timeline
    # END SOLUTION


def fifo_schedule(graph: Graph, n_workers: int = 1, costs: Mapping[str, float] | None = None) -> Timeline:
    """Kahn's algorithm on a thread pool, simulated: ready ops served first come, first served.

    `costs` maps op name → duration (default: each node's `cost` attr, `node_costs`).
    With one worker this is plain serial execution in topological order.

    Hint: `simulate` with a `FifoQueue`.
    """
    # BEGIN SOLUTION
    return simulate(graph, n_workers, node_costs(graph) if costs is None else costs, FifoQueue())
    # END SOLUTION


def bottom_levels(graph: Graph, costs: Mapping[str, float]) -> dict[str, float]:
    """bl(v) = costs[v] + max over consumers c of bl(c) (0 for an exit): the longest path
    from v to the end. The largest bottom level is the critical path.

    Hint: visit nodes in reverse topological order (`topological_order`).
    """
    # BEGIN SOLUTION
    consumers = graph.consumers()
    level: dict[str, float] = {}
    for name in reversed(topological_order(graph)):
        level[name] = costs[name] + max((level[c] for c in consumers[name]), default=0.0)
    return level
    # END SOLUTION


def list_schedule(graph: Graph, n_workers: int, costs: Mapping[str, float] | None = None) -> Timeline:
    """List scheduling with a critical-path priority: the ready op with the largest bottom
    level starts first, so the longest chain never waits behind short side work.

    Must be valid, greedy (within Graham's bound work/m + critical path) and never start an
    op while a ready op with a larger bottom level waits. It must be O(n log n) — no scan of
    all ops at every step: the check times it on 250 and on 1,000 nodes, and 4× the nodes may
    cost at most ~9× the time (unless it is fast anyway: within 50× the bench's own heap-based
    scheduler on the 1,000 nodes).

    Hint: `simulate` with a `PriorityQueue(bottom_levels(graph, costs))`.
    """
    # BEGIN SOLUTION
    costs = node_costs(graph) if costs is None else costs
    return simulate(graph, n_workers, costs, PriorityQueue(bottom_levels(graph, costs)))
    # END SOLUTION


def hetero_schedule(graph: Graph, devices: list[Device], link: Link) -> Timeline:
    """HEFT (Topcuoglu et al., 2002) without insertion: a timeline with one row per device.

    1. Rank: rank(v) = mean over devices of device.time(cost_v)
                       + max over consumers c of (mean transfer of v's output + rank(c)),
       where the mean transfer is link.time(bytes_v) · (p-1)/p (the chance that v and c land
       on different devices among p).
    2. Visit ops by decreasing rank (ties: topological position — still a valid order).
    3. For each device d: ready = max over inputs u of finish[u] + transfer(link, bytes_u,
       device[u], d); start = max(ready, when d is free); finish = start + d.time(cost).
       Keep the device with the earliest finish (ties: the first listed).

    Costs and sizes come from node attrs `cost` and `bytes`; devices are named by `d.name`.

    Hint: `aisys.scheduling.devices.transfer` is 0 on the same device.
    """
    # BEGIN SOLUTION
    costs = node_costs(graph)
    size = {node.name: float(node.attrs.get("bytes", 0)) for node in graph}
    p = len(devices)
    mean_time = {n: sum(d.time(costs[n]) for d in devices) / p for n in costs}
    consumers = graph.consumers()
    order = topological_order(graph)
    rank: dict[str, float] = {}
    for n in reversed(order):
        comm = link.time(size[n]) * (p - 1) / p
        rank[n] = mean_time[n] + max((comm + rank[c] for c in consumers[n]), default=0.0)
    position = {n: i for i, n in enumerate(order)}
    timeline = Timeline(workers=[d.name for d in devices])
    free = {d.name: 0.0 for d in devices}
    finish: dict[str, float] = {}
    place: dict[str, str] = {}
    for n in sorted(order, key=lambda n: (-rank[n], position[n])):
        best = None
        for d in devices:
            ready = max((finish[u] + transfer(link, size[u], place[u], d.name) for u in graph[n].inputs),
                        default=0.0)
            start = max(ready, free[d.name])
            end = start + d.time(costs[n])
            if best is None or end < best[2]:
                best = (d.name, start, end)
        name, start, end = best
        free[name], finish[n], place[n] = end, end, name
        timeline.add(n, name, start, end)
    return timeline
    # END SOLUTION


def backward_order(graph: Graph, loss: str | None = None) -> list[str]:
    """The order in which a backward pass computes gradients, for a forward graph.

    A node needs a gradient when it lies on a path from a trainable `param` to the `loss`
    (default: the graph's only sink): data `input`s and dead branches get none. Backward
    starts at the loss (dL/dL = 1); a node's gradient is complete only once *every*
    consumer on such a path has sent its contribution — so the order is a topological order
    of the reversed graph, restricted to those nodes. (PyTorch's engine counts these
    dependencies the same way before it runs a node.)

    Hint: mark `requires_grad` forward from params and "reaches the loss" backward from the
    loss; then Kahn on reversed edges, counting each kept consumer edge (x*x counts twice).
    """
    # BEGIN SOLUTION
    sinks = graph.sinks()
    if loss is None:
        if len(sinks) != 1:
            raise ValueError(f"name the loss: the graph has {len(sinks)} sinks")
        loss = sinks[0]
    order = topological_order(graph)
    requires = {}
    for name in order:
        node = graph[name]
        requires[name] = node.op == "param" or any(requires[i] for i in node.inputs)
    reaches = {loss}
    for name in reversed(order):
        if name in reaches:
            reaches.update(graph[name].inputs)
    keep = {name for name in reaches if requires[name]}
    pending = {name: 0 for name in keep}
    for name in keep:
        for src in graph[name].inputs:
            if src in keep:
                pending[src] += 1
    ready, result = deque([loss] if loss in keep else []), []
    while ready:
        name = ready.popleft()
        result.append(name)
        for src in graph[name].inputs:
            if src in keep:
                pending[src] -= 1
                if pending[src] == 0:
                    ready.append(src)
    return result
    # END SOLUTION
