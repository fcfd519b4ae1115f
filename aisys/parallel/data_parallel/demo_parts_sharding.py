"""Rank-side bodies of the demo's second half: ZeRO stages side by side, ShardedOptimizer,
FSDP's memory and traffic, and loss scaling. Plain data out; `demo_ranks` guards each call.

Communication is counted the way the ZeRO paper counts it, in elements of the full model
moved per rank and step: an all-reduce of n elements is a reduce-scatter plus an
all-gather, 2n; a reduce-scatter of n-element input, n; an all-gather of n-element output, n.
"""
from __future__ import annotations

SEED = 2024
STACK = {"width": 128, "depth": 4}
FSDP_STACK = {"width": 192, "depth": 4}


def volume(records: list[dict], element_size: int = 4) -> float:
    """Elements moved, by the paper's accounting, from one rank's CommLog records."""
    total = 0.0
    for r in records:
        n = r["bytes"] / element_size
        total += {"all_reduce": 2 * n, "reduce_scatter_tensor": n, "all_gather_into_tensor": n * r["group_size"],
                  "all_gather": n * r["group_size"], "broadcast": n}.get(r["op"], 0.0)
    return total


def _stack_and_batch():
    from aisys.parallel import context
    from aisys.parallel.data_parallel.toys import make_stack, shard, toy_batches

    model = make_stack(SEED, **STACK)
    x, y = shard(toy_batches(SEED + 1, 1, 4 * context.world_size())[0], context.rank(), context.world_size())
    return model, x, y


def _measure(model, step, params=None) -> dict:
    """One training step through `step(loss)`: traffic (×Ψ), what the rank holds afterwards."""
    import torch.nn.functional as F

    from aisys.parallel import comm

    _, x, y = _stack_and_batch()
    psi = sum(p.numel() for p in (params or model.parameters()))
    with comm.comm_log().capture() as records:
        step(F.mse_loss(model(x).float(), y))
    params = list(params or model.parameters())
    return {"volume": volume(records) / psi, "param_bytes": sum(p.numel() * p.element_size() for p in params),
            "grad_bytes": sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)}


def zero_row_dp(naive_ddp) -> dict:
    import torch

    model, _, _ = _stack_and_batch()
    ddp = naive_ddp(model)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(loss):
        loss.backward()
        ddp.sync_gradients()
        adam.step()
    out = _measure(ddp, step, list(model.parameters()))
    return {**out, "state": sum(t.numel() for s in adam.state.values() for t in s.values() if t.dim() > 0)}


def zero_row_sharded(sharded_optimizer) -> dict:
    import torch

    from aisys.parallel.data_parallel.optim_bench import forget_instances, instances, state_numel, tracked

    model, _, _ = _stack_and_batch()
    forget_instances()
    opt = sharded_optimizer(model.parameters(), tracked(torch.optim.Adam), lr=1e-3)
    out = _measure(model, lambda loss: (loss.backward(), opt.step()))
    return {**out, "state": sum(state_numel(o) for o in instances())}


def zero_row_article(_unused=None) -> dict:
    """The article's ZeRO-1: all-reduce the gradients (2Ψ), update a shard, all-gather (Ψ) = 3Ψ."""
    import torch

    from aisys.parallel import comm, context

    model, _, _ = _stack_and_batch()
    world, rank = context.world_size(), context.rank()
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    size = -(-flat.numel() // world)
    mine = torch.nn.Parameter(torch.cat([flat, flat.new_zeros(size * world - flat.numel())])[rank * size:][:size])
    adam = torch.optim.Adam([mine], lr=1e-3)

    def step(loss):
        loss.backward()
        for p in model.parameters():
            comm.all_reduce(p.grad, op="avg")
        grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        mine.grad = torch.cat([grads, grads.new_zeros(size * world - grads.numel())])[rank * size:][:size].clone()
        adam.step()
        gathered = mine.new_empty(size * world)
        comm.all_gather_into_tensor(gathered, mine.detach())
    out = _measure(model, step)
    return {**out, "state": sum(t.numel() for s in adam.state.values() for t in s.values() if t.dim() > 0)}


def zero_row_stage2(zero_optimizer) -> dict:
    from aisys.parallel.data_parallel.optim_bench import held_numel

    model, _, _ = _stack_and_batch()
    opt = zero_optimizer(model.parameters(), stage=2, lr=1e-3)
    out = _measure(model, lambda loss: (loss.backward(), opt.step()))
    exclude = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return {**out, "state": held_numel(opt, exclude)}


def zero_row_fsdp(fsdp_cls) -> dict:
    import torch

    model, _, _ = _stack_and_batch()
    psi = sum(p.numel() for p in model.parameters())
    wrapped = fsdp_cls(model)
    adam = torch.optim.Adam(wrapped.parameters(), lr=1e-3)

    def step(loss):
        loss.backward()
        wrapped.finish_gradient_synchronization()
        adam.step()
    out = _measure(wrapped, step, list(wrapped.parameters()))
    out["volume"] = out["volume"] * sum(p.numel() for p in wrapped.parameters()) / psi
    return {**out, "state": sum(t.numel() for s in adam.state.values() for t in s.values() if t.dim() > 0)}


def sharded_part(sharded_optimizer) -> dict:
    """Bit for bit against the unsharded torch optimizer, and how much state this rank holds."""
    import torch

    from aisys.parallel import context
    from aisys.parallel.data_parallel.optim_bench import (exact_problem, forget_instances, instances, mean_grads,
                                                           state_numel, tracked)

    shapes = [[12, 7], [7], [3, 5, 3]]
    setups = {"Adam(lr=0.01)": (torch.optim.Adam, {"lr": 0.01}),
              "AdamW(lr=0.01, weight_decay=0.1)": (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
              "SGD(lr=0.05, momentum=0.9)": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9})}
    out = {}
    for label, (cls, kwargs) in setups.items():
        init, grads = exact_problem(SEED, context.world_size(), 3, shapes)
        mine = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
        full = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
        forget_instances()
        opt, reference = sharded_optimizer(mine, tracked(cls), **kwargs), cls(full, **kwargs)
        for step in range(3):
            for p, q, g, m in zip(mine, full, grads[step][context.rank()], mean_grads(grads[step])):
                p.grad, q.grad = torch.from_numpy(g.copy()), torch.from_numpy(m.copy())
            opt.step()
            reference.step()
        out[label] = {"max_diff": max(float((p - q).detach().abs().max()) for p, q in zip(mine, full)),
                      "state": sum(state_numel(o) for o in instances()), "unsharded": state_numel(reference)}
    return out


