"""Checks of ColumnParallelLinear, RowParallelLinear and ParallelMLP against dense torch.

Truth: `F.linear` and the dense MLP (`F.gelu`), forward and backward. Corners on every seed:
2 and 4 ranks, 2-d and 3-d inputs, with and without bias, gathered and split outputs, full
and split inputs to the row layer, one output row per rank, the (2 × 2) grid, and sizes that
do not divide refused.
"""
from __future__ import annotations

from aisys.grading.spec import Case
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.layercheck import LayerCheck, batch_shape, block, dense_linear, draw_seed, grid_case


class ColumnParallelLinearCheck(LayerCheck):
    exercise = "ColumnParallelLinear"
    hint = ("keep rows [r·n, (r+1)·n) of weight and bias (r = your index in the group); forward = "
            "F.linear(copy_to_tp(x), w, b), then gather_from_tp if gather_output")
    comm_reason = "f all-reduces dL/dx in backward; only gather_output gathers in forward"

    def cases(self, rng):
        cases = []
        for world, gather, dims, bias in ((2, False, 2, True), (4, False, 3, True), (2, True, 3, True),
                                          (4, True, 2, True), (2, False, 2, False)):
            name = f"w{world}-{'gather' if gather else 'split'}-{dims}d" + ("" if bias else "-nobias")
            cases.append(Case(name, {"world": world, "calls": [self.spec(rng, world, gather, dims, bias)]}))
        cases.append(Case("w4-one-row-each", {"world": 4, "calls": [
            {**self.spec(rng, 4, True, 2, True), "in": 1, "out": 4}]}))
        cases.append(grid_case(rng, self.spec(rng, 2, False, 3, True), self.spec(rng, 4, True, 2, True)))
        cases.append(Case("w4-uneven", {"world": 4, "calls": [{"seed": draw_seed(rng), "in": 4, "out": 10, "bias": True,
                                                               "reject": "out_features", "bad_size": 10}]},
                          weight=0.5))
        return cases

    def spec(self, rng, size, gather, dims, bias) -> dict:
        return {"seed": draw_seed(rng), "batch": batch_shape(rng, dims), "in": int(rng.integers(3, 7)),
                "out": size * int(rng.integers(2, 4)), "gather": gather, "bias": bias}

    def dense(self, spec):
        return dense_linear(spec)

    def build(self, student, dense, spec, group):
        cls = student.get(self.exercise)
        gather = bool(spec.get("gather"))
        return cls(dense[0], group=group, gather_output=gather) if group is not None else \
            cls(dense[0], gather_output=gather)

    def rank_upstream(self, spec, size, me):
        full = self.full_upstream(spec)
        return full if spec["gather"] else full[..., block(spec["out"], size, me)]

    def expected(self, spec, truth, size, me):
        rows = block(spec["out"], size, me)
        return {"out": kit.numpy(truth["out"] if spec["gather"] else truth["out"][..., rows]),
                "x_grad": kit.numpy(truth["x_grad"]), "w_grad": kit.numpy(truth["0.weight"][rows]),
                "b_grad": kit.numpy(truth["0.bias"][rows]) if spec["bias"] else None}

    def forward_comm(self, spec):
        return {"all_gather": 1} if spec["gather"] else {}


