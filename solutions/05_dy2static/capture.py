"""Lab 05, part 4 — what the three PyTorch capture tools make of a function.

| tool | how it captures | on a data-dependent `if` |
|---|---|---|
| `torch.fx.symbolic_trace` | runs the Python with *proxies* instead of tensors | raises `TraceError`: a proxy has no truth value |
| `torch.jit.trace` | runs once with real example tensors, records aten ops | succeeds, warns (`TracerWarning`), bakes in one branch |
| `torch.export.export` | Dynamo: symbolic bytecode analysis + guards | raises: it cannot guard on a data-dependent value |

Dynamo (behind `torch.compile` and `torch.export`) reads bytecode, not source, and yields
FX graphs; where it cannot continue, `torch.compile` splits the graph and falls back to
Python, while `torch.export` (one whole graph or nothing) raises. Functional control flow
(`torch.cond`) is the way to keep a data-dependent branch in an exported graph.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import torch


def capture_report(fn: Callable, example_inputs: tuple) -> dict[str, dict[str, Any]]:
    """Try the three tools on `fn` and report what happened, one entry per tool:
    `{"symbolic_trace": r, "jit_trace": r, "export": r}` with each

        r = {"ok": bool, "error": <exception class name> or None, "ops": int or None,
             "warned": bool}

    - `ops` counts the operations in the captured graph: for symbolic_trace, the FX nodes whose
      `op` is call_function (a torch function or operator), call_method (a Tensor method such
      as `x.sin()`) or call_module (a submodule such as `self.lin`); for jit_trace, the nodes
      of `traced.inlined_graph.nodes()` whose `kind()` starts with "aten::" (inlined: a
      traced Module calls its submodules, and their ops count too); for export, the
      call_function nodes of `exported.graph` (wrap `fn` in an `nn.Module` whose forward
      calls it). None when the tool raised. `fn` may be a function or an `nn.Module`.
    - `warned`: whether a `torch.jit.TracerWarning` was issued (jit_trace only; False else).

    Hint: `warnings.catch_warnings(record=True)` with `warnings.simplefilter("always")`;
    `type(err).__name__` for the error.
    """
    # BEGIN SOLUTION
    def attempt(capture: Callable[[], int]) -> dict[str, Any]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ops, error = capture(), None
            except Exception as err:  # the tool's refusal is the answer
                ops, error = None, type(err).__name__
        warned = any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)
        return {"ok": error is None, "error": error, "ops": ops, "warned": warned}

    def symbolic() -> int:
        gm = torch.fx.symbolic_trace(fn)
        return sum(n.op in ("call_function", "call_method", "call_module") for n in gm.graph.nodes)

    def jit() -> int:
        traced = torch.jit.trace(fn, example_inputs)
        return sum(n.kind().startswith("aten::") for n in traced.inlined_graph.nodes())

    class Wrapper(torch.nn.Module):
        def forward(self, *args):
            return fn(*args)

    def export() -> int:
        exported = torch.export.export(Wrapper(), tuple(example_inputs))
        return sum(n.op == "call_function" for n in exported.graph.nodes)

    report = {"symbolic_trace": attempt(symbolic), "jit_trace": attempt(jit), "export": attempt(export)}
    for name in ("symbolic_trace", "export"):
        report[name]["warned"] = False
    return report
    # END SOLUTION
