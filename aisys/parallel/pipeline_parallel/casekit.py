"""Shared pieces of lab 09's checks: calls that must be refused, pure-function cases, comm records.

Rank side: `attempt_call` runs a student function and reports what it returned or raised as
plain data; `comm_records` turns CommLog records into [op, peer, bytes] triples.
Parent side: `judge_refusal` and `pure_output`, the shape every pure case comes back in.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from aisys.grading.shapes import (INT, STR, describe, dict_of, expect, list_of, optional, per_rank, require,
                                  tuple_of)
from aisys.grading.spec import PASS, Case, Verdict, fail

PURE_WORLD = 2      # pure functions run on ranks 0 and 1 (a one-rank scope would need a group of its own)
REFUSAL = dict_of({"raised": optional(STR), "message": STR, "returned": STR})
COMM = list_of(tuple_of(STR, optional(INT), INT))


def pure_case(name: str, inputs: dict, weight: float = 1.0) -> Case:
    """A case of a pure function: it runs on the first PURE_WORLD ranks, which must agree."""
    return Case(name, {"world": PURE_WORLD, **inputs}, weight=weight)


def call_text(name: str, *args: Any) -> str:
    """How a call reads in a message: pipeline_bubble(4, 8)."""
    return f"{name}({', '.join(repr(a) for a in args)})"


def attempt_refusal(fn: Callable, *args: Any) -> dict:
    """Call `fn(*args)`, which must raise ValueError; report what happened (plain data)."""
    try:
        value = fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:  # the student's choice of exception is judged in the parent
        return {"raised": type(err).__name__, "message": str(err)[:300], "returned": ""}
    return {"raised": None, "message": "", "returned": describe(value)}


def pure_call(case: Case, fn: Callable, args: tuple, name: str, shape: Any, expected: str) -> dict:
    """A pure exercise's run: the refusal (for a case that must raise) or `{"value": ...}`,
    checked against `shape` here so a wrong type reads as what came back."""
    if case.inputs.get("refuse"):
        return attempt_refusal(fn, *args)
    return {"value": require(fn(*args), shape, call_text(name, *args), expected)}


def judge_refusal(output: Any, call: str, why: str, numbers: tuple = ()) -> Verdict:
    """The call raised ValueError (whose message names `numbers`, if given)."""
    verdict = expect(output, per_rank(REFUSAL, PURE_WORLD), f"the result of {call}")
    if not verdict.passed:
        return verdict
    got = output[0]
    if any(other != got for other in output[1:]):
        return fail(f"the ranks disagree about {call} (a pure function: same arguments, same outcome)")
    if got["raised"] is None:
        return fail(f"{call} returned {got['returned']}; {why} must raise ValueError")
    if got["raised"] != "ValueError":
        return fail(f"{call} raised {got['raised']}; {why} must raise ValueError")
    found = set(re.findall(r"-?\d+", got["message"]))
    missing = [n for n in numbers if str(n) not in found]
    if missing:
        return fail(f"{call}: the ValueError should name the numbers at fault ({', '.join(map(str, numbers))})")
    return PASS


def pure_output(output: Any, value_shape, call: str, extra: dict | None = None) -> Verdict:
    """A pure case's output: one {"value": ...} per rank, all equal (then judge output[0])."""
    verdict = expect(output, per_rank(dict_of({"value": value_shape, **(extra or {})}), PURE_WORLD),
                     f"the result of {call}")
    if verdict.passed and any(not _same(other, output[0]) for other in output[1:]):
        return fail(f"the ranks returned different results for {call} (a pure function: same arguments, same result)")
    return verdict


def _same(a: Any, b: Any) -> bool:
    """Plain data equal, type for type (1 and 1.0 differ: a rank that disagrees is a rank that disagrees)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def comm_records(recs: list[dict]) -> list[list]:
    """CommLog records as [op, peer, bytes] (peer None for collectives)."""
    return [[str(r["op"]), None if r["peer"] is None else int(r["peer"]), int(r["bytes"])] for r in recs]


def comm_problem(rank: int, got: list, want: dict[tuple[str, int], tuple[int, int]], what: str) -> str | None:
    """None, or what is wrong with rank `rank`'s [op, peer, bytes] records, given
    want[(op, peer)] = (count, bytes each)."""
    counts: dict[tuple[str, Any], list[int]] = {}
    for op, peer, nbytes in got:
        counts.setdefault((op, peer), []).append(nbytes)
    for (op, peer), sizes in sorted(counts.items(), key=str):
        if (op, peer) not in want:
            target = f"rank {peer}" if peer is not None else "the group"
            return (f"rank {rank} made {len(sizes)} {op}(s) with {target} during {what}; the pipeline has no "
                    f"such message (each stage talks only to its neighbours: activations forward, gradients back)")
    for (op, peer), (count, nbytes) in want.items():
        sizes = counts.get((op, peer), [])
        direction = "to" if op == "send" else "from"
        if len(sizes) != count:
            return (f"rank {rank} made {len(sizes)} {op}(s) {direction} rank {peer} during {what}; "
                    f"the schedule implies {count}")
        odd = [n for n in sizes if n != nbytes]
        if odd:
            return (f"rank {rank}: a {op} {direction} rank {peer} during {what} carried {odd[0]} bytes, "
                    "not one activation (rows × hidden, the inputs' dtype)")
    return None

