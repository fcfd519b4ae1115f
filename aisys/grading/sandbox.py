"""Parent side of the child protocol: spawn, feed, collect, and always clean up.

The child runs in its own session (so killing its process group can't reach us, and we
can kill everything it started), in a fresh temporary directory, with a clean environment.
Only records carrying our nonce are believed. At the end the child's whole tree is killed
(see `reaper`). The rules graded code runs under are in `guard`.

Running as root with `AISYS_SANDBOX_USER` naming an account (the Gradescope bundle sets it),
the child runs as that user: it then cannot signal the grader or write its report. Memory:
`AISYS_CHECK_MEMORY_MB` (default 4096; 0: no limit) caps address space when no GPU is present.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aisys.catalog import REPO_DIR, Lab
from aisys.grading import guard, reaper
from aisys.grading.plain import loads
from aisys.grading.spec import Case
from aisys.grading.staging import stage

MAX_FEEDBACK = 8000
MAX_RESULTS = 256 * 2**20
MAX_PROCESSES = 32     # in one lab's process tree: ranks, their helpers, and room to spare
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
    read_dir: str = ""            # the labs directory the child read (a staged copy, sometimes)
    killed_because: str = ""      # why the watchdog stopped it early


def run_child(lab: Lab, labs_dir: Path, cases: list[Case], timeout: float) -> ChildRun:
    """Run `cases` of `lab` on the code in `labs_dir` in a sandboxed child process."""
    nonce = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    result = ChildRun()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aisys-check-") as tmp:
        user = sandbox_user()
        workdir, labs_dir = _prepare(Path(tmp), labs_dir, user)
        result.read_dir = str(labs_dir)
        env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        env.update(HOME=workdir, TMPDIR=workdir, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        # in the environment from the start, so every descendant carries it: rank processes
        # arm the guard with it, and a leftover grading process is recognisable by it
        env[guard.ENV] = guard.settings(str(labs_dir), str(REPO_DIR / "solutions"))
        with reaper.spawning():
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT.format(repo=str(REPO_DIR))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(write_fd,), cwd=workdir, env=env, start_new_session=True,
                **({"user": user[0], "group": user[1], "extra_groups": []} if user else {}))
            reaper.register(proc.pid)
        os.close(write_fd)
        orders = {"nonce": nonce, "lab": lab.slug, "labs_dir": str(labs_dir), "result_fd": write_fd,
                  "cases": [c.to_json() for c in cases], "cpu_seconds": int(timeout * 2) + 10,
                  "file_bytes": 64 * 2**20, "address_bytes": address_limit(),
                  "guard": env[guard.ENV], "case_time_cap": timeout / 2}
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
        _watch(proc, started + timeout, result)
        reaper.kill_tree(proc.pid)
        result.returncode = proc.wait()
        reaper.unregister(proc.pid)
        for reader in readers:
            reader.join(timeout=2.0)
    result.duration_s = time.monotonic() - started
    result.feedback = b"".join(chunks).decode("utf-8", "replace")[:MAX_FEEDBACK]
    for line in list(lines):
        try:
            rec = loads(line)
        except (ValueError, RecursionError):   # garbage on the channel: not a record
            continue
        if isinstance(rec, dict) and rec.get("nonce") == nonce and isinstance(rec.get("case"), str):
            result.records.setdefault(rec["case"], rec)
    return result


def _watch(proc: subprocess.Popen, deadline: float, result: ChildRun) -> None:
    """Wait for the child until the deadline, checking twice a second that its process tree
    stays small: a loop of `fork` or `multiprocessing` starts is cut off whatever the user
    (RLIMIT_NPROC does not bind root) and whatever started it (C code included)."""
    while True:
        try:
            result.returncode = proc.wait(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() >= deadline:
            result.timed_out = True
            return
        if len(reaper.descendants(proc.pid)) > MAX_PROCESSES:
            result.killed_because = f"it started more than {MAX_PROCESSES} processes"
            return


def address_limit() -> int:
    """Bytes of address space for the child: 0 (none) where a GPU may be used."""
    gpu = any(Path("/dev").glob("nvidia[0-9]*")) and os.environ.get("CUDA_VISIBLE_DEVICES") not in ("", "-1")
    try:
        megabytes = int(os.environ.get("AISYS_CHECK_MEMORY_MB", "4096"))
    except ValueError:
        megabytes = 4096
    return 0 if gpu or megabytes <= 0 else megabytes * 2**20


def sandbox_user() -> tuple[int, int] | None:
    """(uid, gid) to run graded code as: only as root, only if that user can run this Python."""
    name = os.environ.get("AISYS_SANDBOX_USER")
    if not name or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    try:
        import pwd

        entry = pwd.getpwnam(name)
    except (ImportError, KeyError):
        return None
    needed = [Path(sys.executable).resolve(), Path(os.__file__).resolve(), REPO_DIR / "aisys" / "cli.py"]
    return (entry.pw_uid, entry.pw_gid) if all(_world_readable(p) for p in needed) else None


def _world_readable(path: Path) -> bool:
    try:
        if not path.stat().st_mode & 0o004:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in path.parents)
    except OSError:
        return False


def _prepare(tmp: Path, labs_dir: Path, user: tuple[int, int] | None) -> tuple[str, Path]:
    """The child's working directory, and the labs directory it reads (a copy for another user)."""
    if user is None:
        return str(tmp), labs_dir
    os.chmod(tmp, 0o755)
    stage(labs_dir, tmp / "labs")
    home = tmp / "home"
    home.mkdir()
    os.chown(home, *user)
    return str(home), tmp / "labs"


def _read_lines(fd: int, out: list[str]) -> None:
    """Collect result lines, at most MAX_RESULTS bytes (then keep draining, so the child never
    blocks on a full pipe): a flood on the channel cannot exhaust the grader's memory."""
    total = 0
    with os.fdopen(fd, "rb") as stream:
        while True:
            line = stream.readline(MAX_RESULTS)
            if not line:
                break
            total += len(line)
            if total <= MAX_RESULTS:
                out.append(line.decode("utf-8", "replace"))


def _read_bytes(stream, out: list[bytes]) -> None:
    total = 0
    for chunk in iter(lambda: stream.read(4096), b""):
        if total < MAX_FEEDBACK * 2:
            out.append(chunk)
        total += len(chunk)
