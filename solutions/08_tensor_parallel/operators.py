"""Lab 08, part 1 — the mappings every Megatron layer is made of: f, g and their cousins.

Tensor parallelism (TP) cuts *one* layer's weight across W ranks. Take Y = X·A:

- split A by **columns**, A = [A_1 | ... | A_W]: rank r computes Y_r = X·A_r on its own, with
  no communication; the ranks end up holding column blocks of Y;
- split A by **rows**, A = [A_1; ...; A_W] (and X by columns, X = [X_1 | ... | X_W]):
  Y = Σ_r X_r·A_r, so the partial products must be summed — one all-reduce.

Now run it backwards. In the column split every rank *used the same X*, and rank r only
knows the part of dL/dX that flows through its own A_r: dL/dX = Σ_r dL/dY_r · A_rᵀ, an
all-reduce in the backward pass. In the row split the all-reduce sat in the forward pass
and its backward is the identity (each rank already has the whole dL/dY). So Megatron-LM
(Shoeybi et al., 2019) writes every TP layer with two tiny operators that mirror each other:

    f = copy_to_tp:      forward identity     backward all-reduce (sum)
    g = reduce_from_tp:  forward all-reduce   backward identity

Every mapping has such a mirror: the backward of a collective is its *transpose*. Two more
move between "everyone holds all of the last dimension" and "rank r holds block r of it":

    gather_from_tp:      forward all-gather (last dim)    backward split (keep my block)
    scatter_to_tp:       forward split (keep my block)    backward all-gather (last dim)

`scatter_to_tp` lets a row-parallel layer take a *full* input (`input_is_parallel=False`).

**Sequence parallelism** (Korthikanti et al., 2022) splits the *sequence* (dim 1 of a
(batch, seq, hidden) activation, torch's `SequenceParallel` default) in the parts of a
transformer layer that TP leaves replicated — LayerNorm, dropout, the residual adds — so
each rank stores 1/W of those activations. Its three mappings, rank r owning chunk r:

    scatter_to_sp:         forward split (my chunk)       backward all-gather (sequence)
    gather_from_sp:        forward all-gather (sequence)  backward reduce-scatter (sequence)
    reduce_scatter_to_sp:  forward reduce-scatter (seq.)  backward all-gather (sequence)

A ring all-reduce *is* a reduce-scatter followed by an all-gather, so replacing g by
reduce_scatter_to_sp and f by gather_from_sp moves exactly the same bytes as plain TP.

They are `torch.autograd.Function`s, so the communication happens *inside* autograd.
Every collective goes through `aisys.parallel.comm` (not `torch.distributed` directly), so
the CommLog sees it: the checks count your collectives, and `aisys lab run` draws them.
`group=None` means the ranks of the current world; otherwise use `group`'s size and *your
index inside it* (`tp_world_and_rank(group)`): in a 2×2 grid, global rank 3 is rank 1 of its
tensor-parallel group. A split that does not divide evenly raises ValueError naming the size
and the number of ranks (gloo's all-gather needs equal blocks). Never modify the tensor you
are handed (autograd and the caller still own it), and keep no state outside `ctx`: two
calls may be in flight before one backward.
"""
from __future__ import annotations

import torch
import torch.distributed as dist

from aisys.parallel import comm
from aisys.parallel.launch import rank, world_size


def tp_world_and_rank(group=None) -> tuple[int, int]:
    """(number of ranks, this rank's index) in `group`; None = the current world."""
    if group is None:
        return world_size(), rank()
    return dist.get_world_size(group), dist.get_rank(group)


# BEGIN SOLUTION:
def _chunk_of(x: torch.Tensor, dim: int, group, what: str) -> torch.Tensor:
    """This rank's equal block of `x` along `dim` (a fresh contiguous tensor)."""
    world, me = tp_world_and_rank(group)
    size = x.shape[dim]
    if size % world:
        raise ValueError(f"{what}: size {size} along dim {dim} is not divisible by the {world} ranks")
    n = size // world
    return x.narrow(dim, me * n, n).contiguous()


