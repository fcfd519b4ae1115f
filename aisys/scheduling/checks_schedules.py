"""Checks of the simulated schedulers: FIFO, critical-path list scheduling, HEFT, backward order.

Ground truth is properties (validity, greedy, FIFO, priority, reverse topological order),
the bench's bounds (critical path, Graham) and the bench's plain FIFO makespan — never a
reference timeline.
"""
from __future__ import annotations

from aisys.grading.spec import PASS, Case, ExerciseCheck, fail
from aisys.scheduling import builders, devices as dev
from aisys.scheduling.baseline import fifo_makespan
from aisys.scheduling.costgraph import bottom_levels, from_spec, graham_bound, node_costs, to_spec, total_work
from aisys.scheduling.properties import (EPS, fifo_problem, heft_problem, idle_problem, priority_problem,
                                         validity_problem)
from aisys.scheduling.timeline import Timeline, as_plain


def _graph_cases(rng, workers=(2, 3, 4)) -> list[Case]:
    cases = [Case("f-serial", {"graph": to_spec(builders.f_graph()), "m": 1}),
             Case("f-2-workers", {"graph": to_spec(builders.f_graph()), "m": 2}),
             Case("training-3-workers", {"graph": to_spec(builders.training_graph(3)), "m": 3}),
             Case("transformer-2-workers", {"graph": to_spec(builders.transformer_block()), "m": 2})]
    for i in range(3):
        n = int(rng.integers(30, 150))
        cases.append(Case(f"random-dag-{i}-{n}-nodes", {"graph": to_spec(builders.random_dag(rng, n)),
                                                     "m": int(rng.choice(workers))}, weight=2))
    return cases


def _timeline(output) -> Timeline | str:
    try:
        return Timeline.from_plain(output)
    except Exception:  # malformed output: say so instead of crashing the grader
        return "the output is not a timeline (workers + slots of [op, worker, start, end])"


def _fixed_cost_judgement(case, output, costs=None):
    graph = from_spec(case.inputs["graph"])
    costs = costs or case.inputs.get("costs") or node_costs(graph)
    timeline = _timeline(output)
    if isinstance(timeline, str):
        return graph, costs, None, fail(timeline)
    workers = [f"w{i}" for i in range(case.inputs["m"])]
    problem = validity_problem(graph, timeline, workers, lambda op, w: costs[op]) \
        or idle_problem(graph, timeline, case.inputs["m"])
    return graph, costs, timeline, fail(problem) if problem else PASS


class FifoSchedule(ExerciseCheck):
    exercise = "fifo_schedule"
    hint = ("event loop: start queued ops on idle workers, jump to the next end, finish every op ending then, "
            "push consumers whose input count reaches 0; workers are named w0, w1, ...")

    def cases(self, rng):
        return _graph_cases(rng) + [Case("chain-and-crowd", {"graph": to_spec(builders.chain_and_crowd(rng)),
                                                              "m": 2}, weight=2)]

    def run(self, case, student):
        return as_plain(student.get("fifo_schedule")(from_spec(case.inputs["graph"]), case.inputs["m"]))

    def judge(self, case, output):
        graph, _, timeline, verdict = _fixed_cost_judgement(case, output)
        if not verdict.passed:
            return verdict
        problem = fifo_problem(graph, timeline)
        return fail(problem) if problem else PASS


class ListSchedule(ExerciseCheck):
    exercise = "list_schedule"
    hint = "priority = bottom level (own cost + longest path to an exit); a heap of ready ops, largest first"

    def cases(self, rng):
        cases = _graph_cases(rng)
        for i in range(3):
            cases.append(Case(f"chain-and-crowd-{i}", {"graph": to_spec(builders.chain_and_crowd(rng)),
                                                        "m": int(rng.integers(2, 4)), "vs_fifo": True}, weight=2))
        graph = builders.random_dag(rng, 60)
        costs = {n.name: int(rng.integers(1, 20)) for n in graph}
        cases.append(Case("explicit-costs", {"graph": to_spec(graph), "m": 3, "costs": costs}, weight=2))
        return cases

    def run(self, case, student):
        graph = from_spec(case.inputs["graph"])
        costs = case.inputs.get("costs")
        timeline = student.get("list_schedule")(graph, case.inputs["m"], *([costs] if costs else []))
        return as_plain(timeline)

    def judge(self, case, output):
        graph, costs, timeline, verdict = _fixed_cost_judgement(case, output)
        if not verdict.passed:
            return verdict
        m = case.inputs["m"]
        if timeline.makespan > graham_bound(graph, m, costs) + EPS:
            return fail(f"makespan {timeline.makespan:.6g} exceeds Graham's bound work/m + critical path")
        problem = priority_problem(graph, timeline, bottom_levels(graph, costs))
        if problem:
            return fail(problem)
        if case.inputs.get("vs_fifo") and timeline.makespan > fifo_makespan(graph, m, costs) + EPS:
            return fail(f"makespan {timeline.makespan:.6g} is worse than plain FIFO on this graph")
        return PASS


