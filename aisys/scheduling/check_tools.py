"""What lab 06's checks share: calling student code on a graph without letting it change the
graph (or the costs) behind our back, a first call on another graph with the same node names
(state kept between calls shows up), a deadline for executors that may deadlock, and the
shape of a timeline as it comes back, and a case that passes costs unlike the node attrs."""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable

from aisys.errors import StudentCodeError
from aisys.grading.shapes import NUMBER, STR, Shape, list_of, require, tuple_of
from aisys.grading.spec import Case
from aisys.graph.ir import Graph
from aisys.scheduling import builders
from aisys.scheduling.costgraph import from_spec, to_spec
from aisys.scheduling.timeline import Timeline


def slots_shape(n: int) -> Shape:
    """A timeline as plain data: one [op, worker, start, end] per op of the graph."""
    return list_of(tuple_of(STR, STR, NUMBER, NUMBER), n)


def timeline_of(slots: list) -> Timeline:
    return Timeline.from_plain({"slots": slots})


def call(name: str, fn: Callable, graph: Graph, *args: Any) -> Any:
    """`fn(graph, *args)`, then a clear error if it changed the graph or a dict argument."""
    before = (to_spec(graph), copy.deepcopy([a for a in args if isinstance(a, dict)]))
    result = fn(graph, *args)
    if to_spec(graph) != before[0]:
        changed = next((a[0] for a, b in zip(to_spec(graph), before[0]) if a != b), "a node")
        raise StudentCodeError(f"{name} changed the graph it was given (node {changed!r}, or the node list): "
                               "work on your own copies of counts and lists")
    if [a for a in args if isinstance(a, dict)] != before[1]:
        raise StudentCodeError(f"{name} changed the costs dict it was given")
    return result


def scheduled(name: str, fn: Callable, case_inputs: dict, *args: Any) -> list:
    """Run a scheduler on the case's graph (after a warm-up call on another graph when the
    case asks for one) and return its timeline's slots as plain data."""
    if "warmup" in case_inputs:   # same node names, other edges and costs: no state may carry over
        require(call(name, fn, from_spec(case_inputs["warmup"]), *args), Timeline, name, "a Timeline")
    timeline = require(call(name, fn, from_spec(case_inputs["graph"]), *args), Timeline, name, "a Timeline")
    return [[s.op, s.worker, s.start, s.end] for s in timeline.slots]


def with_deadline(seconds: float, fn: Callable, *args: Any, what: str) -> Any:
    """`fn(*args)` in a helper thread; a clear error instead of a hang when it never returns
    (a pool whose threads all wait for nodes that can never start)."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = fn(*args)
        except BaseException as err:  # re-raised below, in the grading thread
            result["error"] = err
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise StudentCodeError(f"{what} did not return within {seconds:g} s: a deadlock? (pool threads all "
                               "waiting for nodes that can never get a thread)")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def explicit_costs_case(rng, **inputs) -> Case:
    """A random graph with a `costs` mapping passed to the scheduler, unlike its node attrs:
    a scheduler that reads the attrs anyway runs every op for the wrong time."""
    graph = builders.random_dag(rng, 60)
    costs = {n.name: int(rng.integers(1, 20)) for n in graph}
    return Case("explicit-costs", {"graph": to_spec(graph), "costs": costs, **inputs}, weight=2)


def with_costs(case: Case, *args) -> tuple:
    """The scheduler's positional arguments: `args`, then the case's costs when it has some."""
    return args + ((case.inputs["costs"],) if "costs" in case.inputs else ())
