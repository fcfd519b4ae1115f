"""Grading: how long `aisys check --solutions` takes, per lab and in all, and how many times a
distributed lab's checks launch their ranks.

Wall times come from whole `aisys check --solutions --format json` runs (every available
lab, one after another, as a student or CI runs it); per-lab times are the grading child's
wall time as the report records it (`duration_s`), so per-lab and total come from the same
runs. The goals: all nine labs under 90 s on 2 cores (each lab's fair share 10 s), one launch
per distributed lab.

Launches are counted from the outside, without touching the grader: each run goes under
`strace -f` (traced syscalls: process creation, execve and mkdir only, filtered in the kernel
with seccomp-bpf so untraced work runs at full speed). Every `spawn_ranks` makes exactly one
fresh rendezvous directory (`mkdtemp(prefix="aisys-rdzv-")`), so the mkdir calls of
`aisys-rdzv-*` directories are the launches; the process tree (clone/fork results) says which
lab's worker (forked once per lab by the fork server `aisys.grading.zygote`, labs in
catalog order) made them and how many processes that lab started in all. What one launch costs is timed
apart: `aisys.parallel.launch` of 2 and 4 ranks that only run a barrier, next to the slowest
distributed lab's check. The CPU-time row (user+sys of every process) does not grow with load.
"""
from __future__ import annotations

import json
import re
import resource
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from benchmarks.common import REPO, Timing, bench_env, error_row, make_row, time_command

GOAL_ALL_LABS_S = 90.0
LABS_IN_COURSE = 9
_LINE = re.compile(r"^(\d+) +(.*)$")
_CREATE = re.compile(r"^(?:<\.\.\. )?(clone3?|vfork|fork)\b.*=\s*(\d+)\s*$")
_EXECVE = re.compile(r'^(?:<\.\.\. )?execve\(.*=\s*0\s*$')
_MKDIR = re.compile(r'^mkdir\("([^"]*)".*=\s*0\s*$')
_WORKDIR = re.compile(r"/lab-\d+-([a-z0-9-]+)$")      # the fork server's mkdir for each lab's worker


@dataclass
class ProcessTree:
    """What `strace -f -e trace=process,mkdir` saw: who created whom, who ran what."""
    parent: dict[int, int] = field(default_factory=dict)
    workers: list[int] = field(default_factory=list)       # lab workers (forks of the fork server), in order
    worker_labs: list[str] = field(default_factory=list)   # the lab of each, from the workdir the server made for it
    zygotes: list[int] = field(default_factory=list)       # the fork servers
    rendezvous: list[int] = field(default_factory=list)    # pid of each aisys-rdzv-* mkdir

    def owner(self, pid: int) -> int | None:
        """The grading child `pid` descends from (or is), if any."""
        seen = set()
        while pid not in seen:
            if pid in self.workers:
                return pid
            seen.add(pid)
            if pid not in self.parent:
                return None
            pid = self.parent[pid]
        return None

    def descendants(self, root: int) -> int:
        return sum(1 for pid in self.parent if pid != root and self.owner(pid) == root)


def parse_strace(text: str) -> ProcessTree:
    """Read strace -f output (joining `<unfinished ...>` / `<... resumed>` halves)."""
    tree, pending = ProcessTree(), {}
    for raw in text.splitlines():
        match = _LINE.match(raw)
        if not match:
            continue
        pid, call = int(match.group(1)), match.group(2)
        if call.endswith("<unfinished ...>"):
            pending[pid] = call[: -len("<unfinished ...>")]
            continue
        if call.startswith("<... ") and pid in pending:
            call = pending.pop(pid) + call.split("resumed>", 1)[-1]
        created = _CREATE.match(call)
        if created and "CLONE_THREAD" not in call:
            tree.parent[int(created.group(2))] = pid
            if pid in tree.zygotes:
                tree.workers.append(int(created.group(2)))
        elif _EXECVE.match(call) and "aisys.grading.zygote" in call and pid not in tree.zygotes:
            tree.zygotes.append(pid)
        else:
            made = _MKDIR.match(call)
            if made and Path(made.group(1)).name.startswith("aisys-rdzv-"):
                tree.rendezvous.append(pid)
            elif made and pid in tree.zygotes and _WORKDIR.search(made.group(1)):
                tree.worker_labs.append(_WORKDIR.search(made.group(1)).group(1))
    return tree


