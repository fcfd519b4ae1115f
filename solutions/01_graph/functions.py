"""Lab 01, part 2 — an operator is a forward function plus its backward.

In PyTorch every differentiable op is a node of the *backward* graph that the forward pass
builds as it runs (the dynamic graph). `torch.autograd.Function` lets you add your own:

- `forward(ctx, x)` computes the output and saves what the gradient will need
  (`ctx.save_for_backward(...)`);
- `backward(ctx, grad_output)` receives dL/d(output) and returns dL/d(input) — one
  vector-Jacobian product, never the full Jacobian.

Call them with `MyReLU.apply(x)`; torch then records a `MyReLUBackward` node whose
`next_functions` point at the inputs' nodes. Check yours with `torch.autograd.gradcheck`
in float64.

Two rules every real operator obeys, and the checks test: keep per-call state on `ctx`,
never on the class (two calls `relu(a) + relu(b)` are alive at once, and each backward
needs its own mask); and build new tensors rather than editing `x` in forward or
`grad_output` in backward — both belong to the caller (in `relu(x) + x`, the same
grad_output tensor also flows to the `+ x` branch).
"""
from __future__ import annotations

import torch


class MyReLU(torch.autograd.Function):
    """relu(x) = max(x, 0); its derivative is 1 where x > 0 and 0 elsewhere (0 at x == 0,
    as torch.relu). Any shape, including an empty tensor and a 0-d scalar.

    Hint: save the input (or the mask x > 0) in forward; in backward multiply
    grad_output by that mask.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        ctx.save_for_backward(x)
        return x.clamp(min=0)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        (x,) = ctx.saved_tensors
        return grad_output * (x > 0).to(grad_output.dtype)
        # END SOLUTION


class MySigmoid(torch.autograd.Function):
    """sigmoid(x) = 1 / (1 + exp(-x)); its derivative is s * (1 - s) where s = sigmoid(x).
    It must stay finite for large |x| (x = -800 makes exp(-x) overflow to inf: 1/(1 + inf)
    is still 0, but a derivative written as exp(-x)/(1 + exp(-x))² becomes inf/inf = nan).

    Hint: save the *output* s, not the input — the derivative is cheapest from s, and this
    is why frameworks keep some outputs alive until backward.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        s = 1.0 / (1.0 + torch.exp(-x))
        ctx.save_for_backward(s)
        return s
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        (s,) = ctx.saved_tensors
        return grad_output * s * (1.0 - s)
        # END SOLUTION
