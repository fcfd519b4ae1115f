"""Checks for who reads which data (shard_indices) and how gradients are summed (ring)."""
from __future__ import annotations

import numpy as np

from aisys.grading.compare import close, equal
from aisys.grading.shapes import INT, STR, array, dict_of, expect, list_of, per_rank
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
        from aisys.grading.shapes import require
        from aisys.parallel import context

        fn, p = student.get("shard_indices"), case.inputs
        out = []
        for epoch in p["epochs"]:
            got = require(fn(p["n"], context.world_size(), context.rank(), shuffle=p["shuffle"], seed=p["seed"],
                             epoch=epoch, drop_last=p["drop_last"]), list_of(INT), "shard_indices",
                          "a list of sample indices (ints)")
            out.append([int(i) for i in got])
        return out

    def judge(self, case, output):
        from torch.utils.data import DistributedSampler

        p = case.inputs
        per = (p["n"] // p["world"]) if p["drop_last"] else -(-p["n"] // p["world"])
        verdict = expect(output, per_rank(list_of(list_of(INT, per), len(p["epochs"])), p["world"]),
                         f"the index lists (one per epoch, {per} indices each)")
        if not verdict.passed:
            return verdict
        for rank, per_epoch in enumerate(output):
            sampler = DistributedSampler(range(p["n"]), num_replicas=p["world"], rank=rank, shuffle=p["shuffle"],
                                         seed=p["seed"], drop_last=p["drop_last"])
            for epoch, got in zip(p["epochs"], per_epoch):
                sampler.set_epoch(epoch)
                verdict = equal(got, list(sampler), what=f"the index list of rank {rank} in epoch {epoch}")
                if not verdict.passed:
                    return verdict
        return PASS


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
        cases.append(Case("w4-twenty-three", {"world": 4, "shape": [23], "dtype": "float32",   # 6,6,6,5 or 5,5,5,8
                                              "seed": int(rng.integers(1 << 30))}, weight=0.5))
        return cases

    def run(self, case, student):
        import torch

        from aisys.grading.shapes import require
        from aisys.parallel import comm, context

        fn, tensor = student.get("ring_all_reduce"), ring_inputs(case, context.rank())
        with comm.comm_log().capture() as records:
            returned = fn(tensor)
        require(returned, torch.Tensor, "ring_all_reduce", "the summed tensor")
        return {"returned": returned, "in_place": tensor,
                "others": sorted({str(r["op"]) for r in records} - {"send", "recv"}),
                "sends": [int(r["bytes"]) for r in records if r["op"] == "send"],
                "recvs": [int(r["bytes"]) for r in records if r["op"] == "recv"],
                "element_size": int(tensor.element_size())}

    def judge(self, case, output):
        world, shape = case.inputs["world"], case.inputs["shape"]
        verdict = expect(output, per_rank(dict_of({"returned": array(tuple(shape)), "in_place": array(tuple(shape)),
                                                   "others": list_of(STR), "sends": list_of(INT),
                                                   "recvs": list_of(INT), "element_size": INT}),
                                          world), "what ring_all_reduce did")
        if not verdict.passed:
            return verdict
        expected = sum(ring_inputs(case, r) for r in range(world)).numpy()   # what dist.all_reduce(SUM) gives
        n, size = int(np.prod(shape)), output[0]["element_size"]
        total = 0
        for rank, out in enumerate(output):
            verdict = first_failure(close(out["returned"], expected, rtol=1e-5, atol=1e-5,
                                          what=f"the sum rank {rank} returned"),
                                    close(out["in_place"], expected, rtol=1e-5, atol=1e-5,
                                          what=f"rank {rank}'s input tensor (it should hold the sum in place)"))
            if not verdict.passed:
                return verdict
            if out["others"]:
                return fail(f"rank {rank} used {', '.join(out['others'])}: the ring may only send and receive")
            if out["element_size"] != size:
                return fail(f"rank {rank} reported a different element size than rank 0")
            if len(out["sends"]) != 2 * (world - 1) or len(out["recvs"]) != 2 * (world - 1):
                return fail(f"rank {rank} sent {len(out['sends'])} and received {len(out['recvs'])} messages; in a "
                            f"ring of {world} each rank sends and receives one chunk per step: {world - 1} steps of "
                            f"reduce-scatter + {world - 1} of all-gather")
            sent = sum(out["sends"])
            low, high = 2 * (world - 1) * (n // world) * size, 2 * (world - 1) * -(-n // world) * size
            if not low <= sent <= high:    # exact when world divides n
                return fail(f"rank {rank} sent {sent} bytes; a ring sends 2(N-1)/N·n elements per rank (chunks of "
                            "about n/N), through comm.isend/comm.send")
            total += sent
        sends, recvs = [out["sends"] for out in output], [out["recvs"] for out in output]
        if not any(all(recvs[r] == sends[(r - side) % world] for r in range(world)) for side in (1, -1)):
            return fail("the messages do not go round a ring: each rank should receive, step by step, exactly what "
                        "its neighbour on one side sent (chunk by chunk)")
        if total != 2 * (world - 1) * n * size:
            return fail(f"the ranks sent {total} bytes together; in a ring every chunk travels N-1 hops in each "
                        "phase, 2(N-1)·n elements in all — some message was not one chunk of an N-way split")
        return PASS
