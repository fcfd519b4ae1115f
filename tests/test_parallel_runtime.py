"""The distributed runtime: backend policy, launcher failures, logged collectives, the suite."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from aisys.errors import UserError
from aisys.grading.spec import Case, ExerciseCheck
from aisys.parallel.launch import LaunchError, launch
from aisys.parallel.policy import choose_backend
from aisys.parallel.suite import DistributedSuite

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ policy (pure)

@pytest.mark.parametrize("nproc, backend, device, gpus, expected", [
    (2, "auto", "auto", 0, ("gloo", "cpu")),
    (1, "auto", "auto", 1, ("nccl", "cuda")),
    (2, "auto", "auto", 1, ("gloo", "cuda")),        # more ranks than GPUs: share it through gloo
    (4, "auto", "auto", 8, ("nccl", "cuda")),
    (2, "gloo", "auto", 2, ("gloo", "cuda")),
    (2, "auto", "cpu", 4, ("gloo", "cpu")),
    (2, "nccl", "auto", 2, ("nccl", "cuda")),
])
def test_policy(nproc, backend, device, gpus, expected):
    assert choose_backend(nproc, backend, device, gpus=gpus) == expected


@pytest.mark.parametrize("nproc, backend, device, gpus", [
    (2, "nccl", "cpu", 2), (3, "nccl", "auto", 2), (2, "auto", "cuda", 0), (2, "mpi", "auto", 0), (0, "auto", "auto", 0)])
def test_policy_refuses_what_cannot_work(nproc, backend, device, gpus):
    with pytest.raises(UserError):
        choose_backend(nproc, backend, device, gpus=gpus)


# ------------------------------------------------------------------ launcher

def _children() -> list[int]:
    """Live child processes of this process (zombies excluded)."""
    me, kids = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            kids.append(int(pid))
    return kids


def _collectives():
    import torch

    from aisys.parallel import comm, context

    t = torch.full((3,), float(context.rank() + 1))
    with comm.comm_log().capture() as records:
        comm.all_reduce(t)
        work = comm.all_reduce(torch.ones(2), op="max", async_op=True)
        work.wait()
        parts = comm.all_gather(torch.tensor([context.rank()]))
    return {"sum": t.tolist(), "gathered": [int(p) for p in parts], "world": context.world_size(),
            "records": [(r["op"], r["bytes"], r["group_size"], r["end"] is not None) for r in records]}


def test_launch_returns_rank_order_and_logs_every_call():
    results = launch(_collectives, 4, timeout=20)
    assert [r["gathered"] for r in results] == [[0, 1, 2, 3]] * 4
    assert all(r["sum"] == [10.0] * 3 and r["world"] == 4 for r in results)
    assert results[0]["records"] == [("all_reduce", 12, 4, True), ("all_reduce", 8, 4, True),
                                      ("all_gather", 8, 4, True)]
    assert _children() == []


def _raise_on_rank_one():
    import torch

    from aisys.parallel import comm, context

    if context.rank() == 1:
        raise ValueError("rank one is broken")
    comm.all_reduce(torch.ones(1))      # the others wait for rank 1 here
    return "unreachable"


def test_a_failing_rank_fails_the_launch_with_every_traceback_and_no_orphans():
    start = time.monotonic()
    with pytest.raises(LaunchError) as info:
        launch(_raise_on_rank_one, 2, timeout=20)
    assert time.monotonic() - start < 10, "peers should fail at once, not at the group timeout"
    message = str(info.value)
    assert "── rank 1 ──" in message and "ValueError: rank one is broken" in message
    assert "── rank 0 ──" in message          # the peer's error is shown too
    assert set(info.value.failures) == {0, 1}
    assert _children() == []


def _rank_one_skips_the_collective():
    import torch

    from aisys.parallel import comm, context

    if context.rank() != 1:
        comm.all_reduce(torch.ones(1))
    return context.rank()


def test_a_rank_that_never_joins_times_out_with_a_clear_message():
    start = time.monotonic()
    with pytest.raises(LaunchError) as info:
        launch(_rank_one_skips_the_collective, 2, timeout=2)
    assert time.monotonic() - start < 10
    assert list(info.value.failures) == [0]
    assert "a collective timed out" in str(info.value)
    assert _children() == []


def _sum_of_ranks():
    import torch

    from aisys.parallel import comm, context

    t = torch.ones(4) * (context.rank() + 1)
    comm.all_reduce(t)
    return t.sum().item()


def test_four_launches_at_once_do_not_collide():
    """Four 2-rank jobs rendezvous at the same time, each on its own fresh FileStore."""
    from aisys.parallel.launch import spawn_ranks

    jobs = [spawn_ranks(_sum_of_ranks, (), 2, "gloo", "cpu", 20.0) for _ in range(4)]
    try:
        assert [job.results(wall_timeout=30) for job in jobs] == [[12.0, 12.0]] * 4
    finally:
        for job in jobs:
            job.close()
    assert _children() == []


def _grid_sums():
    import torch

    from aisys.parallel import comm, context
    from aisys.parallel.grid import grid_for

    grid = grid_for(context.world_size(), tp=2)
    tp_sum, dp_sum = torch.tensor([float(context.rank())]), torch.tensor([float(context.rank())])
    comm.all_reduce(tp_sum, group=grid.tp_group())
    comm.all_reduce(dp_sum, group=grid.dp_group())
    return grid.coords(), tp_sum.item(), dp_sum.item()


def test_process_grid_groups_are_consecutive_for_tp_and_strided_for_dp():
    from aisys.parallel.grid import ProcessGrid, grid_for

    grid = ProcessGrid(2, 2)
    assert [grid.tp_ranks(r) for r in range(4)] == [[0, 1], [0, 1], [2, 3], [2, 3]]
    assert [grid.dp_ranks(r) for r in range(4)] == [[0, 2], [1, 3], [0, 2], [1, 3]]
    with pytest.raises(ValueError):
        grid_for(4, 3)
    assert launch(_grid_sums, 4, timeout=20) == [((0, 0), 1.0, 2.0), ((0, 1), 1.0, 4.0),
                                                 ((1, 0), 5.0, 2.0), ((1, 1), 5.0, 4.0)]


# ------------------------------------------------------------------ the suite's failure handling

class _RankOneRaises(ExerciseCheck):
    exercise = "raises"

    def cases(self, rng):
        return [Case("raise", {"world": 2})]

    def run(self, case, student):
        from aisys.parallel import context

        import torch

        from aisys.parallel import comm

        if context.rank() == 1:
            raise RuntimeError("student bug on rank 1")
        comm.all_reduce(torch.ones(1))       # waits for rank 1: must fail fast, not at the timeout
        return 0


class _Deadlock(ExerciseCheck):
    exercise = "deadlock"
    case_timeout = 8.0

    def cases(self, rng):
        return [Case(f"deadlock-{i}", {"world": 4 if i == 0 else 2}) for i in range(3)]

    def run(self, case, student):
        import torch

        from aisys.parallel import comm, context

        if context.rank() != context.world_size() - 1:
            comm.all_reduce(torch.ones(1))
        return 0


class _Healthy(ExerciseCheck):
    exercise = "healthy"

    def cases(self, rng):
        return [Case("w2", {"world": 2}), Case("w4", {"world": 4})]

    def run(self, case, student):
        import torch

        from aisys.parallel import comm, context

        t = torch.ones(1)
        comm.all_reduce(t)
        return [context.rank(), context.world_size(), t.item()]


class _TinySuite(DistributedSuite):
    group_timeout = 2.0


def _grade_in_process(suite: DistributedSuite) -> tuple[dict, float]:
    from aisys.catalog import find_lab
    from aisys.workspace import Student

    records = []
    start = time.monotonic()
    suite.run_cases(suite.plan(0), Student(find_lab("data-parallel"), REPO / "solutions"), records.append)
    return {r["case"]: r for r in records}, time.monotonic() - start


def test_suite_reports_failures_by_rank_and_keeps_going():
    by_case, elapsed = _grade_in_process(_TinySuite("data-parallel", [_RankOneRaises(), _Deadlock(), _Healthy()]))
    assert elapsed < 20
    raised = by_case["raises/raise"]
    assert raised["status"] == "error"
    assert raised["message"].startswith("rank 1") and "student bug" in raised["message"]   # the cause first
    assert by_case["deadlock/deadlock-0"]["status"] in ("error", "timeout")
    assert by_case["deadlock/deadlock-1"]["status"] in ("error", "timeout")
    assert "skipped" in by_case["deadlock/deadlock-2"]["message"]       # two hangs: the rest is skipped
    assert by_case["healthy/w2"]["status"] == "ok"
    assert by_case["healthy/w2"]["output"] == [[0, 2, 2.0], [1, 2, 2.0]]
    assert by_case["healthy/w4"]["output"] == [[r, 4, 4.0] for r in range(4)]
    assert _children() == []


class _PatientSuite(DistributedSuite):
    group_timeout = 30.0


def test_a_rank_that_raises_does_not_make_its_peers_wait_for_the_timeout():
    by_case, elapsed = _grade_in_process(_PatientSuite("data-parallel", [_RankOneRaises(), _Healthy()]))
    assert by_case["raises/raise"]["status"] == "error"
    assert by_case["healthy/w4"]["status"] == "ok"
    assert elapsed < 20, f"{elapsed:.1f} s: the peers waited for the group timeout"