def _gather_along(x: torch.Tensor, dim: int, group) -> torch.Tensor:
    """Every rank's `x`, concatenated along `dim` in rank order."""
    return torch.cat(comm.all_gather(x.contiguous(), group=group), dim=dim)


def _reduce_scatter_along(x: torch.Tensor, dim: int, group, what: str) -> torch.Tensor:
    """Σ over ranks of `x`, keeping this rank's block along `dim` (one reduce-scatter)."""
    world, _ = tp_world_and_rank(group)
    if x.shape[dim] % world:
        raise ValueError(f"{what}: size {x.shape[dim]} along dim {dim} is not divisible by the {world} ranks")
    front = x.movedim(dim, 0).contiguous()        # reduce_scatter_tensor splits dim 0
    out = front.new_empty((front.shape[0] // world, *front.shape[1:]))
    comm.reduce_scatter_tensor(out, front, op="sum", group=group)
    return out.movedim(0, dim)


# END SOLUTION
class CopyToTP(torch.autograd.Function):
    """f: identity forward, all-reduce (sum) of the gradient backward.

    Hint: forward returns `x` unchanged; backward sums `grad_output` over the ranks with
    `comm.all_reduce` (on a contiguous copy: autograd owns `grad_output`, and collectives want
    contiguous memory) and returns it, plus None for the `group` argument.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group=None) -> torch.Tensor:
        # BEGIN SOLUTION
        ctx.group = group
        return x
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # BEGIN SOLUTION
        grad = grad_output.contiguous().clone()
        comm.all_reduce(grad, op="sum", group=ctx.group)
        return grad, None
        # END SOLUTION


class ReduceFromTP(torch.autograd.Function):
    """g: all-reduce (sum) forward, identity backward — f's mirror image.

    Hint: forward all-reduces a *copy* of `x` (never overwrite the caller's tensor);
    backward passes `grad_output` straight through.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group=None) -> torch.Tensor:
        # BEGIN SOLUTION
        out = x.contiguous().clone()
        comm.all_reduce(out, op="sum", group=group)
        return out
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # BEGIN SOLUTION
        return grad_output, None
        # END SOLUTION


class GatherFromTP(torch.autograd.Function):
    """All-gather forward (concatenate the ranks' blocks on the last dim), split backward.

    Rank r holds Y_r, the r-th block of the last dimension; every rank gets [Y_0 | ... | Y_W-1].
    The gradient of a concatenation is the matching slice of the incoming gradient.

    Hint: `comm.all_gather(x, group)` returns one tensor per rank, in rank order; in
    backward keep columns [r·n, (r+1)·n) of `grad_output` where n = x.shape[-1] and r is
    your index in the group (save both on ctx, not on the class).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group=None) -> torch.Tensor:
        # BEGIN SOLUTION
        ctx.group = group
        return _gather_along(x, -1, group)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # BEGIN SOLUTION
        return _chunk_of(grad_output, -1, ctx.group, "gather_from_tp"), None
        # END SOLUTION


class ScatterToTP(torch.autograd.Function):
    """Split forward (keep this rank's block of the last dim), all-gather backward.

    The transpose of GatherFromTP: every rank holds the same full x, rank r keeps block r
    of its last dimension; the gradient of a slice is zeros elsewhere, and summed over the
    ranks that is the concatenation of their gradient blocks — an all-gather.

    Hint: forward refuses a last dim not divisible by the ranks (ValueError naming the size
    and the number of ranks), then returns `x[..., r·n:(r+1)·n]` as a contiguous tensor;
    backward all-gathers `grad_output` and concatenates on the last dim.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group=None) -> torch.Tensor:
        # BEGIN SOLUTION
        ctx.group = group
        return _chunk_of(x, -1, group, "scatter_to_tp")
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # BEGIN SOLUTION
        return _gather_along(grad_output, -1, ctx.group), None
        # END SOLUTION


class ScatterToSP(torch.autograd.Function):
    """Split the sequence forward (keep this rank's chunk of dim 1), all-gather it backward.

    Enters the sequence-parallel region from a replicated activation (batch, seq, ...).

    Hint: like ScatterToTP on dim 1 instead of the last dim; refuse seq not divisible by
    the ranks (ValueError naming the size and the number of ranks).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group=None) -> torch.Tensor:
        # BEGIN SOLUTION
        ctx.group = group
        return _chunk_of(x, 1, group, "scatter_to_sp")
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # BEGIN SOLUTION
        return _gather_along(grad_output, 1, ctx.group), None
        # END SOLUTION


class GatherFromSP(torch.autograd.Function):
    """All-gather the sequence forward, reduce-scatter the gradient backward.

    Leaves the sequence-parallel region for a column-parallel layer: that layer needs every
    token, and it hands back a gradient that is *partial* on each rank (each rank's weight
    columns only saw part of the hidden features) — so the transpose of the all-gather is a
    sum over ranks of which rank r keeps chunk r: a reduce-scatter, not a split. This
    replaces f's all-reduce in backward.

    Hint: forward = `comm.all_gather` + cat on dim 1. Backward: `comm.reduce_scatter_tensor`
    splits dim 0, so move dim 1 to the front (`movedim(1, 0).contiguous()`), reduce-scatter
    into a tensor of 1/W of its length, and move the dim back.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group=None) -> torch.Tensor:
        # BEGIN SOLUTION
        ctx.group = group
        return _gather_along(x, 1, group)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # BEGIN SOLUTION
        return _reduce_scatter_along(grad_output, 1, ctx.group, "gather_from_sp"), None
        # END SOLUTION


class ReduceScatterToSP(torch.autograd.Function):
    """Reduce-scatter the sequence forward, all-gather the gradient backward.

    Enters the sequence-parallel region from a row-parallel layer's partial sums: the sum
    over ranks (what g computed) of which rank r keeps only its sequence chunk. This
    replaces g's all-reduce in forward; its transpose is an all-gather.

    Hint: forward refuses seq not divisible by the ranks (ValueError naming the size and the
    number of ranks), then reduce-scatters along dim 1 (see GatherFromSP's hint) without
    touching `x`; backward all-gathers `grad_output` on dim 1.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group=None) -> torch.Tensor:
        # BEGIN SOLUTION
        ctx.group = group
        return _reduce_scatter_along(x, 1, group, "reduce_scatter_to_sp")
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # BEGIN SOLUTION
        return _gather_along(grad_output, 1, ctx.group), None
        # END SOLUTION


def copy_to_tp(x: torch.Tensor, group=None) -> torch.Tensor:
    """f — enter the tensor-parallel region (see CopyToTP)."""
    return CopyToTP.apply(x, group)


def reduce_from_tp(x: torch.Tensor, group=None) -> torch.Tensor:
    """g — leave the tensor-parallel region by summing the partial results (see ReduceFromTP)."""
    return ReduceFromTP.apply(x, group)


def gather_from_tp(x: torch.Tensor, group=None) -> torch.Tensor:
    """Leave the region by concatenating the last-dim blocks (see GatherFromTP)."""
    return GatherFromTP.apply(x, group)


def scatter_to_tp(x: torch.Tensor, group=None) -> torch.Tensor:
    """Enter the region by keeping this rank's last-dim block of a full x (see ScatterToTP)."""
    return ScatterToTP.apply(x, group)


def scatter_to_sp(x: torch.Tensor, group=None) -> torch.Tensor:
    """Enter the sequence-parallel region: keep this rank's chunk of dim 1 (see ScatterToSP)."""
    return ScatterToSP.apply(x, group)


def gather_from_sp(x: torch.Tensor, group=None) -> torch.Tensor:
    """Leave the sequence-parallel region: all-gather dim 1 (see GatherFromSP)."""
    return GatherFromSP.apply(x, group)


def reduce_scatter_to_sp(x: torch.Tensor, group=None) -> torch.Tensor:
    """Sum partial results and keep this rank's chunk of dim 1 (see ReduceScatterToSP)."""
    return ReduceScatterToSP.apply(x, group)
