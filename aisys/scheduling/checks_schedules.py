"""Checks of the simulated schedulers on identical workers: FIFO and critical-path list
scheduling.

Ground truth is properties (validity, greedy, FIFO, priority), the bench's bounds (critical
path, Graham), the bench's plain FIFO makespan, and — for the O(n log n) promise — the
bench's own heap-based scheduler timed on the same graph; never a reference timeline.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from aisys.grading.shapes import NUMBER, dict_of, expect, require, tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail
from aisys.scheduling import builders
from aisys.scheduling.baseline import fifo_makespan
from aisys.scheduling.check_tools import explicit_costs_case, scheduled, slots_shape, timeline_of, with_costs
from aisys.scheduling.costgraph import bottom_levels, from_spec, graham_bound, node_costs, to_spec
from aisys.scheduling.properties import EPS, fifo_problem, idle_problem, priority_problem, validity_problem
from aisys.scheduling.timeline import Timeline

#: the O(n log n) promise, graded by growth: 4× the nodes may cost at most 4^1.6 ≈ 9× the time
#: (n log n gives ~4.5×, a scan of every op per step ~16×) — unless the larger run is still within
#: 50× the bench's heap-based scheduler on the same graph (+ 50 ms): then it is fast whatever its
#: growth. Both runs happen in the same child, in turns, best of two each.
SCALE_SIZES = (250, 1000)
SCALE_GROWTH, SCALE_FACTOR, SCALE_SLACK = 4 ** 1.6, 50.0, 0.05

_clock = time.perf_counter   # taken at import, before any student code: monkeypatching time can't fool it


def scale_graph(seed: int, n: int):
    return builders.random_dag(np.random.default_rng([seed, n]), n)


def graph_cases(rng, workers=(2, 3, 4)) -> list[Case]:
    """Fixed graphs (every seed) and seeded random ones, each with a worker count."""
    spec = lambda g: to_spec(g)   # noqa: E731
    cases = [Case("f-serial", {"graph": spec(builders.f_graph()), "m": 1}),
             Case("f-2-workers", {"graph": spec(builders.f_graph()), "m": 2}),
             Case("more-workers-than-ops", {"graph": spec(builders.f_graph()), "m": 9}),
             Case("training-3-workers", {"graph": spec(builders.training_graph(3)), "m": 3}),
             Case("transformer-2-workers", {"graph": spec(builders.transformer_block()), "m": 2}),
             Case("zero-cost-ops", {"graph": spec(builders.with_zero_costs(builders.random_dag(rng, 40))), "m": 2}),
             Case("listed-consumers-first", {"graph": spec(builders.listed_backwards(builders.random_dag(rng, 30))),
                                             "m": 3}),
             Case("same-names-twice", {"graph": spec(builders.random_dag(rng, 40)), "m": 2,
                                       "warmup": spec(builders.random_dag(rng, 40))})]
    for i in range(3):
        n = int(rng.integers(30, 150))
        cases.append(Case(f"random-dag-{i}-{n}-nodes", {"graph": spec(builders.random_dag(rng, n)),
                                                     "m": int(rng.choice(workers))}, weight=2))
    return cases


def fixed_cost_verdict(case: Case, output, costs: dict | None = None) -> tuple[Verdict, object]:
    """Shape, validity (durations = costs, edges, one op per worker) and greed: (verdict, timeline)."""
    graph = from_spec(case.inputs["graph"])
    shape = expect(output, slots_shape(len(graph)), "the timeline's slots")
    if not shape.passed:
        return shape, None
    costs = costs or case.inputs.get("costs") or node_costs(graph)
    timeline = timeline_of(output)
    workers = [f"w{i}" for i in range(case.inputs["m"])]
    problem = validity_problem(graph, timeline, workers, lambda op, w: costs[op]) \
        or idle_problem(graph, timeline, case.inputs["m"])
    return (fail(problem) if problem else PASS), timeline


class FifoSchedule(ExerciseCheck):
    exercise = "fifo_schedule"
    hint = ("event loop: start queued ops on idle workers, jump to the next end, finish every op ending then, "
            "push consumers whose input count reaches 0; workers are named w0, w1, ...")

    def cases(self, rng):
        return graph_cases(rng) + [Case("chain-and-crowd", {"graph": to_spec(builders.chain_and_crowd(rng)),
                                                             "m": 2}, weight=2),
                                   explicit_costs_case(rng, m=3)]

    def run(self, case, student):
        fn = student.get("fifo_schedule")
        return scheduled("fifo_schedule", fn, case.inputs, *with_costs(case, case.inputs["m"]))

    def judge(self, case, output):
        verdict, timeline = fixed_cost_verdict(case, output)
        if not verdict.passed:
            return verdict
        problem = fifo_problem(from_spec(case.inputs["graph"]), timeline)
        return fail(problem) if problem else PASS


class ListSchedule(ExerciseCheck):
    exercise = "list_schedule"
    hint = ("priority = bottom level (own cost + longest path to an exit); a heap of ready ops, largest first; "
            "finish every op that ends at one instant before starting new ones")

    def cases(self, rng):
        cases = graph_cases(rng)
        cases.append(Case("simultaneous-finishes", {"graph": to_spec(builders.simultaneous_finish()), "m": 2},
                          weight=2))
        for i in range(2):
            cases.append(Case(f"chain-and-crowd-{i}", {"graph": to_spec(builders.chain_and_crowd(rng)),
                                                        "m": int(rng.integers(2, 4)), "vs_fifo": True}, weight=2))
        cases.append(explicit_costs_case(rng, m=3))
        # last: a student's O(n²) run may use up the case's time, and nothing after it is skipped
        cases.append(Case(f"scales-like-n-log-n-{SCALE_SIZES[0]}-to-{SCALE_SIZES[1]}-nodes",
                          {"scale_seed": int(rng.integers(2**31)), "m": 4}, weight=2))
        return cases

    def run(self, case, student):
        if "scale_seed" in case.inputs:
            return _timed_runs(student.get("list_schedule"), case.inputs["scale_seed"], case.inputs["m"])
        fn = student.get("list_schedule")
        return scheduled("list_schedule", fn, case.inputs, *with_costs(case, case.inputs["m"]))

    def judge(self, case, output):
        timed = "scale_seed" in case.inputs
        if timed:
            shape = expect(output, dict_of({"slots": slots_shape(SCALE_SIZES[1]), "seconds": tuple_of(NUMBER, NUMBER)}),
                           "list_schedule's result")
            if not shape.passed:
                return shape
            graph = scale_graph(case.inputs["scale_seed"], SCALE_SIZES[1])
            case = replace(case, inputs={**case.inputs, "graph": to_spec(graph)})
        verdict, timeline = fixed_cost_verdict(case, output["slots"] if timed else output)
        if not verdict.passed:
            return verdict
        graph, m = from_spec(case.inputs["graph"]), case.inputs["m"]
        costs = case.inputs.get("costs") or node_costs(graph)
        if timeline.makespan > graham_bound(graph, m, costs) + EPS:
            return fail(f"makespan {timeline.makespan:.6g} exceeds Graham's bound work/m + critical path")
        if timed:
            return _speed_verdict(graph, m, costs, *map(float, output["seconds"]))
        problem = priority_problem(graph, timeline, bottom_levels(graph, costs))
        if problem:
            return fail(problem)
        if case.inputs.get("vs_fifo") and timeline.makespan > fifo_makespan(graph, m, costs) + EPS:
            return fail(f"makespan {timeline.makespan:.6g} is worse than plain FIFO on this graph")
        return PASS


def _timed_runs(fn, seed: int, m: int) -> dict:
    """The student's scheduler on SCALE_SIZES nodes, in turns, best of two each (in the child)."""
    graphs = [scale_graph(seed, n) for n in SCALE_SIZES]
    best, slots = [float("inf")] * len(graphs), None
    for _ in range(2):
        for k, graph in enumerate(graphs):
            start = _clock()
            timeline = fn(graph, m)
            best[k] = min(best[k], _clock() - start)
            require(timeline, Timeline, "list_schedule", "a Timeline")
            slots = [[s.op, s.worker, s.start, s.end] for s in timeline.slots] if k == len(graphs) - 1 else slots
    return {"slots": slots, "seconds": best}


def _speed_verdict(graph, m: int, costs: dict, small: float, large: float) -> Verdict:
    """The docstring's promise (O(n log n), no scan of every op per step): how the time grows
    from SCALE_SIZES[0] to SCALE_SIZES[1] nodes, unless it is fast next to the bench's
    heap-based scheduler timed here on the same graph."""
    bench = min(_timed(fifo_makespan, graph, m, costs) for _ in range(3))
    growth = large / max(small, 1e-6)
    if growth > SCALE_GROWTH and large > SCALE_FACTOR * bench + SCALE_SLACK:
        return fail(f"list_schedule took {small:.3f} s on {SCALE_SIZES[0]} nodes and {large:.3f} s on "
                    f"{SCALE_SIZES[1]}: 4× the nodes cost {growth:.0f}× the time, which grows like n², not "
                    "n log n (a scan of every op at every step?): keep the ready ops in a heap")
    return PASS


def _timed(fn, *args) -> float:
    start = _clock()
    fn(*args)
    return _clock() - start
