"""Checks of the simulated schedulers on identical workers: FIFO and critical-path list
scheduling.

Ground truth is properties (validity, greedy, FIFO, priority), the bench's bounds (critical
path, Graham), the bench's plain FIFO makespan, and — for the O(n log n) promise — the
bench's own heap-based scheduler timed on the same graph; never a reference timeline.
"""
from __future__ import annotations

import time

from aisys.grading.shapes import NUMBER, dict_of, expect
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail
from aisys.scheduling import builders
from aisys.scheduling.baseline import fifo_makespan
from aisys.scheduling.check_tools import scheduled, slots_shape, timeline_of
from aisys.scheduling.costgraph import bottom_levels, from_spec, graham_bound, node_costs, to_spec
from aisys.scheduling.properties import EPS, fifo_problem, idle_problem, priority_problem, validity_problem

SCALE_NODES = 1000
#: the promise, graded generously: at most this many times the bench's heap scheduler, plus slack
SCALE_FACTOR, SCALE_SLACK = 30.0, 0.3


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
                                                             "m": 2}, weight=2)]

    def run(self, case, student):
        return scheduled("fifo_schedule", student.get("fifo_schedule"), case.inputs, case.inputs["m"])

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
        graph = builders.random_dag(rng, 60)
        costs = {n.name: int(rng.integers(1, 20)) for n in graph}
        cases.append(Case("explicit-costs", {"graph": to_spec(graph), "m": 3, "costs": costs}, weight=2))
        # last: a student's O(n²) run may use up the case's time, and nothing after it is skipped
        cases.append(Case(f"scales-to-{SCALE_NODES}-nodes", {"graph": to_spec(builders.random_dag(rng, SCALE_NODES)),
                                                             "m": 4, "timed": True}, weight=2))
        return cases

    def run(self, case, student):
        args = (case.inputs["m"],) + ((case.inputs["costs"],) if "costs" in case.inputs else ())
        start = time.perf_counter()
        slots = scheduled("list_schedule", student.get("list_schedule"), case.inputs, *args)
        seconds = time.perf_counter() - start
        return {"slots": slots, "seconds": seconds} if case.inputs.get("timed") else slots

    def judge(self, case, output):
        timed = case.inputs.get("timed")
        if timed:
            shape = expect(output, dict_of({"slots": slots_shape(len(case.inputs["graph"])), "seconds": NUMBER}),
                           "list_schedule's result")
            if not shape.passed:
                return shape
        verdict, timeline = fixed_cost_verdict(case, output["slots"] if timed else output)
        if not verdict.passed:
            return verdict
        graph, m = from_spec(case.inputs["graph"]), case.inputs["m"]
        costs = case.inputs.get("costs") or node_costs(graph)
        if timeline.makespan > graham_bound(graph, m, costs) + EPS:
            return fail(f"makespan {timeline.makespan:.6g} exceeds Graham's bound work/m + critical path")
        if timed:
            return _speed_verdict(graph, m, costs, float(output["seconds"]))
        problem = priority_problem(graph, timeline, bottom_levels(graph, costs))
        if problem:
            return fail(problem)
        if case.inputs.get("vs_fifo") and timeline.makespan > fifo_makespan(graph, m, costs) + EPS:
            return fail(f"makespan {timeline.makespan:.6g} is worse than plain FIFO on this graph")
        return PASS


def _speed_verdict(graph, m: int, costs: dict, seconds: float) -> Verdict:
    """The docstring's promise (O(n log n), no scan of every op per step), measured against the
    bench's heap-based FIFO scheduler on the same graph, in this grading run."""
    bench = min(_timed(fifo_makespan, graph, m, costs) for _ in range(3))
    limit = SCALE_FACTOR * bench + SCALE_SLACK
    if seconds > limit:
        return fail(f"list_schedule took {seconds:.2f} s on {len(graph)} nodes, {seconds / bench:.0f}× the bench's "
                    f"heap-based scheduler ({bench * 1000:.0f} ms): scanning every op at every step is O(n²); "
                    "keep the ready ops in a heap")
    return PASS


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start
