"""Counting how a result was computed, to grade and to show it.

`jacobian_forward` must make n JVPs and `jacobian_reverse` m VJPs; `accumulation_demo` must
run torch's backward three times. Counting by patching a module attribute misses a call
made through another name (`from torch.autograd import backward`, a default argument bound
at import), so the checks count where the work happens instead:

- `counting_code_runs(fn)`: every top-level run of fn's *code object*, however it is called
  (a profile hook; a recursive implementation still counts once per outer call);
- `counting_backward_runs()`: every run of torch's autograd engine (`Tensor.backward`,
  `torch.autograd.backward` and `torch.autograd.grad` all end there).

`counting_calls` (patching a name) stays for callers that count their own functions.
"""
from __future__ import annotations

import contextlib
import sys
from types import ModuleType
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def counting_code_runs(fn: Callable) -> Iterator[dict]:
    """Yields {"calls": n}: how many times `fn`'s code started running while not already
    running (so recursion counts once). Profiles this thread only, for the block's duration."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    counter = {"calls": 0}
    if code is None:   # not a Python function: nothing to watch
        yield counter
        return
    depth = [0]
    previous = sys.getprofile()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if frame.f_code is code:
            if event == "call":
                counter["calls"] += depth[0] == 0
                depth[0] += 1
            elif event == "return":
                depth[0] -= 1

    sys.setprofile(profile)
    try:
        yield counter
    finally:
        sys.setprofile(previous)


@contextlib.contextmanager
def counting_backward_runs() -> Iterator[dict]:
    """Yields {"calls": n}: how many times torch's autograd engine ran a backward pass."""
    from torch.autograd.variable import Variable

    engine = Variable._execution_engine
    counter = {"calls": 0}

    class CountingEngine:
        def run_backward(self, *args: Any, **kwargs: Any) -> Any:
            counter["calls"] += 1
            return engine.run_backward(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(engine, name)

    Variable._execution_engine = CountingEngine()
    try:
        yield counter
    finally:
        Variable._execution_engine = engine


@contextlib.contextmanager
def counting_calls(owner: ModuleType, name: str, *aliases: ModuleType) -> Iterator[dict]:
    """Replace `owner.name` (and the same object bound in `aliases`) by a counting wrapper.

    Yields {"calls": n}, updated live; the original is restored on exit.
    """
    original = getattr(owner, name)
    counter = {"calls": 0}

    def counted(*args, **kwargs):
        counter["calls"] += 1
        return original(*args, **kwargs)

    patched = [m for m in (owner, *aliases) if getattr(m, name, None) is original]
    for module in patched:
        setattr(module, name, counted)
    try:
        yield counter
    finally:
        for module in patched:
            setattr(module, name, original)
