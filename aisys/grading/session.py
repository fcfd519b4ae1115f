"""The parent's side of grading: one fork server per session, one worker per lab.

A session starts the fork server (`aisys.grading.zygote`) — inside a bubblewrap sandbox,
as another user, or as a plain child, per the `Isolation` — with a clean environment, a
private scratch folder and the lab files it may read (a staged copy when sandboxed). It then
grades labs one at a time: sends the lab's order with a fresh nonce, keeps the records tagged
with that nonce (`channel`), and waits for the server's "done" — or, if the server stops
answering (a worker may signal it), kills the whole session at the lab's deadline plus a
margin. Closing the session kills whatever is left: the sandbox's PID namespace with it.
"""
from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aisys.catalog import PACKAGE_DIR, REPO_DIR, Lab
from aisys.grading import guard, reaper
from aisys.grading.channel import Channel
from aisys.grading.isolation import Isolation, sandbox_argv
from aisys.grading.plain import loads
from aisys.grading.spec import Case
from aisys.grading.staging import copy_labs

MAX_PROCESSES = 32          # in one lab's process tree: ranks, their helpers, and room to spare
MAX_FEEDBACK = 8000
MARGIN_S = 20.0             # past a lab's timeout before the parent gives up on the server
MAX_CONTAINERS = 1_000_000  # lists and dicts parsed per lab (honest labs: under 20,000)
_CASE_KEY = re.compile(r'\{"case": "([^"\\]{1,200})"')   # how the worker starts every record
STARTUP_S = 120.0
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "SYSTEMROOT")
_BOOT = "import sys; sys.path.insert(0, {repo!r}); from aisys.grading.zygote import main; main()"


@dataclass
class ChildRun:
    records: dict[str, dict] = field(default_factory=dict)
    feedback: str = ""            # the worker's own stdout/stderr, truncated, never parsed
    returncode: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    read_dir: str = ""            # the labs directory the worker read (a staged copy, sometimes)
    killed_because: str = ""      # why the lab was stopped early


class SessionError(RuntimeError):
    """The fork server could not start or died; the message says what it printed."""


