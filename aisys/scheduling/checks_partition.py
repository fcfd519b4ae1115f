"""Check of `partition`: structure (send/recv on exactly the cut edges, each value moved
once per device, balanced work) and values (the partitioned graph executes to the same
numbers as the original, send/recv being copies)."""
from __future__ import annotations

from aisys.grading.shapes import ANY, STR, expect, list_of, mapping, require, tuple_of
from aisys.grading.spec import Case, ExerciseCheck, fail
from aisys.graph.ir import Graph
from aisys.scheduling import builders, kernels
from aisys.scheduling.check_tools import call
from aisys.scheduling.checks_runtime import value_verdict
from aisys.scheduling.costgraph import from_spec, node_costs, to_spec

COMM = ("send", "recv")


#: per node: name, op, inputs, its `device` attr, and its other attrs (an original node's must be
#: the original's; a send/recv's are not graded, so they do not travel)
SPEC = list_of(tuple_of(STR, STR, list_of(STR), ANY, mapping(ANY)))


class Partition(ExerciseCheck):
    exercise = "partition"
    hint = ("place contiguous slices of a topological order; for each (producer, other device) add one send "
            "(producer's device) and one recv (reader's device); readers there take the recv")

    def cases(self, rng):
        cases = [Case("f-2-devices", {"graph": to_spec(builders.f_graph()), "n": 2}),
                 Case("value-read-twice", {"graph": to_spec(builders.square_reads()), "n": 2}),
                 Case("one-device", {"graph": to_spec(builders.executable_dag(rng, 20)), "n": 1}),
                 Case("more-devices-than-ops", {"graph": to_spec(builders.f_graph()), "n": 9}),
                 Case("listed-consumers-first", {"graph": to_spec(builders.listed_backwards(
                     builders.executable_dag(rng, 25))), "n": 3}),
                 Case("same-names-twice", {"graph": to_spec(builders.executable_dag(rng, 25)), "n": 2,
                                           "warmup": to_spec(builders.executable_dag(rng, 25))})]
        for i in range(4):
            n = int(rng.integers(15, 50))
            cases.append(Case(f"random-dag-{i}-{n}-nodes-{2 + i % 3}-devices",
                              {"graph": to_spec(builders.executable_dag(rng, n)), "n": 2 + i % 3}, weight=2))
        n = int(rng.integers(20, 40))
        cases.append(Case(f"skewed-costs-{n}-nodes", {"graph": to_spec(builders.skewed_costs(
            builders.executable_dag(rng, n))), "n": 2}, weight=2))
        return cases

    def run(self, case, student):
        fn = student.get("partition")
        if "warmup" in case.inputs:   # same node names, another graph: nothing may carry over
            require(call("partition", fn, from_spec(case.inputs["warmup"]), case.inputs["n"]), Graph, "partition",
                    "an aisys Graph")
        graph = from_spec(case.inputs["graph"])
        result = require(call("partition", fn, graph, case.inputs["n"]), Graph, "partition", "an aisys Graph")
        return [[node.name, node.op, list(node.inputs), node.attrs.get("device"),
                 {k: v for k, v in node.attrs.items() if k != "device"} if node.name in graph else {}]
                for node in result]

    def judge(self, case, output):
        shape = expect(output, SPEC, "the partitioned graph")
        if not shape.passed:
            return shape
        original = from_spec(case.inputs["graph"])
        mine = from_spec([[name, op, inputs, {**attrs, "device": device}] for name, op, inputs, device, attrs in output])
        if len(mine) != len(output):
            return fail("two nodes of the partitioned graph share a name")
        changed = [n.name for n in original if n.name in mine and
                   {k: v for k, v in mine[n.name].attrs.items() if k != "device"} != n.attrs]
        if changed:
            return fail(f"node {changed[0]!r} lost or changed its attrs (cost, bytes, shape, seed...): keep them and "
                        "add `device`")
        return self._structure(original, mine, case.inputs["n"]) or self._values(original, mine)

    @staticmethod
    def _structure(original: Graph, mine: Graph, n: int):
        device = {}
        for node in mine:
            d = node.attrs.get("device")
            if type(d) is not int or not 0 <= d < n:
                return fail(f"node {node.name!r} needs a `device` attr in 0..{n - 1}")
            device[node.name] = d
        for node in original:
            if node.name not in mine or mine[node.name].op != node.op:
                return fail(f"node {node.name!r} ({node.op}) is missing or changed its op")
        extra = [node.name for node in mine if node.name not in original and node.op not in COMM]
        if extra:
            return fail(f"node {extra[0]!r} is neither an original node nor a send/recv")
        for node in mine:
            for src in node.inputs:
                if src not in mine:
                    return fail(f"{node.name!r} reads {src!r}, which is not in the graph")
            if node.op in COMM and len(node.inputs) != 1:
                return fail(f"{node.op} node {node.name!r} must have exactly one input")
            for src in node.inputs:
                pair = (mine[src].op, node.op) == ("send", "recv")
                if node.op == "recv" and not pair:
                    return fail(f"recv {node.name!r} must read a send node")
                if pair and device[src] == device[node.name]:
                    return fail(f"send/recv pair {src!r} -> {node.name!r} stays on one device")
                if not pair and device[src] != device[node.name]:
                    return fail(f"{node.name!r} on device {device[node.name]} reads {src!r} from device "
                                f"{device[src]} directly; a value that crosses devices needs a send/recv pair")

        def origin(name: str) -> str:
            for _ in range(len(mine)):   # bounded: a ring of comm nodes must not hang the grader
                if name not in mine or mine[name].op not in COMM or name in original:
                    return name
                name = mine[name].inputs[0]
            return "<a cycle of send/recv nodes>"

        for node in original:
            if [origin(i) for i in mine[node.name].inputs] != node.inputs:
                return fail(f"{node.name!r} does not read the same values (in order) as in the original graph")
        deliveries = [(origin(r.name), device[r.name]) for r in mine if r.op == "recv"]
        if len(deliveries) != len(set(deliveries)):
            return fail("a value is sent to the same device more than once")
        if sum(1 for node in mine if node.op == "send") != len(deliveries):
            return fail("every send needs exactly one recv (and the other way round)")
        costs = node_costs(original)
        load = [0.0] * n
        for name, c in costs.items():
            load[device[name]] += c
        limit = sum(costs.values()) / n + max(costs.values(), default=0.0)
        if max(load) > limit + 1e-9:
            return fail(f"device {load.index(max(load))} holds {max(load):.6g} of {sum(costs.values()):.6g} "
                        f"cost units: more than total/n + the largest op")
        return None

    @staticmethod
    def _values(original: Graph, mine: Graph):
        try:
            values = kernels.evaluate(mine)
        except Exception as err:  # e.g. an unknown op or a missing attr on a copied input
            return fail(f"the partitioned graph does not execute: {type(err).__name__}: {err}")
        return value_verdict(original, values)
