"""The rules graded code runs under, enforced by a CPython audit hook in the child.

An audit hook cannot be removed once added, and it sees every `open` (imports included),
`os.kill`, `os.fork` and process start. Inside graded code it refuses:

- reading the reference answers in `solutions/` (unless the answers themselves are graded);
- signalling any process outside the child's own session (the grader, the machine);
- another process's /proc entries that leak or alter it (fd, mem, environ, ...);
- more than a few process starts per process, and any from a forked copy (no fork loops).

The settings travel in one environment variable, so rank processes a distributed lab
spawns arm the same guard when they first run a case (`execute_case` calls `arm()`).
"""
from __future__ import annotations

import json
import os
import sys

ENV = "AISYS_GRADING_GUARD"
MAX_SPAWNS = 16
_SPAWN_EVENTS = {"os.fork", "os.forkpty", "subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn"}
_PROC_PRIVATE = {"fd", "mem", "environ", "root", "cwd", "map_files", "task"}
_armed_pid: int | None = None


class Refused(PermissionError):
    """What graded code gets when it breaks a rule (an ordinary exception: the case errors)."""


def settings(labs_dir: str, solutions_dir: str) -> str:
    """The guard's settings for a child grading `labs_dir` (JSON for the environment)."""
    graded = os.path.realpath(labs_dir)
    forbidden = os.path.realpath(solutions_dir)
    return json.dumps({"forbidden": "" if graded == forbidden else forbidden})


def arm() -> None:
    """Install the hook once per process, if the environment asks for it."""
    global _armed_pid
    config = os.environ.get(ENV)
    if not config or _armed_pid == os.getpid():
        return
    if _armed_pid is None:
        sys.addaudithook(_Hook(json.loads(config)))
    _armed_pid = os.getpid()


class _Hook:
    def __init__(self, config: dict):
        forbidden = config.get("forbidden") or ""
        self.forbidden = forbidden.rstrip(os.sep) + os.sep if forbidden else ""
        self.home_pid = os.getpid()
        self.session = os.getsid(0)
        self.spawns = 0

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open":
            self._open(args[0])
        elif event in ("os.kill", "os.killpg"):
            self._signal(event, int(args[0]))
        elif event in _SPAWN_EVENTS:
            self._spawn(event)

    def _open(self, path) -> None:
        if isinstance(path, int) or path is None:
            return
        try:
            name = os.fsdecode(path)
        except TypeError:
            return
        real = os.path.realpath(name)
        if self.forbidden and (real + os.sep).startswith(self.forbidden):
            raise Refused("graded code may not read the reference answers in solutions/")
        for seen in (os.path.abspath(name), real):        # /proc/N/fd/1 resolves to a tty or pipe
            parts = seen.split(os.sep)
            if len(parts) > 3 and parts[1] == "proc" and parts[2].isdigit() and parts[3] in _PROC_PRIVATE \
                    and int(parts[2]) != os.getpid():
                raise Refused(f"graded code may not open {seen}")

    def _signal(self, event: str, target: int) -> None:
        if target == 0:
            return                                   # one's own process group
        if target == -1:
            raise Refused("graded code may not signal every process")
        ident = abs(target)
        if event == "os.killpg" or target < -1:      # a process group
            if ident == os.getpgrp():
                return
            try:
                inside = os.getsid(ident) == self.session
            except OSError:
                inside = False                       # its leader is gone: the group can't be shown ours
        else:
            try:
                inside = os.getsid(ident) == self.session
            except OSError:
                return                               # no such process: the call fails on its own
        if not inside:
            raise Refused(f"graded code may not signal processes outside its sandbox ({event} {target})")

    def _spawn(self, event: str) -> None:
        if os.getpid() != self.home_pid:
            raise Refused(f"graded code may not start processes from a forked process ({event})")
        self.spawns += 1
        if self.spawns > MAX_SPAWNS:
            raise Refused(f"graded code started more than {MAX_SPAWNS} processes ({event})")
