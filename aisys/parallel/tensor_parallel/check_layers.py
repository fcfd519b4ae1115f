"""Checks of ColumnParallelLinear, RowParallelLinear and ParallelMLP against dense torch.

Each rank builds its layer from the same seeded dense layer, runs forward and backward,
and reports its output, input gradient, weight-shard gradients and the collectives it made.
The parent recomputes the dense forward/backward (`F.linear`, `F.gelu`) and checks that each
rank holds exactly its slice of the dense gradients.
"""
from __future__ import annotations

from aisys.grading.spec import Case, ExerciseCheck, first_failure
from aisys.parallel.tensor_parallel import casekit as kit


def _seed(rng) -> int:
    return int(rng.integers(2**30))


def _batch_shape(rng, dims: int) -> list[int]:
    return [int(s) for s in rng.integers(2, 4, size=dims - 1)]


class _LayerCheck(ExerciseCheck):
    """Shared run/judge: subclasses say how to build dense + parallel, and what each rank holds."""

    def run(self, case, student):
        inp = case.inputs
        if inp.get("reject"):
            return kit.refusal(lambda: self.build(student, self.dense(inp), inp))
        world, rank = kit.world_and_rank()
        dense = self.dense(inp)
        layer = self.build(student, [kit.on_device(m) for m in dense], inp)
        x = kit.leaf(self.rank_input(inp, rank))
        with kit.comm_phase() as fwd:
            y = self.call(layer, x, inp)
        with kit.comm_phase() as bwd:
            y.backward(kit.on_device(self.rank_upstream(inp, rank)))
        out = {"out": y, "x_grad": kit.grad_or_none(x),
               "comm_forward": kit.op_counts(fwd), "comm_backward": kit.op_counts(bwd)}
        for name, param in self.parameters(layer).items():
            out[name] = None if param is None else kit.grad_or_none(param)
        out["views"] = kit.shard_views(self.parameters(layer))
        return out

    def judge(self, case, output):
        inp = case.inputs
        if inp.get("reject"):
            return kit.judge_refusal(output, inp["reject"], inp["bad_size"], inp["world"])
        truth = self.truth(inp)
        return first_failure(
            kit.judge_ranks(output, inp["world"], lambda r: self.expected(inp, truth, r)),
            kit.judge_views(output),
            kit.judge_comm(output, "forward", self.forward_allowed(inp, output), self.comm_reason),
            kit.judge_comm(output, "backward", {"all_reduce": 1} if self.backward_reduces(inp) else {},
                           self.comm_reason))

    def truth(self, inp: dict) -> dict:
        """Dense forward + backward in the parent: output, input grad, each parameter's grad."""
        dense = self.dense(inp)
        x = self.full_input(inp).requires_grad_()
        y = self.dense_forward(dense, x, inp)
        y.backward(self.full_upstream(inp))
        grads = {f"{i}.{name}": p.grad for i, m in enumerate(dense) for name, p in m.named_parameters()}
        return {"out": y.detach(), "x_grad": x.grad, **grads}

    def full_input(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(inp["seed"] + 5, *inp["batch"], inp["in"])

    def full_upstream(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(inp["seed"] + 6, *inp["batch"], inp["out"])

    def dense_forward(self, dense, x, inp):
        return dense[0](x)

    def call(self, layer, x, inp):
        return layer(x)

    def forward_allowed(self, inp, output) -> dict[str, int]:
        return {}

    def backward_reduces(self, inp) -> bool:
        return True

    comm_reason = ""


def _rows(size: int, world: int, rank: int) -> slice:
    n = size // world
    return slice(rank * n, (rank + 1) * n)


class ColumnParallelLinearCheck(_LayerCheck):
    exercise = "ColumnParallelLinear"
    hint = ("keep rows [r·n, (r+1)·n) of weight and bias; forward = F.linear(copy_to_tp(x), w, b), "
            "then gather_from_tp if gather_output")
    comm_reason = "f all-reduces dL/dx in backward; only gather_output gathers in forward"

    def cases(self, rng):
        cases = []
        for world, gather, dims, bias in ((2, False, 2, True), (4, False, 3, True), (2, True, 3, True),
                                          (4, True, 2, True), (2, False, 2, False)):
            name = f"w{world}-{'gather' if gather else 'split'}-{dims}d" + ("" if bias else "-nobias")
            cases.append(Case(name, {"world": world, "seed": _seed(rng), "batch": _batch_shape(rng, dims),
                                     "in": int(rng.integers(3, 7)), "out": world * int(rng.integers(2, 4)),
                                     "gather": gather, "bias": bias}))
        cases.append(Case("w4-uneven", {"world": 4, "seed": _seed(rng), "in": 4, "out": 10, "bias": True,
                                        "reject": "out_features", "bad_size": 10}, weight=0.5))
        return cases

    def dense(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded_linear

        return [seeded_linear(inp["seed"], inp["in"], inp["out"], bias=inp["bias"])]

    def build(self, student, dense, inp):
        return student.get(self.exercise)(dense[0], gather_output=bool(inp.get("gather")))

    def parameters(self, layer):
        return {"w_grad": layer.weight, "b_grad": layer.bias}

    def rank_input(self, inp, rank):
        return self.full_input(inp)

    def rank_upstream(self, inp, rank):
        full = self.full_upstream(inp)
        return full if inp["gather"] else full[..., _rows(inp["out"], inp["world"], rank)]

    def expected(self, inp, truth, rank):
        rows = _rows(inp["out"], inp["world"], rank)
        return {"out": kit.numpy(truth["out"] if inp["gather"] else truth["out"][..., rows]),
                "x_grad": kit.numpy(truth["x_grad"]), "w_grad": kit.numpy(truth["0.weight"][rows]),
                "b_grad": kit.numpy(truth["0.bias"][rows]) if inp["bias"] else None}

    def forward_allowed(self, inp, output):
        if not inp["gather"]:
            return {}
        used = [k for o in output if isinstance(o, dict) for k in (o.get("comm_forward") or {})]
        return {next((k for k in used if k in kit.GATHERS), "all_gather"): 1}


class RowParallelLinearCheck(_LayerCheck):
    exercise = "RowParallelLinear"
    hint = "keep columns [r·k, (r+1)·k) of weight and all of bias; reduce_from_tp(F.linear(x, w)) + bias"
    comm_reason = "g all-reduces the partial products in forward; backward needs nothing"

    def cases(self, rng):
        cases = []
        for world, dims, bias in ((2, 2, True), (4, 2, True), (2, 3, True), (4, 3, False)):
            name = f"w{world}-{dims}d" + ("" if bias else "-nobias")
            cases.append(Case(name, {"world": world, "seed": _seed(rng), "batch": _batch_shape(rng, dims),
                                     "in": world * int(rng.integers(2, 4)), "out": int(rng.integers(3, 7)),
                                     "bias": bias}))
        cases.append(Case("w2-uneven", {"world": 2, "seed": _seed(rng), "in": 7, "out": 3, "bias": True,
                                        "reject": "in_features", "bad_size": 7}, weight=0.5))
        return cases

    def dense(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded_linear

        return [seeded_linear(inp["seed"], inp["in"], inp["out"], bias=inp["bias"])]

    def build(self, student, dense, inp):
        return student.get(self.exercise)(dense[0])

    def parameters(self, layer):
        return {"w_grad": layer.weight, "b_grad": layer.bias}

    def rank_input(self, inp, rank):
        return self.full_input(inp)[..., _rows(inp["in"], inp["world"], rank)]

    def rank_upstream(self, inp, rank):
        return self.full_upstream(inp)

    def expected(self, inp, truth, rank):
        cols = _rows(inp["in"], inp["world"], rank)
        return {"out": kit.numpy(truth["out"]), "x_grad": kit.numpy(truth["x_grad"][..., cols]),
                "w_grad": kit.numpy(truth["0.weight"][:, cols]),
                "b_grad": kit.numpy(truth["0.bias"]) if inp["bias"] else None}

    def forward_allowed(self, inp, output):
        return {"all_reduce": 1}

    def backward_reduces(self, inp):
        return False


class ParallelMLPCheck(_LayerCheck):
    exercise = "ParallelMLP"
    hint = ("fc1 = ColumnParallelLinear(fc1), fc2 = RowParallelLinear(fc2), forward fc2(gelu(fc1(x))); "
            "GeLU must see whole columns of fc1's output, so never split fc1 by rows")
    comm_reason = "Megatron's MLP: one all-reduce in forward (g), one in backward (f)"

    def cases(self, rng):
        cases = []
        for world, dims in ((2, 2), (4, 3), (2, 3), (4, 2)):
            hidden = int(rng.integers(3, 7))
            cases.append(Case(f"w{world}-{dims}d", {
                "world": world, "seed": _seed(rng), "batch": _batch_shape(rng, dims), "in": hidden,
                "out": hidden, "ffn": world * int(rng.integers(2, 5)), "bias": True}))
        cases.append(Case("w4-uneven-ffn", {"world": 4, "seed": _seed(rng), "in": 4, "out": 4, "ffn": 14,
                                            "reject": "ffn", "bad_size": 14}, weight=0.5))
        return cases

    def dense(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded_linear

        return [seeded_linear(inp["seed"], inp["in"], inp["ffn"]),
                seeded_linear(inp["seed"] + 2, inp["ffn"], inp["out"])]

    def dense_forward(self, dense, x, inp):
        import torch.nn.functional as F

        return dense[1](F.gelu(dense[0](x)))

    def build(self, student, dense, inp):
        return student.get(self.exercise)(dense[0], dense[1])

    def parameters(self, mlp):
        return {"fc1_w_grad": mlp.fc1.weight, "fc1_b_grad": mlp.fc1.bias,
                "fc2_w_grad": mlp.fc2.weight, "fc2_b_grad": mlp.fc2.bias}

    def rank_input(self, inp, rank):
        return self.full_input(inp)

    def rank_upstream(self, inp, rank):
        return self.full_upstream(inp)

    def expected(self, inp, truth, rank):
        rows = _rows(inp["ffn"], inp["world"], rank)
        return {"out": kit.numpy(truth["out"]), "x_grad": kit.numpy(truth["x_grad"]),
                "fc1_w_grad": kit.numpy(truth["0.weight"][rows]), "fc1_b_grad": kit.numpy(truth["0.bias"][rows]),
                "fc2_w_grad": kit.numpy(truth["1.weight"][:, rows]), "fc2_b_grad": kit.numpy(truth["1.bias"])}

    def forward_allowed(self, inp, output):
        return {"all_reduce": 1}


CHECKS = [ColumnParallelLinearCheck(), RowParallelLinearCheck(), ParallelMLPCheck()]
