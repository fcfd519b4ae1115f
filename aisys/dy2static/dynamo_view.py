"""What TorchDynamo (behind `torch.compile`) makes of a function, in plain data.

`torch._dynamo.explain(fn)(*args)` runs Dynamo's bytecode analysis without compiling a
kernel (a fraction of a second, where `torch.compile` with inductor takes ~20 s here) and
says how many FX graphs it captured, where and why it had to *break* the graph — fall back
to Python for one instruction and resume in a new graph — and which *guards* it installed:
the assumptions (input dtype, shape, device, grad mode...) that must still hold for a later
call to reuse the captured graphs instead of recompiling. The demo shows it beside
`to_static`, which leaves no data-dependent jump to break on.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable

from aisys.quiet import quiet_torch


def explain(fn: Callable, *args: Any) -> dict:
    """{"graphs": [[op, ...] per graph], "breaks": [(line in fn, source line, reason)],
    "guards": [what is guarded, ...]} for one call of `fn(*args)`."""
    import torch._dynamo as dynamo

    dynamo.reset()
    with quiet_torch():
        result = dynamo.explain(fn)(*args)
    graphs = [[_op_name(n) for n in g.graph.nodes if n.op in ("call_function", "call_method", "call_module")]
              for g in result.graphs]
    return {"graphs": graphs, "breaks": _breaks(fn, result.break_reasons), "guards": _guards(result.out_guards)}


def _op_name(node: Any) -> str:
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    return name.split(".")[-1]


def _breaks(fn: Callable, reasons: list) -> list[tuple[int, str, str]]:
    code = getattr(fn, "__code__", None)
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        lines, first = [], 0
    found: list[tuple[int, str, str]] = []
    for reason in reasons:
        frames = [f for f in reason.user_stack if code is None or f.filename == code.co_filename]
        line = frames[-1].lineno if frames else 0
        text = lines[line - first].strip() if 0 <= line - first < len(lines) else ""
        item = (line - first + 1 if line else 0, text, str(reason.reason).split("\n")[0][:60])
        if item not in found:   # Dynamo may report one jump once per attempt
            found.append(item)
    return found


def _guards(guards: Any) -> list[str]:
    words: dict[str, None] = {}
    for guard in guards:
        kind = guard.create_fn_name() if callable(getattr(guard, "create_fn_name", None)) else str(guard.create_fn)
        kind = kind.lower().replace("_", " ")
        if guard.name:
            name = re.sub(r"[LG]\['([^']*)'\]", r"\1", guard.name)
            words[f"{name}: {'dtype, device, shape, strides' if kind == 'tensor match' else kind}"] = None
        elif kind not in ("shape env", "global state"):
            words[kind] = None
    return list(words)
