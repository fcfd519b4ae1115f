"""The transfers a heterogeneous schedule implies, as rows of a timeline.

A schedule of ops on devices (HEFT's) moves a tensor whenever a consumer runs on another
device than its producer: the move starts when the producer ends and takes the link's
`latency + bytes / bandwidth`. Drawing those moves as their own rows — in the terminal Gantt
and in the Chrome trace — shows what the schedule pays for communication next to compute.
A value moves to a device once, however many ops there read it; moves that overlap on one
route get lanes of their own ("link cpu→gpu", "link cpu→gpu #2").
"""
from __future__ import annotations

from aisys.graph.ir import Graph
from aisys.scheduling.devices import Link
from aisys.scheduling.timeline import Timeline

LINK = "link"


def transfers(graph: Graph, timeline: Timeline, link: Link) -> list[tuple[str, str, str, float, float]]:
    """(value, from device, to device, start, end) for every value that crosses devices."""
    place, end = timeline.placement(), {s.op: s.end for s in timeline.slots}
    moves: dict[tuple[str, str], tuple[str, str, str, float, float]] = {}
    for node in graph:
        for src in node.inputs:
            a, b = place[src], place[node.name]
            if a != b and (src, b) not in moves:
                size = float(graph[src].attrs.get("bytes", 0))
                moves[(src, b)] = (src, a, b, end[src], end[src] + link.time(size))
    return sorted(moves.values(), key=lambda m: (m[3], m[0]))


def with_transfers(graph: Graph, timeline: Timeline, link: Link) -> Timeline:
    """The schedule's device rows followed by link rows holding the transfers."""
    out = Timeline(workers=list(timeline.workers))
    for s in timeline.slots:
        out.add(s.op, s.worker, s.start, s.end)
    lanes: dict[str, list[float]] = {}
    for value, a, b, start, end in transfers(graph, timeline, link):
        ends = lanes.setdefault(f"{a}→{b}", [])
        lane = next((k for k, free in enumerate(ends) if free <= start), len(ends))
        ends[lane:lane + 1] = [end]
        out.add(value, f"{LINK} {a}→{b}" + (f" #{lane + 1}" if lane else ""), start, end)
    return out
