"""Lab 08: the reference Megatron layers beside torch's own tensor parallelism, on 2 real ranks.

Run with `python -m benchmarks.tensor_parallel [--quick]` (or through `python -m benchmarks`).
Both sides get the same seeded dense MLP, fc2(GeLU(fc1(x))), and the same input:

- the reference `ParallelMLP` (solutions/08, f/g operators over `aisys.parallel.comm`);
- torch's `parallelize_module(DenseMLP, mesh, {fc1: ColwiseParallel, fc2: RowwiseParallel})`
  on a 1-D `init_device_mesh` — DTensor does the same split with its own collectives.

Rows: forward+backward wall time (interleaved turns on both ranks, rank 0's median; the goal
is a ratio ≤ 1.15), the collectives per step on each side (Megatron's count: one all-reduce
each way), and the payload bytes the CommLog records for one reference transformer layer
(attention + MLP) against the reference `tp_comm_volume` formula.

Sequence parallelism (the reference `SequenceParallelMLP` beside a plain-TP sublayer built from
`ParallelMLP`, both x + dropout(MLP(LayerNorm(x))) with p = 0.1): the activations LayerNorm and
dropout keep for backward, measured with saved-tensor hooks (goal: plain TP's ÷ ranks), the
activation bytes one rank sends in a ring (goal: the same as plain TP), and the step time.
"""
from __future__ import annotations

import sys

from benchmarks.common import REPO, Timing, error_row, make_row, measure_interleaved

WORLD = 2
GOAL_RATIO = 1.15


def shapes(quick: bool) -> dict:
    return {"batch": 4, "seq": 32 if quick else 64, "hidden": 128 if quick else 256, "heads": 4,
            "repeats": 10 if quick else 30}


def _reference():
    from aisys.catalog import find_lab
    from aisys.workspace import Student

    return Student(find_lab("tensor-parallel"), REPO / "solutions")


def rank_bench(quick: bool) -> dict:
    """On every rank: time both MLPs in turns, count their collectives, log one layer's bytes."""
    import torch

    from aisys.parallel import context
    from aisys.parallel.commlog import comm_log
    from aisys.parallel.tensor_parallel import dense as D
    from aisys.parallel.tensor_parallel import torch_tp as T

    torch.manual_seed(0)
    s, world, ref = shapes(quick), context.world_size(), _reference()
    h, ffn = s["hidden"], 4 * s["hidden"]
    fc1, fc2 = D.seeded_linear(1, h, ffn, dtype=torch.float32), D.seeded_linear(3, ffn, h, dtype=torch.float32)
    ours = ref.get("ParallelMLP")(fc1, fc2)
    theirs = T.torch_parallelize(D.DenseMLP(D.seeded_linear(1, h, ffn, dtype=torch.float32),
                                            D.seeded_linear(3, ffn, h, dtype=torch.float32)), T.tp_mesh(world))
    x = D.seeded(5, s["batch"], s["seq"], h, dtype=torch.float32).requires_grad_()
    upstream = D.seeded(6, s["batch"], s["seq"], h, dtype=torch.float32)

    def step_ours():
        ours(x).backward(upstream)

    def step_torch():
        T.local(theirs(x)).backward(upstream)

    timings = measure_interleaved({"ours": step_ours, "torch": step_torch}, repeats=s["repeats"], warmup=3)
    with comm_log().capture() as recs:
        step_ours()
    with T.TorchCollectives() as log:
        step_torch()
    with torch.no_grad():
        gap = float((ours(x) - T.local(theirs(x))).abs().max())
    return {"ours": timings["ours"].runs, "torch": timings["torch"].runs, "gap": gap,
            "ours_ops": _count(r["op"] for r in recs), "torch_ops": log.counts(),
            **layer_bytes(ref, s, world), **sequence_bench(ref, s, fc1, fc2)}


def sequence_bench(ref, s: dict, fc1, fc2) -> dict:
    """Plain TP vs sequence parallelism on one MLP sublayer: memory and bytes (the demo's
    measurement), then the two steps timed in turns."""
    import torch

    from aisys.parallel import context
    from aisys.parallel.tensor_parallel import dense as D
    from aisys.parallel.tensor_parallel.demo_sequence import P_DROP, plain_versus_sequence

    world, rank = context.world_size(), context.rank()
    norm = D.seeded_layer_norm(9, s["hidden"], dtype=torch.float32)
    x = D.seeded(10, s["batch"], s["seq"], s["hidden"], dtype=torch.float32)
    up = D.seeded(11, s["batch"], s["seq"], s["hidden"], dtype=torch.float32)
    seen = plain_versus_sequence(ref, {"norm": norm, "fc1": fc1, "fc2": fc2, "x": x, "upstream": up})
    mlp, sp = ref.get("ParallelMLP")(fc1, fc2), ref.get("SequenceParallelMLP")(norm, fc1, fc2, dropout_p=P_DROP)
    n = s["seq"] // world
    chunk = x[:, rank * n:(rank + 1) * n].clone().requires_grad_()
    full = x.clone().requires_grad_()

    def step_plain():
        h = torch.nn.functional.dropout(mlp(norm(full)), P_DROP)
        (full + h).backward(up)

    def step_sp():
        sp(chunk).backward(up[:, rank * n:(rank + 1) * n])

    timings = measure_interleaved({"plain": step_plain, "sp": step_sp}, repeats=s["repeats"], warmup=3)
    wire = {side: sum(seen[side][p]["wire"] - (seen[side][p]["wire_all_reduce"] if side == "sp" else 0)
                      for p in ("fwd", "bwd")) for side in ("tp", "sp")}
    return {"sp_times": timings["sp"].runs, "plain_times": timings["plain"].runs,
            "region_plain": seen["tp"]["region"], "region_sp": seen["sp"]["region"],
            "wire_plain": wire["tp"], "wire_sp": wire["sp"], "sp_gap": seen["sp"]["diff"]}


