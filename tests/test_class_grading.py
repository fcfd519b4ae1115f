"""`aisys grade-class`: the layouts of every bulk download, a gradebook with the right
totals, a summary a browser renders, re-runs that skip unchanged students, and one broken or
hostile student who costs nothing but their own row."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from aisys.grading.isolation import bubblewrap_works
from aisys.grading.roster import find_submissions, materialize
from aisys.grading.staging import stage
from conftest import REPO, STUBS, run_cli

GRAPH = "01_graph"


def _solved(dest: Path, files=("tensors.py", "functions.py", "graphs.py")) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("tensors.py", "functions.py", "graphs.py"):
        source = REPO / "solutions" / GRAPH / name if name in files else STUBS / GRAPH / name
        shutil.copyfile(source, dest / name)


def _zip(path: Path, folder: Path, prefix: str) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(folder.rglob("*.py")):
            zf.write(file, f"{prefix}/{file.relative_to(folder)}")


def test_every_bulk_download_layout_is_read(tmp_path):
    layouts = {}
    plain = tmp_path / "plain"                      # a folder or a zip per student, by hand
    _solved(plain / "ann" / "labs" / GRAPH)
    _solved(tmp_path / "zipsrc" / GRAPH)
    plain.mkdir(exist_ok=True)
    _zip(plain / "ben.zip", tmp_path / "zipsrc", "my-repo")
    layouts["plain"] = (plain, ["ann", "ben"])
    classroom = tmp_path / "classroom"              # GitHub Classroom: <assignment>-<login>
    for login in ("octocat", "hubot"):
        _solved(classroom / f"lab-01-graph-{login}" / "labs" / GRAPH)
    layouts["classroom"] = (classroom, ["hubot", "octocat"])
    gradescope = tmp_path / "gradescope"            # Export Submissions: ids + metadata
    for sid in ("submission_111", "submission_222"):
        _solved(gradescope / sid / GRAPH)
    (gradescope / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '1'\nsubmission_222:\n"
        "  :submitters:\n  - :name: Alan Turing\n")
    layouts["gradescope"] = (gradescope, ["Ada Lovelace", "Alan Turing"])
    moodle = tmp_path / "moodle"                    # Download all submissions
    _solved(moodle / "Grace Hopper_4242_assignsubmission_file_")
    layouts["moodle"] = (moodle, ["Grace Hopper"])
    canvas = tmp_path / "canvas"                    # flat files, resubmissions get -1
    canvas.mkdir()
    for name in ("tensors.py", "functions.py"):
        shutil.copyfile(REPO / "solutions" / GRAPH / name, canvas / f"knuthd_12_34_{name}")
    shutil.copyfile(REPO / "solutions" / GRAPH / "graphs.py", canvas / "knuthd_LATE_12_34_graphs-1.py")
    _zip(canvas / "ritchied_56_78_submission.zip", tmp_path / "zipsrc", "x")
    layouts["canvas"] = (canvas, ["knuthd", "ritchied"])
    for name, (root, students) in layouts.items():
        subs = find_submissions(root)
        assert [s.student for s in subs] == students, name
        for sub in subs:
            raw = tmp_path / "raw" / name / sub.key
            materialize(sub, raw)
            staged = stage(raw, tmp_path / "staged" / name / sub.key)
            assert sorted(staged.copied) == [f"{GRAPH}/{f}" for f in ("functions.py", "graphs.py", "tensors.py")], \
                (name, sub.student, staged)


def test_zips_never_extract_outside_or_through_links(tmp_path):
    root = tmp_path / "subs"
    root.mkdir()
    with zipfile.ZipFile(root / "mallory.zip", "w") as zf:
        zf.writestr("../../escape/tensors.py", "x = 1\n")
        zf.writestr("/abs/graphs.py", "x = 1\n")
        link = zipfile.ZipInfo("01_graph/functions.py")
        link.external_attr = (0o120777 << 16)          # a symlink entry
        zf.writestr(link, str(REPO / "solutions" / GRAPH / "functions.py"))
    sub, = find_submissions(root)
    notes = materialize(sub, tmp_path / "raw")
    assert not (tmp_path / "escape").exists() and not Path("/abs").exists()
    assert any("functions.py" == name for name, _ in notes), notes
    staged = stage(tmp_path / "raw", tmp_path / "staged")
    assert "01_graph/functions.py" not in staged.copied


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Five students on lab 01: complete, half done, broken, a copy of the reference, hostile."""
    works, why = bubblewrap_works()
    if not works:
        pytest.skip(f"grade-class grades untrusted code and needs kernel isolation here: {why}")
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    _solved(subs / "complete" / "labs" / GRAPH)
    (subs / "complete" / "labs" / GRAPH / "graphs.py").write_text(     # a different, correct style
        (REPO / "solutions" / GRAPH / "graphs.py").read_text().replace("deque(", "deque(list(", 1)
        .replace("if degree == 0)", "if degree == 0))", 1))
    _solved(subs / "half" / GRAPH, files=("tensors.py",))
    _solved(subs / "broken" / GRAPH)
    (subs / "broken" / GRAPH / "functions.py").write_text("def broken(:\n")
    _solved(subs / "=copy" / GRAPH)                                  # and a formula-looking name
    _solved(subs / "hostile" / GRAPH)
    (subs / "hostile" / GRAPH / "tensors.py").write_text(
        "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept Exception:\n    pass\n"
        "def row_major_strides(shape):\n    raise ValueError('\\x1b[2J\\x1b]0;pwned\\x07 [red]x[/red] \\ud800')\n")
    out = root / "out"
    proc = run_cli("grade-class", str(subs), "graph", "--output-dir", str(out), "--seed", "5", "--jobs", "2",
                   timeout=600)
    return subs, out, proc


