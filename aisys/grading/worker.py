"""The worker: the process that runs one lab's cases on student code.

The fork server (`aisys.grading.zygote`) forks one worker per lab. A worker starts its own
session, lowers its rlimits (hard, so graded code can't raise them back), sends its
stdout/stderr to a feedback file (shown to the student, never parsed), arms the audit-hook
guard, loads the student's files by path, and writes one record per case to the result
channel: a line `<nonce> <json>`. The parent believes only lines carrying the nonce it chose
for this lab, and judges every output itself: a forged record earns nothing.
"""
from __future__ import annotations

import os
import sys
import traceback


def apply_limits(cpu_seconds: int, file_bytes: int, address_bytes: int = 0, processes: int = 0) -> None:
    """rlimits where the platform has them: CPU time, file size, no core dumps, (for
    CPU-only work; CUDA maps huge virtual ranges) address space, and (inside a user
    namespace, where it counts only the sandbox's processes) the number of processes.
    Hard limits are lowered too, so graded code cannot raise them back."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    limits = [(resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_FSIZE, file_bytes, 0),
              (resource.RLIMIT_CPU, cpu_seconds, 5)]   # SIGXCPU at the soft limit, SIGKILL 5 s later
    if address_bytes > 0:
        limits.append((resource.RLIMIT_AS, address_bytes, 0))
    if processes > 0 and hasattr(resource, "RLIMIT_NPROC"):
        limits.append((resource.RLIMIT_NPROC, processes, 0))
    for limit, value, grace in limits:
        try:
            _, hard = resource.getrlimit(limit)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            top = cap + grace if hard == resource.RLIM_INFINITY else min(cap + grace, hard)
            resource.setrlimit(limit, (cap, top))
        except (ValueError, OSError):
            pass


def run_lab(order: dict, results_fd: int, feedback_path: str, *, forked: bool = True) -> None:
    """The whole life of a forked worker; never returns (exits with os._exit). Unforked
    (no `fork` on this platform) it grades in the calling process and returns."""
    code = 1
    try:
        if forked:
            _dumpable()
        _redirect(feedback_path)
        os.chdir(order["workdir"])
        os.environ.update(HOME=order["workdir"], TMPDIR=order["workdir"])
        apply_limits(int(order["cpu_seconds"]), int(order["file_bytes"]), int(order.get("address_bytes", 0)),
                     int(order.get("processes", 0)))
        _grade(order, results_fd)
        code = 0
    except BaseException:   # noqa: BLE001 - the feedback file is where a crash can be told
        try:
            traceback.print_exc()
        except BaseException:   # noqa: BLE001
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:   # noqa: BLE001
                pass
        if forked:
            os._exit(code)


def _dumpable() -> None:
    """The fork server made itself undumpable (so workers cannot read its memory); a worker
    is an ordinary process again, so its own /proc entries stay readable to it."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0)   # PR_SET_DUMPABLE
        except (OSError, AttributeError):
            pass


def _redirect(feedback_path: str) -> None:
    """stdin from /dev/null (the fork server's orders are not the student's), stdout and
    stderr to the feedback file."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    out = os.open(feedback_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)


def _grade(order: dict, results_fd: int) -> None:
    import importlib
    from pathlib import Path

    from aisys.catalog import find_lab
    from aisys.grading import guard
    from aisys.grading.execute import cap_case_time
    from aisys.grading.plain import dumps
    from aisys.grading.spec import Case
    from aisys.workspace import Student

    nonce = order["nonce"].encode()
    cap_case_time(order.get("case_time_cap"))
    lab = find_lab(order["lab"])
    suite = importlib.import_module(lab.checks_module).SUITE
    student = Student(lab, Path(order["labs_dir"]))
    cases = [Case(**case) for case in order["cases"]]

    def emit(record: dict) -> None:
        data = nonce + b" " + dumps(record).encode("utf-8", "surrogatepass") + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(results_fd, view):]

    guard.arm()          # the settings are in the environment: rank processes arm it too
    suite.run_cases(cases, student, emit)
