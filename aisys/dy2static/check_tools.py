"""What lab 05's checks share: inputs from plain data, outputs to plain numbers (with a clear
message when student code hands back something else), a watch on the Python of a function,
and seeded vectors."""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator

import numpy as np

from aisys.errors import StudentCodeError
from aisys.grading.shapes import describe


def tensors(spec: list) -> tuple:
    """Inputs from plain data: a list becomes a float tensor, an int a 0-d int64 tensor."""
    import torch

    return tuple(torch.tensor(v, dtype=torch.int64 if isinstance(v, int) else torch.float32) for v in spec)


def flat(output: Any, who: str) -> list[float]:
    """Every tensor of an output (tuples, lists, dicts by sorted key), flattened into one list
    of floats. Anything but tensors in there is the student's mistake, said as such."""
    import torch

    leaves: list = []

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            leaves.append(value.detach().to(torch.float64).reshape(-1))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
            for key in sorted(value):
                walk(value[key])
        else:
            raise StudentCodeError(f"{who} returned {describe(value)} where a tensor belongs; "
                                   "expected the same structure of tensors as the eager function")
    walk(output)
    return torch.cat(leaves).tolist() if leaves else []


@contextlib.contextmanager
def python_calls(fn: Callable) -> Iterator[list[int]]:
    """Count the calls of `fn`'s own Python code inside the block (a profile hook on this
    thread): a replayed static graph runs the recorded ops and never `fn` itself."""
    code, count = fn.__code__, [0]

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is code:
            count[0] += 1
    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(previous)


def snapshot(values: tuple) -> list:
    """Copies of tensors (to tell later whether student code changed them in place)."""
    return [v.clone() for v in values]


def changed(before: list, after: tuple) -> bool:
    import torch

    return any(not torch.equal(a, b) for a, b in zip(before, after))


def vector(rng: np.random.Generator, sign: float = 0.0, scale: float = 1.0, size: int = 4) -> list:
    """A seeded list of floats (rounded, so cases print well); all of one sign when asked."""
    v = rng.normal(size=size) * scale
    if sign:
        v = (np.abs(v) + 0.05) * sign
    return [round(float(x), 4) for x in v]