class GradingSession:
    """`with GradingSession(labs_dir, isolation, labs) as s: run = s.run_lab(lab, cases, timeout)`"""

    def __init__(self, labs_dir: Path, isolation: Isolation, labs: list[Lab], *,
                 forbidden: str | None = None):
        self.isolation = isolation
        self._labs = labs
        self._tmp = Path(tempfile.mkdtemp(prefix="aisys-session-"))
        os.chmod(self._tmp, 0o755)
        self.read_dir = Path(labs_dir)
        if isolation.mode != "none":              # the sandbox reads a copy, never the original
            copy_labs(Path(labs_dir), self._tmp / "labs")
            self.read_dir = self._tmp / "labs"
        forbidden = forbidden if forbidden is not None else str(REPO_DIR / "solutions")
        self._guard = guard.settings(str(self.read_dir), forbidden)
        self._count = 0
        self._proc: subprocess.Popen | None = None
        self._stderr: list[bytes] = []
        self._ready = False
        self._start()

    # -- the fork server ------------------------------------------------------------------
    def _start(self) -> None:
        self.tag = secrets.token_hex(16)
        sandboxed = self.isolation.mode == "namespaces"
        self._scratch = "/tmp" if sandboxed else str(self._tmp / "scratch")
        if not sandboxed:
            os.makedirs(self._scratch, exist_ok=True)
            if self.isolation.uid is not None:
                os.chown(self._scratch, self.isolation.uid, self.isolation.uid)
            os.chmod(self._scratch, 0o700)
        env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        env.update(HOME=self._scratch, TMPDIR=self._scratch, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        env[guard.ENV] = self._guard      # every descendant carries it: ranks arm the guard with it
        if sandboxed:
            env["GLOO_SOCKET_IFNAME"] = "lo"   # the sandbox's hostname resolves nowhere; loopback is all there is
        command = [sys.executable, "-I", "-c", _BOOT.format(repo=str(REPO_DIR))]
        kwargs: dict = {}
        if sandboxed:
            command = sandbox_argv(command, binds=[str(PACKAGE_DIR), str(self.read_dir)], workdir="/tmp")
        elif self.isolation.uid is not None:
            kwargs = {"user": self.isolation.uid, "group": self.isolation.uid, "extra_groups": []}
        with reaper.spawning():
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, cwd=self._scratch if not sandboxed else None,
                                          env=env, start_new_session=True, **kwargs)
            reaper.register(self._proc.pid)
        self._channel = Channel(self._proc.stdout, self.tag)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        hello = {"tag": self.tag, "isolated": sandboxed,
                 "preload": [lab.checks_module for lab in self._labs]}
        self._send(hello)

    def wait_ready(self) -> None:
        """Block until the fork server has imported everything (it starts while the parent
        imports its own checks); SessionError if it never does."""
        if self._ready:
            return
        ready = self._message(STARTUP_S)
        if not ready or not ready.get("ready"):
            time.sleep(0.2)                      # let stderr drain for the message
            why = b"".join(self._stderr).decode("utf-8", "replace").strip()[-1500:]
            self.close()
            raise SessionError(f"the grading process did not start ({self.isolation.mode}): {why or 'no output'}")
        self._ready = True

    def _drain_stderr(self) -> None:
        total = 0
        for chunk in iter(lambda: self._proc.stderr.read(4096), b""):
            if total < 64_000:
                self._stderr.append(chunk)
            total += len(chunk)

    def _send(self, message: dict) -> bool:
        try:
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def _message(self, timeout: float) -> dict | None:
        try:
            return self._channel.messages.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- grading ------------------------------------------------------------------------------
    def run_lab(self, lab: Lab, cases: list[Case], timeout: float) -> ChildRun:
        """Grade `cases` of `lab` in a fresh worker; the records it sent, and how it ended."""
        self.wait_ready()
        result = ChildRun(read_dir=str(self.read_dir))
        started = time.monotonic()
        self._count += 1
        nonce = secrets.token_hex(16)
        workdir = f"{self._scratch}/lab-{self._count}-{lab.slug}"   # the slug: which lab a trace shows
        order = {"nonce": nonce, "lab": lab.slug, "labs_dir": str(self.read_dir), "workdir": workdir,
                 "scratch": self._scratch, "cases": [c.to_json() for c in cases], "timeout": timeout,
                 "cpu_seconds": int(timeout * 2) + 10, "file_bytes": 64 * 2**20,
                 "address_bytes": address_limit(), "case_time_cap": timeout / 2,
                 "max_processes": MAX_PROCESSES,
                 "processes": 2 * MAX_PROCESSES if self.isolation.mode == "namespaces" else 0}
        self._channel.expect(nonce)
        done = None
        if self.alive and self._send(order):
            deadline = started + timeout + MARGIN_S
            while done is None:
                message = self._message(deadline - time.monotonic())
                if message is None:                                   # silent past the deadline, or EOF
                    break
                if message.get("done") == nonce:
                    done = message
        if done is None:                      # the server is gone or stuck: nothing more from it
            result.timed_out = time.monotonic() - started >= timeout
            result.killed_because = "" if result.timed_out else "the grading process stopped answering"
            self._kill()
        else:
            result.returncode = done.get("returncode")
            result.timed_out = bool(done.get("timed_out"))
            result.killed_because = str(done.get("killed_because") or "")
            result.feedback = str(done.get("feedback") or "")[:MAX_FEEDBACK]
        planned = {case.key for case in cases}
        budget = MAX_CONTAINERS
        for line in self._channel.take():
            key = _CASE_KEY.match(line)
            if key is None or key.group(1) not in planned or key.group(1) in result.records:
                continue                      # not a planned case, or not its first record: never parsed
            containers = line.count("[") + line.count("{")
            if containers > budget:
                continue                      # more nesting than any honest output: parsing it costs memory
            try:
                rec = loads(line)
            except (ValueError, RecursionError):   # garbage on the channel: not a record
                continue
            if isinstance(rec, dict) and rec.get("case") == key.group(1):
                budget -= containers
                result.records[rec["case"]] = rec
        result.duration_s = time.monotonic() - started
        return result

    def _kill(self) -> None:
        if self._proc is not None:
            reaper.kill_tree(self._proc.pid)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            reaper.unregister(self._proc.pid)

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._kill()
            self._proc = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "GradingSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def address_limit() -> int:
    """Bytes of address space for a worker: 0 (none) where a GPU may be used."""
    gpu = any(Path("/dev").glob("nvidia[0-9]*")) and os.environ.get("CUDA_VISIBLE_DEVICES") not in ("", "-1")
    try:
        megabytes = int(os.environ.get("AISYS_CHECK_MEMORY_MB", "4096"))
    except ValueError:
        megabytes = 4096
    return 0 if gpu or megabytes <= 0 else megabytes * 2**20
