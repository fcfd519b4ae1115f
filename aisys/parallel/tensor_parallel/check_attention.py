"""Check of ParallelAttention against torch's own `nn.MultiheadAttention`.

Truth: the dense module's output and gradients (causal and not). Each rank's fused QKV
gradient must equal the dense `in_proj_weight` gradient rows of its heads, in the per-head
order [q_h; k_h; v_h] for each local head h; its output-projection gradient the matching
columns of `out_proj.weight`'s. Structure: one all-reduce forward, one backward. Corners on
every seed: one and two local heads, causal and not, a batch of one, 2 and 4 ranks, the
(2 × 2) grid, and heads that do not divide.
"""
from __future__ import annotations

from aisys.grading.spec import Case
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.layercheck import LayerCheck, block, draw_seed, grid_case


class ParallelAttentionCheck(LayerCheck):
    exercise = "ParallelAttention"
    hint = ("reorder in_proj rows per head (per_head_rows), then qkv = ColumnParallelLinear, "
            "out = RowParallelLinear(mha.out_proj); local heads only between them")
    comm_reason = "attention split by heads: one all-reduce in forward (g), one in backward (f)"

    def cases(self, rng):
        cases = []
        for world, causal, local, batch in ((2, True, 2, None), (4, False, 1, None), (2, False, 1, 1),
                                            (4, True, 2, None)):
            spec = self.spec(rng, world, causal, local, batch)   # ≥ 2 local heads in two cases: heads vs q/k/v order
            cases.append(Case(f"w{world}-{'causal' if causal else 'full'}-{spec['heads']}heads"
                              + ("-batch1" if batch else ""), {"world": world, "calls": [spec]}))
        cases.append(grid_case(rng, self.spec(rng, 2, True, 2, None), self.spec(rng, 4, False, 1, None)))
        cases.append(Case("w4-uneven-heads", {"world": 4, "calls": [{"seed": draw_seed(rng), "heads": 6, "head_dim": 2,
                                                                     "reject": "num_heads", "bad_size": 6}]},
                          weight=0.5))
        return cases

    def spec(self, rng, size, causal, local, batch) -> dict:
        return {"seed": draw_seed(rng), "batch": [batch or int(rng.integers(1, 3)), int(rng.integers(3, 6))],
                "heads": size * local, "head_dim": int(rng.integers(2, 4)), "causal": causal}

    def dense(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded_mha

        return [seeded_mha(spec["seed"], spec["heads"] * spec["head_dim"], spec["heads"])]

    def build(self, student, dense, spec, group):
        cls = student.get(self.exercise)
        return cls(dense[0], group=group) if group is not None else cls(dense[0])

    def call(self, layer, x, spec):
        return layer(x, causal=bool(spec["causal"]))

    def dense_forward(self, dense, x, spec):
        from aisys.parallel.tensor_parallel.dense import mha_forward

        return mha_forward(dense[0], x, causal=bool(spec["causal"]))

    def full_input(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(spec["seed"] + 5, *spec["batch"], spec["heads"] * spec["head_dim"])

    def full_upstream(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(spec["seed"] + 6, *spec["batch"], spec["heads"] * spec["head_dim"])

    def param_shapes(self, spec):
        return {key: kit.grad_shape(True, 2 if "_w_" in key else 1)
                for key in ("qkv_w_grad", "qkv_b_grad", "out_w_grad", "out_b_grad")}

    def parameters(self, attn):
        return {"qkv_w_grad": attn.qkv.weight, "qkv_b_grad": attn.qkv.bias,
                "out_w_grad": attn.out.weight, "out_b_grad": attn.out.bias}

    def expected(self, spec, truth, size, me):
        from aisys.parallel.tensor_parallel.dense import per_head_rows

        embed = spec["heads"] * spec["head_dim"]
        mine = per_head_rows(embed, spec["heads"])[block(3 * embed, size, me)]
        cols = block(embed, size, me)
        return {"out": kit.numpy(truth["out"]), "x_grad": kit.numpy(truth["x_grad"]),
                "qkv_w_grad": kit.numpy(truth["0.in_proj_weight"][mine]),
                "qkv_b_grad": kit.numpy(truth["0.in_proj_bias"][mine]),
                "out_w_grad": kit.numpy(truth["0.out_proj.weight"][:, cols]),
                "out_b_grad": kit.numpy(truth["0.out_proj.bias"])}

    def forward_comm(self, spec):
        return {"all_reduce(sum)": 1}


CHECKS = [ParallelAttentionCheck()]
