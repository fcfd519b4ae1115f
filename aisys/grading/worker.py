"""The child process that runs one lab's cases on student code.

Started by `aisys.grading.sandbox` as `python -I ...` in its own session, a temporary
working directory and a clean environment. It reads its orders (lab, labs dir, cases,
nonce, result fd) from stdin, then writes one JSON record per case to the private result
pipe, tagged with the nonce. Its stdout/stderr are feedback only: the parent never parses
them, so printing a fake report earns nothing.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path


def apply_limits(cpu_seconds: int, file_bytes: int, address_bytes: int = 0) -> None:
    """rlimits where the platform has them: CPU time, file size, no core dumps, and (for
    CPU-only work; CUDA maps huge virtual ranges) address space. Hard limits are lowered
    too, so graded code cannot raise them back."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    limits = [(resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_FSIZE, file_bytes, 0),
              (resource.RLIMIT_CPU, cpu_seconds, 5)]   # SIGXCPU at the soft limit, SIGKILL 5 s later
    if address_bytes > 0:
        limits.append((resource.RLIMIT_AS, address_bytes, 0))
    for limit, value, grace in limits:
        try:
            _, hard = resource.getrlimit(limit)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            top = cap + grace if hard == resource.RLIM_INFINITY else min(cap + grace, hard)
            resource.setrlimit(limit, (cap, top))
        except (ValueError, OSError):
            pass


def main() -> None:
    orders = json.loads(sys.stdin.read())
    sys.stdin.close()
    channel = os.fdopen(orders["result_fd"], "w", buffering=1)
    nonce = orders["nonce"]
    apply_limits(int(orders["cpu_seconds"]), int(orders["file_bytes"]), int(orders.get("address_bytes", 0)))

    from aisys.catalog import find_lab
    from aisys.grading.execute import cap_case_time
    from aisys.grading.plain import dumps
    from aisys.grading.spec import Case
    from aisys.workspace import Student

    cap_case_time(orders.get("case_time_cap"))
    lab = find_lab(orders["lab"])
    suite = importlib.import_module(lab.checks_module).SUITE
    student = Student(lab, Path(orders["labs_dir"]))
    cases = [Case(**case) for case in orders["cases"]]

    def emit(record: dict) -> None:
        channel.write(dumps({**record, "nonce": nonce}) + "\n")
        channel.flush()

    from aisys.grading import guard

    os.environ[guard.ENV] = orders["guard"]   # rank processes inherit it and arm themselves
    guard.arm()
    suite.run_cases(cases, student, emit)
    channel.close()


if __name__ == "__main__":
    main()
