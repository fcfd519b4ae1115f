"""Lab 09 pipeline-parallel: the reference scores 100 and the stubs 0; answers written another
way (another algorithm, another legal order) score full marks; plausible wrong answers lose
points in their own exercise — the pure ones on every seed 0-9; the demo runs; the bench the
checks stand on (replay, laws, the stage watch) is right."""
from __future__ import annotations

import json
import re

import pytest

from conftest import REPO, STUBS, Background, check_json, exercise, two_torchrun_agents, workspace

SLUG, FOLDER = "pipeline-parallel", "09_pipeline_parallel"
PURE = ("split_stages", "gpipe_schedule", "one_f_one_b_schedule", "pipeline_bubble", "pipeline_memory")
RANKED = ("naive_model_parallel", "PipelineRunner")
EXERCISES = PURE + RANKED
SEEDS = range(10)


def swap(text: str, function: str, body: str) -> str:
    """`function`'s answer (between its solution markers) replaced by `body` (indented as the marker)."""
    at = re.search(rf"def {re.escape(function)}\(", text).start()
    begin = text.index("# BEGIN SOLUTION", at)
    end = text.index("# END SOLUTION", begin)
    indent = text[text.rindex("\n", 0, begin) + 1:begin]
    lines = "".join(f"{indent}{line}\n" if line else "\n" for line in body.strip("\n").split("\n"))
    return text[:begin] + "# BEGIN SOLUTION\n" + lines + indent + text[end:]


def make_labs(tmp_path, swaps: dict, edits: dict | None = None):
    """solutions/09 with text edits and answer swaps: {file: {function: body}}."""
    labs = workspace(tmp_path, FOLDER, edits or {})
    for file, bodies in swaps.items():
        path = labs / FOLDER / file
        text = path.read_text()
        for function, body in bodies.items():
            text = swap(text, function, body)
        path.write_text(text)
    return labs


def grade_pure(labs, exercises=PURE, seeds=SEEDS) -> dict:
    """In this process (pure cases need no ranks): exercise → seed → case id → (status, message)."""
    from aisys.catalog import find_lab
    from aisys.grading.execute import execute_case
    from aisys.grading.plain import from_plain
    from aisys.parallel.pipeline_parallel.casekit import PURE_WORLD
    from aisys.parallel.pipeline_parallel.checks import SUITE
    from aisys.workspace import Student

    student, out = Student(find_lab(SLUG), labs), {}
    for seed in seeds:
        for case in SUITE.plan(seed):
            if case.exercise not in exercises:
                continue
            rec = execute_case(SUITE.checks[case.exercise], case, student)
            status, message = rec["status"], rec["message"]
            if status == "ok":
                verdict = SUITE.judge(case, [from_plain(rec["output"])] * PURE_WORLD)
                status, message = ("passed" if verdict.passed else "failed"), verdict.message
            out.setdefault(case.exercise, {}).setdefault(seed, {})[case.id] = (status, message)
    return out


def grade_ranked(labs, exercises=RANKED, seed: int = 0, ids: tuple = ()) -> dict:
    """The grader's own path minus the sandbox (one launch of the ranks from this process);
    `ids`: only these case ids."""
    from aisys.catalog import find_lab
    from aisys.grading.plain import from_plain
    from aisys.parallel.pipeline_parallel.checks import SUITE
    from aisys.workspace import Student

    cases = {c.key: c for c in SUITE.plan(seed) if c.exercise in exercises and (not ids or c.id in ids)}
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


def all_passed(graded: dict) -> bool:
    return all(status == "passed" for status, _ in graded.values())


def loses_every_seed(per_seed: dict) -> bool:
    return all(not all_passed(cases) for cases in per_seed.values())


@pytest.fixture(scope="module")
def background():
    jobs = Background({"stubs": ("check", SLUG, "--labs-dir", str(STUBS), "--format", "json"),
                       "demo-solution": ("lab", "run", SLUG, "--solution", "--nproc", "4"),
                       "demo-stubs": ("lab", "run", SLUG, "--labs-dir", str(STUBS))})
    yield jobs
    jobs.close()


