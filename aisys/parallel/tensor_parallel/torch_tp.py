"""The same models parallelized by torch itself: DeviceMesh + DTensor + `parallelize_module`.

This is the yardstick for the student's Megatron layers (demo, benchmark, and the real run
behind `tp_comm_volume`'s check). torch's collectives do not go through `aisys.parallel.comm`,
so `TorchCollectives` logs them where they are dispatched: DTensor's redistributions call the
functional collectives `_c10d_functional.*` (all_reduce, all_gather_into_tensor, ...).
"""
from __future__ import annotations

from collections import Counter

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from aisys.parallel.tensor_parallel.dense import DenseAttention, DenseBlock, DenseMLP

# functional-collective ops that are bookkeeping, not communication
_NOT_COMM = ("wait_tensor", "_wrap_tensor_autograd")


class TorchCollectives(TorchDispatchMode):
    """Records (op, payload bytes) for every functional collective dispatched inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from torch.distributed.tensor import DTensor

        if any(issubclass(t, DTensor) for t in types):
            # let DTensor desugar the op first; its collectives then come back through here
            # (modes run before subclasses otherwise — torch's CommDebugMode does the same)
            return NotImplemented
        if isinstance(func, torch._ops.HigherOrderOperator):
            return func(*args, **(kwargs or {}))
        name = func.__name__ if hasattr(func, "__name__") else str(func)
        namespace = getattr(func, "namespace", "")
        if "c10d" in namespace and not any(skip in name for skip in _NOT_COMM):
            first = args[0] if args else None
            tensors = first if isinstance(first, (list, tuple)) else [first]
            size = sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))
            self.records.append((name.split(".")[0], int(size)))
        return func(*args, **(kwargs or {}))

    def counts(self) -> dict[str, int]:
        return dict(Counter(op for op, _ in self.records))

    def total_bytes(self, op: str | None = None) -> int:
        return sum(size for name, size in self.records if op is None or name == op)


def tp_mesh(world: int, device_type: str | None = None):
    """A 1-D DeviceMesh over this scope's ranks (the first `world` ranks of the launch)."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

    from aisys.parallel import context

    device_type = device_type or context.device().type
    group = context.current_group()
    if group is None and world == dist.get_world_size():
        return init_device_mesh(device_type, (world,), mesh_dim_names=("tp",))
    return DeviceMesh.from_group(group, device_type, mesh_dim_names=("tp",))


def plan_for(module: nn.Module) -> dict:
    """Megatron's split in torch's words: Colwise at a block's entrance, Rowwise at its exit."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    if isinstance(module, DenseMLP):
        return {"fc1": ColwiseParallel(), "fc2": RowwiseParallel()}
    if isinstance(module, DenseAttention):
        return {"qkv": ColwiseParallel(), "out": RowwiseParallel()}
    if isinstance(module, DenseBlock):
        return {f"attn.{k}": v for k, v in plan_for(module.attn).items()} | {
            f"mlp.{k}": v for k, v in plan_for(module.mlp).items()}
    if isinstance(module, nn.Sequential):
        return {f"{i}.{k}": v for i, child in enumerate(module) for k, v in plan_for(child).items()}
    raise TypeError(f"no tensor-parallel plan for {type(module).__name__}")


def torch_parallelize(module: nn.Module, mesh) -> nn.Module:
    """`parallelize_module` with `plan_for(module)`, in place; returns the module."""
    from torch.distributed.tensor.parallel import parallelize_module

    return parallelize_module(module, mesh, plan_for(module))


def local(t: torch.Tensor) -> torch.Tensor:
    """A tensor to compare or backpropagate from whatever torch's TP returned.

    A DTensor becomes its full tensor. An AsyncCollectiveTensor (a Rowwise output whose
    all-reduce may still be in flight) is kept as it is: it waits by itself on first use,
    and calling `.wait()` would hand back the raw buffer, cut off from autograd."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def local_shard(param: torch.Tensor | None) -> torch.Tensor | None:
    """This rank's shard of a (possibly DTensor) parameter or gradient."""
    if param is None:
        return None
    return param.to_local() if hasattr(param, "to_local") else param


def measure_stack_comm(batch: int, seq: int, hidden: int, heads: int, layers: int, world: int,
                       seed: int = 0) -> dict:
    """One forward + backward of a torch-parallelized stack on this rank; what it communicated.

    Returns {"all_reduces", "bytes", "other_collectives"} — all_reduce payload in bytes
    (float32), and the count of any other collective (Megatron's layout needs none).
    """
    from aisys.parallel.tensor_parallel.dense import dense_stack, seeded

    from aisys.parallel import context

    dev = context.device()
    stack = dense_stack(seed, hidden, heads, 2 * hidden, layers).to(dev)
    torch_parallelize(stack, tp_mesh(world))
    x = seeded(seed + 7, batch, seq, hidden, dtype=torch.float32).to(dev).requires_grad_()
    with TorchCollectives() as log:
        y = local(stack(x))
        y.backward(seeded(seed + 8, batch, seq, hidden, dtype=torch.float32).to(dev))
    counts = log.counts()
    return {"all_reduces": counts.get("all_reduce", 0), "bytes": log.total_bytes("all_reduce"),
            "other_collectives": sum(n for op, n in counts.items() if op != "all_reduce")}
