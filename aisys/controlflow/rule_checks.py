"""Checks of the five firing rules: tokens in, tokens out, judged against the rules'
definitions (TensorFlow's Switch/Merge/Enter/Exit/NextIteration semantics).

Every seed has the same corners, the seed drawing values, tags and frame names: live tokens
whose value is falsy (0, 0.0, False — live is the `dead` flag, never the value), dead
tokens, inputs not yet arrived, two live inputs at once (the first listed wins), tags at
depth 0 to 2, frame names that repeat inside one tag (`while_0` in `while_0`), and a call
repeated within a case (a rule keeps no state).
After every call the arguments must be as they were (a Merge's input list included).
"""
from __future__ import annotations

from typing import Any

from aisys.controlflow.tokens import ROOT, Token
from aisys.errors import StudentCodeError
from aisys.grading.shapes import ANY, BOOL, INT, STR, dict_of, expect, list_of, optional, require, tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail

TOKEN = dict_of({"value": ANY, "tag": list_of(tuple_of(STR, INT), min_len=1), "dead": BOOL})
FALSY = (0, 0.0, False)


def _tag(rng, depth: int | None = None) -> list:
    depth = int(rng.integers(0, 3)) if depth is None else depth
    return [list(t) for t in ROOT] + [[f"while_{k}", int(rng.integers(0, 6))] for k in range(depth)]


def _tok(rng, tag=None, dead=False, value=None) -> dict:
    value = round(float(rng.normal() * 10), 3) if value is None else value
    return {"value": None if dead else value, "tag": tag if tag is not None else _tag(rng), "dead": dead}


def _decode(x: Any) -> Any:
    return Token.from_plain(x) if isinstance(x, dict) else x


def _encode(token: Token | None) -> dict | None:
    if token is None:
        return None
    return {"value": token.value, "tag": [[str(f), int(i)] for f, i in token.tag], "dead": bool(token.dead)}


def _snapshot(args: list) -> list:
    """What the arguments hold, to see whether a rule changed them."""
    def one(a):
        if isinstance(a, Token):
            return ("token", a.value, a.tag, a.dead)
        if isinstance(a, list):
            return ("list", len(a), [one(t) for t in a], [id(t) for t in a])
        return ("other", a)
    return [one(a) for a in args]


def _same_value(got: Any, want: Any) -> bool:
    """Equal and of the same type: a live 0 must not come back as False, nor 0.0 as 0."""
    return type(got) is type(want) and got == want


def _compare_token(got: dict | None, want: dict | None) -> str | None:
    """What is wrong with `got` (plain, already shape-checked) given the expected token."""
    if want is None:
        return None if got is None else "returned a token but should return None (wait, or drop it)"
    if got is None:
        return "returned None but it should fire (return a token)"
    if got["dead"] != want["dead"]:
        return "the dead flag is wrong" + (" (a live input must stay live, whatever its value)" if not want["dead"]
                                           else "")
    if [list(t) for t in got["tag"]] != want["tag"]:
        return "the tag (frame stack / iteration ids) is wrong"
    if want["dead"] and got["value"] is not None:
        return "a dead token carries no value: Token(None, tag, dead=True)"
    if not want["dead"] and not _same_value(got["value"], want["value"]):
        return "the value was changed (a primitive only routes values)"
    return None


class _RuleCheck(ExerciseCheck):
    """Each case is a few calls of one rule; `expect(args)` is the rule's definition."""

    returns: Any = optional(TOKEN)          # the shape of one call's encoded result
    returns_text = "a Token or None"

    def run(self, case: Case, student: Any) -> list:
        fn = student.get(self.exercise)
        outs = []
        for call in case.inputs["calls"]:
            args = [[_decode(a) for a in arg] if isinstance(arg, list) else _decode(arg) for arg in call["args"]]
            before = _snapshot(args)
            out = fn(*args)
            self.check_type(out)
            if _snapshot(args) != before:
                raise StudentCodeError(f"{self.exercise} changed its input ({call['label']}): a firing rule "
                                       "returns new tokens and leaves its arguments as they were")
            outs.append([_encode(o) for o in out] if isinstance(out, (tuple, list)) else _encode(out))
        return outs

    def check_type(self, out: Any) -> None:
        require(out, lambda o: o is None or isinstance(o, Token), self.exercise, self.returns_text)

    def judge(self, case: Case, output: Any) -> Verdict:
        calls = case.inputs["calls"]
        shaped = expect(output, list_of(self.returns, len(calls)), "the results")
        if not shaped.passed:
            return shaped
        for k, (call, got) in enumerate(zip(calls, output)):
            want = self.expect(*call["args"])
            if isinstance(want, tuple):
                problems = [_compare_token(g, w) for g, w in zip(got, want)]
                problem = next((f"{side} side: {p}" for side, p in zip(("false", "true"), problems) if p), None)
            else:
                problem = self.compare(call["args"], got, want)
            if problem:
                return fail(f"call {k} ({call['label']}): {problem}")
        return PASS

    @staticmethod
    def expect(*args):
        raise NotImplementedError

    def compare(self, args: list, got: dict | None, want: dict | None) -> str | None:
        return _compare_token(got, want)


