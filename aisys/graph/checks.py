"""Lab 01 checks. Ground truth: torch's own strides, storage and autograd graph; properties."""
from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from aisys.graph.expressions import F_STEPS, GRAD_NEEDS, graph_of, random_steps, run_torch
from aisys.graph.ir import Graph
from aisys.grading.compare import close, equal
from aisys.grading.spec import PASS, Case, ExerciseCheck, LabSuite, Verdict, fail

# ---------------------------------------------------------------- tensor layout


def _random_shape(rng, max_dims=5, max_size=5, zero_ok=False):
    low = 0 if zero_ok else 1
    return [int(s) for s in rng.integers(low, max_size + 1, size=int(rng.integers(0, max_dims + 1)))]


def _view(spec: dict):
    """The tensor a layout case describes: arange(shape) then one view op."""
    import torch

    base = torch.arange(int(np.prod(spec["shape"]))).to(getattr(torch, spec.get("dtype", "float32")))
    t = base.reshape(spec["shape"])
    view = spec.get("view", "none")
    if view == "transpose":
        t = t.transpose(0, -1)
    elif view == "slice":
        t = t[..., 1:]
    elif view == "step":
        t = t[::2]
    elif view == "expand":
        t = t[:1].expand(3, *t.shape[1:])
    return t


class RowMajorStrides(ExerciseCheck):
    exercise = "row_major_strides"
    hint = "stride[i] is the product of all sizes after dimension i (a size of 0 counts as 1, as torch does)"

    def cases(self, rng):
        fixed = [("scalar", []), ("vector", [7]), ("matrix", [2, 3]), ("article", [2, 3, 4])]
        return [Case(name, {"shape": shape}) for name, shape in fixed] + [
            Case(f"random-{i}", {"shape": _random_shape(rng, zero_ok=i == 3)}) for i in range(6)]

    def run(self, case, student):
        return list(student.get("row_major_strides")(tuple(case.inputs["shape"])))

    def judge(self, case, output):
        import torch

        return equal(output, list(torch.empty(case.inputs["shape"]).stride()), what="strides")


class FlatOffset(ExerciseCheck):
    exercise = "flat_offset"
    hint = "offset + sum(index[i] * strides[i]); strides=None means row-major; out of range → IndexError"

    def cases(self, rng):
        cases = []
        for i, view in enumerate(("none", "none", "transpose", "slice", "step", "expand")):
            shape = [int(s) for s in rng.integers(2, 6, size=int(rng.integers(2, 4)))]
            spec = {"shape": shape, "view": view}
            t = _view(spec)
            indices = [[int(rng.integers(0, s)) for s in t.shape] for _ in range(5)]
            cases.append(Case(f"{view}-{i}", {"spec": spec, "indices": indices, "given_strides": view != "none"}))
        cases.append(Case("out-of-range", {"spec": {"shape": [2, 3]}, "indices": [[2, 0]], "given_strides": False,
                                           "expect_error": True}))
        return cases

    def run(self, case, student):
        fn = student.get("flat_offset")
        t = _view(case.inputs["spec"])
        out = []
        for index in case.inputs["indices"]:
            try:
                if case.inputs["given_strides"]:
                    out.append(fn(tuple(t.shape), tuple(index), tuple(t.stride()), t.storage_offset()))
                else:
                    out.append(fn(tuple(t.shape), tuple(index)))
            except IndexError:
                out.append("IndexError")
        return out

    def judge(self, case, output):
        if case.inputs.get("expect_error"):
            return equal(output, ["IndexError"], what="out-of-range index (should raise IndexError)")
        # the base tensor is arange, so an element's value is its position in storage
        t = _view(case.inputs["spec"])
        expected = [int(t[tuple(index)].item()) for index in case.inputs["indices"]]
        return equal(output, expected, what="storage positions")


