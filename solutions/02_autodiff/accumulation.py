"""Lab 02, part 5 — gradients accumulate until you zero them (PyTorch's `.grad`).

PyTorch's `loss.backward()` does not *set* `x.grad`, it **adds** to it: `x.grad += ∂loss/∂x`.
That is the fan-out rule of reverse mode applied across calls, and it is deliberate — it
lets you sum gradients over micro-batches before one optimizer step. The price: you must
clear it yourself (`x.grad.zero_()`, or `optimizer.zero_grad()`) before the next step.
Backward also frees the graph's saved tensors, so a second `backward()` on the same graph
needs `retain_graph=True` the first time.

The article's example: x = 3, loss = (x + 1 − 2x)² = (1 − x)², so loss = 4 and
∂loss/∂x = 2(x − 1) = 4; a second backward makes x.grad 8; zeroing and a third gives 4.

Source: 动手实现 PyTorch 微分 (ZOMI, AISystem 05Framework/02AutoDiff).
"""
from __future__ import annotations

import torch


def accumulation_demo(x: float = 3.0) -> dict[str, float]:
    """Build loss = (x + 1 − 2x)² with torch at `x` and watch `x.grad` accumulate.

    Return {"loss": ..., "grad_first": x.grad after one backward,
    "grad_second": after a second backward of the same loss,
    "grad_after_zero": after zeroing x.grad and a third backward} as floats. `x` may be an
    int or a float, and 0 is a value like any other. The checks count the backward passes
    torch's autograd engine runs: three, however you call them (`loss.backward()`,
    `torch.autograd.backward(loss)`).

    Hint: `x = torch.tensor(x, dtype=torch.float64, requires_grad=True)`; the first two
    backward calls need `retain_graph=True`; read values with `.item()`.
    """
    # BEGIN SOLUTION
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    loss = (t + 1 - 2 * t) ** 2
    loss.backward(retain_graph=True)
    first = t.grad.item()
    loss.backward(retain_graph=True)
    second = t.grad.item()
    t.grad.zero_()
    loss.backward()
    return {"loss": loss.item(), "grad_first": first, "grad_second": second,
            "grad_after_zero": t.grad.item()}
    # END SOLUTION
