"""The child's rules (the audit-hook guard), its hard rlimits, and killing a whole process
tree. Each runs in a fresh interpreter: an audit hook cannot be removed once added."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the sandbox's process and /proc rules are Linux's")

PRELUDE = """
import os, sys
sys.path.insert(0, {repo!r})
from aisys.grading import guard
os.environ[guard.ENV] = guard.settings({labs!r}, {solutions!r})
guard.arm()
def refused(fn, *args):
    try:
        fn(*args)
    except guard.Refused as err:
        return str(err)
    return ""
"""


def _run(body: str, labs: Path, **popen) -> subprocess.CompletedProcess:
    code = PRELUDE.format(repo=str(REPO), labs=str(labs), solutions=str(REPO / "solutions")) \
        + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                          start_new_session=True, **popen)


def test_guard_refuses_the_reference_answers(tmp_path):
    mine = tmp_path / "01_graph" / "tensors.py"
    mine.parent.mkdir()
    mine.write_text("X = 1\n")
    proc = _run(f"""
        ref = os.path.join({str(REPO / 'solutions')!r}, "01_graph", "tensors.py")
        assert "reference answers" in refused(open, ref), "read the reference"
        assert refused(os.open, ref, os.O_RDONLY), "os.open the reference"
        link = os.path.join({str(tmp_path)!r}, "link.py")
        os.symlink(ref, link)
        assert refused(open, link), "read the reference through a symlink"
        assert not refused(open, {str(mine)!r})
        print("ok")
    """, tmp_path)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_guard_lets_the_reference_answers_be_graded():
    proc = _run(f"""
        open(os.path.join({str(REPO / 'solutions')!r}, "01_graph", "tensors.py")).close()
        print("ok")
    """, REPO / "solutions")
    assert proc.stdout.strip() == "ok", proc.stderr


def test_guard_refuses_signals_outside_the_sandbox(tmp_path):
    # signal 0 only asks whether a process exists: harmless even if the guard failed
    proc = _run("""
        assert "outside" in refused(os.kill, os.getppid(), 0), "signal the grader"
        assert refused(os.killpg, os.getpgid(os.getppid()), 0), "signal the grader's group"
        assert refused(os.kill, -1, 0), "signal every process"
        assert refused(os.kill, 1, 0), "signal init"
        os.kill(os.getpid(), 0); os.killpg(0, 0)            # its own: allowed
        assert refused(open, f"/proc/{os.getppid()}/fd/1", "w"), "write into the grader's stdout"
        assert not refused(open, "/proc/self/status")
        print("ok")
    """, tmp_path)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_guard_bounds_process_starts(tmp_path):
    proc = _run("""
        started = 0
        while True:
            try:
                pid = os.fork()
            except guard.Refused:
                break
            if pid == 0:
                try:
                    os.fork()
                    os._exit(3)          # a forked copy may not fork again
                except guard.Refused:
                    os._exit(0)
            started += 1
            assert os.waitpid(pid, 0)[1] == 0, "a forked copy forked"
            assert started <= guard.MAX_SPAWNS
        print(started)
    """, tmp_path)
    assert proc.stdout.strip() == "16", proc.stderr


def test_limits_are_hard(tmp_path):
    code = f"""
import resource, sys
sys.path.insert(0, {str(REPO)!r})
from aisys.grading.worker import apply_limits
apply_limits(30, 2**20, 2**31)
for limit in (resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_AS, resource.RLIMIT_CORE):
    soft, hard = resource.getrlimit(limit)
    assert hard != resource.RLIM_INFINITY, limit
    try:
        resource.setrlimit(limit, (hard + 1, hard + 1))
        raise SystemExit(f"raised limit {{limit}}")
    except ValueError:
        pass
print("ok")
"""
    if os.geteuid() == 0:
        pytest.skip("root may raise hard limits again; the sandbox user (nobody) may not")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_limits_cap_file_size_and_memory(tmp_path):
    code = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from aisys.grading.worker import apply_limits
apply_limits(30, 2**20, 2**31)
try:
    open("big", "wb").write(b"x" * 2**21)
    raise SystemExit("wrote past the file size limit")
except OSError:
    pass
try:
    bytearray(2**32)
    raise SystemExit("allocated past the address-space limit")
except MemoryError:
    pass
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_kill_tree_reaches_processes_that_left_the_group(tmp_path):
    from aisys.grading.reaper import descendants, kill_tree

    code = f"""
