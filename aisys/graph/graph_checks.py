"""Lab 01 checks, graphs: torch's own grad_fn graph (up to renaming) and graph properties."""
from __future__ import annotations

import hashlib
from collections import Counter

from aisys.graph.expressions import F_STEPS, GRAD_NEEDS, graph_of, random_steps, run_torch
from aisys.graph.ir import Graph
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail



def _expression_cases(rng) -> list[Case]:
    cases = [Case("f", {"steps": F_STEPS})]
    cases += [Case(f"random-{i}", {"steps": random_steps(rng, int(rng.integers(4, 12)))}) for i in range(4)]
    cases.append(Case("square", {"steps": [("t0", "mul", ["x1", "x1"]), ("t1", "add", ["t0", "x2"])]}))
    return cases


def canonical(graph: Graph, rounds: int = 8) -> Counter:
    """An isomorphism-invariant summary (Weisfeiler-Lehman refinement): start from each node's
    op, then repeatedly relabel it with the sorted labels of its inputs *and* its consumers.
    Names don't matter, structure does; a dangling input counts as a node of its own."""
    consumers = graph.consumers()
    label = {name: node.op for name, node in graph.nodes.items()}
    for _ in range(rounds):
        label = {name: _digest(label[name], sorted(label.get(i, "?") for i in node.inputs),
                               sorted(label.get(c, "?") for c in consumers.get(name, [])))
                 for name, node in graph.nodes.items()}
    return Counter(label.values())


