"""`--format gradescope` and `--format junit`: the files validate against the formats'
structure. (That they are written when every case crashed is tested on the hostile
submissions that kill the checker: tests/test_grading_hostile.py.)"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aisys.catalog import LABS
from conftest import run_cli

GRAPH = next(lab for lab in LABS if lab.slug == "graph")
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def _write(tmp: Path, fmt: str, *args: str) -> tuple[str, object]:
    out = tmp / f"report.{fmt}"
    proc = run_cli("check", *args, "--format", fmt, "--output", str(out))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert out.is_file(), f"no report written; stderr:\n{proc.stderr}"
    return out.read_text(), proc


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("solved")
    return {fmt: _write(tmp, fmt, "graph", "--solutions") for fmt in ("gradescope", "junit")}


def validate_gradescope(data: dict, labs) -> None:
    """Gradescope's results.json: the fields and types its autograder specification names."""
    assert isinstance(data["score"], (int, float))
    assert isinstance(data["execution_time"], (int, float)) and data["execution_time"] >= 0
    assert isinstance(data["output"], str)
    assert data.get("visibility", "visible") in VISIBILITY
    assert data.get("stdout_visibility", "hidden") in VISIBILITY
    tests = data["tests"]
    assert len(tests) == sum(len(lab.exercises) for lab in labs)
    for test in tests:
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert isinstance(test["name"], str) and isinstance(test["number"], str)
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["output"], str) and test["visibility"] in VISIBILITY
    assert len({t["number"] for t in tests}) == len(tests)
    assert abs(sum(t["score"] for t in tests) - data["score"]) < 1e-6
    extra = data["extra_data"]
    assert {"seed", "versions", "file_hashes"} <= set(extra)
    assert extra["versions"]["aisys"] and extra["versions"]["python"]


def validate_junit(text: str, labs) -> ET.Element:
    """JUnit XML as CI systems read it: counts that match the children, points as properties."""
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"lab{lab.number:02d}-{lab.slug}" for lab in labs]
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite, lab in zip(suites, labs):
        cases = suite.findall("testcase")
        counts = {"tests": len(cases), "failures": sum(c.find("failure") is not None for c in cases),
                  "errors": sum(c.find("error") is not None for c in cases),
                  "skipped": sum(c.find("skipped") is not None for c in cases)}
        assert {k: int(suite.get(k)) for k in counts} == counts
        totals = {k: totals[k] + counts[k] for k in totals}
        float(suite.get("time"))
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert float(props["max_score"]) == lab.max_score
        assert [c.get("name") for c in cases] == [ex.name for ex in lab.exercises]
        for case, ex in zip(cases, lab.exercises):
            assert case.get("classname") and float(case.get("time")) >= 0
            assert {c.tag for c in case} <= {"properties", "failure", "error", "skipped", "system-out", "system-err"}
            points = {p.get("name"): p.get("value") for p in case.find("properties")}
            assert float(points["max_score"]) == ex.points
            assert 0 <= float(points["score"]) <= ex.points
            for bad in case.findall("failure") + case.findall("error"):
                assert bad.get("message") and bad.get("type")
    assert {k: int(root.get(k)) for k in totals} == totals
    return root


@pytest.mark.slow
def test_gradescope_for_the_reference_answers(solved):
    text, proc = solved["gradescope"]
    data = json.loads(text)
    validate_gradescope(data, [GRAPH])
    assert proc.returncode == 0
    assert data["score"] == GRAPH.max_score
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in data["tests"])
    assert set(data["extra_data"]["file_hashes"]) == {f"{GRAPH.folder}/{f}" for f in GRAPH.files}


@pytest.mark.slow
def test_junit_for_the_reference_answers(solved):
    text, proc = solved["junit"]
    root = validate_junit(text, [GRAPH])
    assert proc.returncode == 0
    assert root.get("failures") == "0" and root.get("errors") == "0"


def test_junit_survives_bytes_xml_forbids():
    from aisys.grading.formats.junit import render_junit
    from aisys.grading.report import CaseResult, ExerciseResult, LabResult, Report

    case = CaseResult("c", "failed", output="\x00\x1b[31mred\x07", message="bad \x0c value")
    ex = ExerciseResult("row_major_strides", "tensors.py", 0.0, 10.0, "failed", cases=[case])
    lab = LabResult("graph", 1, 0.0, 10.0, exercises=[ex], output="\x00")
    report = Report("0.1.0", 0, "labs", 0.0, 10.0, labs=[lab])
    root = ET.fromstring(render_junit(report))
    assert "red" in root.find("testsuite/testcase/failure").text


def test_secret_seed_says_hidden_checks_decide():
    from aisys.grading.formats.gradescope import gradescope_dict
    from aisys.grading.formats.text import render_text
    from aisys.grading.report import Report

    report = Report("0.1.0", 123456, "labs", 0.0, 0.0)
    assert "hidden" in render_text(report)
    assert "hidden" in gradescope_dict(report)["output"]
    assert "hidden" not in render_text(Report("0.1.0", 0, "labs", 0.0, 0.0))
