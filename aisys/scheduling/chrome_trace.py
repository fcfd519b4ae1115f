"""Timelines as Chrome trace event JSON, the format chrome://tracing and Perfetto open.

Each timeline becomes a process (`pid`), each worker, device or link a thread (`tid`), each
op or transfer a complete event (`ph: "X"`, category "op" or "transfer") with a start `ts`
and a duration `dur` in microseconds.
Metadata events (`ph: "M"`) give processes and threads readable names.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from aisys.scheduling.timeline import Timeline
from aisys.scheduling.transfers import LINK


def chrome_trace(timelines: Mapping[str, Timeline], us_per_unit: float = 1000.0) -> dict:
    """{"traceEvents": [...]}: one process per named timeline; one time unit = `us_per_unit` µs."""
    events: list[dict] = []
    for pid, (title, timeline) in enumerate(timelines.items(), start=1):
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "ts": 0,
                       "args": {"name": title}})
        tids = {worker: tid for tid, worker in enumerate(timeline.workers, start=1)}
        for worker, tid in tids.items():
            events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "ts": 0,
                           "args": {"name": worker}})
        for slot in timeline.slots:
            kind = "transfer" if slot.worker.startswith(LINK) else "op"   # link rows: see transfers.py
            events.append({"ph": "X", "name": slot.op, "cat": kind, "pid": pid, "tid": tids[slot.worker],
                           "ts": round(slot.start * us_per_unit, 3), "dur": round(slot.duration * us_per_unit, 3),
                           "args": {"worker": slot.worker}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_chrome_trace(path: str | Path, timelines: Mapping[str, Timeline], us_per_unit: float = 1000.0) -> Path:
    path = Path(path)
    path.write_text(json.dumps(chrome_trace(timelines, us_per_unit), indent=1))
    return path
