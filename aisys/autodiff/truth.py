"""Ground truth for the autodiff labs: torch differentiating the same program, in float64.

Programs are the plain-data steps of `aisys.autodiff.programs`; every helper here runs them
on torch tensors and asks torch's own autodiff (`torch.autograd.grad`, `torch.func.jvp`,
`torch.autograd.functional.jacobian`). Checks call these in the grading parent only.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from aisys.autodiff.programs import evaluate
from aisys.grading.compare import close
from aisys.grading.spec import PASS, Verdict, fail

INPUTS = ("x1", "x2")
TOL = {"rtol": 1e-7, "atol": 1e-9}   # float64 chain rules agree to far better than this


def tensors(values: Sequence[Any], requires_grad: bool = False) -> list:
    import torch

    return [torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64, requires_grad=requires_grad)
            for v in values]


def _grads(y, xs, create_graph: bool) -> list:
    """torch.autograd.grad of y.sum(), with zeros (not None) for unused inputs."""
    import torch

    if not y.requires_grad:
        return [torch.zeros_like(x) for x in xs]
    got = torch.autograd.grad(y.sum(), xs, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(got, xs)]


def torch_value(steps: list, output: str, values: Sequence[Any]) -> np.ndarray:
    xs = tensors(values)
    return evaluate(steps, dict(zip(INPUTS, xs)))[output].detach().numpy()


def torch_grad(steps: list, output: str, values: Sequence[Any], order: int = 1) -> list[np.ndarray]:
    """First derivatives of `output` (summed) w.r.t. x1, x2; order=2: of ∂output/∂x1 again."""
    xs = tensors(values, requires_grad=True)
    y = evaluate(steps, dict(zip(INPUTS, xs)))[output]
    first = _grads(y, xs, create_graph=order > 1)
    result = first if order == 1 else _grads(first[0], xs, create_graph=False)
    return [g.detach().numpy() for g in result]


def torch_grad_wrt(steps: list, output: str, values: Sequence[Any], wrt: Sequence[str]) -> list[np.ndarray]:
    """∂(sum of `output`)/∂v for each name in `wrt` — leaves, intermediates, the output itself,
    repeats allowed; `output` may name a leaf. Zeros where it does not depend on v."""
    import torch

    env = evaluate(steps, dict(zip(INPUTS, tensors(values, requires_grad=True))))
    y = env[output]
    got = torch.autograd.grad(y.sum(), [env[n] for n in wrt], allow_unused=True)
    return [(torch.zeros_like(env[n]) if g is None else g).detach().numpy() for g, n in zip(got, wrt)]


def torch_node_adjoints(steps: list, values: dict[str, float], output: str, names: Sequence[str]) -> dict[str, float]:
    """dL/dn for each named node of a lab-01 expression (L = `output`), 0 where L does not depend on n."""
    import torch

    from aisys.graph.expressions import run_torch

    env = run_torch([tuple(s) for s in steps],
                    {k: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for k, v in values.items()})
    grads = torch.autograd.grad(env[output], [env[n] for n in names], allow_unused=True)
    return {n: 0.0 if g is None else float(g) for n, g in zip(names, grads)}


def torch_jvp(steps: list, outputs: Sequence[str], primals: Sequence[Any], tangents: Sequence[Any]):
    """(values, tangents) of the program's outputs, each a list of arrays.

    Uses torch's forward-mode AD directly (`torch.autograd.forward_ad` dual tensors, the
    engine under `torch.func.jvp`), which skips functorch's ~1 s first-call start-up.
    """
    import torch.autograd.forward_ad as fwad

    with fwad.dual_level():
        duals = [fwad.make_dual(p, t) for p, t in zip(tensors(primals), tensors(tangents))]
        env = evaluate(steps, dict(zip(INPUTS, duals)))
        unpacked = [fwad.unpack_dual(env[o]) for o in outputs]
        values = [u.primal.detach().numpy().copy() for u in unpacked]
        dots = [np.zeros_like(v) if u.tangent is None else np.broadcast_to(u.tangent.numpy(), v.shape).copy()
                for u, v in zip(unpacked, values)]
    return values, dots


def torch_jacobian(steps: list, outputs: Sequence[str], inputs: Sequence[str], x: Sequence[float]) -> np.ndarray:
    import torch

    def f(vec):
        env = evaluate(steps, {name: vec[i] for i, name in enumerate(inputs)})
        return torch.stack([env[o] for o in outputs])

    return torch.autograd.functional.jacobian(f, tensors([x])[0]).numpy()


def close_all(output: Any, expected: dict, what: Callable[[str], str] = str, **tol) -> Verdict:
    """Every key of `expected` present in the dict `output` and numerically close;
    `what(key)` names the value in a message ("the adjoint of v-1")."""
    if not isinstance(output, dict):
        return fail(f"the result should be a dict with the keys {', '.join(map(repr, expected))}")
    for key, want in expected.items():
        if key not in output:
            return fail(f"the result has no key {key!r}")
        verdict = close(output[key], want, what=what(key), **tol)
        if not verdict.passed:
            return verdict
    return PASS


def close_list(output: Any, expected: Sequence[Any], names: Sequence[str], **tol) -> Verdict:
    """A list of arrays/numbers, element by element, each named in messages."""
    if not isinstance(output, (list, tuple)) or len(output) != len(expected):
        got = len(output) if isinstance(output, (list, tuple)) else f"a {type(output).__name__}"
        return fail(f"the result should hold {len(expected)} values, not {got}")
    for got, want, name in zip(output, expected, names):
        verdict = close(got, want, what=name, **tol)
        if not verdict.passed:
            return verdict
    return PASS
