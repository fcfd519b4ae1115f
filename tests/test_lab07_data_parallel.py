"""Lab 07 end to end: solutions 100, stubs 0, planted bugs lose points in their own exercise,
correct-but-different answers keep full marks, the demo (panels, failures), torchrun; and the
bench the checks stand on, compared with torch."""
from __future__ import annotations

import shutil

import pytest

from conftest import REPO, STUBS, check_json, exercise, two_torchrun_agents, workspace

FOLDER = "07_data_parallel"

ALT_SHARDED = '''"""Another ZeRO-1: whole parameters partitioned over the ranks (ZeroRedundancyOptimizer style)."""
import torch

from aisys.parallel import comm, context


class ShardedOptimizer(torch.optim.Optimizer):
    def __init__(self, params, optimizer_cls, **kwargs):
        super().__init__(params, kwargs)
        world, rank = context.world_size(), context.rank()
        loads, self.owner = [0] * world, {}
        for group in self.param_groups:                 # greedy: largest first, to the lightest rank
            for p in sorted(group["params"], key=lambda q: -q.numel()):
                r = loads.index(min(loads))
                loads[r] += p.numel()
                self.owner[p] = r
        self.mine = [[p for p in g["params"] if self.owner[p] == rank] for g in self.param_groups]
        keep = [i for i, ps in enumerate(self.mine) if ps]
        self.index = keep
        self.inner = optimizer_cls([{**{k: v for k, v in self.param_groups[i].items() if k != "params"},
                                     "params": self.mine[i]} for i in keep])

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    comm.all_reduce(p.grad, op="avg")
        for i, inner in zip(self.index, self.inner.param_groups):
            inner.update({k: v for k, v in self.param_groups[i].items() if k != "params"})
        self.inner.step()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    comm.broadcast(p.data, src=self.owner[p])
        return None
'''

ALT_FSDP = '''"""Another FSDP: weight matrices sharded by rows (FSDP2's dim-0 layout), 1-D parameters replicated."""
import torch
from torch import nn

from aisys.parallel import comm, context


class FSDP(nn.Module):
    def __init__(self, module, compute_dtype=None):
        super().__init__()
        self.module, self.compute_dtype = module, compute_dtype
        self.n, self.r = context.world_size(), context.rank()
        self.units = [m for m in module.children() if list(m.parameters())]
        self.shape, self.master, self.full, self.arrived = {}, {}, {}, {}
        self.unit_of = {}
        with torch.no_grad():
            for unit in self.units:
                for p in unit.parameters():
                    self.shape[p], self.unit_of[p] = p.shape, unit
                    if p.dim() > 1:
                        rows = self._rows(p)
                        pad = p.new_zeros(rows * self.n - p.shape[0], *p.shape[1:])
                        self.master[p] = torch.cat([p.detach(), pad])[self.r * rows:(self.r + 1) * rows].clone()
                    else:
                        self.master[p] = p.detach().clone()
                    p.data = self.master[p]
                    p.register_post_accumulate_grad_hook(self._arrived)
                unit.register_forward_pre_hook(self._pre)
                unit.register_forward_hook(self._post)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _rows(self, p):
        return -(-self.shape[p][0] // self.n)

    def _dtype(self, p):
        return self.compute_dtype or self.master[p].dtype

    def _gather(self, params, dtype):
        sharded = [p for p in params if len(self.shape[p]) > 1]
        local = torch.cat([self.master[p].reshape(-1) for p in sharded]).to(dtype)
        out = local.new_empty(local.numel() * self.n)
        comm.all_gather_into_tensor(out, local)
        pieces = out.view(self.n, -1).split([self.master[p].numel() for p in sharded], dim=1)
        return {p: piece.reshape(self.n * self._rows(p), *self.shape[p][1:])[:self.shape[p][0]]
                for p, piece in zip(sharded, pieces)}

    def _use(self, unit):
        params = list(unit.parameters())
        gathered = self._gather(params, self._dtype(params[0]))
        for p in params:
            value = gathered.get(p, self.master[p])
            if p not in self.full:
                self.full[p] = torch.empty(self.shape[p], dtype=self._dtype(p))
            else:
                self.full[p].untyped_storage().resize_(self.full[p].numel() * self.full[p].element_size())
            self.full[p].copy_(value)
            p.data = self.full[p]

    def _release(self, unit):
        for p in unit.parameters():
            p.data = self.master[p]
            if p in self.full:
                self.full[p].untyped_storage().resize_(0)

    def _pre(self, unit, args):
        self._use(unit)
        dt = self.compute_dtype
        return None if dt is None else tuple(a.to(dt) if torch.is_tensor(a) and a.is_floating_point() else a
                                             for a in args)

    def _post(self, unit, args, out):
        self._release(unit)
        if torch.is_tensor(out) and out.requires_grad:
            out.register_hook(lambda g: self._use(unit))

    def _arrived(self, p):
        unit = self.unit_of[p]
        self.arrived[unit] = self.arrived.get(unit, 0) + 1
        if self.arrived[unit] == len(list(unit.parameters())):
            self.arrived[unit] = 0
            self._reduce(unit)

    def _reduce(self, unit):
        params = list(unit.parameters())
        grads = {p: (p.grad if p.grad is not None else torch.zeros(self.shape[p])).to(self._dtype(p)) for p in params}
        sharded = [p for p in params if len(self.shape[p]) > 1]
        blocks = []
        for p in sharded:
            rows = self._rows(p)
            g = torch.cat([grads[p], grads[p].new_zeros(rows * self.n - self.shape[p][0], *self.shape[p][1:])])
            blocks.append(g.reshape(self.n, -1))
        flat = torch.cat(blocks, dim=1).reshape(-1)
        mine = flat.new_empty(flat.numel() // self.n)
        comm.reduce_scatter_tensor(mine, flat, op="sum")
        mine = mine / self.n
        replicated = [p for p in params if len(self.shape[p]) <= 1]
        if replicated:
            together = torch.cat([grads[p].float().reshape(-1) for p in replicated])
            comm.all_reduce(together, op="avg")
        self._release(unit)
        for p, piece in zip(sharded, mine.split([self.master[p].numel() for p in sharded])):
            p.grad = piece.view_as(self.master[p]).float()
        offset = 0
        for p in replicated:
            p.grad = together[offset:offset + p.numel()].view_as(self.master[p])
            offset += p.numel()

    def finish_gradient_synchronization(self):
        for unit in self.units:
            if any(p.grad is None or p.grad.shape != p.shape for p in unit.parameters()):
                self._use(unit)
                self._reduce(unit)

    def full_parameters(self):
        names = {p: n for n, p in self.module.named_parameters()}
        out = {}
        for unit in self.units:
            params = list(unit.parameters())
            gathered = self._gather(params, torch.float32)
            for p in params:
                out[names[p]] = gathered.get(p, self.master[p]).clone()
        return out
'''


