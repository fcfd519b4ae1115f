"""Check of SequenceParallelMLP: equal to the dense sublayer, SP's collectives, SP's memory.

Truth: the dense sublayer x + fc2(GeLU(fc1(LayerNorm(x)))) in the parent, each rank holding
its chunk of the sequence (its chunk of the output and of dL/dx, its shards of fc1/fc2's
gradients, and the *whole* gradient of the replicated LayerNorm weight/bias and fc2 bias).
Structure, from the CommLog: per call one all-gather of the rank's chunk and one
reduce-scatter of the full activation in each direction (the same bytes on the wire as plain
TP's two all-reduces), no all-reduce of activations, and in backward all-reduces of exactly
the replicated parameters' gradients. Memory, measured with saved-tensor hooks: at most one
activation of batch·seq·hidden elements (the whole sequence at full width) is kept for
backward — fc1's gathered input; LayerNorm and dropout keep the rank's chunk only.

Dropout (p = 0.5, two calls, the same global random state on every rank): the parent infers
each rank's mask from its output (every element is x or x + MLP(x)/(1 − p)), then wants
masks that differ between ranks and between calls, are reproduced by a layer built again
with the same seed, vanish in eval mode — and gradients equal to the dense sublayer's under
exactly those masks.
"""
from __future__ import annotations

import hashlib

from aisys.grading.compare import close
from aisys.grading.shapes import INT, STR, array, dict_of, expect, list_of, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail, first_failure
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.casekit import NAMES, NONE, PHASES, REFUSAL
from aisys.parallel.tensor_parallel.layercheck import block, draw_seed

GRADS = ("norm_w_grad", "norm_b_grad", "fc1_w_grad", "fc1_b_grad", "fc2_w_grad", "fc2_b_grad")
P_DROP = 0.5


