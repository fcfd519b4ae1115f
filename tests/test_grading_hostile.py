"""Hostile submissions (tests/hostile/*), graded as untrusted code in kernel isolation, several
at once and beside an honest run of every lab: none earns a point for what it attacks, each
run ends in bounded time with the grader's own report in every format, nothing survives,
nothing outside the sandbox changes, no secret reaches a student, and the honest run keeps
full marks.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aisys.catalog import LABS, find_lab
from aisys.grading.isolation import bubblewrap_works
from conftest import REPO, STUBS, cli_env
from test_grading_formats import validate_gradescope, validate_junit

_WORKS, _WHY = bubblewrap_works()
pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux's"),
              pytest.mark.skipif(not _WORKS, reason=f"no kernel isolation here ({_WHY}): the hostile "
                                                    "suite grades untrusted code, which refuses without it")]
HOSTILE = REPO / "tests" / "hostile"
TIMEOUT = 14          # --timeout for every run: the infinite loops are ended by it
BOUND = TIMEOUT * 3 + 40
SECRET = "918273645546372819"
CANARY = f"canary-{uuid.uuid4().hex}"
NAMES = sorted(p.name for p in HOSTILE.iterdir() if p.is_dir())
FORMATS = ("json", "gradescope", "junit", "text")
# vectors only a single `aisys check` run has: the seed on its command line, its terminal output,
# its --output path: (submission, format, extra arguments)
CLI_RUNS = [("ansi_escapes", "terminal", ()), ("leak_seed", "junit", ("--seed", SECRET)),
            ("write_report", "json", ()), ("os_exit_at_import", "gradescope", ())]
RUNS = [(name, fmt, ()) for name in NAMES for fmt in FORMATS] + CLI_RUNS


def _id(run) -> str:
    name, fmt, extra = run
    return f"{name}-{fmt}" + ("-cli" if (name, fmt, extra) in CLI_RUNS else "")


def _lab_of(name: str):
    return find_lab(next(p.name for p in (HOSTILE / name).iterdir() if p.is_dir()))


def _guarded_processes() -> set[int]:
    """Processes that belong to some grading run (the guard's variable in their environment)."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if b"AISYS_GRADING_GUARD=" in Path(f"/proc/{name}/environ").read_bytes():
                    found.add(int(name))
            except OSError:
                continue
    return found


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def _host_state(outside: Path) -> dict:
    import site

    sites = {s: sorted(os.listdir(s)) for s in site.getsitepackages() if os.path.isdir(s)}
    return {"aisys": _tree_hash(REPO / "aisys"), "solutions": _tree_hash(REPO / "solutions"), "sites": sites,
            "shm": sorted(n for n in os.listdir("/dev/shm") if "pwned" in n),
            "tmp": sorted(n for n in os.listdir("/tmp") if "pwned" in n or n == "answers.py"),
            "outside": sorted(os.listdir(outside))}


def _submission(name: str, dest: Path, outside: Path, report: Path) -> Path:
    """The lab's stubs with the hostile files laid over them, placeholders filled in."""
    lab = _lab_of(name)
    shutil.copytree(STUBS / lab.folder, dest / lab.folder, ignore=shutil.ignore_patterns("*.md", "__pycache__"))
    for src in (HOSTILE / name).rglob("*.py"):
        text = src.read_text().replace("@REPORT@", str(report)).replace("@OUTSIDE@", str(outside))
        (dest / src.relative_to(HOSTILE / name)).write_text(text)
    return dest


def _env() -> dict:
    return cli_env({"AISYS_CHECK_MEMORY_MB": "1536", "AISYS_TEST_CANARY": CANARY, "COLUMNS": "100"})


def _class(lab, root: Path, outside: Path, seed_file: Path) -> dict:
    """Every submission attacking `lab`, graded as one class (three at a time): each is a student."""
    subs = root / "submissions"
    for name in NAMES:
        if _lab_of(name).slug == lab.slug:
            _submission(name, subs / name, outside, root / "grades" / "staff" / name / "report.json")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "aisys", "grade-class", str(subs), lab.slug, "--seed-file",
                           str(seed_file), "--output-dir", str(root / "grades"), "--jobs", "3",
                           "--timeout", str(TIMEOUT)], cwd=root, capture_output=True, text=True,
                          timeout=BOUND * 4, env=_env(), start_new_session=True)
    return {"proc": proc, "elapsed": time.monotonic() - started, "grades": root / "grades", "lab": lab}


def _check_once(run, root: Path, outside: Path, seed_file: Path) -> dict:
    name, fmt, extra = run
    lab = _lab_of(name)
    report = root / "out" / "report"
    sub = _submission(name, root / "submission", outside, report)
    seed = list(extra) or ["--seed-file", str(seed_file)]
    args = [sys.executable, "-m", "aisys", "check", lab.slug, "--submission", str(sub), *seed,
            "--timeout", str(TIMEOUT)]
    if fmt != "terminal":
        args += ["--format", fmt, "--output", str(report)]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=BOUND + 60, env=_env(),
                          start_new_session=True)
    text = proc.stdout if fmt == "terminal" else (report.read_text() if report.is_file() else "")
    return {"proc": proc, "elapsed": time.monotonic() - started, "text": text, "fmt": fmt, "lab": lab}


