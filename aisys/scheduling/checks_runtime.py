"""Checks of the real runtime pieces: the thread-pool executor and the dispatcher.

Ground truth: serial numpy execution (`kernels.evaluate`), the kernel call log (each node
once, after its inputs, at most `workers` at a time, really overlapping, never parking
threads on a straggler) and a dispatch table computed here.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from aisys.grading.compare import close
from aisys.grading.shapes import (INT, NUMBER, STR, Shape, array, describe, dict_of, expect, list_of, mapping,
                                  require, tuple_of)
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail
from aisys.graph.ir import Graph
from aisys.scheduling import builders, kernels
from aisys.scheduling.check_tools import call, with_deadline
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
    deadline = 5.0   # seconds: every graph here runs in well under one

    def cases(self, rng):
        spec = to_spec
        cases = [Case("f-2-workers", {"graph": spec(builders.f_graph()), "workers": 2}),
                 Case("one-worker", {"graph": spec(builders.executable_dag(rng, 20)), "workers": 1}),
                 Case("value-read-twice", {"graph": spec(builders.square_reads()), "workers": 2}),
                 Case("listed-consumers-first", {"graph": spec(builders.listed_backwards(
                     builders.executable_dag(rng, 25))), "workers": 3})]
        for i in range(2):
            n = int(rng.integers(15, 40))
            cases.append(Case(f"random-dag-{i}-{n}-nodes", {"graph": spec(builders.executable_dag(rng, n)),
                                                         "workers": int(rng.integers(2, 4))}, weight=2))
        cases.append(Case("independent-kernels-overlap", {"graph": spec(builders.sleep_graph(6)), "workers": 3,
                                                           "overlap": True}, weight=3))
        cases.append(Case("no-threads-held-waiting", {"graph": spec(builders.straggler_with_blockers()), "workers": 3,
                                                       "straggler": True}, weight=3))
        return cases

    def run(self, case, student):
        graph = from_spec(case.inputs["graph"])
        with kernels.recording() as log:
            values = with_deadline(self.deadline, call, "run_graph", student.get("run_graph"), graph,
                                   case.inputs["workers"], what="run_graph")
        require(values, dict, "run_graph", "a dict {node name: value}")
        threads = {ident: i for i, ident in enumerate(dict.fromkeys(t for _, t, _, _ in log))}
        t0 = min((s for _, _, s, _ in log), default=0.0)
        # at least 1-d: f's values are scalars, and 0-d arrays trip array tools downstream
        return {"values": {str(k): np.atleast_1d(np.asarray(v)) for k, v in values.items()},
                "log": [[op, threads[t], s - t0, e - t0] for op, t, s, e in log]}

    def judge(self, case, output):
        graph = from_spec(case.inputs["graph"])
        shape = expect(output, dict_of({"values": mapping(array(), keys=[n.name for n in graph]),
                                        "log": list_of(tuple_of(STR, INT, NUMBER, NUMBER))}), "run_graph's result")
        if not shape.passed:
            return shape
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
            return fail("'quick1' and 'quick2' were ready long before the slow 'straggler' ended, but ran only "
                        "after it: submit each node when its own inputs are done — no waiting for a whole wave, "
                        "no pool threads parked waiting for inputs")
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


def _result_problem(value, path: str) -> str | None:
    if isinstance(value, str) or (isinstance(value, dict) and set(value) == {"error"} and isinstance(value["error"], str)):
        return None
    return f"{path} should be a kernel's result or a LookupError's message, got {describe(value)}"


RESULT = Shape("a kernel's result or {'error': message}", _result_problem)


class DispatcherCheck(ExerciseCheck):
    exercise = "Dispatcher"
    hint = "kernels[op][(device, layout)][dtype]; look up the backend first, then the dtype; errors name the key"

    def cases(self, rng):
        basic = [["add", "cpu", "strided", ["float32", "float64"], "add_cpu"],
                 ["add", "meta", "strided", ["float32"], "add_meta"],
                 ["mul", "cpu", "sparse_coo", ["float32"], "mul_sparse"]]
        cases = [Case("basic", {"table": basic, "queries": _all_queries()}, weight=2),
                 Case("instances-do-not-share", {"table": basic, "queries": _all_queries(), "fresh": True}),
                 Case("dtypes-as-a-generator", {"table": basic, "queries": _all_queries(), "generator": True}),
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
            given = (d for d in dtypes) if case.inputs.get("generator") else list(dtypes)
            dispatcher.register(op, device, layout, given, lambda *args, tag=tag: f"{tag}/{len(args)}")
        if case.inputs.get("fresh"):   # registrations belong to one dispatcher, not to the class
            dispatcher = student.get("Dispatcher")()
        out = []
        for op, device, layout, dtype, via_call in case.inputs["queries"]:
            t = torch.zeros(2, 2, dtype=getattr(torch, dtype), device=device)
            t = t.to_sparse() if layout == "sparse_coo" else t
            try:
                if via_call == "scalar-first":   # dispatch on the first *tensor*, not the first argument
                    result = dispatcher(op, 1.0, t)
                elif via_call:
                    result = dispatcher(op, t, 1.0)
                else:
                    result = require(dispatcher.dispatch(op, t), callable, "Dispatcher.dispatch", "a kernel")(t)
                out.append(require(result, str, "Dispatcher(op, *args)", "what the kernel returned (a str here)"))
            except LookupError as err:
                out.append({"error": str(err)[:300]})
        return out

    def judge(self, case, output):
        queries = case.inputs["queries"]
        shape = expect(output, list_of(RESULT, len(queries)), "the results of the queries")
        if not shape.passed:
            return shape
        table: dict = {}
        for op, device, layout, dtypes, tag in [] if case.inputs.get("fresh") else case.inputs["table"]:
            for dtype in dtypes:
                table.setdefault(op, {}).setdefault((device, layout), {})[dtype] = tag
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
