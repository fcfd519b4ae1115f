"""Lab 08, part 2 — parallel linear layers and Megatron's MLP.

`nn.Linear` computes Y = X·Wᵀ + b with W of shape (out_features, in_features). In torch's
layout a *column* split of the matmul (Megatron's A = Wᵀ) is a split of W's **rows**:

    ColumnParallelLinear   rank r keeps rows  [r·n, (r+1)·n) of W and of b   (n = out / W)
                           Y_r = f(X)·W_rᵀ + b_r        — f = copy_to_tp
    RowParallelLinear      rank r keeps columns [r·k, (r+1)·k) of W        (k = in / W)
                           Y = g(X_r·W_rᵀ) + b         — g = reduce_from_tp; the bias is
                           added once, *after* the sum (every rank holds all of b)

A row-parallel layer usually follows a column-parallel one and receives its input already
split (`input_is_parallel=True`). Given the full X instead, it first keeps its own block of
X's last dimension with `scatter_to_tp` — whose backward all-gathers dL/dX, so the caller
gets the gradient of the whole X back.

Megatron's MLP, Z = GeLU(X·A)·B, puts a column split on A and a row split on B:

    X ──f──> X·A_r ──GeLU──> ·B_r ──g──> Z          one all-reduce forward (g),
                                                    one all-reduce backward (f)

Why this order? GeLU is nonlinear: GeLU(X_1·A_1 + X_2·A_2) ≠ GeLU(X_1·A_1) + GeLU(X_2·A_2).
After a *column* split each rank holds whole columns of X·A, so GeLU can run locally; the
row split of B then consumes exactly those column blocks, and a single sum finishes the
block. Split A by rows instead and you must all-reduce *before* GeLU, then either gather or
split again — more communication, or a wrong answer if you skip it.

The layers are built from a dense layer, so a check can compare them with it. A size that
does not divide evenly by the number of ranks is rejected with a ValueError that names the
size and the number of ranks (uneven shards would break the all-gather and the all-reduce).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aisys.workspace import sibling

_ops = sibling(__file__, "tensor-parallel", "operators.py")
copy_to_tp, reduce_from_tp, gather_from_tp = _ops.copy_to_tp, _ops.reduce_from_tp, _ops.gather_from_tp
scatter_to_tp = _ops.scatter_to_tp
tp_world_and_rank = _ops.tp_world_and_rank


class ColumnParallelLinear(nn.Module):
    """This rank's block of output features of `dense`.

    Attributes the checks read: `weight` (out/W, in) and `bias` (out/W,) or None — rows
    [r·n, (r+1)·n) of the dense ones, as fresh Parameters; `gather_output` as given.
    forward(x): x is the full input (the same on every rank); returns this rank's output
    block (..., out/W), or the full (..., out) when `gather_output=True`.

    Hint: in __init__ check `out_features % world`, slice and `.clone()` the rows; in
    forward wrap x in copy_to_tp *before* the matmul (that is what sums dL/dX in backward),
    then `F.linear`, then gather_from_tp if asked.
    """

    def __init__(self, dense: nn.Linear, group=None, gather_output: bool = False):
        super().__init__()
        # BEGIN SOLUTION
        world, me = tp_world_and_rank(group)
        out_features = dense.out_features
        if out_features % world:
            raise ValueError(f"ColumnParallelLinear: out_features={out_features} is not divisible by "
                             f"the {world} ranks")
        n = out_features // world
        rows = slice(me * n, (me + 1) * n)
        self.weight = nn.Parameter(dense.weight.detach()[rows].clone())
        self.bias = None if dense.bias is None else nn.Parameter(dense.bias.detach()[rows].clone())
        self.group, self.gather_output = group, gather_output
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        y = F.linear(copy_to_tp(x, self.group), self.weight, self.bias)
        return gather_from_tp(y, self.group) if self.gather_output else y
        # END SOLUTION


class RowParallelLinear(nn.Module):
    """This rank's block of input features of `dense`; the outputs are summed over ranks.

    Attributes the checks read: `weight` (out, in/W) — columns [r·k, (r+1)·k) of the dense
    weight — and `bias` (out,), the *whole* dense bias (or None); `input_is_parallel` as given.
    forward(x): x is this rank's input block (..., in/W), or with `input_is_parallel=False`
    the full input (..., in), the same on every rank; returns the full output (..., out), the
    same on every rank.

    Hint: with `input_is_parallel=False` start with scatter_to_tp(x). Then `F.linear(x,
    self.weight)` without the bias, reduce_from_tp, *then* add the bias — adding it on every
    rank before the sum would count it W times.
    """

    def __init__(self, dense: nn.Linear, group=None, input_is_parallel: bool = True):
        super().__init__()
        # BEGIN SOLUTION
        world, me = tp_world_and_rank(group)
        in_features = dense.in_features
        if in_features % world:
            raise ValueError(f"RowParallelLinear: in_features={in_features} is not divisible by "
                             f"the {world} ranks")
        k = in_features // world
        self.weight = nn.Parameter(dense.weight.detach()[:, me * k:(me + 1) * k].clone())
        self.bias = None if dense.bias is None else nn.Parameter(dense.bias.detach().clone())
        self.group, self.input_is_parallel = group, input_is_parallel
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        if not self.input_is_parallel:
            x = scatter_to_tp(x, self.group)
        y = reduce_from_tp(F.linear(x, self.weight), self.group)
        return y if self.bias is None else y + self.bias
        # END SOLUTION


class ParallelMLP(nn.Module):
    """Megatron's MLP: fc2(GeLU(fc1(x))) with fc1 split by columns and fc2 by rows.

    Built from the dense `fc1: Linear(h, ffn)` and `fc2: Linear(ffn, h)`; the activation is
    torch's exact GeLU (`F.gelu`). Attributes the checks read: `fc1` (a ColumnParallelLinear)
    and `fc2` (a RowParallelLinear). forward(x): full x in, full output out, on every rank —
    with exactly one all-reduce in forward and one in backward.

    Hint: two lines in __init__, one in forward. Do not gather between the layers: fc2's
    row split wants exactly the column block fc1 left on this rank.
    """

    def __init__(self, fc1: nn.Linear, fc2: nn.Linear, group=None):
        super().__init__()
        # BEGIN SOLUTION
        self.fc1 = ColumnParallelLinear(fc1, group)
        self.fc2 = RowParallelLinear(fc2, group)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        return self.fc2(F.gelu(self.fc1(x)))
        # END SOLUTION
