"""Check of ParallelAttention against torch's own `nn.MultiheadAttention`.

Truth: the dense module's output and gradients (causal and not). Each rank's fused QKV
gradient must equal the dense `in_proj_weight` gradient rows of its heads, in the per-head
order [q_h; k_h; v_h] for each local head h; its output-projection gradient the matching
columns of `out_proj.weight`'s. Structure: one all-reduce forward, one backward.
"""
from __future__ import annotations

from aisys.grading.spec import Case
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.check_layers import _LayerCheck, _rows, _seed


class ParallelAttentionCheck(_LayerCheck):
    exercise = "ParallelAttention"
    hint = ("reorder in_proj rows per head (per_head_rows), then qkv = ColumnParallelLinear, "
            "out = RowParallelLinear(mha.out_proj); local heads only between them")
    comm_reason = "attention split by heads: one all-reduce in forward (g), one in backward (f)"

    def cases(self, rng):
        cases = []
        for world, causal, local in ((2, True, 2), (4, False, 0), (2, False, 0), (4, True, 2)):
            heads = world * (local or int(rng.integers(1, 3)))   # ≥ 2 local heads in two cases: heads vs q/k/v order
            cases.append(Case(f"w{world}-{'causal' if causal else 'full'}-{heads}heads", {
                "world": world, "seed": _seed(rng), "batch": [int(rng.integers(1, 3)), int(rng.integers(3, 6))],
                "heads": heads, "head_dim": int(rng.integers(2, 4)), "causal": causal}))
        cases.append(Case("w4-uneven-heads", {"world": 4, "seed": _seed(rng), "heads": 6, "head_dim": 2,
                                              "reject": "num_heads", "bad_size": 6}, weight=0.5))
        return cases

    def dense(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded_mha

        return [seeded_mha(inp["seed"], inp["heads"] * inp["head_dim"], inp["heads"])]

    def build(self, student, dense, inp):
        return student.get(self.exercise)(dense[0])

    def call(self, layer, x, inp):
        return layer(x, causal=bool(inp["causal"]))

    def dense_forward(self, dense, x, inp):
        from aisys.parallel.tensor_parallel.dense import mha_forward

        return mha_forward(dense[0], x, causal=bool(inp["causal"]))

    def full_input(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(inp["seed"] + 5, *inp["batch"], inp["heads"] * inp["head_dim"])

    def full_upstream(self, inp):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(inp["seed"] + 6, *inp["batch"], inp["heads"] * inp["head_dim"])

    def rank_input(self, inp, rank):
        return self.full_input(inp)

    def rank_upstream(self, inp, rank):
        return self.full_upstream(inp)

    def parameters(self, attn):
        return {"qkv_w_grad": attn.qkv.weight, "qkv_b_grad": attn.qkv.bias,
                "out_w_grad": attn.out.weight, "out_b_grad": attn.out.bias}

    def expected(self, inp, truth, rank):
        from aisys.parallel.tensor_parallel.dense import per_head_rows

        embed = inp["heads"] * inp["head_dim"]
        mine = per_head_rows(embed, inp["heads"])[_rows(3 * embed, inp["world"], rank)]
        cols = _rows(embed, inp["world"], rank)
        return {"out": kit.numpy(truth["out"]), "x_grad": kit.numpy(truth["x_grad"]),
                "qkv_w_grad": kit.numpy(truth["0.in_proj_weight"][mine]),
                "qkv_b_grad": kit.numpy(truth["0.in_proj_bias"][mine]),
                "out_w_grad": kit.numpy(truth["0.out_proj.weight"][:, cols]),
                "out_b_grad": kit.numpy(truth["0.out_proj.bias"])}

    def forward_allowed(self, inp, output):
        return {"all_reduce": 1}


CHECKS = [ParallelAttentionCheck()]