# ------------------------------------------------------------------ whole runs of the check

@pytest.fixture(scope="module")
def solutions_report():
    return check_json("data-parallel", "--solutions")


@pytest.mark.slow
def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert report["score"] == report["max_score"] == 100.0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"passed"}


@pytest.mark.slow
def test_stubs_score_zero_not_started():
    report, proc = check_json("data-parallel", "--labs-dir", str(STUBS))
    assert proc.returncode == 1
    assert report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


def _failed(ex: dict) -> list[dict]:
    return [c for c in ex["cases"] if c["status"] == "failed"]


def _grade_here(labs, only: tuple[str, ...] = ()) -> dict:
    """The lab's cases on real ranks forked from this process, judged here: the report's shape
    without two interpreter start-ups per run (the CLI path is covered by the runs above)."""
    from aisys.catalog import find_lab
    from aisys.grading.plain import from_plain
    from aisys.grading.report import CaseResult, exercise_score
    from aisys.parallel.data_parallel.checks import SUITE
    from aisys.workspace import Student

    lab = find_lab("data-parallel")
    cases, records = [c for c in SUITE.plan(0) if not only or c.exercise in only], []
    SUITE.run_cases(cases, Student(lab, labs), records.append)
    by_key = {rec["case"]: rec for rec in records}
    exercises = []
    for ex in (e for e in lab.exercises if not only or e.name in only):
        results = []
        for case in (c for c in cases if c.exercise == ex.name):
            rec = by_key.get(case.key, {"status": "error", "message": "no record"})
            if rec["status"] == "ok":
                verdict = SUITE.judge(case, from_plain(rec["output"]))
                rec = {"status": "passed" if verdict.passed else "failed", "message": verdict.message}
            results.append(CaseResult(case.id, rec["status"], "", rec["message"], case.weight))
        exercises.append({"name": ex.name, "max_score": ex.points, "score": exercise_score(ex.points, results),
                          "cases": [{"id": r.id, "status": r.status, "message": r.message} for r in results]})
    return {"score": sum(e["score"] for e in exercises), "max_score": sum(e["max_score"] for e in exercises),
            "labs": [{"exercises": exercises}]}