class TensorInfo(ExerciseCheck):
    exercise = "tensor_info"
    hint = "compare the strides with row_major_strides(shape), skipping size-1 dims; dtype without 'torch.'"
    KEYS = ("shape", "strides", "storage_offset", "dtype", "element_size", "numel", "nbytes", "device",
            "is_contiguous")

    def cases(self, rng):
        dtypes = ["float32", "float64", "int64", "int8", "float16", "bool"]
        views = ["none", "transpose", "slice", "step", "expand", "none"]
        return [Case(f"{view}-{dtype}", {"shape": [int(s) for s in rng.integers(2, 5, size=3)],
                                         "view": view, "dtype": dtype})
                for view, dtype in zip(views, dtypes)]

    def run(self, case, student):
        return student.get("tensor_info")(_view(case.inputs))

    def judge(self, case, output):
        t = _view(case.inputs)
        expected = {"shape": list(t.shape), "strides": list(t.stride()), "storage_offset": t.storage_offset(),
                    "dtype": str(t.dtype).replace("torch.", ""), "element_size": t.element_size(),
                    "numel": t.numel(), "nbytes": t.numel() * t.element_size(), "device": str(t.device),
                    "is_contiguous": t.is_contiguous()}
        if not isinstance(output, dict):
            return fail(f"expected a dict with keys {', '.join(self.KEYS)}")
        return equal({k: output.get(k) for k in self.KEYS if k in output} | {
            k: "<missing>" for k in self.KEYS if k not in output}, expected, what="tensor_info")


# ---------------------------------------------------------------- autograd Functions


class _FunctionCheck(ExerciseCheck):
    """Forward values, gradients for a random upstream gradient, and the full Jacobian
    through the student's backward — compared with torch's own op in float64."""

    torch_op = ""

    def cases(self, rng):
        cases = []
        for i, shape in enumerate(([5], [3, 4], [2, 3, 2])):
            cases.append(Case(f"random-{i}", {"x": rng.normal(size=shape).round(3).tolist(),
                                              "g": rng.normal(size=shape).tolist()}))
        cases.append(Case("composed", {"x": rng.normal(size=[6]).tolist(), "g": [1.0] * 6, "twice": True}))
        if self.exercise == "MyReLU":
            cases.append(Case("at-zero", {"x": [-1.0, 0.0, 0.0, 2.0], "g": [1.0, 1.0, 1.0, 1.0]}))
        return cases

    def _forward(self, fn, x, twice):
        return fn(fn(x)) if twice else fn(x)

    def run(self, case, student):
        import torch

        cls = student.get(self.exercise)
        x = torch.tensor(case.inputs["x"], dtype=torch.float64, requires_grad=True)
        y = self._forward(cls.apply, x, case.inputs.get("twice"))
        y.backward(torch.tensor(case.inputs["g"], dtype=torch.float64))
        flat = x.detach().reshape(-1).clone()
        jac = torch.autograd.functional.jacobian(lambda v: self._forward(cls.apply, v, case.inputs.get("twice")), flat)
        return {"y": y.detach(), "grad": x.grad, "jacobian": jac}

    def judge(self, case, output):
        import torch

        op = getattr(torch, self.torch_op)
        x = torch.tensor(case.inputs["x"], dtype=torch.float64, requires_grad=True)
        y = self._forward(op, x, case.inputs.get("twice"))
        y.backward(torch.tensor(case.inputs["g"], dtype=torch.float64))
        jac = torch.autograd.functional.jacobian(
            lambda v: self._forward(op, v, case.inputs.get("twice")), x.detach().reshape(-1))
        return _all_close(output, {"y": y.detach(), "grad": x.grad, "jacobian": jac}, rtol=1e-7, atol=1e-9)


def _all_close(output: dict, expected: dict, **tol) -> Verdict:
    if not isinstance(output, dict):
        return fail("expected a dict of results")
    for key, want in expected.items():
        verdict = close(output.get(key), np.asarray(want), what=key, **tol)
        if not verdict.passed:
            return verdict
    return PASS


class MyReLUCheck(_FunctionCheck):
    exercise = "MyReLU"
    torch_op = "relu"
    hint = "backward multiplies grad_output by the mask x > 0 (strictly: the gradient at 0 is 0)"


class MySigmoidCheck(_FunctionCheck):
    exercise = "MySigmoid"
    torch_op = "sigmoid"
    hint = "the derivative is s * (1 - s) with s the forward *output*; save it with ctx.save_for_backward"


# ---------------------------------------------------------------- graphs


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
                 Case("square", {"nodes": [["x", []], ["y", ["x", "x"]], ["z", ["y", "x"]]]})]
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
        nodes.append([name, [names[int(j)] for j in rng.choice(i, size=k, replace=False)] if k else []])
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


SUITE = LabSuite("graph", [RowMajorStrides(), FlatOffset(), TensorInfo(), MyReLUCheck(), MySigmoidCheck(),
                           GraphFromTorch(), TopoSort(), BackwardGraph()])
