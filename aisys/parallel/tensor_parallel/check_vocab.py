"""Checks of the embedding splits and the vocabulary-parallel cross entropy.

Truth: `F.embedding` and `F.cross_entropy(reduction="none")` on the full tensors, and their
gradients sliced to each rank's block (vocabulary rows, or embedding columns). Structure
from the CommLog: the vocabulary embedding makes one all-reduce forward, the column
embedding one all-gather, neither anything backward; the cross entropy all-reduces only
per-token values — one MAX of the maxima, SUMs of two values per token — never anything of
the vocabulary's size, and nothing in backward. Corners on every seed: ids and targets on
shard borders, repeated ids, an odd vocabulary (fine for the column split), huge logits,
2 and 4 ranks, the (2 × 2) grid, and uneven splits refused.
"""
from __future__ import annotations

from aisys.grading.shapes import INT, array, dict_of, expect, list_of, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail, first_failure
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.casekit import PHASES
from aisys.parallel.tensor_parallel.layercheck import LayerCheck, block, draw_seed, grid_case


class _EmbeddingCheck(LayerCheck):
    input_has_grad = False

    def spec(self, rng, size: int, ids: str, dims: int = 2, odd: bool = False) -> dict:
        vocab = size * int(rng.integers(2, 5)) + (1 if odd else 0)
        return {"seed": draw_seed(rng), "vocab": vocab, "dim": size * int(rng.integers(1, 3)), "ids": ids,
                "blocks": size, "shape": [int(s) for s in rng.integers(2, 5, size=dims)]}

    def dense(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded_embedding

        return [seeded_embedding(spec["seed"], spec["vocab"], spec["dim"])]

    def build(self, student, dense, spec, group):
        cls = student.get(self.exercise)
        return cls(dense[0], group=group) if group is not None else cls(dense[0])

    def full_input(self, spec):
        import torch

        from aisys.parallel.tensor_parallel.dense import seeded_ids

        vocab = spec["vocab"]
        if spec["ids"] == "borders":     # the first and last id of every rank's vocabulary block, each twice
            n = vocab // spec["blocks"]
            edges = sorted({i for r in range(spec["blocks"]) for i in (r * n, r * n + n - 1)} | {vocab - 1})
            return torch.tensor(edges + edges[::-1])
        if spec["ids"] == "repeated":    # few distinct ids, many times: gradients must accumulate
            return seeded_ids(spec["seed"] + 3, 3, *spec["shape"]) * (vocab // 3)
        return seeded_ids(spec["seed"] + 3, vocab, *spec["shape"])

    def full_upstream(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(spec["seed"] + 4, *self.full_input(spec).shape, spec["dim"])

    def param_shapes(self, spec):
        return {"w_grad": kit.grad_shape(True, 2)}

    def parameters(self, layer):
        return {"w_grad": layer.weight}

    def backward_comm(self, spec):
        return {}


class VocabParallelEmbeddingCheck(_EmbeddingCheck):
    exercise = "VocabParallelEmbedding"
    hint = ("look up ids - vocab_start where the id is yours, zero the other rows, then reduce_from_tp; "
            "ids on a shard boundary are the usual off-by-one")
    comm_reason = "the vocabulary embedding sums its partial lookups once (g)"

    def cases(self, rng):
        cases = [Case(f"w{w}-{kind}", {"world": w, "calls": [self.spec(rng, w, kind, dims)]})
                 for w, kind, dims in ((2, "random", 2), (4, "random", 3), (2, "borders", 1), (4, "borders", 1))]
        cases.append(grid_case(rng, self.spec(rng, 2, "borders", 1), self.spec(rng, 4, "random", 2)))
        cases.append(Case("w4-uneven-vocab", {"world": 4, "calls": [{"seed": draw_seed(rng), "vocab": 10, "dim": 3,
                                                                     "reject": "num_embeddings", "bad_size": 10}]},
                          weight=0.5))
        return cases

    def extras(self, layer):
        return {"vocab_range": [layer.vocab_start, layer.vocab_end]}

    def extra_shapes(self, spec):
        return {"vocab_range": list_of(INT, 2)}

    def expected(self, spec, truth, size, me):
        rows = block(spec["vocab"], size, me)
        return {"out": kit.numpy(truth["out"]), "x_grad": None, "w_grad": kit.numpy(truth["0.weight"][rows]),
                "vocab_range": [rows.start, rows.stop]}

    def forward_comm(self, spec):
        return {"all_reduce(sum)": 1}


class ColumnParallelEmbeddingCheck(_EmbeddingCheck):
    exercise = "ColumnParallelEmbedding"
    hint = "keep columns [r·D/W, (r+1)·D/W) of every row; forward = gather_from_tp(F.embedding(ids, weight))"
    comm_reason = "the column split gathers the embedding blocks once (all-gather), and needs nothing backward"

    def cases(self, rng):
        cases = [Case("w2-random", {"world": 2, "calls": [self.spec(rng, 2, "random")]}),
                 Case("w4-repeated-ids", {"world": 4, "calls": [self.spec(rng, 4, "repeated", 3)]}),
                 Case("w2-odd-vocab-borders", {"world": 2, "calls": [self.spec(rng, 2, "borders", 1, odd=True)]})]
        cases.append(grid_case(rng, self.spec(rng, 2, "repeated", 2, odd=True), self.spec(rng, 4, "random", 1)))
        cases.append(Case("w4-uneven-dim", {"world": 4, "calls": [{"seed": draw_seed(rng), "vocab": 8, "dim": 6,
                                                                   "reject": "embedding_dim", "bad_size": 6}]},
                          weight=0.5))
        return cases

    def expected(self, spec, truth, size, me):
        return {"out": kit.numpy(truth["out"]), "x_grad": None,
                "w_grad": kit.numpy(truth["0.weight"][:, block(spec["dim"], size, me)])}

    def forward_comm(self, spec):
        return {"all_gather": 1}


class VocabParallelCrossEntropyCheck(ExerciseCheck):
    exercise = "vocab_parallel_cross_entropy"
    hint = ("all-reduce MAX of the local maxima, SUM of the local exp-sums (not MAX: the softmax "
            "denominator adds all V terms), SUM of the target logit; backward is local; leave logits alone")

    def cases(self, rng):
        def spec(size, dims, scale, targets="random"):
            return {"seed": draw_seed(rng), "vocab": size * int(rng.integers(4, 7)), "scale": scale, "targets": targets,
                    "tokens": [int(s) for s in rng.integers(2, 5, size=dims)]}
        cases = [Case(name, {"world": w, "calls": [spec(w, dims, scale, targets)]})
                 for name, w, dims, scale, targets in (("w2-2d", 2, 2, 3.0, "random"), ("w4-2d", 4, 2, 3.0, "random"),
                                                       ("w2-1d-border-targets", 2, 1, 3.0, "borders"),
                                                       ("w4-1d-huge-logits", 4, 1, 1000.0, "random"))]
        cases.append(grid_case(rng, spec(2, 2, 3.0, "borders"), spec(4, 1, 3.0)))
        return cases

    def full(self, spec, world: int, rank: int):
        import torch

        from aisys.parallel.tensor_parallel.dense import seeded, seeded_ids

        logits = seeded(spec["seed"], *spec["tokens"], spec["vocab"], scale=spec["scale"])
        target = seeded_ids(spec["seed"] + 1, spec["vocab"], *spec["tokens"])
        if spec["targets"] == "borders":   # the first and last id of every block, on the ranks' borders
            size = len(kit.members(spec, world, rank)[0])
            n = spec["vocab"] // size
            borders = torch.tensor([i for r in range(size) for i in (r * n, r * n + n - 1)])
            target = borders[torch.arange(target.numel()) % len(borders)].reshape(target.shape)
        return logits, target, seeded(spec["seed"] + 2, *spec["tokens"])

    def shard(self, spec, world: int, rank: int):
        group, me = kit.members(spec, world, rank)
        logits, target, upstream = self.full(spec, world, rank)
        return logits[..., block(spec["vocab"], len(group), me)], target, upstream

    def run(self, case, student):
        import torch

        fn = student.get(self.exercise)
        world, rank = kit.world_and_rank()
        calls = []
        for spec in case.inputs["calls"]:
            shard, target, upstream = self.shard(spec, world, rank)
            calls.append((spec, kit.leaf(shard), kit.on_device(target), kit.on_device(upstream)))
        losses = []
        with kit.comm_phase() as fwd:
            for spec, shard, target, _ in calls:
                loss = fn(shard, target, kit.group_for(spec)) if spec.get("tp") else fn(shard, target)
                losses.append(kit.tensor_from(loss, self.exercise))
        with kit.comm_phase() as bwd:
            torch.autograd.backward(losses, [up for *_, up in calls])
        return {"calls": [{"loss": loss, "logits_grad": kit.grad_or_none(shard), "x_after": shard.detach()}
                          for loss, (_, shard, _, _) in zip(losses, calls)],
                "comm": {"forward": kit.comm_summary(fwd), "backward": kit.comm_summary(bwd)}}

    def judge(self, case, output):
        import torch.nn.functional as F

        world, specs = case.inputs["world"], case.inputs["calls"]
        one = dict_of({"loss": array(), "logits_grad": kit.grad_shape(), "x_after": array()})
        verdict = expect(output, per_rank(dict_of({"calls": list_of(one, len(specs)), "comm": PHASES}), world),
                         f"{self.exercise}'s results")
        if not verdict.passed:
            return verdict
        for r, c, got in kit.calls_of(output, world):
            spec, label = specs[c], kit.who(r, c, len(specs))
            group, me = kit.members(spec, world, r)
            logits, target, upstream = self.full(spec, world, r)
            logits.requires_grad_()
            loss = F.cross_entropy(logits.reshape(-1, spec["vocab"]), target.reshape(-1), reduction="none")
            loss.reshape(target.shape).backward(upstream)
            cols = block(spec["vocab"], len(group), me)
            verdict = kit.judge_values(got, {"loss": kit.numpy(loss.reshape(target.shape)),
                                             "logits_grad": kit.numpy(logits.grad[..., cols])}, label)
            if not verdict.passed:
                return verdict
            verdict = kit.judge_values(got, {"x_after": kit.numpy(logits.detach()[..., cols])}, label, rtol=0, atol=0)
            if not verdict.passed:
                return kit.untouched(verdict.message)
        tokens = sum(_numel(spec["tokens"]) for spec in specs)
        return first_failure(self.judge_structure(output, tokens, len(specs)),
                             kit.judge_comm(output, "backward", {}, "the gradient softmax − onehot is local"))

    def judge_structure(self, output: list, tokens: int, calls: int):
        """Per call and token: one MAX value, two SUM values (in one or two all-reduces), float64."""
        for r, got in enumerate(output):
            seen = got["comm"]["forward"]
            others = [op for op in seen if op not in ("all_reduce(max)", "all_reduce(sum)")]
            if any(not op.startswith("all_reduce") for op in others):
                return fail(f"rank {r}: forward used {', '.join(others)}; the full logits must never be "
                            "gathered — reduce per-token maxima and sums instead")
            if others:
                return fail(f"rank {r}: forward made {', '.join(others)}; only MAX (the maxima) and SUM take part")
            top = seen.get("all_reduce(max)", {"calls": 0, "bytes": 0})
            add = seen.get("all_reduce(sum)", {"calls": 0, "bytes": 0})
            if top["calls"] > calls:
                return fail(f"rank {r}: forward made {top['calls']} MAX all-reduces for {calls} call(s); only the "
                            "per-token maxima take MAX — the exp-sums (and target logits) add up with SUM (the "
                            "article says MAX: an erratum)")
            if top["calls"] != calls or top["bytes"] != tokens * 8:
                return fail(f"rank {r}: forward should all-reduce the per-token maxima once per call with MAX "
                            f"({tokens} values); it made {top['calls']} MAX all-reduce(s) of {top['bytes']} B")
            if not calls <= add["calls"] <= 2 * calls or add["bytes"] != 2 * tokens * 8:
                return fail(f"rank {r}: forward's SUM all-reduces carried {add['bytes']} B in {add['calls']} call(s); "
                            f"expected two values per token ({tokens} tokens: exp-sum and target logit), "
                            "never logits")
        return PASS


def _numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


CHECKS = [VocabParallelEmbeddingCheck(), ColumnParallelEmbeddingCheck(), VocabParallelCrossEntropyCheck()]