def _loses(report: dict, name: str, case_word: str, message_word: str) -> None:
    ex = exercise(report, name)
    assert ex["score"] < ex["max_score"], ex
    failed = [c for c in _failed(ex) if case_word in c["id"]]
    assert failed and message_word in failed[0]["message"], ex


# One plausible bug per exercise (exercises are graded independently, so one run carries all).
FIRST_BUGS = {
    "sampler.py": [("generator.manual_seed(seed + epoch)", "generator.manual_seed(seed)")],
    "ring.py": [("chunks[recv_index].copy_(exchange", "chunks[recv_index].add_(exchange")],
    "ddp.py": [('comm.all_reduce(param.grad, op="avg")', "comm.all_reduce(param.grad)"),      # sum, not mean
               ("param.register_post_accumulate_grad_hook(self._grad_ready)", "pass")],     # no overlap
    "zero.py": [("self.exp_avg.lerp_(grad, 1 - beta1)",                                    # 1 ulp from torch
                 "self.exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)"),
                ("if stage >= 2:\n        grads /= n_d", "if stage >= 1:\n        grads /= n_d"),
                ("return (3 if stage >= 3 else 2) * psi", "return 2 * psi")],
    "sharded.py": [("                    shard.grad = None                    # torch skips it: so do we\n"
                    "                    continue\n", "                    p.grad = torch.zeros_like(p)\n")],  # zeros
    "fsdp.py": [("            if p in self._full:\n                self._full[p].untyped_storage().resize_(0)",
                 "            self._full.pop(p, None)")],                     # freed by reference only
    "precision.py": [('        comm.all_reduce(flag, op="max")\n', "")],        # ranks decide alone
    "memory.py": [("activations = checkpoints + checkpoint_every * per_block",
                   "activations = checkpoints + n_layers * per_block")],
    "param_server.py": [('period = 1 if self.mode == "sync" else self.staleness + 1', "period = 1")],
}
SECOND_BUGS = {
    "sampler.py": [("while len(indices) < total:\n            indices += indices[:total - len(indices)]",
                    "indices += indices[:total - len(indices)]")],             # short when pad > n
    "ring.py": [("for step in range(world - 1):          # reduce-scatter", "for step in range(0):"),
                ("for step in range(world - 1):          # all-gather",        # the whole tensor round the ring
                 "passing = flat.clone()\n    for step in range(world - 1):\n"
                 "        incoming = torch.empty_like(passing)\n"
                 "        works = [comm.isend(passing, right), comm.irecv(incoming, left)]\n"
                 "        [w.wait() for w in works]\n        flat.add_(incoming)\n        passing = incoming\n"
                 "    for step in range(0):")],
    "ddp.py": [("        for param in self.module.parameters():\n            if param.grad",   # shared weight twice
                "        for param in (q for m in self.module.modules() for q in m.parameters(recurse=False)):\n"
                "            if param.grad"),
               ("self._ready[self._next] == len(self.buckets[self._next])",   # every bucket from the last hook
                "sum(self._ready) == sum(map(len, self.buckets))")],
    "zero.py": [("p.grad = None                                  # only", "pass  # only"),
                ("weights, grads, states = 2 * psi, 2 * psi, k * psi",
                 "weights, grads, states = 2 * psi, 2 * psi, 12 * psi"),
                ("return (3 if stage >= 3 else 2) * psi", "return (3 if stage >= 2 else 2) * psi")],
    "sharded.py": [("            inner.update(_hyper(group))                  # a scheduler may have changed lr",
                    "            pass")],
    "fsdp.py": [("local = torch.cat([self._shards[p] for p in params]).to(dtype)",   # cast after the wire
                 "local = torch.cat([self._shards[p] for p in params])"),
                ("        return [block.reshape(-1)", "        return [block.to(dtype).reshape(-1)")],
    "precision.py": [("        if not self._unscaled:\n            self.unscale_(optimizer)",
                      "        self._unscaled = False\n        self.unscale_(optimizer)")],   # unscales twice
    "memory.py": [('"optimizer": 12.0 * psi', '"optimizer": 8.0 * psi')],      # forgets the fp32 master copy
    "param_server.py": [('if self.mode == "sync":\n                    self.params -=',
                         "if True:\n                    self.params -=")],   # async applies the mean
}


