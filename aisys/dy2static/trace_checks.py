"""Check of `trace`. Ground truth: `torch.jit.trace` itself, the tracing pitfall included
(a replay follows the example's path, right or wrong), and its TracerWarning that a tensor
became a Python bool (the branch baked in) — never our own tracer."""
from __future__ import annotations

import warnings

from aisys.dy2static import programs as P
from aisys.dy2static.check_tools import changed, flat, python_calls, snapshot, tensors, vector
from aisys.dy2static.static_graph import StaticGraph
from aisys.grading.compare import close
from aisys.grading.shapes import INT, NUMBER, STR, dict_of, expect, list_of, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail
from aisys.errors import StudentCodeError


class TraceCheck(ExerciseCheck):
    exercise = "trace"
    hint = ("record inside a TorchFunctionMode; map tensors to Refs by id — also inside lists and "
            "kwargs (tree_map); replay runs the recorded calls only; a note for Tensor.__bool__ only")

    def cases(self, rng):
        pos, neg, any_ = (lambda: vector(rng, 1.0)), (lambda: vector(rng, -1.0)), (lambda: vector(rng))
        pair = lambda: [vector(rng, size=3), vector(rng, size=3)]   # noqa: E731
        return [
            Case("same-branch", {"fn": "relu_or_square", "example": [pos()], "replay": [[pos()], [pos()]]}),
            Case("other-branch", {"fn": "relu_or_square", "example": [pos()], "replay": [[neg()], [neg()]]},
                 weight=2),
            Case("other-branch-negative-example", {"fn": "relu_or_square", "example": [neg()],
                                                   "replay": [[pos()]]}),
            Case("loop-unrolled", {"fn": "halve_until_small", "example": [vector(rng, scale=4.0)],
                                   "replay": [[vector(rng, scale=0.2)], [vector(rng, scale=12.0)]]}, weight=2),
            Case("fixed-loop", {"fn": "fixed_loop", "example": [any_()], "replay": [[any_()]]}),
            Case("two-inputs", {"fn": "branch_in_loop", "example": [vector(rng, size=3), 3],
                                "replay": [[vector(rng, size=3), 3], [vector(rng, size=3), 5]]}),
            Case("tuple-returning-op", {"fn": "halves_mixed", "example": [vector(rng, size=6)],
                                        "replay": [[vector(rng, size=6)], [vector(rng, size=6)]]}),
            Case("tensors-in-lists-and-keywords", {"fn": "list_and_keywords", "example": pair(),
                                                   "replay": [pair(), pair()]}, weight=2),
            Case("dict-output-with-an-input", {"fn": "dict_with_input", "example": [any_()],
                                               "replay": [[any_()], [any_()]]}),
            # graph.notes: a data-dependent branch baked in must be said; nothing else is a branch
            Case("notes-branch-baked-in", {"fn": "relu_or_square", "example": [any_()], "replay": [[any_()]],
                                           "notes": True}),
            Case("notes-none-without-branch", {"fn": "fixed_loop", "example": [any_()], "replay": [[any_()]],
                                               "notes": True}),
            Case("notes-none-for-baked-numbers", {"fn": "scale_by_range", "example": [any_()],
                                                  "replay": [[any_()], [any_()]], "notes": True}),
            Case("second-trace-leaves-the-first-alone", {"fn": "relu_or_square", "example": [pos()],
                                                         "replay": [[neg()], [pos()]], "then": "fixed_loop"}),
        ]

    def run(self, case, student):
        fn = getattr(P, case.inputs["fn"])
        examples = tensors(case.inputs["example"])
        before = snapshot(examples)
        graph = require(student.get("trace")(fn, *examples), StaticGraph, "trace", "a StaticGraph")
        if changed(before, examples):
            raise StudentCodeError("trace changed its example inputs in place: a tracer only reads them")
        if "then" in case.inputs:   # a second trace must not touch the first graph (no shared state)
            other = getattr(P, case.inputs["then"])
            require(student.get("trace")(other, *tensors(case.inputs["example"])), StaticGraph, "trace",
                    "a StaticGraph")
        with python_calls(fn) as calls:
            outputs = [flat(graph(*tensors(spec)), "replaying the graph") for spec in case.inputs["replay"]]
        out = {"outputs": outputs, "python_calls": calls[0], "ops": len(graph)}
        if case.inputs.get("notes"):
            notes = graph.notes
            require(notes, list, "trace(...).notes", "a list of str")
            out["notes"] = [str(note) for note in notes]
        return out

    def judge(self, case, output):
        fields = {"outputs": list_of(list_of(NUMBER), len(case.inputs["replay"])), "python_calls": INT, "ops": INT}
        if case.inputs.get("notes"):
            fields["notes"] = list_of(STR)
        shape = expect(output, dict_of(fields), "trace's result")
        if not shape.passed:
            return shape
        if output["python_calls"]:
            return fail(f"replaying the graph ran the Python function again ({output['python_calls']} calls): "
                        "a static graph replays the recorded ops")
        if output["ops"] < 1:
            return fail("the graph has no ops: every torch call of the example run is a node")
        traced, baked = jit_trace(case)
        fn = getattr(P, case.inputs["fn"])
        for k, spec in enumerate(case.inputs["replay"]):
            want = flat(traced(*tensors(spec)), "torch.jit.trace")
            verdict = close(output["outputs"][k], want, rtol=1e-5, atol=1e-6, what=f"replay {k}")
            if not verdict.passed:
                eager = flat(fn(*tensors(spec)), case.inputs["fn"])
                if len(eager) == len(want) and close(output["outputs"][k], eager, rtol=1e-5, atol=1e-6).passed:
                    return fail(f"replay {k} follows the path eager Python would take, but a traced graph "
                                "only knows the path of the example (that is the tracing pitfall)")
                return verdict
        if case.inputs.get("notes"):
            return notes_verdict(output["notes"], baked)
        return PASS


def jit_trace(case: Case):
    """torch.jit.trace on the case's example, and whether it warned that a tensor became a
    Python bool (the ground truth for `graph.notes`)."""
    import torch

    fn = getattr(P, case.inputs["fn"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(fn, tensors(case.inputs["example"]), strict=False)
    baked = any(issubclass(w.category, torch.jit.TracerWarning) and "Python boolean" in str(w.message)
                for w in caught)
    return traced, baked


def notes_verdict(notes: list[str], baked: bool) -> Verdict:
    if baked and not any(note.strip() for note in notes):
        return fail("the example run turned a tensor into a Python bool (an `if` on a tensor), but "
                    "graph.notes is empty: say that a data-dependent branch was baked into the graph")
    if not baked and notes:
        return fail(f"graph.notes has {len(notes)} note(s), but this run never turned a tensor into a "
                    "Python bool: a number read out with float()/.item() is a baked value, not a branch")
    return PASS
