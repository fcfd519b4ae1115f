"""`aisys grade-class`: the layouts of every bulk download, a gradebook with the right
totals, a summary a browser renders, re-runs that skip unchanged students, and one broken or
hostile student who costs nothing but their own row."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aisys.grading.isolation import bubblewrap_works
from aisys.grading.roster import find_submissions, materialize
from aisys.grading.staging import stage
from conftest import REPO, STUBS, cli_env, run_cli

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
    for login in ("octocat", "hubot"):
        (classroom / f"lab-01-graph-{login}" / ".git").mkdir()          # what `gh classroom clone` gives
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
    shutil.copyfile(STUBS / GRAPH / "graphs.py", canvas / "knuthd_12_33_graphs.py")    # an older attempt
    layouts["canvas"] = (canvas, ["knuthd", "ritchied"])
    for name, (root, students) in layouts.items():
        subs = find_submissions(root)
        assert [s.student for s in subs] == students, name
        assert len({s.key for s in subs}) == len(subs), name
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


def _doc_block(text: str, after: str, lang: str) -> str:
    start = text.index(f"```{lang}\n", text.index(after)) + len(lang) + 4
    return text[start:text.index("```", start)]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    """docs/class.md's walk-through, run as written from the repository's root."""
    works, why = bubblewrap_works()
    if not works:
        pytest.skip(f"grade-class grades untrusted code and needs kernel isolation here: {why}")
    doc = (REPO / "docs" / "class.md").read_text()
    script = _doc_block(doc, "## 3. The walk-through", "bash")
    root = tmp_path_factory.mktemp("class")
    prelude = f'aisys() {{ "{sys.executable}" -m aisys "$@"; }}\nset -e\n'
    proc = subprocess.run(["bash", "-c", prelude + script], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env=cli_env({"CLASS": str(root), "COLUMNS": "100"}))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return doc, root, proc


def _grades(out: Path) -> dict[str, dict]:
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text(encoding="utf-8-sig"))))
    return {row["student"]: row for row in rows}


@pytest.mark.slow
def test_the_walkthrough_gives_the_gradebook_the_docs_show(walkthrough):
    doc, root, proc = walkthrough
    quoted = list(csv.DictReader(io.StringIO(_doc_block(doc, "The gradebook", "text"))))
    grades = _grades(root / "grades")
    assert {r["student"]: r["total"] for r in quoted} == {k: v["total"] for k, v in grades.items()}
    header = list(next(iter(grades.values())))
    assert header[:2] == ["student", "id"] and header[-1] == "total" and "lab 01 graph" in header
    assert (root / "grades" / "grades.csv").read_bytes().startswith(b"\xef\xbb\xbf"), "a BOM for spreadsheets"
    assert float(grades["lin"]["01 graph: tensor_info"]) == 10 and float(grades["sam"]["01 graph: MyReLU"]) == 0
    for row in grades.values():
        parts = sum(float(v) for k, v in row.items() if ": " in k)
        assert abs(parts - float(row["total"])) < 1e-6


@pytest.mark.slow
def test_every_format_per_student_and_staff_only_flags(walkthrough):
    _, root, _ = walkthrough
    out = root / "grades"
    for student in ("ada", "grace", "lin", "sam", "eve"):
        assert {p.name for p in (out / "students" / student).iterdir()} == {"report.xml", "report.txt"}
        assert {p.name for p in (out / "staff" / student).iterdir()} >= {"report.json", "results.json"}
        handed_back = "".join(p.read_text() for p in (out / "students" / student).iterdir())
        assert "31415926" not in handed_back, "what can be handed back never holds the seed"
    report = lambda who: json.loads((out / "staff" / who / "report.json").read_text())   # noqa: E731
    assert len(report("grace")["extra"]["matches_reference"]) == 8, "a copy of the reference is flagged"
    assert report("ada")["extra"]["matches_reference"] == [], "her own names: no flag"
    assert 'name="seed"' not in (out / "students" / "grace" / "report.xml").read_text()
    text = (out / "students" / "eve" / "report.txt").read_text()
    assert "\x1b" not in text and "[green]passed[/]" in text and "31415926" not in text


@pytest.mark.slow
def test_the_summary_is_printed_and_written_as_one_page(walkthrough):
    _, root, proc = walkthrough
    out = root / "grades"
    assert "class summary — 5 students" in proc.stdout and "most common failing case" in proc.stdout
    assert "eta" in proc.stderr and "5/5" in proc.stderr
    page = (out / "summary.html").read_text()
    assert "<svg" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page and "<td>grace</td>" in page and "grace: 8 exercise(s)" in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", f"--user-data-dir={root / '.chromium'}", "--dump-dom",
                          (out / "summary.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('class="bin"') == 10 and dom.stdout.count("<tr>") >= 1 + 8 + 1 + 5


@pytest.mark.slow
def test_a_rerun_reuses_unchanged_students_and_regrades_changed_ones(walkthrough):
    _, root, _ = walkthrough
    subs, out = root / "submissions", root / "grades"
    shutil.copyfile(REPO / "solutions" / GRAPH / "functions.py", subs / "lin" / "functions.py")
    (out / "staff" / "ada" / "results.json").unlink()          # a format missing from a reused student
    proc = run_cli("grade-class", str(subs), "graph", "--output-dir", str(out), "--seed-file", str(root / "seed.txt"),
                   timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("unchanged, reused") == 4
    assert float(_grades(out)["lin"]["total"]) == 50
    assert (out / "staff" / "ada" / "results.json").is_file(), "rebuilt from the saved report"
    before = (out / "grades.csv").read_text()
    proc = run_cli("grade-class", str(subs), "graph:topo_sort", "--output-dir", str(out), "--seed-file",
                   str(root / "seed.txt"), timeout=600)
    assert proc.returncode == 0 and (out / "grades.csv").read_text() == before, "a regrade leaves the full results"
    partial = _grades(out / "partial" / "graph-topo_sort")
    assert float(partial["ada"]["total"]) == 15 and float(partial["lin"]["total"]) == 0


def test_a_name_that_looks_like_a_formula_stays_text_in_the_gradebook():
    from aisys.catalog import find_lab
    from aisys.grading.gradebook import Row, grades_csv

    text = grades_csv([Row("=HYPERLINK(1)", None), Row("+1", None, ident="@x")], [find_lab("graph")])
    assert "\n'=HYPERLINK(1),," in text and "\n'+1,'@x," in text


def test_grade_class_refuses_bad_input_in_one_line(tmp_path):
    for args in (["grade-class", str(tmp_path / "none"), "--output-dir", str(tmp_path / "o"), "--public-seed"],
                 ["grade-class", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--seed", "-1"],
                 ["grade-class", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--formats", "pdf",
                  "--public-seed"]):
        proc = run_cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("error:"), args


def test_names_never_merge_students_and_ids_come_through(tmp_path):
    """Two people of one name stay two rows; ids from the platform; a group gives every member
    a row; plain folder names keep their dashes; non-Latin names keep their letters."""
    gs = tmp_path / "gs"
    for sid in ("submission_1", "submission_2", "submission_3"):
        _solved(gs / sid / GRAPH)
    (gs / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ann Lee\n    :sid: 'A1'\nsubmission_2:\n  :submitters:\n"
        "  - :name: Ann Lee\n    :sid: 'A2'\nsubmission_3:\n  :submitters:\n  - :name: Cy\n    :email: cy@x\n"
        "  - :name: Di\n    :email: di@x\n")
    subs = find_submissions(gs)
    assert sorted((s.student, s.ident) for s in subs) == [("Ann Lee", "A1"), ("Ann Lee", "A2"), ("Cy & Di", "cy@x")]
    assert [m for s in subs for m in s.members if s.student == "Cy & Di"] == [("Cy", "cy@x"), ("Di", "di@x")]
    canvas = tmp_path / "canvas"
    canvas.mkdir()
    for user in ("12", "99"):
        shutil.copyfile(STUBS / GRAPH / "tensors.py", canvas / f"smithjohn_{user}_34_tensors.py")
    assert sorted(s.ident for s in find_submissions(canvas)) == ["12", "99"]
    plain = tmp_path / "plain"
    for name in ("Mary-Jane Watson", "Mary-Kate Olsen", "李雷", "王小明"):
        _solved(plain / name / GRAPH, files=())
    subs = find_submissions(plain)
    assert [s.student for s in subs] == ["Mary-Jane Watson", "Mary-Kate Olsen", "李雷", "王小明"]
    assert len({s.key for s in subs}) == 4 and "李雷" in subs[2].key


def test_grade_class_needs_a_seed_or_says_public(tmp_path):
    (tmp_path / "subs" / "a").mkdir(parents=True)
    proc = run_cli("grade-class", str(tmp_path / "subs"), "graph", "--output-dir", str(tmp_path / "o"))
    assert proc.returncode == 2 and "--public-seed" in proc.stderr
