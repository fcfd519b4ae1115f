"""A small Transformer whose training memory is measured, not assumed (training_memory's truth).

`TinyTransformer` has exactly the article's parameter count, 12·n_layers·h²: per block a
fused QKV projection (h, 3h), the attention output (h, h) and the MLP (h, 4h), (4h, h), no
biases or norms. `measure_training_memory` trains it one step the mixed-precision way —
bf16 weights and gradients for compute, fp32 master weights with Adam's two moments — and
reports what the process really held:

- model states: the bytes of those tensors, read off the tensors themselves;
- activations: the peak of live heap bytes (`memprobe`) above the model states during
  forward and backward, minus the parameter gradients that exist at that moment; with
  checkpointing, segments of blocks run under `torch.utils.checkpoint` (non-reentrant).
"""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from aisys.parallel.data_parallel.memprobe import live_bytes


class Block(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden, bias=False)
        self.out = nn.Linear(hidden, hidden, bias=False)
        self.up = nn.Linear(hidden, 4 * hidden, bias=False)
        self.down = nn.Linear(4 * hidden, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(h // self.heads), dim=-1)
        x = x + self.out((probs @ v).transpose(1, 2).reshape(b, s, h))
        return x + self.down(torch.relu(self.up(x)))


class TinyTransformer(nn.Module):
    def __init__(self, n_layers: int, hidden: int, heads: int):
        super().__init__()
        self.blocks = nn.ModuleList(Block(hidden, heads) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, checkpoint_every: int | None = None) -> torch.Tensor:
        if checkpoint_every is None:
            for block in self.blocks:
                x = block(x)
            return x
        from torch.utils.checkpoint import checkpoint

        for start in range(0, len(self.blocks), checkpoint_every):
            segment = self.blocks[start:start + checkpoint_every]
            x = checkpoint(lambda t, seg=segment: _run(seg, t), x, use_reentrant=False)
        return x


def _run(blocks, x):
    for block in blocks:
        x = block(x)
    return x


def measure_training_memory(n_layers: int, hidden: int, heads: int, batch: int, seq: int,
                            checkpoint_every: int | None = None, seed: int = 0) -> dict[str, float]:
    """One mixed-precision training step of TinyTransformer; bytes held, by part ("activations"
    and "total" only where the platform has a heap counter)."""
    torch.manual_seed(seed)
    model = TinyTransformer(n_layers, hidden, heads).to(torch.bfloat16)
    master = [p.detach().float().requires_grad_() for p in model.parameters()]
    adam = torch.optim.Adam(master, lr=1e-3)
    for m in master:
        m.grad = torch.zeros_like(m)
    adam.step()                                          # allocates exp_avg, exp_avg_sq
    x = torch.randn(batch, seq, hidden).to(torch.bfloat16)
    peak = [0]

    def sample(*_):
        grads = sum(p.grad.nbytes for p in model.parameters() if p.grad is not None)
        now = live_bytes()
        if now is not None:
            peak[0] = max(peak[0], now - base - grads)

    handles = [block.register_forward_hook(sample) for block in model.blocks]
    handles += [block.register_full_backward_hook(sample) for block in model.blocks]
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    base = live_bytes() or 0
    model(x, checkpoint_every).float().square().mean().backward()
    sample()
    for handle in handles:
        handle.remove()
    states = {"parameters": sum(p.nbytes for p in model.parameters()),
              "gradients": sum(p.grad.nbytes for p in model.parameters()),
              "optimizer": sum(m.nbytes for m in master) + sum(t.nbytes for s in adam.state.values()
                                                                for t in s.values() if t.dim() > 0)}
    parts = {k: float(v) for k, v in states.items()}
    if live_bytes() is None:
        return parts
    parts["activations"] = float(peak[0])
    return {**parts, "total": sum(parts.values())}
