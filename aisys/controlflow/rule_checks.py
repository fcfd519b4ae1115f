"""Checks of the five firing rules: tokens in, tokens out, judged against the rules'
definitions (TensorFlow's Switch/Merge/Enter/Exit/NextIteration semantics)."""
from __future__ import annotations

from typing import Any

from aisys.controlflow.tokens import ROOT, Token
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail


def _tag(rng, depth: int | None = None) -> list:
    depth = int(rng.integers(0, 3)) if depth is None else depth
    return [list(t) for t in ROOT] + [[f"while_{k}", int(rng.integers(0, 6))] for k in range(depth)]


def _tok(rng, tag=None, dead=False, value=None) -> dict:
    value = round(float(rng.normal() * 10), 3) if value is None else value
    return {"value": None if dead else value, "tag": tag if tag is not None else _tag(rng), "dead": dead}


def _decode(x: Any) -> Any:
    return Token.from_plain(x) if isinstance(x, dict) else x


def _encode(out: Any) -> Any:
    if out is None:
        return None
    if isinstance(out, Token):
        return {"value": out.value, "tag": [[str(f), i] for f, i in out.tag], "dead": bool(out.dead)}
    if isinstance(out, (tuple, list)):
        return [_encode(o) for o in out]
    return {"not_a_token": type(out).__name__}


def _compare_token(got: Any, want: dict | None) -> str | None:
    """What is wrong with `got` (plain) given the expected token, or None if right."""
    if want is None:
        return None if got is None else "returned a token but should return None (wait, or drop it)"
    if got is None:
        return "returned None but it should fire (return a token)"
    if not isinstance(got, dict) or "not_a_token" in got:
        return f"returned {got.get('not_a_token', type(got).__name__) if isinstance(got, dict) else type(got).__name__}, not a Token"
    if bool(got.get("dead")) != want["dead"]:
        return "the dead flag is wrong" + (" (a live input must stay live)" if not want["dead"] else "")
    if [list(t) for t in got.get("tag", [])] != want["tag"]:
        return "the tag (frame stack / iteration ids) is wrong"
    if not want["dead"] and got.get("value") != want["value"]:
        return "the value was changed (a primitive only routes values)"
    return None


class _RuleCheck(ExerciseCheck):
    """Each case is a few calls of one rule; `expect(args)` is the rule's definition."""

    def run(self, case: Case, student: Any) -> list:
        fn = student.get(self.exercise)
        outs = []
        for call in case.inputs["calls"]:
            args = [[_decode(a) for a in arg] if isinstance(arg, list) and self.exercise == "merge"
                    else _decode(arg) for arg in call["args"]]
            outs.append(_encode(fn(*args)))
        return outs

    def judge(self, case: Case, output: Any) -> Verdict:
        calls = case.inputs["calls"]
        if not isinstance(output, list) or len(output) != len(calls):
            return fail("expected one result per call")
        for k, (call, got) in enumerate(zip(calls, output)):
            want = self.expect(*call["args"])
            if isinstance(want, tuple):
                if not isinstance(got, list) or len(got) != 2:
                    return fail(f"call {k} ({call['label']}): must return a pair (false_side, true_side)")
                problems = [_compare_token(g, w) for g, w in zip(got, want)]
                problem = next((f"{side} side: {p}" for side, p in zip(("false", "true"), problems) if p), None)
            else:
                problem = _compare_token(got, want)
            if problem:
                return fail(f"call {k} ({call['label']}): {problem}")
        return PASS

    @staticmethod
    def expect(*args):
        raise NotImplementedError


def _calls(*pairs) -> dict:
    return {"calls": [{"label": label, "args": list(args)} for label, *args in pairs]}


class SwitchCheck(_RuleCheck):
    exercise = "switch"
    hint = "(false_side, true_side): the chosen side gets the data token, the other a dead token with the same tag"

    @staticmethod
    def expect(data, pred):
        dead = {"value": None, "tag": data["tag"], "dead": True}
        if data["dead"] or pred["dead"]:
            return dead, dead
        return (dead, data) if bool(pred["value"]) else (data, dead)

    def cases(self, rng):
        def pair(label, pred_value, data_dead=False, pred_dead=False, depth=None):
            tag = _tag(rng, depth)
            return (label, _tok(rng, tag, data_dead), _tok(rng, tag, pred_dead, value=pred_value))
        return [
            Case("true-side", _calls(*[pair("pred True", True) for _ in range(3)])),
            Case("false-side", _calls(*[pair("pred False", False) for _ in range(3)])),
            Case("truthiness", _calls(pair("pred 0", 0), pair("pred 3", 3), pair("pred 0.0", 0.0))),
            Case("dead-data", _calls(pair("dead data, pred True", True, data_dead=True),
                                     pair("dead data, pred False", False, data_dead=True))),
            Case("dead-pred", _calls(pair("dead pred", True, pred_dead=True), pair("dead pred", False, pred_dead=True))),
            Case("in-a-frame", _calls(pair("iteration tag", True, depth=2), pair("iteration tag", False, depth=1))),
        ]


