"""Checks of the vocabulary split: VocabParallelEmbedding and vocab_parallel_cross_entropy.

Truth: `F.embedding` and `F.cross_entropy(reduction="none")` on the full tensors, and their
gradients sliced to each rank's vocabulary block. Structure from the CommLog: the embedding
makes one all-reduce forward and none backward; the cross entropy communicates only
per-token values (at most two per token per call: maxima, exp-sums, target logits), never
anything of the vocabulary's size, and nothing in backward.
"""
from __future__ import annotations

from aisys.grading.spec import PASS, Case, ExerciseCheck, fail, first_failure
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.check_layers import _rows, _seed


class VocabParallelEmbeddingCheck(ExerciseCheck):
    exercise = "VocabParallelEmbedding"
    hint = ("look up ids - vocab_start where the id is yours, zero the other rows, then reduce_from_tp; "
            "ids on a shard boundary are the usual off-by-one")

    def cases(self, rng):
        cases = []
        for world, dims, boundary in ((2, 2, False), (4, 2, False), (2, 1, True), (4, 1, True)):
            vocab = world * int(rng.integers(2, 5))
            shape = [int(s) for s in rng.integers(2, 5, size=dims)]
            cases.append(Case(f"w{world}-{'boundary-ids' if boundary else f'{dims}d'}", {
                "world": world, "seed": _seed(rng), "vocab": vocab, "dim": int(rng.integers(2, 5)),
                "shape": shape, "boundary": boundary}))
        cases.append(Case("w4-uneven-vocab", {"world": 4, "seed": _seed(rng), "vocab": 10, "dim": 3,
                                              "reject": "num_embeddings", "bad_size": 10}, weight=0.5))
        return cases

    def ids(self, inp):
        import torch

        from aisys.parallel.tensor_parallel.dense import seeded_ids

        if inp["boundary"]:   # the first and last id of every shard, and each twice
            n = inp["vocab"] // inp["world"]
            edges = [i for r in range(inp["world"]) for i in (r * n, r * n + n - 1)]
            return torch.tensor(edges + edges[::-1])
        return seeded_ids(inp["seed"] + 3, inp["vocab"], *inp["shape"])

    def run(self, case, student):
        from aisys.parallel.tensor_parallel.dense import seeded, seeded_embedding

        inp = case.inputs
        dense = seeded_embedding(inp["seed"], inp["vocab"], inp["dim"])
        cls = student.get(self.exercise)
        if inp.get("reject"):
            return kit.refusal(lambda: cls(dense))
        layer = cls(kit.on_device(dense))
        ids = kit.on_device(self.ids(inp))
        with kit.comm_phase() as fwd:
            y = layer(ids)
        with kit.comm_phase() as bwd:
            y.backward(kit.on_device(seeded(inp["seed"] + 4, *ids.shape, inp["dim"])))
        return {"out": y, "w_grad": kit.grad_or_none(layer.weight), "views": kit.shard_views({"w_grad": layer.weight}),
                "comm_forward": kit.op_counts(fwd), "comm_backward": kit.op_counts(bwd)}

    def judge(self, case, output):
        from aisys.parallel.tensor_parallel.dense import seeded, seeded_embedding

        inp = case.inputs
        if inp.get("reject"):
            return kit.judge_refusal(output, inp["reject"], inp["bad_size"], inp["world"])
        dense = seeded_embedding(inp["seed"], inp["vocab"], inp["dim"])
        ids = self.ids(inp)
        y = dense(ids)
        y.backward(seeded(inp["seed"] + 4, *ids.shape, inp["dim"]))
        why = "the vocabulary embedding sums its partial lookups once (g)"
        return first_failure(
            kit.judge_ranks(output, inp["world"], lambda r: {
                "out": kit.numpy(y), "w_grad": kit.numpy(dense.weight.grad[_rows(inp["vocab"], inp["world"], r)])}),
            kit.judge_views(output),
            kit.judge_comm(output, "forward", {"all_reduce": 1}, why),
            kit.judge_comm(output, "backward", {}, why))


