"""Lab 06 end to end: solutions earn 100, stubs 0, plausible wrong answers lose points with a
message naming the case; the demo draws and exports a valid Chrome trace; bench unit tests."""
from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from aisys.scheduling import builders, kernels
from aisys.scheduling import devices as dev
from aisys.scheduling.baseline import fifo_makespan
from aisys.scheduling.chrome_trace import chrome_trace
from aisys.scheduling.costgraph import (critical_path, from_spec, graham_bound, lower_bound, node_costs,
                                        to_spec, topological_order, total_work)
from aisys.scheduling.modes import interaction_counts
from aisys.scheduling.properties import fifo_problem, heft_problem, idle_problem, priority_problem, validity_problem
from aisys.scheduling.timeline import Timeline
from aisys.ui.gantt import gantt
from conftest import REPO, STUBS, check_json, exercise, run_cli, workspace

EXERCISES = {"fifo_schedule", "list_schedule", "hetero_schedule", "backward_order", "run_graph", "Dispatcher",
             "partition"}


@pytest.fixture(scope="module")
def solutions_report():
    return check_json("scheduling", "--solutions")


def test_solutions_score_full_marks(solutions_report):
    report, proc = solutions_report
    assert proc.returncode == 0, proc.stdout
    assert report["score"] == report["max_score"] == 100.0
    names = {ex["name"] for ex in report["labs"][0]["exercises"]}
    assert names == EXERCISES
    assert all(ex["status"] == "passed" for ex in report["labs"][0]["exercises"])


def test_stubs_score_zero_not_started():
    report, proc = check_json("scheduling", "--labs-dir", str(STUBS))
    assert proc.returncode == 1
    assert report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


BUGS = {
    # one worker is handed out but never taken off the idle list: double booking
    "schedulers.py": [("op, worker = queue.pop(), heapq.heappop(idle)", "op, worker = queue.pop(), idle[0]"),
                      # HEFT that forgets the transfer edge of a dependency
                      ("finish[u] + transfer(link, size[u], place[u], d.name)", "finish[u]"),
                      # gradients for every ancestor of the loss, trainable or not
                      ("keep = {name for name in reaches if requires[name]}", "keep = set(reaches)")],
    # the dtype-level error forgets to say which dtype is missing
    "dispatch.py": [('raise LookupError(f"{op!r} on {device}/{layout} is not implemented for dtype {dtype} "',
                     'raise LookupError(f"{op!r} on {device}/{layout}: no kernel "')],
    # readers on another device keep reading the producer directly
    "partition.py": [("inputs.append(src if device[src] == here else moved[(src, here)])", "inputs.append(src)")],
    # a pool that forgot its size: correct values, but nothing ever runs in parallel
    "executor.py": [("ThreadPoolExecutor(max_workers=workers)", "ThreadPoolExecutor(max_workers=1)")],
}


@pytest.fixture(scope="module")
def buggy_report(tmp_path_factory):
    labs = workspace(tmp_path_factory.mktemp("bugs"), "06_scheduling", BUGS)
    return check_json("scheduling", "--labs-dir", str(labs))


def _failures(report, name):
    ex = exercise(report, name)
    assert ex["score"] < ex["max_score"], f"{name} kept full marks"
    return {c["id"]: c["message"] for c in ex["cases"] if c["status"] in ("failed", "error")}


def test_double_booking_is_caught(buggy_report):
    report, proc = buggy_report
    assert proc.returncode == 1
    for name in ("fifo_schedule", "list_schedule"):
        failed = _failures(report, name)
        assert any("at once" in m for m in failed.values()), failed


def test_ignoring_transfer_dependencies_is_caught(buggy_report):
    failed = _failures(buggy_report[0], "hetero_schedule")
    assert any("too early" in m and "transfer" in m for m in failed.values()), failed


def test_gradients_for_data_inputs_are_caught(buggy_report):
    failed = _failures(buggy_report[0], "backward_order")
    assert any("gets no gradient" in m for m in failed.values()), failed


def test_error_without_the_missing_key_is_caught(buggy_report):
    failed = _failures(buggy_report[0], "Dispatcher")
    assert any("missing dtype key" in m for m in failed.values()), failed


def test_cut_edges_without_send_recv_are_caught(buggy_report):
    failed = _failures(buggy_report[0], "partition")
    assert any("crosses devices needs a send/recv pair" in m for m in failed.values()), failed


