"""Lab 01 checks, `backward_graph`: the dual graph's structural properties.

For every forward node n the dual must hold `n_grad` (op `n.op + "_grad"`) whose gradient
inputs are the `_grad` nodes of n's consumers, once per use, and whose other inputs are
exactly the forward values n's own derivative reads (each once, each a node of op "saved"),
listed after the gradient inputs (the order within each group is free) — and nothing else. Corners in every seed: every op once, a value used twice by one op, an
input nothing uses and a value nobody consumes, a forward graph listed out of order; the
function is called twice and must leave the forward graph as it was.
"""
from __future__ import annotations

from collections import Counter

from aisys.graph.dual import saved_by
from aisys.graph.expressions import EVERY_OP_STEPS, F_STEPS, graph_of, random_steps
from aisys.graph.ir import Graph
from aisys.graph.plain import changes, expect_graph, graph_output, rebuild, snapshot
from aisys.grading.shapes import STR, dict_of, expect, list_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail, first_failure

#: x2 feeds only t2, which nothing consumes; the output is t1 (the graph has two sinks).
UNUSED_STEPS = [("t0", "mul", ["x1", "x1"]), ("t1", "sin", ["t0"]), ("t2", "cos", ["x2"])]


def expression_cases(rng) -> list[Case]:
    """Forward graphs for the dual-graph exercises (lab 01's builder, lab 02's evaluator)."""
    cases = [Case("f", {"steps": F_STEPS}), Case("every-op", {"steps": EVERY_OP_STEPS}),
             Case("square", {"steps": [("t0", "mul", ["x1", "x1"]), ("t1", "add", ["t0", "x2"])]}),
             Case("unused-value", {"steps": UNUSED_STEPS}),
             Case("listed-out-of-order", {"steps": random_steps(rng, 6), "reverse": True})]
    return cases + [Case(f"random-{i}", {"steps": random_steps(rng, int(rng.integers(4, 12)))}) for i in range(3)]


def forward_of(case: Case) -> Graph:
    return graph_of([tuple(s) for s in case.inputs["steps"]], reverse=bool(case.inputs.get("reverse")))


class BackwardGraph(ExerciseCheck):
    exercise = "backward_graph"
    hint = ("n_grad's inputs: the _grad node of each consumer of n (once per use), then the forward values n's own "
            "derivative reads (GRAD_NEEDS[n.op]), each once, as 'saved' nodes")

    def cases(self, rng):
        return expression_cases(rng)

    def run(self, case, student):
        fn = student.get("backward_graph")
        forward = forward_of(case)
        before = snapshot(forward)
        first = graph_output(fn(forward), "backward_graph")
        changed = changes(forward, before)
        return {"dual": first, "again": graph_output(fn(forward), "backward_graph"), "changed": changed}

    def judge(self, case, output):
        verdict = expect(output, dict_of({"dual": dict_of({}, extra=True), "again": dict_of({}, extra=True),
                                          "changed": list_of(STR)}), "backward_graph's results")
        if not verdict.passed:
            return verdict
        forward = forward_of(case)
        return first_failure(
            dual_problems(forward, output["dual"], "the backward graph"),
            fail(f"backward_graph changed the forward graph it was given ({output['changed'][0]})")
            if output["changed"] else PASS,
            dual_problems(forward, output["again"], "a second call's backward graph"))


def dual_problems(forward: Graph, plain, what: str) -> Verdict:
    """PASS when `plain` is the dual of `forward` by the lab-01 contract."""
    verdict = expect_graph(plain, what)
    if not verdict.passed:
        return verdict
    mine = rebuild(plain)
    consumers = forward.consumers()
    saved_needed: set[str] = set()
    for node in forward:
        grad = f"{node.name}_grad"
        if grad not in mine:
            return fail(f"{what} has no node {grad!r} for forward node {node.name!r}")
        if mine[grad].op != f"{node.op}_grad":
            return fail(f"{what}: {grad!r} has op {mine[grad].op!r}, expected '{node.op}_grad'")
        reversed_in = Counter(i for i in mine[grad].inputs if i.endswith("_grad"))
        if reversed_in != Counter(f"{c}_grad" for c in consumers.get(node.name, [])):
            return fail(f"{what}: {grad!r}'s gradient inputs should be the _grad nodes of the consumers of "
                        f"{node.name!r}, once per use")
        wanted = saved_by(node)
        saved = [i for i in mine[grad].inputs if not i.endswith("_grad")]
        if Counter(saved) != Counter(wanted):
            return fail(f"{what}: {grad!r} ({node.op}) reads the wrong saved forward values ({len(saved)} listed, "
                        f"{len(wanted)} needed, each once): they are what {node.op}'s own derivative reads")
        first_saved = next((k for k, i in enumerate(mine[grad].inputs) if not i.endswith("_grad")), None)
        if first_saved is not None and any(i.endswith("_grad") for i in mine[grad].inputs[first_saved:]):
            return fail(f"{what}: {grad!r} lists a saved forward value before a consumer's _grad node: its "
                        "inputs are the consumers' _grad nodes first, then the saved values")
        saved_needed |= set(wanted)
        for value in saved:
            if value not in mine or mine[value].op != "saved" or mine[value].inputs:
                return fail(f"{what}: saved value {value!r} must be a node of op 'saved' with no inputs")
    expected = {f"{n.name}_grad" for n in forward} | saved_needed
    extra = sorted(set(mine.nodes) - expected)
    if extra:
        return fail(f"{what} has nodes that are neither a forward node's _grad nor a saved value it reads: "
                    f"{extra[:3]}")
    return PASS
