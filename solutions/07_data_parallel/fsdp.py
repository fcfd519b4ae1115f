"""Lab 07, part 7 — fully sharded data parallel (FSDP, ZeRO-3): shard the parameters too.

ZeRO-1/2 still keep a full copy of the parameters on every rank. ZeRO-3 keeps only a shard:
rank r owns 1/N of every parameter and of its gradient and optimizer state, so model states
cost (2 + 2 + K)Ψ / N bytes per rank. A layer's full weights exist only while that layer
runs, one **unit** (a wrapped submodule) at a time:

    forward, unit by unit:    all-gather its weights → compute → free them
    backward, in reverse:     all-gather again → compute gradients → reduce-scatter them → free

After the reduce-scatter, rank r holds only the average of *its* shard of each gradient,
exactly what it needs to update its shard of the parameters with any elementwise optimizer
(SGD, Adam): the optimizer never sees a full tensor. Communication per step: all-gather Ψ
(forward) + all-gather Ψ (backward) + reduce-scatter Ψ = **3Ψ**, 1.5× plain DP; memory: the
sharded states plus about one unit of full weights at any moment.

**Mixed precision** (`compute_dtype=torch.bfloat16` or `float16`): the fp32 shards stay the
master copy; each unit casts its shard to the compute dtype *before* the all-gather (half
the bytes on the wire), computes in that dtype, and reduce-scatters gradients in it; the
averaged shard gradient is cast back to fp32 for the optimizer.

This is what `torch.distributed.fsdp.fully_shard` does (FSDP2, per-parameter sharding);
its rules are the contract here too:

- the wrapped model stays at `self.module`, with its original parameter names;
- `parameters()` yields the same `Parameter` objects from construction on, so an optimizer
  built right after wrapping keeps working; between uses each holds this rank's shard;
- a unit is each direct child of `module` that holds parameters, in `module.children()`
  order (put the layers in an `nn.Sequential`, or wrap blocks); parameters held by
  `module` itself are not part of a unit;
- weight matrices are sharded; 1-D parameters (norm weights, biases) may be sharded too
  or stay replicated (then their gradients are all-reduced);
- `finish_gradient_synchronization()` before the optimizer step: then every parameter has
  a gradient of its data's shape, in fp32 (even with a 16-bit compute dtype), averaged
  over ranks;
- `full_parameters()` (every rank calls it) → {name: full fp32 tensor of the original shape}.

Every rank must construct the same module (same seed), as torch's FSDP assumes.
"""
from __future__ import annotations

import torch
from torch import nn

from aisys.parallel import comm, context