@pytest.fixture(scope="module")
def first_bugs(tmp_path_factory):
    return _grade_here(workspace(tmp_path_factory.mktemp("b1"), FOLDER, FIRST_BUGS))


@pytest.fixture(scope="module")
def second_bugs(tmp_path_factory):
    return _grade_here(workspace(tmp_path_factory.mktemp("b2"), FOLDER, SECOND_BUGS))


@pytest.mark.slow
@pytest.mark.parametrize("name, case_word, message_word", [
    ("shard_indices", "shuffle", "epoch"),
    ("ring_all_reduce", "w2", "largest difference"),
    ("NaiveDDP", "w2", "loss on its shard"),
    ("BucketedDDP", "w2", "before backward ended"),
    ("ZeroOptimizer", "stage1", "bit for bit"),
    ("zero_memory", "stage1", "off by"),
    ("zero_comm", "stage3", "too low"),
    ("ShardedOptimizer", "unused", "bit for bit"),
    ("FSDP", "fp32", "not freed"),
    ("DynamicLossScaler", "one-rank", "skipped it"),
    ("training_memory", "checkpoint", "activations"),
    ("ParameterServer", "async", "staleness"),
])
def test_first_bugs_lose_points_in_their_exercise(first_bugs, name, case_word, message_word):
    _loses(first_bugs, name, case_word, message_word)


@pytest.mark.slow
@pytest.mark.parametrize("name, case_word, message_word", [
    ("shard_indices", "pad-beyond-n", "rank 2"),
    ("ring_all_reduce", "w2-even", "messages"),
    ("NaiveDDP", "w2", "reduced twice"),
    ("BucketedDDP", "several", "before the last gradient"),
    ("ZeroOptimizer", "stage2", "release"),
    ("zero_memory", "random-stage1", "off by"),
    ("zero_comm", "stage2", "too high"),
    ("ShardedOptimizer", "scheduled", "bit for bit"),
    ("FSDP", "bf16", "cast to the compute dtype"),
    ("DynamicLossScaler", "explicit-unscale", "parameters"),
    ("training_memory", "gpt", "optimizer"),
    ("ParameterServer", "w4-async", "asynchronous steps"),
])
def test_second_bugs_lose_points_in_their_exercise(second_bugs, name, case_word, message_word):
    _loses(second_bugs, name, case_word, message_word)


# Bugs a fidelity audit found keeping full marks: an inf hidden by a later parameter, the second
# param group never looked at, full_parameters() handing back the compute-dtype copies.
LATE_BUGS = {
    "flag-overwritten": ("DynamicLossScaler", "three-params", "skipped it", {"precision.py": [
        ("found = found or not bool(torch.isfinite(p.grad).all())", "found = not bool(torch.isfinite(p.grad).all())")]}),
    "first-group-only": ("DynamicLossScaler", "three-params", "skipped it", {"precision.py": [
        ("for group in optimizer.param_groups:", "for group in optimizer.param_groups[:1]:")]}),
    "full-parameters-in-compute-dtype": ("FSDP", "16", "fp32 master weights", {"fsdp.py": [
        ("self._all_gather(params, torch.float32)", "self._all_gather(params, self.compute_dtype or torch.float32)")]}),
}


@pytest.mark.slow
@pytest.mark.parametrize("bug", LATE_BUGS)
def test_audited_bugs_lose_points_in_their_exercise(tmp_path, bug):
    name, case_word, message_word, edits = LATE_BUGS[bug]
    _loses(_grade_here(workspace(tmp_path, FOLDER, edits), only=(name,)), name, case_word, message_word)


# Correct answers in another style, each in one workspace: every exercise keeps full marks.
ALTERNATIVES = {
    "ring.py": [("    chunks = flat.tensor_split(world)",                  # n//N per chunk, the rest in the last
                 "    base = flat.numel() // world\n"
                 "    chunks = flat.split([base] * (world - 1) + [flat.numel() - base * (world - 1)])"),
                ("    right, left = (me + 1) % world, (me - 1) % world",   # and round the other way
                 "    right, left = (me - 1) % world, (me + 1) % world\n    me = (-me) % world")],
    "precision.py": [("                    p.grad.mul_(inverse)", "                    p.grad.div_(self._scale)"),
                     ('        flag = torch.tensor([1.0 if found else 0.0])\n        comm.all_reduce(flag, op="max")',
                      '        flag = torch.tensor([float(found)])\n        comm.all_reduce(flag, op="sum")')],
}
ALTERNATIVE_FILES = {"sharded.py": ALT_SHARDED, "fsdp.py": ALT_FSDP}


