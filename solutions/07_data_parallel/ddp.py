"""Lab 07, part 3 — distributed data parallel (DDP), naive and bucketed.

DDP keeps one full replica of the model per rank. Each step, every rank runs forward and
backward on its own shard of the batch; then the ranks average their gradients, so every
replica takes the *same* optimizer step and the replicas never drift apart. Two rules make
that true:

- **start equal**: broadcast rank 0's parameters *and buffers* to everyone at construction
  (ranks may have initialised differently, and a frozen parameter never gets a gradient to
  fix it later);
- **step equal**: gradient = mean over ranks of each rank's mean-loss gradient, which for
  equal shards is exactly the full-batch gradient: k DDP steps == k single-process steps.

`NaiveDDP` all-reduces every gradient after backward has finished: simple, but the network
sits idle during backward and the compute sits idle during communication. `BucketedDDP`
does what `torch.nn.parallel.DistributedDataParallel` does:

1. group the trainable parameters into **buckets** of about `bucket_cap_mb` MiB, walking
   them in *reverse* registration order (backward produces the last layer's gradients first);
   a bucket is closed as soon as its size reaches the cap;
2. a **post-accumulate-grad hook** on each parameter counts ready gradients; when a bucket
   is complete, flatten its gradients and start an **async** all-reduce right away, while
   backward keeps computing earlier layers (overlap);
3. launch buckets strictly in bucket order (every rank must issue collectives in the same
   order), and before the optimizer step **wait** for all of them and copy the averages back.

A shared parameter (one weight used by two layers) is one parameter: `module.parameters()`
yields it once and its hook fires once per backward, after both uses have accumulated.
"""
from __future__ import annotations

import torch

from aisys.parallel import comm


class NaiveDDP(torch.nn.Module):
    """Wrap `module`: broadcast its state from rank 0, then average all gradients on request.

        ddp = NaiveDDP(model)
        loss = loss_fn(ddp(x), y); loss.backward()
        ddp.sync_gradients()        # every p.grad is now the mean over ranks
        optimizer.step()

    Hint: broadcast `p.data` for every parameter and every buffer (`comm.broadcast(t, src=0)`);
    in `sync_gradients`, `comm.all_reduce(p.grad, op="avg")` for each parameter that has a
    gradient (frozen ones have none).
    """

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module
        # BEGIN SOLUTION
        with torch.no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                comm.broadcast(tensor.data, src=0)
        # END SOLUTION

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def sync_gradients(self) -> None:
        """Average every gradient over the ranks (after backward, before the optimizer step)."""
        # BEGIN SOLUTION
        for param in self.module.parameters():
            if param.grad is not None:
                comm.all_reduce(param.grad, op="avg")
        # END SOLUTION


class BucketedDDP(NaiveDDP):
    """NaiveDDP's broadcast, plus gradient buckets all-reduced asynchronously during backward.

    `self.buckets` is a list of lists of parameters, bucket 0 holding the *last* parameters
    of `module.parameters()`; only parameters with `requires_grad` take part. A bucket closes
    once its gradients' bytes reach `bucket_cap_mb * 2**20`. `sync_gradients()` waits for the
    buckets in flight and writes the averaged gradients back into each `p.grad`.

    Hint: `p.register_post_accumulate_grad_hook(fn)` calls `fn(p)` once `p.grad` is final for
    this backward. Count ready parameters per bucket; launch bucket i only after buckets
    0..i-1 (keep a "next to launch" index). Launch with `comm.all_reduce(flat, op="avg",
    async_op=True)` where `flat = torch.cat([p.grad.reshape(-1) for p in bucket])`, and keep
    the handle; reset your counters for the next step in `sync_gradients`.
    """

    def __init__(self, module: torch.nn.Module, bucket_cap_mb: float = 25.0):
        super().__init__(module)
        self.bucket_cap_mb = bucket_cap_mb
        self.buckets: list[list[torch.nn.Parameter]] = []
        # BEGIN SOLUTION
        cap_bytes = bucket_cap_mb * 2**20
        current: list[torch.nn.Parameter] = []
        size = 0
        for param in reversed([p for p in module.parameters() if p.requires_grad]):
            current.append(param)
            size += param.numel() * param.element_size()
            if size >= cap_bytes:
                self.buckets.append(current)
                current, size = [], 0
        if current:
            self.buckets.append(current)
        self._bucket_of = {param: i for i, bucket in enumerate(self.buckets) for param in bucket}
        self._ready = [0] * len(self.buckets)
        self._next = 0
        self._in_flight: list = []
        for param in self._bucket_of:
            param.register_post_accumulate_grad_hook(self._grad_ready)
        # END SOLUTION

    # BEGIN SOLUTION: 
    def _grad_ready(self, param: torch.nn.Parameter) -> None:
        self._ready[self._bucket_of[param]] += 1
        while self._next < len(self.buckets) and self._ready[self._next] == len(self.buckets[self._next]):
            self._launch(self._next)
            self._next += 1

    def _launch(self, index: int) -> None:
        bucket = self.buckets[index]
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in bucket])
        self._in_flight.append((bucket, flat, comm.all_reduce(flat, op="avg", async_op=True)))
    # END SOLUTION

    def sync_gradients(self) -> None:
        """Wait for every bucket's all-reduce and copy the averaged gradients back."""
        # BEGIN SOLUTION
        while self._next < len(self.buckets):     # parameters that got no gradient this step
            self._launch(self._next)
            self._next += 1
        for bucket, flat, work in self._in_flight:
            work.wait()
            offset = 0
            for param in bucket:      # the averaged gradient becomes a view of the bucket: no copy
                n = param.numel()
                param.grad = flat[offset:offset + n].view_as(param)
                offset += n
        self._in_flight.clear()
        self._ready = [0] * len(self.buckets)
        self._next = 0
        # END SOLUTION