def launches_by_lab(tree: ProcessTree, slugs: list[str]) -> dict[str, tuple[int, int]]:
    """{slug: (rank launches, processes started by that lab's grading child)}.

    Assumes labs were graded one at a time (`--jobs 1`, one fork server): the server makes
    each worker's directory (named after its lab) just before it forks that worker."""
    if len(tree.workers) != len(slugs) or sorted(tree.worker_labs) != sorted(slugs):
        raise ValueError(f"saw {len(tree.workers)} grading children for labs {tree.worker_labs}, "
                         f"expected {len(slugs)}: {slugs}")
    out = {}
    for slug, worker in zip(tree.worker_labs, tree.workers):
        launches = sum(1 for pid in tree.rendezvous if tree.owner(pid) == worker)
        out[slug] = (launches, tree.descendants(worker))
    return out


def strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-f", "-qq", "-e", "trace=process", "-o", "/dev/null", "true"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def check_once(trace: bool, slugs: Sequence[str] = ()) -> tuple[float, float, dict, ProcessTree | None]:
    """One `aisys check SLUGS --solutions` (no slugs: every built lab):
    (wall s, CPU s of the whole process tree, report, process tree)."""
    with tempfile.TemporaryDirectory(prefix="aisys-bench-check-") as tmp:
        report_path, trace_path = Path(tmp) / "report.json", Path(tmp) / "strace.txt"
        argv = [sys.executable, "-m", "aisys", "check", *slugs, "--solutions", "--format", "json",
                "--output", str(report_path), "--jobs", "1"] + (["--isolation", "none"] if trace else [])
        if trace:
            argv = ["strace", "-f", "-qq", "--seccomp-bpf", "-s", "200",
                    "-e", "trace=process,mkdir", "-o", str(trace_path)] + argv
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, env=bench_env(), capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if not report_path.is_file():
            raise RuntimeError(f"aisys check wrote no report (exit {proc.returncode}): {proc.stderr[-400:]}")
        report = json.loads(report_path.read_text())
        tree = parse_strace(trace_path.read_text(errors="replace")) if trace else None
    return wall, cpu, report, tree


_LAUNCH_PROBE = """
import json, sys, time
import torch.distributed as dist
from aisys.parallel.launch import launch
runs = {}
for world in (2, 4):
    launch(dist.barrier, world)          # warm-up
    runs[world] = []
    for _ in range(int(sys.argv[1])):
        start = time.perf_counter()
        launch(dist.barrier, world)
        runs[world].append(time.perf_counter() - start)
print(json.dumps(runs))
"""


