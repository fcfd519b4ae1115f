"""The bench's plain FIFO baseline: a greedy schedule that serves ready ops in arrival order.

The checks compare a student's critical-path list scheduler against its makespan; it is
the yardstick, not an answer key (the lab asks for timelines, this gives one number).
"""
from __future__ import annotations

import heapq
from collections import deque
from typing import Mapping

from aisys.graph.ir import Graph


def fifo_makespan(graph: Graph, n_workers: int, costs: Mapping[str, float]) -> float:
    indegree = {n.name: len(n.inputs) for n in graph}
    consumers = graph.consumers()
    queue = deque(name for name, d in indegree.items() if d == 0)
    running: list[tuple[float, str]] = []
    now, idle = 0.0, n_workers
    while queue or running:
        while queue and idle:
            op = queue.popleft()
            heapq.heappush(running, (now + costs[op], op))
            idle -= 1
        now = running[0][0]
        while running and running[0][0] == now:
            _, op = heapq.heappop(running)
            idle += 1
            for nxt in consumers[op]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    queue.append(nxt)
    return now