@pytest.mark.slow
def test_correct_answers_in_another_style_keep_full_marks(tmp_path):
    labs = workspace(tmp_path, FOLDER, ALTERNATIVES)
    for name, text in ALTERNATIVE_FILES.items():
        (labs / FOLDER / name).write_text(text)
    report = _grade_here(labs, only=("ring_all_reduce", "ShardedOptimizer", "FSDP", "DynamicLossScaler"))
    exercises = report["labs"][0]["exercises"]
    assert report["score"] == report["max_score"] == 9 + 12 + 18 + 7, \
        [(ex["name"], ex["cases"]) for ex in exercises if ex["score"] < ex["max_score"]]


# ------------------------------------------------------------------ the demo

def _demo(labs_dir, nproc: int) -> tuple[str, BaseException | None]:
    """The demo in this process (its ranks are forked from here: no interpreter start-up)."""
    import io

    from rich.console import Console

    from aisys.catalog import find_lab
    from aisys.labrun import DemoOptions, run_demo
    from aisys.workspace import Student

    out = io.StringIO()
    lab = find_lab("data-parallel")
    try:
        run_demo(lab, Student(lab, labs_dir), Console(file=out, width=100), DemoOptions(nproc=nproc))
    except Exception as err:  # the demo ends with StudentCodeError when a rank failed
        return out.getvalue(), err
    return out.getvalue(), None


@pytest.mark.slow
def test_demo_shows_every_panel_on_four_ranks():
    text, err = _demo(REPO / "solutions", 4)
    assert err is None, text[-2000:]
    for needle in ("0*]", "ring all-reduce", "│ 4 │", "1.500", "buckets (reverse parameter order",
                   "backward vs all-reduce", "ZeRO-3 (FSDP)", "3.00Ψ", "0 B", "0 (bit for bit)",
                   "heap bytes per unit", "F0 AG F1 AG", "SKIP", "100%", "3 workers", "staleness 3",
                   "4 ranks on cpu", "120 GB", "measured total"):
        assert needle in text, needle
    assert "not implemented" not in text and "raised" not in text and "failed" not in text


@pytest.mark.slow
def test_demo_on_stubs_and_a_raising_rank(tmp_path):
    """Stubs say where to edit; a rank that raises (its message full of rich markup) is shown
    verbatim, named, and ends the demo with an error (exit 1 on the command line)."""
    from aisys.errors import StudentCodeError

    labs = tmp_path / "labs"
    shutil.copytree(STUBS / FOLDER, labs / FOLDER)
    ring = (REPO / "solutions" / FOLDER / "ring.py").read_text().replace(
        "    world, me = context.world_size(), context.rank()\n",
        "    world, me = context.world_size(), context.rank()\n    if me == 1:\n"
        "        raise ValueError('rank one [/bold] broke [red]here')\n")
    (labs / FOLDER / "ring.py").write_text(ring)
    text, err = _demo(labs, 2)
    assert isinstance(err, StudentCodeError) and "ring_all_reduce" in str(err)
    assert "ring_all_reduce failed on rank 1" in text and "[/bold] broke [red]here" in text
    assert text.count("not implemented yet") == 11          # every other exercise, once
    assert "Traceback" not in text


@pytest.mark.slow
def test_two_torchrun_agents_on_loopback_run_the_demo():
    """Two agents of one process each (conftest.two_torchrun_agents); it also covers `aisys lab
    run` through the CLI (exit code 0)."""
    agents = two_torchrun_agents("lab", "run", "data-parallel", "--solution")
    assert [code for code, _ in agents] == [0, 0], [output[-1500:] for _, output in agents]
    joined = "\n".join(output for _, output in agents)
    assert "joining the torchrun group: 2 ranks" in joined
    assert "rank 1: done" in joined
    for needle in ("2 ranks on cpu", "BucketedDDP", "ZeRO-3 (FSDP)", "0 (bit for bit)", "GradScaler",
                   "only 1 worker"):
        assert needle in joined, needle


# ------------------------------------------------------------------ the bench the checks stand on

