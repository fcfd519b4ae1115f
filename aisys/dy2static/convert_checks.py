"""Check of `to_static`. Ground truth: eager PyTorch on seeded inputs through every branch
and varying trip counts, the runtime's record that torch.cond / torch.while_loop really ran,
`torch.export` of the converted function (a tensor `if` must become a cond node), and the
source of the refused constructs (their line numbers)."""
from __future__ import annotations

import ast
import inspect
import re
import textwrap

from aisys.dy2static import programs as P
from aisys.dy2static.check_tools import flat, tensors, vector
from aisys.errors import StudentCodeError
from aisys.grading.compare import close
from aisys.grading.shapes import INT, NUMBER, STR, describe, dict_of, expect, list_of, mapping, optional, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail
from aisys.quiet import quiet_torch, torch_logs_off

ROUTE = {"relu_or_square": "cond", "halve_until_small": "while_loop", "branch_in_loop": "while_loop",
         "python_flag": "python_if", "scale_one_side": "cond", "shrink_with_temporary": "while_loop",
         "clipped_step": "cond", "sign_bucket": "cond"}
REFUSED = {"break": ast.Break, "continue": ast.Continue, "return": ast.Return}


def construct_lines(fn, word: str) -> set[int]:
    """The lines of `word` inside an if/while of `fn`: numbered from its `def` (1) or in its file."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    lines = {node.lineno for block in ast.walk(tree) if isinstance(block, (ast.If, ast.While))
             for node in ast.walk(block) if isinstance(node, REFUSED[word])}
    return lines | {fn.__code__.co_firstlineno + n - 1 for n in lines}


class ToStaticCheck(ExerciseCheck):
    exercise = "to_static"
    hint = ("each if/while becomes generated functions + _jst.convert_cond / convert_while; assigned "
            "names are their outputs; refuse break/continue/return with a SyntaxError naming the line")
    case_timeout = 60.0

    def cases(self, rng):
        calls = lambda *xs: {"calls": [list(x) for x in xs]}   # noqa: E731
        return [
            Case("if-true", {"fn": "relu_or_square", **calls([vector(rng, 1.0)])}),
            Case("if-false", {"fn": "relu_or_square", **calls([vector(rng, -1.0)])}),
            Case("while-no-trips", {"fn": "halve_until_small", **calls([vector(rng, scale=0.1)])}),
            Case("while-many-trips", {"fn": "halve_until_small",
                                      **calls([vector(rng, scale=float(rng.uniform(5, 40)))])}),
            Case("if-in-while", {"fn": "branch_in_loop",
                                 **calls([vector(rng, size=3), int(rng.integers(2, 7))], [vector(rng, size=3), 0])},
                 weight=2),
            Case("python-bool-stays-python", {"fn": "python_flag", **calls([vector(rng)], [vector(rng)]),
                                              "flags": [True, False]}),
            Case("break-is-refused", {"fn": "break_in_loop", "refuse": "break"}),
            Case("continue-is-refused", {"fn": "continue_in_loop", "refuse": "continue"}),
            Case("return-in-branch-is-refused", {"fn": "return_in_branch", "refuse": "return"}),
            Case("return-in-while-is-refused", {"fn": "return_in_loop", "refuse": "return"}),
            Case("exports-as-cond", {"fn": "relu_or_square", "args": [vector(rng)], "export": True,
                                     "calls": [[vector(rng, 1.0)], [vector(rng, -1.0)]]}, weight=2),
            Case("if-assigns-different-names", {"fn": "scale_one_side",
                                                **calls([vector(rng, size=3), vector(rng, size=3)])}, weight=2),
            Case("while-with-temporary-and-default", {"fn": "shrink_with_temporary",
                                                      **calls([vector(rng, scale=float(rng.uniform(3, 20)))])}),
            Case("closure-indented-source", {"fn": "clipped_step", **calls([vector(rng, scale=2.0)])}),
            Case("elif-chain-every-branch", {"fn": "sign_bucket", **calls(
                [vector(rng, 1.0, scale=2.0)], [vector(rng, -1.0, scale=2.0)], [vector(rng, scale=0.05)])},
                weight=2),
        ]

    def run(self, case, student):
        with torch_logs_off():
            return self._run(case, student)

    def _run(self, case, student):
        from aisys.dy2static import runtime

        fn = getattr(P, case.inputs["fn"])
        before = (fn.__code__, fn.__defaults__, dict(fn.__dict__))
        if "refuse" in case.inputs:
            try:
                _keeping_globals(student.get("to_static"), fn)
            except SyntaxError as err:
                return {"raised": "SyntaxError", "message": str(err)[:300]}
            return {"raised": None, "message": ""}
        converted = require(_keeping_globals(student.get("to_static"), fn), callable, "to_static",
                            "a function (the converted copy)")
        if (fn.__code__, fn.__defaults__, dict(fn.__dict__)) != before:
            raise StudentCodeError("to_static changed the function it was given: build a new function, "
                                   "leave the original as it was")
        if case.inputs.get("export"):
            try:
                exported = export(converted, tensors(case.inputs["args"]))
            except Exception as err:  # export refusing is the finding, not a crash
                return {"cond_nodes": None, "outputs": None, "export_error": type(err).__name__}
            conds = sum(n.op == "call_function" and "cond" in str(n.target) for n in exported.graph.nodes)
            outputs = [flat(exported.module()(*args), "the exported program") for args in _arguments(case)]
            return {"cond_nodes": conds, "outputs": outputs, "export_error": None}
        source = getattr(converted, "source", None)
        if not isinstance(source, str):
            raise StudentCodeError(f"the function to_static returned has `.source` = {describe(source)}; "
                                   "expected a str (the generated Python source)")
        runtime.STATS.clear()
        outputs = [flat(converted(*args), "the converted function") for args in _arguments(case)]
        return {"outputs": outputs, "stats": {str(k): int(v) for k, v in runtime.STATS.items()}, "source": source}

    def judge(self, case, output):
        if "refuse" in case.inputs:
            shape = expect(output, dict_of({"raised": optional(STR), "message": STR}), "to_static's result")
            return shape if not shape.passed else _refusal_verdict(case, output)
        outputs = list_of(list_of(NUMBER), len(case.inputs["calls"]))
        if case.inputs.get("export"):
            shape = expect(output, dict_of({"cond_nodes": optional(INT), "outputs": optional(outputs),
                                            "export_error": optional(STR)}), "to_static's result")
            return shape if not shape.passed else _export_verdict(case, output)
        shape = expect(output, dict_of({"outputs": outputs, "stats": mapping(INT), "source": STR}), "to_static's result")
        if not shape.passed:
            return shape
        return _same_as_eager(case, output["outputs"], "call {k} of the converted function") or \
            _conversion_verdict(output, ROUTE[case.inputs["fn"]])


def _keeping_globals(to_static, fn):
    """`to_static(fn)`, with fn's module globals as they were afterwards: names the call added
    are deleted and names it rebound are put back (so every later case sees a clean module
    and catches it again), and a call that touched them is the student's error."""
    scope = fn.__globals__
    before = dict(scope)
    try:
        return to_static(fn)
    finally:
        added = [k for k in scope if k not in before]
        changed = [k for k, v in before.items() if k not in scope or scope[k] is not v]
        for k in added:
            del scope[k]
        scope.update({k: before[k] for k in changed})
        if added or changed:
            names = ", ".join(sorted(added + changed)[:4]) + (", …" if len(added + changed) > 4 else "")
            raise StudentCodeError(f"to_static changed the globals of {fn.__name__}'s module ({names}): exec the "
                                   "generated code in a copy of fn.__globals__ and leave fn's module as it was")


