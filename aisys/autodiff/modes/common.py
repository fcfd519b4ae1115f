"""What lab 02's checks share: program cases, leaves, and child-side guards on student values.

The guards turn "an op returned None" into the student's words ("Variable op 'mul' returned
None; expected a Variable") before the bench's evaluator or sweep trips over it.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from aisys.autodiff.programs import random_program
from aisys.autodiff.truth import INPUTS
from aisys.grading.shapes import STR, list_of, require
from aisys.grading.spec import Case

ARRAY_SHAPES = ([3, 1], [4])
CHANGED = list_of(STR)   # what student code changed among its arguments (empty: nothing)


def draw(rng, shapes=((), ())) -> list:
    """Inputs for a program: positive scalars (log and pow need them), arrays in [-2, 2]."""
    return [float(np.round(rng.uniform(0.5, 2.0), 3)) if not s else
            np.round(rng.uniform(-2.0, 2.0, size=s), 3).tolist() for s in shapes]


def program_case(rng, cid: str, steps=None, shapes=((), ()), weight: float = 1.0, **extra) -> Case:
    """A case holding a program (a fixed one, or a random one when `steps` is None)."""
    if steps is None:
        steps, outs = random_program(rng, int(rng.integers(5, 12)))
        output = outs[-1]
    else:
        output = steps[-1][0]
    return Case(cid, {"steps": [list(s) for s in steps], "output": output,
                      "values": draw(rng, shapes), **extra}, weight)


def as_value(v: Any) -> Any:
    return np.asarray(v, dtype=float) if isinstance(v, list) else float(v)


def leaves(mod: Any, values: Sequence[Any], names: Sequence[str | None] = INPUTS) -> list:
    """The student's Variables for a program's inputs (a None name: the Variable's default)."""
    return [mod.Variable(as_value(v)) if n is None else mod.Variable(as_value(v), name=n)
            for v, n in zip(values, names)]


def result_of(cls: type) -> Callable[[str, Any], Any]:
    """An `evaluate(check=...)` guard: every op on a `cls` must give a `cls` back."""
    name = cls.__name__

    def check(op: str, result: Any) -> None:
        require(result, lambda v: isinstance(v, cls), f"{name} op {op!r}", f"a {name}")
    return check


@contextlib.contextmanager
def open_tape(mod: Any) -> Iterator[Any]:
    """`with mod.Tape() as tape:`, with what __enter__ returned checked first. The student's
    __exit__ is told of no exception, so whatever it returns cannot swallow one of ours."""
    block = mod.Tape()
    tape = block.__enter__()
    try:
        yield require(tape, lambda v: isinstance(v, mod.Tape), "Tape.__enter__", "the tape itself (return self)")
    finally:
        block.__exit__(None, None, None)


def gradients(grads: Any, n: int, who: str, variable: type) -> list:
    """A backward rule's or grad's result: n Variables (rules may also say None), checked."""
    require(grads, lambda v: isinstance(v, (list, tuple)) and len(v) == n, who,
            f"{n} gradient{'s' if n > 1 else ''} in a list or tuple")
    for g in grads:
        require(g, lambda v: v is None or isinstance(v, variable), f"{who} (an entry)", "a Variable or None")
    return list(grads)


def snapshot(*arrays: Any) -> list:
    """Copies of values, to tell afterwards whether student code edited them in place."""
    return [np.array(a, dtype=float, copy=True) for a in arrays]


def edited(before: list, after: Sequence[Any], names: Sequence[str]) -> list[str]:
    return [f"{name} was modified" for name, b, a in zip(names, before, after)
            if not np.array_equal(b, np.asarray(a, dtype=float), equal_nan=True)]