def _calls(*pairs) -> dict:
    return {"calls": [{"label": label, "args": list(args)} for label, *args in pairs]}


class SwitchCheck(_RuleCheck):
    exercise = "switch"
    hint = ("(false_side, true_side): the chosen side gets the data token, the other a dead token with the same "
            "tag; dead is the flag, not a falsy value")
    returns = tuple_of(TOKEN, TOKEN)

    def check_type(self, out: Any) -> None:
        require(out, lambda o: isinstance(o, (tuple, list)) and len(o) == 2 and all(isinstance(t, Token) for t in o),
                "switch", "a pair (false_side, true_side) of Tokens")

    @staticmethod
    def expect(data, pred):
        dead = {"value": None, "tag": data["tag"], "dead": True}
        if data["dead"] or pred["dead"]:
            return dead, dead
        return (dead, data) if bool(pred["value"]) else (data, dead)

    def cases(self, rng):
        def pair(label, pred_value, data_dead=False, pred_dead=False, depth=None, value=None):
            tag = _tag(rng, depth)
            return (label, _tok(rng, tag, data_dead, value), _tok(rng, tag, pred_dead, value=pred_value))
        same = pair("the same call again", True)
        return [
            Case("true-side", _calls(*[pair("pred True", True) for _ in range(3)])),
            Case("false-side", _calls(*[pair("pred False", False) for _ in range(3)])),
            Case("truthiness", _calls(pair("pred 0", 0), pair("pred 3", 3), pair("pred 0.0", 0.0),
                                      pair("pred -1.5", -1.5))),
            Case("falsy-data", _calls(*[pair(f"live data {v!r}, pred {p}", p, value=v)
                                        for v, p in zip(FALSY, (True, False, True))])),
            Case("dead-data", _calls(pair("dead data, pred True", True, data_dead=True),
                                     pair("dead data, pred False", False, data_dead=True))),
            Case("dead-pred", _calls(pair("dead pred", True, pred_dead=True),
                                     pair("dead pred", False, pred_dead=True))),
            Case("in-a-frame", _calls(pair("iteration tag", True, depth=2), pair("iteration tag", False, depth=1))),
            Case("repeated", _calls(same, same)),
        ]


class MergeCheck(_RuleCheck):
    exercise = "merge"
    hint = ("fire on the first live arrival (don't wait for the others; live is the dead flag, not the value); "
            "all arrived and all dead → dead; else None; don't change the input list")

    @staticmethod
    def expect(inputs):
        arrived = [t for t in inputs if t is not None]
        live = [t for t in arrived if not t["dead"]]
        if live:
            return live[0]
        if arrived and len(arrived) == len(inputs):
            return {"value": None, "tag": arrived[0]["tag"], "dead": True}
        return None

    def compare(self, args: list, got: dict | None, want: dict | None) -> str | None:
        problem = _compare_token(got, want)
        later = [t for t in args[0] if t is not None and not t["dead"]][1:]
        if problem and got is not None and any(_compare_token(got, t) is None for t in later):
            return "forwarded a later live input: fire on the first live one in input order"
        return problem

    def cases(self, rng):
        def call(label, *pattern, value=None):
            tag = _tag(rng)
            return (label, [None if p == "-" else _tok(rng, tag, dead=p == "dead", value=value) for p in pattern])
        def live_pair(label, *pattern):
            """Two or more live inputs with values that differ: the first live one must come out."""
            tag, first = _tag(rng), round(float(rng.normal() * 10), 3)
            values = iter([first, first + 1.5, first - 2.25])
            return (label, [None if p == "-" else _tok(rng, tag, dead=p == "dead", value=next(values))
                            for p in pattern])
        same = call("[dead, not arrived, live]", "dead", "-", "live")
        return [
            Case("loop-entry", _calls(call("[live, not arrived]", "live", "-"),
                                      call("[live, not arrived]", "live", "-")), weight=2),
            Case("back-edge", _calls(call("[not arrived, live]", "-", "live"))),
            Case("falsy-live", _calls(*[call(f"[live {v!r}, not arrived]", "live", "-", value=v) for v in FALSY],
                                      call("[not arrived, live 0]", "-", "live", value=0),
                                      call("[dead, live 0.0]", "dead", "live", value=0.0)), weight=2),
            Case("dead-then-wait", _calls(call("[dead, not arrived]", "dead", "-"),
                                          call("[not arrived, dead]", "-", "dead"))),
            Case("dead-and-live", _calls(call("[dead, live]", "dead", "live"), call("[live, dead]", "live", "dead"))),
            Case("all-dead", _calls(call("[dead, dead]", "dead", "dead"),
                                    call("[dead, dead, dead]", "dead", "dead", "dead"))),
            Case("three-inputs", _calls(call("[dead, not arrived, live]", "dead", "-", "live"),
                                        call("[not arrived, dead, dead]", "-", "dead", "dead"))),
            Case("two-live", _calls(live_pair("[live, live]", "live", "live"),
                                    live_pair("[live, dead, live]", "live", "dead", "live"),
                                    live_pair("[not arrived, live, live]", "-", "live", "live"))),
            Case("repeated", _calls(same, same)),
        ]