class RowParallelLinearCheck(LayerCheck):
    exercise = "RowParallelLinear"
    hint = ("keep columns [r·k, (r+1)·k) of weight and all of bias; with input_is_parallel=False scatter_to_tp(x) "
            "first; reduce_from_tp(F.linear(x, w)) + bias")
    comm_reason = "g all-reduces the partial products in forward; a full input is scattered (all-gather backward)"

    def cases(self, rng):
        cases = []
        for world, dims, bias, split in ((2, 2, True, True), (4, 2, True, False), (2, 3, True, False),
                                         (4, 3, False, True)):
            name = f"w{world}-{dims}d" + ("" if bias else "-nobias") + ("" if split else "-full-input")
            cases.append(Case(name, {"world": world, "calls": [self.spec(rng, world, dims, bias, split)]}))
        cases.append(grid_case(rng, self.spec(rng, 2, 3, True, True), self.spec(rng, 4, 2, True, False)))
        cases.append(Case("w2-uneven", {"world": 2, "calls": [{"seed": draw_seed(rng), "in": 7, "out": 3, "bias": True,
                                                               "reject": "in_features", "bad_size": 7}]},
                          weight=0.5))
        return cases

    def spec(self, rng, size, dims, bias, split) -> dict:
        return {"seed": draw_seed(rng), "batch": batch_shape(rng, dims), "in": size * int(rng.integers(2, 4)),
                "out": int(rng.integers(3, 7)), "bias": bias, "input_is_parallel": split}

    def dense(self, spec):
        return dense_linear(spec)

    def build(self, student, dense, spec, group):
        cls = student.get(self.exercise)
        kwargs = {} if spec.get("input_is_parallel", True) else {"input_is_parallel": False}
        return cls(dense[0], group=group, **kwargs) if group is not None else cls(dense[0], **kwargs)

    def rank_input(self, spec, size, me):
        full = self.full_input(spec)
        return full[..., block(spec["in"], size, me)] if spec["input_is_parallel"] else full

    def expected(self, spec, truth, size, me):
        cols = block(spec["in"], size, me)
        grad = truth["x_grad"][..., cols] if spec["input_is_parallel"] else truth["x_grad"]
        return {"out": kit.numpy(truth["out"]), "x_grad": kit.numpy(grad),
                "w_grad": kit.numpy(truth["0.weight"][:, cols]),
                "b_grad": kit.numpy(truth["0.bias"]) if spec["bias"] else None}

    def forward_comm(self, spec):
        return {"all_reduce(sum)": 1}

    def backward_comm(self, spec):
        return {} if spec["input_is_parallel"] else {"all_gather": 1}


class ParallelMLPCheck(LayerCheck):
    exercise = "ParallelMLP"
    hint = ("fc1 = ColumnParallelLinear(fc1), fc2 = RowParallelLinear(fc2), forward fc2(gelu(fc1(x))); "
            "GeLU must see whole columns of fc1's output, so never split fc1 by rows")
    comm_reason = "Megatron's MLP: one all-reduce in forward (g), one in backward (f)"

    def cases(self, rng):
        cases = [Case(f"w{world}-{dims}d", {"world": world, "calls": [self.spec(rng, world, dims)]})
                 for world, dims in ((2, 2), (4, 3), (2, 3))]
        cases.append(grid_case(rng, self.spec(rng, 2, 3), self.spec(rng, 4, 2)))
        cases.append(Case("w4-uneven-ffn", {"world": 4, "calls": [{"seed": draw_seed(rng), "in": 4, "out": 4, "ffn": 14,
                                                                   "reject": "ffn", "bad_size": 14}]}, weight=0.5))
        return cases

    def spec(self, rng, size, dims) -> dict:
        hidden = int(rng.integers(3, 7))
        return {"seed": draw_seed(rng), "batch": batch_shape(rng, dims), "in": hidden, "out": hidden,
                "ffn": size * int(rng.integers(2, 5))}

    def dense(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded_linear

        return [seeded_linear(spec["seed"], spec["in"], spec["ffn"]),
                seeded_linear(spec["seed"] + 2, spec["ffn"], spec["out"])]

    def dense_forward(self, dense, x, spec):
        import torch.nn.functional as F

        return dense[1](F.gelu(dense[0](x)))

    def build(self, student, dense, spec, group):
        cls = student.get(self.exercise)
        return cls(dense[0], dense[1], group=group) if group is not None else cls(dense[0], dense[1])

    def param_shapes(self, spec):
        return {key: kit.grad_shape(True, 2 if "_w_" in key else 1)
                for key in ("fc1_w_grad", "fc1_b_grad", "fc2_w_grad", "fc2_b_grad")}

    def parameters(self, mlp):
        return {"fc1_w_grad": mlp.fc1.weight, "fc1_b_grad": mlp.fc1.bias,
                "fc2_w_grad": mlp.fc2.weight, "fc2_b_grad": mlp.fc2.bias}

    def expected(self, spec, truth, size, me):
        rows = block(spec["ffn"], size, me)
        return {"out": kit.numpy(truth["out"]), "x_grad": kit.numpy(truth["x_grad"]),
                "fc1_w_grad": kit.numpy(truth["0.weight"][rows]), "fc1_b_grad": kit.numpy(truth["0.bias"][rows]),
                "fc2_w_grad": kit.numpy(truth["1.weight"][:, rows]), "fc2_b_grad": kit.numpy(truth["1.bias"])}

    def forward_comm(self, spec):
        return {"all_reduce(sum)": 1}


CHECKS = [ColumnParallelLinearCheck(), RowParallelLinearCheck(), ParallelMLPCheck()]
