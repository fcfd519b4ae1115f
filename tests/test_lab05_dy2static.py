"""Lab 05 end to end (solutions 100, stubs 0, the demo read piped at 100 columns) and the
bench (static graph, runtime, programs). The contract of each check — correct rewrites keep
full marks, student bugs lose their own case on every seed — is in test_lab05_variants.py."""
from __future__ import annotations

import ast

import numpy as np
import pytest
import torch

from aisys.dy2static import programs as P
from aisys.dy2static import runtime
from aisys.dy2static.ssa_programs import FIXED, LOOKALIKES, random_program, run_source
from aisys.dy2static.static_graph import Ref, StaticGraph
from conftest import REPO, STUBS, check_json
from inprocess import demo_text


# ---------------------------------------------------------------- the CLI, end to end


@pytest.fixture(scope="module")
def solutions_report():
    return check_json("dy2static", "--solutions")


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stdout
    assert report["score"] == report["max_score"] == 100.0
    assert "def forward" not in proc.stderr   # torch's chatter is kept out of the report
    # no timestamped torch log lines in the report: the same seed gives the same report
    assert not report["labs"][0].get("output")
    assert not any(c.get("output") for ex in report["labs"][0]["exercises"] for c in ex["cases"])


def test_stubs_score_zero_not_started():
    report, proc = check_json("dy2static", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


def test_demo_on_the_stubs_says_where_to_edit():
    text = demo_text("dy2static", STUBS)
    assert "not implemented yet" in text and "Traceback" not in text


def test_demo_on_the_solutions_reads_as_plain_text_in_100_columns():
    text = demo_text("dy2static", REPO / "solutions")
    assert "✗ = silently wrong" in text and "1.40] ✗" in text and "convert_cond" in text and "# φ(c_2, c_3)" in text
    assert "CALLS" not in text                      # no grader instrumentation on show
    assert "graph breaks" in text and "line 4: if h.sum() > 0:" in text and "guards" in text
    assert "tiny_net" in text and "raises TraceError" in text


# ---------------------------------------------------------------- the bench


def test_static_graph_replays_refs_and_constants():
    g = StaticGraph()
    x = g.placeholder()
    a = g.call(torch.mul, (x, 3.0))
    b = g.call(torch.split, (a, 1))
    g.set_output([Ref(b.name, 1), a])
    second, whole = g(torch.tensor([1.0, 2.0]))
    assert second.tolist() == [6.0] and whole.tolist() == [3.0, 6.0]
    assert "torch.mul(%x0, 3.0)" in str(g) and g.op_names() == ["torch.mul", "torch.split"]


def test_runtime_dispatches_on_the_condition_type():
    runtime.STATS.clear()
    assert runtime.convert_cond(True, lambda: (1,), lambda: (2,), ()) == (1,)
    assert runtime.convert_while(lambda i: i < 3, lambda i: (i + 1,), (0,)) == (3,)
    (y,) = runtime.convert_cond(torch.tensor(False), lambda x: (x + 1,), lambda x: (x - 1,), (torch.ones(2),))
    assert y.tolist() == [0.0, 0.0]
    assert runtime.STATS == {"python_if": 1, "python_while": 1, "cond": 1}


def test_programs_are_valid_deterministic_and_reach_their_corners():
    a = random_program(np.random.default_rng(3), 7)
    assert a == random_program(np.random.default_rng(3), 7)
    ast.parse(a)
    assert len(run_source(a, [[1, 2], [-3, 4]])) == 2
    lookalike = random_program(np.random.default_rng(4), 6, names=LOOKALIKES)
    assert lookalike.startswith("def f(a, c_1, cond_1):") and " if " in lookalike.replace("\n", " ")
    for source in FIXED.values():
        assert len(run_source(source, [[5, 1], [1, 5], [9, 9]])) == 3


def test_the_eager_examples_really_branch():
    assert P.relu_or_square(torch.ones(3)).tolist() == [3.0, 3.0, 3.0]
    assert P.relu_or_square(-torch.ones(3)).tolist() == [3.0, 3.0, 3.0]   # (-2)^2 - 1: the other formula
    x, steps = P.halve_until_small(torch.tensor([3.0, 4.0]))
    assert steps.item() == 3
    assert P.sign_bucket(torch.ones(2)).tolist() == [2.0, 2.0] and P.sign_bucket(-torch.ones(2)).tolist() == [3.0, 3.0]