def layer_bytes(ref, s: dict, world: int) -> dict:
    """CommLog payload of one reference layer (attention + MLP, forward + backward) vs the formula."""
    import torch

    from aisys.parallel.commlog import comm_log
    from aisys.parallel.tensor_parallel import dense as D

    mha, fc1, fc2 = D.block_parts(7, s["hidden"], s["heads"], 2 * s["hidden"])
    attn, mlp = ref.get("ParallelAttention")(mha), ref.get("ParallelMLP")(fc1, fc2)
    x = D.seeded(8, s["batch"], s["seq"], s["hidden"], dtype=torch.float32).requires_grad_()
    with comm_log().capture() as recs:
        h = x + attn(x, causal=True)
        (h + mlp(h)).sum().backward()
    formula = ref.get("tp_comm_volume")(s["batch"], s["seq"], s["hidden"], 1, world)
    return {"logged_bytes": sum(r["bytes"] for r in recs), "logged_calls": len(recs),
            "formula_bytes": formula["bytes"], "formula_calls": formula["all_reduces"]}


def _count(ops) -> dict[str, int]:
    from collections import Counter

    return dict(Counter(ops))


def rows_from(result: dict, quick: bool) -> list[dict]:
    s = shapes(quick)
    ours, theirs = Timing(result["ours"]), Timing(result["torch"])
    ours_calls, torch_calls = sum(result["ours_ops"].values()), sum(result["torch_ops"].values())
    size = f"{s['batch']}×{s['seq']} tokens, hidden {s['hidden']}, ffn {4 * s['hidden']}, fp32, {WORLD} ranks gloo"
    return [
        make_row("ParallelMLP forward+backward (reference)", None, theirs.median, "s", timing=ours,
                 reference_name="torch parallelize_module (Colwise/Rowwise)",
                 note=f"{size}; goal ≤ {GOAL_RATIO}×; torch median {theirs.median * 1e3:.2f} ms; "
                      f"max |Δ| outputs {result['gap']:.1e}"),
        make_row("collectives per MLP step (forward+backward)", ours_calls, torch_calls, "calls",
                 reference_name="torch parallelize_module",
                 note=f"reference {result['ours_ops']}, torch {result['torch_ops']}"),
        make_row("payload bytes, one layer (attention+MLP) fwd+bwd", result["logged_bytes"],
                 result["formula_bytes"], "B", reference_name="tp_comm_volume (reference)",
                 note=f"CommLog {result['logged_calls']} calls vs formula {result['formula_calls']}"),
    ] + sequence_rows(result, size)


def sequence_rows(result: dict, size: str) -> list[dict]:
    """Sequence parallelism against plain TP (rows only when the sequence bench ran)."""
    if "region_sp" not in result:
        return []
    sp, plain = Timing(result["sp_times"]), Timing(result["plain_times"])
    return [
        make_row("SP: LayerNorm+dropout activations kept per rank", result["region_sp"],
                 result["region_plain"] / WORLD, "B", reference_name=f"plain TP's ÷ {WORLD} ranks",
                 note=f"{size}; measured with saved-tensor hooks; plain TP keeps {result['region_plain']} B"),
        make_row("SP: activation bytes sent per rank (ring), fwd+bwd", result["wire_sp"], result["wire_plain"], "B",
                 reference_name="plain TP (all-reduces)",
                 note="all-gather + reduce-scatter vs all-reduce; the replicated parameters' gradient "
                      "all-reduces are extra (hidden-sized)"),
        make_row("SequenceParallelMLP fwd+bwd (reference)", None, plain.median, "s", timing=sp,
                 reference_name="plain-TP sublayer (ParallelMLP)",
                 note=f"dropout p=0.1; max |Δ| vs dense {result['sp_gap']:.1e}; "
                      f"plain median {plain.median * 1e3:.2f} ms"),
    ]


def main(quick: bool = False) -> list[dict]:
    """Launch 2 ranks once, return (and print) the rows."""
    from aisys.parallel.launch import launch

    try:
        result = launch(rank_bench, WORLD, quick, timeout=120.0)[0]
        rows = rows_from(result, quick)
    except Exception as err:  # one error row rather than a crash of the runner
        rows = [error_row("tensor_parallel", f"{type(err).__name__}: {str(err)[-400:]}")]
    for row in rows:
        print({k: row.get(k) for k in ("name", "value", "reference", "ratio", "unit")})
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import run_standalone

    run_standalone("tensor_parallel", quick="--quick" in sys.argv)
