"""Checks for NaiveDDP and BucketedDDP: k steps on N ranks == k steps on one process."""
from __future__ import annotations

import time

from aisys.grading.compare import close
from aisys.grading.shapes import BOOL, INT, NUMBER, array, dict_of, expect, list_of, mapping, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail

STEP = dict_of({"loss": NUMBER, "reduce_bytes": list_of(INT), "early": INT, "before_last_gradient": INT,
                "waited_in_backward": INT,
                "all_async": BOOL})


def _case(name: str, rng, world: int, **extra) -> Case:
    return Case(name, {"world": world, "seed": int(rng.integers(1 << 30)), "steps": 3, "batch": 8 * world,
                       "hidden": int(rng.choice([12, 16, 24])), "lr": 0.05, **extra})


def train_on_rank(case: Case, wrap) -> dict:
    """In a rank: build a differently-seeded toy, wrap it, train `steps` steps on this rank's shard."""
    import torch.nn.functional as F

    from aisys.parallel import comm, context
    from aisys.parallel.data_parallel.toys import MomentumSGD, make_toy, shard, state_arrays, toy_batches

    p, rank, world = case.inputs, context.rank(), context.world_size()
    model = make_toy(p["seed"] + 7919 * rank, hidden=p["hidden"])
    ddp = wrap(model)
    opt = MomentumSGD(model.parameters(), p["lr"])
    computed: list[float] = []     # when autograd produced each gradient (before accumulation and DDP hooks)
    for param in (q for q in model.parameters() if q.requires_grad):
        param.register_hook(lambda grad: computed.append(time.perf_counter()))
    steps = []
    for batch in toy_batches(p["seed"] + 1, p["steps"], p["batch"]):
        x, y = shard(batch, rank, world)
        opt.zero_grad()
        computed.clear()
        with comm.comm_log().capture() as records:
            loss = F.mse_loss(ddp(x), y)
            loss.backward()
            backward_end = time.perf_counter()
            ddp.sync_gradients()
        opt.step()
        reduces = [r for r in records if r["op"] == "all_reduce"]
        last_gradient = max(computed, default=backward_end)
        steps.append({"loss": float(loss.detach()), "reduce_bytes": [r["bytes"] for r in reduces],
                      "early": sum(r["start"] < backward_end for r in reduces),
                      "before_last_gradient": sum(r["start"] < last_gradient for r in reduces),
                      "waited_in_backward": sum(r["end"] is not None and r["end"] < backward_end for r in reduces),
                      "all_async": all(r["async"] for r in reduces)})
    return {"state": state_arrays(model), "steps": steps}


def judge_training(case: Case, output: list) -> object:
    """Every rank's final parameters and buffers equal single-process full-batch training."""
    from aisys.parallel.data_parallel.toys import make_toy, state_arrays, toy_batches, train_single_process

    p = case.inputs
    model = make_toy(p["seed"], hidden=p["hidden"])        # rank 0's initial state
    shape = per_rank(dict_of({"state": mapping(array(), keys=list(model.state_dict())),
                              "steps": list_of(STEP, p["steps"])}), p["world"])
    verdict = expect(output, shape, "what DDP training returned")
    if not verdict.passed:
        return verdict
    model, losses = train_single_process(model, toy_batches(p["seed"] + 1, p["steps"], p["batch"]), p["lr"],
                                         world=p["world"])
    truth = state_arrays(model)
    for rank, out in enumerate(output):
        for step, info in enumerate(out["steps"]):
            verdict = close(info["loss"], losses[step][rank], rtol=1e-4, atol=1e-6,
                            what=f"rank {rank}'s loss on its shard of the batch at step {step}")
            if not verdict.passed:
                return verdict
        for name, want in truth.items():
            verdict = close(out["state"][name], want, rtol=1e-4, atol=1e-5,
                            what=f"rank {rank}'s {name} after {p['steps']} steps, compared with one process "
                                 "on the full batch")
            if not verdict.passed:
                return verdict
    return PASS


def judge_volume(case: Case, output: list) -> object:
    """Each step reduces every trainable gradient exactly once (frozen: never; shared: once)."""
    from aisys.parallel.data_parallel.toys import make_toy, trainable_bytes

    want = trainable_bytes(make_toy(0, hidden=case.inputs["hidden"]))
    for rank, out in enumerate(output):
        for step, info in enumerate(out["steps"]):
            got = sum(info["reduce_bytes"])
            if got != want:
                return fail(f"rank {rank}, step {step}: all-reduced {got} bytes of gradient but the model has "
                            f"{want} bytes of trainable parameters (something reduced twice, a frozen "
                            "parameter reduced, or a gradient missed)")
    return PASS


