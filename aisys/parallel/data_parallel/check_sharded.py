"""Checks for sharded optimizers: bit for bit equal to the unsharded torch optimizer; state 1/N.

Each rank gets its own gradients, drawn so that their mean over ranks is exact in float32
(`optim_bench.exact_problem`); the parent runs the unsharded optimizer — torch's own class,
or the bench's `SignMomentum` — on the full parameters with that mean. Any sharded update
that computes the same thing gives the same bits; a re-implementation of Adam with
`mul_().add_()` instead of torch's `lerp_` does not.
"""
from __future__ import annotations

from aisys.grading.compare import close
from aisys.grading.shapes import BOOL, INT, array, dict_of, expect, list_of, mapping, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail


def _shapes(rng, extra: list | None = None) -> list[list[int]]:
    """A matrix, a vector, a 3-d tensor with an odd element count, and any corner shapes."""
    return [[int(rng.integers(3, 9)), int(rng.integers(2, 7))], [int(rng.integers(5, 30))],
            [2, 3, int(rng.choice([3, 5, 7]))]] + (extra or [])


def _params(init):
    import torch

    return [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]


def _set_grads(params, grads, skip: list, step: int) -> None:
    import torch

    for i, p in enumerate(params):
        p.grad = None if [step, i] in skip else torch.from_numpy(grads[i].copy())


def _plain(params: list) -> list:
    """Final parameters to send back (a 0-d one as 1 element: plain data has no 0-d arrays)."""
    return [q.detach().reshape(-1) if q.dim() == 0 else q.detach().clone() for q in params]


def _bit_for_bit(output: list, truth: list, what: str) -> object:
    import numpy as np

    for rank, out in enumerate(output):
        for i, want in enumerate(truth):
            want = np.atleast_1d(want)
            verdict = close(out["params"][i], want, rtol=0.0, atol=0.0,
                            what=f"rank {rank}'s parameter {i} (shape {tuple(want.shape)}) {what}")
            if not verdict.passed:
                return verdict
    return PASS