def fsdp_part(fsdp_cls) -> dict:
    """Three steps through the bench's hooks: losses, the last step's traffic, memory of steps 1-2
    (step 0 warms caches up)."""
    import torch
    import torch.nn.functional as F

    from aisys.parallel import comm, context
    from aisys.parallel.data_parallel.check_fsdp import units_of
    from aisys.parallel.data_parallel.fsdp_trace import StepTrace
    from aisys.parallel.data_parallel.toys import make_stack, shard, toy_batches

    out = {}
    for label, dtype in (("float32", None), ("bfloat16", torch.bfloat16)):
        model = make_stack(SEED, **FSDP_STACK)
        units = units_of(model)
        unit_bytes = [sum(p.numel() for p in u.parameters()) * (2 if dtype else 4) for u in units]
        wrapped = fsdp_cls(model, compute_dtype=dtype)
        trace = StepTrace(units)
        opt = torch.optim.SGD(wrapped.parameters(), lr=0.01, momentum=0.9)
        losses, memory = [], []
        for batch in toy_batches(SEED + 1, 4, 4 * context.world_size()):
            x, y = shard(batch, context.rank(), context.world_size())
            opt.zero_grad(set_to_none=True)
            trace.start()
            with comm.comm_log().capture() as records:
                loss = F.mse_loss(wrapped(x).float(), y)
                trace.point("backward")
                loss.backward()
                trace.point("sync")
                wrapped.finish_gradient_synchronization()
                trace.point("synced")
            opt.step()
            losses.append(float(loss.detach()))
            memory.append(trace.memory())
        trace.remove()
        out[label] = {"losses": losses, "events": trace.events(records), "memory": memory[1:],
                      "unit_bytes": unit_bytes, "model_bytes": sum(unit_bytes)}
    return out


def scaler_part(scaler_cls) -> dict:
    """A sequence with overflows (one only on the last rank) and the underflow that scaling rescues."""
    import torch

    from aisys.grading.spec import Case
    from aisys.parallel import context
    from aisys.parallel.data_parallel.check_precision import SHARD, coefficients, initial

    world, rank = context.world_size(), context.rank()
    case = scaler_case(world)
    c = torch.from_numpy(coefficients(case)[:, rank * SHARD:(rank + 1) * SHARD].copy())
    w = torch.nn.Parameter(torch.from_numpy(initial(case)[rank * SHARD:(rank + 1) * SHARD].copy()))
    opt = torch.optim.SGD([w], lr=case.inputs["lr"])
    scaler = scaler_cls(init_scale=case.inputs["init_scale"], growth_interval=case.inputs["growth_interval"])
    steps = []
    for step in range(case.inputs["steps"]):
        opt.zero_grad()
        scaler.scale((w.half() * c[step]).sum()).backward()
        stepped = bool(scaler.step(opt))
        scaler.update()
        steps.append([stepped, float(scaler.get_scale())])
    return {"steps": steps, "underflow": underflow(scaler_cls), "case": Case.to_json(case)}


def scaler_case(world: int):
    from aisys.grading.spec import Case

    return Case("demo", {"world": world, "seed": SEED, "steps": 10, "lr": 0.01, "init_scale": 2.0**10,
                         "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2, "unscale_first": [],
                         "events": [[3, world - 1, 30000.0], [6, 0, float("nan")]]})


def underflow(scaler_cls) -> list[list]:
    """Per upstream gradient k: [k, zero fraction and median relative error of dW = xᵀ·k computed
    in fp16 without scaling, the same with the scaler's scale]. S = 2¹⁵: fp16 itself must hold S."""
    import torch

    x = torch.rand(32, 64, generator=torch.Generator().manual_seed(SEED)) * 0.9 + 0.1
    rows = []
    for k in (1e-2, 1e-4, 1e-6, 1e-7, 1e-8, 1e-10):
        exact = x.double().sum(0, keepdim=True).t().expand(64, 8) * k
        row = [k]
        for scaled in (False, True):
            w = torch.nn.Parameter(torch.ones(64, 8))
            scaler = scaler_cls(init_scale=2.0**15)
            loss = (x.half() @ w.half()).sum() * k
            (scaler.scale(loss) if scaled else loss).backward()
            if scaled:
                scaler.unscale_(torch.optim.SGD([w], lr=0.0))
                scaler.update()
            error = ((w.grad.double() - exact).abs() / exact).median()
            row += [float((w.grad == 0).float().mean()), float(error)]
        rows.append(row)
    return rows
