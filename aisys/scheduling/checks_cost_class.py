"""Check of `cost_class_schedule` (cheap ops inline, expensive ops to the pool).

No reference timeline: the rules of the executor are properties of the result.
- every op runs once, for its cost (the `costs` passed, when a case passes some), after its
  inputs, one op per thread at a time;
- a *queued* op (a source, or cost > threshold) starts no earlier than `dispatch` after it
  became ready; the queue is FIFO by that time and greedy: no thread idles while a queued
  op is available;
- a *cheap* op (cost <= threshold, not a source) runs on a thread that finished one of its
  last inputs, and that thread works without a gap until it starts it, running only cheap
  ops that became ready no later (inline, first-in first-out, nothing from the queue).
"""
from __future__ import annotations

from aisys.grading.spec import PASS, Case, ExerciseCheck, fail
from aisys.grading.shapes import expect
from aisys.scheduling import builders
from aisys.scheduling.check_tools import explicit_costs_case, scheduled, slots_shape, timeline_of, with_costs
from aisys.scheduling.costgraph import from_spec, node_costs, to_spec
from aisys.scheduling.properties import EPS, fifo_problem, idle_problem, ready_times, validity_problem


class CostClassSchedule(ExerciseCheck):
    exercise = "cost_class_schedule"
    hint = ("sources and expensive ops: a FIFO queue of (available time, seq, op); cheap ops readied by a "
            "finishing op: a deque on that op's thread, run before the thread looks at the queue")

    def cases(self, rng):
        def case(name, graph, threads, threshold, dispatch, weight=1.0, **extra):
            return Case(name, {"graph": to_spec(graph), "n": threads, "threshold": threshold,
                               "dispatch": dispatch, **extra}, weight=weight)
        wide = builders.random_dag(rng, 50)
        equal = builders.random_dag(rng, 40)
        for node in list(equal)[::2]:
            node.attrs["cost"] = 2                      # exactly the threshold: cheap
        return [
            case("f-one-thread", builders.f_graph(), 1, 2, 1.0),
            case("inline-first-in-first-out", builders.inline_order(), 2, 2, 1.0),
            case("training-3-threads", builders.training_graph(3), 3, 2, 1.0, weight=2),
            case("transformer-2-threads", builders.transformer_block(), 2, 3, 0.5),
            case("costs-equal-the-threshold", equal, 2, 2, 1.0, weight=2),
            case("free-hand-off", builders.random_dag(rng, 40), 3, 2, 0.0),
            case("everything-queued", builders.random_dag(rng, 30), 2, -1, 1.5),
            case("everything-cheap", builders.random_dag(rng, 30), 3, 10**6, 1.0),
            case("zero-cost-ops", builders.with_zero_costs(builders.random_dag(rng, 40)), 2, 2, 1.0),
            case("listed-consumers-first", builders.listed_backwards(builders.training_graph(2)), 2, 2, 1.0),
            case("same-names-twice", wide, 3, 3, 1.0, warmup=to_spec(builders.random_dag(rng, 50))),
            case(f"random-dag-{len(wide)}-nodes", builders.random_dag(rng, int(rng.integers(40, 120))),
                 int(rng.integers(2, 5)), int(rng.integers(1, 4)), float(rng.choice([0.5, 1.0, 2.0])), weight=2),
            explicit_costs_case(rng, n=3, threshold=8, dispatch=1.0),
        ]

    def run(self, case, student):
        i = case.inputs
        return scheduled("cost_class_schedule", student.get("cost_class_schedule"), i,
                         *with_costs(case, i["n"], i["threshold"], i["dispatch"]))

    def judge(self, case, output):
        graph = from_spec(case.inputs["graph"])
        shape = expect(output, slots_shape(len(graph)), "the timeline's slots")
        if not shape.passed:
            return shape
        costs, timeline = case.inputs.get("costs") or node_costs(graph), timeline_of(output)
        threads = [f"t{k}" for k in range(case.inputs["n"])]
        problem = validity_problem(graph, timeline, threads, lambda op, t: costs[op]) \
            or cost_class_problem(graph, timeline, costs, case.inputs["threshold"], case.inputs["dispatch"],
                                  len(threads))
        return fail(problem) if problem else PASS


def cost_class_problem(graph, timeline, costs, threshold: float, dispatch: float, n_threads: int) -> str | None:
    ready, slot = ready_times(graph, timeline), {s.op: s for s in timeline.slots}
    queued = {n.name for n in graph if not n.inputs or costs[n.name] > threshold}
    for name in queued:
        if slot[name].start < ready[name] + dispatch - EPS:
            what = "a source" if not graph[name].inputs else f"expensive (cost {costs[name]:g} > {threshold:g})"
            return (f"{name!r} is {what}, so it goes through the queue, but it started at t={slot[name].start:.6g}, "
                    f"before the hand-off ({dispatch:g}) after it became ready at t={ready[name]:.6g}")
    for node in graph:
        if node.name not in queued:
            problem = _inline_problem(node, slot, ready, queued, timeline)
            if problem:
                return problem
    available = {name: ready[name] + dispatch for name in queued}
    return idle_problem(graph, timeline, n_threads, available, queued) or fifo_problem(graph, timeline, available,
                                                                                       queued)


def _inline_problem(node, slot, ready, queued, timeline) -> str | None:
    name, mine = node.name, slot[node.name]
    producers = {u for u in node.inputs if abs(slot[u].end - ready[name]) <= EPS}
    if mine.worker not in {slot[u].worker for u in producers}:
        return (f"{name!r} is cheap, so it runs inline on the thread that finished its last input "
                f"({', '.join(sorted({slot[u].worker for u in producers}))}), but it ran on {mine.worker!r}")
    # what the thread ran from the moment `name` became ready until it started (a zero-cost op
    # at the very start instant may as well have run right after it: left out)
    between = [s for s in timeline.slots if s.worker == mine.worker and s.op != name and s.op not in producers
               and s.start >= ready[name] - EPS and s.end <= mine.start + EPS and s.start < mine.start - EPS]
    for s in between:
        if s.op in queued:
            return (f"{mine.worker!r} took {s.op!r} from the queue while cheap {name!r} waited inline on it: "
                    "a thread runs its inline ops first")
        if ready[s.op] > ready[name] + EPS:
            return (f"{s.op!r} became ready after {name!r} but ran before it on {mine.worker!r}: inline ops run "
                    "first-in first-out")
    gap = mine.start - ready[name] - sum(s.duration for s in between)
    if gap > EPS * max(1.0, mine.start):
        return (f"cheap {name!r} waited on {mine.worker!r} from t={ready[name]:.6g} to t={mine.start:.6g} with the "
                "thread free part of that time: an inline op starts the moment its thread is free (no hand-off)")
    return None