class MergeCheck(_RuleCheck):
    exercise = "merge"
    hint = "fire on the first live arrival (don't wait for the others); all arrived and all dead → dead; else None"

    @staticmethod
    def expect(inputs):
        arrived = [t for t in inputs if t is not None]
        live = [t for t in arrived if not t["dead"]]
        if live:
            return live[0]
        if arrived and len(arrived) == len(inputs):
            return {"value": None, "tag": arrived[0]["tag"], "dead": True}
        return None

    def cases(self, rng):
        def call(label, *pattern):
            tag = _tag(rng)
            return (label, [None if p == "-" else _tok(rng, tag, dead=p == "dead") for p in pattern])
        return [
            Case("loop-entry", _calls(call("[live, not arrived]", "live", "-"),
                                      call("[live, not arrived]", "live", "-")), weight=2),
            Case("back-edge", _calls(call("[not arrived, live]", "-", "live"))),
            Case("dead-then-wait", _calls(call("[dead, not arrived]", "dead", "-"),
                                          call("[not arrived, dead]", "-", "dead"))),
            Case("dead-and-live", _calls(call("[dead, live]", "dead", "live"), call("[live, dead]", "live", "dead"))),
            Case("all-dead", _calls(call("[dead, dead]", "dead", "dead"), call("[dead, dead, dead]", "dead", "dead", "dead"))),
            Case("three-inputs", _calls(call("[dead, not arrived, live]", "dead", "-", "live"),
                                        call("[not arrived, dead, dead]", "-", "dead", "dead"))),
        ]


class EnterCheck(_RuleCheck):
    exercise = "enter"
    hint = "push (frame, 0) onto the tag; keep the value and the dead flag"

    @staticmethod
    def expect(token, frame):
        return {**token, "tag": token["tag"] + [[frame, 0]]}

    def cases(self, rng):
        frame = lambda: f"while_{int(rng.integers(0, 9))}"
        return [Case("live", _calls(*[("live token", _tok(rng, _tag(rng, 0)), frame()) for _ in range(2)])),
                Case("dead", _calls(("dead token", _tok(rng, dead=True), frame()))),
                Case("nested", _calls(*[("from inside a loop", _tok(rng, _tag(rng, 2)), frame()) for _ in range(2)]))]


class ExitCheck(_RuleCheck):
    exercise = "exit_"
    hint = "a live token leaves with token.tag[:-1]; a dead token returns None"

    @staticmethod
    def expect(token):
        return None if token["dead"] else {**token, "tag": token["tag"][:-1]}

    def cases(self, rng):
        return [Case("live", _calls(*[("live token", _tok(rng, _tag(rng, 1))) for _ in range(2)])),
                Case("dead", _calls(("dead token", _tok(rng, _tag(rng, 1), dead=True)))),
                Case("nested", _calls(*[("inner loop", _tok(rng, _tag(rng, 2))) for _ in range(2)]))]


class NextIterationCheck(_RuleCheck):
    exercise = "next_iteration"
    hint = "a live token gets the innermost iteration id + 1; a dead token returns None"

    @staticmethod
    def expect(token):
        if token["dead"]:
            return None
        frame, i = token["tag"][-1]
        return {**token, "tag": token["tag"][:-1] + [[frame, i + 1]]}

    def cases(self, rng):
        return [Case("live", _calls(*[("live token", _tok(rng, _tag(rng, 1))) for _ in range(2)])),
                Case("dead", _calls(("dead token", _tok(rng, _tag(rng, 1), dead=True)))),
                Case("nested", _calls(*[("inner loop", _tok(rng, _tag(rng, 2))) for _ in range(3)]))]


RULE_CHECKS = [SwitchCheck(), MergeCheck(), EnterCheck(), ExitCheck(), NextIterationCheck()]