class NaiveDDPCheck(ExerciseCheck):
    exercise = "NaiveDDP"
    hint = ("broadcast every parameter AND buffer from rank 0 in __init__; after backward average each "
            "p.grad (skip p.grad is None: frozen); a shared weight is one parameter")

    def cases(self, rng):
        return [_case("w2-toy", rng, 2), _case("w4-toy", rng, 4), _case("w2-wide", rng, 2)]

    def run(self, case, student):
        cls = student.get("NaiveDDP")
        return train_on_rank(case, cls)

    def judge(self, case, output):
        verdict = judge_training(case, output)
        return verdict if not verdict.passed else judge_volume(case, output)


class BucketedDDPCheck(ExerciseCheck):
    exercise = "BucketedDDP"
    hint = ("buckets in reverse parameter order, closed when they reach bucket_cap_mb MiB; launch each "
            "bucket's async all_reduce from the post-accumulate-grad hook as soon as it is full (in bucket "
            "order), and wait for all of them in sync_gradients")

    def cases(self, rng):
        from aisys.parallel.data_parallel.toys import make_toy, trainable_bytes

        def several(name, world):   # a cap of 20-40 % of the gradient bytes: 3 to 5 buckets
            case = _case(name, rng, world)
            total = trainable_bytes(make_toy(0, hidden=case.inputs["hidden"]))
            return Case(case.id, {**case.inputs, "cap": float(rng.uniform(0.2, 0.4)) * total / 2**20})
        def on_a_boundary(name, world):   # the cap equals the bytes of the last k parameters: closes there (>=)
            case = _case(name, rng, world)
            sizes = [q.numel() * q.element_size() for q in make_toy(0, hidden=case.inputs["hidden"]).parameters()
                     if q.requires_grad][::-1]
            return Case(case.id, {**case.inputs, "cap": sum(sizes[:int(rng.integers(2, 4))]) / 2**20})
        return [several("w2-several-buckets", 2), several("w4-several-buckets", 4),
                _case("w2-one-per-param", rng, 2, cap=1e-7), _case("w2-one-bucket", rng, 2, cap=25.0),
                on_a_boundary("w2-cap-on-a-boundary", 2)]

    def run(self, case, student):
        cls = student.get("BucketedDDP")
        return train_on_rank(case, lambda model: cls(model, bucket_cap_mb=case.inputs["cap"]))

    def judge(self, case, output):
        from aisys.parallel.data_parallel.toys import expected_buckets, make_toy

        verdict = judge_training(case, output)
        if not verdict.passed:
            return verdict
        verdict = judge_volume(case, output)
        if not verdict.passed:
            return verdict
        want = expected_buckets(make_toy(0, hidden=case.inputs["hidden"]), case.inputs["cap"])
        for rank, out in enumerate(output):
            for step, info in enumerate(out["steps"]):
                where = f"rank {rank}, step {step}"
                if len(info["reduce_bytes"]) != len(want):
                    return fail(f"{where}: {len(info['reduce_bytes'])} all-reduces, but bucket_cap_mb="
                                f"{case.inputs['cap']:.3g} and reverse parameter order give {len(want)} buckets")
                if info["reduce_bytes"] != want:
                    return fail(f"{where}: the all-reduced bucket sizes, in launch order, differ from buckets "
                                "built in reverse parameter order and closed at the cap")
                if not info["all_async"]:
                    return fail(f"{where}: a bucket was all-reduced synchronously (use async_op=True)")
                if info["early"] < 1:
                    return fail(f"{where}: no all-reduce started before backward ended — no overlap "
                                "(launch buckets from the gradient hooks, not after backward)")
                if len(want) > 1 and info["before_last_gradient"] < 1:
                    return fail(f"{where}: no bucket started before the last gradient was computed — every "
                                "bucket waited for the whole backward (launch each bucket as soon as it is full)")
                if info["waited_in_backward"]:
                    return fail(f"{where}: {info['waited_in_backward']} all-reduce(s) were waited on during "
                                "backward, which then stalls on the network — no overlap (wait only in "
                                "sync_gradients)")
        return PASS