class FSDP(nn.Module):
    """ZeRO-3 over the current ranks: parameters, gradients and optimizer state sharded.

        model = FSDP(nn.Sequential(...), compute_dtype=torch.bfloat16)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)   # sees only the shards
        loss_fn(model(x).float(), y).backward()
        model.finish_gradient_synchronization()
        opt.step()

    Hint (one way, per-parameter sharding like FSDP2): pad each parameter's flat data to
    N·S (S = ceil(numel/N)) and keep `[r·S, (r+1)·S)` as `p.data` (a 1-D tensor). A unit
    all-gathers the concatenation of its shards (`comm.all_gather_into_tensor`): the output
    viewed as `(N, ΣS)` holds rank k's shards in row k, so column block j rebuilt with
    `.reshape(-1)[:numel].view(shape)` is parameter j in full. Copy it into one persistent
    full-size tensor per parameter and set `p.data` to that. To free it, set `p.data` back to
    the shard *and* `full.untyped_storage().resize_(0)`: autograd saved views of the full
    weight (`weight.t()` for a linear layer), so dropping your reference frees nothing; the
    next gather resizes the storage back and fills it, and those saved views see the data.
    Hooks: a forward pre-hook (gather; cast floating inputs to the compute dtype), a forward
    hook (free, and register a hook on the output tensor that gathers again when its
    gradient arrives — just before this unit's backward), and post-accumulate-grad hooks:
    when all of a unit's gradients are there, arrange them as `(N, ΣS)` blocks, one
    `comm.reduce_scatter_tensor(..., op="avg")` for the unit, free, `p.grad = fp32 piece`.
    """

    def __init__(self, module: nn.Module, compute_dtype: torch.dtype | None = None):
        super().__init__()
        self.module = module
        self.compute_dtype = compute_dtype
        # BEGIN SOLUTION
        self.world, self.rank = context.world_size(), context.rank()
        self._units = [child for child in module.children() if any(True for _ in child.parameters())]
        self._shapes: dict[nn.Parameter, torch.Size] = {}
        self._shards: dict[nn.Parameter, torch.Tensor] = {}
        self._full: dict[nn.Parameter, torch.Tensor] = {}
        self._ready: dict[nn.Module, int] = {}
        self._unit_of: dict[nn.Parameter, nn.Module] = {}
        with torch.no_grad():
            for unit in self._units:
                for p in unit.parameters():
                    self._shapes[p] = p.shape
                    size = self._shard_size(p)
                    flat = torch.cat([p.detach().reshape(-1), p.new_zeros(size * self.world - p.numel())])
                    self._shards[p] = flat[self.rank * size:(self.rank + 1) * size].clone()
                    p.data = self._shards[p]
                    self._unit_of[p] = unit
                    p.register_post_accumulate_grad_hook(self._grad_ready)
                unit.register_forward_pre_hook(self._before_forward)
                unit.register_forward_hook(self._after_forward)
        # END SOLUTION

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    # BEGIN SOLUTION: 
    def _shard_size(self, p: torch.Tensor) -> int:
        return -(-self._shapes[p].numel() // self.world)

    def _all_gather(self, params: list[nn.Parameter], dtype: torch.dtype) -> list[torch.Tensor]:
        """One all-gather for these parameters' shards (cast first); each one back in full."""
        local = torch.cat([self._shards[p] for p in params]).to(dtype)
        out = local.new_empty(self.world * local.numel())
        comm.all_gather_into_tensor(out, local)
        blocks = out.view(self.world, -1).split([self._shard_size(p) for p in params], dim=1)
        return [block.reshape(-1)[:self._shapes[p].numel()].view(self._shapes[p]) for p, block in zip(params, blocks)]

    def _unshard(self, unit: nn.Module) -> None:
        """Gather `unit`'s parameters into their full buffers and point `p.data` at them."""
        params = list(unit.parameters())
        dtype = self.compute_dtype or self._shards[params[0]].dtype
        for p, gathered in zip(params, self._all_gather(params, dtype)):
            full = self._full.get(p)
            if full is None:
                full = self._full[p] = torch.empty(self._shapes[p], dtype=dtype)
            else:       # the same tensor as last time: autograd's saved views of it see the new data
                full.untyped_storage().resize_(full.numel() * full.element_size())
            full.copy_(gathered)
            p.data = full

    def _reshard(self, unit: nn.Module) -> None:
        """`p.data` = the shard, and the full buffer's memory is released: its storage is
        resized to 0 bytes (a view of it saved in autograd's graph would keep it alive)."""
        for p in unit.parameters():
            p.data = self._shards[p]
            if p in self._full:
                self._full[p].untyped_storage().resize_(0)

    def _before_forward(self, unit: nn.Module, args: tuple):
        self._unshard(unit)
        if self.compute_dtype is None:
            return None
        return tuple(a.to(self.compute_dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)

    def _after_forward(self, unit: nn.Module, args: tuple, output):
        self._reshard(unit)
        if torch.is_tensor(output) and output.requires_grad:
            output.register_hook(lambda grad: self._unshard(unit))
        return None

    def _grad_ready(self, p: nn.Parameter) -> None:
        unit = self._unit_of[p]
        self._ready[unit] = self._ready.get(unit, 0) + 1
        params = list(unit.parameters())
        if self._ready[unit] == len(params):
            self._reduce_scatter(unit, params)

    def _reduce_scatter(self, unit: nn.Module, params: list[nn.Parameter]) -> None:
        """One reduce-scatter for the unit: rank k's slice of every gradient goes in row k."""
        self._ready[unit] = 0
        blocks = []
        for p in params:
            size = self._shard_size(p)
            grad = p.grad if p.grad is not None else torch.zeros(self._shapes[p], dtype=p.dtype)
            flat = grad.reshape(-1)
            blocks.append(torch.cat([flat, flat.new_zeros(size * self.world - flat.numel())]).view(self.world, size))
        stacked = torch.cat(blocks, dim=1).reshape(-1)
        mine = stacked.new_empty(stacked.numel() // self.world)
        comm.reduce_scatter_tensor(mine, stacked, op="avg")
        self._reshard(unit)
        for p, piece in zip(params, mine.split([self._shard_size(p) for p in params])):
            p.grad = piece.to(self._shards[p].dtype)
    # END SOLUTION

    def finish_gradient_synchronization(self) -> None:
        """After backward, before the optimizer step: every gradient is reduced, fp32, sharded."""
        # BEGIN SOLUTION
        for unit in self._units:                  # units whose gradients did not all arrive
            params = list(unit.parameters())
            if any(p.grad is None or p.grad.shape != self._shards[p].shape for p in params):
                self._unshard(unit)
                self._reduce_scatter(unit, params)
        # END SOLUTION

    def full_parameters(self) -> dict[str, torch.Tensor]:
        """Every parameter in full, fp32, by its name in `self.module` (a collective: all ranks call)."""
        # BEGIN SOLUTION
        names = {p: name for name, p in self.module.named_parameters()}
        full = {name: p.detach().clone() for name, p in self.module.named_parameters() if p not in self._shards}
        with torch.no_grad():
            for unit in self._units:
                params = list(unit.parameters())
                for p, gathered in zip(params, self._all_gather(params, torch.float32)):
                    full[names[p]] = gathered.clone()
        return full
        # END SOLUTION