def test_bucket_rule_is_torch_ddps():
    """expected_buckets (what the check demands) == DDP's own bucket assignment, reverse order."""
    import torch.distributed as dist

    from aisys.parallel.data_parallel.toys import expected_buckets, make_toy

    assign = getattr(dist, "_compute_bucket_assignment_by_size", None)
    if assign is None:
        pytest.skip("this torch has no _compute_bucket_assignment_by_size")
    model = make_toy(0, hidden=24)
    params = [p for p in model.parameters() if p.requires_grad][::-1]
    exact = sum(p.numel() * 4 for p in params[:3]) / 2**20      # a cap met exactly: the bucket closes there
    for cap in (1e-7, 0.0005, 0.004, 25.0, exact):
        found = assign(params, [int(cap * 2**20)])
        buckets = found[0] if isinstance(found, tuple) else found
        assert [sum(params[i].numel() * 4 for i in b) for b in buckets] == expected_buckets(model, cap)


def test_bucket_cases_tell_reverse_from_forward_order():
    import numpy as np

    from aisys.parallel.data_parallel.check_ddp import BucketedDDPCheck
    from aisys.parallel.data_parallel.toys import expected_buckets, make_toy

    for case in BucketedDDPCheck().cases(np.random.default_rng(0)):
        if "several" not in case.id:
            continue
        model = make_toy(0, hidden=case.inputs["hidden"])
        forward, size = [], 0
        for p in (p for p in model.parameters() if p.requires_grad):
            size += p.numel() * 4
            if size >= case.inputs["cap"] * 2**20:
                forward, size = forward + [size], 0
        forward += [size] if size else []
        assert len(expected_buckets(model, case.inputs["cap"])) >= 2
        assert expected_buckets(model, case.inputs["cap"]) != forward


def test_momentum_sgd_is_torchs_sgd():
    import torch
    from torch.optim.sgd import sgd

    from aisys.parallel.data_parallel.toys import MomentumSGD

    ours, theirs = [torch.ones(3, requires_grad=True)], [torch.ones(3)]
    opt, buffers = MomentumSGD(ours, lr=0.1), [None]
    for step in range(3):
        grad = torch.tensor([1.0, -2.0, 0.5]) * (step + 1)
        ours[0].grad = grad.clone()
        opt.step()
        sgd(theirs, [grad], buffers, weight_decay=0.0, momentum=0.9, lr=0.1, dampening=0.0, nesterov=False,
            maximize=False, foreach=False)
    assert torch.allclose(ours[0].detach(), theirs[0])


def test_held_numel_counts_optimizer_tensors_once_and_skips_parameters():
    import torch

    from aisys.parallel.data_parallel.optim_bench import held_numel

    param = torch.zeros(10)

    class Opt:
        def __init__(self):
            self.params = [param]
            self.state = {"m": torch.zeros(4), "v": [torch.zeros(4)]}
            self.alias = self.state["m"]
            self.step_count = torch.tensor(3)      # an int tensor: not optimizer state
    assert held_numel(Opt(), {param.untyped_storage().data_ptr()}) == 8


def test_exact_gradients_average_the_same_in_any_order():
    """What makes bit-for-bit grading fair: the mean over ranks has one float32 answer."""
    import itertools

    import numpy as np

    from aisys.parallel.data_parallel.optim_bench import exact_problem, mean_grads

    _, grads = exact_problem(3, 4, 2, [[5, 3], [7]])
    for step in grads:
        want = mean_grads(step)
        for order in itertools.permutations(range(4)):
            total = [np.zeros_like(g) for g in want]
            for r in order:
                total = [t + g for t, g in zip(total, step[r])]
            assert all(np.array_equal(t / np.float32(4), w) for t, w in zip(total, want))


@pytest.mark.parametrize("name, kwargs", [("Adam", {"lr": 0.01}), ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
                                          ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True})])
def test_torch_optimizers_give_the_same_bits_on_a_shard_at_any_offset(name, kwargs):
    """Bit-for-bit grading assumes elementwise kernels do not depend on where an element sits."""
    import torch

    torch.manual_seed(0)
    full = torch.nn.Parameter(torch.randn(301))
    cls = getattr(torch.optim, name)
    pieces = [torch.nn.Parameter(full.detach()[a:b].clone()) for a, b in ((0, 37), (37, 200), (200, 301))]
    whole, sharded = cls([full], **kwargs), cls(pieces, **kwargs)
    for _ in range(3):
        grad = torch.randint(-512, 512, (301,)) / 128.0
        full.grad = grad.clone()
        for p, (a, b) in zip(pieces, ((0, 37), (37, 200), (200, 301))):
            p.grad = grad[a:b].clone()
        whole.step()
        sharded.step()
    assert torch.equal(full.detach(), torch.cat([p.detach() for p in pieces]))


