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
MAX_TOTAL = 128 * 2**20
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
        try:
            while True:
                line = self._stream.readline(MAX_LINE + 1)
                if not line:
                    break
                if len(line) > MAX_LINE and not line.endswith(b"\n"):
                    self._skip_rest()
                    continue
                tag, _, payload = line.rstrip(b"\n").partition(b" ")
                if tag == self._control and len(payload) <= MAX_CONTROL:
                    try:
                        message = json.loads(payload)
                    except ValueError:
                        continue
                    if isinstance(message, dict):
                        self.messages.put(message)
                    continue
                with self._lock:
                    if tag and tag == self._lab and self._total + len(payload) <= MAX_TOTAL:
                        self._lines.append(payload)
                        self._total += len(payload)
        except (OSError, ValueError):
            pass
        finally:
            self.messages.put(None)

    def _skip_rest(self) -> None:
        while True:
            chunk = self._stream.readline(MAX_LINE)
            if not chunk or chunk.endswith(b"\n"):
                return
