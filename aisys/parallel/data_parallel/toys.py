"""Toy models and data that make data-parallel bugs visible (shared by checks, demo, bench).

`ToyNet` is adversarial on purpose:
- `fc3` reuses `fc2`'s weight: one parameter used twice (reduce it once, not twice);
- `frozen` never trains: it has no gradient, so only the initial broadcast makes it equal;
- a buffer `scale`: state that is not a parameter still has to be broadcast;
- each rank builds it from its own seed: forgetting the broadcast shows at once.

`make_stack` builds FSDP's units (an `nn.Sequential` whose weight matrices dominate
memory), and `train_single_process` is the ground truth of DDP and FSDP alike.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ToyNet(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16, d_out: int = 4):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, hidden)
        self.fc3.weight = self.fc2.weight          # shared weight
        self.frozen = nn.Linear(hidden, hidden)
        self.frozen.requires_grad_(False)          # frozen layer
        self.head = nn.Linear(hidden, d_out)
        self.register_buffer("scale", torch.ones(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.fc1(x)) * self.scale
        h = torch.tanh(self.fc2(h))
        h = torch.tanh(self.fc3(h))
        h = torch.tanh(self.frozen(h))
        return self.head(h)


def make_toy(seed: int, d_in: int = 8, hidden: int = 16, d_out: int = 4) -> ToyNet:
    """A ToyNet whose every parameter and buffer depends on `seed`."""
    generator = torch.Generator().manual_seed(seed)
    model = ToyNet(d_in, hidden, d_out)
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.copy_(torch.rand(tensor.shape, generator=generator) - 0.5)
        model.scale.add_(1.0)
    return model


def toy_batches(seed: int, steps: int, batch: int, d_in: int = 8, d_out: int = 4) -> list[tuple]:
    """`steps` full batches (x, y) of a regression task."""
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, d_in, generator=generator), torch.randn(batch, d_out, generator=generator))
            for _ in range(steps)]


def shard(batch: tuple, rank: int, world: int) -> tuple:
    """Rank `rank`'s contiguous, equal slice of a full batch."""
    x, y = batch
    size = x.shape[0] // world
    return x[rank * size:(rank + 1) * size], y[rank * size:(rank + 1) * size]


def trainable_bytes(model: nn.Module) -> int:
    """Bytes of gradient one step produces: each trainable parameter once."""
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def expected_buckets(model: nn.Module, bucket_cap_mb: float) -> list[int]:
    """Bucket sizes in bytes: reverse parameter order, close a bucket once it reaches the cap."""
    cap, sizes, size = bucket_cap_mb * 2**20, [], 0
    for param in reversed([p for p in model.parameters() if p.requires_grad]):
        size += param.numel() * param.element_size()
        if size >= cap:
            sizes.append(size)
            size = 0
    return sizes + ([size] if size else [])


class MomentumSGD:
    """torch.optim.SGD(lr, momentum=0.9)'s update, without torch.optim's import cost.

    (Constructing any torch.optim optimizer imports torch._dynamo: seconds on a busy 2-core
    machine, paid again in every forked rank.) buf ← m·buf + g (buf = g at first); p ← p − lr·buf.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.momentum = lr, momentum
        self.buffers: dict[int, torch.Tensor] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            buf = self.buffers.get(i)
            self.buffers[i] = p.grad.clone() if buf is None else buf.mul_(self.momentum).add_(p.grad)
            p.sub_(self.lr * self.buffers[i])


def state_arrays(model: nn.Module) -> dict:
    """Every parameter and buffer by name, as numpy arrays."""
    return {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()}


class StackBlock(nn.Module):
    """One FSDP unit: a square linear layer, a LayerNorm, tanh, and a residual connection."""

    def __init__(self, width: int):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.tanh(self.norm(self.fc(x)))


def make_stack(seed: int, width: int = 128, depth: int = 6, d_in: int = 8, d_out: int = 4) -> nn.Sequential:
    """Units for FSDP: Linear(d_in, width), `depth` StackBlocks, Linear(width, d_out).

    The weight matrices dominate memory (width² floats per block), so a unit's full
    weights stand out against the activations of a small batch.
    """
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(d_in, width), *[StackBlock(width) for _ in range(depth)], nn.Linear(width, d_out))
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            tensor.copy_((torch.rand(tensor.shape, generator=generator) - 0.5) * (2.0 / tensor.shape[-1] ** 0.5)
                         if tensor.ndim > 1 else torch.rand(tensor.shape, generator=generator) * 0.2
                         + (1.0 if name.endswith("norm.weight") else -0.1))
    return model


def train_single_process(model: nn.Module, batches: list[tuple], lr: float, dtype=None,
                         world: int = 1) -> tuple[nn.Module, list[list[float]]]:
    """The ground truth of DDP and FSDP: the same momentum-SGD steps on the full batch in one
    process, computing with every weight and input cast to `dtype` (None: fp32) while the
    fp32 weights are updated. Returns the trained model and, per step, the loss of each of
    `world` ranks' shards of the batch (before the step)."""
    opt, losses = MomentumSGD(model.parameters(), lr), []

    def forward(x):
        if dtype is None:
            return model(x)
        cast = {name: p.to(dtype) for name, p in model.named_parameters()}
        return torch.func.functional_call(model, cast, (x.to(dtype),))

    for batch in batches:
        with torch.no_grad():
            losses.append([float(F.mse_loss(forward(x).float(), y)) for x, y in
                           (shard(batch, r, world) for r in range(world))])
        opt.zero_grad()
        F.mse_loss(forward(batch[0]).float(), batch[1]).backward()
        opt.step()
    return model, losses
