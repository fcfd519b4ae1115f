"""The collectives every lab calls: torch.distributed, plus one CommLog record per call.

    from aisys.parallel import comm
    comm.all_reduce(grad, op="avg")                 # in place, like torch
    work = comm.all_reduce(bucket, async_op=True)   # ... overlap compute ...
    work.wait()                                     # the record's `end` is set here

Defaults follow the current scope (`aisys.parallel.context.scope`), so the same student code
runs on the whole world or on the first w ranks. Shims cover torch's renames (2.13 calls
`all_gather_into_tensor`/`reduce_scatter_tensor` `all_gather_single`/`reduce_scatter_single`;
2.11 lacks the new names). gloo cannot send/recv CUDA tensors (TORCH_NOTES): point-to-point
calls stage through CPU there.
"""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Callable

from aisys.parallel import context
from aisys.parallel.commlog import CommLog, comm_log  # noqa: F401 - re-exported

OPS = ("sum", "avg", "max", "min", "product")


def _dist():
    import torch.distributed as dist

    return dist


def _reduce_op(op: str):
    dist = _dist()
    if op not in OPS:
        raise ValueError(f"unknown reduce op {op!r}; use one of {', '.join(OPS)}")
    return {"sum": dist.ReduceOp.SUM, "avg": dist.ReduceOp.AVG, "max": dist.ReduceOp.MAX,
            "min": dist.ReduceOp.MIN, "product": dist.ReduceOp.PRODUCT}[op]


def _group(group: Any) -> Any:
    return context.current_group() if group is None else group


def _group_size(group: Any) -> int:
    return _dist().get_world_size(group) if group is not None else context.world_size()


def _nbytes(t) -> int:
    return t.numel() * t.element_size()


class LoggedWork:
    """An async handle whose `wait()` stamps the record's end (and runs a finishing step)."""

    def __init__(self, work: Any, record: dict, finish: Callable[[], None] | None = None):
        self.work, self.record, self._finish = work, record, finish

    def wait(self, timeout: Any = None) -> bool:
        """Wait (by default at most the group timeout: gloo's p2p waits have none of their own)."""
        if timeout is None and context.group_timeout():
            timeout = timedelta(seconds=context.group_timeout())
        ok = self.work.wait() if timeout is None else self.work.wait(timeout)
        if self.record["end"] is None:
            if self._finish is not None:
                self._finish()
            self.record["end"] = time.perf_counter()
        return ok if isinstance(ok, bool) else True

    def is_completed(self) -> bool:
        return self.work.is_completed()

    def get_future(self) -> Any:
        return self.work.get_future()


def _logged(op: str, nbytes: int, group: Any, call: Callable[[], Any], async_op: bool, *,
            peer: int | None = None, finish: Callable[[], None] | None = None,
            reduce_op: str | None = None) -> Any:
    record = comm_log().add(op, nbytes, _group_size(group), context.rank(), peer=peer, is_async=async_op,
                            reduce_op=reduce_op)
    work = call()
    if async_op:
        return LoggedWork(work, record, finish)
    if finish is not None:
        finish()
    record["end"] = time.perf_counter()
    return None


def all_reduce(t, op: str = "sum", group: Any = None, async_op: bool = False) -> Any:
    """Reduce `t` across the group, in place, on every rank."""
    g = _group(group)
    return _logged("all_reduce", _nbytes(t), g,
                   lambda: _dist().all_reduce(t, op=_reduce_op(op), group=g, async_op=async_op), async_op,
                   reduce_op=op)


def all_gather(t, group: Any = None) -> list:
    """Every rank's `t` (same shape on all ranks), in rank order."""
    import torch

    g = _group(group)
    out = [torch.empty_like(t) for _ in range(_group_size(g))]
    _logged("all_gather", _nbytes(t), g, lambda: _dist().all_gather(out, t, group=g), False)
    return out


def all_gather_into_tensor(out, inp, group: Any = None, async_op: bool = False) -> Any:
    """Concatenate every rank's `inp` along dim 0 into `out` (flat outputs only on gloo)."""
    dist, g = _dist(), _group(group)
    fn = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    return _logged("all_gather_into_tensor", _nbytes(inp), g,
                   lambda: fn(out, inp, group=g, async_op=async_op), async_op)


def reduce_scatter_tensor(out, inp, op: str = "sum", group: Any = None, async_op: bool = False) -> Any:
    """Reduce `inp` across ranks and keep this rank's dim-0 slice in `out`."""
    dist, g = _dist(), _group(group)
    fn = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
    return _logged("reduce_scatter_tensor", _nbytes(inp), g,
                   lambda: fn(out, inp, op=_reduce_op(op), group=g, async_op=async_op), async_op,
                   reduce_op=op)


def broadcast(t, src: int, group: Any = None, async_op: bool = False) -> Any:
    """Copy rank `src`'s `t` into `t` on every rank (src is a global rank)."""
    g = _group(group)
    return _logged("broadcast", _nbytes(t), g,
                   lambda: _dist().broadcast(t, src=src, group=g, async_op=async_op), async_op)


def _staged(t):
    """gloo cannot move CUDA tensors point-to-point: use a CPU copy there."""
    return t.cpu() if t.is_cuda and context.backend() == "gloo" else t


def isend(t, dst: int) -> LoggedWork:
    """Start sending `t` to rank `dst`; `.wait()` before reusing `t`."""
    buf = _staged(t)
    return _logged("send", _nbytes(t), None, lambda: _dist().isend(buf, dst), True, peer=dst)


def irecv(t, src: int) -> LoggedWork:
    """Start receiving into `t` from rank `src`; the data is there after `.wait()`."""
    buf = _staged(t)
    finish = (lambda: t.copy_(buf)) if buf is not t else None
    return _logged("recv", _nbytes(t), None, lambda: _dist().irecv(buf, src), True, peer=src, finish=finish)


def send(t, dst: int) -> None:
    isend(t, dst).wait()


def recv(t, src: int) -> None:
    irecv(t, src).wait()


def barrier(group: Any = None) -> None:
    g = _group(group)
    _logged("barrier", 0, g, lambda: _dist().barrier(group=g), False)


__all__ = ["CommLog", "LoggedWork", "all_gather", "all_gather_into_tensor", "all_reduce", "barrier",
           "broadcast", "comm_log", "irecv", "isend", "recv", "reduce_scatter_tensor", "send"]