def test_every_scaler_case_mixes_skipped_and_taken_steps_on_every_seed():
    import numpy as np

    from aisys.parallel.data_parallel.check_precision import DynamicLossScalerCheck, grad_scaler_truth

    for seed in range(10):
        for case in DynamicLossScalerCheck().cases(np.random.default_rng(seed)):
            stepped, scales, _ = grad_scaler_truth(case)     # raises unless both happen
            assert len(set(scales)) > 1


def test_memprobe_sees_storage_freed_by_resizing():
    import torch

    from aisys.parallel.data_parallel.memprobe import live_bytes

    if live_bytes() is None:
        pytest.skip("no heap counter on this platform")
    before = live_bytes()
    t = torch.empty(64 * 1024)
    view = t.t() if t.dim() == 2 else t[:]           # autograd keeps views like this one alive
    assert live_bytes() - before >= t.nbytes
    t.untyped_storage().resize_(0)
    assert live_bytes() - before < t.numel() * 4 // 8
    del view


def test_the_article_memory_formula_is_near_a_measured_step():
    from aisys.parallel.data_parallel.check_memory import article
    from aisys.parallel.data_parallel.memprobe import live_bytes
    from aisys.parallel.data_parallel.transformer import measure_training_memory

    args = (6, 128, 4, 2, 64, 2)
    measure_training_memory(*args)
    measured, formula = measure_training_memory(*args), article(*args)
    for part in ("parameters", "gradients", "optimizer"):
        assert measured[part] == formula[part]
    if live_bytes() is not None:
        assert 0.75 <= measured["total"] / formula["total"] <= 1.25


def test_async_without_staleness_is_sync_at_the_same_effective_step():
    import numpy as np

    from aisys.parallel.data_parallel.check_ps import DIM, quadratics, simulate_async

    problems = quadratics(5, 3)
    x = np.zeros(DIM)
    for _ in range(7):
        x = x - 0.5 * np.mean([a @ (x - c) for a, c in problems], axis=0)
    assert np.allclose(simulate_async(problems, 0.5 / 3, 7, 0), x, rtol=1e-12, atol=1e-14)


def _fully_shard_on_rank(dtype_name):
    """torch's FSDP2 on CPU/gloo, trained like the FSDP check's cases."""
    import torch
    import torch.nn.functional as F
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    from aisys.parallel import context
    from aisys.parallel.data_parallel.toys import make_stack, shard, toy_batches

    dtype = None if dtype_name is None else getattr(torch, dtype_name)
    model = make_stack(11, width=64, depth=2)
    policy = MixedPrecisionPolicy(param_dtype=dtype) if dtype else MixedPrecisionPolicy()
    for unit in model:
        fully_shard(unit, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for batch in toy_batches(12, 3, 8):
        x, y = shard(batch, context.rank(), context.world_size())
        opt.zero_grad()
        F.mse_loss(model(x).float(), y).backward()
        opt.step()
    return {name: p.full_tensor().detach().numpy() for name, p in model.named_parameters()}


@pytest.mark.slow
def test_fsdp_ground_truth_is_torchs_fully_shard():
    """The check's truth (one process, the same casts) against torch.distributed.fsdp.fully_shard."""
    import numpy as np

    from aisys.parallel.data_parallel.toys import make_stack, toy_batches, train_single_process
    from aisys.parallel.launch import launch

    import torch

    def largest_difference(theirs, dtype):
        ours, _ = train_single_process(make_stack(11, width=64, depth=2), toy_batches(12, 3, 8), 0.05, dtype, 2)
        return max(float(np.abs(theirs[name] - p.detach().numpy()).max()) for name, p in ours.named_parameters())

    assert largest_difference(launch(_fully_shard_on_rank, 2, None, timeout=60)[0], None) < 1e-6
    bf16 = launch(_fully_shard_on_rank, 2, "bfloat16", timeout=60)[0]      # half-batch bf16 rounding differs
    assert largest_difference(bf16, torch.bfloat16) < min(2e-3, largest_difference(bf16, None))