def test_a_pool_without_parallelism_loses_the_overlap_case(buggy_report):
    ex = exercise(buggy_report[0], "run_graph")
    failed = _failures(buggy_report[0], "run_graph")
    assert set(failed) <= {"independent-kernels-overlap", "no-wave-barrier"}, failed
    assert "never ran at the same time" in failed["independent-kernels-overlap"]
    assert ex["score"] > 0


def test_swapped_policies_fail_the_policy_properties(tmp_path):
    """FIFO with a priority queue breaks first-ready-first-started; list scheduling with a FIFO
    queue breaks the critical-path priority (and loses to nothing but itself); HEFT keeping
    the device where an op *starts* first (not finishes) leaves ops on the slow CPU. Also: an
    executor with a wave barrier, a partition balanced by node count, a dispatcher keyed on
    the first argument even when it is a scalar."""
    labs = workspace(tmp_path, "06_scheduling", {"schedulers.py": [
        ("costs, FifoQueue())", "costs, PriorityQueue(bottom_levels(graph, node_costs(graph))))"),
        ("return simulate(graph, n_workers, costs, PriorityQueue(bottom_levels(graph, costs)))",
         "return simulate(graph, n_workers, costs, FifoQueue())"),
        ("if best is None or end < best[2]:", "if best is None or start < best[1]:")],
        # an executor that waits for every running kernel (a wave barrier) before submitting more
        "executor.py": [("wait(running, return_when=FIRST_COMPLETED)", "wait(running)")],
        # a partition balanced by node count, not by cost
        "partition.py": [("    costs = node_costs(graph)\n", "    costs = {name: 1.0 for name in node_costs(graph)}\n")],
        # dispatching on the first argument, tensor or not
        "dispatch.py": [('tensor = next((a for a in args if hasattr(a, "dtype") and hasattr(a, "layout")), None)',
                         "tensor = args[0] if args else None")]})
    report, _ = check_json("scheduling", "--labs-dir", str(labs))
    executor = _failures(report, "run_graph")
    assert list(executor) == ["no-wave-barrier"] and "whole wave" in executor["no-wave-barrier"], executor
    assert list(_failures(report, "Dispatcher")) == ["scalar-before-the-tensor"]
    partition = _failures(report, "partition")
    assert any(k.startswith("skewed-costs") and "cost units" in m for k, m in partition.items()), partition
    fifo = _failures(report, "fifo_schedule")
    assert any("FIFO queue" in m for m in fifo.values()), fifo
    listed = _failures(report, "list_schedule")
    assert any("longer path to the end" in m for m in listed.values()), listed
    hetero = _failures(report, "hetero_schedule")
    assert any("would have finished earlier" in m for m in hetero.values()), hetero
    assert exercise(report, "hetero_schedule")["score"] < 10


def _heft_variant(old: str, new: str):
    hetero = REPO / "solutions" / "06_scheduling" / "schedulers.py"
    source = hetero.read_text()
    assert old in source
    namespace: dict = {}
    exec(compile(source.replace(old, new), str(hetero), "exec"), namespace)
    return namespace["hetero_schedule"]


def test_heft_property_catches_a_rank_without_transfers_but_not_another_tie_order():
    """The judge's HEFT rule alone: ranking by compute only visits ops in another order, and
    some op then finishes later than HEFT's order would have let it; breaking equal ranks
    another way (here: reversed topological position) is still HEFT."""
    no_comm = _heft_variant("comm = link.time(size[n]) * (p - 1) / p", "comm = 0.0")
    other_ties = _heft_variant("key=lambda n: (-rank[n], position[n])", "key=lambda n: (-rank[n], -position[n])")
    devices, link = [dev.CPU, dev.GPU, dev.NPU], dev.PCIE
    problems = []
    for seed in range(4):
        graph = builders.random_dag(np.random.default_rng(seed), 80)
        problems.append(heft_problem(graph, no_comm(graph, devices, link), devices, link))
        assert heft_problem(graph, other_ties(graph, devices, link), devices, link) is None
    twins = [dev.Device("gpu0", "GPU", 4.0, 0.25), dev.Device("gpu1", "GPU", 4.0, 0.25)]
    wide = builders.wide_graph(np.random.default_rng(0), 6)
    assert heft_problem(wide, other_ties(wide, twins, link), twins, link) is None
    assert any(p and "HEFT" in p for p in problems), problems


