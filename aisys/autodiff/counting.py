"""Counting calls of a student's function, to grade and show *how* a result was computed.

`jacobian_forward` must make n JVPs and `jacobian_reverse` m VJPs: the checks and the demo
wrap the student's `jvp` / `grad` for the duration of one call and read the counter.
"""
from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Iterator


@contextlib.contextmanager
def counting_calls(owner: ModuleType, name: str, *aliases: ModuleType) -> Iterator[dict]:
    """Replace `owner.name` (and the same object bound in `aliases`) by a counting wrapper.

    Yields {"calls": n}, updated live; the original is restored on exit.
    """
    original = getattr(owner, name)
    counter = {"calls": 0}

    def counted(*args, **kwargs):
        counter["calls"] += 1
        return original(*args, **kwargs)

    patched = [m for m in (owner, *aliases) if getattr(m, name, None) is original]
    for module in patched:
        setattr(module, name, counted)
    try:
        yield counter
    finally:
        for module in patched:
            setattr(module, name, original)