def _grades(out: Path) -> dict[str, dict]:
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    return {row["student"]: row for row in rows}


@pytest.mark.slow
def test_the_gradebook_has_one_row_per_student_with_the_right_totals(graded_class):
    subs, out, proc = graded_class
    assert proc.returncode == 0, proc.stderr[-3000:]
    grades = _grades(out)
    assert set(grades) == {"complete", "half", "broken", "'=copy", "hostile"}
    header = list(next(iter(grades.values())))
    assert header[0] == "student" and header[-1] == "total" and "lab 01 graph" in header
    assert float(grades["complete"]["total"]) == 100 and float(grades["'=copy"]["total"]) == 100
    assert float(grades["half"]["total"]) == 30 and float(grades["half"]["01 graph: tensor_info"]) == 10
    assert float(grades["broken"]["01 graph: MyReLU"]) == 0 and float(grades["broken"]["total"]) == 80
    assert float(grades["hostile"]["01 graph: row_major_strides"]) == 0
    assert float(grades["hostile"]["total"]) == 70, "the hostile student's other files still count"
    for row in grades.values():
        parts = sum(float(v) for k, v in row.items() if ": " in k)
        assert abs(parts - float(row["total"])) < 1e-6


@pytest.mark.slow
def test_every_format_per_student_and_staff_only_flags(graded_class):
    subs, out, proc = graded_class
    for student in ("complete", "half", "broken", "copy", "hostile"):
        folder = out / "students" / student
        assert {p.name for p in folder.iterdir()} >= {"report.json", "report.xml", "results.json", "report.txt"}
    copy = json.loads((out / "students" / "copy" / "report.json").read_text())
    assert len(copy["extra"]["matches_reference"]) == 8, "a copy of the reference is flagged"
    assert json.loads((out / "students" / "complete" / "report.json").read_text())["extra"]["matches_reference"] \
        != copy["extra"]["matches_reference"]
    junit = (out / "students" / "copy" / "report.xml").read_text()
    assert 'name="seed"' not in junit, "a secret seed never reaches JUnit"
    text = (out / "students" / "hostile" / "report.txt").read_text()
    assert "\x1b" not in text and "\ud800" not in text and "[red]x[/red]" in text


@pytest.mark.slow
def test_the_summary_is_printed_and_written_as_one_page(graded_class):
    subs, out, proc = graded_class
    assert "class summary — 5 students" in proc.stdout and "most common failing case" in proc.stdout
    assert "eta" in proc.stderr and "students" in proc.stderr
    page = (out / "summary.html").read_text()
    assert "<svg" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page and "<td>=copy</td>" in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", f"--user-data-dir={out / '.chromium'}", "--dump-dom",
                          (out / "summary.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('class="bin"') == 10 and dom.stdout.count("<tr>") >= 1 + 8 + 1 + 5


@pytest.mark.slow
def test_a_rerun_reuses_unchanged_students_and_regrades_changed_ones(graded_class):
    subs, out, _ = graded_class
    (subs / "half" / GRAPH / "functions.py").write_text((REPO / "solutions" / GRAPH / "functions.py").read_text())
    proc = run_cli("grade-class", str(subs), "graph", "--output-dir", str(out), "--seed", "5", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("unchanged, reused") == 4
    assert float(_grades(out)["half"]["total"]) == 50


def test_grade_class_refuses_bad_input_in_one_line(tmp_path):
    for args in (["grade-class", str(tmp_path / "none"), "--output-dir", str(tmp_path / "o")],
                 ["grade-class", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--seed", "-1"],
                 ["grade-class", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--formats", "pdf"]):
        proc = run_cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("error:"), args
