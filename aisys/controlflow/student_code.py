"""The student's firing rules and lowering, as the checks (and the demo) call them: every
return value checked before the bench touches it, every argument checked unchanged after,
and a stub elsewhere named as such — so a forgotten `return` reads "cond returned None;
expected a list of graph Values", never a TypeError from inside a bench program."""
from __future__ import annotations

import contextlib
import traceback
from types import SimpleNamespace
from typing import Any, Callable, Sequence

from aisys.controlflow import programs as P
from aisys.controlflow.dataflow import Value
from aisys.controlflow.interpreter import RuleNotImplemented, execute, frame_iterations
from aisys.controlflow.ops import PRIMITIVES
from aisys.errors import StudentCodeError
from aisys.grading.shapes import require

RULE_NAMES = ("switch", "merge", "enter", "exit_", "next_iteration")


def student_rules(student: Any) -> SimpleNamespace:
    return SimpleNamespace(**{name: student.get(name) for name in RULE_NAMES})


@contextlib.contextmanager
def stub_elsewhere_is_an_error(exercise: str):
    """A stub *this* exercise calls (cond inside a while body, while_loop inside
    while_loop_grad) is an error that names it, not "not started" for this exercise."""
    try:
        yield
    except NotImplementedError as err:
        frames = traceback.extract_tb(err.__traceback__)
        culprit = frames[-1].name if frames else exercise
        if culprit != exercise:
            raise StudentCodeError(f"{exercise} uses your {culprit}, which is not implemented yet") from None
        raise
    except RuleNotImplemented as err:
        raise StudentCodeError(f"{err} — the graph runs on your firing rules (primitives.py)") from None


def require_values(out: Any, who: str, n: int | None, what: str) -> list:
    """`out` must be a list/tuple of graph Values (n of them when given)."""
    require(out, lambda o: isinstance(o, (list, tuple)) and all(isinstance(v, Value) for v in o), who,
            f"a list of graph Values ({what})")
    if n is not None and len(out) != n:
        raise StudentCodeError(f"{who} returned {len(out)} Values; expected {n} ({what})")
    return list(out)


def _unchanged(given: list, now: Sequence, who: str, name: str) -> None:
    if len(now) != len(given) or any(a is not b for a, b in zip(given, now)):
        raise StudentCodeError(f"{who} changed the {name} list it was given: build new lists instead")


def checked_cond(cond: Callable) -> Callable:
    def call(pred, true_fn, false_fn, operands):
        given, sizes = list(operands), []

        def counted(branch):
            def inner(*args):
                out = branch(*args)
                sizes.append(len(out))
                return out
            return inner
        out = cond(pred, counted(true_fn), counted(false_fn), operands)
        _unchanged(given, operands, "cond", "operands")
        return require_values(out, "cond", sizes[0] if sizes else None, "one per branch output")
    return call


def checked_while_loop(while_loop: Callable, built: list | None = None) -> Callable:
    """`built` (if given) gets one entry per loop the student's while_loop builds."""
    def call(cond_fn, body_fn, loop_vars):
        given = list(loop_vars)
        if built is not None:
            built.append(1)
        out = while_loop(cond_fn, body_fn, loop_vars)
        _unchanged(given, loop_vars, "while_loop", "loop_vars")
        return require_values(out, "while_loop", len(given), "the final loop variables")
    return call


def checked_lowering(student: Any, built: list | None = None) -> SimpleNamespace:
    return SimpleNamespace(cond=checked_cond(student.get("cond")),
                           while_loop=checked_while_loop(student.get("while_loop"), built))


def run_program(student: Any, program: Callable, feeds: dict, *, scopes: bool = False,
                frames: bool = False) -> dict:
    """Build `program` with the student's lowering, run it on the student's rules: the
    outputs, the count of each primitive, how many loops were built and how many frame
    names their Enters use, and (when asked) the branch scopes that ran live and each loop
    frame instance's iteration count as [depth, outer iteration, count]."""
    built: list = []
    g, outs = P.build(program, checked_lowering(student, built), list(feeds))
    run = execute(g, student_rules(student), feeds)
    counts = g.op_counts()
    result = {"outputs": [run.value(o) for o in outs], "primitives": {p: counts.get(p, 0) for p in PRIMITIVES}}
    if built:
        names = {str(node.attrs.get("frame")) for node in g.ir if node.op == "Enter"}
        result["loops"] = [len(built), len(names)]
    if scopes:
        result["live_scopes"] = sorted({f.scope for f in run.live() if f.scope})
    if frames:
        result["frames"] = [[len(k) - 1, k[-2][1] if len(k) > 2 else 0, n]
                            for k, n in frame_iterations(run.log).items()]
    return result
