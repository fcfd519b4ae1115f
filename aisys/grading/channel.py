"""The result channel, read as untrusted bytes: tag first, bounded always.

Every line from the grading process tree is `<tag> <json>`. The reader keeps a line only if
its tag is one the parent chose for this moment (the current lab's nonce, or the fork
server's own tag) — checked on the raw bytes, before anything is parsed — and never holds
more than `MAX_LINE` bytes of one line or `MAX_TOTAL` bytes of one lab: a 250 MiB line or a
flood of forged records costs the parent nothing.
"""
from __future__ import annotations

import json
import queue
import threading
from typing import IO

MAX_LINE = 16 * 2**20
MAX_TOTAL = 48 * 2**20         # the largest lab's honest records total ~23 MB
MAX_CONTROL = 2**20


class Channel:
    def __init__(self, stream: IO[bytes], control_tag: str):
        self._stream = stream
        self._control = control_tag.encode()
        self._lab: bytes | None = None
        self._lines: list[bytes] = []
        self._total = 0
        self._lock = threading.Lock()
        self.messages: queue.Queue = queue.Queue()      # the fork server's messages; None at EOF
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def expect(self, nonce: str) -> None:
        """From now on keep records tagged `nonce` (and drop any other lab's)."""
        with self._lock:
            self._lab, self._lines, self._total = nonce.encode(), [], 0

    def take(self) -> list[str]:
        """The current lab's record payloads, decoded; stops expecting them."""
        with self._lock:
            lines, self._lab, self._lines, self._total = self._lines, None, [], 0
        return [line.decode("utf-8", "replace") for line in lines]

    def _read(self) -> None:
        """Split the stream into lines by hand, holding at most MAX_LINE bytes of a line: a
        longer one is dropped as it streams past, never assembled."""
        pending, skipping = bytearray(), False
        try:
            while True:
                chunk = self._stream.read1(1 << 16) if hasattr(self._stream, "read1") else self._stream.read(1 << 16)
                if not chunk:
                    break
                start = 0
                while True:
                    end = chunk.find(b"\n", start)
                    if end < 0:
                        if not skipping:
                            pending += chunk[start:]
                            if len(pending) > MAX_LINE:
                                pending, skipping = bytearray(), True
                        break
                    if not skipping:
                        pending += chunk[start:end]
                        if len(pending) <= MAX_LINE:
                            self._take(bytes(pending))
                    pending, skipping = bytearray(), False
                    start = end + 1
        except (OSError, ValueError):
            pass
        finally:
            self.messages.put(None)

    def _take(self, line: bytes) -> None:
        tag, _, payload = line.partition(b" ")
        if tag == self._control and len(payload) <= MAX_CONTROL:
            try:
                message = json.loads(payload)
            except ValueError:
                return
            if isinstance(message, dict):
                self.messages.put(message)
            return
        with self._lock:
            if tag and tag == self._lab and self._total + len(payload) <= MAX_TOTAL:
                self._lines.append(payload)
                self._total += len(payload)
