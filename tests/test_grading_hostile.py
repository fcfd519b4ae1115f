"""Hostile submissions (tests/hostile/*): none earns a point, each run ends in bounded time,
writes the grader's own report, and leaves no process behind.

Every submission is graded once (two runs at a time), in a module-scoped fixture.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aisys.catalog import find_lab
from conftest import STUBS
from test_grading_formats import validate_gradescope, validate_junit

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the sandbox's process and /proc rules are Linux's")
HOSTILE = REPO / "tests" / "hostile"
TIMEOUT = 20          # --timeout for every run: the infinite loop is ended by it
BOUND = TIMEOUT + 40  # what "bounded time" means here, startup and the distributed relaunches included
NAMES = sorted(p.name for p in HOSTILE.iterdir() if p.is_dir())
FORMAT = {"os_exit_at_import": "gradescope", "exit_at_import": "junit", "kill_own_group": "junit"}
SLOW = {"infinite_loop", "deadlocked_collective", "rank_raises", "memory_bomb"}


def _lab_of(name: str):
    return find_lab(next(p.name for p in (HOSTILE / name).iterdir() if p.is_dir()))


def _distributed_ready() -> str:
    try:
        import aisys.parallel.suite  # noqa: F401
    except ImportError:
        return "the distributed runtime (aisys.parallel.suite) is not built yet"
    if not find_lab("data-parallel").available:
        return "lab 07 data-parallel is not available yet"
    return ""


def leftovers() -> list[int]:
    """Grading children that outlived their run: the guard's variable in their environment and
    a working directory that no longer exists."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            continue
        if b"AISYS_GRADING_GUARD=" in environ and cwd.endswith("(deleted)"):
            found.append(int(name))
    return found


def _prepare(name: str, root: Path) -> tuple[Path, Path, Path]:
    lab = _lab_of(name)
    labs = root / "labs"
    shutil.copytree(STUBS / lab.folder, labs / lab.folder,
                    ignore=shutil.ignore_patterns("*.md", "__pycache__"))
    piddir, report = root / "pids", root / "out" / "report.json"
    piddir.mkdir()
    for src in (HOSTILE / name).rglob("*.py"):
        text = src.read_text().replace("@PIDDIR@", str(piddir)).replace("@REPORT@", str(report))
        (labs / src.relative_to(HOSTILE / name)).write_text(text)
    return labs, piddir, report


def _grade(name: str, root: Path) -> dict:
    lab = _lab_of(name)
    labs, piddir, report = _prepare(name, root)
    args = [sys.executable, "-m", "aisys", "check", lab.slug, "--labs-dir", str(labs), "--format",
            FORMAT.get(name, "json"),
            "--timeout", str(TIMEOUT)]
    if name != "fake_report":              # that one must not pollute the JSON on stdout
        args += ["--output", str(report)]
    env = {**os.environ, "AISYS_CHECK_MEMORY_MB": "1536"}
    started = time.monotonic()
    # a session of its own: if a guard failed, a group kill would hit this run, not pytest
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=BOUND + 60, env=env,
                          start_new_session=True)
    elapsed = time.monotonic() - started
    text = proc.stdout if name == "fake_report" else (report.read_text() if report.exists() else "")
    return {"proc": proc, "elapsed": elapsed, "text": text, "piddir": piddir}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    names = [n for n in NAMES if not (_lab_of(n).distributed and _distributed_ready())]
    names.sort(key=lambda n: n not in SLOW)   # the ones that mostly wait start first
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {n: pool.submit(_grade, n, tmp_path_factory.mktemp(n)) for n in names}
        results = {n: f.result() for n, f in futures.items()}
    print("hostile runs:", {n: round(r["elapsed"], 1) for n, r in results.items()})
    return results


def test_at_least_fourteen_submissions():
    assert len(NAMES) >= 14


def _messages(report: dict) -> str:
    return "\n".join(c["message"] for lab in report["labs"] for ex in lab["exercises"] for c in ex["cases"])


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_hostile_submission_earns_nothing(name, runs):
    if name not in runs:
        pytest.skip(_distributed_ready())
    run = runs[name]
    proc = run["proc"]
    assert proc.returncode == 1, f"exit {proc.returncode}; stderr:\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert run["elapsed"] < BOUND, f"took {run['elapsed']:.0f} s"
    lab = _lab_of(name)
    fmt = FORMAT.get(name, "json")
    if fmt == "gradescope":                               # written although every case crashed
        data = json.loads(run["text"])
        validate_gradescope(data, [lab])
        assert data["score"] == 0 and all(t["score"] == 0 and t["status"] == "failed" for t in data["tests"])
        assert "exited" in data["tests"][0]["output"]
        return
    if fmt == "junit":
        root = validate_junit(run["text"], [lab])
        for case in root.iter("testcase"):
            points = {p.get("name"): p.get("value") for p in case.find("properties")}
            assert float(points["score"]) == 0
            assert case.find("error") is not None or case.find("failure") is not None
        return
    report = json.loads(run["text"])                      # the grader's own, well-formed report
    assert report["score"] == 0, _messages(report)
    assert report["labs"] and report["labs"][0]["exercises"], "a forged report"
    for ex in report["labs"][0]["exercises"]:
        assert ex["score"] == 0 and ex["status"] != "passed", ex
    assert all(c["status"] != "passed" for ex in report["labs"][0]["exercises"] for c in ex["cases"])
    EXPECT.get(name, lambda report, run: None)(report, run)


def _statuses(report: dict, exercise: str) -> set[str]:
    return {c["status"] for lab in report["labs"] for ex in lab["exercises"] if ex["name"] == exercise
            for c in ex["cases"]}


def _fork_loop(report, run):
    pids = [int(p.name) for p in run["piddir"].iterdir()]
    assert pids, "the fork loop never forked (nothing tested)"
    assert len(pids) <= 16, "the guard let the fork loop run on"
    time.sleep(0.2)
    alive = [p for p in pids if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"forked processes left behind: {alive}"
    assert "started more than" in _messages(report)


EXPECT = {
    "infinite_loop": lambda report, run: _check(_statuses(report, "row_major_strides") == {"timeout"}, report),
    "deadlocked_collective": lambda report, run: _check(
        _statuses(report, "ring_all_reduce") <= {"timeout", "error"}, report),
    "memory_bomb": lambda report, run: _check("MemoryError" in _messages(report), report),
    "fork_loop": _fork_loop,
    "import_solutions": lambda report, run: _check("reference answers" in _messages(report), report),
    "kill_parent": lambda report, run: _check("outside its sandbox" in _messages(report)
                                              and "may not open" in _messages(report), report),
    "rank_raises": lambda report, run: _check("rank" in _messages(report)
                                              and "reference answers" in _messages(report), report),
    "spawn_loop": lambda report, run: _check("processes" in _messages(report), report),
    "forge_records": lambda report, run: _check("invalid result record" in _messages(report)
                                                and "cannot be graded" in _messages(report), report),
}


def _check(condition: bool, report: dict) -> None:
    assert condition, _messages(report)[-3000:]


@pytest.mark.slow
def test_no_grading_process_outlives_the_runs(runs):
    time.sleep(0.5)
    assert not leftovers()