def _arguments(case: Case) -> list[tuple]:
    """The calls of a case: tensors, plus the Python flag where the function takes one."""
    flags = case.inputs.get("flags")
    return [tensors(spec) + ((flags[k],) if flags else ()) for k, spec in enumerate(case.inputs["calls"])]


def _refusal_verdict(case: Case, output: dict) -> Verdict:
    word = case.inputs["refuse"]
    if output["raised"] != "SyntaxError":
        return fail(f"converting a function with `{word}` inside a converted block should raise SyntaxError; "
                    "to_static returned normally")
    message = output["message"]
    if not re.search(rf"\b{word}\b", message, re.IGNORECASE):
        return fail(f"the SyntaxError should name the construct (`{word}`) and its line")
    lines = construct_lines(getattr(P, case.inputs["fn"]), word)
    if not any(re.search(rf"(?<!\d){n}(?!\d)", message) for n in lines):
        return fail(f"the SyntaxError names `{word}` but not the line it is on (in the function's "
                    "source or in its file)")
    return PASS


def _same_as_eager(case: Case, outputs: list, what: str) -> Verdict | None:
    fn = getattr(P, case.inputs["fn"])
    for k, args in enumerate(_arguments(case)):
        verdict = close(outputs[k], flat(fn(*args), case.inputs["fn"]), rtol=1e-5, atol=1e-6, what=what.format(k=k))
        if not verdict.passed:
            return verdict
    return None


def _export_verdict(case: Case, output: dict) -> Verdict:
    """One tensor `if` → exactly one cond node, and the exported program takes both branches."""
    if output["export_error"]:
        return fail(f"torch.export of the converted function raised {output['export_error']}: "
                    "the tensor `if` is still a Python if (no cond node)")
    if output["cond_nodes"] != 1 or output["outputs"] is None:
        return fail(f"torch.export of the converted function has {output['cond_nodes'] or 'no'} cond node(s) "
                    "for its one tensor `if`")
    return _same_as_eager(case, output["outputs"], "the exported program on input {k} (one per branch)") or PASS


def _conversion_verdict(output: dict, route: str) -> Verdict:
    stats, source = output["stats"], output["source"]
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return fail("`.source` is not valid Python")
    if not stats.get(route):
        return fail(f"the runtime never ran a {route.replace('_', ' ')}: route the `if`/`while` through "
                    "_jst.convert_cond / _jst.convert_while")
    if route == "python_if" and stats.get("cond"):
        return fail("a Python bool condition went through torch.cond: keep it a Python if")
    if route != "python_if" and any(isinstance(n, (ast.If, ast.While)) for n in ast.walk(tree)):
        return fail("the generated source still contains an `if`/`while` statement")
    return PASS


def export(converted, args):
    """`torch.export` of a converted function (wrapped in a Module) on example `args`."""
    import torch

    class Wrapper(torch.nn.Module):
        def forward(self, *xs):
            return converted(*xs)
    with quiet_torch():
        return torch.export.export(Wrapper(), tuple(args))


def exported_targets(converted, args) -> list[str]:
    """The call_function targets of the exported graph (the demo prints them)."""
    return [str(n.target) for n in export(converted, args).graph.nodes if n.op == "call_function"]