class ShardedOptimizerCheck(ExerciseCheck):
    exercise = "ShardedOptimizer"
    hint = ("one shard per parameter (padded flat data, elements [r·S, (r+1)·S)), optimizer_cls built on the shards "
            "with each group's hyperparameters (copied again every step), reduce-scatter avg into shard.grad (None "
            "stays None), optimizer.step(), all-gather the shards back")

    def cases(self, rng):
        def case(name, world, optimizer, groups, kwargs, *, skip=(), lr_change=None, extra=None):
            shapes = _shapes(rng, extra)
            return Case(name, {"world": world, "seed": int(rng.integers(1 << 30)), "steps": 3, "shapes": shapes,
                               "optimizer": optimizer, "groups": groups, "kwargs": kwargs, "skip": list(skip),
                               "lr_change": lr_change})
        every = [{"params": [0, 1, 2, 3]}]
        return [
            case("w2-adam", 2, "Adam", every, {"lr": 0.01}, extra=[[]]),                  # a 0-d parameter too
            case("w4-adamw-groups-scheduled", 4, "AdamW",
                 [{"params": [0, 2], "lr": 0.02, "weight_decay": 0.1}, {"params": [1, 3], "weight_decay": 0.0}],
                 {"lr": 0.005, "betas": [0.8, 0.95]}, lr_change=[2, 0, 0.001], extra=[[1]]),  # 1 element on 4 ranks
            case("w2-sgd-nesterov-unused", 2, "SGD", every,
                 {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
                 skip=[[0, 1], [1, 3]], extra=[[5]]),                                      # grads that are None
            case("w4-unknown-optimizer", 4, "SignMomentum",
                 [{"params": [0, 1]}, {"params": [2, 3], "lr": 0.03, "weight_decay": 0.05}],
                 {"lr": 0.01, "beta": 0.7}, skip=[[1, 0]], extra=[[6]]),
        ]

    def run(self, case, student):
        import torch

        from aisys.grading.shapes import require
        from aisys.parallel import context
        from aisys.parallel.data_parallel.optim_bench import (exact_problem, forget_instances, instances,
                                                               optimizer_class, state_numel)

        p, rank = case.inputs, context.rank()
        init, grads = exact_problem(p["seed"], context.world_size(), p["steps"], p["shapes"])
        params = _params(init)
        groups = _groups(p, params)
        forget_instances()
        opt = student.get("ShardedOptimizer")(groups, optimizer_class(p["optimizer"], track=True), **_kwargs(p))
        require(opt, torch.optim.Optimizer, "ShardedOptimizer(...)", "a torch.optim.Optimizer (subclass it)")
        for step in range(p["steps"]):
            if p["lr_change"] and p["lr_change"][0] == step:
                opt.param_groups[p["lr_change"][1]]["lr"] = p["lr_change"][2]
            _set_grads(params, grads[step][rank], p["skip"], step)
            opt.step()
            opt.zero_grad()
        made = instances()
        return {"params": _plain(params), "state": sum(state_numel(o) for o in made),
                "inner_steps": [int(o.step_calls) for o in made]}

    def judge(self, case, output):
        p, world = case.inputs, case.inputs["world"]
        shape = per_rank(dict_of({"params": list_of(array(), len(p["shapes"])), "state": INT,
                                  "inner_steps": list_of(INT, min_len=1)}), world)
        verdict = expect(output, shape, "what ShardedOptimizer training returned")
        if not verdict.passed:
            return verdict
        truth, per_param = unsharded(p, world)
        name = p["optimizer"] if p["optimizer"] == "SignMomentum" else f"torch.optim.{p['optimizer']}"
        verdict = _bit_for_bit(output, truth, f"after {p['steps']} steps, compared bit for bit with unsharded "
                                              f"{name} on the mean gradient")
        if not verdict.passed:
            return verdict
        total = sum(per_param)
        padding = sum(-(-k // max(1, n)) * world for k, n in zip(per_param, _numels(p))) if total else 0
        for rank, out in enumerate(output):
            steps = out["inner_steps"]
            if min(steps) < 1 or max(steps) < p["steps"]:
                return fail(f"rank {rank}: the {name} instances it built ran their own step() {steps} times in "
                            f"{p['steps']} steps — call optimizer_cls's step on the shards, don't re-implement it")
            if out["state"] > total / world + max(per_param) + padding:
                return fail(f"rank {rank} holds {out['state']} elements of optimizer state; unsharded {name} holds "
                            f"{total}: each rank should hold about 1/{world} of it (only its shards')")
        held = sum(out["state"] for out in output)
        if not total <= held <= total + padding:
            return fail(f"the ranks together hold {held} elements of optimizer state; unsharded {name} holds {total}:"
                        " every element's state should live on exactly one rank")
        return PASS


def _numels(p: dict) -> list[int]:
    out = []
    for shape in p["shapes"]:
        n = 1
        for d in shape:
            n *= d
        out.append(n)
    return out


def _kwargs(p: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in p["kwargs"].items()}


def _groups(p: dict, params: list) -> list[dict]:
    return [{**{k: v for k, v in g.items() if k != "params"}, "params": [params[i] for i in g["params"]]}
            for g in p["groups"]]


def unsharded(p: dict, world: int) -> tuple[list, list[int]]:
    """Final parameters of the unsharded optimizer on the mean gradients, and its state per parameter."""
    from aisys.parallel.data_parallel.optim_bench import exact_problem, mean_grads, optimizer_class

    init, grads = exact_problem(p["seed"], world, p["steps"], p["shapes"])
    params = _params(init)
    opt = optimizer_class(p["optimizer"], track=False)(_groups(p, params), **_kwargs(p))
    for step in range(p["steps"]):
        if p["lr_change"] and p["lr_change"][0] == step:
            opt.param_groups[p["lr_change"][1]]["lr"] = p["lr_change"][2]
        _set_grads(params, mean_grads(grads[step]), p["skip"], step)
        opt.step()
    per_param = [sum(t.numel() for t in opt.state[q].values() if t.dim() > 0) if q in opt.state else 0
                 for q in params]
    return [q.detach().numpy() for q in params], per_param


class ZeroOptimizerCheck(ExerciseCheck):
    exercise = "ZeroOptimizer"
    hint = ("flatten + pad the gradients to N·S, reduce_scatter_tensor(op='avg') into your S-element shard, torch's "
            "own Adam arithmetic on that shard (exp_avg.lerp_, then mul_/addcmul_, bias_correction2 ** 0.5, "
            "addcdiv_), all_gather_into_tensor the shards; stage 2 also sets every p.grad to None")

    def cases(self, rng):
        def case(name, world, stage, **adam):
            return Case(name, {"world": world, "stage": stage, "seed": int(rng.integers(1 << 30)), "steps": 3,
                               "shapes": _shapes(rng), "lr": round(float(rng.uniform(0.005, 0.05)), 4), **adam})

        def own():   # eps near the gradients' size: Adam stops being scale-free (sum vs mean shows)
            return {"betas": [round(float(rng.uniform(0.5, 0.8)), 3), round(float(rng.uniform(0.9, 0.98)), 3)],
                    "eps": round(float(rng.uniform(0.02, 0.1)), 3)}
        return [case("w2-stage1", 2, 1), case("w4-stage1-own-betas-eps", 4, 1, **own()),
                case("w2-stage2-own-betas-eps", 2, 2, **own()), case("w4-stage2", 4, 2)]

    def run(self, case, student):
        from aisys.parallel import comm, context
        from aisys.parallel.data_parallel.optim_bench import exact_problem, held_numel

        p, rank = case.inputs, context.rank()
        init, grads = exact_problem(p["seed"], context.world_size(), p["steps"], p["shapes"])
        params = _params(init)
        adam = {"betas": tuple(p["betas"]), "eps": p["eps"]} if "eps" in p else {}
        opt = student.get("ZeroOptimizer")(params, stage=p["stage"], lr=p["lr"], **adam)
        steps = []
        for step in range(p["steps"]):
            _set_grads(params, grads[step][rank], [], step)
            with comm.comm_log().capture() as records:
                opt.step()
            ops: dict[str, int] = {}
            for r in records:
                ops[r["op"]] = ops.get(r["op"], 0) + int(r["bytes"])
            steps.append({"ops": ops, "grads_released": all(q.grad is None for q in params)})
            opt.zero_grad()
        exclude = {q.untyped_storage().data_ptr() for q in params}
        return {"params": _plain(params), "steps": steps, "held": held_numel(opt, exclude)}

    def judge(self, case, output):
        p, world = case.inputs, case.inputs["world"]
        step = dict_of({"ops": mapping(INT), "grads_released": BOOL})
        shape = per_rank(dict_of({"params": list_of(array(), len(p["shapes"])), "steps": list_of(step, p["steps"]),
                                  "held": INT}), world)
        verdict = expect(output, shape, "what ZeroOptimizer training returned")
        if not verdict.passed:
            return verdict
        adam = {"lr": p["lr"], "betas": p.get("betas", [0.9, 0.999]), "eps": p.get("eps", 1e-8)}
        spec = {**p, "optimizer": "Adam", "groups": [{"params": list(range(len(p["shapes"])))}], "kwargs": adam,
                "skip": [], "lr_change": None}
        truth, _ = unsharded(spec, world)
        verdict = _bit_for_bit(output, truth, f"after {p['steps']} steps, compared bit for bit with unsharded "
                                              f"torch.optim.Adam(betas={tuple(adam['betas'])}, eps={adam['eps']})")
        if not verdict.passed:
            return verdict
        numel = sum(_numels(p))
        shard = -(-numel // world)
        for rank, out in enumerate(output):
            if out["held"] > 3 * shard + world:
                return fail(f"rank {rank} keeps {out['held']} optimizer elements for {numel} parameters on {world} "
                            "ranks: that is not about 1/N of Adam's state (keep only your shard)")
            if out["held"] < 2 * (numel // world):
                return fail(f"rank {rank}: found too few optimizer-state elements ({out['held']}) in the optimizer's "
                            "attributes; keep the moment vectors as tensors in attributes, dicts or lists")
            for index, info in enumerate(out["steps"]):
                gathered = info["ops"].get("all_gather_into_tensor", 0) + info["ops"].get("all_gather", 0)
                if gathered < 4 * (numel // world):
                    return fail(f"rank {rank}, step {index}: the updated shards were not all-gathered")
                if p["stage"] == 2:
                    if info["ops"].get("reduce_scatter_tensor", 0) < 4 * numel or "all_reduce" in info["ops"]:
                        return fail(f"rank {rank}, step {index}: stage 2 must reduce-scatter the gradients "
                                    "(and never all-reduce them)")
                    if not info["grads_released"]:
                        return fail(f"rank {rank}, step {index}: stage 2 should release the full gradients "
                                    "(p.grad = None) after reducing them")
        return PASS
