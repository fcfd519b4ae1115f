"""What a student reads when something goes wrong: direction and size, not the answer; one
line for a file whose import timed out; a rank failure told by its cause; staged files that
were refused, with the reason."""
from __future__ import annotations

import json
import os

import pytest

from aisys.grading.compare import close, magnitude, off_by
from aisys.grading.shapes import describe, expect, list_of, per_rank, require, STR, dict_of, array
from aisys.errors import StudentCodeError
from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace


def test_a_single_number_is_told_by_direction_and_magnitude_only():
    message = close(1.284, 1.0).message
    assert "too high" in message and "~1e-01" in message and "0.284" not in message and "1.284" not in message
    assert "too low" in close(-3.0, 1.0).message
    array = close([1.0, 2.0, 3.55], [1.0, 2.0, 3.0]).message
    assert "~1e-01" in array and "0.55" not in array and "(2,)" in array
    assert off_by(10.0, 7.0, "zero_memory(…)", "GB") == "zero_memory(…) is too high (off by ~1e+00 GB)"
    assert magnitude(0.0) == "0" and magnitude(float("inf")) == "an infinite amount"


def test_shapes_name_what_came_back():
    assert describe(None) == "None" and describe("x") == "a str ('x')" and describe([1, 2]) == "a list of 2 ints"
    shape = per_rank(dict_of({"out": array(ndim=1), "names": list_of(STR)}), 2)
    assert "from each of 2 ranks, got an empty list" in expect([], shape, "the output").message
    assert "missing the key 'names'" in expect([{"out": [1.0], "names": []}, {"out": [1.0]}], shape).message
    assert expect([{"out": [1.0], "names": ["a"]}] * 2, shape).passed
    with pytest.raises(StudentCodeError, match="topo_sort returned None; expected a list of strs"):
        require(None, list_of(STR), "topo_sort")


def test_an_import_that_times_out_is_one_message_for_the_whole_file(tmp_path):
    labs = workspace(tmp_path, "01_graph", {"graphs.py": [("from collections import deque",
                                                           "from collections import deque\nwhile True:\n    pass")]})
    report, proc = check_json("graph", "--labs-dir", str(labs), "--timeout", "6")
    for name in ("graph_from_torch", "topo_sort", "backward_graph"):
        messages = {c["message"] for c in exercise(report, name)["cases"]}
        assert len(messages) == 1 and "importing this file timed out" in messages.pop(), name
    assert exercise(report, "row_major_strides")["status"] == "passed", "other files are not affected"


def test_a_rank_failure_is_told_by_its_cause_not_by_its_echoes():
    from aisys.grading.spec import Case
    from aisys.parallel.suite import merge_records

    case = Case("w4", {"world": 4}, exercise="ring_all_reduce")
    gloo = "RuntimeError: [/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:553] Connection closed by peer"
    recs = [{"status": "error", "message": gloo, "stdout": ""},
            {"status": "error", "message": "ValueError: my bug", "stdout": ""},
            {"status": "error", "message": gloo, "stdout": ""},
            {"status": "error", "message": gloo, "stdout": ""}]
    merged = merge_records(case, recs)
    assert merged["message"].startswith("rank 1: ValueError: my bug")
    assert "rank 0, 2, 3 then failed too" in merged["message"] and "pair.cc" not in merged["message"]


def test_a_refused_submitted_file_says_why(tmp_path):
    sub = tmp_path / "sub" / "01_graph"
    sub.mkdir(parents=True)
    for name in ("tensors.py", "functions.py"):
        (sub / name).write_text((STUBS / "01_graph" / name).read_text())
    (sub / "graphs.py").write_text("# " + "x" * (3 * 2**20))
    proc = run_cli("check", "graph", "--submission", str(tmp_path / "sub"), "--format", "json",
                   "--no-isolation")
    report = json.loads(proc.stdout)
    message = exercise(report, "topo_sort")["cases"][0]["message"]
    assert "graphs.py was refused: too large" in message and "not found" not in message
    if hasattr(os, "mkfifo"):
        (sub / "graphs.py").unlink()
        os.mkfifo(sub / "graphs.py")
        proc = run_cli("check", "graph:topo_sort", "--submission", str(tmp_path / "sub"), "--format", "json",
                       "--no-isolation")
        assert "refused: not a regular file" in exercise(json.loads(proc.stdout), "topo_sort")["cases"][0]["message"]


def test_bad_targets_and_repeated_submissions_are_one_line():
    for args, said in ((["check", "graph", "topo_sort"], "write graph:topo_sort"),
                       (["check", "graph:nope"], "has no exercise 'nope'"),
                       (["check", "graph", "--submission", "a", "--submission", "b"], "aisys grade-class"),
                       (["check", "graph", "--seed", "-5"], "whole number")):
        proc = run_cli(*args)
        assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr, args


def test_one_exercise_is_graded_and_reported_alone():
    report, proc = check_json("graph:topo_sort", "--solutions")
    lab, = report["labs"]
    assert [ex["name"] for ex in lab["exercises"]] == ["topo_sort"] and lab["max_score"] == report["max_score"] == 15
    assert proc.returncode == 0


def test_a_report_to_a_device_is_written_not_replaced(tmp_path):
    """--output /dev/stdout (or /dev/null) must stay a device: it is written to, never replaced."""
    if not os.path.exists("/dev/stdout"):
        pytest.skip("no /dev/stdout here")
    from aisys.grading.command import write_report

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_report(fifo, "report\n")
    reader.join(10)
    assert got == ["report\n"] and fifo.is_fifo()
