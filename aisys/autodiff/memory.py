"""Measuring memory vs recompute on a chain of layers: activations alive, forward ops run.

A `Chain` is n small layers `h ← tanh(h·w + b)` (elementwise, so the measurement is cheap
and the count is exact). The `ActivationMeter` sees two things while code runs inside it:

- every layer output, tracked with `weakref.finalize`, so it knows how many activations
  are alive at each moment (its peak is the memory a plan costs, in activations);
- every tensor autograd saves for backward, through `torch.autograd.graph.saved_tensors_hooks`:
  the pack hook hands autograd the tensor object itself, so an activation stays counted
  exactly as long as a backward node can still read it (and it records the peak number
  of distinct tensors saved).

Each layer call also counts one forward op, per layer (`layer_calls[i]`), so
`recomputed = forward_ops − n_layers`, and a layer called three times means a segment was
recomputed twice.
"""
from __future__ import annotations

import math
import weakref
from typing import Callable, Sequence


class ActivationMeter:
    """Counts live activations (peak), saved tensors (peak) and forward ops while active."""

    def __init__(self) -> None:
        self.alive = 0
        self.peak_alive = 0
        self.forward_ops = 0
        self.layer_calls: dict[int, int] = {}
        self.saved: dict[int, int] = {}   # id(tensor) -> number of backward nodes holding it
        self.peak_saved = 0
        self._hooks = None

    def track(self, tensor, layer: int = -1) -> None:
        """Called by layer `layer` on its output: one more activation, until it is freed."""
        self.forward_ops += 1
        self.layer_calls[layer] = self.layer_calls.get(layer, 0) + 1
        self.alive += 1
        self.peak_alive = max(self.peak_alive, self.alive)
        weakref.finalize(tensor, self._freed)

    def _freed(self) -> None:
        self.alive -= 1

    def _pack(self, tensor):
        if not getattr(tensor, "_aisys_parameter", False):
            key = id(tensor)
            self.saved[key] = self.saved.get(key, 0) + 1
            self.peak_saved = max(self.peak_saved, len(self.saved))
            return _Saved(tensor, self, key)
        return tensor

    @staticmethod
    def _unpack(packed):
        return packed.tensor if isinstance(packed, _Saved) else packed

    def __enter__(self) -> "ActivationMeter":
        import torch

        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


class _Saved:
    """What autograd holds for one saved tensor; its death means the node freed it."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor, meter: ActivationMeter, key: int):
        self.tensor = tensor
        weakref.finalize(self, _release, meter, key)


def _release(meter: ActivationMeter, key: int) -> None:
    count = meter.saved.get(key, 0) - 1
    if count <= 0:
        meter.saved.pop(key, None)
    else:
        meter.saved[key] = count


def make_chain(n_layers: int, width: int = 16, seed: int = 0, meter: ActivationMeter | None = None) -> list:
    """n seeded layers `tanh(h·w + b)` (float64 torch modules) that report to `meter`."""
    import torch

    class Layer(torch.nn.Module):
        def __init__(self, generator, index):
            super().__init__()
            self.index = index
            self.w = torch.nn.Parameter(torch.randn(width, generator=generator, dtype=torch.float64) * 0.5 + 1.0)
            self.b = torch.nn.Parameter(torch.randn(width, generator=generator, dtype=torch.float64) * 0.1)
            self.w._aisys_parameter = self.b._aisys_parameter = True

        def forward(self, h):
            out = torch.tanh(h * self.w + self.b)
            if meter is not None:
                meter.track(out, self.index)
            return out

    generator = torch.Generator().manual_seed(seed)
    return [Layer(generator, i) for i in range(n_layers)]


def segments(plan: Sequence[int], n_layers: int) -> list[tuple[int, int]]:
    """[(start, end), ...] of a plan given as sorted segment starts beginning with 0."""
    bounds = list(plan) + [n_layers]
    return list(zip(bounds[:-1], bounds[1:]))


def plan_bound(plan: Sequence[int], n_layers: int) -> int:
    """Activations a segment plan may keep alive at once: one checkpoint per segment plus the
    longest segment recomputed (its outputs) — the classic k + n/k, smallest near k = √n."""
    return len(plan) + max(e - s for s, e in segments(plan, n_layers))


def sqrt_bound(n_layers: int) -> int:
    """What a √n plan achieves: about 2√n (k = ⌈√n⌉ segments of at most ⌈n/k⌉ layers)."""
    k = math.ceil(math.sqrt(n_layers))
    return k + math.ceil(n_layers / k)


def store_nothing_backward(layers: Sequence[Callable], x) -> tuple:
    """The other extreme, for comparison: keep only the input; before each layer's backward
    recompute its input from scratch (n(n−1)/2 extra forward ops, O(1) activations)."""
    import torch

    n, g = len(layers), None
    for i in reversed(range(n)):
        with torch.no_grad():
            h = x.detach()
            for layer in layers[:i]:
                h = layer(h)
        h = h.requires_grad_()
        out = layers[i](h)
        if g is None:
            g, result = torch.ones_like(out), out.detach()
        out.backward(g)
        g = h.grad
        del h, out
    return result, g
