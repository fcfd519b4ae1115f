"""Checks of the real runtime pieces: the thread-pool executor, the dispatcher, the partitioner.

Ground truth: serial numpy execution (`kernels.evaluate`), the kernel call log (each node
once, after its inputs, at most `workers` at a time, really overlapping), a dispatch table
computed here, and the structure of the partitioned graph plus its executed values.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from aisys.grading.compare import close
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail
from aisys.graph.ir import Graph
from aisys.scheduling import builders, kernels
from aisys.scheduling.costgraph import from_spec, to_spec


def value_verdict(graph: Graph, values) -> Verdict:
    """Every node of `graph` has the value serial execution (`kernels.evaluate`) gives it."""
    expected = kernels.evaluate(graph)
    if not isinstance(values, dict):
        return fail("expected a dict {node name: value}")
    for name in (n.name for n in graph):
        if name not in values:
            return fail(f"no value for node {name!r}")
        # atleast_1d: compare.close trips on 0-d arrays (f's values are scalars)
        verdict = close(np.atleast_1d(np.asarray(values[name], dtype=float)), np.atleast_1d(expected[name]),
                        rtol=1e-9, atol=1e-12, what=f"value of {name!r}")
        if not verdict.passed:
            return verdict
    return PASS


class RunGraph(ExerciseCheck):
    exercise = "run_graph"
    hint = "submit a node only when its input count reaches 0; collect finished futures with wait(FIRST_COMPLETED)"

    def cases(self, rng):
        cases = [Case("f-2-workers", {"graph": to_spec(builders.f_graph()), "workers": 2})]
        for i in range(3):
            n = int(rng.integers(15, 40))
            cases.append(Case(f"random-dag-{i}-{n}-nodes", {"graph": to_spec(builders.executable_dag(rng, n)),
                                                         "workers": int(rng.integers(2, 4))}, weight=2))
        cases.append(Case("independent-kernels-overlap", {"graph": to_spec(builders.sleep_graph(6)), "workers": 3,
                                                           "overlap": True}, weight=3))
        cases.append(Case("no-wave-barrier", {"graph": to_spec(builders.straggler_graph()), "workers": 3,
                                              "straggler": True}, weight=2))
        return cases

    def run(self, case, student):
        graph = from_spec(case.inputs["graph"])
        with kernels.recording() as log:
            values = student.get("run_graph")(graph, case.inputs["workers"])
        threads = {ident: i for i, ident in enumerate(dict.fromkeys(t for _, t, _, _ in log))}
        t0 = min((s for _, _, s, _ in log), default=0.0)
        return {"values": {k: np.asarray(v) for k, v in dict(values).items()} if isinstance(values, dict) else None,
                "log": [[op, threads[t], s - t0, e - t0] for op, t, s, e in log]}

    def judge(self, case, output):
        graph = from_spec(case.inputs["graph"])
        log = output["log"]
        calls = Counter(op for op, *_ in log)
        missing = [n.name for n in graph if calls[n.name] == 0]
        if missing:
            return fail(f"node {missing[0]!r} was never computed with run_node")
        twice = [op for op, c in calls.items() if c > 1]
        if twice:
            return fail(f"run_node ran node {twice[0]!r} {calls[twice[0]]} times")
        span = {op: (s, e) for op, _, s, e in log}
        for node in graph:
            for src in node.inputs:
                if span[node.name][0] < span[src][1]:
                    return fail(f"{node.name!r} started before its input {src!r} finished")
        workers = case.inputs["workers"]
        peak = kernels.max_overlap([(op, t, s, e) for op, t, s, e in log])
        if peak > workers:
            return fail(f"{peak} kernels ran at one instant with only {workers} workers")
        if case.inputs.get("overlap") and peak < 2:
            return fail("independent kernels never ran at the same time: is the pool used in parallel?")
        if case.inputs.get("straggler") and span["quick2"][0] >= span["straggler"][1]:
            return fail("'quick2' was ready long before the slow 'straggler' ended, but started only after it: "
                        "submit each node as soon as its own inputs are done (no waiting for a whole wave)")
        return value_verdict(graph, output["values"])


_DEVICES = {"cpu": ("strided", "sparse_coo"), "meta": ("strided",)}
_DTYPES = ("float32", "float64", "int64", "bfloat16")


def _random_table(rng, n: int) -> list:
    backends = [(d, l) for d, ls in _DEVICES.items() for l in ls]
    table = []
    for i in range(n):
        device, layout = backends[int(rng.integers(len(backends)))]
        dtypes = sorted({str(x) for x in rng.choice(_DTYPES, size=int(rng.integers(1, 4)))})
        table.append([str(rng.choice(["add", "mul"])), device, layout, dtypes, f"k{i}"])
    return table


def _all_queries(via_call: bool | str = False) -> list:
    return [[op, d, l, t, via_call] for op in ("add", "mul") for d, ls in _DEVICES.items() for l in ls
            for t in _DTYPES]


class DispatcherCheck(ExerciseCheck):
    exercise = "Dispatcher"
    hint = "kernels[op][(device, layout)][dtype]; look up the backend first, then the dtype; errors name the key"

    def cases(self, rng):
        basic = [["add", "cpu", "strided", ["float32", "float64"], "add_cpu"],
                 ["add", "meta", "strided", ["float32"], "add_meta"],
                 ["mul", "cpu", "sparse_coo", ["float32"], "mul_sparse"]]
        cases = [Case("basic", {"table": basic, "queries": _all_queries()}, weight=2),
                 Case("later-registration-wins", {"table": basic + [["add", "cpu", "strided", ["float64"], "add2"]],
                                                  "queries": _all_queries()}),
                 Case("call-passes-arguments", {"table": basic, "queries": _all_queries(via_call=True)}),
                 Case("scalar-before-the-tensor", {"table": basic, "queries": _all_queries(via_call="scalar-first")})]
        for i in range(3):
            cases.append(Case(f"random-table-{i}", {"table": _random_table(rng, int(rng.integers(3, 8))),
                                                    "queries": _all_queries(via_call=bool(i % 2))}, weight=2))
        return cases

    def run(self, case, student):
        import torch

        dispatcher = student.get("Dispatcher")()
        for op, device, layout, dtypes, tag in case.inputs["table"]:
            dispatcher.register(op, device, layout, list(dtypes), lambda *args, tag=tag: f"{tag}/{len(args)}")
        out = []
        for op, device, layout, dtype, via_call in case.inputs["queries"]:
            t = torch.zeros(2, 2, dtype=getattr(torch, dtype), device=device)
            t = t.to_sparse() if layout == "sparse_coo" else t
            try:
                if via_call == "scalar-first":   # dispatch on the first *tensor*, not the first argument
                    out.append(dispatcher(op, 1.0, t))
                else:
                    out.append(dispatcher(op, t, 1.0) if via_call else dispatcher.dispatch(op, t)(t))
            except LookupError as err:
                out.append({"error": str(err)[:300]})
        return out

    def judge(self, case, output):
        table: dict = {}
        for op, device, layout, dtypes, tag in case.inputs["table"]:
            for dtype in dtypes:
                table.setdefault(op, {}).setdefault((device, layout), {})[dtype] = tag
        queries = case.inputs["queries"]
        if not isinstance(output, list) or len(output) != len(queries):
            return fail("expected one result per query")
        for got, (op, device, layout, dtype, via_call) in zip(output, queries):
            what = f"{op} on a {device}/{layout} {dtype} tensor"
            backend = table.get(op, {}).get((device, layout))
            if backend is None or dtype not in backend:
                if not isinstance(got, dict):
                    return fail(f"{what}: no kernel is registered, but no LookupError was raised")
                names = [op] if op not in table else [op, device, layout] if backend is None else [op, dtype]
                if not all(n in got["error"] for n in names):
                    level = "backend (device/layout)" if backend is None else "dtype"
                    return fail(f"{what}: the error should name the op and the missing {level} key")
                continue
            if isinstance(got, dict):
                return fail(f"{what}: raised LookupError although a kernel is registered")
            if got != f"{backend[dtype]}/{2 if via_call else 1}":
                return fail(f"{what}: the wrong kernel ran (or it did not get all the arguments)")
        return PASS
