"""The benchmark runner and its helpers (no timing assertions: the machine is shared)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks import __main__ as runner
from benchmarks.common import REQUIRED, Timing, error_row, make_row, markdown, measure_interleaved, normalize
from benchmarks.grading import launches_by_lab, parse_strace
from tests.conftest import REPO


def test_every_topic_is_known_to_the_runner():
    assert {"cli_startup", "grading", "autodiff"} <= set(runner.TOPICS)
    for name in ("cli_startup", "grading", "autodiff", "gpu"):
        assert (REPO / "benchmarks" / f"{name}.py").is_file()


def test_make_row_has_the_schema_and_computes_the_ratio():
    row = make_row("x", None, 2.0, "s", timing=Timing([1.0, 3.0, 5.0]), reference_name="y")
    assert all(key in row for key in REQUIRED)
    assert row["value"] == 3.0 and row["ratio"] == 1.5 and row["spread"] == [1.0, 5.0] and row["runs"] == 3


def test_normalize_fills_the_ratio_and_rejects_malformed_rows():
    row = normalize({"name": "a", "value": 6, "reference": 3, "ratio": None, "unit": "s"}, "topic")
    assert row["ratio"] == 2 and row["topic"] == "topic"
    bad = normalize({"name": "a"}, "topic")
    assert bad["error"] and bad["ratio"] is None


def test_a_missing_topic_module_is_an_error_row_not_a_crash():
    rows = runner.run_topic("no_such_topic", quick=True, limit=30)
    assert len(rows) == 1 and "missing" in rows[0]["error"]


def test_interleaved_measurement_times_every_callable():
    calls = []
    got = measure_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3)
    assert calls == ["a", "b", "a", "b", "a", "b", "a", "b"]   # one warm-up each, then turns
    assert len(got["a"].runs) == 3 and len(got["b"].runs) == 3


def test_markdown_renders_error_and_skipped_rows():
    rows = [normalize(make_row("x", 1.0, 2.0, "s"), "t"), normalize(error_row("y", "skipped: no GPU"), "gpu"),
            normalize(error_row("z", "boom"), "t")]
    text = markdown(rows)
    assert "| skipped |" in text and "| error |" in text and "0.5×" in text


TRACE = """\
100 execve("/usr/bin/python", ["python", "-m", "aisys", "check"], 0x0 /* 3 vars */) = 0
100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD <unfinished ...>
100 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_THREAD|CLONE_SIGHAND) = 101
100 <... clone resumed>, child_tidptr=0x7f) = 150
150 execve("/usr/bin/python", ["python", "-I", "-c", "from aisys.grading.zygote import main; main()"], 0x0) = 0
150 mkdir("/tmp/aisys-session-q/scratch/lab-1-data-parallel", 0777) = 0
150 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD) = 200
200 mkdir("/tmp/aisys-session-q/scratch/aisys-rdzv-xyz", 0700) = 0
200 clone(child_stack=NULL, flags=SIGCHLD) = 201
200 clone(child_stack=NULL, flags=SIGCHLD) = 202
201 mkdir("/tmp/aisys-session-q/scratch/other", 0700) = 0
201 +++ exited with 0 +++
150 mkdir("/tmp/aisys-session-q/scratch/lab-2-graph", 0777) = 0
150 clone(child_stack=NULL, flags=SIGCHLD) = 300
"""


def test_parse_strace_attributes_launches_and_processes_to_labs():
    tree = parse_strace(TRACE)
    assert tree.workers == [200, 300] and tree.worker_labs == ["data-parallel", "graph"]
    assert 101 not in tree.parent          # a thread is not a process
    # the report lists labs by number; the longest ran first: each worker is known by its directory
    assert launches_by_lab(tree, ["graph", "data-parallel"]) == {"graph": (0, 0), "data-parallel": (1, 2)}
    with pytest.raises(ValueError):
        launches_by_lab(tree, ["only-one-lab"])


def test_launch_rows_degrade_to_error_rows_when_the_trace_does_not_match():
    from benchmarks.grading import launch_rows

    labs = [{"slug": "graph"}, {"slug": "data-parallel"}]
    rows = launch_rows(labs, [parse_strace(TRACE.replace("aisys.grading.zygote", "other"))], trace=True)
    assert [r["name"] for r in rows] == ["rank launches: data-parallel"] and "attribute" in rows[0]["error"]


def test_autodiff_program_and_reference_agree_with_torch_on_a_small_program():
    from benchmarks.autodiff import program, runners

    steps, out, values = program(target=60)
    assert len(steps) >= 60 and program(target=60)[0] == steps   # seeded
    run = runners(steps, out, values)
    ref_grads, _ = run["ref1"]()
    assert ref_grads == pytest.approx(run["torch1"](), rel=1e-9, abs=1e-12)
    assert run["ref2"]()[0] == pytest.approx(run["torch2"](), rel=1e-9, abs=1e-12)


def test_gpu_section_skips_cleanly_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present: the GPU section would run for real")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "skipped" in proc.stdout and "Traceback" not in proc.stderr


def test_quick_cli_startup_run_writes_rows_with_ratios(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "cli_startup",
                           "--json", str(out), "--markdown", str(tmp_path / "rows.md")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["meta"]["quick"] is True and data["rows"]
    for row in data["rows"]:
        assert not row.get("error"), row
        assert all(key in row for key in REQUIRED) and row["ratio"] is not None
    help_row = next(r for r in data["rows"] if r["name"] == "aisys --help")
    assert help_row["torch_imported"] is False
    assert (tmp_path / "rows.md").read_text().startswith("| topic |")


def test_unknown_topic_is_refused():
    assert runner.main(["--only", "nope"]) == 2


def test_lab03_rows_put_measured_memory_next_to_theory():
    if not (REPO / "solutions" / "03_ad_challenges" / "checkpointing.py").is_file():
        pytest.skip("lab 03 reference not written yet")
    from benchmarks.autodiff import checkpoint_rows

    rows = {r["name"]: r for r in checkpoint_rows(quick=True)}
    assert not any(r.get("error") for r in rows.values())
    assert rows["lab 03 store-all: peak live activations, 64 layers"]["value"] == 64
    assert rows["lab 03 none: recomputed forward ops"]["value"] == 64 * 63 // 2
    assert rows["lab 03 √n: peak live activations, 64 layers"]["value"] <= \
        rows["lab 03 √n: peak live activations, 64 layers"]["reference"]
