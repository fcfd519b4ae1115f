"""Run a function on N ranks as real processes with torch.distributed initialised.

    results = launch(fn, 4, x)          # [fn(x) on rank 0, ..., fn(x) on rank 3]

How it avoids the classic failures (measured in shared/TORCH_NOTES.md):

- rendezvous through a FileStore on a fresh `mkdtemp()` path: no port to race for, so
  many launches can run at once;
- every process group gets `timeout` (gloo's default is 30 minutes);
- a rank that fails sends its traceback to the parent and exits, which makes its gloo peers
  fail at once; the parent collects every failed rank's traceback (labelled by rank), kills
  whatever is left and raises `LaunchError` — no orphans (ranks also die with the parent);
- ranks are children in the caller's process group (no new session), so a grader that
  kills its group kills them too.

Under torchrun (RANK, WORLD_SIZE and MASTER_ADDR in the environment) nothing is spawned:
this process joins the env:// group and `launch` returns `[fn(*args)]` for this rank only.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Callable

from aisys.parallel.context import device, rank, world_size  # noqa: F401 - public API
from aisys.parallel.policy import choose_backend
from aisys.parallel.ranks import LaunchError, RankSet, init_group, under_torchrun

__all__ = ["LaunchError", "launch", "rank", "world_size", "device", "under_torchrun", "spawn_ranks"]


def launch(fn: Callable[..., Any], nproc: int, *args: Any, backend: str = "auto", device: str = "auto",
           timeout: float = 30.0, wall_timeout: float | None = None) -> list:
    """`fn(*args)` on `nproc` ranks; each rank's return value, in rank order.

    `timeout` bounds every collective (the process group's timeout); `wall_timeout`, if
    given, bounds the whole run. Raises `LaunchError` naming every failed rank.
    """
    if under_torchrun():
        return [join_torchrun(fn, args, backend=backend, device=device, timeout=timeout)]
    chosen_backend, device_type = choose_backend(nproc, backend, device)
    with spawn_ranks(fn, args, nproc, chosen_backend, device_type, timeout) as ranks:
        return ranks.results(wall_timeout)


def spawn_ranks(fn: Callable[..., Any], args: tuple, nproc: int, backend: str, device_type: str,
                timeout: float) -> RankSet:
    """Start the ranks and return a RankSet (a context manager that always cleans up)."""
    store_dir = tempfile.mkdtemp(prefix="aisys-rdzv-")
    ranks = RankSet(fn, args, nproc, backend, device_type, timeout,
                    store_path=os.path.join(store_dir, "store"))
    ranks.on_close(lambda: shutil.rmtree(store_dir, ignore_errors=True))
    ranks.start()
    return ranks


def join_torchrun(fn: Callable[..., Any], args: tuple, *, backend: str = "auto", device: str = "auto",
                  timeout: float = 30.0) -> Any:
    """Join (once) the group torchrun set up, then run `fn(*args)` on this rank."""
    import torch.distributed as dist

    if not dist.is_initialized():
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
        chosen_backend, device_type = choose_backend(local_world, backend, device)
        init_group(chosen_backend, device_type, int(os.environ.get("LOCAL_RANK", 0)), timeout,
                   init_method="env://")
    return fn(*args)