FILE_OF = {"json": "report.json", "gradescope": "results.json", "junit": "report.xml", "text": "report.txt"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    outside = tmp_path_factory.mktemp("outside")
    seed_file = tmp_path_factory.mktemp("seed") / "seed"
    seed_file.write_text(SECRET + "\n")
    before_pids, before = _guarded_processes(), _host_state(outside)
    honest = subprocess.Popen([sys.executable, "-m", "aisys", "check", "--solutions", "--format", "json",
                               "--timeout", "240"], cwd=REPO, env=cli_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    labs = sorted({_lab_of(name).slug: _lab_of(name) for name in NAMES}.values(), key=lambda l: -l.number)
    with ThreadPoolExecutor(max_workers=len(labs) + 1) as pool:
        classes = {lab.slug: pool.submit(_class, lab, tmp_path_factory.mktemp(lab.slug), outside, seed_file)
                   for lab in labs}
        singles = {_id(r): pool.submit(_check_once, r, tmp_path_factory.mktemp(_id(r)), outside, seed_file)
                   for r in CLI_RUNS}
        classes = {slug: f.result() for slug, f in classes.items()}
        runs = {key: f.result() for key, f in singles.items()}
    for name in NAMES:
        graded = classes[_lab_of(name).slug]
        for fmt in FORMATS:
            path = graded["grades"] / ("staff" if fmt in ("json", "gradescope") else "students") / name / FILE_OF[fmt]
            runs[_id((name, fmt, ()))] = {"proc": graded["proc"], "elapsed": graded["elapsed"], "fmt": fmt,
                                          "lab": graded["lab"], "text": path.read_text() if path.is_file() else "",
                                          "class": True}
    out, err = honest.communicate(timeout=900)
    time.sleep(1.0)
    print("hostile classes:", {k: round(v["elapsed"], 1) for k, v in classes.items()})
    return {"runs": runs, "classes": classes, "honest": (honest.returncode, out, err), "outside": outside,
            "before": before, "after": _host_state(outside),
            "leftovers": _guarded_processes() - before_pids}


def test_every_class_of_attack_has_a_submission():
    classes = {"forged records": {"forge_records", "forge_ranks", "forge_tp"}, "secret seed": {"leak_seed"},
               "same-user takeover": {"takeover", "read_solutions", "kill_grader", "import_solutions"},
               "escaping the run": {"escape_setsid", "fork_loop", "wipe_neighbours", "spawn_loop"},
               "crashing the report": {"surrogates", "huge_line", "write_report", "nested_flood"},
               "injection": {"ansi_escapes"}}
    for attack, names in classes.items():
        assert names <= set(NAMES), f"{attack}: {names - set(NAMES)} missing"


def _messages(report: dict) -> str:
    return "\n".join(c["message"] + "\n" + c.get("output", "")
                     for lab in report["labs"] for ex in lab["exercises"] for c in ex["cases"])


@pytest.mark.slow
@pytest.mark.parametrize("run", RUNS, ids=_id)
def test_hostile_submission_earns_nothing(run, world):
    result = world["runs"][_id(run)]
    proc, fmt, lab = result["proc"], result["fmt"], result["lab"]
    expected_exit = 0 if result.get("class") else 1       # grade-class: the class was graded
    assert proc.returncode == expected_exit, f"exit {proc.returncode}; stderr:\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert result["elapsed"] < BOUND * (3 if result.get("class") else 1), f"took {result['elapsed']:.0f} s"
    assert result["text"], "no report written"
    if fmt == "gradescope":
        data = json.loads(result["text"])
        validate_gradescope(data, [lab])
        assert data["score"] == 0 and all(t["score"] == 0 and t["status"] == "failed" for t in data["tests"])
    elif fmt == "junit":
        root = validate_junit(result["text"], [lab])
        for case in root.iter("testcase"):
            points = {p.get("name"): p.get("value") for p in case.find("properties")}
            assert float(points["score"]) == 0
    elif fmt in ("text", "terminal"):
        assert "total 0 / 100" in result["text"] and "\x1b" not in result["text"]
    else:
        report = json.loads(result["text"])
        assert report["score"] == 0, _messages(report)[-3000:]
        assert report["labs"] and report["labs"][0]["exercises"], "a forged report"
        assert report["extra"]["isolation"]["mode"] == "namespaces"
        assert all(c["status"] != "passed" for ex in report["labs"][0]["exercises"] for c in ex["cases"])
        EXPECT.get(run[0], lambda report: None)(report)


def _statuses(report: dict, exercise: str) -> set[str]:
    return {c["status"] for lab in report["labs"] for ex in lab["exercises"] if ex["name"] == exercise
            for c in ex["cases"]}


def _says(*words):
    return lambda report: _check(all(w in _messages(report) for w in words), report)


EXPECT = {
    "infinite_loop": lambda report: _check(_statuses(report, "row_major_strides") == {"timeout"}, report),
    "deadlocked_collective": lambda report: _check(_statuses(report, "ring_all_reduce") <= {"timeout", "error"},
                                                   report),
    "fork_loop": lambda report: _check(_statuses(report, "row_major_strides") <= {"timeout", "error"}, report),
    "memory_bomb": _says("MemoryError"),
    "rank_raises": _says("rank"),
    "forge_records": _says("invalid result record"),
    "takeover": lambda report: _check("WROTE" not in _messages(report) and "Read-only" in _messages(report),
                                      report),
    "read_solutions": lambda report: _check("def row_major_strides" not in _messages(report), report),
}


def _check(condition: bool, report: dict) -> None:
    assert condition, _messages(report)[-3000:]


@pytest.mark.slow
def test_the_honest_run_beside_them_keeps_full_marks(world):
    code, out, err = world["honest"]
    report = json.loads(out)
    assert code == 0 and report["score"] == report["max_score"] == 100.0 * len([l for l in LABS if l.available]), \
        _messages(report)[-2000:] + err[-1000:]


@pytest.mark.slow
def test_nothing_outlives_the_runs(world):
    alive = [p for p in world["leftovers"] if Path(f"/proc/{p}").exists()]
    assert not alive, f"processes of a grading run left behind: {alive}"


@pytest.mark.slow
def test_nothing_outside_the_sandbox_changed(world):
    before, after = world["before"], world["after"]
    for key in before:
        assert before[key] == after[key], f"{key} changed: {before[key]} → {after[key]}"


@pytest.mark.slow
def test_no_secret_reaches_what_a_student_sees(world):
    for key, result in world["runs"].items():
        text = result["text"]
        if result["fmt"] == "json":
            data = json.loads(text)
            text = _messages(data) + "\n".join(lab.get("output", "") for lab in data["labs"])
        elif result["fmt"] == "gradescope":
            data = json.loads(text)
            text = json.dumps(data["tests"]) + data.get("output", "")
        text += result["proc"].stdout + result["proc"].stderr
        assert SECRET not in text, f"{key} leaked the seed"
        assert CANARY not in text, f"{key} leaked the grader's environment"


def test_symlinked_folders_and_files_are_never_followed(tmp_path):
    sub = tmp_path / "sub"
    (sub / "labs").mkdir(parents=True)
    (sub / "labs" / "01_graph").symlink_to(REPO / "solutions" / "01_graph", target_is_directory=True)
    deep = sub / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "c").symlink_to(REPO / "solutions", target_is_directory=True)
    real = sub / "x" / "01_graph"
    real.mkdir(parents=True)
    (real / "tensors.py").symlink_to(REPO / "solutions" / "01_graph" / "tensors.py")
    proc = subprocess.run([sys.executable, "-m", "aisys", "check", "graph", "--submission", str(sub), "--format",
                           "json"], capture_output=True, text=True, timeout=300, env=cli_env(), cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert report["score"] == 0
    assert "refused: a symbolic link" in _messages(report)


def test_untrusted_grading_fails_closed_without_isolation(tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(STUBS / "01_graph", sub / "01_graph")
    args = [sys.executable, "-m", "aisys", "check", "graph:row_major_strides", "--submission", str(sub),
            "--format", "json"]
    env = cli_env({"AISYS_NO_BWRAP": "1"})
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "needs kernel isolation" in proc.stderr and "bubblewrap" in proc.stderr
    assert proc.stderr.count("\n") == 1, "one line"
    proc = subprocess.run(args + ["--no-isolation"], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert json.loads(proc.stdout)["extra"]["isolation"]["opted_out"] is True


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can switch users")
def test_a_separate_uid_never_silently_becomes_root(tmp_path):
    from aisys.grading.isolation import unreachable_for_others

    if not unreachable_for_others():
        pytest.skip("nobody can run this Python here, so the uid mode works")
    proc = subprocess.run([sys.executable, "-m", "aisys", "check", "graph", "--submission", str(tmp_path),
                           "--isolation", "uid"], capture_output=True, text=True, timeout=120, env=cli_env())
    assert proc.returncode == 2 and "not readable by other users" in proc.stderr


def test_a_huge_line_on_the_result_channel_costs_the_reader_nothing():
    import threading
    import tracemalloc

    from aisys.grading.channel import MAX_LINE, Channel

    read_fd, write_fd = os.pipe()
    tracemalloc.start()
    channel = Channel(os.fdopen(read_fd, "rb"), "a" * 32)
    channel.expect("b" * 32)

    def write():
        with os.fdopen(write_fd, "wb") as out:
            out.write(b"b" * 32 + b" ")
            for _ in range(4 * MAX_LINE // 2**20):
                out.write(b"x" * 2**20)
            out.write(b"\n" + b"b" * 32 + b' {"case": "x"}\n')
    writer = threading.Thread(target=write)
    writer.start()
    writer.join()
    assert channel.messages.get(timeout=30) is None          # end of the stream
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert channel.take() == ['{"case": "x"}'], "the oversized line is dropped, the next one kept"
    assert peak < 3 * MAX_LINE, f"peak {peak >> 20} MiB while reading a {4 * MAX_LINE >> 20} MiB line"
