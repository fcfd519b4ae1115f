"""Lab 06 end to end (solutions 100, stubs 0, the demo and its Chrome trace) and the bench
(graphs, bounds, properties, transfers, the Gantt, the HEFT rule). The contract of each check —
correct rewrites keep full marks, student bugs lose their own case on every seed — is in
test_lab06_variants.py."""
from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from aisys.catalog import find_lab
from aisys.scheduling import builders, kernels
from aisys.scheduling import devices as dev
from aisys.scheduling.baseline import fifo_makespan
from aisys.scheduling.chrome_trace import chrome_trace
from aisys.scheduling.costgraph import (critical_path, from_spec, graham_bound, lower_bound, node_costs, to_spec,
                                        topological_order, total_work)
from aisys.scheduling.modes import interaction_counts
from aisys.scheduling.properties import fifo_problem, heft_problem, idle_problem, priority_problem, validity_problem
from aisys.scheduling.timeline import Timeline
from aisys.scheduling.transfers import with_transfers
from aisys.ui.gantt import gantt
from aisys.workspace import Student
from conftest import REPO, STUBS, check_json
from inprocess import demo_text

EXERCISES = {"fifo_schedule", "list_schedule", "hetero_schedule", "backward_order", "cost_class_schedule",
             "run_graph", "Dispatcher", "partition"}


# ---------------------------------------------------------------- the CLI, end to end


def test_solutions_score_full_marks():
    report, proc = check_json("scheduling", "--solutions")
    assert proc.returncode == 0, proc.stdout
    assert report["score"] == report["max_score"] == 100.0
    assert {ex["name"] for ex in report["labs"][0]["exercises"]} == EXERCISES
    assert all(ex["status"] == "passed" for ex in report["labs"][0]["exercises"])


def test_stubs_score_zero_not_started():
    report, proc = check_json("scheduling", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


def test_demo_on_the_solutions_draws_links_cost_classes_and_a_partition(tmp_path):
    text = " ".join(demo_text("scheduling", REPO / "solutions", tmp_path / "t.json").split())
    for words in ("serial, FIFO", "critical path first", "CPU + GPU (HEFT)", "link cpu→gpu", "unlabelled (too short)",
                  "cost classes (cost <= 2 inline)", "hand-offs", "same values as serial execution: yes",
                  "torch.library", "⇐ up from d0", "partitioned (2 devices)", "same values as the original: yes"):
        assert words in text, words
    events = json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) > 50 and {e["cat"] for e in complete} == {"op", "transfer"}
    for event in complete:
        assert {"ph", "ts", "dur", "pid", "tid", "name"} <= set(event) and event["dur"] >= 0
    threads = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {"cpu", "gpu", "link cpu→gpu"} <= threads


def test_demo_on_the_stubs_says_where_to_edit():
    text = demo_text("scheduling", STUBS)
    assert "not implemented yet" in text and "Traceback" not in text


# ---------------------------------------------------------------- the bench


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


def test_transfers_become_link_rows_and_trace_tracks():
    graph = builders.f_graph()
    timeline = Timeline()
    for op, worker, start, end in (("x1", "gpu", 0, 1), ("x2", "cpu", 0, 1), ("v1", "gpu", 1, 2), ("v2", "gpu", 1.6, 2),
                                   ("v3", "cpu", 1, 2), ("v4", "gpu", 2, 3), ("v5", "cpu", 3.6, 4)):
        timeline.add(op, worker, start, end)
    link = dev.Link(latency=0.5, bandwidth=64.0)
    merged = with_transfers(graph, timeline, link)
    moves = sorted((s.op, s.worker, s.start, s.end) for s in merged.slots if s.worker.startswith("link"))
    assert moves == [("v4", "link gpu→cpu", 3.0, 3.5625), ("x2", "link cpu→gpu", 1.0, 1.5625)]
    events = chrome_trace({"heft": merged})["traceEvents"]
    assert {e["cat"] for e in events if e["ph"] == "X" and e["name"] == "v4"} == {"op", "transfer"}


def test_gantt_names_short_ops_and_keeps_neighbours_apart_without_colour():
    timeline = Timeline()
    for k in range(6):
        timeline.add(f"op{k}", "w0", k * 0.1, (k + 1) * 0.1)
    timeline.add("long_one", "w0", 0.6, 10.0)
    console = Console(record=True, width=100, color_system=None)
    console.print(gantt(timeline, title="t"))
    text = console.export_text()
    assert "█▓█▓" in text and "unlabelled (too short), in order — w0: op0, op1" in text


def test_partition_table_draws_devices_and_moves():
    from aisys.ui.scheduling_panels import partition_table

    labs = Student(find_lab("scheduling"), REPO / "solutions")
    part = labs.get("partition")(builders.f_graph(), 2)
    console = Console(record=True, width=100, color_system=None)
    console.print(partition_table(part, "f on 2 devices"))
    text = console.export_text()
    assert "device 0" in text and "device 1" in text and "⇒" in text and "⇐" in text


def test_a_deadlocked_executor_is_named_not_waited_for():
    import threading

    from aisys.errors import StudentCodeError
    from aisys.scheduling.check_tools import with_deadline

    with pytest.raises(StudentCodeError, match="did not return within 0.2 s: a deadlock"):
        with_deadline(0.2, threading.Event().wait, what="run_graph")
