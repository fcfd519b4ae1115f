"""Checks of HEFT on heterogeneous devices and of the backward order.

Ground truth: validity with transfer times, HEFT's own placement rule (no op could have
finished earlier on another device, given this timeline), where the work lands on a
transfer-dominated and on a compute-dominated graph; for backward, the set of nodes that
need a gradient and the reversed edges among them, for the loss the case names (the only
sink, an earlier-listed sink, or an interior node).
"""
from __future__ import annotations

from aisys.grading.shapes import STR, expect, list_of, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail
from aisys.graph.walk import topological_order
from aisys.scheduling import builders, devices as dev
from aisys.scheduling.check_tools import call, scheduled, slots_shape, timeline_of
from aisys.scheduling.costgraph import from_spec, node_costs, to_spec, total_work
from aisys.scheduling.properties import heft_problem, validity_problem


class HeteroSchedule(ExerciseCheck):
    exercise = "hetero_schedule"
    hint = ("HEFT: rank by mean compute + mean transfer + max rank of consumers; place each op on the device "
            "where it would finish first, counting transfers from inputs on other devices")

    def cases(self, rng):
        pair = dev.to_plain([dev.CPU, dev.GPU], dev.PCIE)
        trio = dev.to_plain([dev.CPU, dev.GPU, dev.NPU], dev.PCIE)
        cases = [Case("f-cpu-gpu", {"graph": to_spec(builders.f_graph()), "hw": pair}),
                 Case("training-cpu-gpu", {"graph": to_spec(builders.training_graph(3)), "hw": pair}),
                 Case("transformer-cpu-gpu-npu", {"graph": to_spec(builders.transformer_block()), "hw": trio}),
                 Case("one-device", {"graph": to_spec(builders.random_dag(rng, 25)),
                                     "hw": dev.to_plain([dev.NPU], dev.PCIE)}),
                 Case("slow-device-listed-last", {"graph": to_spec(builders.random_dag(rng, 30)),
                                                  "hw": dev.to_plain([dev.GPU, dev.NPU, dev.CPU], dev.PCIE)}),
                 Case("same-names-twice", {"graph": to_spec(builders.random_dag(rng, 30)), "hw": trio,
                                           "warmup": to_spec(builders.random_dag(rng, 30))})]
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
        return scheduled("hetero_schedule", student.get("hetero_schedule"), case.inputs, devices, link)

    def judge(self, case, output):
        graph = from_spec(case.inputs["graph"])
        shape = expect(output, slots_shape(len(graph)), "the timeline's slots")
        if not shape.passed:
            return shape
        devices, link = dev.from_plain(case.inputs["hw"])
        by_name = {d.name: d for d in devices}
        costs = node_costs(graph)
        size = {n.name: float(n.attrs.get("bytes", 0)) for n in graph}
        timeline = timeline_of(output)
        problem = validity_problem(graph, timeline, list(by_name), lambda op, d: by_name[d].time(costs[op]),
                                   lambda src, a, b: dev.transfer(link, size[src], a, b)) \
            or heft_problem(graph, timeline, devices, link)
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
        no_param = [["x", "input", [], {}], ["h", "tanh", ["x"], {}], ["loss", "add", ["h", "x"], {}]]
        # p read twice by each of two consumers, one near the loss and one three ops deeper: counting
        # distinct consumers, p's count reaches zero at the first of them, before the deep one is done
        twice_twice = [["p", "param", [], {}], ["x", "input", [], {}], ["a", "mul", ["p", "p"], {}],
                       ["h1", "tanh", ["a"], {}], ["h2", "tanh", ["h1"], {}], ["h3", "mul", ["h2", "x"], {}],
                       ["b", "add", ["p", "p"], {}], ["loss", "add", ["h3", "b"], {}]]
        cases = [Case("training-forward", {"graph": to_spec(builders.training_graph(3, forward_only=True))}),
                 Case("used-twice", {"graph": square}),
                 Case("two-consumers-each-read-twice", {"graph": twice_twice}),
                 Case("param-feeds-a-dead-branch", {"graph": to_spec(builders.dead_branch_training()), "loss": "loss"}),
                 Case("nothing-trainable", {"graph": no_param}),
                 Case("listed-loss-first", {"graph": to_spec(builders.listed_backwards(
                     builders.training_graph(2, forward_only=True)))})]
        # the loss named is not the last-listed sink: a metric sink listed after it, then an interior node
        metric = builders.training_graph(2, forward_only=True)
        metric.add("w_norm", "mul", ["w1", "w1"], cost=1, bytes=4)
        cases.append(Case("loss-listed-before-a-metric", {"graph": to_spec(metric), "loss": "loss"}))
        inner = None
        while inner is None:   # a graph where some interior node has a parameter upstream
            graph = builders.random_dag(rng, int(rng.integers(20, 50)), sources=int(rng.integers(2, 5)))
            for j, node in enumerate(n for n in graph if n.op == "input"):
                node.op = "param" if j % 2 == 0 else "input"
            sinks = set(graph.sinks())
            inner = max((n.name for n in graph if n.inputs and n.name not in sinks),
                        key=lambda name: len(needs_grad(graph, name)), default=None)
            inner = inner if inner and len(needs_grad(graph, inner)) > 1 else None
        cases.append(Case("interior-loss", {"graph": to_spec(graph), "loss": inner}, weight=2))
        for i in range(4):
            graph = builders.random_dag(rng, int(rng.integers(15, 60)), sources=int(rng.integers(2, 6)))
            for j, node in enumerate(n for n in graph if n.op == "input"):
                node.op = "param" if j % 2 == 0 else "input"
            loss = list(graph.nodes)[-1]
            cases.append(Case(f"random-{i}-with-dead-branches", {"graph": to_spec(graph), "loss": loss}, weight=2))
        return cases

    def run(self, case, student):
        graph, fn = from_spec(case.inputs["graph"]), student.get("backward_order")
        order = call("backward_order", fn, graph, *([case.inputs["loss"]] if "loss" in case.inputs else []))
        return list(require(order, list_of(STR), "backward_order", "a list of node names"))

    def judge(self, case, output):
        graph = from_spec(case.inputs["graph"])
        loss = case.inputs.get("loss") or graph.sinks()[0]
        need = needs_grad(graph, loss)
        shape = expect(output, list_of(STR), "backward_order's result")
        if not shape.passed:
            return shape
        if len(set(output)) != len(output):
            return fail("a node appears twice: each gradient is computed once")
        extra = [n for n in output if n not in need]
        if extra:
            why = "is not in the graph" if extra[0] not in graph else \
                "is listed, but it gets no gradient (no trainable parameter feeds it, or it does not reach the loss)"
            return fail(f"{extra[0]!r} {why}")
        missing = [n for n in sorted(need) if n not in output]
        if missing:
            return fail(f"{len(missing)} node(s) that need a gradient are missing, e.g. {missing[0]!r}")
        position = {n: i for i, n in enumerate(output)}
        for name in output:
            for src in graph[name].inputs:
                if src in position and position[src] < position[name]:
                    return fail(f"{src!r} comes before its consumer {name!r}: its gradient is not complete yet")
        return PASS


def needs_grad(graph, loss: str) -> set[str]:
    """Nodes on a path from a `param` to the loss."""
    order = topological_order(graph)
    requires: dict[str, bool] = {}
    for name in order:
        requires[name] = graph[name].op == "param" or any(requires[i] for i in graph[name].inputs)
    reaches = {loss}
    for name in reversed(order):
        if name in reaches:
            reaches.update(graph[name].inputs)
    return {n for n in reaches if requires[n]}
