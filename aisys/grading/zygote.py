"""The fork server: one process that imports torch and every lab's checks once, then forks
a fresh worker for each lab it is asked to grade.

Importing torch costs over a second; a lab's cases often cost less. So the grader starts one
zygote per grading session (inside the sandbox when there is one), before any student code
runs, and every lab's worker is a fork of it: torch already imported, nothing of a previous
lab left behind. Between labs the zygote kills everything the last worker left: inside a PID
namespace every process but itself and the namespace's init (`kill(-1)`); outside one, the
worker's whole tree and the orphans it adopted as a child subreaper. It also enforces the
lab's time and process budget. It never runs student code itself, and it is not dumpable, so
a worker cannot read or write its memory.

Protocol — orders arrive as JSON lines on stdin (a hello, then one per lab); everything goes
back on stdout as lines `<tag> <json>`: workers write case records under the lab's nonce, the
zygote writes `{"done": nonce, ...}` under its own tag when a lab ends. The parent drops any
line whose tag it did not choose for that moment.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import sys
import time

MAX_FEEDBACK = 16_000
POLL_S = 0.05


def main() -> None:
    results = os.dup(1)                      # the channel; the zygote itself prints nothing there
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    control = sys.stdin.buffer
    hello = json.loads(control.readline())
    tag = hello["tag"].encode()
    isolated = bool(hello.get("isolated")) and os.getpid() == 2   # bwrap's init is 1, we are 2
    _preload(hello.get("preload", []))
    _undumpable()
    if not isolated:
        _subreaper()
    _say(results, tag, {"ready": True, "threads": _threads()})
    forking = hasattr(os, "fork")
    for line in control:
        if not line.strip():
            continue
        order = json.loads(line)
        report = _grade_one(order, results, isolated, fork=forking)
        _say(results, tag, report)
        if not forking:
            break


def _preload(modules: list[str]) -> None:
    """Import what every worker needs, before any student code exists in this process tree:
    nothing a worker imports later can come from a file student code planted."""
    import resource  # noqa: F401 - the worker's rlimits
    import traceback  # noqa: F401

    import numpy  # noqa: F401

    from aisys.grading import execute, guard, plain, reaper, spec, worker  # noqa: F401
    from aisys import catalog, workspace  # noqa: F401

    try:
        import torch  # noqa: F401
        import torch.distributed  # noqa: F401
    except ImportError:
        pass
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:   # noqa: BLE001 - the parent reports a broken checks module itself
            pass


def _grade_one(order: dict, results: int, isolated: bool, *, fork: bool) -> dict:
    from aisys.grading import reaper, worker

    started = time.monotonic()
    workdir = order["workdir"]
    os.makedirs(workdir, exist_ok=True)
    feedback = os.path.join(order["scratch"], f"feedback-{order['nonce'][:8]}")
    if not fork:                                 # no fork here (Windows): grade in this process
        worker.run_lab(order, results, feedback, forked=False)
        return {"done": order["nonce"], "returncode": 0, "timed_out": False, "killed_because": "",
                "feedback": _read_feedback(feedback), "duration_s": round(time.monotonic() - started, 3)}
    pid = os.fork()
    if pid == 0:
        os.setsid()
        worker.run_lab(order, results, feedback)   # never returns
    report = {"done": order["nonce"], "returncode": None, "timed_out": False, "killed_because": ""}
    deadline = started + float(order["timeout"])
    limit = int(order.get("max_processes", 32))
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done == pid:
            report["returncode"] = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() >= deadline:
            report["timed_out"] = True
            break
        if _population(pid, isolated) > limit:
            report["killed_because"] = f"it started more than {limit} processes"
            break
        time.sleep(POLL_S)
    _clean_up(pid, isolated, reaper)
    report["feedback"] = _read_feedback(feedback)
    for path in (feedback, workdir):
        _remove(path)
    if isolated:
        _remove_contents("/dev/shm")
    report["duration_s"] = round(time.monotonic() - started, 3)
    return report


def _population(pid: int, isolated: bool) -> int:
    """Processes the lab has: in a PID namespace all but init and us; else the worker's tree."""
    if isolated:
        return sum(name.isdigit() for name in os.listdir("/proc")) - 2
    from aisys.grading.reaper import descendants

    return 1 + len(descendants(pid))


def _clean_up(pid: int, isolated: bool, reaper) -> None:
    """Kill everything the lab left, a few rounds to catch forks in flight; reap it all."""
    for _ in range(4):
        if isolated:
            try:
                os.kill(-1, signal.SIGKILL)      # every process we may signal but init and us
            except ProcessLookupError:
                pass
        else:
            reaper.kill_tree(pid)
            for child in _children():
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        _reap()
        if not _children():
            break
        time.sleep(0.02)


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[1].decode() == me:
                        found.append(int(name))
            except (OSError, IndexError):
                continue
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_feedback(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_FEEDBACK).decode("utf-8", "replace")
    except OSError:
        return ""


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, _ in os.walk(path):     # a worker may have chmod 000'd a folder
            for name in dirs:
                try:
                    os.chmod(os.path.join(root, name), 0o700)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _remove_contents(folder: str) -> None:
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        _remove(os.path.join(folder, name))


def _say(fd: int, tag: bytes, message: dict) -> None:
    data = b"\n" + tag + b" " + json.dumps(message).encode() + b"\n"   # \n: ends a worker's half line
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _undumpable() -> None:
    """PR_SET_DUMPABLE 0: no ptrace and no /proc/<pid>/mem for same-uid processes (workers)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _subreaper() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


if __name__ == "__main__":
    main()
