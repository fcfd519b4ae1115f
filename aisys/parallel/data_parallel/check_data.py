"""Checks for who reads which data (shard_indices) and how gradients are summed (ring)."""
from __future__ import annotations

import numpy as np

from aisys.grading.compare import close, equal
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail, first_failure


class ShardIndices(ExerciseCheck):
    exercise = "shard_indices"
    hint = ("randperm seeded with seed+epoch (same on every rank), pad by wrapping to a multiple of "
            "world (or cut with drop_last), then indices[rank:total:world]")

    def cases(self, rng):
        cases = []
        for world in (2, 4):
            for shuffle in (False, True):
                n = int(rng.integers(5, 40)) * world + int(rng.integers(1, world))   # uneven n
                cases.append(Case(f"w{world}-{'shuffle' if shuffle else 'ordered'}-n{n}",
                                  {"world": world, "n": n, "shuffle": shuffle, "seed": int(rng.integers(0, 1000)),
                                   "epochs": [0, 1, int(rng.integers(2, 9))], "drop_last": False}))
        cases.append(Case("w4-drop-last", {"world": 4, "n": int(rng.integers(10, 40)) * 4 + 3, "shuffle": True,
                                           "seed": int(rng.integers(0, 1000)), "epochs": [0, 3], "drop_last": True}))
        cases.append(Case("w4-tiny-n", {"world": 4, "n": 3, "shuffle": False, "seed": 0, "epochs": [0],
                                        "drop_last": False}, weight=0.5))
        cases.append(Case("w4-pad-beyond-n", {"world": 4, "n": 1, "shuffle": True, "seed": int(rng.integers(0, 1000)),
                                              "epochs": [0, 1], "drop_last": False}, weight=0.5))   # pad 3 > n
        return cases

    def run(self, case, student):
        from aisys.parallel import context

        fn, p = student.get("shard_indices"), case.inputs
        return [[int(i) for i in fn(p["n"], context.world_size(), context.rank(), shuffle=p["shuffle"],
                                     seed=p["seed"], epoch=epoch, drop_last=p["drop_last"])]
                for epoch in p["epochs"]]

    def judge(self, case, output):
        from torch.utils.data import DistributedSampler

        p = case.inputs
        for rank, per_epoch in enumerate(output):
            sampler = DistributedSampler(range(p["n"]), num_replicas=p["world"], rank=rank, shuffle=p["shuffle"],
                                         seed=p["seed"], drop_last=p["drop_last"])
            for epoch, got in zip(p["epochs"], per_epoch):
                sampler.set_epoch(epoch)
                verdict = equal(got, list(sampler), what=f"the index list of rank {rank} in epoch {epoch}")
                if not verdict.passed:
                    return verdict
        return equal(len(output), p["world"], what="the number of ranks that answered")


def ring_inputs(case: Case, rank: int):
    """Rank `rank`'s tensor for a ring case (rebuilt identically in the parent)."""
    import torch

    g = torch.Generator().manual_seed(case.inputs["seed"] * 101 + rank)
    shape, dtype = case.inputs["shape"], case.inputs["dtype"]
    if dtype == "int64":
        return torch.randint(-50, 50, shape, generator=g)
    return torch.randn(shape, generator=g)


class RingAllReduce(ExerciseCheck):
    exercise = "ring_all_reduce"
    hint = ("reduce-scatter for world-1 steps (send chunk rank-s, add the one from the left), then "
            "all-gather for world-1 steps; isend+irecv together each step; only send/recv, no all_reduce")

    def cases(self, rng):
        cases = []
        for world in (2, 4):
            cases.append(Case(f"w{world}-even", {"world": world, "shape": [world * int(rng.integers(8, 64))],
                                                 "dtype": "float32", "seed": int(rng.integers(1 << 30))}))
            cases.append(Case(f"w{world}-matrix-int", {"world": world, "shape": [world * 3, int(rng.integers(2, 9))],
                                                       "dtype": "int64", "seed": int(rng.integers(1 << 30))}))
            cases.append(Case(f"w{world}-uneven", {"world": world, "shape": [world * 5 + int(rng.integers(1, world))],
                                                   "dtype": "float32", "seed": int(rng.integers(1 << 30))},
                              weight=0.5))
        cases.append(Case("w4-five-elements", {"world": 4, "shape": [5], "dtype": "float32",   # chunks 2, 1, 1, 1
                                               "seed": int(rng.integers(1 << 30))}, weight=0.5))
        return cases

    def run(self, case, student):
        from aisys.parallel import comm, context

        fn, tensor = student.get("ring_all_reduce"), ring_inputs(case, context.rank())
        with comm.comm_log().capture() as records:
            returned = fn(tensor)
        return {"returned": returned, "in_place": tensor,
                "ops": sorted({r["op"] for r in records}),
                "sent_bytes": sum(r["bytes"] for r in records if r["op"] == "send"),
                "largest_send": max((r["bytes"] for r in records if r["op"] == "send"), default=0),
                "element_size": tensor.element_size()}

    def judge(self, case, output):
        world = case.inputs["world"]
        expected = sum(ring_inputs(case, r) for r in range(world)).numpy()   # what dist.all_reduce(SUM) gives
        for rank, out in enumerate(output):
            verdict = first_failure(close(out["returned"], expected, rtol=1e-5, atol=1e-5,
                                          what=f"the sum rank {rank} returned"),
                                    close(out["in_place"], expected, rtol=1e-5, atol=1e-5,
                                          what=f"rank {rank}'s input tensor (it should hold the sum in place)"))
            if not verdict.passed:
                return verdict
            extra = set(out["ops"]) - {"send", "recv"}
            if extra:
                return fail(f"rank {rank} used {', '.join(sorted(extra))}: the ring may only send and receive")
            n, size = int(np.prod(case.inputs["shape"])), out["element_size"]
            low, high = 2 * (world - 1) * (n // world) * size, 2 * (world - 1) * -(-n // world) * size
            if not low <= out["sent_bytes"] <= high:    # exact when world divides n
                return fail(f"rank {rank} sent {out['sent_bytes']} bytes; a ring sends 2(N-1)/N·n elements "
                            "per rank, through comm.isend/comm.send")
            if out["largest_send"] > -(-n // world) * size:     # world 2: passing everything has the right total
                return fail(f"rank {rank} sent a message of {out['largest_send']} bytes, more than one chunk "
                            f"(n/N = {n}/{world} elements): each ring step passes one chunk, not the whole tensor")
        return PASS
