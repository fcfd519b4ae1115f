"""Lab 07: the reference DDPs next to torch's, and the reference ring next to gloo's all-reduce.

    python -m benchmarks --only data_parallel      # or: python -m benchmarks.data_parallel

Two ranks, launched once (aisys.parallel.launch), every measurement taken in turns
(a, b, c, a, b, c, ...) so load from other users of the machine hits all sides alike:

- one training step (forward + backward + gradient sync; no optimizer) of an MLP with
  ~34 MB of gradients (8 layers of 1024×1024): the reference `BucketedDDP` (`BUCKET_MB` MiB buckets, async
  all-reduce launched from gradient hooks) vs `torch.nn.parallel.DistributedDataParallel`
  with the same bucket size (goal: within 1.2×), and vs the reference `NaiveDDP` (goal: faster);
- bandwidth of the reference `ring_all_reduce` (send/recv only) vs gloo's `all_reduce` on
  16 MB of float32 (goal: at least half);
- one FSDP training step (forward, backward, gradient sync, Adam) of a stack of 512-wide
  units: the reference `FSDP` vs `torch.distributed.fsdp.fully_shard` (FSDP2) on the same
  model (goal: within 2×; ours is Python hooks around gloo, theirs is built for it);
- the peak heap bytes a rank holds over such a step (model states + what the step
  allocates, measured with `memprobe` at every unit boundary): the reference `FSDP` and
  `fully_shard` against DDP on the same model (goal: well under 1, about 1/N of the states).

The numbers are rank 0's medians; the note gives the spread.
"""
from __future__ import annotations

import sys
import time

from benchmarks.common import REPO, Timing, error_row, make_row

RING_MB = 16
BUCKET_MB = 5.0     # ~2 layers per bucket: 4 buckets, so backward and all-reduce can overlap


def _step_fn(ddp, x, sync):
    def step():
        ddp.module.zero_grad(set_to_none=True) if hasattr(ddp, "module") else None
        ddp(x).square().mean().backward()
        if sync:
            ddp.sync_gradients()
    return step