class VocabParallelCrossEntropyCheck(ExerciseCheck):
    exercise = "vocab_parallel_cross_entropy"
    hint = ("all-reduce MAX of the local maxima, SUM of the local exp-sums (not MAX: the softmax "
            "denominator adds all V terms), SUM of the target logit; backward is local")

    def cases(self, rng):
        cases = []
        for world, dims, scale in ((2, 2, 3.0), (4, 2, 3.0), (2, 1, 3.0), (4, 1, 1000.0)):
            name = f"w{world}-{dims}d" + ("-huge-logits" if scale > 100 else "")
            cases.append(Case(name, {"world": world, "seed": _seed(rng), "vocab": world * int(rng.integers(4, 7)),
                                     "tokens": [int(s) for s in rng.integers(2, 5, size=dims)], "scale": scale}))
        return cases

    def full(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded, seeded_ids

        logits = seeded(inp["seed"], *inp["tokens"], inp["vocab"], scale=inp["scale"])
        return logits, seeded_ids(inp["seed"] + 1, inp["vocab"], *inp["tokens"]), \
            seeded(inp["seed"] + 2, *inp["tokens"])

    def run(self, case, student):
        inp = case.inputs
        fn = student.get(self.exercise)
        _, rank = kit.world_and_rank()
        logits, target, upstream = self.full(inp)
        shard = kit.leaf(logits[..., _rows(inp["vocab"], inp["world"], rank)])
        with kit.comm_phase() as fwd:
            loss = fn(shard, kit.on_device(target))
        with kit.comm_phase() as bwd:
            loss.backward(kit.on_device(upstream))
        return {"loss": loss, "logits_grad": kit.grad_or_none(shard), "comm_forward": kit.op_counts(fwd),
                "comm_backward": kit.op_counts(bwd),
                "forward_payloads": [int(r["bytes"]) for r in fwd],
                "forward_reduce_ops": [r.get("reduce_op") for r in fwd if r["op"] == "all_reduce"]}

    def judge(self, case, output):
        import torch
        import torch.nn.functional as F

        inp = case.inputs
        logits, target, upstream = self.full(inp)
        logits.requires_grad_()
        loss = F.cross_entropy(logits.reshape(-1, inp["vocab"]), target.reshape(-1), reduction="none")
        loss = loss.reshape(target.shape)
        loss.backward(upstream)
        values = kit.judge_ranks(output, inp["world"], lambda r: {
            "loss": kit.numpy(loss), "logits_grad": kit.numpy(logits.grad[..., _rows(inp["vocab"], inp["world"], r)])})
        tokens = int(torch.tensor(inp["tokens"]).prod())
        return first_failure(values, self.judge_structure(output, tokens),
                             kit.judge_comm(output, "backward", {}, "the gradient softmax − onehot is local"))

    def judge_structure(self, output: list, tokens: int):
        """Only all-reduces of per-token values (≤ 2 per token, float64) in forward; 2 or 3 of them."""
        limit = 2 * tokens * 8
        for r, got in enumerate(output):
            counts = got.get("comm_forward") or {}
            gathers = [op for op in counts if op != "all_reduce"]
            if gathers:
                return fail(f"rank {r}: forward used {', '.join(gathers)}; the full logits must never be "
                            "gathered — reduce per-token maxima and sums instead")
            big = [b for b in got.get("forward_payloads") or [] if b > limit]
            if big:
                return fail(f"rank {r}: an all-reduce carried {max(big)} bytes, more than the {limit} bytes of "
                            f"two values per token ({tokens} tokens): reduce per-token values, not logits")
            if (got.get("forward_reduce_ops") or []).count("max") > 1:
                return fail(f"rank {r}: forward made more than one MAX all-reduce; only the per-token maxima "
                            "take MAX — the exp-sums (and target logits) add up with SUM (the article says MAX: "
                            "an erratum)")
            if not 2 <= counts.get("all_reduce", 0) <= 3:
                return fail(f"rank {r}: forward made {counts.get('all_reduce', 0)} all-reduces through "
                            "aisys.parallel.comm; expected 3 (max, exp-sum, target logit)")
        return PASS


CHECKS = [VocabParallelEmbeddingCheck(), VocabParallelCrossEntropyCheck()]
