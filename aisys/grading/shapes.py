"""Shape before values: what a judge expects to be handed, and how to say what came instead.

Every judge starts by checking the *shape* of what the child sent back — one entry per
rank, every list at full length, every field present and of the right type — and only then
compares values. A forged, empty or `None`-laden output must never reach a comparison that
`zip` or `all([])` would quietly pass.

    SHAPE = list_of(STR)                              # a list of node names
    SHAPE = per_rank(dict_of({"out": array(), "grads": list_of(array())}), world)
    verdict = expect(output, SHAPE, "topo_sort's order")   # PASS, or a message naming what came

`describe(value)` words any value the way a student reads it ("None", "a str ('x')",
"a list of 3 ints", "a tensor of shape (2, 3) (torch.float32)"); `require(...)` is the
same check for the child's side, where it raises `StudentCodeError` so the student reads
"topo_sort returned None; expected a list of node names" instead of a grader traceback.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from aisys.errors import StudentCodeError
from aisys.grading.spec import PASS, Verdict, fail

_MAX_SHOWN = 40


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    if type(value).__module__ == "torch" and hasattr(value, "shape"):
        return "tensor"
    if isinstance(value, np.ndarray):
        return "array"
    return type(value).__name__


def describe(value: Any) -> str:
    """A short phrase for what a value is: type, size, and for small scalars the value."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"a bool ({value})"
    if isinstance(value, (int, float)) and type(value).__module__ == "builtins":
        return f"{_a(type(value).__name__)} ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
        return f"a str ({shown!r})"
    kind = _kind(value)
    if kind in ("tensor", "array"):
        shape = tuple(int(d) for d in value.shape)
        return f"{_a(kind)} of shape {shape} ({value.dtype})"
    if isinstance(value, (list, tuple)):
        noun = type(value).__name__
        if not value:
            return f"an empty {noun}"
        kinds = list(dict.fromkeys(_kind(v) for v in value))
        of = f"{kinds[0]}s" if len(kinds) == 1 and kinds[0] != "None" else \
            ("Nones" if kinds == ["None"] else "items (" + ", ".join(kinds[:4]) + (", …" if len(kinds) > 4 else "") + ")")
        return f"{_a(noun)} of {len(value)} {of}" if len(value) > 1 else f"{_a(noun)} of 1 {of.rstrip('s')}"
    if isinstance(value, dict):
        if not value:
            return "an empty dict"
        keys = ", ".join(repr(k) for k in list(value)[:5]) + (", …" if len(value) > 5 else "")
        return f"a dict with keys {keys}"
    return _a(type(value).__name__)


@dataclass(frozen=True)
class Shape:
    """What a value must look like. `text` is said to the student ("a list of 3 ints")."""

    text: str
    problem: Callable[[Any, str], str | None]   # (value, path) → None, or what is wrong there

    def __str__(self) -> str:
        return self.text


def _leaf(text: str, ok: Callable[[Any], bool]) -> Shape:
    def problem(value: Any, path: str) -> str | None:
        return None if ok(value) else f"{path} should be {text}, got {describe(value)}"
    return Shape(text, problem)


def _is_number(v: Any) -> bool:   # an exact Fraction is a number too (it crosses as a float)
    return (isinstance(v, (int, float, np.integer, np.floating)) or type(v) is Fraction) \
        and not isinstance(v, (bool, np.bool_))


ANY = Shape("anything", lambda value, path: None)
NUMBER = _leaf("a number", _is_number)
INT = _leaf("an int", lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)))
FLOAT = NUMBER
BOOL = _leaf("a bool", lambda v: isinstance(v, (bool, np.bool_)))
STR = _leaf("a str", lambda v: isinstance(v, str))


def optional(inner: Shape) -> Shape:
    """`inner` or None."""
    return Shape(f"{inner.text} or None",
                 lambda value, path: None if value is None else inner.problem(value, path))


def one_of(*choices: Any) -> Shape:
    """Exactly one of a few plain values (a status word, a device name)."""
    text = "one of " + ", ".join(repr(c) for c in choices)
    return _leaf(text, lambda v: any(type(v) is type(c) and v == c for c in choices))


def list_of(item: Shape, n: int | None = None, *, min_len: int = 0) -> Shape:
    """A list (or tuple) of `item`s; exactly `n` long when given."""
    size = f"{n} " if n is not None else ""
    text = f"a list of {size}{_plural(item.text)}"

    def problem(value: Any, path: str) -> str | None:
        if not isinstance(value, (list, tuple)):
            return f"{path} should be {text}, got {describe(value)}"
        if n is not None and len(value) != n:
            return f"{path} should have {n} entries, got {len(value)}"
        if len(value) < min_len:
            return f"{path} should have at least {min_len} entries, got {len(value)}"
        for i, v in enumerate(value):
            wrong = item.problem(v, f"{path}[{i}]")
            if wrong:
                return wrong
        return None
    return Shape(text, problem)