def bench_on_rank(width: int, layers: int, repeats: int) -> dict:
    import torch
    import torch.distributed as dist
    from torch import nn

    from aisys.catalog import find_lab
    from aisys.parallel import comm, context
    from aisys.workspace import Student

    reference = Student(find_lab("data-parallel"), REPO / "solutions")
    dev = context.device()

    def model():
        torch.manual_seed(0)
        return nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(width, width), nn.Tanh())]).to(dev)

    x = torch.randn(64, width, device=dev)
    steps = {"naive": _step_fn(reference.get("NaiveDDP")(model()), x, True),
             "bucketed": _step_fn(reference.get("BucketedDDP")(model(), bucket_cap_mb=BUCKET_MB), x, True),
             "torch": _step_fn(nn.parallel.DistributedDataParallel(model(), bucket_cap_mb=BUCKET_MB), x, False)}
    tensor = torch.randn(RING_MB * 2**20 // 4, device=dev)
    ring = reference.get("ring_all_reduce")
    steps["ring"] = lambda: ring(tensor)
    steps["gloo"] = lambda: comm.all_reduce(tensor)
    runs: dict[str, list[float]] = {k: [] for k in steps}
    for i in range(repeats + 1):              # the first round is the warm-up
        for key, fn in steps.items():
            dist.barrier()
            start = time.perf_counter()
            fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if i:
                runs[key].append(time.perf_counter() - start)
    grad_mb = sum(p.numel() for p in model().parameters()) * 4 / 1e6
    return {"runs": runs, "grad_mb": grad_mb, "device": str(dev)}


def _fsdp_steps(width: int, depth: int, repeats: int, kinds: tuple[str, ...]) -> dict:
    """Step times (interleaved) and, for one kind at a time, the peak heap bytes above what the
    process held before the model was built (model states + what a step allocates)."""
    import torch
    import torch.nn.functional as F
    from torch.distributed.fsdp import fully_shard

    from aisys.catalog import find_lab
    from aisys.parallel import context
    from aisys.parallel.data_parallel.memprobe import live_bytes
    from aisys.parallel.data_parallel.toys import make_stack, shard, toy_batches
    from aisys.workspace import Student

    reference = Student(find_lab("data-parallel"), REPO / "solutions")
    x, y = shard(toy_batches(0, 1, 8)[0], context.rank(), context.world_size())

    def build(kind):
        base = live_bytes() or 0
        model = make_stack(0, width=width, depth=depth)
        finish = None
        if kind == "ours":
            wrapped = reference.get("FSDP")(model)
            finish = wrapped.finish_gradient_synchronization
        elif kind == "torch":
            for unit in model:
                fully_shard(unit)
            wrapped = fully_shard(model)
        else:
            wrapped = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.Adam(wrapped.parameters(), lr=1e-4)
        peak = [0]

        def sample(*_):
            peak[0] = max(peak[0], (live_bytes() or 0) - base)
        for unit in model:
            unit.register_forward_hook(sample)
            unit.register_full_backward_pre_hook(sample)

        def step():
            opt.zero_grad(set_to_none=True)
            F.mse_loss(wrapped(x).float(), y).backward()
            if finish:
                finish()
            sample()
            opt.step()
            sample()
        return step, peak

    built = {kind: build(kind) for kind in kinds}
    runs: dict[str, list[float]] = {kind: [] for kind in built}
    for i in range(repeats + 1):                  # the first round warms up (and allocates Adam's state)
        for kind, (step, _) in built.items():
            torch.distributed.barrier()
            start = time.perf_counter()
            step()
            if i:
                runs[kind].append(time.perf_counter() - start)
    return {"runs": runs, "peak": {kind: peak[0] for kind, (_, peak) in built.items()},
            "measured": live_bytes() is not None}


def fsdp_rows(quick: bool) -> list[dict]:
    from aisys.parallel.launch import LaunchError, launch

    width, depth, repeats = (256, 4, 4) if quick else (512, 6, 10)
    try:
        timed = launch(_fsdp_steps, 2, width, depth, repeats, ("ours", "torch"), device="cpu", timeout=120.0)[0]
        peak = {kind: launch(_fsdp_steps, 2, width, depth, 1, (kind,), device="cpu", timeout=120.0)[0]
                for kind in ("ours", "torch", "ddp")}         # one model per process: its own heap
    except LaunchError as err:
        return [error_row("FSDP vs fully_shard", str(err)[-800:])]
    ms = {k: Timing([r * 1e3 for r in v]) for k, v in timed["runs"].items()}
    where = f"2 ranks, cpu, {depth} units of {width}×{width}, Adam"
    rows = [make_row("FSDP step vs torch fully_shard (goal ≤ 2)", None, ms["torch"].median, "ms", timing=ms["ours"],
                     reference_name="torch.distributed.fsdp.fully_shard, same model", note=where)]
    if timed["measured"]:
        mb = {kind: result["peak"][kind] / 1e6 for kind, result in peak.items()}
        rows += [make_row("FSDP peak memory per rank vs DDP (goal < 1)", mb["ours"], mb["ddp"], "MB",
                          reference_name="torch DistributedDataParallel, same model", note=where),
                 make_row("fully_shard peak memory per rank vs DDP", mb["torch"], mb["ddp"], "MB",
                          reference_name="torch DistributedDataParallel, same model", note=where)]
    return rows


def main(quick: bool = False, device: str = "auto") -> list[dict]:
    from aisys.parallel.launch import LaunchError, launch

    width, layers, repeats = (768, 4, 5) if quick else (1024, 8, 12)
    try:
        result = launch(bench_on_rank, 2, width, layers, repeats, device=device, timeout=120.0)[0]
    except LaunchError as err:
        return [error_row("data_parallel", str(err)[-800:])]
    t = {k: Timing(v) for k, v in result["runs"].items()}
    where = f"2 ranks, {result['device']}, {result['grad_mb']:.0f} MB of gradients"
    ms = {k: Timing([r * 1e3 for r in v.runs]) for k, v in t.items()}
    ring_bw = Timing([RING_MB * 2**20 / r / 1e9 for r in t["ring"].runs])
    gloo_bw = Timing([RING_MB * 2**20 / r / 1e9 for r in t["gloo"].runs])
    return fsdp_rows(quick) + [
        make_row("BucketedDDP step vs torch DDP (goal ≤ 1.2)", None, ms["torch"].median, "ms", timing=ms["bucketed"],
                 reference_name=f"torch DistributedDataParallel, bucket_cap_mb={BUCKET_MB:g}", note=where),
        make_row("BucketedDDP step vs NaiveDDP (goal < 1)", None, ms["naive"].median, "ms", timing=ms["bucketed"],
                 reference_name="reference NaiveDDP (all-reduce after backward)", note=where),
        make_row(f"ring_all_reduce bandwidth, {RING_MB} MB (goal ≥ 0.5)", None, gloo_bw.median, "GB/s",
                 timing=ring_bw, reference_name="gloo all_reduce, same tensor",
                 note=f"algorithm bandwidth = bytes / time; {result['device']}"),
    ]


if __name__ == "__main__":
    from benchmarks.__main__ import run_standalone

    run_standalone("data_parallel", quick="--quick" in sys.argv)
