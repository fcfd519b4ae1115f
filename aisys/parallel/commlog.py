"""The CommLog: every collective a rank makes, as plain data.

One record per call: {"op", "reduce_op", "bytes", "group_size", "rank", "peer", "async", "start",
"end"}; `reduce_op` ("sum", "max", ...) is set for reductions and None otherwise.
`bytes` is the payload this rank hands to the call (numel × element size of its input;
for recv, of the buffer it fills), so "what did rank r send?" is a sum over its records.
Times are `time.perf_counter()` seconds in this process; an async call gets its `end` when
its handle is waited on (None until then). Checks assert structure from it (how many
all-reduces, which started before backward ended) and demos draw timelines from it.
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterator


class CommLog:
    """The records of one process, oldest first."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def add(self, op: str, nbytes: int, group_size: int, rank: int, *, peer: int | None = None,
            is_async: bool = False, reduce_op: str | None = None) -> dict:
        record = {"op": op, "reduce_op": reduce_op, "bytes": int(nbytes), "group_size": int(group_size), "rank": int(rank),
                  "peer": peer, "async": is_async, "start": time.perf_counter(), "end": None}
        self.records.append(record)
        return record

    def clear(self) -> None:
        self.records.clear()

    def count(self, op: str | None = None) -> int:
        return sum(1 for r in self.records if op is None or r["op"] == op)

    def total_bytes(self, op: str | None = None) -> int:
        return sum(r["bytes"] for r in self.records if op is None or r["op"] == op)

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[dict]]:
        """`with log.capture() as recs:` — recs holds the records made inside the block.

        The records are shared with the log, so an async call's `end` filled in later (when
        it is waited on) shows in `recs` too.
        """
        captured: list[dict] = []
        first = len(self.records)
        try:
            yield captured
        finally:
            captured.extend(self.records[first:])

    capturing = capture


_LOG = CommLog()


def comm_log() -> CommLog:
    """This process's CommLog."""
    return _LOG
