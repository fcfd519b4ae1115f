"""Lab 01 checks, graphs: torch's own grad_fn graph (up to renaming) and Kahn's order.

Fixed corners in every seed: `None` in `next_functions` (a constant tensor, an input that
does not require grad), a node used twice by one op, every op once; for `topo_sort` an
empty graph, falsy names, a node listed before its inputs, repeated inputs, a cycle and a
self-loop. Every exercise is also called twice (state kept between calls shows) and must
leave its argument as it was (a Kahn that deletes edges from the graph shows).
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

from aisys.errors import StudentCodeError
from aisys.graph.expressions import EVERY_OP_STEPS, F_STEPS, random_steps, run_torch
from aisys.graph.ir import Graph
from aisys.graph.plain import changes, expect_graph, graph_output, rebuild, snapshot
from aisys.graph.walk import orderable
from aisys.grading.compare import close
from aisys.grading.shapes import STR, Shape, describe, dict_of, expect, list_of, one_of, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail, first_failure

CHANGED = list_of(STR)
X = {"x1": 1.5, "x2": 0.7}


def canonical(graph: Graph, rounds: int = 8, ordered: bool = True) -> Counter:
    """An isomorphism-invariant summary (Weisfeiler-Lehman refinement): start from each node's
    op, then repeatedly relabel it with the labels of its inputs, in their listed order (a
    node's inputs are ordered: `next_functions` order), *and* the sorted labels of its
    consumers. Names don't matter, structure does; a dangling input counts as a node of its
    own. `ordered=False` sorts the inputs too: the same edges, listed in any order."""
    consumers = graph.consumers()
    label = {name: node.op for name, node in graph.nodes.items()}
    for _ in range(rounds):
        label = {name: _digest(label[name], _arrange([label.get(i, "?") for i in node.inputs], ordered),
                               sorted(label.get(c, "?") for c in consumers.get(name, [])))
                 for name, node in graph.nodes.items()}
    return Counter(label.values())


def _arrange(labels: list, ordered: bool) -> list:
    return labels if ordered else sorted(labels)


def _digest(*parts) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- graph_from_torch

def _program(case_inputs: dict):
    """(output tensor, the leaves that require grad) of a case's program, built afresh.

    Names listed in `constants` are plain tensors (no grad); inputs listed in `frozen`
    do not require grad: both leave `None` in some `next_functions`."""
    import torch

    frozen = set(case_inputs.get("frozen", ()))
    env = {name: torch.tensor(v, dtype=torch.float64, requires_grad=name not in frozen) for name, v in X.items()}
    env |= {name: torch.tensor(v, dtype=torch.float64) for name, v in case_inputs.get("constants", {}).items()}
    steps = [tuple(s) for s in case_inputs["steps"]]
    out = run_torch(steps, env)[steps[-1][0]]
    return out, [env[name] for name in X if name not in frozen]


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


def _compare_structure(plain: Any, truth: Graph, what: str) -> Verdict:
    verdict = expect_graph(plain, what)
    if not verdict.passed:
        return verdict
    mine = rebuild(plain)
    ops_mine, ops_truth = Counter(n.op for n in mine), Counter(n.op for n in truth)
    if ops_mine != ops_truth:
        extra, missing = ops_mine - ops_truth, ops_truth - ops_mine
        parts = ([f"extra: {dict(extra)}"] if extra else []) + ([f"missing: {dict(missing)}"] if missing else [])
        return fail(f"{what}: node ops differ from torch's graph ({'; '.join(parts)})")
    dangling = sorted({i for n in mine for i in n.inputs if i not in mine.nodes})
    if dangling:
        return fail(f"{what}: inputs name nodes that are not in the graph: {dangling[:3]}")
    if canonical(mine, ordered=False) != canonical(truth, ordered=False):
        return fail(f"{what}: same ops, but the edges differ from torch's graph (check which node feeds which)")
    if canonical(mine) != canonical(truth):
        return fail(f"{what}: the right edges, but some node lists its inputs in another order than its "
                    "next_functions (keep their order)")
    return PASS


class GraphFromTorch(ExerciseCheck):
    exercise = "graph_from_torch"
    hint = "dedupe autograd nodes by identity (id(fn)); skip None in next_functions; op = type(fn).__name__"
    OTHER = {"steps": F_STEPS}   # captured between two captures of the case's own program

    def cases(self, rng):
        cases = [Case("f", {"steps": F_STEPS}), Case("every-op", {"steps": EVERY_OP_STEPS}),
                 Case("square", {"steps": [("t0", "mul", ["x1", "x1"]), ("t1", "add", ["t0", "x2"])]}),
                 Case("constant-operand", {"steps": [("t0", "mul", ["x1", "c"]), ("t1", "add", ["t0", "x2"]),
                                                     ("t2", "div", ["t1", "c"])], "constants": {"c": 3.0}}, 2),
                 Case("input-without-grad", {"steps": [("t0", "sin", ["x2"]), ("t1", "mul", ["x1", "t0"]),
                                                       ("t2", "add", ["t1", "x2"])], "frozen": ["x2"]}, 2)]
        return cases + [Case(f"random-{i}", {"steps": random_steps(rng, int(rng.integers(4, 12)))}) for i in range(3)]

    def run(self, case, student):
        import torch

        fn = student.get("graph_from_torch")
        out, leaves = _program(case.inputs)
        other, _ = _program(self.OTHER)
        first = graph_output(fn(out), "graph_from_torch")
        between = graph_output(fn(other), "graph_from_torch")
        again = graph_output(fn(out), "graph_from_torch")
        try:   # the function only reads the graph: torch must still be able to run it
            grads = [float(g) for g in torch.autograd.grad(out, leaves)]
        except RuntimeError as err:
            raise StudentCodeError("after graph_from_torch ran, torch could no longer run backward through the "
                                   f"output ({str(err).splitlines()[0][:80]}): only read the graph, never "
                                   "run or free it") from None
        return {"graph": first, "other": between, "again": again, "grads_after": grads}

    def judge(self, case, output):
        n_leaves = len(X) - len(case.inputs.get("frozen", ()))
        verdict = expect(output, dict_of({"graph": dict_of({}, extra=True), "other": dict_of({}, extra=True),
                                          "again": dict_of({}, extra=True),
                                          "grads_after": list_of(Shape("a number", _number), n_leaves)}),
                         "graph_from_torch's results")
        if not verdict.passed:
            return verdict
        out, leaves = _program(case.inputs)
        truth, other = _torch_graph(out), _torch_graph(_program(self.OTHER)[0])
        import torch

        grads = [float(g) for g in torch.autograd.grad(out, leaves)]
        return first_failure(
            _compare_structure(output["graph"], truth, "the captured graph"),
            _compare_structure(output["other"], other, "a second capture, of f"),
            _compare_structure(output["again"], truth, "capturing the first output again after another one"),
            close(output["grads_after"], grads, what="the gradients torch computes after your capture",
                  rtol=1e-9, atol=1e-12))


def _number(value: Any, path: str) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return None if ok else f"{path} should be a number, got {describe(value)}"


# ---------------------------------------------------------------- topo_sort

ORDER = dict_of({"order": list_of(STR)})
RAISED = dict_of({"raised": one_of("ValueError"), "message": STR})


def _result_problem(value: Any, path: str) -> str | None:
    if isinstance(value, dict) and "raised" in value:
        return RAISED.problem(value, path)
    return ORDER.problem(value, path)


RESULT = Shape("an order or a raised ValueError", _result_problem)


class TopoSort(ExerciseCheck):
    exercise = "topo_sort"
    hint = ("Kahn: in-degree = number of input edges (x*x is two); emit zero in-degree nodes; leftovers mean a "
            "cycle (ValueError naming one); never edit the graph you were given")

    def cases(self, rng):
        cases = [Case("diamond", {"nodes": [["a", []], ["b", ["a"]], ["c", ["a"]], ["d", ["b", "c"]]]}),
                 Case("f", {"nodes": [[n, []] for n in ("x1", "x2")] + [[n, list(a)] for n, _, a in F_STEPS]}),
                 Case("square", {"nodes": [["x", []], ["y", ["x", "x"]], ["z", ["y", "x"]]]}),
                 # m uses a twice and c once: counting distinct inputs would release m before c
                 Case("repeated-input", {"nodes": [["a", []], ["b", ["a"]], ["m", ["a", "a", "c"]], ["c", ["b"]]]}),
                 Case("empty-graph", {"nodes": []}),
                 Case("falsy-names", {"nodes": [["None", ["", "0"]], ["0", []], ["", ["0"]]]}),
                 Case("two-components", {"nodes": [["q", ["p"]], ["p", []], ["s", []], ["t", ["s", "q"]],
                                                   ["u", ["s"]]]})]
        for i in range(2):
            cases.append(Case(f"random-dag-{i}", {"nodes": _random_dag(rng, int(rng.integers(15, 40)))}, weight=2))
        cases.append(Case("shuffled-listing", {"nodes": _random_dag(rng, 25)[::-1]}, weight=2))
        cycle = _random_dag(rng, 12)
        cycle[3][1].append(cycle[9][0])   # a back edge: node 3 now needs node 9, which needs ... 3
        cycle[9][1].append(cycle[3][0])
        cases.append(Case("cycle", {"nodes": cycle, "cyclic": True}, weight=2))
        cases.append(Case("self-loop", {"nodes": [["a", []], ["b", ["a", "b"]]], "cyclic": True}))
        return cases

    @staticmethod
    def _graph(nodes: list) -> Graph:
        graph = Graph()
        for name, inputs in nodes:
            graph.add(name, "op", inputs)
        return graph

    def run(self, case, student):
        fn = student.get("topo_sort")
        graph = self._graph(case.inputs["nodes"])
        before = snapshot(graph)

        def call() -> dict:
            try:
                order = fn(graph)
            except ValueError as err:
                return {"raised": "ValueError", "message": str(err)[:300]}
            if not isinstance(order, (list, tuple)):
                require(order, list_of(STR), "topo_sort", "a list of node names")
            return {"order": list(order)}

        first = call()
        changed = changes(graph, before)
        return {"first": first, "second": call(), "changed": changed}

    def judge(self, case, output):
        verdict = expect(output, dict_of({"first": RESULT, "second": RESULT, "changed": CHANGED}),
                         "topo_sort's results")
        if not verdict.passed:
            return verdict
        graph = self._graph(case.inputs["nodes"])
        return first_failure(self._one(graph, case, output["first"], ""),
                             fail(f"topo_sort changed the graph it was given ({output['changed'][0]}); work on "
                                  "your own in-degree counts instead") if output["changed"] else PASS,
                             self._one(graph, case, output["second"], " on a second call"))

    @staticmethod
    def _one(graph: Graph, case: Case, result: dict, when: str) -> Verdict:
        _, stuck = orderable(graph)
        if case.inputs.get("cyclic"):
            if "raised" not in result:
                return fail(f"returned an order for a graph with a cycle{when} (it should raise ValueError)")
            named = [n for n in stuck if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", result["message"])]
            return PASS if named else fail(f"the ValueError{when} should name at least one node that cannot be "
                                           f"ordered; its message was {result['message'][:80]!r}")
        if "raised" in result:
            return fail(f"raised ValueError on an acyclic graph{when}")
        order = result["order"]
        if sorted(order) != sorted(graph.nodes):
            dup = [n for n, c in Counter(order).items() if c > 1]
            return fail(f"each node must appear exactly once{when} ({len(order)} names for {len(graph)} nodes"
                        + (f"; repeated: {dup[:3]}" if dup else "") + ")")
        position = {name: i for i, name in enumerate(order)}
        for node in graph:
            for src in node.inputs:
                if position[src] > position[node.name]:
                    return fail(f"edge {src!r} -> {node.name!r} is violated{when}: {node.name!r} comes before "
                                f"its input {src!r}")
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
