"""Checks for DynamicLossScaler: the same decisions as torch.amp.GradScaler, agreed by every rank.

Each rank trains its shard of one fp32 master vector through fp16 compute: the loss
Σ w.half()·c, so the gradient of element i is S·c_i computed in fp16 — it overflows when
S·|c_i| > 65504. The sequence mixes clean steps (the scale grows), natural overflows once
it has grown, an injected overflow or NaN on *one* rank only (every rank must skip), and
steps where `unscale_` is called before `step` (it must not unscale twice). The parent
replays the sequence on the whole vector with `torch.amp.GradScaler("cpu")`.
"""
from __future__ import annotations

import numpy as np

from aisys.grading.compare import close, equal
from aisys.grading.shapes import BOOL, NUMBER, array, dict_of, expect, list_of, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail

SHARD = 6


def coefficients(case: Case) -> np.ndarray:
    """c[step, element] for the whole vector (world × SHARD elements), fp16-exact values."""
    p = case.inputs
    rng = np.random.default_rng(p["seed"])
    c = rng.integers(-512, 512, size=(p["steps"], p["world"] * SHARD)) / 64.0      # |c| ≤ 8, exact in fp16
    for step, rank, value, *where in p["events"]:        # where: the element, else a random one
        c[step, rank * SHARD + (where[0] if where else int(rng.integers(SHARD)))] = value
    return c.astype(np.float16)


def initial(case: Case) -> np.ndarray:
    return np.random.default_rng(case.inputs["seed"] + 1).uniform(-1, 1, case.inputs["world"] * SHARD) \
        .astype(np.float32)


