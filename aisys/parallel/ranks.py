"""The processes behind `launch`: start ranks, hear from them, and always clean up.

A rank talks to the parent over its own pipe: ("msg", data) any number of times (see
`send_to_parent`), then ("done", result) or ("error", traceback). After "done" it waits for
the parent's go-ahead before exiting, so no rank leaves while a peer may still talk to it;
after "error" it exits at once, so peers blocked on it fail fast instead of waiting for the
group timeout.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from datetime import timedelta
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator

from aisys.parallel import context

FAILURE_GRACE_S = 5.0       # after one rank fails, how long the others get to report theirs
_CHANNEL = None              # this rank's pipe to the parent (None outside a spawned rank)
_GROUP: dict = {}            # how this rank's world group was built, to rebuild it later


class LaunchError(RuntimeError):
    """One or more ranks failed; `failures` maps rank → traceback or reason."""

    def __init__(self, failures: dict[int, str], world: int):
        self.failures = dict(sorted(failures.items()))
        blocks = [f"── rank {r} ──\n{text.rstrip()}" for r, text in self.failures.items()]
        if any("timed out" in text.lower() for text in self.failures.values()):
            blocks.append(f"(a collective timed out: did some rank of the {world} skip it, or call a "
                          "different one? every rank must make the same collectives in the same order)")
        super().__init__(f"{len(self.failures)} of {world} ranks failed:\n" + "\n".join(blocks))


def under_torchrun() -> bool:
    """True when torchrun (or any env:// launcher) started this process."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


def init_group(backend: str, device_type: str, local_rank: int, timeout: float, *,
               init_method: str | None = None, store: Any = None, rank: int | None = None,
               world_size: int | None = None) -> None:
    """Initialise torch.distributed for this rank and record who it is."""
    import torch
    import torch.distributed as dist

    if device_type == "cuda":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    kwargs: dict = {"backend": backend, "timeout": timedelta(seconds=timeout)}
    if store is not None:
        kwargs.update(store=store, rank=rank, world_size=world_size)
    else:
        kwargs["init_method"] = init_method
    dist.init_process_group(**kwargs)
    _GROUP.update(backend=backend, timeout=timeout, store=store, rank=rank, world_size=world_size,
                  generation=0)
    context.configure(backend, device_type, local_rank, timeout)
    context.settle()


def rebuild_group() -> bool:
    """Replace a world group that a failed collective left out of step (all ranks must call).

    Returns False where it cannot (under torchrun): the caller should stop using the group.
    """
    import torch.distributed as dist

    if _GROUP.get("store") is None:
        return False
    _GROUP["generation"] += 1
    abandon_group()
    store = dist.PrefixStore(f"generation-{_GROUP['generation']}", _GROUP["store"])
    dist.init_process_group(backend=_GROUP["backend"], store=store, rank=_GROUP["rank"],
                            world_size=_GROUP["world_size"], timeout=timedelta(seconds=_GROUP["timeout"]))
    context.settle()
    return True


def abandon_group() -> None:
    """Destroy this rank's process group now: peers blocked on it fail at once instead of
    waiting for the timeout (their connections close)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    context.reset_groups()


def world_of_launch() -> int:
    """Ranks in this launch (or torchrun job), even while the group is being rebuilt."""
    import torch.distributed as dist

    return _GROUP.get("world_size") or dist.get_world_size()


def rank_of_launch() -> int:
    """This rank's number in its launch, even while the group is down or being rebuilt."""
    import torch.distributed as dist

    rank = _GROUP.get("rank")
    return rank if rank is not None else dist.get_rank()


def base_store() -> Any:
    """The rendezvous store (a FileStore) of a spawned rank, usable as a side channel."""
    return _GROUP.get("store")


def send_to_parent(data: Any) -> None:
    """Stream a picklable message to the launching process (ignored outside spawned ranks)."""
    if _CHANNEL is not None:
        _CHANNEL.send(("msg", data))


def _die_with_parent() -> None:
    """Linux: SIGKILL this rank if the launching process dies (no orphans even on SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _rank_main(rank: int, world: int, backend: str, device_type: str, timeout: float, store_path: str,
               fn: Callable, args: tuple, conn) -> None:
    global _CHANNEL
    _die_with_parent()
    _CHANNEL = conn
    try:
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)   # the fork trap: a forked child's first threaded op can hang
        init_group(backend, device_type, rank, timeout, store=dist.FileStore(store_path, world),
                   rank=rank, world_size=world)
        result = fn(*args)
        conn.send(("done", result))
    except BaseException:  # report everything, including SystemExit and KeyboardInterrupt
        _send_quietly(conn, ("error", traceback.format_exc()))
        _flush_and_exit(1)
    try:
        conn.recv()        # the parent's go-ahead: every rank is done
    except (EOFError, OSError):
        pass
    _flush_and_exit(0)


def _send_quietly(conn, message: tuple) -> None:
    try:
        conn.send(message)
    except Exception:
        pass


def _flush_and_exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)   # skip interpreter teardown: a half-dead process group can hang it


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name} without reporting"
        except ValueError:
            return f"killed by signal {-code} without reporting"
    return f"exited with code {code} without reporting a result"


class RankSet:
    """The ranks of one launch. Use as a context manager: leaving it kills what is left."""

    def __init__(self, fn: Callable, args: tuple, nproc: int, backend: str, device_type: str,
                 timeout: float, store_path: str):
        self.nproc, self.timeout = nproc, timeout
        self._spec = (backend, device_type, timeout, store_path, fn, args)
        self._method = "fork" if device_type == "cpu" and "fork" in mp.get_all_start_methods() else "spawn"
        self.procs: list = []
        self.conns: list = []
        self.finished: set[int] = set()
        self._closers: list[Callable[[], None]] = []

    def on_close(self, action: Callable[[], None]) -> None:
        self._closers.append(action)

    def start(self) -> None:
        if self._method == "fork":     # import once here; forked ranks share it (no threads start yet)
            import torch.distributed  # noqa: F401
        ctx = mp.get_context(self._method)
        backend, device_type, timeout, store_path, fn, args = self._spec
        for r in range(self.nproc):
            parent_end, child_end = ctx.Pipe(duplex=True)
            proc = ctx.Process(target=_rank_main, name=f"aisys-rank-{r}", daemon=True,
                               args=(r, self.nproc, backend, device_type, timeout, store_path, fn, args,
                                     child_end))
            proc.start()
            child_end.close()
            self.procs.append(proc)
            self.conns.append(parent_end)

    def events(self, timeout: float | None) -> Iterator[tuple[int, str, Any] | None]:
        """(rank, kind, payload) as they come; kind is msg|done|error|died. None on timeout."""
        while len(self.finished) < self.nproc:
            yield self.next_event(timeout)

    def next_event(self, timeout: float | None) -> tuple[int, str, Any] | None:
        pending = [r for r in range(self.nproc) if r not in self.finished]
        ready = wait([self.conns[r] for r in pending] + [self.procs[r].sentinel for r in pending], timeout)
        if not ready:
            return None
        for r in pending:
            conn, sentinel = self.conns[r], self.procs[r].sentinel
            if conn in ready or (sentinel in ready and conn.poll()):
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    self.procs[r].join(1.0)
                    kind, payload = "died", _exit_reason(self.procs[r].exitcode)
                except Exception as err:   # a result the parent cannot unpickle
                    kind, payload = "error", f"could not read this rank's result: {err!r}"
            elif sentinel in ready:
                self.procs[r].join(1.0)
                kind, payload = "died", _exit_reason(self.procs[r].exitcode)
            else:
                continue
            if kind != "msg":
                self.finished.add(r)
            return r, kind, payload
        return None

    def results(self, wall_timeout: float | None = None) -> list:
        """Every rank's result in rank order, or LaunchError naming each failed rank."""
        results: dict[int, Any] = {}
        failures: dict[int, str] = {}
        deadline = None if wall_timeout is None else time.monotonic() + wall_timeout
        while len(self.finished) < self.nproc:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = self.next_event(left)
            if event is None:
                why = (f"still running {FAILURE_GRACE_S:g} s after another rank failed "
                       "(probably waiting in a collective for it); killed") if failures else \
                      f"still running after {wall_timeout:g} s; killed"
                failures.update({r: why for r in range(self.nproc) if r not in self.finished})
                break
            r, kind, payload = event
            if kind == "done":
                results[r] = payload
            elif kind in ("error", "died"):
                if not failures:
                    grace = time.monotonic() + min(FAILURE_GRACE_S, self.timeout)
                    deadline = grace if deadline is None else min(deadline, grace)
                failures[r] = payload
        if failures:
            self.kill()
            raise LaunchError(failures, self.nproc)
        return [results[r] for r in range(self.nproc)]

    def kill(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join(2.0)

    def close(self) -> None:
        for conn in self.conns:
            _send_quietly(conn, "exit")
        end = time.monotonic() + 3.0
        for proc in self.procs:
            proc.join(max(0.0, end - time.monotonic()))
        self.kill()
        for conn in self.conns:
            conn.close()
        for action in self._closers:
            action()

    def __enter__(self) -> "RankSet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
