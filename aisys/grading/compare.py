"""The one comparison helper: student output vs ground truth, with messages that teach.

A failure says *where*, *which way* and *how much* — the largest difference's index, too
high or too low, and its order of magnitude ("off by ~1e-01"), a wrong shape, a NaN — but
never the expected value or the exact difference: with the student's own value beside it,
an exact difference would be the answer.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from aisys.grading.shapes import describe
from aisys.grading.spec import PASS, Verdict, fail


def magnitude(diff: float) -> str:
    """An order of magnitude, never the exact difference: 0.284 → '~1e-01'."""
    diff = abs(float(diff))
    if not np.isfinite(diff):
        return "an infinite amount"
    if diff == 0:
        return "0"
    return f"~1e{int(np.floor(np.log10(diff))):+03d}"


def off_by(got: float, want: float, what: str = "the value", unit: str = "") -> str:
    """'the value is too high (off by ~1e-01 s)': direction and magnitude class only."""
    way = "too high" if got > want else "too low"
    unit = f" {unit}" if unit else ""
    return f"{what} is {way} (off by {magnitude(got - want)}{unit})"


def close(actual: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-6,
          what: str = "output") -> Verdict:
    """Numeric closeness of arrays, scalars or nested lists (shapes must match exactly)."""
    if actual is None:
        return fail(f"{what} is None (did the function forget to return?)")
    if isinstance(actual, (str, bytes, dict)):
        return fail(f"{what} should be numbers, got {describe(actual)}")
    try:
        got = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return fail(f"{what} should be numbers, got {describe(actual)}")
    want = np.asarray(expected, dtype=np.float64)
    if got.shape != want.shape:
        return fail(f"{what} has shape {tuple(got.shape)}, expected shape {tuple(want.shape)}")
    shape = got.shape
    got, want = got.reshape(-1), want.reshape(-1)   # 1-d views: 0-d arrays can't be indexed
    bad = ~np.isfinite(got) & np.isfinite(want)
    if bad.any():
        return fail(f"{what} has a non-finite value (nan/inf) at {_where(_unflat(np.argmax(bad), shape))}")
    diff = np.abs(got - want)
    diff[np.isnan(diff) & (np.isnan(got) == np.isnan(want))] = 0.0
    too_far = diff > atol + rtol * np.abs(want)
    if too_far.any():
        i = int(np.argmax(np.where(too_far, diff, -1.0)))
        if too_far.size == 1:
            return fail(off_by(got[i], want[i], what))
        way = "too high" if got[i] > want[i] else "too low"
        return fail(f"{what}: largest difference {magnitude(diff[i])} ({way}) at {_where(_unflat(i, shape))}"
                    f" ({int(too_far.sum())} of {too_far.size} values off)")
    return PASS


def _unflat(i: int, shape: tuple) -> tuple:
    return tuple(int(k) for k in np.unravel_index(i, shape)) if shape else ()


def equal(actual: Any, expected: Any, *, what: str = "output") -> Verdict:
    """Exact equality of plain data (ints, strings, lists, dicts), naming the first mismatch."""
    path = _first_mismatch(actual, expected)
    if path is None:
        return PASS
    spot, _, reason = path.partition(" (")
    where = f" at {spot}" if spot else ""
    return fail(f"{what}: {reason.rstrip(')') if reason else 'wrong value'}{where}")


def _first_mismatch(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(b, dict):
        if not isinstance(a, dict):
            return f"{path} (expected a dict, got {type(a).__name__})"
        for key in b:
            if key not in a:
                return f"{path}[{key!r}] (missing)"
            sub = _first_mismatch(a[key], b[key], f"{path}[{key!r}]")
            if sub is not None:
                return sub
        extra = [k for k in a if k not in b]
        return f"{path}[{extra[0]!r}] (unexpected key)" if extra else None
    if isinstance(b, (list, tuple)):
        if not isinstance(a, (list, tuple)):
            return f"{path} (expected a list, got {type(a).__name__})"
        if len(a) != len(b):
            return f"{path} (length {len(a)}, expected {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            sub = _first_mismatch(x, y, f"{path}[{i}]")
            if sub is not None:
                return sub
        return None
    if type(a) is bool or type(b) is bool:
        return None if a is b else path
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return None if np.array_equal(np.asarray(a), np.asarray(b)) else path
    numbers = (int, float)
    if type(a) in numbers and type(b) in numbers:
        return None if a == b else path
    return None if type(a) is type(b) and type(a) in (str, type(None)) and a == b else path


def _where(index: Sequence[int]) -> str:
    index = tuple(int(i) for i in index)
    return f"index {index}" if index else "the scalar"
