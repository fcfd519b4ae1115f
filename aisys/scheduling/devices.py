"""Heterogeneous hardware as numbers: devices with speeds, and the link between them.

An op of cost c takes `launch + c / speed` on a device: a GPU is fast on big ops but pays
a launch overhead on every op, so tiny ops can be cheaper on the CPU. Moving an op's
output of b bytes to another device takes `latency + b / bandwidth` — and on a slow link
that can cost more than the compute it enables.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    name: str
    kind: str          # "CPU", "GPU", "NPU"
    speed: float       # cost units per time unit
    launch: float = 0.0

    def time(self, cost: float) -> float:
        """How long an op of `cost` runs here."""
        return self.launch + cost / self.speed


@dataclass(frozen=True)
class Link:
    latency: float
    bandwidth: float   # bytes per time unit

    def time(self, nbytes: float) -> float:
        """How long moving `nbytes` between two *different* devices takes."""
        return self.latency + nbytes / self.bandwidth


CPU = Device("cpu", "CPU", speed=1.0)
GPU = Device("gpu", "GPU", speed=4.0, launch=0.25)
NPU = Device("npu", "NPU", speed=3.0, launch=0.1)
PCIE = Link(latency=0.5, bandwidth=64.0)


def transfer(link: Link, nbytes: float, src: str, dst: str) -> float:
    """0 on the same device, else the link time."""
    return 0.0 if src == dst else link.time(nbytes)


def to_plain(devices: list[Device], link: Link) -> dict:
    return {"devices": [[d.name, d.kind, d.speed, d.launch] for d in devices],
            "link": [link.latency, link.bandwidth]}


def from_plain(data: dict) -> tuple[list[Device], Link]:
    return [Device(str(n), str(k), float(s), float(l)) for n, k, s, l in data["devices"]], Link(*data["link"])
