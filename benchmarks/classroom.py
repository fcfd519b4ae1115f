"""Grading a class: what isolation costs, one student's whole check, and a class of 200.

- isolation: `aisys check --solutions` of every lab in the bubblewrap sandbox vs without any
  (same fork server, same jobs), interleaved runs; goal ≤ 1.15×.
- one student: `aisys check` of every lab as a student runs it (defaults); goal ≤ 12 s on an
  idle 2-core machine.
- a class of 200: `aisys grade-class` on a sample of complete submissions (the reference
  answers, one folder per student), extrapolated to 200 students; goal ≤ 45 min. The
  reference is the loop an instructor would write without it — one `aisys check
  --submission` per student, one after another — on the same sample.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, Timing, bench_env, error_row, make_row

CLASS = 200
GOAL_CLASS_S = 45 * 60
GOAL_STUDENT_S = 12.0
GOAL_ISOLATION = 1.15


def _run(argv: list[str], cwd: Path = REPO) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=bench_env(), capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    if proc.returncode != 0 and "grade-class" not in argv and "--submission" not in argv:
        raise RuntimeError(f"{' '.join(argv[3:6])} … exit {proc.returncode}: {proc.stderr[-300:]}")
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv[3:6])} … exit {proc.returncode}: {proc.stderr[-300:]}")
    return wall


def _check(*extra: str) -> list[str]:
    report = Path(tempfile.gettempdir()) / "aisys-bench-classroom.json"
    return [sys.executable, "-m", "aisys", "check", "--solutions", "--format", "json", "--output", str(report),
            *extra]


def _sample(root: Path, students: int) -> Path:
    subs = root / "submissions"
    for i in range(students):
        shutil.copytree(REPO / "solutions", subs / f"student{i:03d}" / "labs",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return subs


def main(quick: bool = False) -> list[dict]:
    from aisys.grading.isolation import bubblewrap_works

    rows = []
    repeats = 1 if quick else 3
    works, why = bubblewrap_works()
    if works:
        boxed, bare = [], []
        for _ in range(repeats):                      # interleaved: load drifts hit both alike
            boxed.append(_run(_check("--isolation", "namespaces", "--jobs", "1")))
            bare.append(_run(_check("--isolation", "none", "--jobs", "1")))
        rows.append(make_row("isolation: every lab graded in the sandbox", Timing(boxed).median,
                             Timing(bare).median, "s", timing=Timing(boxed),
                             reference_name="the same without isolation",
                             note=f"goal ≤ {GOAL_ISOLATION}×; bubblewrap: own user/pid/mount/ipc/net namespaces"))
    else:
        rows.append(error_row("isolation: every lab graded in the sandbox", f"no kernel isolation here: {why}"))
    student = Timing([_run(_check()) for _ in range(repeats)])
    rows.append(make_row("one student: aisys check, every lab (defaults)", None, GOAL_STUDENT_S, "s", timing=student,
                         reference_name=f"goal {GOAL_STUDENT_S:g} s",
                         note="one fork server per session (torch and torch._dynamo imported once), the longest labs first, judging overlaps the next lab"))
    students = 2 if quick else 6
    with tempfile.TemporaryDirectory(prefix="aisys-bench-class-") as tmp:
        subs = _sample(Path(tmp), students)
        isolation = [] if works else ["--no-isolation"]
        start = time.perf_counter()
        _run([sys.executable, "-m", "aisys", "grade-class", str(subs), "--output-dir", str(Path(tmp) / "out"),
              "--jobs", "2", "--formats", "json", "--public-seed", *isolation])
        batch = (time.perf_counter() - start) / students
        loop = []
        for folder in sorted(subs.iterdir())[: max(2, students // 2)]:
            loop.append(_run([sys.executable, "-m", "aisys", "check", "--submission", str(folder), "--format",
                              "json", "--output", str(Path(tmp) / "one.json"), "--jobs", "1", *isolation]))
    per_loop = sum(loop) / len(loop)
    rows.append(make_row(f"a class of {CLASS}: grade-class --jobs 2 (from {students} students)", batch * CLASS,
                         GOAL_CLASS_S, "s", reference_name=f"goal {GOAL_CLASS_S // 60} min",
                         note=f"{batch:.1f} s per student; every lab, complete submissions, all in the sandbox"))
    rows.append(make_row(f"a class of {CLASS}: grade-class vs one aisys check per student", batch * CLASS,
                         per_loop * CLASS, "s", reference_name="a loop of aisys check --submission",
                         note=f"the loop: {per_loop:.1f} s per student (measured on {len(loop)})"))
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import run_standalone

    run_standalone("classroom", quick="--quick" in sys.argv)