def test_demo_on_the_solutions_draws_and_writes_a_chrome_trace(tmp_path):
    trace = tmp_path / "t.json"
    proc = run_cli("lab", "run", "scheduling", "--solution", "--trace", str(trace), env={"COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    for text in ("serial, FIFO", "critical path first", "CPU + GPU (HEFT)", "same values as serial execution: yes",
                 "torch.library", "partitioned (2 devices)", "same values as the original: yes"):
        assert text in " ".join(proc.stdout.split()), text
    events = json.loads(trace.read_text())["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) > 50
    for event in complete:
        assert {"ph", "ts", "dur", "pid", "tid", "name"} <= set(event)
        assert event["dur"] >= 0 and isinstance(event["pid"], int) and isinstance(event["tid"], int)
    assert {e["name"] for e in events if e["ph"] == "M"} == {"process_name", "thread_name"}


def test_demo_on_the_stubs_exits_zero():
    proc = run_cli("lab", "run", "scheduling", "--labs-dir", str(STUBS))
    assert proc.returncode == 0, proc.stderr
    assert "not implemented yet" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- bench unit tests


def test_f_graph_bounds_and_value():
    g = builders.f_graph()
    assert critical_path(g) == 7 and total_work(g) == 14
    assert lower_bound(g, 3) == 7 and graham_bound(g, 2) == 14
    assert kernels.evaluate(g)["v5"] == pytest.approx(11.652071455223084)


def test_random_dag_scales_and_round_trips():
    g = builders.random_dag(np.random.default_rng(1), 10_000)
    assert len(g) == 10_000 and len(topological_order(g)) == 10_000
    small = builders.random_dag(np.random.default_rng(2), 10)
    assert to_spec(from_spec(json.loads(json.dumps(to_spec(small))))) == to_spec(small)




def test_properties_reject_broken_timelines():
    g = builders.f_graph()
    costs = node_costs(g)
    good = Timeline(["w0"])
    t = 0.0
    for name in topological_order(g):
        good.add(name, "w0", t, t + costs[name])
        t += costs[name]
    duration = lambda op, w: costs[op]  # noqa: E731
    assert validity_problem(g, good, ["w0"], duration) is None
    assert idle_problem(g, good, 1) is None and fifo_problem(g, good) is None
    overlap = Timeline.from_plain({"workers": ["w0"], "slots": [[s.op, s.worker, s.start, s.end] for s in good.slots]})
    overlap.slots[1] = type(overlap.slots[1])("x2", "w0", 0.5, 1.5)
    assert "at once" in validity_problem(g, overlap, ["w0"], duration)
    early = Timeline(["w0", "w1"])
    for s in good.slots:
        early.add(s.op, "w1" if s.op == "v1" else "w0", 0.0 if s.op == "v1" else s.start,
                  costs[s.op] if s.op == "v1" else s.end)
    assert "'v1' starts too early, at t=0: it reads 'x1'" in validity_problem(g, early, ["w0", "w1"], duration)
    lazy = Timeline(["w0", "w1"])
    for s in good.slots:
        lazy.add(s.op, "w0", s.start, s.end)     # w1 idles while v2, v3 wait
    assert "idle" in idle_problem(g, lazy, 2)
    assert priority_problem(g, good, {n: 0.0 for n in costs}) is None


def test_fifo_baseline_matches_serial_work():
    g = builders.training_graph(2)
    assert fifo_makespan(g, 1, node_costs(g)) == total_work(g)
    assert lower_bound(g, 3) <= fifo_makespan(g, 3, node_costs(g)) <= graham_bound(g, 3)


def test_chrome_trace_and_gantt_render_any_timeline():
    timeline = Timeline()
    timeline.add("a", "cpu", 0, 2)
    timeline.add("b", "gpu", 1, 3)
    trace = chrome_trace({"demo": timeline})
    json.dumps(trace)
    xs = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [(e["name"], e["ts"], e["dur"]) for e in xs] == [("a", 0.0, 2000.0), ("b", 1000.0, 2000.0)]
    assert xs[0]["tid"] != xs[1]["tid"] and xs[0]["pid"] == xs[1]["pid"]
    console = Console(record=True, width=100)
    console.print(gantt(timeline, title="demo"))
    text = console.export_text()
    assert "cpu" in text and "gpu" in text and "time 0 … 3" in text and "% = share" in text


def test_interaction_counts():
    g = builders.f_graph()
    rows = interaction_counts(g)
    assert rows[0]["host_device"] == 10 and rows[1]["host_device"] == 2
