"""Checks of `trace` and `to_static` (tensors in the child, numbers back to the parent)."""
from __future__ import annotations

import ast
import inspect
import re
import textwrap
import warnings
from typing import Any

import numpy as np

from aisys.dy2static import programs as P
from aisys.quiet import quiet_torch, torch_logs_off
from aisys.grading.compare import close
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail


def tensors(spec: list) -> tuple:
    """Inputs from plain data: a list becomes a float tensor, an int a 0-d int64 tensor."""
    import torch

    return tuple(torch.tensor(v, dtype=torch.int64 if isinstance(v, int) else torch.float32) for v in spec)


def flat(output: Any) -> list[float]:
    """Every tensor leaf of an output, flattened into one list of floats."""
    import torch
    from torch.utils._pytree import tree_flatten

    leaves, _ = tree_flatten(output)
    return torch.cat([torch.as_tensor(t, dtype=torch.float64).reshape(-1) for t in leaves]).tolist()


def _vector(rng, sign: float = 0.0, scale: float = 1.0, size: int = 4) -> list:
    v = rng.normal(size=size) * scale
    if sign:
        v = np.abs(v) * sign
    return [round(float(x), 4) for x in v]


class TraceCheck(ExerciseCheck):
    exercise = "trace"
    hint = ("record inside a TorchFunctionMode; map tensors to Refs by id; replay must run the "
            "recorded calls only — never fn again; note each Tensor.__bool__ in graph.notes")

    def cases(self, rng):
        pos, neg = (lambda: _vector(rng, 1.0)), (lambda: _vector(rng, -1.0))
        return [
            Case("same-branch", {"fn": "relu_or_square", "example": [pos()], "replay": [[pos()], [pos()]]}),
            Case("other-branch", {"fn": "relu_or_square", "example": [pos()], "replay": [[neg()], [neg()]]},
                 weight=2),
            Case("other-branch-negative-example", {"fn": "relu_or_square", "example": [neg()],
                                                   "replay": [[pos()]]}),
            Case("loop-unrolled", {"fn": "halve_until_small", "example": [_vector(rng, scale=4.0)],
                                   "replay": [[_vector(rng, scale=0.2)], [_vector(rng, scale=12.0)]]}, weight=2),
            Case("fixed-loop", {"fn": "fixed_loop", "example": [_vector(rng)], "replay": [[_vector(rng)]]}),
            Case("two-inputs", {"fn": "branch_in_loop", "example": [_vector(rng, size=3), 3],
                                "replay": [[_vector(rng, size=3), 3], [_vector(rng, size=3), 5]]}),
            # graph.notes: a data-dependent branch baked in must be said; none where there was none
            Case("notes-branch-baked-in", {"fn": "relu_or_square", "example": [_vector(rng)],
                                           "replay": [[_vector(rng)]], "notes": True}),
            Case("notes-none-without-branch", {"fn": "fixed_loop", "example": [_vector(rng)],
                                               "replay": [[_vector(rng)]], "notes": True}),
            Case("tuple-returning-op", {"fn": "halves_mixed", "example": [_vector(rng, size=6)],
                                        "replay": [[_vector(rng, size=6)], [_vector(rng, size=6)]]}),
        ]

    def run(self, case, student):
        fn = getattr(P, case.inputs["fn"])
        graph = student.get("trace")(fn, *tensors(case.inputs["example"]))
        P.CALLS.clear()
        outputs = [flat(graph(*tensors(spec))) for spec in case.inputs["replay"]]
        notes = [str(note) for note in getattr(graph, "notes", None) or []]
        return {"outputs": outputs, "python_calls": P.CALLS[case.inputs["fn"]], "ops": len(graph), "notes": notes}

    def judge(self, case, output):
        import torch

        fn = getattr(P, case.inputs["fn"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            traced = torch.jit.trace(fn, tensors(case.inputs["example"]))
        if output.get("python_calls"):
            return fail(f"replaying ran the Python function again ({output['python_calls']} calls): a static "
                        "graph replays the recorded ops")
        if not output.get("ops"):
            return fail("the graph has no ops")
        if case.inputs.get("notes"):
            # torch's own tracer warns when a tensor became a Python bool: that is the ground truth
            baked = any(issubclass(w.category, torch.jit.TracerWarning) and "Python boolean" in str(w.message)
                        for w in caught)
            return _judge_notes(output.get("notes") or [], baked)
        got = output.get("outputs") or []
        for k, spec in enumerate(case.inputs["replay"]):
            want = flat(traced(*tensors(spec)))
            verdict = close(got[k] if k < len(got) else None, want, rtol=1e-5, atol=1e-6,
                            what=f"replay {k}")
            if not verdict.passed:
                eager = flat(fn(*tensors(spec)))
                if close(got[k], eager, rtol=1e-5, atol=1e-6).passed:
                    return fail(f"replay {k} follows the path eager Python would take, but a traced graph "
                                "only knows the path of the example (that is the tracing pitfall)")
                return verdict
        return PASS


def _judge_notes(notes: list[str], baked: bool) -> Verdict:
    if baked and not any(note.strip() for note in notes):
        return fail("the example run turned a tensor into a Python bool (an `if` on a tensor), but "
                    "graph.notes is empty: say that a data-dependent branch was baked into the graph")
    if not baked and notes:
        return fail(f"graph.notes has {len(notes)} note(s), but this run never turned a tensor into a "
                    "Python bool: nothing data-dependent was baked in")
    return PASS


TO_STATIC_CASES = {"relu_or_square": "cond", "halve_until_small": "while_loop", "branch_in_loop": "while_loop",
                   "python_flag": "python_if", "scale_one_side": "cond", "shrink_with_temporary": "while_loop",
                   "clipped_step": "cond"}
REFUSED = {"break": ast.Break, "return": ast.Return}


def construct_lines(fn, word: str) -> set[int]:
    """The lines of `word` inside an if/while of `fn`: numbered from its `def` (1) or in its file."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    lines = {node.lineno for block in ast.walk(tree) if isinstance(block, (ast.If, ast.While))
             for node in ast.walk(block) if isinstance(node, REFUSED[word])}
    return lines | {fn.__code__.co_firstlineno + n - 1 for n in lines}


class ToStaticCheck(ExerciseCheck):
    exercise = "to_static"
    hint = ("each if/while becomes generated functions + _jst.convert_cond / convert_while; assigned "
            "names are their outputs; refuse break/continue/return with SyntaxError")
    case_timeout = 60.0

    def cases(self, rng):
        return [
            Case("if-true", {"fn": "relu_or_square", "args": [_vector(rng, 1.0)]}),
            Case("if-false", {"fn": "relu_or_square", "args": [_vector(rng, -1.0)]}),
            Case("while-no-trips", {"fn": "halve_until_small", "args": [_vector(rng, scale=0.1)]}),
            Case("while-many-trips", {"fn": "halve_until_small", "args": [_vector(rng, scale=float(rng.uniform(5, 40)))]}),
            Case("if-in-while", {"fn": "branch_in_loop", "args": [_vector(rng, size=3), int(rng.integers(2, 7))]},
                 weight=2),
            Case("python-bool-stays-python", {"fn": "python_flag", "args": [_vector(rng)], "flag": bool(rng.random() < 0.5)}),
            Case("break-is-refused", {"fn": "break_in_loop", "refuse": "break"}),
            Case("return-in-branch-is-refused", {"fn": "return_in_branch", "refuse": "return"}),
            Case("exports-as-cond", {"fn": "relu_or_square", "args": [_vector(rng)], "export": True}, weight=2),
            Case("if-assigns-different-names", {"fn": "scale_one_side",
                                                "args": [_vector(rng, size=3), _vector(rng, size=3)]}, weight=2),
            Case("while-with-temporary", {"fn": "shrink_with_temporary",
                                          "args": [_vector(rng, scale=float(rng.uniform(3, 20)))]}),
            Case("closure-indented-source", {"fn": "clipped_step", "args": [_vector(rng, scale=2.0)]}),
        ]

    def run(self, case, student):
        with torch_logs_off():
            return self._run(case, student)

    def _run(self, case, student):
        from aisys.dy2static import runtime

        fn = getattr(P, case.inputs["fn"])
        if "refuse" in case.inputs:
            try:
                student.get("to_static")(fn)
            except SyntaxError as err:
                return {"raised": "SyntaxError", "message": str(err)[:300]}
            return {"raised": None}
        converted = student.get("to_static")(fn)
        args = tensors(case.inputs["args"]) + ((case.inputs["flag"],) if "flag" in case.inputs else ())
        if case.inputs.get("export"):
            try:
                return {"export_ops": exported_targets(converted, args)}
            except Exception as err:  # export refusing is the finding, not a crash
                return {"export_error": type(err).__name__}
        runtime.STATS.clear()
        out = converted(*args)
        return {"outputs": flat(out), "stats": dict(runtime.STATS), "source": getattr(converted, "source", None)}

    def judge(self, case, output):
        fn = getattr(P, case.inputs["fn"])
        if "refuse" in case.inputs:
            word = case.inputs["refuse"]
            if output.get("raised") != "SyntaxError":
                return fail(f"converting a function with `{word}` inside a converted block should raise SyntaxError")
            message = output.get("message", "")
            if word not in message:
                return fail(f"the SyntaxError should name the construct (`{word}`) and its line")
            if not any(re.search(rf"(?<!\d){n}(?!\d)", message) for n in construct_lines(fn, word)):
                return fail(f"the SyntaxError names `{word}` but not the line it is on (in the function's "
                            "source or in its file)")
            return PASS
        if case.inputs.get("export"):
            if output.get("export_error"):
                return fail(f"torch.export of the converted function raised {output['export_error']}: "
                            "the tensor `if` is still a Python if (no cond node)")
            ops = output.get("export_ops", [])
            return PASS if any("cond" in op for op in ops) else fail(
                "torch.export of the converted function has no cond node: the tensor `if` was not converted")
        args = tensors(case.inputs["args"]) + ((case.inputs["flag"],) if "flag" in case.inputs else ())
        verdict = close(output.get("outputs"), flat(fn(*args)), rtol=1e-5, atol=1e-6, what="outputs")
        if not verdict.passed:
            return verdict
        return _conversion_verdict(output, TO_STATIC_CASES[case.inputs["fn"]])


def _conversion_verdict(output: dict, route: str) -> Verdict:
    stats, source = output.get("stats") or {}, output.get("source")
    if not isinstance(source, str):
        return fail("the converted function has no `.source` string")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return fail("`.source` is not valid Python")
    if not stats.get(route):
        return fail(f"the runtime never ran a {route.replace('_', ' ')}: route the `if`/`while` through "
                    "_jst.convert_cond / _jst.convert_while")
    if route == "python_if" and stats.get("cond"):
        return fail("a Python bool condition went through torch.cond: keep it a Python if")
    if route != "python_if" and any(isinstance(n, (ast.If, ast.While)) for n in ast.walk(tree)):
        return fail("the generated source still contains an `if`/`while` statement")
    return PASS


def exported_targets(converted, args) -> list[str]:
    import torch

    class Wrapper(torch.nn.Module):
        def forward(self, *xs):
            return converted(*xs)
    with quiet_torch():
        exported = torch.export.export(Wrapper(), args)
    return [str(n.target) for n in exported.graph.nodes if n.op == "call_function"]
