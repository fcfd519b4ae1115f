"""Lab 07, part 5 — the parameter server: data parallelism without all-reduce.

Before ring all-reduce, data parallelism was organised around a **parameter server** (Li et
al., 2014; TensorFlow's early distributed mode): one process owns the parameters, the
workers own the data. Each round a worker **pulls** the current parameters, computes a
gradient on its data, and **pushes** the gradient back; the server applies it.

- **Synchronous**: the server waits for every worker's gradient, averages them and takes one
  SGD step: x ← x − lr · mean_w g_w(x). With equal data shards this is exactly SGD on the
  whole batch — and exactly as slow as the slowest worker.
- **Asynchronous**: the server applies each gradient on its own as it arrives
  (x ← x − lr · g_w), and workers do not wait for fresh parameters. A gradient may then be
  computed on parameters that are several updates old: its **staleness**. Bounded staleness
  (a worker pulls at least every `staleness + 1` steps) still converges when the step is
  small enough, but a large step with stale gradients overshoots and diverges.

Here rank 0 is the server and ranks 1..N−1 are workers; pushes and pulls are
`comm.send`/`comm.recv` of one flat tensor, so the CommLog shows every message.
"""
from __future__ import annotations

from typing import Callable

import torch

from aisys.parallel import comm, context


class ParameterServer:
    """A parameter server on the current ranks: rank 0 serves, every other rank works.

        ps = ParameterServer(torch.zeros(d), lr=0.05, mode="async", staleness=2)
        final = ps.run(grad_fn, steps=40)   # grad_fn(params, rank) -> gradient, on workers only

    Protocol, for step t = 0 .. steps−1 (every rank runs `run` with the same arguments):
    - sync:  server sends the parameters to every worker; each worker receives them, computes
             `grad_fn(params, rank)` and sends the gradient; the server receives one gradient
             per worker (in rank order), and updates with their mean.
    - async: at steps where t % (staleness + 1) == 0 the server sends the parameters and each
             worker receives them (otherwise the worker keeps its old copy); each worker sends
             the gradient of its copy; the server receives them in rank order and applies
             each one on its own: x ← x − lr·g.
    After the last step the server sends the final parameters once more, so every rank
    returns the same tensor.

    Hint: on the server, `params` is the truth; on a worker it is a local copy that
    `comm.recv(copy, src=0)` refreshes. Push with `comm.send(grad, dst=0)`, and on the server
    receive into a fresh buffer per worker. With one rank there is no worker: just return.
    """

    def __init__(self, params: torch.Tensor, lr: float, mode: str = "sync", staleness: int = 0):
        if mode not in ("sync", "async"):
            raise ValueError("mode is 'sync' or 'async'")
        self.params = params.detach().clone()
        self.lr, self.mode, self.staleness = lr, mode, staleness

    def run(self, grad_fn: Callable[[torch.Tensor, int], torch.Tensor], steps: int) -> torch.Tensor:
        # BEGIN SOLUTION
        me, world = context.rank(), context.world_size()
        if world == 1:
            return self.params                    # nobody to serve
        workers = range(1, world)
        period = 1 if self.mode == "sync" else self.staleness + 1
        for step in range(steps):
            pull = step % period == 0
            if me == 0:
                if pull:
                    for w in workers:
                        comm.send(self.params, dst=w)
                grads = []
                for w in workers:
                    grad = torch.empty_like(self.params)
                    comm.recv(grad, src=w)
                    grads.append(grad)
                if self.mode == "sync":
                    self.params -= self.lr * torch.stack(grads).mean(dim=0)
                else:
                    for grad in grads:
                        self.params -= self.lr * grad
            else:
                if pull:
                    comm.recv(self.params, src=0)
                comm.send(grad_fn(self.params, me).detach(), dst=0)
        if me == 0:
            for w in workers:
                comm.send(self.params, dst=w)
        else:
            comm.recv(self.params, src=0)
        return self.params
        # END SOLUTION