class HeteroSchedule(ExerciseCheck):
    exercise = "hetero_schedule"
    hint = ("HEFT: rank by mean compute + mean transfer + max rank of consumers; place each op on the device "
            "where it would finish first, counting transfers from inputs on other devices")

    def cases(self, rng):
        pair = dev.to_plain([dev.CPU, dev.GPU], dev.PCIE)
        trio = dev.to_plain([dev.CPU, dev.GPU, dev.NPU], dev.PCIE)
        cases = [Case("f-cpu-gpu", {"graph": to_spec(builders.f_graph()), "hw": pair}),
                 Case("training-cpu-gpu", {"graph": to_spec(builders.training_graph(3)), "hw": pair}),
                 Case("transformer-cpu-gpu-npu", {"graph": to_spec(builders.transformer_block()), "hw": trio})]
        for i in range(2):
            n = int(rng.integers(30, 120))
            cases.append(Case(f"random-dag-{i}-{n}-nodes", {"graph": to_spec(builders.random_dag(rng, n)),
                                                         "hw": trio if i else pair}, weight=2))
        slow = builders.transfer_bound_graph(rng, int(rng.integers(12, 30)))
        latency = 10 * total_work(slow) / dev.CPU.speed
        hw = dev.to_plain([dev.CPU, dev.GPU, dev.NPU], dev.Link(latency=latency, bandwidth=1e6))
        cases.append(Case("transfer-dominated", {"graph": to_spec(slow), "hw": hw, "one_device": True}, weight=3))
        twins = dev.to_plain([dev.Device("gpu0", "GPU", 4.0, 0.25), dev.Device("gpu1", "GPU", 4.0, 0.25)],
                             dev.Link(latency=0.1, bandwidth=1e3))
        cases.append(Case("compute-dominated", {"graph": to_spec(builders.wide_graph(rng, int(rng.integers(4, 9)))),
                                                "hw": twins, "spread": True}, weight=2))
        return cases

    def run(self, case, student):
        devices, link = dev.from_plain(case.inputs["hw"])
        return as_plain(student.get("hetero_schedule")(from_spec(case.inputs["graph"]), devices, link))

    def judge(self, case, output):
        graph = from_spec(case.inputs["graph"])
        devices, link = dev.from_plain(case.inputs["hw"])
        by_name = {d.name: d for d in devices}
        costs = node_costs(graph)
        size = {n.name: float(n.attrs.get("bytes", 0)) for n in graph}
        timeline = _timeline(output)
        if isinstance(timeline, str):
            return fail(timeline)
        problem = validity_problem(graph, timeline, list(by_name), lambda op, d: by_name[d].time(costs[op]),
                                   lambda src, a, b: dev.transfer(link, size[src], a, b))
        if problem:
            return fail(problem)
        problem = heft_problem(graph, timeline, devices, link)
        if problem:
            return fail(problem)
        used = sorted(set(timeline.placement().values()))
        if case.inputs.get("one_device") and len(used) > 1:
            return fail(f"moving a tensor here costs more than the whole graph, yet ops ran on {len(used)} devices")
        if case.inputs.get("spread") and len(used) < 2:
            return fail("independent expensive ops all ran on one device while an equal device sat idle")
        return PASS


class BackwardOrder(ExerciseCheck):
    exercise = "backward_order"
    hint = "keep nodes that reach the loss and depend on a param; Kahn on reversed edges starting at the loss"

    def cases(self, rng):
        square = [["p", "param", [], {}], ["x", "input", [], {}], ["y", "mul", ["p", "p"], {}],
                  ["z", "add", ["y", "p"], {}], ["u", "mul", ["z", "x"], {}], ["loss", "add", ["u", "y"], {}]]
        cases = [Case("training-forward", {"graph": to_spec(builders.training_graph(3, forward_only=True))}),
                 Case("used-twice", {"graph": square})]
        for i in range(4):
            graph = builders.random_dag(rng, int(rng.integers(15, 60)), sources=int(rng.integers(2, 6)))
            for j, node in enumerate(n for n in graph if n.op == "input"):
                node.op = "param" if j % 2 == 0 else "input"
            loss = list(graph.nodes)[-1]
            cases.append(Case(f"random-{i}-with-dead-branches", {"graph": to_spec(graph), "loss": loss}, weight=2))
        return cases

    def run(self, case, student):
        graph = from_spec(case.inputs["graph"])
        fn = student.get("backward_order")
        return list(fn(graph, case.inputs["loss"]) if "loss" in case.inputs else fn(graph))

    def judge(self, case, output):
        graph = from_spec(case.inputs["graph"])
        loss = case.inputs.get("loss") or graph.sinks()[0]
        if not isinstance(output, list) or not all(isinstance(n, str) for n in output):
            return fail("expected a list of node names")
        need = _needs_grad(graph, loss)
        if len(set(output)) != len(output):
            return fail("a node appears twice: each gradient is computed once")
        extra = [n for n in output if n not in need]
        if extra:
            why = "is not in the graph" if extra[0] not in graph else \
                "is listed, but it gets no gradient (no trainable parameter feeds it, or it does not reach the loss)"
            return fail(f"{extra[0]!r} {why}")
        missing = [n for n in need if n not in output]
        if missing:
            return fail(f"{len(missing)} node(s) that need a gradient are missing, e.g. {missing[0]!r}")
        position = {n: i for i, n in enumerate(output)}
        for name in output:
            for src in graph[name].inputs:
                if src in position and position[src] < position[name]:
                    return fail(f"{src!r} comes before its consumer {name!r}: its gradient is not complete yet")
        return PASS


def _needs_grad(graph, loss: str) -> set[str]:
    from aisys.scheduling.costgraph import topological_order

    order = topological_order(graph)
    requires: dict[str, bool] = {}
    for name in order:
        requires[name] = graph[name].op == "param" or any(requires[i] for i in graph[name].inputs)
    reaches = {loss}
    for name in reversed(order):
        if name in reaches:
            reaches.update(graph[name].inputs)
    return {n for n in reaches if requires[n]}