class SequenceParallelMLPCheck(ExerciseCheck):
    exercise = "SequenceParallelMLP"
    hint = ("LayerNorm on your chunk (weight/bias through copy_to_tp), gather_from_sp, F.linear with fc1's shard, "
            "GeLU, F.linear with fc2's weight, reduce_scatter_to_sp, + copy_to_tp(fc2 bias), dropout from a "
            "generator of your own seeded with seed + rank, + x")
    case_timeout = 20.0

    def cases(self, rng):
        def spec(size, batch=None, **extra):
            return {"seed": draw_seed(rng), "batch": batch or int(rng.integers(1, 3)),
                    "seq": size * int(rng.integers(1, 3)),
                    "hidden": int(rng.integers(4, 7)), "ffn": size * int(rng.integers(2, 4)), "affine": True,
                    "bias": True, "p": 0.0, **extra}
        return [Case("w2", {"world": 2, "spec": spec(2)}), Case("w4", {"world": 4, "spec": spec(4, batch=2)}),
                Case("w2-batch1-no-affine-no-bias", {"world": 2, "spec": spec(2, batch=1, affine=False, bias=False)}),
                Case("w4-tp2-grid", {"world": 4, "spec": spec(2, tp=2)}),
                Case("w2-dropout", {"world": 2, "spec": spec(2, batch=2, seq=8, hidden=6, ffn=6, p=P_DROP)}),
                Case("w4-uneven-ffn", {"world": 4, "spec": spec(4, ffn=14, reject="ffn", bad_size=14)}, weight=0.5)]

    # -------------------------------------------------------------- both sides
    def dense(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded_layer_norm, seeded_linear

        h = spec["hidden"]
        return [seeded_layer_norm(spec["seed"] + 1, h, affine=spec["affine"]),
                seeded_linear(spec["seed"] + 3, h, spec["ffn"]),
                seeded_linear(spec["seed"] + 4, spec["ffn"], h, bias=spec["bias"])]

    def full(self, spec, key: int):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(spec["seed"] + key, spec["batch"], spec["seq"], spec["hidden"])

    def calls(self, spec) -> int:
        return 2 if spec["p"] > 0 else 1

    # -------------------------------------------------------------- rank side
    def build(self, student, dense, spec, group):
        kwargs = {"dropout_p": spec["p"], **({"seed": spec["seed"] % 1000} if spec["p"] > 0 else {}),
                  **({"group": group} if group is not None else {})}
        return student.get(self.exercise)(*dense, **kwargs)

    def run(self, case, student):
        import torch

        world, rank = kit.world_and_rank()
        spec = case.inputs["spec"]
        if spec.get("reject"):
            return kit.refusal(lambda: self.build(student, self.dense(spec), spec, None))
        group, me = kit.members(spec, world, rank)
        chunk = block(spec["seq"], len(group), me)
        dense = [kit.on_device(m) for m in self.dense(spec)]
        torch.manual_seed(spec["seed"])           # one global random state on every rank, as after a seeded init
        layer = self.build(student, dense, spec, kit.group_for(spec))
        x = kit.leaf(self.full(spec, 5)[:, chunk])
        ys, saved = [], []
        with kit.comm_phase() as fwd:
            for c in range(self.calls(spec)):
                with kit.saving() as kept:
                    ys.append(kit.tensor_from(layer(x), f"{self.exercise}.forward"))
                saved = saved or kept
        ups = [kit.on_device(self.full(spec, 6 + c)[:, chunk]) for c in range(len(ys))]
        with kit.comm_phase() as bwd:
            torch.autograd.backward(ys, ups)
        out = {"outs": ys, "x_grad": kit.grad_or_none(x), "x_after": x.detach(), "replay": None, "eval_out": None}
        params = {"norm_w_grad": layer.norm.weight, "norm_b_grad": layer.norm.bias, "fc1_w_grad": layer.fc1.weight,
                  "fc1_b_grad": layer.fc1.bias, "fc2_w_grad": layer.fc2.weight, "fc2_b_grad": layer.fc2.bias}
        out.update({name: kit.grad_or_none(p) for name, p in params.items()})
        out["views"] = kit.shard_views({k: v for k, v in params.items() if not k.startswith("norm")})
        out["dense_changed"] = kit.changed(dense, self.dense(spec))
        out["saved_full"] = kit.activation_bytes(saved, list(layer.parameters()),
                                                 numel=spec["batch"] * spec["seq"] * spec["hidden"])
        out["comm"] = {"forward": kit.comm_summary(fwd), "backward": kit.comm_summary(bwd)}
        if spec["p"] > 0:
            with torch.no_grad():
                again = self.build(student, [kit.on_device(m) for m in self.dense(spec)], spec, kit.group_for(spec))
                out["replay"] = kit.tensor_from(again(x.detach()), f"{self.exercise}.forward")
                layer.eval()
                out["eval_out"] = kit.tensor_from(layer(x.detach()), f"{self.exercise}.forward")
        # the global generator is the shared one (replicated activations): every rank's must still agree
        out["global_rng"] = hashlib.sha256(torch.random.get_rng_state().numpy().tobytes()).hexdigest()[:16]
        return out

    # -------------------------------------------------------------- parent side
    def judge(self, case, output):
        world, spec = case.inputs["world"], case.inputs["spec"]
        if spec.get("reject"):
            verdict = expect(output, per_rank(REFUSAL, world), self.exercise)
            return verdict if not verdict.passed else kit.judge_refusal(output, "ffn", spec["bad_size"], world)
        dropout = spec["p"] > 0
        grads = {k: kit.grad_shape(spec["affine"] if k.startswith("norm") else
                                   spec["bias"] if k == "fc2_b_grad" else True) for k in GRADS}
        shape = dict_of({"outs": list_of(array(ndim=3), self.calls(spec)), "x_grad": kit.grad_shape(),
                         "x_after": array(ndim=3), **grads, "views": NAMES, "dense_changed": NAMES,
                         "replay": array(ndim=3) if dropout else NONE, "eval_out": array(ndim=3) if dropout else NONE,
                         "saved_full": INT, "comm": PHASES, "global_rng": STR})
        verdict = expect(output, per_rank(shape, world), f"{self.exercise}'s results")
        if not verdict.passed:
            return verdict
        if len({out["global_rng"] for out in output}) > 1:
            return fail("after building and running the layer, torch's global random state differs between ranks: "
                        "it is the shared generator (replicated activations); draw per-rank dropout from a "
                        "generator the layer owns, never reseed the global one per rank")
        masks = None
        if dropout:
            masks, verdict = self.infer_masks(output, spec, world)
            if not verdict.passed:
                return verdict
        truth = self.truth(spec, masks)
        for r in range(world):
            want = self.expected(spec, truth, world, r)
            for c, out in enumerate(want.pop("outs")):
                verdict = close(output[r]["outs"][c], out, rtol=kit.RTOL, atol=kit.ATOL,
                                what=f"{kit.who(r, c, self.calls(spec))}'s forward output")
                if not verdict.passed:
                    return verdict
            verdict = kit.judge_values(output[r], want, f"rank {r}")
            if not verdict.passed:
                return verdict
            chunk = block(spec["seq"], len(kit.members(spec, world, r)[0]), kit.members(spec, world, r)[1])
            verdict = kit.judge_values(output[r], {"x_after": kit.numpy(self.full(spec, 5)[:, chunk])}, f"rank {r}",
                                       rtol=0, atol=0)
            if not verdict.passed:
                return kit.untouched(verdict.message)
        wrapped = [{"calls": [got]} for got in output]
        return first_failure(kit.judge_views(wrapped), kit.judge_dense_kept(wrapped), self.judge_comm(output, spec),
                             self.judge_memory(output, spec))

    def truth(self, spec: dict, masks) -> dict:
        """The dense sublayer's outputs and gradients (under the inferred dropout masks)."""
        import torch
        import torch.nn.functional as F

        norm, fc1, fc2 = self.dense(spec)
        x = self.full(spec, 5).requires_grad_()
        ys = []
        for c in range(self.calls(spec)):
            h = fc2(F.gelu(fc1(norm(x))))
            ys.append(x + (h if masks is None else h * masks[c] / (1 - spec["p"])))
        torch.autograd.backward(ys, [self.full(spec, 6 + c) for c in range(len(ys))])
        grad = lambda p: None if p is None else p.grad  # noqa: E731
        return {"outs": [y.detach() for y in ys], "x_grad": x.grad, "norm_w": grad(norm.weight),
                "norm_b": grad(norm.bias), "fc1_w": fc1.weight.grad, "fc1_b": fc1.bias.grad,
                "fc2_w": fc2.weight.grad, "fc2_b": grad(fc2.bias)}

    def expected(self, spec, truth, world, rank) -> dict:
        group, me = kit.members(spec, world, rank)
        chunk, cols = block(spec["seq"], len(group), me), block(spec["ffn"], len(group), me)
        want = {"outs": [kit.numpy(y[:, chunk]) for y in truth["outs"]]}
        want.update({"x_grad": kit.numpy(truth["x_grad"][:, chunk]), "norm_w_grad": kit.numpy(truth["norm_w"]),
                     "norm_b_grad": kit.numpy(truth["norm_b"]), "fc1_w_grad": kit.numpy(truth["fc1_w"][cols]),
                     "fc1_b_grad": kit.numpy(truth["fc1_b"][cols]), "fc2_w_grad": kit.numpy(truth["fc2_w"][:, cols]),
                     "fc2_b_grad": kit.numpy(truth["fc2_b"])})
        return want

    def infer_masks(self, output: list, spec: dict, world: int):
        """Each call's full dropout mask, read off the ranks' outputs; or what is wrong with them."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        norm, fc1, fc2 = self.dense(spec)
        x = self.full(spec, 5)
        with torch.no_grad():
            h = kit.numpy(fc2(F.gelu(fc1(norm(x)))))
        x, scale = kit.numpy(x), 1.0 / (1.0 - spec["p"])
        masks = []
        for c in range(self.calls(spec)):
            parts = []
            for r in range(world):
                chunk = block(spec["seq"], world, r)
                d, kept_value = np.asarray(output[r]["outs"][c]) - x[:, chunk], h[:, chunk] * scale
                if d.shape != kept_value.shape:
                    return None, fail(f"rank {r}'s output (call {c + 1}) has shape {d.shape}, "
                                      f"expected {kept_value.shape}")
                kept = np.abs(d - kept_value) <= 1e-9 + 1e-7 * np.abs(kept_value)
                if not (kept | (np.abs(d) <= 1e-9)).all():
                    return None, fail(f"rank {r}'s output (call {c + 1}) is neither x nor x + MLP(x)/(1 − p) at some "
                                      "positions: dropout zeroes an element or scales it by 1/(1 − p)")
                parts.append(kept)
            if any((parts[0] == p).all() for p in parts[1:]):
                return None, fail(f"call {c + 1}: ranks 0 and 1 dropped exactly the same positions of their chunks — "
                                  "each rank must draw from a generator of its own (seeded with seed + its rank)")
            masks.append(np.concatenate(parts, axis=1))
        if (masks[0] == masks[1]).all():
            return None, fail("both calls dropped the same positions: the generator must advance between calls "
                              "(make it once, in __init__)")
        share = float(np.mean(masks))
        if not 0.25 <= share <= 0.75:
            return None, fail(f"dropout with p = {spec['p']} kept {share:.0%} of the elements")
        for r in range(world):
            if not close(output[r]["replay"], output[r]["outs"][0], rtol=1e-12, atol=1e-12).passed:
                return None, fail(f"rank {r}: a layer built again with the same seed drew a different first mask — "
                                  "seed the generator from `seed` and the rank")
            chunk = block(spec["seq"], world, r)
            if not close(output[r]["eval_out"], x[:, chunk] + h[:, chunk], rtol=kit.RTOL, atol=kit.ATOL).passed:
                return None, fail(f"rank {r}: in eval mode the layer still dropped (or scaled) something")
        return [torch.from_numpy(m) for m in masks], PASS

    def judge_comm(self, output: list, spec: dict):
        n, es = self.calls(spec), 8
        b, s, h = spec["batch"], spec["seq"], spec["hidden"]
        size = len(kit.members(spec, len(output), 0)[0])
        params = (2 * h if spec["affine"] else 0) + (h if spec["bias"] else 0)
        why = "sequence parallelism: an all-gather and a reduce-scatter replace each all-reduce of activations"
        for r, got in enumerate(output):
            fwd, bwd = got["comm"]["forward"], got["comm"]["backward"]
            want = {"all_gather": (n, n * b * s // size * h * es), "reduce_scatter(sum)": (n, n * b * s * h * es)}
            for phase, seen in (("forward", fwd), ("backward", bwd)):
                extra = {k: v for k, v in seen.items()
                         if k not in want and (phase == "forward" or k != "all_reduce(sum)")}
                if extra or any(k not in seen or (seen[k]["calls"], seen[k]["bytes"]) != v for k, v in want.items()):
                    listed = ", ".join(f"{v['calls']}× {k} ({v['bytes']} B)" for k, v in sorted(seen.items()))
                    return fail(f"rank {r}: {phase} made {listed or 'no collective'}; expected per call one all_gather "
                                f"of this rank's chunk and one reduce_scatter of the full activation ({why})")
            reduce = bwd.get("all_reduce(sum)", {"calls": 0, "bytes": 0})
            unit = params * es       # once per call (f on each use), or once per backward (a gradient hook)
            whole = reduce["bytes"] % unit == 0 and unit <= reduce["bytes"] <= n * unit if unit else not reduce["bytes"]
            if not whole or not (1 if params else 0) <= reduce["calls"] <= 3 * n:
                return fail(f"rank {r}: backward all-reduced {reduce['calls']}× ({reduce['bytes']} B); the replicated "
                            f"LayerNorm weight/bias and fc2 bias gradients are {params} numbers per call, summed "
                            "over the ranks (copy_to_tp), and no activation is all-reduced")
        return PASS

    def judge_memory(self, output: list, spec: dict):
        full = spec["batch"] * spec["seq"] * spec["hidden"] * 8
        for r, got in enumerate(output):
            if got["saved_full"] > full:
                return fail(f"rank {r} kept {got['saved_full']} B of whole-sequence (batch, seq, hidden) activations "
                            f"for backward, more than the {full} B of one (fc1's gathered input, all sequence "
                            "parallelism needs): run LayerNorm and dropout on this rank's chunk of the sequence")
        return PASS


CHECKS = [SequenceParallelMLPCheck()]