def tuple_of(*items: Shape) -> Shape:
    """A fixed-length list whose entries have their own shapes: (order, cycle_flag)."""
    text = "(" + ", ".join(i.text for i in items) + ")"

    def problem(value: Any, path: str) -> str | None:
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            return f"{path} should be {len(items)} values {text}, got {describe(value)}"
        for i, (v, shape) in enumerate(zip(value, items)):
            wrong = shape.problem(v, f"{path}[{i}]")
            if wrong:
                return wrong
        return None
    return Shape(text, problem)


def dict_of(fields: dict[str, Shape], *, extra: bool = False) -> Shape:
    """A dict with exactly these keys (more allowed with `extra=True`)."""
    text = "a dict with keys " + ", ".join(repr(k) for k in fields)

    def problem(value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path} should be {text}, got {describe(value)}"
        missing = [k for k in fields if k not in value]
        if missing:
            return f"{path} is missing the key {missing[0]!r}"
        unexpected = [k for k in value if k not in fields]
        if unexpected and not extra:
            return f"{path} has an unexpected key {unexpected[0]!r}"
        for key, shape in fields.items():
            wrong = shape.problem(value[key], f"{path}[{key!r}]")
            if wrong:
                return wrong
        return None
    return Shape(text, problem)


def mapping(value_shape: Shape, *, keys: Any = None, key: Shape = STR) -> Shape:
    """A dict from arbitrary keys to `value_shape`s; exactly `keys` when given."""
    wanted = None if keys is None else set(keys)
    text = f"a dict of {_plural(value_shape.text)}"

    def problem(value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path} should be {text}, got {describe(value)}"
        if wanted is not None and set(value) != wanted:
            gone = sorted(map(str, wanted - set(value)))
            more = sorted(map(str, set(value) - wanted))
            return (f"{path} is missing the key {gone[0]!r}" if gone
                    else f"{path} has an unexpected key {more[0]!r}")
        for k, v in value.items():
            wrong = key.problem(k, f"a key of {path}") or value_shape.problem(v, f"{path}[{k!r}]")
            if wrong:
                return wrong
        return None
    return Shape(text, problem)


def array(shape: tuple[int | None, ...] | None = None, *, ndim: int | None = None) -> Shape:
    """Numbers: an array, or nested lists of numbers, of this shape (None: any size there)."""
    want_ndim = len(shape) if shape is not None else ndim
    text = (f"an array of shape {tuple('?' if d is None else d for d in shape)}" if shape is not None
            else f"a {ndim}-d array" if ndim is not None else "an array of numbers")

    def problem(value: Any, path: str) -> str | None:
        where = path or "it"
        if value is None or isinstance(value, (str, bytes, dict, bool)):
            return f"{where} should be {text}, got {describe(value)}"
        try:
            got = np.asarray(value)
        except (TypeError, ValueError):
            return f"{where} should be {text}, got {describe(value)}"
        if got.dtype.kind not in "biuf" or got.dtype.kind == "b":
            return f"{where} should be {text}, got {describe(value)}"
        if want_ndim is not None and got.ndim != want_ndim:
            return f"{where} should be {text}, got {describe(got)}"
        if shape is not None and any(w is not None and w != g for w, g in zip(shape, got.shape)):
            return f"{where} should be {text}, got {describe(got)}"
        return None
    return Shape(text, problem)


def per_rank(item: Shape, world: int) -> Shape:
    """A distributed judge's output: one `item` per rank, in rank order."""
    inner = list_of(item, world)
    text = f"one {_singular(item.text)} from each of {world} ranks"

    def problem(value: Any, path: str) -> str | None:
        if not isinstance(value, (list, tuple)) or len(value) != world:
            return f"{path}: expected a result from each of {world} ranks, got {describe(value)}"
        for r, v in enumerate(value):
            wrong = item.problem(v, f"{path} from rank {r}")
            if wrong:
                return wrong
        return inner.problem(value, path)
    return Shape(text, problem)


def expect(value: Any, shape: Shape, what: str = "the output") -> Verdict:
    """PASS when `value` has `shape`; otherwise a failure saying where and what came instead."""
    wrong = shape.problem(value, what)
    return PASS if wrong is None else fail(wrong)


def require(value: Any, ok: Shape | type | tuple | Callable[[Any], bool], who: str, expected: str = "") -> Any:
    """In the child, before using what student code returned: raise a readable
    StudentCodeError ("MyReLU.apply returned None; expected a tensor") if it is not `ok`."""
    if isinstance(ok, Shape):
        good = ok.problem(value, who) is None
        expected = expected or ok.text
    elif isinstance(ok, (type, tuple)):
        good = isinstance(value, ok) and not (isinstance(value, bool) and ok in (int, float))
        expected = expected or _a(getattr(ok, "__name__", "value"))
    else:
        good = bool(ok(value))
    if not good:
        raise StudentCodeError(f"{who} returned {describe(value)}; expected {expected or 'something else'}")
    return value


def _plural(text: str) -> str:
    for article in ("an ", "a "):
        if text.startswith(article):
            noun = text[len(article):]
            head, sep, rest = noun.partition(" ")
            return f"{head}s{sep}{rest}" if not head.endswith("s") else noun
    return text


def _singular(text: str) -> str:
    return text[3:] if text.startswith("an ") else text[2:] if text.startswith("a ") else text
