"""torch's own functional control flow, found wherever the installed release keeps it."""
from __future__ import annotations

from typing import Callable


def torch_while_loop() -> Callable:
    """`torch.while_loop` (public in recent releases; a higher-order op module before that)."""
    import torch

    found = getattr(torch, "while_loop", None)
    if found is None:
        from torch._higher_order_ops.while_loop import while_loop as found
    return found
