"""Lab 08 tensor-parallel: the checks grade the reference 100, stubs 0, and plausible wrong
answers lose points; the demo runs; the bench helpers (dense references, judges, grids) work."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO, STUBS, check_json, exercise, workspace

SLUG, FOLDER = "tensor-parallel", "08_tensor_parallel"
EXERCISES = ("copy_to_tp", "reduce_from_tp", "gather_from_tp", "ColumnParallelLinear", "RowParallelLinear",
             "ParallelMLP", "ParallelAttention", "VocabParallelEmbedding", "vocab_parallel_cross_entropy",
             "tp_comm_volume")

# ---------------------------------------------------------------- planted bugs
COPY_REDUCES_FORWARD = ("operators.py", "        ctx.group = group\n        return x\n",
                        "        ctx.group = group\n        out = x.clone()\n"
                        "        comm.all_reduce(out, group=group)\n        return out\n")
ROW_BIAS_ON_EVERY_RANK = ("layers.py", "        y = reduce_from_tp(F.linear(x, self.weight), self.group)\n"
                          "        return y if self.bias is None else y + self.bias\n",
                          "        return reduce_from_tp(F.linear(x, self.weight, self.bias), self.group)\n")
EXP_SUM_WITH_MAX = ("vocab.py", 'comm.all_reduce(exp_sum, op="sum", group=group)',
                    'comm.all_reduce(exp_sum, op="max", group=group)')
MLP_ROW_THEN_COLUMN = [
    ("layers.py", "        self.fc1 = ColumnParallelLinear(fc1, group)\n        self.fc2 = RowParallelLinear(fc2, group)\n",
     "        self.fc1 = RowParallelLinear(fc1, group)\n"
     "        self.fc2 = ColumnParallelLinear(fc2, group, gather_output=True)\n        self.group = group\n"),
    ("layers.py", "        return self.fc2(F.gelu(self.fc1(x)))\n",
     "        world, me = tp_world_and_rank(self.group)\n        k = x.shape[-1] // world\n"
     "        return self.fc2(F.gelu(self.fc1(x[..., me * k:(me + 1) * k])))\n")]
CE_GATHERS_LOGITS = ("vocab.py", "    return VocabParallelCrossEntropy.apply(logits, target, group)\n",
                     "    full = _ops.gather_from_tp(logits, group)\n"
                     "    return F.cross_entropy(full.reshape(-1, full.shape[-1]), target.reshape(-1),\n"
                     "                           reduction='none').reshape(target.shape)\n")

COPY_SUMS_GRAD_IN_PLACE = ("operators.py", "grad = grad_output.contiguous().clone()", "grad = grad_output")
QKV_VIEWED_BY_PROJECTION = ("attention.py", "view(batch, seq, self.num_local_heads, 3, self.head_dim)\n"
                            "        q, k, v = qkv.permute(3, 0, 2, 1, 4)",
                            "view(batch, seq, 3, self.num_local_heads, self.head_dim)\n"
                            "        q, k, v = qkv.permute(2, 0, 3, 1, 4)")
EMBEDDING_SHARD_IS_A_VIEW = ("vocab.py", "dense.weight.detach()[self.vocab_start:self.vocab_end].clone()",
                             "dense.weight.detach()[self.vocab_start:self.vocab_end]")


def _edits(*bugs) -> dict:
    edits: dict = {}
    for file, old, new in bugs:
        edits.setdefault(file, []).append((old, new))
    return edits


class Background:
    """CLI runs started together and collected later: the stub check and the two demos are
    light, and overlap the two full check runs in the foreground (this file's wall time)."""

    def __init__(self, jobs: dict[str, tuple[str, ...]]):
        env = {**os.environ, "COLUMNS": "120"}
        self.procs = {name: subprocess.Popen([sys.executable, "-m", "aisys", *args], cwd=REPO, env=env,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                      for name, args in jobs.items()}
        self.done: dict[str, subprocess.CompletedProcess] = {}

    def result(self, name: str) -> subprocess.CompletedProcess:
        if name not in self.done:
            proc = self.procs[name]
            out, err = proc.communicate(timeout=300)
            self.done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return self.done[name]

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def background():
    jobs = Background({"stubs": ("check", SLUG, "--labs-dir", str(STUBS), "--format", "json"),
                       "demo-solution": ("lab", "run", SLUG, "--solution"),
                       "demo-stubs": ("lab", "run", SLUG, "--labs-dir", str(STUBS))})
    yield jobs
    jobs.close()


@pytest.fixture(scope="module")
def solutions_report(background):
    return check_json(SLUG, "--solutions")


@pytest.fixture(scope="module")
def stubs_report(background):
    proc = background.result("stubs")
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout), proc


def grade_in_process(labs, exercises: tuple[str, ...]) -> dict[str, dict[str, tuple[str, str]]]:
    """The grader's own path minus the sandbox (one launch of the ranks from this process):
    exercise → case id → (passed|failed|error|not_implemented, message)."""
    from aisys.catalog import find_lab
    from aisys.grading.plain import from_plain
    from aisys.parallel.tensor_parallel.checks import SUITE
    from aisys.workspace import Student

    cases = {c.key: c for c in SUITE.plan(0) if c.exercise in exercises}
    records: list[dict] = []
    SUITE.run_cases(list(cases.values()), Student(find_lab(SLUG), labs), records.append)
    out: dict = {}
    for rec in records:
        case = cases[rec["case"]]
        status, message = rec["status"], rec.get("message", "")
        if status == "ok":
            verdict = SUITE.judge(case, from_plain(rec["output"]))
            status, message = ("passed" if verdict.passed else "failed"), verdict.message
        out.setdefault(case.exercise, {})[case.id] = (status, message)
    assert sum(map(len, out.values())) == len(cases)
    return out


@pytest.fixture(scope="module")
def buggy(tmp_path_factory, background):
    """A copy_to_tp that all-reduces in forward, a row-parallel bias added on every rank, and
    an exp-sum reduced with MAX — each caught in its own exercise, the others untouched."""
    labs = workspace(tmp_path_factory.mktemp("lab08"), FOLDER,
                     _edits(COPY_REDUCES_FORWARD, ROW_BIAS_ON_EVERY_RANK, EXP_SUM_WITH_MAX))
    return grade_in_process(labs, ("copy_to_tp", "reduce_from_tp", "gather_from_tp", "RowParallelLinear",
                                   "VocabParallelEmbedding", "vocab_parallel_cross_entropy"))


# ---------------------------------------------------------------- grading end to end
@pytest.mark.slow
def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stderr
    assert report["score"] == report["max_score"] == 100.0
    for name in EXERCISES:
        assert exercise(report, name)["status"] == "passed", exercise(report, name)


@pytest.mark.slow
def test_stubs_score_zero_without_traceback(stubs_report):
    report, proc = stubs_report
    assert proc.returncode == 1
    assert report["score"] == 0
    assert {exercise(report, n)["status"] for n in EXERCISES} == {"not_implemented"}
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow
def test_copy_to_tp_that_reduces_in_forward_loses_points(buggy):
    assert {status for status, _ in buggy["copy_to_tp"].values()} == {"failed"}
    assert "rank 0's forward output" in buggy["copy_to_tp"]["w2-2d"][1]
    for name in ("reduce_from_tp", "gather_from_tp", "VocabParallelEmbedding"):
        assert {status for status, _ in buggy[name].values()} == {"passed"}, name


@pytest.mark.slow
def test_row_parallel_bias_on_every_rank_loses_points(buggy):
    row = buggy["RowParallelLinear"]
    assert row["w2-2d"][0] == "failed" and "rank 0's forward output" in row["w2-2d"][1]
    assert row["w4-3d-nobias"][0] == "passed"           # partial credit: the case without bias


@pytest.mark.slow
def test_exp_sum_reduced_with_max_loses_points(buggy):
    ce = buggy["vocab_parallel_cross_entropy"]
    # every case fails: on wrong numbers, and where MAX ≈ SUM (huge logits, one-hot softmax)
    # on the CommLog, which records each all-reduce's reduce op
    assert len(ce) >= 4 and all(status == "failed" for status, _ in ce.values())
    assert any("MAX all-reduce" in message for _, message in ce.values())


@pytest.mark.slow
def test_row_then_column_mlp_and_logit_gathering_lose_points(tmp_path, background):
    """The wrong MLP order, and a cross entropy that gets the right numbers by gathering the
    whole logits — caught by the CommLog."""
    labs = workspace(tmp_path, FOLDER, _edits(*MLP_ROW_THEN_COLUMN, CE_GATHERS_LOGITS))
    graded = grade_in_process(labs, ("ParallelMLP", "vocab_parallel_cross_entropy"))
    for cid, (status, message) in graded["vocab_parallel_cross_entropy"].items():
        assert status == "failed" and "all_gather" in message and "never be gathered" in message, cid
    for cid, (status, message) in graded["ParallelMLP"].items():
        if "uneven" not in cid:     # an error (hidden not divisible) or a failed comparison
            assert status in ("error", "failed") and "rank" in message, cid


@pytest.fixture(scope="module")
def buggy_again(tmp_path_factory, background):
    """Bugs that used to earn full marks: f sums the gradient autograd handed it in place, the
    fused QKV output read as [q heads; k heads; v heads] (right with one local head), and an
    embedding shard that is a view of the whole dense table."""
    labs = workspace(tmp_path_factory.mktemp("lab08-again"), FOLDER,
                     _edits(COPY_SUMS_GRAD_IN_PLACE, QKV_VIEWED_BY_PROJECTION, EMBEDDING_SHARD_IS_A_VIEW))
    return grade_in_process(labs, ("copy_to_tp", "ParallelAttention", "VocabParallelEmbedding"))


@pytest.mark.slow
def test_formerly_full_mark_bugs_lose_points(buggy_again):
    for status, message in buggy_again["copy_to_tp"].values():
        assert status == "failed" and "upstream gradient after backward" in message, message
    attention = buggy_again["ParallelAttention"]
    for cid in ("w2-causal-4heads", "w4-causal-8heads"):        # two local heads in these cases, any seed
        assert attention[cid][0] == "failed" and "rank" in attention[cid][1], attention
    embedding = {cid: v for cid, v in buggy_again["VocabParallelEmbedding"].items() if "uneven" not in cid}
    assert embedding and all(s == "failed" and "view into" in m for s, m in embedding.values()), embedding


def test_volume_check_passes_an_element_size():
    """A payload hard-coded to float32 fails the bf16 at-scale case."""
    from aisys.parallel.tensor_parallel.check_volume import TPCommVolumeCheck, measured_law

    inputs = {"batch": 8, "seq": 2048, "hidden": 12288, "layers": 96, "world": 4, "real": False, "element_size": 2}
    law = measured_law(8, 2048, 12288, 96, 2)
    fp32 = {"all_reduces": 384, "bytes": 384 * 8 * 2048 * 12288 * 4}
    fp32["ring_bytes_per_rank"] = 1.5 * fp32["bytes"]
    verdict = TPCommVolumeCheck().judge_answer(fp32, law, inputs)
    assert not verdict.passed and "element_size=2" in verdict.message


# ---------------------------------------------------------------- demo
@pytest.mark.slow
@pytest.mark.parametrize("which", ["solution", "stubs"])
def test_demo_exits_zero(background, which):
    proc = background.result(f"demo-{which}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    if which == "solution":
        for text in ("where the weights live", "parallelize_module", "2 AR", "agree"):
            assert text in proc.stdout, text
        assert "differ" not in proc.stdout
    else:
        assert "not implemented yet — edit labs/08_tensor_parallel/operators.py: copy_to_tp" in proc.stdout
        assert "2 AR" in proc.stdout      # torch's side still runs


# ---------------------------------------------------------------- bench helpers
def test_dense_attention_equals_multihead_attention():
    from aisys.parallel.tensor_parallel import dense as D

    mha = D.seeded_mha(3, 12, 3)
    x = D.seeded(4, 2, 5, 12)
    for causal in (False, True):
        got, want = D.DenseAttention(mha)(x, causal=causal), D.mha_forward(mha, x, causal=causal)
        assert torch.allclose(got, want, atol=1e-12)


def test_per_head_rows_is_a_per_head_permutation():
    from aisys.parallel.tensor_parallel.dense import per_head_rows

    rows = per_head_rows(8, 4)
    assert sorted(rows.tolist()) == list(range(24))
    assert rows[:6].tolist() == [0, 1, 8, 9, 16, 17]       # q, k, v of head 0


def test_gelu_before_the_sum_is_wrong_but_column_first_is_exact():
    from aisys.parallel.tensor_parallel import dense as D

    fc1, fc2 = D.seeded_linear(1, 6, 8), D.seeded_linear(2, 8, 6)
    x = D.seeded(3, 4, 6)
    dense = D.DenseMLP(fc1, fc2)(x)
    assert (D.gelu_before_sum(fc1, fc2, x, 2) - dense).abs().max() > 1e-2
    column_blocks = sum(torch.nn.functional.linear(torch.nn.functional.gelu(fc1(x)[:, r * 4:(r + 1) * 4]),
                                                   fc2.weight[:, r * 4:(r + 1) * 4]) for r in range(2))
    assert torch.allclose(column_blocks + fc2.bias, dense, atol=1e-12)


def test_refusal_judge_wants_a_value_error_naming_size_and_ranks():
    from aisys.parallel.tensor_parallel.casekit import judge_refusal

    good = {"raised": "ValueError", "message": "out_features=10 is not divisible by the 4 ranks"}
    assert judge_refusal([good] * 4, "out_features", 10, 4).passed
    for bad in ({"raised": None, "message": ""}, {"raised": "AssertionError", "message": "10 4"},
                {"raised": "ValueError", "message": "uneven"}):
        verdict = judge_refusal([good, bad], "out_features", 10, 4)
        assert not verdict.passed and "rank 1" in verdict.message


def test_comm_judge_names_rank_phase_and_counts():
    from aisys.parallel.tensor_parallel.casekit import judge_comm

    ok = {"comm_forward": {"all_reduce": 1}}
    assert judge_comm([ok, ok], "forward", {"all_reduce": 1}, "g").passed
    verdict = judge_comm([ok, {"comm_forward": {"all_reduce": 2}}], "forward", {"all_reduce": 1}, "g")
    assert not verdict.passed and "rank 1" in verdict.message and "2× all_reduce" in verdict.message


def test_volume_law_matches_the_reference_formula():
    from aisys.parallel.tensor_parallel.check_volume import TPCommVolumeCheck, measured_law
    from aisys.workspace import load_module
    from aisys.catalog import find_lab

    formula = load_module(REPO / "solutions" / FOLDER / "comm_volume.py", find_lab(SLUG)).tp_comm_volume
    for args in ((2, 3, 8, 2, 2), (8, 2048, 12288, 96, 4)):
        answer = formula(*args)
        inputs = dict(zip(("batch", "seq", "hidden", "layers", "world"), args), real=False)
        assert TPCommVolumeCheck().judge_answer(answer, measured_law(*args[:4]), inputs).passed
        wrong = TPCommVolumeCheck().judge_answer({**answer, "all_reduces": 2 * args[3]}, measured_law(*args[:4]),
                                                 inputs)
        assert not wrong.passed and f"{args[3]} Megatron layers" in wrong.message, wrong.message
        assert f"all-reduce count (all_reduces) is {2 * args[3]}," in wrong.message, wrong.message
        assert math.isclose(answer["ring_bytes_per_rank"], answer["bytes"] * 2 * (args[4] - 1) / args[4])


def test_ownership_and_grid_show_a_column_split():
    from rich.console import Console

    from aisys.parallel.tensor_parallel.demo_ranks import owned
    from aisys.ui.tp_layout import owner_matrix, shard_grid

    dense = torch.randn(6, 4, dtype=torch.float64)
    assert owned(dense[3:], dense, 0) == [3, 4, 5]
    assert owned(dense[:, [1, 0]], dense, 1) == [1, 0]
    assert owned(torch.zeros(1, 4), dense, 0) == [-1]
    owner = owner_matrix([6, 4], 0, [[0, 1, 2], [3, 4]])
    assert owner[0] == [0] * 4 and owner[4] == [1] * 4 and owner[5] == [-1] * 4
    console = Console(record=True, width=80)
    console.print(shard_grid("w", [6, 4], 0, [[0, 1, 2], [3, 4]]))
    assert "4 entries on no rank" in console.export_text()


def test_benchmark_rows_have_the_schema_and_the_ratio():
    from benchmarks.common import REQUIRED
    from benchmarks.tensor_parallel import rows_from

    result = {"ours": [0.010, 0.012, 0.011], "torch": [0.010, 0.010, 0.010], "gap": 1e-7,
              "ours_ops": {"all_reduce": 2}, "torch_ops": {"all_reduce": 2},
              "logged_bytes": 1024, "logged_calls": 4, "formula_bytes": 1024, "formula_calls": 4}
    rows = rows_from(result, quick=True)
    assert all(key in row for row in rows for key in REQUIRED)
    assert math.isclose(rows[0]["ratio"], 1.1) and rows[1]["ratio"] == rows[2]["ratio"] == 1.0