def launch_cost(repeats: int) -> dict[int, Timing]:
    """Wall time of one `aisys.parallel.launch` of 2 and 4 ranks that only run a barrier
    (torch already imported, as in a grading child): what one launch costs a lab's check."""
    proc = subprocess.run([sys.executable, "-c", _LAUNCH_PROBE, str(repeats)], cwd=REPO, env=bench_env(),
                          capture_output=True, text=True, timeout=300, check=True)
    return {int(world): Timing(runs) for world, runs in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def main(quick: bool = False) -> list[dict]:
    """Full: every built lab, 2-3 runs. Quick: the distributed labs only, one run."""
    from aisys.catalog import LABS, find_lab

    trace = strace_works()
    slugs = [lab.slug for lab in LABS if lab.distributed and lab.available] if quick else []
    walls, cpus, parents, durations, trees, report = [], [], [], {}, [], {}
    started = time.perf_counter()
    for attempt in range(1 if quick else 3):   # full: 2 runs, a third while the machine is quick
        wall, cpu, report, tree = check_once(trace, slugs)
        walls.append(wall)
        cpus.append(cpu)
        parents.append(wall - sum(lab["duration_s"] for lab in report["labs"]))
        trees.append(tree)
        for lab in report["labs"]:
            durations.setdefault(lab["slug"], []).append(lab["duration_s"])
        if attempt >= 1 and time.perf_counter() - started > 120:
            break
    labs = report["labs"]
    total = Timing(walls)
    floor = None if quick else time_command([sys.executable, "-I", "-c", "import torch"], 1, warmup=0).median
    share = GOAL_ALL_LABS_S / LABS_IN_COURSE
    parent = statistics.median(parents)
    what = f"{len(labs)} labs" if not slugs else " + ".join(slugs) + " only (--quick)"
    goal, goal_name = ((GOAL_ALL_LABS_S, f"goal: {LABS_IN_COURSE} labs in {GOAL_ALL_LABS_S:g} s") if not slugs
                       else (share * len(labs), f"fair share of the goal for {len(labs)} labs"))
    rows = [make_row(f"aisys check --solutions ({what})", None, goal, "s", timing=total, reference_name=goal_name,
                     note=f"score {report['score']:g}/{report['max_score']:g}; {len(labs)} of {LABS_IN_COURSE} "
                          f"labs graded; the parent's own share (start-up, checks import, judging): {parent:.1f} s"),
            make_row(f"CPU time of that check ({what})", None, goal, "s", timing=Timing(cpus), reference_name=goal_name,
                     note="user+sys of every process it started: the work itself, which other users' load "
                          "does not inflate (an idle machine's wall time is near it: less where ranks run in "
                          "parallel, more where processes wait)")]
    for lab in labs:
        t = Timing(durations[lab["slug"]])
        rows.append(make_row(f"check lab {lab['number']:02d} {lab['slug']}", None, share, "s", timing=t,
                             reference_name=f"fair share of the goal ({GOAL_ALL_LABS_S:g} s / {LABS_IN_COURSE})",
                             note=f"score {lab['score']:g}/{lab['max_score']:g}" + (
                                 "" if floor is None else f"; its worker is forked with torch imported (an import "
                                                          f"alone takes {floor:.1f} s here)")))
    rows.extend(launch_rows(labs, trees, trace))
    slowest = max((lab for lab in labs if find_lab(lab["slug"]).distributed),
                  key=lambda lab: statistics.median(durations[lab["slug"]]), default=None)
    if slowest is not None:
        lab_time = statistics.median(durations[slowest["slug"]])
        for world, t in launch_cost(3 if quick else 7).items():
            rows.append(make_row(f"one rank launch, {world} ranks + a barrier", None, lab_time, "s", timing=t,
                                 reference_name=f"check lab {slowest['number']:02d} {slowest['slug']}",
                                 note="aisys.parallel.launch (FileStore rendezvous, gloo), torch already imported: "
                                      "the ratio is the share of that lab's check one launch costs"))
    return rows


def launch_rows(labs: list[dict], trees: list[ProcessTree | None], trace: bool) -> list[dict]:
    from aisys.catalog import find_lab

    distributed = [lab["slug"] for lab in labs if find_lab(lab["slug"]).distributed]
    if not trace:
        return [error_row(f"rank launches: {slug}", "strace is not available (or ptrace is not allowed)")
                for slug in distributed]
    rows = []
    slugs = [lab["slug"] for lab in labs]
    try:
        counts = [launches_by_lab(tree, slugs) for tree in trees if tree is not None]
    except ValueError as err:   # e.g. a lab whose checks did not load started no child
        return [error_row(f"rank launches: {slug}", f"could not attribute the trace to labs: {err}")
                for slug in distributed]
    for slug in distributed:
        launches = max(c[slug][0] for c in counts)
        processes = max(c[slug][1] for c in counts)
        if launches == 0:   # every distributed lab starts its ranks: none seen means the trace was misread
            rows.append(error_row(f"rank launches: {slug}", "no launch seen in its grading child's trace"))
            continue
        rows.append(make_row(f"rank launches: {slug}", launches, 1, "launches", reference_name="goal: one",
                             note=f"counted with strace (aisys-rdzv-* mkdirs) over {len(counts)} run(s), max; "
                                  f"{processes} processes started by its grading child"))
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import run_standalone

    run_standalone("grading", quick="--quick" in sys.argv)
