"""Leaving no process behind: kill a child's whole tree, and adopt what escapes it.

`killpg` on the child's session reaches everything that stayed in it. A process that called
`setsid()` escapes the group but not the process tree, so before killing we walk /proc for
every descendant. One whose parent already died would be re-parented to init; inside
`reaping()` this process is a child subreaper (Linux), so such orphans come to us instead
and are killed when a lab finishes. Off Linux only the process group is killed.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator

_lock = threading.Lock()
_workers: set[int] = set()       # live worker pids: never swept as orphans
_subreaper = False
_since = 0                       # clock ticks after boot when reaping began


def _table() -> dict[int, tuple[int, int, int]]:
    """pid → (parent pid, session id, start time in clock ticks after boot) for every process."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            table[int(name)] = (int(fields[1]), int(fields[3]), int(fields[19]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def descendants(pid: int) -> set[int]:
    """Every process below `pid` in the tree, plus every member of its session."""
    table = _table()
    found = {p for p, (_, sid, _) in table.items() if sid == pid and p != pid}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for p, (ppid, _, _) in table.items():
            if ppid == parent and p not in found:
                found.add(p)
                frontier.append(p)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL `pid`'s session and every descendant, a few rounds to catch forks in flight."""
    for _ in range(3):
        victims = descendants(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for victim in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, signal.SIGKILL)
        if not victims:
            break


@contextlib.contextmanager
def spawning() -> Iterator[None]:
    """Hold while starting a worker (then `register` it) so a sweep never takes it for an orphan."""
    with _lock:
        yield


def register(pid: int) -> None:
    _workers.add(pid)


def unregister(pid: int) -> None:
    with _lock:
        _workers.discard(pid)
    sweep()


def sweep() -> None:
    """Kill and reap orphans re-parented to us (only while we are a subreaper): children that
    are not workers and started after grading began, so a caller's own children are spared."""
    if not _subreaper:
        return
    me = os.getpid()
    with _lock:
        orphans = [p for p, (ppid, _, started) in _table().items()
                   if ppid == me and p not in _workers and started >= _since]
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in orphans:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)


@contextlib.contextmanager
def reaping() -> Iterator[None]:
    """Become a child subreaper for the duration of a grading run (Linux; harmless elsewhere)."""
    global _subreaper, _since
    enabled_here = not _subreaper and _set_subreaper(1)
    if enabled_here:
        _since = _ticks_since_boot()
    _subreaper = _subreaper or enabled_here
    try:
        yield
    finally:
        sweep()
        if enabled_here:
            _set_subreaper(0)
            _subreaper = False


def _ticks_since_boot() -> int:
    try:
        with open("/proc/uptime") as f:
            return int(float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK")) + 1   # strictly after
    except (OSError, ValueError):
        return 0


def _set_subreaper(flag: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, flag, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False