class DynamicLossScalerCheck(ExerciseCheck):
    exercise = "DynamicLossScaler"
    hint = ("unscale_: grads *= 1/S, found = any non-finite, all_reduce(flag, 'max') so every rank agrees; step: "
            "unscale_ unless done this step, then optimizer.step() only if nothing was found; update: S *= backoff "
            "and reset the count on inf/NaN, else count and S *= growth every growth_interval clean steps")

    def cases(self, rng):
        def case(name, world, *, events, unscale_first=(), init=2.0**10, growth=2.0, backoff=0.5, interval=2,
                 split=False):
            return Case(name, {"world": world, "seed": int(rng.integers(1 << 30)), "steps": 10, "lr": 0.01,
                               "init_scale": init, "growth_factor": growth, "backoff_factor": backoff,
                               "growth_interval": interval, "events": events, "unscale_first": list(unscale_first),
                               "split": split})
        one = int(rng.integers(2, 5))
        return [
            case("w2-overflow-on-one-rank", 2, events=[[one, 1, 30000.0], [7, 0, 30000.0]]),
            case("w4-nan-and-explicit-unscale", 4, events=[[1, 3, float("nan")], [one + 3, 2, float("inf")]],
                 unscale_first=[0, 2, one + 3, 8]),
            case("w2-own-factors", 2, events=[[5, 0, 30000.0]], init=2.0**12, growth=4.0, backoff=0.25, interval=3),
            # each rank's shard as three parameters in two groups: an overflow in the first parameter,
            # then one in the second group only — every parameter of every group is looked at
            case("w2-three-params-two-groups", 2, split=True,
                 events=[[2, int(rng.integers(2)), 30000.0, 0], [5, int(rng.integers(2)), 30000.0, 5]]),
        ]

    def run(self, case, student):
        import torch

        from aisys.grading.shapes import require
        from aisys.parallel import context

        p, rank = case.inputs, context.rank()
        c = torch.from_numpy(coefficients(case)[:, rank * SHARD:(rank + 1) * SHARD].copy())
        shard = torch.from_numpy(initial(case)[rank * SHARD:(rank + 1) * SHARD].copy())
        if p["split"]:      # parameters of 2, 2 and 2 elements; groups [first two], [last]
            params = [torch.nn.Parameter(part.clone()) for part in shard.split(SHARD // 3)]
            opt = torch.optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=p["lr"])
        else:
            params = [torch.nn.Parameter(shard)]
            opt = torch.optim.SGD(params, lr=p["lr"])
        scaler = student.get("DynamicLossScaler")(init_scale=p["init_scale"], growth_factor=p["growth_factor"],
                                                   backoff_factor=p["backoff_factor"],
                                                   growth_interval=p["growth_interval"])
        stepped, scales = [], []
        for step in range(p["steps"]):
            opt.zero_grad()
            scaled = require(scaler.scale((torch.cat(params).half() * c[step]).sum()), torch.Tensor,
                             "DynamicLossScaler.scale",
                             "a tensor (the loss times the scale)")
            scaled.backward()
            if step in p["unscale_first"]:
                scaler.unscale_(opt)
            stepped.append(require(scaler.step(opt), bool, "DynamicLossScaler.step",
                                   "a bool (True if the optimizer stepped)"))
            scaler.update()
            scales.append(float(require(scaler.get_scale(), (int, float), "DynamicLossScaler.get_scale", "a float")))
        return {"stepped": stepped, "scales": scales, "w": torch.cat(params).detach().clone()}

    def judge(self, case, output):
        p, world = case.inputs, case.inputs["world"]
        shape = per_rank(dict_of({"stepped": list_of(BOOL, p["steps"]), "scales": list_of(NUMBER, p["steps"]),
                                  "w": array((SHARD,))}), world)
        verdict = expect(output, shape, "what DynamicLossScaler training returned")
        if not verdict.passed:
            return verdict
        stepped, scales, w = grad_scaler_truth(case)
        for rank, out in enumerate(output):
            got = [bool(s) for s in out["stepped"]]
            if got != stepped:
                first = next(i for i, (a, b) in enumerate(zip(got, stepped)) if a != b)
                return fail(f"rank {rank} {'took' if got[first] else 'skipped'} the optimizer step at step {first}, "
                            f"where torch.amp.GradScaler {'took' if stepped[first] else 'skipped'} it (an inf/NaN "
                            "in any rank's gradients skips the step on every rank)")
            verdict = equal([float(s) for s in out["scales"]], scales,
                            what=f"rank {rank}'s scale after each update(), compared with torch.amp.GradScaler's")
            if not verdict.passed:
                return verdict
            verdict = close(out["w"], w[rank * SHARD:(rank + 1) * SHARD], rtol=1e-6, atol=1e-7,
                            what=f"rank {rank}'s parameters after {p['steps']} steps, compared with "
                                 "torch.amp.GradScaler + SGD on the whole vector")
            if not verdict.passed:
                return verdict
        return PASS


def grad_scaler_truth(case: Case) -> tuple[list[bool], list[float], np.ndarray]:
    """torch.amp.GradScaler on the whole vector: steps taken, scale after each update, final weights."""
    import torch

    p = case.inputs
    c = torch.from_numpy(coefficients(case))
    w = torch.nn.Parameter(torch.from_numpy(initial(case)))
    opt = torch.optim.SGD([w], lr=p["lr"])
    scaler = torch.amp.GradScaler("cpu", init_scale=p["init_scale"], growth_factor=p["growth_factor"],
                                  backoff_factor=p["backoff_factor"], growth_interval=p["growth_interval"])
    stepped, scales = [], []
    for step in range(p["steps"]):
        opt.zero_grad()
        scaler.scale((w.half() * c[step]).sum()).backward()
        if step in p["unscale_first"]:
            scaler.unscale_(opt)
        before = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        stepped.append(not scaler.get_scale() < before)      # GradScaler backs off exactly when it skipped
        scales.append(float(scaler.get_scale()))
    if not any(stepped) or all(stepped):
        raise AssertionError("the case should mix skipped and taken steps")
    return stepped, scales, w.detach().numpy()
