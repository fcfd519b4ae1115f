"""Shared test helpers: run the CLI in a subprocess, make a workspace with a planted bug.

The suite never reads the checkout's own `labs/`: a student may have edited it (their work
is sacred, and the toolkit's tests must pass beside it). Tests that need the stubs use
`STUBS`, a fresh copy generated from `solutions/` by the one stub generator, inside
`STUDENT_ROOT` — a stand-in for a student's checkout, where the CLI runs by default.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from aisys.stubs import expected_stubs

REPO = Path(__file__).resolve().parent.parent


def _generate_student_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="aisys-test-checkout-"))
    atexit.register(shutil.rmtree, root, True)
    for path, text in expected_stubs(REPO).items():
        target = root / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for brief in (REPO / "labs").glob("*/README*.md"):
        shutil.copyfile(brief, root / brief.relative_to(REPO))
    return root


STUDENT_ROOT = _generate_student_root()
STUBS = STUDENT_ROOT / "labs"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    """`python -m aisys ARGS` as a user would run it from a fresh checkout (STUDENT_ROOT);
    returns the completed process (text)."""
    return subprocess.run([sys.executable, "-m", "aisys", *args], cwd=cwd or STUDENT_ROOT, capture_output=True,
                          text=True, timeout=timeout, env=cli_env(env))


def cli_env(extra: dict | None = None) -> dict:
    """The environment for a CLI subprocess: this checkout's aisys first on the path (the
    CLI runs outside the repository, where an installed aisys could shadow it)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "COLUMNS": "200", "PYTHONPATH": path, **(extra or {})}


class Background:
    """CLI runs started together and collected later: a test file's stub check and demos
    overlap its in-process gradings in the foreground (the file's wall time). They run where a
    student would, in a fresh checkout (STUDENT_ROOT), so paths read `labs/...`."""

    def __init__(self, jobs: dict[str, tuple[str, ...]]):
        env = cli_env({"COLUMNS": "100"})
        self.procs = {name: subprocess.Popen([sys.executable, "-m", "aisys", *args], cwd=STUDENT_ROOT, env=env,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                      for name, args in jobs.items()}
        self.done: dict[str, subprocess.CompletedProcess] = {}

    def result(self, name: str) -> subprocess.CompletedProcess:
        if name not in self.done:
            proc = self.procs[name]
            out, err = proc.communicate(timeout=300)
            self.done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return self.done[name]

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def two_torchrun_agents(*args: str, timeout: float = 180) -> list[tuple[int, str]]:
    """`python -m aisys ARGS` under two torchrun agents (nodes) of one process each, c10d
    rendezvous on 127.0.0.1 — the path a class takes to several machines. [(exit code,
    output)] per agent. Slow: 4 interpreters import torch (15-35 s on 2 busy cores)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run_id = f"aisys-{os.getpid()}-{time.monotonic_ns()}"
    agents = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(node),
         "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
         "--rdzv-id", run_id, "--local-addr", "127.0.0.1", "-m", "aisys", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_env())
        for node in (0, 1)]
    try:
        outputs = [agent.communicate(timeout=timeout)[0] for agent in agents]
    finally:
        for agent in agents:
            agent.kill()
    return [(agent.returncode, output) for agent, output in zip(agents, outputs)]


def check_json(*args: str, **kwargs) -> tuple[dict, subprocess.CompletedProcess]:
    """`aisys check ... --format json`, parsed."""
    proc = run_cli("check", *args, "--format", "json", **kwargs)
    assert proc.stdout.strip(), f"no JSON on stdout; stderr:\n{proc.stderr}"
    return json.loads(proc.stdout), proc


def workspace(tmp_path: Path, folder: str, edits: dict[str, list[tuple[str, str]]] | None = None) -> Path:
    """A labs dir holding solutions/<folder> with text edits applied: a plausible wrong answer.

    edits: {"graphs.py": [(old, new), ...]} — each `old` must occur in the file.
    """
    labs = tmp_path / "labs"
    shutil.copytree(REPO / "solutions" / folder, labs / folder)
    for file, pairs in (edits or {}).items():
        path = labs / folder / file
        text = path.read_text()
        for old, new in pairs:
            assert old in text, f"{old!r} not in {file}"
            text = text.replace(old, new)
        path.write_text(text)
    return labs


def exercise(report: dict, name: str) -> dict:
    """One exercise's entry in a JSON report."""
    for lab in report["labs"]:
        for ex in lab["exercises"]:
            if ex["name"] == name:
                return ex
    raise KeyError(name)


@pytest.fixture
def repo() -> Path:
    return REPO
