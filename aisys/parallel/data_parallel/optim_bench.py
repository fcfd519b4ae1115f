"""The bench for sharded optimizers: gradients that average exactly, and optimizers that report.

Bit-for-bit comparisons need the averaged gradient to be the same number however the
ranks sum it (gloo's reduction order is not ours). `exact_problem` draws every gradient
element as a multiple of 2⁻⁸ in [−4, 4): sums of up to 4 of them and halving or quartering
are exact in float32, so `mean over ranks` has one right answer.

`tracked(cls)` subclasses a torch optimizer so that each instance made in this process is
listed with how many times its own `step` ran; the checks hand these to the student's
`ShardedOptimizer` and read afterwards how much state each rank allocated. `SignMomentum`
is an elementwise optimizer no one has memorised: re-implementing "the optimizer" instead
of calling its step cannot match it.
"""
from __future__ import annotations

import weakref

import numpy as np
import torch

_CREATED: list = []


def warm_up() -> None:
    """Take one torch.optim step here, before ranks are forked: the first one imports
    torch._dynamo (about a second), which forked ranks then share instead of each paying."""
    param = torch.zeros(1, requires_grad=True)
    param.grad = torch.zeros(1)
    torch.optim.SGD([param], lr=0.1).step()


def tracked(cls: type) -> type:
    """A subclass of `cls` whose instances are remembered and count their step() calls."""
    class Tracked(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.step_calls = 0
            _CREATED.append(weakref.ref(self))

        def step(self, closure=None):
            self.step_calls += 1
            return super().step(closure)
    Tracked.__name__ = Tracked.__qualname__ = cls.__name__
    return Tracked


class SignMomentum(torch.optim.Optimizer):
    """m ← m + (1 − β)(g − m); p ← p·(1 − lr·wd) − lr·sign(m)·(1 + |m|)^(−½). Skips None grads."""

    def __init__(self, params, lr: float = 1e-2, beta: float = 0.8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "beta": beta, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = torch.zeros_like(p)
                m = state["momentum"]
                m.lerp_(p.grad, 1 - group["beta"])
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.sub_(torch.sign(m) * (m.abs() + 1).rsqrt() * group["lr"])
        return None


def optimizer_class(name: str, *, track: bool) -> type:
    base = SignMomentum if name == "SignMomentum" else getattr(torch.optim, name)
    return tracked(base) if track else base


def forget_instances() -> None:
    _CREATED.clear()


def instances() -> list:
    """Tracked optimizers made since `forget_instances()` that are still alive."""
    return [ref() for ref in _CREATED if ref() is not None]


def state_numel(optimizer) -> int:
    """Elements of the tensors an optimizer keeps in `state` (0-d step counters aside)."""
    return sum(t.numel() for per_param in optimizer.state.values() for t in per_param.values()
               if torch.is_tensor(t) and t.dim() > 0)


def exact_problem(seed: int, world: int, steps: int, shapes: list[list[int]]) -> tuple[list, list]:
    """(initial parameters, grads[step][rank][param]) as float32 numpy arrays, exactly averageable."""
    rng = np.random.default_rng(seed)
    init = [np.asarray(rng.uniform(-1, 1, size=shape), dtype=np.float32) for shape in shapes]
    grads = [[[np.asarray(rng.integers(-1024, 1024, size=shape) / 256.0, dtype=np.float32) for shape in shapes]
              for _ in range(world)] for _ in range(steps)]
    return init, grads


def mean_grads(grads_of_step: list) -> list:
    """The exact mean over ranks of one step's gradients."""
    return [np.asarray(np.mean(np.stack(per_param), axis=0, dtype=np.float64), dtype=np.float32)
            for per_param in zip(*grads_of_step)]


def held_numel(obj, exclude: set[int], depth: int = 0, seen: set[int] | None = None) -> int:
    """Elements of the float tensors an object keeps in its attributes, dicts, lists and
    tuples (each storage once, the parameters' own storages in `exclude` not counted)."""
    seen = set() if seen is None else seen
    if isinstance(obj, torch.Tensor):
        ptr = obj.untyped_storage().data_ptr()
        if ptr in exclude or ptr in seen or not obj.is_floating_point():
            return 0
        seen.add(ptr)
        return obj.numel()
    if depth > 4:
        return 0
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        items = list(obj)
    elif depth == 0:
        items = list(vars(obj).values())
    else:
        return 0
    return sum(held_numel(item, exclude, depth + 1, seen) for item in items)
