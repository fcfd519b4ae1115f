"""Live heap bytes of this process, sampled at chosen moments (how FSDP's memory is measured).

glibc's `mallinfo2()` reports the bytes malloc has handed out and not taken back, over
all arenas plus mmapped blocks; torch's CPU allocator takes tensor memory from malloc, so
the difference between two samples is what was allocated and kept in between — tensors
freed by resizing their storage to 0 included. Python objects above 512 bytes come from
malloc too: a few hundred bytes of noise per sample, small next to a weight matrix.

Elsewhere (macOS, musl) there is no such counter: `live_bytes()` returns None and the
memory part of a check reports "not measured on this platform".
"""
from __future__ import annotations

import ctypes
from typing import Callable


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


def _reader() -> Callable[[], int] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2

    def read() -> int:
        info = fn()
        return int(info.uordblks + info.hblkhd)
    return read


_READ = _reader()


def live_bytes() -> int | None:
    """Heap bytes in use now (None where the platform has no counter)."""
    return None if _READ is None else _READ()


class Probe:
    """Samples (label, live bytes − baseline) in the order they are taken."""

    def __init__(self) -> None:
        self.samples: list[tuple[str, int]] = []
        self.base = 0

    @property
    def available(self) -> bool:
        return _READ is not None

    def start(self) -> None:
        self.samples.clear()
        self.base = live_bytes() or 0

    def mark(self, label: str) -> None:
        now = live_bytes()
        if now is not None:
            self.samples.append((label, now - self.base))