def _digest(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


class GraphFromTorch(ExerciseCheck):
    exercise = "graph_from_torch"
    hint = "dedupe autograd nodes by identity (id(fn)); skip None in next_functions; op = type(fn).__name__"

    def cases(self, rng):
        return _expression_cases(rng)

    @staticmethod
    def _output(steps):
        import torch

        x = {"x1": torch.tensor(1.5, requires_grad=True), "x2": torch.tensor(0.7, requires_grad=True)}
        return run_torch([tuple(s) for s in steps], x)[steps[-1][0]]

    def run(self, case, student):
        return student.get("graph_from_torch")(self._output(case.inputs["steps"])).to_plain()

    def judge(self, case, output):
        truth = _torch_graph(self._output(case.inputs["steps"]))
        return _compare_structure(Graph.from_plain(output), truth)


def _torch_graph(output) -> Graph:
    graph, names, order, stack = Graph(), {}, [], [output.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in names:
            continue
        names[id(fn)] = f"n{len(names)}"
        order.append(fn)
        stack.extend(n for n, _ in fn.next_functions)
    for fn in order:
        graph.add(names[id(fn)], type(fn).__name__, [names[id(n)] for n, _ in fn.next_functions if n is not None])
    return graph


def _compare_structure(mine: Graph, truth: Graph) -> Verdict:
    ops_mine, ops_truth = Counter(n.op for n in mine), Counter(n.op for n in truth)
    if ops_mine != ops_truth:
        extra, missing = ops_mine - ops_truth, ops_truth - ops_mine
        parts = ([f"extra: {dict(extra)}"] if extra else []) + ([f"missing: {dict(missing)}"] if missing else [])
        return fail(f"node ops differ ({'; '.join(parts)})")
    dangling = sorted({i for n in mine for i in n.inputs if i not in mine.nodes})
    if dangling:
        return fail(f"inputs name nodes that are not in the graph: {dangling[:3]}")
    if canonical(mine) != canonical(truth):
        return fail("same ops, but the edges differ from torch's graph (check which node feeds which)")
    return PASS


class TopoSort(ExerciseCheck):
    exercise = "topo_sort"
    hint = "Kahn: in-degree = number of input edges; emit zero in-degree nodes; leftovers mean a cycle (ValueError)"

    def cases(self, rng):
        cases = [Case("diamond", {"nodes": [["a", []], ["b", ["a"]], ["c", ["a"]], ["d", ["b", "c"]]]}),
                 Case("f", {"nodes": [[n, []] for n in ("x1", "x2")] + [[n, list(a)] for n, _, a in F_STEPS]}),
                 Case("square", {"nodes": [["x", []], ["y", ["x", "x"]], ["z", ["y", "x"]]]}),
                 # m uses a twice and c once: counting distinct inputs would release m before c
                 Case("repeated-input", {"nodes": [["a", []], ["b", ["a"]], ["m", ["a", "a", "c"]], ["c", ["b"]]]})]
        for i in range(3):
            cases.append(Case(f"random-dag-{i}", {"nodes": _random_dag(rng, int(rng.integers(15, 40)))}, weight=2))
        cases.append(Case("shuffled-listing", {"nodes": _random_dag(rng, 25)[::-1]}, weight=2))
        cycle = _random_dag(rng, 12)
        cycle[3][1].append(cycle[9][0])   # a back edge: node 3 now needs node 9, which needs ... 3
        cycle[9][1].append(cycle[3][0])
        cases.append(Case("cycle", {"nodes": cycle, "cyclic": True}, weight=2))
        cases.append(Case("self-loop", {"nodes": [["a", []], ["b", ["a", "b"]]], "cyclic": True}))
        return cases

    def run(self, case, student):
        graph = Graph()
        for name, inputs in case.inputs["nodes"]:
            graph.add(name, "op", inputs)
        try:
            return {"order": list(student.get("topo_sort")(graph))}
        except ValueError as err:
            return {"raised": "ValueError", "message": str(err)[:200]}

    def judge(self, case, output):
        if case.inputs.get("cyclic"):
            return PASS if output.get("raised") == "ValueError" else fail(
                "returned an order for a graph with a cycle (it should raise ValueError)")
        if "order" not in output:
            return fail("raised ValueError on an acyclic graph")
        order, nodes = output["order"], dict((n, i) for n, i in case.inputs["nodes"])
        if sorted(map(str, order)) != sorted(nodes):
            counts = Counter(order)
            dup = [n for n, c in counts.items() if c > 1]
            return fail(f"each node must appear exactly once ({len(order)} names for {len(nodes)} nodes"
                        + (f"; repeated: {dup[:3]}" if dup else "") + ")")
        position = {name: i for i, name in enumerate(order)}
        for name, inputs in nodes.items():
            for src in inputs:
                if position[src] > position[name]:
                    return fail(f"edge {src} -> {name} is violated: {name} comes before its input {src}")
        return PASS


def _random_dag(rng, n: int) -> list:
    names = [f"n{i}" for i in range(n)]
    nodes = []
    for i, name in enumerate(names):
        k = int(rng.integers(0, min(i, 3) + 1))
        inputs = [names[int(j)] for j in rng.choice(i, size=k, replace=False)] if k else []
        if inputs and rng.random() < 0.3:
            inputs.append(inputs[0])          # the same tensor used twice, as in x * x
        nodes.append([name, inputs])
    return nodes


class BackwardGraph(ExerciseCheck):
    exercise = "backward_graph"
    hint = "n_grad's inputs: the _grad of each consumer of n, plus the forward values n's own gradient reads"

    def cases(self, rng):
        return _expression_cases(rng)

    def run(self, case, student):
        forward = graph_of([tuple(s) for s in case.inputs["steps"]])
        return student.get("backward_graph")(forward).to_plain()

    def judge(self, case, output):
        forward = graph_of([tuple(s) for s in case.inputs["steps"]])
        mine = Graph.from_plain(output)
        consumers = forward.consumers()
        for node in forward:
            grad = f"{node.name}_grad"
            if grad not in mine:
                return fail(f"no node {grad!r} for forward node {node.name!r}")
            if mine[grad].op != f"{node.op}_grad":
                return fail(f"{grad!r} has op {mine[grad].op!r}, expected '{node.op}_grad'")
            reversed_in = Counter(i for i in mine[grad].inputs if i.endswith("_grad"))
            if reversed_in != Counter(f"{c}_grad" for c in consumers[node.name]):
                return fail(f"{grad!r}: its gradient inputs should be the _grad nodes of the consumers of "
                            f"{node.name!r}, once per use")
            need = GRAD_NEEDS.get(node.op, "")
            wanted = set(node.inputs) if need == "inputs" else {node.name} if need == "output" else set()
            saved = {i for i in mine[grad].inputs if not i.endswith("_grad")}
            if saved != wanted:
                return fail(f"{grad!r} ({node.op}): the saved forward values it reads are wrong "
                            f"({len(saved)} given, {len(wanted)} needed)")
            for value in saved:
                if value not in mine or mine[value].op != "saved":
                    return fail(f"saved value {value!r} must be a node with op 'saved'")
        extra = [n.name for n in mine if not n.name.endswith("_grad") and n.op != "saved"]
        if extra or len(mine) != len(forward) + len({i for n in mine for i in n.inputs if not i.endswith("_grad")}):
            return fail("the backward graph has nodes that are neither *_grad nor saved forward values")
        return PASS