class EnterCheck(_RuleCheck):
    exercise = "enter"
    hint = "push (frame, 0) onto the tag, even if a frame of that name is already there; keep the value and dead flag"
    returns, returns_text = TOKEN, "a Token"

    def check_type(self, out: Any) -> None:
        require(out, Token, "enter", "a Token")

    @staticmethod
    def expect(token, frame):
        return {**token, "tag": token["tag"] + [[frame, 0]]}

    def cases(self, rng):
        frame = lambda: f"while_{int(rng.integers(0, 9))}"  # noqa: E731
        inner = _tag(rng, 1)
        return [Case("live", _calls(*[("live token", _tok(rng, _tag(rng, 0)), frame()) for _ in range(2)])),
                Case("falsy-live", _calls(*[(f"live {v!r}", _tok(rng, value=v), frame()) for v in FALSY])),
                Case("dead", _calls(("dead token", _tok(rng, dead=True), frame()))),
                Case("nested", _calls(*[("from inside a loop", _tok(rng, _tag(rng, 2)), frame()) for _ in range(2)])),
                Case("same-name", _calls((f"into {inner[-1][0]} again", _tok(rng, inner), inner[-1][0]),
                                         ("a frame named main", _tok(rng, _tag(rng, 0)), "main")))]


class ExitCheck(_RuleCheck):
    exercise = "exit_"
    hint = "a live token leaves with token.tag[:-1] (only the innermost frame goes); a dead token returns None"

    @staticmethod
    def expect(token):
        return None if token["dead"] else {**token, "tag": token["tag"][:-1]}

    def cases(self, rng):
        twice = [list(t) for t in ROOT] + [["while_0", int(rng.integers(0, 6))], ["while_0", int(rng.integers(0, 6))]]
        return [Case("live", _calls(*[("live token", _tok(rng, _tag(rng, 1))) for _ in range(2)])),
                Case("falsy-live", _calls(*[(f"live {v!r}", _tok(rng, _tag(rng, 1), value=v)) for v in FALSY])),
                Case("dead", _calls(("dead token", _tok(rng, _tag(rng, 1), dead=True)))),
                Case("nested", _calls(*[("inner loop", _tok(rng, _tag(rng, 2))) for _ in range(2)])),
                Case("same-name", _calls(("while_0 inside while_0", _tok(rng, twice))))]


class NextIterationCheck(_RuleCheck):
    exercise = "next_iteration"
    hint = "a live token gets the innermost iteration id + 1 (only the innermost); a dead token returns None"

    @staticmethod
    def expect(token):
        if token["dead"]:
            return None
        frame, i = token["tag"][-1]
        return {**token, "tag": token["tag"][:-1] + [[frame, i + 1]]}

    def cases(self, rng):
        twice = [list(t) for t in ROOT] + [["while_0", int(rng.integers(1, 6))], ["while_0", 0]]
        return [Case("live", _calls(*[("live token", _tok(rng, _tag(rng, 1))) for _ in range(2)])),
                Case("falsy-live", _calls(*[(f"live {v!r}", _tok(rng, _tag(rng, 1), value=v)) for v in FALSY])),
                Case("dead", _calls(("dead token", _tok(rng, _tag(rng, 1), dead=True)))),
                Case("nested", _calls(*[("inner loop", _tok(rng, _tag(rng, 2))) for _ in range(3)])),
                Case("same-name", _calls(("while_0 inside while_0", _tok(rng, twice))))]


RULE_CHECKS = [SwitchCheck(), MergeCheck(), EnterCheck(), ExitCheck(), NextIterationCheck()]