import os, time
pid = os.fork()
if pid == 0:
    os.setsid()                                   # out of the group: killpg alone misses it
    open({str(tmp_path / 'escapee')!r}, "w").write(str(os.getpid()))
    time.sleep(120)
    os._exit(0)
time.sleep(120)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    marker = tmp_path / "escapee"
    for _ in range(200):
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.05)
    escapee = int(marker.read_text())
    assert escapee in descendants(proc.pid)
    kill_tree(proc.pid)
    proc.wait(timeout=10)
    for _ in range(100):
        stat = Path(f"/proc/{escapee}/stat")
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"process {escapee} survived kill_tree")


def _graph_cases(n: int = 3):
    from aisys.catalog import find_lab
    from aisys.grading.runner import load_suite

    lab = find_lab("graph")
    return lab, [c for c in load_suite(lab).plan(0) if c.exercise == "row_major_strides"][:n]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="switching users needs root")
def test_the_uid_mode_runs_a_staged_copy_as_another_user():
    """The code path the Gradescope bundle takes without namespaces (another user, a staged
    copy of the labs), run here with the current ids so it works on any machine."""
    from aisys.grading.isolation import Isolation
    from aisys.grading.sandbox import run_child

    lab, cases = _graph_cases()
    child = run_child(lab, REPO / "solutions", cases, timeout=60,
                      isolation=Isolation("uid", "test", uid=os.getuid()))
    assert child.read_dir != str(REPO / "solutions") and child.read_dir.endswith("labs")
    assert [child.records[c.key]["status"] for c in cases] == ["ok"] * 3, child.feedback


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="switching users needs root")
def test_the_uid_mode_fails_closed_when_nobody_cannot_run_this_python():
    from aisys.errors import UserError
    from aisys.grading.isolation import choose, unreachable_for_others

    blocker = unreachable_for_others()
    if not blocker:
        assert choose("uid").uid == 65534
        return
    with pytest.raises(UserError, match="not readable by other users"):
        choose("uid")


def test_namespaces_run_a_copy_as_nobody_and_see_no_repository():
    from aisys.grading.isolation import bubblewrap_works, choose
    from aisys.grading.sandbox import run_child

    works, why = bubblewrap_works()
    if not works:
        pytest.skip(f"no kernel isolation here: {why}")
    lab, cases = _graph_cases()
    child = run_child(lab, REPO / "solutions", cases, timeout=60, isolation=choose("namespaces"))
    assert child.read_dir != str(REPO / "solutions")
    assert [child.records[c.key]["status"] for c in cases] == ["ok"] * 3, child.feedback


def test_reaping_adopts_orphans_and_spares_older_children(tmp_path):
    from aisys.grading import reaper

    older = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    time.sleep(0.1)                  # a clock tick or more before grading begins
    marker = tmp_path / "orphan"
    code = f"""
import os, time
if os.fork() == 0:                   # the middle process exits: its child is orphaned
    os.setsid()
    open({str(marker)!r}, "w").write(str(os.getpid()))
    time.sleep(60)
    os._exit(0)
"""
    try:
        with reaper.reaping():
            subprocess.run([sys.executable, "-c", code], timeout=30)
            for _ in range(200):
                if marker.exists() and marker.read_text():
                    break
                time.sleep(0.05)
            orphan = int(marker.read_text())
            adopted = reaper._subreaper
            if not adopted:
                pytest.skip("this kernel refused PR_SET_CHILD_SUBREAPER")
            assert Path(f"/proc/{orphan}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid())
        assert not Path(f"/proc/{orphan}").exists(), "the orphan outlived reaping()"
        assert older.poll() is None, "a child the caller started before grading was killed"
    finally:
        older.kill()
        older.wait()
        if marker.exists() and Path(f"/proc/{marker.read_text()}").exists():
            os.kill(int(marker.read_text()), 9)
