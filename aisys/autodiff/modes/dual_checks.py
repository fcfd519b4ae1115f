"""Lab 02 checks for `run_backward_graph`: lab 01's dual graph executed on numbers.

The dual graph comes from the bench's builder (`aisys.graph.dual`, lab 01's contract), so
this exercise does not depend on anyone's lab-01 answer; the truth is torch.autograd.grad
of the output with respect to every forward node. Fixed in every seed: f at (2, 5), every
op once, x·x, an unused input beside a value nobody consumes (zeros, not seeds), a forward
graph listed out of order (insertion order is no evaluation order), and the BFS trap — a
value reached from the loss both directly and through a longer path, where a breadth-first
walk from the loss runs its backward op before every contribution has arrived.
"""
from __future__ import annotations

import numpy as np

from aisys.autodiff.modes.common import CHANGED
from aisys.autodiff.truth import torch_node_adjoints
from aisys.graph.dual import dual_graph
from aisys.graph.dual_checks import UNUSED_STEPS
from aisys.graph.expressions import EVERY_OP_STEPS, F_STEPS, graph_of, random_steps
from aisys.graph.plain import snapshot
from aisys.grading.compare import close
from aisys.grading.shapes import NUMBER, dict_of, expect, mapping, require
from aisys.grading.spec import Case, ExerciseCheck, fail, first_failure

#: L = t4 = (sin x1 + exp(cos(sin x1))) · x2: BFS from L reaches t0 = sin x1 at depth 2 through
#: t3, before the path t0 → t1 → t2 → t3 (depth 4) has sent its share.
BFS_TRAP_STEPS = [("t0", "sin", ["x1"]), ("t1", "cos", ["t0"]), ("t2", "exp", ["t1"]), ("t3", "add", ["t0", "t2"]),
                  ("t4", "mul", ["t3", "x2"])]


def _forward(case: Case):
    return graph_of([tuple(s) for s in case.inputs["steps"]], reverse=bool(case.inputs.get("reverse")))


class RunBackwardGraph(ExerciseCheck):
    exercise = "run_backward_graph"
    hint = ("evaluate the forward graph first (saved values); then the dual graph's _grad nodes in a topological "
            "order of the dual — not BFS from the loss, not insertion order; dL/dn = [n is the output] + what n's "
            "consumers sent")

    def cases(self, rng):
        def point():
            return {"x1": float(np.round(rng.uniform(0.5, 2.0), 3)), "x2": float(np.round(rng.uniform(0.5, 2.0), 3))}

        def case(cid, steps, weight=1.0, output=None, values=None, **extra):
            return Case(cid, {"steps": [list(s) for s in steps], "output": output or steps[-1][0],
                              "values": values or point(), **extra}, weight)

        return [case("f(2,5)", F_STEPS, values={"x1": 2.0, "x2": 5.0}), case("every-op", EVERY_OP_STEPS),
                case("square", [("t0", "mul", ["x1", "x1"]), ("t1", "add", ["t0", "x2"])]),
                case("bfs-trap", BFS_TRAP_STEPS, 2),
                case("unused-input-and-value", UNUSED_STEPS, 2, output="t1"),
                case("listed-out-of-order", random_steps(rng, 6), 2, reverse=True),
                case("random-0", random_steps(rng, int(rng.integers(4, 12)))),
                case("random-1", random_steps(rng, int(rng.integers(4, 12))))]

    def run(self, case, student):
        fn = student.get("run_backward_graph")
        i = case.inputs
        forward = _forward(case)
        dual = dual_graph(forward)
        values = dict(i["values"])
        before = (snapshot(forward), snapshot(dual), dict(values))

        def call(fw, du, out, vals) -> dict:
            got = require(fn(fw, du, out, vals), dict, "run_backward_graph", "a dict {node name: dL/dnode}")
            return dict(got)

        first = call(forward, dual, i["output"], values)
        other = graph_of(F_STEPS)   # another graph in between: nothing may carry over
        call(other, dual_graph(other), "v5", {"x1": 2.0, "x2": 5.0})
        again = call(forward, dual, i["output"], values)
        after = (snapshot(forward), snapshot(dual), dict(values))
        changed = [what for what, b, a in zip(("the forward graph", "the dual graph", "the values dict"), before, after)
                   if b != a]
        return {"adjoints": first, "again": again, "changed": changed}

    def judge(self, case, output):
        names = list(_forward(case).nodes)
        adjoints = mapping(NUMBER, keys=names)
        verdict = expect(output, dict_of({"adjoints": adjoints, "again": adjoints, "changed": CHANGED}),
                         "run_backward_graph's result")
        if not verdict.passed:
            return verdict
        want = torch_adjoints(case)
        verdict = first_failure(*(close(output["adjoints"][n], want[n], what=f"dL/d{n}", rtol=1e-9, atol=1e-12)
                                  for n in names))
        if verdict.passed and any(abs(output["again"][n] - want[n]) > 1e-9 * (1 + abs(want[n])) for n in names):
            return fail("a second call on the same graphs, after one on another graph, gave different adjoints: "
                        "keep no state between calls")
        if verdict.passed and output["changed"]:
            return fail(f"run_backward_graph changed its input ({output['changed'][0]}): keep your own dicts")
        return verdict


def torch_adjoints(case: Case) -> dict[str, float]:
    """dL/dn for every node n of the case's forward graph, by torch (0 where L does not depend on n)."""
    i = case.inputs
    return torch_node_adjoints(i["steps"], i["values"], i["output"], list(_forward(case).nodes))
