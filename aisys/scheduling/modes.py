"""Three ways to execute a graph, counted by how often the host talks to a device.

- **single-op** (eager, PyTorch's default): the host launches every op and learns it has
  finished: 2 interactions per op — flexible, but the host is in the loop all the time;
- **whole-graph sinking** (TensorFlow/MindSpore graph mode on an accelerator): the graph
  is sent down once and runs on the device; 2 interactions for the whole run;
- **partitioned** across devices: one subgraph per device (2 interactions each), and the
  devices exchange tensors directly through the inserted send/recv pairs.
"""
from __future__ import annotations

from aisys.graph.ir import Graph

COMM = ("send", "recv")


def interaction_counts(graph: Graph, partitioned: Graph | None = None) -> list[dict]:
    """Rows {mode, launches, host_device, device_device} for a graph (and its partition)."""
    ops = sum(1 for n in graph if n.op not in ("input", "param"))
    rows = [{"mode": "single-op (eager)", "launches": ops, "host_device": 2 * ops, "device_device": 0},
            {"mode": "whole graph (sunk)", "launches": 1, "host_device": 2, "device_device": 0}]
    if partitioned is not None:
        devices = {n.attrs.get("device") for n in partitioned if n.op not in COMM}
        sends = sum(1 for n in partitioned if n.op == "send")
        rows.append({"mode": f"partitioned ({len(devices)} devices)", "launches": len(devices),
                     "host_device": 2 * len(devices), "device_device": sends})
    return rows
