"""Parent side of the child protocol: spawn, feed, collect, and always clean up.

The child runs in its own session (so killing its process group can't reach us, and we
can kill everything it started), in a fresh temporary directory, with a clean environment.
Only records carrying our nonce are believed.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aisys.catalog import REPO_DIR, Lab
from aisys.grading.plain import loads
from aisys.grading.spec import Case

MAX_FEEDBACK = 8000
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "SYSTEMROOT")
_BOOT = ("import sys; sys.path.insert(0, {repo!r}); "
         "from aisys.grading.worker import main; main()")


@dataclass
class ChildRun:
    records: dict[str, dict] = field(default_factory=dict)
    feedback: str = ""            # the child's own stdout/stderr, truncated, never parsed
    returncode: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0


def run_child(lab: Lab, labs_dir: Path, cases: list[Case], timeout: float) -> ChildRun:
    """Run `cases` of `lab` on the code in `labs_dir` in a sandboxed child process."""
    nonce = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    result = ChildRun()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aisys-check-") as workdir:
        env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        env.update(HOME=workdir, TMPDIR=workdir, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT.format(repo=str(REPO_DIR))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=(write_fd,), cwd=workdir, env=env, start_new_session=True)
        os.close(write_fd)
        orders = {"nonce": nonce, "lab": lab.slug, "labs_dir": str(labs_dir), "result_fd": write_fd,
                  "cases": [c.to_json() for c in cases], "cpu_seconds": int(timeout * 2) + 10,
                  "file_bytes": 64 * 2**20}
        lines: list[str] = []
        chunks: list[bytes] = []
        readers = [threading.Thread(target=_read_lines, args=(read_fd, lines), daemon=True),
                   threading.Thread(target=_read_bytes, args=(proc.stdout, chunks), daemon=True)]
        for reader in readers:
            reader.start()
        try:
            proc.stdin.write(json.dumps(orders).encode())
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            result.returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            result.timed_out = True
        _kill_group(proc)
        result.returncode = proc.wait()
        for reader in readers:
            reader.join(timeout=2.0)
    result.duration_s = time.monotonic() - started
    result.feedback = b"".join(chunks).decode("utf-8", "replace")[:MAX_FEEDBACK]
    for line in list(lines):
        try:
            rec = loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("nonce") == nonce and isinstance(rec.get("case"), str):
            result.records.setdefault(rec["case"], rec)
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the child's whole session: the child, its ranks and anything they forked."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_lines(fd: int, out: list[str]) -> None:
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as stream:
        for line in stream:
            out.append(line)


def _read_bytes(stream, out: list[bytes]) -> None:
    total = 0
    for chunk in iter(lambda: stream.read(4096), b""):
        if total < MAX_FEEDBACK * 2:
            out.append(chunk)
        total += len(chunk)
