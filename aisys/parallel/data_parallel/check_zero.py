"""Checks for ZeRO: sharded Adam == unsharded Adam, state ≈ 1/N per rank; the paper's numbers."""
from __future__ import annotations

import math

from aisys.grading.compare import close, off_by
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail


def held_numel(obj, exclude: set[int], depth: int = 0, seen: set[int] | None = None) -> int:
    """Elements of the tensors an object keeps in its attributes, dicts, lists and tuples."""
    import torch

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


class ZeroOptimizerCheck(ExerciseCheck):
    exercise = "ZeroOptimizer"
    hint = ("flatten + pad the gradients to N·S, reduce_scatter_tensor(op='avg') into your S-element shard, Adam "
            "on that shard only (moments of size S), all_gather_into_tensor the updated shards; stage 2 also "
            "sets every p.grad to None")

    def cases(self, rng):
        def case(name, world, stage, hidden_choices=(12, 16, 20), **adam):
            return Case(name, {"world": world, "stage": stage, "seed": int(rng.integers(1 << 30)), "steps": 3,
                               "batch": 4 * world, "hidden": int(rng.choice(hidden_choices)), "lr": 0.02, **adam})

        def own_adam():   # eps near the gradients' size: Adam stops being scale-free (sum vs mean shows)
            return {"betas": [round(float(rng.uniform(0.5, 0.8)), 3), round(float(rng.uniform(0.9, 0.98)), 3)],
                    "eps": round(float(rng.uniform(0.02, 0.1)), 3)}
        odd = (13, 15, 17)   # an odd parameter count: the last shard is padded
        return [case("w2-stage1", 2, 1), case("w4-stage1-odd-numel", 4, 1, odd),
                case("w2-stage2-own-betas-eps", 2, 2, **own_adam()), case("w4-stage2-odd-numel-own-eps", 4, 2, odd,
                                                                          **own_adam())]

    def run(self, case, student):
        import torch.nn.functional as F

        from aisys.parallel import comm, context
        from aisys.parallel.data_parallel.toys import make_toy, shard, state_arrays, toy_batches

        p, rank, world = case.inputs, context.rank(), context.world_size()
        model = make_toy(p["seed"], hidden=p["hidden"])
        adam = {"betas": tuple(p["betas"]), "eps": p["eps"]} if "eps" in p else {}
        opt = student.get("ZeroOptimizer")(model.parameters(), stage=p["stage"], lr=p["lr"], **adam)
        steps = []
        for batch in toy_batches(p["seed"] + 1, p["steps"], p["batch"]):
            x, y = shard(batch, rank, world)
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            with comm.comm_log().capture() as records:
                opt.step()
            trainable = [q for q in model.parameters() if q.requires_grad]
            steps.append({"ops": {r["op"]: sum(x["bytes"] for x in records if x["op"] == r["op"]) for r in records},
                          "grads_released": all(q.grad is None for q in trainable)})
        exclude = {q.untyped_storage().data_ptr() for q in model.parameters()}
        return {"state": state_arrays(model), "steps": steps, "held": held_numel(opt, exclude)}

    def judge(self, case, output):
        from aisys.parallel.data_parallel.toys import make_toy, state_arrays, toy_batches, train_single_process_adam

        p, world = case.inputs, case.inputs["world"]
        model = make_toy(p["seed"], hidden=p["hidden"])
        numel = sum(q.numel() for q in model.parameters() if q.requires_grad)
        adam = {"betas": tuple(p["betas"]), "eps": p["eps"]} if "eps" in p else {}
        truth = state_arrays(train_single_process_adam(model, toy_batches(p["seed"] + 1, p["steps"], p["batch"]),
                                                       p["lr"], **adam))
        shard = math.ceil(numel / world)
        for rank, out in enumerate(output):
            for name, want in truth.items():
                verdict = close(out["state"].get(name), want, rtol=1e-4, atol=1e-5,
                                what=f"rank {rank}'s {name} after {p['steps']} steps, compared with unsharded "
                                     f"Adam (betas={p.get('betas', 'default')}, eps={p.get('eps', 'default')})")
                if not verdict.passed:
                    return verdict
            held = out["held"]
            if held > 3 * shard + world:
                return fail(f"rank {rank} keeps {held} optimizer elements for a {numel}-parameter model on {world} "
                            "ranks: that is not about 1/N of Adam's state (keep only your shard)")
            if held < 2 * (numel // world):
                return fail(f"rank {rank}: found too few optimizer-state elements ({held}) in the optimizer's "
                            "attributes; keep the moment vectors as tensors in attributes, dicts or lists")
            for step, info in enumerate(out["steps"]):
                if not {"all_gather_into_tensor", "all_gather"} & set(info["ops"]):
                    return fail(f"rank {rank}, step {step}: parameters were never all-gathered after the update")
                if p["stage"] == 2:
                    if info["ops"].get("reduce_scatter_tensor", 0) < 4 * numel or "all_reduce" in info["ops"]:
                        return fail(f"rank {rank}, step {step}: stage 2 must reduce-scatter the gradients "
                                    "(and never all-reduce them)")
                    if not info["grads_released"]:
                        return fail(f"rank {rank}, step {step}: stage 2 should release the full gradients "
                                    "(p.grad = None) after reducing them")
        return PASS


def judge_scalar(output: list, want: float, call: str, unit: str, *, rtol: float, atol: float) -> Verdict:
    """A pure function's one number (every rank computes it) against the formula's."""
    if any(value != output[0] for value in output):
        return fail(f"{call} returned different values on different ranks for the same arguments")
    got = output[0]
    if close(got, want, rtol=rtol, atol=atol).passed:
        return PASS
    return fail(off_by(got, want, f"the result of {call}", unit))


class ZeroMemory(ExerciseCheck):
    exercise = "zero_memory"
    hint = "weights 2Ψ + gradients 2Ψ + optimizer KΨ bytes; stage s divides the first s of (states, grads, weights) by N_d"

    def cases(self, rng):
        paper = [Case(f"paper-stage{s}", {"world": 2, "psi": 7.5e9, "n_d": 64, "stage": s, "k": 12}) for s in range(4)]
        return paper + [Case(f"random-stage{s}", {"world": 2, "psi": float(rng.integers(1, 200)) * 1e8,
                                                   "n_d": int(rng.choice([4, 8, 16, 128])), "stage": s,
                                                   "k": 16 if s % 2 else int(rng.choice([12, 16]))})
                        for s in range(4)]   # k=16 at least twice: a hard-coded 12 cannot pass

    def run(self, case, student):
        p = case.inputs
        return float(student.get("zero_memory")(p["psi"], p["n_d"], p["stage"], k=p["k"]))

    def judge(self, case, output):
        p = case.inputs
        call = f"zero_memory(psi={p['psi']:.4g}, n_d={p['n_d']}, stage={p['stage']}, k={p['k']})"
        if case.id.startswith("paper"):   # the ZeRO paper's Figure 1, to its one decimal
            want = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}[p["stage"]]
            return judge_scalar(output, want, call, "GB", rtol=0, atol=0.05)
        weights, grads, states = 2 * p["psi"], 2 * p["psi"], p["k"] * p["psi"]
        divided = [states, grads, weights][:p["stage"]]
        want = (weights + grads + states - sum(divided) + sum(divided) / p["n_d"]) / 1e9
        return judge_scalar(output, want, call, "GB", rtol=1e-6, atol=1e-9)


class ZeroComm(ExerciseCheck):
    exercise = "zero_comm"
    hint = "reduce-scatter Ψ + all-gather Ψ per step; stage 3 gathers parameters once more"

    def cases(self, rng):
        return [Case(f"stage{s}", {"world": 2, "psi": float(rng.integers(1, 100)) * 1e7, "stage": s}) for s in range(4)]

    def run(self, case, student):
        return float(student.get("zero_comm")(case.inputs["psi"], case.inputs["stage"]))

    def judge(self, case, output):
        psi, stage = case.inputs["psi"], case.inputs["stage"]
        want = (3 if stage == 3 else 2) * psi
        call = f"zero_comm(psi={psi:.4g}, stage={stage})"
        return judge_scalar(output, want, call, "elements", rtol=1e-9, atol=1e-6)