@pytest.mark.slow
def test_solutions_score_full_marks(background):
    report, proc = check_json(SLUG, "--solutions", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    assert report["score"] == report["max_score"] == 100.0
    for name in EXERCISES:
        assert exercise(report, name)["status"] == "passed", exercise(report, name)


def test_the_reference_passes_every_pure_case_on_seeds_0_to_9():
    graded = grade_pure(REPO / "solutions")
    for name, per_seed in graded.items():
        for seed, cases in per_seed.items():
            assert all_passed(cases), (name, seed, cases)


@pytest.mark.slow
def test_stubs_score_zero_without_traceback(background):
    proc = background.result("stubs")
    assert proc.stdout.strip(), proc.stderr
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert report["score"] == 0
    assert {exercise(report, n)["status"] for n in EXERCISES} == {"not_implemented"}
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("which", ["solution", "stubs"])
def test_demo_exits_zero_and_fits_100_columns(background, which):
    from rich.cells import cell_len

    proc = background.result(f"demo-{which}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert max(cell_len(line) for line in proc.stdout.splitlines()) <= 100
    assert "\x1b[" not in proc.stdout                     # piped: plain text, every number spelled out
    if which == "solution":
        for text in ("GPipe: all forwards", "1F1B: one forward", "F4", "B0", "idle share read off the chart 0.375",
                     "your pipeline_bubble 0.375", "naive model parallel", "7% slower than 1 GPU",
                     "49% faster than naive", "8 · 8.0", "1 · 1.0", "in flight per stage [4, 3, 2, 1]"):
            assert text in proc.stdout, text
        assert "bench schedule" not in proc.stdout
    else:
        assert "not implemented yet — edit labs/09_pipeline_parallel/stages.py: split_stages" in proc.stdout
        assert "runner.py: PipelineRunner" in proc.stdout
        assert "one process, whole model" in proc.stdout      # the bench's own side still runs


@pytest.mark.slow
def test_two_torchrun_agents_on_loopback_run_the_demo():
    """The demo unchanged under torchrun: two agents of one process each (one stage each),
    rendezvous on loopback."""
    agents = two_torchrun_agents("lab", "run", SLUG, "--solution")
    assert [code for code, _ in agents] == [0, 0], [output[-1500:] for _, output in agents]
    joined = "\n".join(output for _, output in agents)
    assert "joining the torchrun group: 2 ranks" in joined and "rank 1: done" in joined
    assert "Traceback" not in joined
    for needle in ("naive model parallel", "GPipe ∝ m, 1F1B ∝ p"):
        assert needle in joined, needle


# ---------------------------------------------------------------- answers written another way
OTHER_SPLIT = '''
costs = [float(c) for c in layer_costs]
n = len(costs)
if n_stages < 1 or n_stages > n:
    raise ValueError(f"{n} layers cannot fill {n_stages} stages")
if costs and min(costs) < 0:
    raise ValueError(f"negative layer cost {min(costs)}")

def cut(limit):
    stages, end = [], n
    for k in range(n_stages, 0, -1):
        start, total = end - 1, costs[end - 1]
        if total > limit + 1e-9:
            return None
        while start > k - 1 and total + costs[start - 1] <= limit + 1e-9:
            start -= 1
            total += costs[start]
        stages.append(list(range(start, end)))
        end = start
    return stages[::-1] if end == 0 else None

sums = sorted({sum(costs[i:j]) for i in range(n) for j in range(i + 1, n + 1)})
lo, hi = 0, len(sums) - 1
while lo < hi:
    mid = (lo + hi) // 2
    lo, hi = (mid + 1, hi) if cut(sums[mid]) is None else (lo, mid)
return cut(sums[lo])
'''
LATEST_CUT_SPLIT = '''
from functools import lru_cache

costs = tuple(float(c) for c in layer_costs)
if n_stages < 1:
    raise ValueError(f"n_stages={n_stages}")
if n_stages > len(costs):
    raise ValueError(f"{len(costs)} layers, {n_stages} stages")
if any(c < 0 for c in costs):
    raise ValueError(f"negative cost {min(costs):g}")

@lru_cache(maxsize=None)
def best(start, k):
    if k == 1:
        return sum(costs[start:]), (len(costs),)
    options = []
    for end in range(start + 1, len(costs) - k + 2):
        rest, cuts = best(end, k - 1)
        options.append((max(sum(costs[start:end]), rest), -end, (end,) + cuts))
    slowest, _, cuts = min(options)
    return slowest, cuts

edges = (0,) + best(0, n_stages)[1]
return [list(range(a, b)) for a, b in zip(edges[:-1], edges[1:])]
'''
GPIPE_FORWARD_ORDER_BACKWARDS = '''
if min(n_stages, n_micro) < 1:
    raise ValueError(f"n_stages={n_stages}, n_micro={n_micro}")
return [[("F", i) for i in range(n_micro)] + [("B", i) for i in range(n_micro)] for _ in range(n_stages)]
'''
ONE_F_ONE_B_BY_COUNTERS_REVERSED_IDS = '''
if n_stages < 1 or n_micro < 1:
    raise ValueError(f"n_stages={n_stages}, n_micro={n_micro}")
ids = list(range(n_micro))[::-1]          # micro-batches taken in another (legal) order
schedule = []
for stage in range(n_stages):
    steps, forwards, backwards = [], 0, 0
    while backwards < n_micro:
        if forwards < n_micro and forwards - backwards < n_stages - stage:
            steps.append(["F", ids[forwards]])
            forwards += 1
        else:
            steps.append(["B", ids[backwards]])
            backwards += 1
    schedule.append(steps)
return schedule
'''
OTHER_BUBBLE = '''
if not (n_stages >= 1 and n_micro >= 1):
    raise ValueError(f"{n_stages} stages, {n_micro} micro-batches")
return 1.0 - n_micro / (n_micro + n_stages - 1)
'''
OTHER_MEMORY = '''
if n_stages < 1 or n_micro < 1 or schedule.lower() != schedule or schedule not in {"gpipe": 1, "1f1b": 1}:
    raise ValueError(f"bad arguments: {n_stages}, {n_micro}, {schedule!r}")
peaks = []
for stage in range(n_stages):
    held = n_micro if schedule == "gpipe" else max(1, min(n_micro, n_stages - stage))
    peaks.append(float(held * act_bytes))
return peaks
'''
ISEND_IRECV_NAIVE = '''
me, world = rank(), world_size()
x = inputs
if me > 0:
    x = inputs.new_empty((inputs.shape[0], hidden))
    comm.irecv(x, me - 1).wait()
    x.requires_grad_(True)
y = stage(x)
if me == world - 1:
    out = loss_fn(y, targets)
    torch.autograd.backward(out)
else:
    comm.isend(y.detach().contiguous(), me + 1).wait()
    g = torch.zeros_like(y)
    comm.irecv(g, me + 1).wait()
    torch.autograd.backward(y, g)
    out = None
if me > 0:
    comm.isend(x.grad, me - 1).wait()
return None if out is None else float(out)
'''
# a runner that scales gradients after the step instead of the losses, keeps its stash in two
# lists, and waits each activation send right after the matching gradient arrived
LIST_RUNNER_INIT = '''
self.stage, self.width, self.loss_fn = stage, hidden, loss_fn
self.me, self.world = rank(), world_size()
self.plan = list(schedule[self.me])
'''
LIST_RUNNER_STEP = '''
m = len([s for s in self.plan if s[0] == "F"])
xs, ys = [None] * m, [None] * m
sends, back = [None] * m, []
chunks_in, chunks_out = torch.chunk(inputs, m), torch.chunk(targets, m)
losses = []
for kind, i in self.plan:
    if kind == "F":
        if self.me == 0:
            xs[i] = chunks_in[i]
        else:
            xs[i] = inputs.new_zeros((inputs.shape[0] // m, self.width))
            comm.irecv(xs[i], self.me - 1).wait()
            xs[i].requires_grad_()
        ys[i] = self.stage(xs[i])
        if self.me == self.world - 1:
            ys[i] = self.loss_fn(ys[i], chunks_out[i])
            losses.append(ys[i].item())
        else:
            sends[i] = comm.isend(ys[i].detach(), self.me + 1)
    else:
        if self.me == self.world - 1:
            ys[i].backward()
        else:
            g = torch.empty_like(ys[i])
            comm.irecv(g, self.me + 1).wait()
            sends[i].wait()
            sends[i] = None
            ys[i].backward(g)
        if self.me > 0:
            back.append(comm.isend(xs[i].grad, self.me - 1))
        xs[i] = ys[i] = None
for h in back:
    h.wait()
with torch.no_grad():
    for p in self.stage.parameters():
        if p.grad is not None:
            p.grad.div_(m)
return sum(losses) / m if self.me == self.world - 1 else None
'''


@pytest.mark.slow
def test_answers_written_another_way_score_full_marks(tmp_path):
    labs = make_labs(tmp_path, {
        "stages.py": {"split_stages": OTHER_SPLIT},
        "schedules.py": {"gpipe_schedule": GPIPE_FORWARD_ORDER_BACKWARDS,
                         "one_f_one_b_schedule": ONE_F_ONE_B_BY_COUNTERS_REVERSED_IDS},
        "formulas.py": {"pipeline_bubble": OTHER_BUBBLE, "pipeline_memory": OTHER_MEMORY},
        "naive.py": {"naive_model_parallel": ISEND_IRECV_NAIVE},
        "runner.py": {"__init__": LIST_RUNNER_INIT, "step": LIST_RUNNER_STEP}})
    pure = grade_pure(labs)
    for name, per_seed in pure.items():
        for seed, cases in per_seed.items():
            assert all_passed(cases), (name, seed, {k: v for k, v in cases.items() if v[0] != "passed"})
    ranked = grade_ranked(labs, seed=3)
    for name, cases in ranked.items():
        assert all_passed(cases), (name, {k: v for k, v in cases.items() if v[0] != "passed"})


def test_a_split_with_other_ties_scores_full_marks(tmp_path):
    labs = make_labs(tmp_path, {"stages.py": {"split_stages": LATEST_CUT_SPLIT}})
    per_seed = grade_pure(labs, ("split_stages",), seeds=(0, 1, 2))["split_stages"]
    assert all(all_passed(cases) for cases in per_seed.values()), per_seed


EXACT_BUBBLE = '''
from fractions import Fraction
if n_stages < 1 or n_micro < 1:
    raise ValueError(f"{n_stages} stages, {n_micro} micro-batches")
return Fraction(n_stages - 1, n_micro + n_stages - 1)
'''


def test_an_exact_fraction_is_a_number_too(tmp_path):
    labs = make_labs(tmp_path, {"formulas.py": {"pipeline_bubble": EXACT_BUBBLE}})
    per_seed = grade_pure(labs, ("pipeline_bubble",), seeds=(0, 1, 2))["pipeline_bubble"]
    assert all(all_passed(cases) for cases in per_seed.values()), per_seed


# ---------------------------------------------------------------- plausible wrong answers
GREEDY_SPLIT = '''
costs = list(layer_costs)
if n_stages < 1 or n_stages > len(costs) or min(costs) < 0:
    raise ValueError(f"{len(costs)} layers, {n_stages} stages")
target = sum(costs) / n_stages                    # fill each stage up to the average
stages, current, total = [], [], 0.0
for i, c in enumerate(costs):
    if current and total + c > target and len(stages) < n_stages - 1:
        stages.append(current)
        current, total = [], 0.0
    current.append(i)
    total += c
return stages + [current]
'''
EQUAL_COUNT_SPLIT = '''
n = len(layer_costs)
if n_stages < 1 or n_stages > n or min(layer_costs) < 0:
    raise ValueError(f"{n} layers, {n_stages} stages")
bounds = [round(k * n / n_stages) for k in range(n_stages + 1)]   # the same number of layers each
return [list(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]
'''
RECONSTRUCT = ("        stages.append(list(range(start, end)))\n", "    return stages[::-1]\n")
SPLIT_BUGS = {
    "aliased-stage-lists": [("    stages, end = [], n_layers\n", "    stages, end = [[]] * n_stages, n_layers\n"),
                            (RECONSTRUCT[0], "        stages[k - 1].extend(range(start, end))\n"),
                            (RECONSTRUCT[1], "    return stages\n")],
    "prefix-sums-in-place": [("    costs = [float(c) for c in layer_costs]\n",
                              "    for i in range(1, len(layer_costs)):\n"
                              "        layer_costs[i] += layer_costs[i - 1]      # prefix sums, no copy\n"
                              "    costs = [float(b - a) for a, b in\n"
                              "             zip([0] + list(layer_costs[:-1]), layer_costs)]\n")],
    "empty-stages-accepted": [('        raise ValueError(f"cannot cut {n_layers} layers into {n_stages} '
                               'non-empty stages")\n',
                               "        return [[i] for i in range(n_layers)] + [[] for _ in range(n_stages - "
                               "n_layers)]\n")],
    "overlapping-stages": [(RECONSTRUCT[0], "        stages.append(list(range(start, end + 1)))\n")],
}
WARMUP = "        warmup = min(n_stages - stage - 1, n_micro)\n"
ONE_F_ONE_B_BUGS = {
    "warm-up-one-too-many": [(WARMUP, "        warmup = min(n_stages - stage, n_micro)\n")],
    "warm-up-one-too-few": [(WARMUP, "        warmup = max(0, min(n_stages - stage - 2, n_micro))\n")],
    "same-warm-up-everywhere": [(WARMUP, "        warmup = min(n_stages - 1, n_micro)\n")],
}
ALL_FORWARDS_FIRST = '''
if n_stages < 1 or n_micro < 1:
    raise ValueError(f"{n_stages}, {n_micro}")
return [[("F", i) for i in range(n_micro)] + [("B", i) for i in range(n_micro)] for _ in range(n_stages)]
'''
INTERLEAVED_GPIPE = '''
if n_stages < 1 or n_micro < 1:
    raise ValueError(f"{n_stages}, {n_micro}")
schedule = []
for stage in range(n_stages):                     # "a backward as soon as possible" is 1F1B, not GPipe
    warmup = min(n_stages - stage - 1, n_micro)
    steps = [("F", i) for i in range(warmup)]
    for k in range(n_micro - warmup):
        steps += [("F", warmup + k), ("B", k)]
    schedule.append(steps + [("B", k) for k in range(n_micro - warmup, n_micro)])
return schedule
'''
GPIPE_BUGS = {
    "no-refusal": [('        raise ValueError(f"need n_stages >= 1 and n_micro >= 1, got {n_stages} and {n_micro}")\n'
                    "    forwards", "        pass\n    forwards")],
    "last-micro-batch-forgotten": [('    forwards = [("F", i) for i in range(n_micro)]',
                                    '    forwards = [("F", i) for i in range(n_micro - 1)]')],
}
BUBBLE = "    return (n_stages - 1) / (n_micro + n_stages - 1)\n"
BUBBLE_BUGS = {"off-by-one": [(BUBBLE, "    return (n_stages - 1) / (n_micro + n_stages)\n")],
               "bubble-over-work": [(BUBBLE, "    return (n_stages - 1) / n_micro\n")],
               "stages-not-gaps": [(BUBBLE, "    return n_stages / (n_micro + n_stages - 1)\n")]}
ONE_F_ONE_B_MEMORY = "    return [min(n_stages - stage, n_micro) * act_bytes for stage in range(n_stages)]\n"


def _memory(held: str) -> list[tuple[str, str]]:
    return [(ONE_F_ONE_B_MEMORY, f"    return [{held} * act_bytes for stage in range(n_stages)]\n")]


MEMORY_BUGS = {"stages-counted-from-the-end": _memory("min(stage + 1, n_micro)"),
               "one-micro-batch-short": _memory("min(n_stages - stage - 1, n_micro)"),
               "1f1b-keeps-all": _memory("n_micro"),
               "p-for-m": [("        return [n_micro * act_bytes for _ in range(n_stages)]\n",
                            "        return [n_stages * act_bytes for _ in range(n_stages)]\n")]}


def _pure_bug_rounds() -> list[dict]:
    """Workspaces of bugs, at most one per exercise each (exercise → (file, name, edits or body))."""
    rounds: list[dict] = [
        {"split_stages": ("stages.py", "greedy-fill", GREEDY_SPLIT),
         "gpipe_schedule": ("schedules.py", "interleaves", INTERLEAVED_GPIPE),
         "one_f_one_b_schedule": ("schedules.py", "keeps-all-activations", ALL_FORWARDS_FIRST),
         "pipeline_bubble": ("formulas.py", *list(BUBBLE_BUGS.items())[0]),
         "pipeline_memory": ("formulas.py", *list(MEMORY_BUGS.items())[0])},
        {"split_stages": ("stages.py", "equal-layer-counts", EQUAL_COUNT_SPLIT)}]
    buckets = [("split_stages", "stages.py", SPLIT_BUGS), ("gpipe_schedule", "schedules.py", GPIPE_BUGS),
               ("one_f_one_b_schedule", "schedules.py", ONE_F_ONE_B_BUGS),
               ("pipeline_bubble", "formulas.py", dict(list(BUBBLE_BUGS.items())[1:])),
               ("pipeline_memory", "formulas.py", dict(list(MEMORY_BUGS.items())[1:]))]
    for name, file, bugs in buckets:
        for k, (bug, edits) in enumerate(bugs.items()):
            while len(rounds) <= k + 1:
                rounds.append({})
            rounds[k + 1][name] = (file, bug, edits)
    return rounds


PURE_BUG_ROUNDS = _pure_bug_rounds()
SAID = {"greedy-fill": "is not the smallest possible", "equal-layer-counts": "is not the smallest possible",
        "aliased-stage-lists": "is not a contiguous run", "prefix-sums-in-place": "changed the list of costs",
        "empty-stages-accepted": "must raise ValueError", "overlapping-stages": "each exactly once",
        "interleaves": "runs a forward after a backward", "no-refusal": "must raise ValueError",
        "last-micro-batch-forgotten": "never runs the forward of micro-batch",
        "keeps-all-activations": "1F1B keeps at most", "warm-up-one-too-many": "1F1B keeps at most",
        "same-warm-up-everywhere": "1F1B keeps at most", "warm-up-one-too-few": "longer than a pipeline must",
        "off-by-one": "is too low", "bubble-over-work": "is too high", "stages-not-gaps": "is too high",
        "stages-counted-from-the-end": "peak is too", "one-micro-batch-short": "peak is too low",
        "1f1b-keeps-all": "peak is too high", "p-for-m": "peak is too"}


@pytest.mark.parametrize("round_", range(len(PURE_BUG_ROUNDS)))
def test_pure_bugs_lose_points_in_their_own_exercise_on_every_seed(tmp_path, round_):
    planted = PURE_BUG_ROUNDS[round_]
    edits: dict = {}
    swaps: dict = {}
    for name, (file, _, change) in planted.items():
        if isinstance(change, str):
            swaps.setdefault(file, {})[name] = change
        else:
            edits.setdefault(file, []).extend(change)
    graded = grade_pure(make_labs(tmp_path, swaps, edits))
    for name in PURE:
        if name in planted:
            bug = planted[name][1]
            assert loses_every_seed(graded[name]), (name, bug)
            messages = [m for status, m in graded[name][0].values() if status != "passed"]
            assert any(SAID[bug] in m for m in messages), (name, bug, messages[:2])
        else:
            assert all(all_passed(cases) for cases in graded[name].values()), (name, "should be untouched")


# ---------------------------------------------------------------- wrong answers on real ranks
NAIVE_BUFFER_LIKE_INPUTS = [("naive.py", "        x = torch.empty(inputs.shape[0], hidden, dtype=inputs.dtype, "
                             "device=inputs.device)\n", "        x = torch.empty_like(inputs)\n")]
NAIVE_RECEIVED_INPUT_NOT_A_LEAF_WITH_GRAD = [("naive.py", "        x.requires_grad_()\n    out = stage(x)",
                                              "    out = stage(x)")]
RUNNER_ZEROES_BETWEEN_MICRO_BATCHES = [("runner.py", "                x, y = stash.pop(i)\n",
                                        "                x, y = stash.pop(i)\n                self.stage.zero_grad()\n")]
RUNNER_WAITS_SENDS_AT_THE_END = [("runner.py", "                    activation_sends.pop(i).wait()\n", ""),
                                 ("runner.py", "        for handle in gradient_sends:\n",
                                  "        for handle in gradient_sends + list(activation_sends.values()):\n")]
RUNNER_ALWAYS_GPIPE = [("runner.py", "        self.steps = [(str(kind), int(i)) for kind, i in schedule[self.rank]]\n",
                        "        m = len(schedule[self.rank]) // 2\n"
                        '        self.steps = [("F", i) for i in range(m)] + [("B", i) for i in range(m)]\n')]
RUNNER_SENDS_PAST_THE_LAST_STAGE = [("runner.py", "                if last:\n                    y = self.loss_fn(",
                                     "                if last:\n"
                                     "                    comm.isend(y.detach(), (self.rank + 1) % self.world)\n"
                                     "                    y = self.loss_fn(")]


def _edits(*bugs) -> dict:
    edits: dict = {}
    for bug in bugs:
        for file, old, new in bug:
            edits.setdefault(file, []).append((old, new))
    return edits


@pytest.fixture(scope="module")
def ranked_bugs_a(tmp_path_factory):
    """A receive buffer shaped like the inputs (d_in ≠ hidden), and a runner that zeroes the
    gradients before each micro-batch's backward (no accumulation)."""
    labs = workspace(tmp_path_factory.mktemp("lab09-a"), FOLDER,
                     _edits(NAIVE_BUFFER_LIKE_INPUTS, RUNNER_ZEROES_BETWEEN_MICRO_BATCHES))
    return grade_ranked(labs)


@pytest.fixture(scope="module")
def ranked_bugs_b(tmp_path_factory):
    """A received activation that is not a leaf requiring grad, and a runner that keeps every
    activation send pending until the end of the step (activations alive ∝ m)."""
    labs = workspace(tmp_path_factory.mktemp("lab09-b"), FOLDER,
                     _edits(NAIVE_RECEIVED_INPUT_NOT_A_LEAF_WITH_GRAD, RUNNER_WAITS_SENDS_AT_THE_END))
    return grade_ranked(labs)


@pytest.mark.slow
def test_naive_bugs_lose_every_case(ranked_bugs_a, ranked_bugs_b):
    for graded in (ranked_bugs_a, ranked_bugs_b):
        naive = graded["naive_model_parallel"]
        assert all(status in ("failed", "error") for status, _ in naive.values()), naive
    assert any("rank" in message for _, message in ranked_bugs_a["naive_model_parallel"].values())


@pytest.mark.slow
def test_runner_without_gradient_accumulation_loses_points(ranked_bugs_a):
    runner = ranked_bugs_a["PipelineRunner"]
    lost = {cid for cid, (status, _) in runner.items() if status != "passed"}
    assert lost == {cid for cid in runner if not cid.endswith("one-micro-batch")}, runner
    assert all("one process" in runner[cid][1] for cid in lost), runner


@pytest.mark.slow
def test_runner_that_keeps_activations_alive_loses_the_1f1b_cases(ranked_bugs_b):
    runner = ranked_bugs_b["PipelineRunner"]
    for cid in ("w2-1f1b", "w4-1f1b"):
        assert runner[cid][0] == "failed" and "still held the activations" in runner[cid][1], runner[cid]
    assert runner["w2-gpipe"][0] == "passed"      # GPipe holds every micro-batch anyway


@pytest.mark.slow
def test_runner_that_ignores_its_schedule_or_sends_past_the_last_stage_loses_points(tmp_path):
    """Two runner bugs, on the 4-rank cases only (the wrong-stage send also hangs the 2-rank
    cases until the group timeout, which costs time and shows nothing new)."""
    w4 = ("w4-1f1b", "w4-gpipe-reversed")
    ignores = grade_ranked(workspace(tmp_path / "ignores", FOLDER, _edits(RUNNER_ALWAYS_GPIPE)),
                           ("PipelineRunner",), ids=w4)["PipelineRunner"]
    wrong = grade_ranked(workspace(tmp_path / "wrong", FOLDER, _edits(RUNNER_SENDS_PAST_THE_LAST_STAGE)),
                         ("PipelineRunner",), ids=w4)["PipelineRunner"]
    for cid in w4:
        assert ignores[cid][0] == "failed" and "its schedule says" in ignores[cid][1], ignores[cid]
        assert wrong[cid][0] == "failed" and "rank 3 made" in wrong[cid][1] and "no such message" in wrong[cid][1], \
            wrong[cid]


# ---------------------------------------------------------------- the bench the checks stand on
def test_replay_meets_the_laws_on_the_canonical_schedules():
    from aisys.parallel.pipeline_parallel import canonical
    from aisys.parallel.pipeline_parallel.simulate import bubble_law, in_flight, makespan_law, memory_law, simulate

    for p in range(1, 6):
        for m in range(1, 11):
            for t_f, t_b in ((1, 1), (1, 2), (3, 1)):
                for name, build in canonical.BUILDERS.items():
                    timeline = simulate(build(p, m), t_f, t_b)
                    assert timeline.makespan == makespan_law(p, m, t_f, t_b), (name, p, m)
                    busy = sum(timeline.busy(w) for w in timeline.workers)
                    assert abs(1 - busy / (p * timeline.makespan) - bubble_law(p, m)) < 1e-12
            assert [in_flight(s) for s in canonical.one_f_one_b(p, m)] == memory_law(p, m, "1f1b")
            assert [in_flight(s) for s in canonical.gpipe(p, m)] == memory_law(p, m, "gpipe")


def test_replay_names_the_stage_that_deadlocks_and_the_incomplete_one():
    from aisys.parallel.pipeline_parallel.simulate import ScheduleProblem, completeness, simulate

    backward_first = [[("B", 0), ("F", 0)], [("F", 0), ("B", 0)]]
    with pytest.raises(ScheduleProblem, match="stage 0 runs B0 before F0"):
        simulate(backward_first)
    crossed = [[("F", 0), ("B", 0), ("F", 1), ("B", 1)], [("F", 1), ("F", 0), ("B", 0), ("B", 1)]]
    with pytest.raises(ScheduleProblem, match="deadlocks: stage 0 waits forever at step 1 .B0."):
        simulate(crossed)
    assert "never runs the backward of micro-batch 1" in completeness([[("F", 0), ("F", 1), ("B", 0)]], 2)
    assert "runs 2 times the forward of micro-batch 0" in completeness([[("F", 0), ("F", 0), ("B", 0)]], 1)
    assert "micro-batch 5" in completeness([[("F", 5)]], 2)


def test_exhaustive_optimum_beats_greedy_on_the_traps():
    from aisys.parallel.pipeline_parallel.check_stages import FIXED, optimum

    assert optimum([3.0, 3.0, 4.0], 2) == 6.0
    assert optimum([1.0, 1.0, 1.0, 9.0], 2) == 9.0
    assert optimum([2.0, 7.0, 2.0, 2.0, 2.0, 2.0, 2.0, 6.0], 3) == 9.0
    assert optimum([0.0, 5.0, 0.0], 3) == 5.0
    assert {name for name, _, _ in FIXED} >= {"greedy-trap", "equal-count-trap", "equal-costs", "zero-costs"}


def test_stage_watch_sees_order_memory_and_leaks():
    import torch

    from aisys.parallel.pipeline_parallel.tracker import StageWatch

    stage = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh())
    watch = StageWatch(stage, first_stage=False)
    held = {}
    for i in range(3):                                   # F0 F1 F2, then B0 B1 B2: GPipe
        x = torch.randn(2, 3, requires_grad=True)
        held[i] = (x, stage(x))
    for i in range(3):
        x, y = held.pop(i)
        y.sum().backward()
    del x, y
    seen = watch.end_step()
    assert seen["trace"] == [["F", 0], ["F", 1], ["F", 2], ["B", 0], ["B", 1], ["B", 2]]
    assert (seen["peak"], seen["stale"], seen["kept"]) == (3, 0, 0)

    watch.begin_step()
    kept = []
    for i in range(3):                                   # F B F B F B, but every micro-batch kept
        x = torch.randn(2, 3, requires_grad=True)
        y = stage(x)
        y.sum().backward()
        kept.append(y.detach())                          # a view keeps the storage: still counted
    seen = watch.end_step()
    assert seen["trace"] == [["F", 0], ["B", 0], ["F", 1], ["B", 1], ["F", 2], ["B", 2]]
    assert seen["stale"] == 1 and seen["kept"] == 3 and seen["peak"] == 2
    watch.close()


def test_comm_problem_counts_peers_and_sizes():
    from aisys.parallel.pipeline_parallel.casekit import comm_problem
    from aisys.parallel.pipeline_parallel.stagekit import neighbour_messages

    want = neighbour_messages(1, 3, 2, 64)
    good = [["recv", 0, 64], ["send", 2, 64], ["recv", 2, 64], ["send", 0, 64]] * 2
    assert comm_problem(1, good, want, "the step") is None
    assert "no such message" in comm_problem(1, good + [["send", 0 + 3, 64]], want, "the step")
    assert "rank 1 made 1 send(s) to rank 0 during the step" in comm_problem(1, good[:-3], want, "the step")
    assert "carried 32 bytes" in comm_problem(1, [[op, peer, 32 if op == "send" and peer == 2 else n]
                                                  for op, peer, n in good], want, "the step")
    assert "the group" in comm_problem(1, good + [["all_reduce", None, 8]], want, "the step")


def test_benchmark_rows_have_the_schema_and_the_ratio():
    from benchmarks.common import REQUIRED
    from benchmarks.pipeline_parallel import rows_from

    names = ("ours_1f1b", "ours_gpipe", "naive", "torch_1f1b", "torch_gpipe")
    fast = {"times": {n: [0.010, 0.012, 0.011] for n in names}, "peaks": {"ours_1f1b": 4, "ours_gpipe": 8}}
    slow = {"times": {n: [0.020, 0.010, 0.011] for n in names}, "peaks": {"ours_1f1b": 4, "ours_gpipe": 8}}
    rows = rows_from([fast, slow], quick=True)
    assert all(key in row for row in rows for key in REQUIRED)
    assert rows[0]["value"] == pytest.approx(0.012)          # per turn the slowest rank: 0.020, 0.012, 0.011
    assert rows[0]["ratio"] == pytest.approx(1.0) and rows[3]["ratio"] == 0.5
