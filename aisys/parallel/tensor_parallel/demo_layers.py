"""The demo's per-rank experiments: each mapping, each layer, a whole block (the student's and
torch's `parallelize_module`), the loss (the student's and torch's `loss_parallel`).

Every function returns plain data (numbers, lists, small CPU tensors) for the parent to draw.
"""
from __future__ import annotations

from typing import Any

from aisys.parallel.tensor_parallel.demo_ranks import comm_summary, diff, fwd_bwd, owned

MAPPINGS = ("copy_to_tp", "reduce_from_tp", "gather_from_tp", "scatter_to_tp", "scatter_to_sp", "gather_from_sp",
            "reduce_scatter_to_sp")
LAYERS = ("ColumnParallelLinear", "RowParallelLinear", "ParallelMLP", "ParallelAttention", "SequenceParallelMLP",
          "VocabParallelEmbedding", "ColumnParallelEmbedding", "vocab_parallel_cross_entropy")


def _where() -> tuple[int, int, Any]:
    from aisys.parallel import context

    return context.world_size(), context.rank(), context.device()


def _block(size: int, world: int, rank: int) -> slice:
    n = size // world
    return slice(rank * n, (rank + 1) * n)


def dense_grads(fn, x, params: list, upstream) -> tuple:
    """Dense output and gradients w.r.t. [x, *params] without touching any .grad."""
    import torch

    x = x.detach().clone().requires_grad_(x.is_floating_point())
    y = fn(x)
    inputs = ([x] if x.requires_grad else []) + list(params)
    grads = torch.autograd.grad(y, inputs, upstream)
    return (y.detach(), *(([None] if not x.requires_grad else []) + list(grads)))


def operator(student: Any, name: str, x) -> dict:
    """One mapping on a (batch, seq, hidden) tensor: its forward, its backward, and when it talks.

    Rank r's inputs are chosen so every answer is a multiple or a block of x: sums over ranks
    give x·W(W+1)/2, blocks are x's own last-dim block (tp) or sequence chunk (sp)."""
    world, rank, _ = _where()
    tri = world * (world + 1) / 2
    cols, rows = _block(x.shape[-1], world, rank), _block(x.shape[1], world, rank)
    own = x * (rank + 1)
    inp, up, want_y, want_g = {
        "copy_to_tp": (x, own, x, x * tri),
        "reduce_from_tp": (own, x, x * tri, x),
        "gather_from_tp": (x[..., cols], x, x, x[..., cols]),
        "scatter_to_tp": (x, x[..., cols], x[..., cols], x),
        "scatter_to_sp": (x, x[:, rows], x[:, rows], x),
        "gather_from_sp": (x[:, rows], own, x, (x * tri)[:, rows]),
        "reduce_scatter_to_sp": (own, x[:, rows], (x * tri)[:, rows], x),
    }[name]
    leaf = inp.detach().clone().requires_grad_()
    y, fwd, bwd = fwd_bwd(student.get(name), leaf, up)
    return {"fwd": comm_summary(fwd), "bwd": comm_summary(bwd),
            "forward_diff": diff(y, want_y), "backward_diff": diff(leaf.grad, want_g)}


def _experiment(student: Any, name: str, parts: dict) -> dict:
    """What `layer` runs for `name`: module, input, upstream, dense reference, shard gradients."""
    import torch
    import torch.nn.functional as F

    from aisys.parallel.tensor_parallel import dense as D

    world, rank, dev = _where()
    cls = student.get(name)
    mha, fc1, fc2, emb, x, norm = (parts[k] for k in ("mha", "fc1", "fc2", "emb", "x", "norm"))
    hidden, ffn, vocab = fc1.in_features, fc1.out_features, emb.num_embeddings
    mine_h, mine_f, mine_v = _block(hidden, world, rank), _block(ffn, world, rank), _block(vocab, world, rank)
    chunk = _block(x.shape[1], world, rank)
    ids = D.seeded_ids(3, vocab, *x.shape[:-1]).to(dev)
    if name == "ColumnParallelLinear":
        mod, full_up = cls(fc1), D.seeded(1, *x.shape[:-1], ffn, dtype=x.dtype).to(dev)
        ref = dense_grads(fc1, x, [fc1.weight], full_up)
        return {"mod": mod, "inp": x, "up": full_up[..., mine_f], "ref": (ref[0][..., mine_f], ref[1]),
                "shards": lambda: [(mod.weight.grad, ref[2][mine_f])], "grids": {"fc1 · column split": (mod, fc1, 0)}}
    if name == "RowParallelLinear":
        mod, full_x = cls(fc2), D.seeded(2, *x.shape[:-1], ffn, dtype=x.dtype).to(dev)
        ref = dense_grads(fc2, full_x, [fc2.weight], parts["upstream"])
        return {"mod": mod, "inp": full_x[..., mine_f], "up": parts["upstream"], "ref": (ref[0], ref[1][..., mine_f]),
                "shards": lambda: [(mod.weight.grad, ref[2][:, mine_f])], "grids": {"fc2 · row split": (mod, fc2, 1)}}
    if name == "ParallelMLP":
        mod = cls(fc1, fc2)
        ref = dense_grads(D.DenseMLP(fc1, fc2), x, [fc1.weight, fc2.weight], parts["upstream"])
        return {"mod": mod, "inp": x, "up": parts["upstream"], "ref": ref[:2],
                "shards": lambda: [(mod.fc1.weight.grad, ref[2][mine_f]), (mod.fc2.weight.grad, ref[3][:, mine_f])],
                "grids": {"mlp.fc1": (mod.fc1, fc1, 0), "mlp.fc2": (mod.fc2, fc2, 1)}}
    if name == "ParallelAttention":
        mod = cls(mha)
        ref = dense_grads(lambda t: D.mha_forward(mha, t, causal=True), x, [mha.out_proj.weight], parts["upstream"])
        return {"mod": lambda t: mod(t, causal=True), "inp": x, "up": parts["upstream"], "ref": ref[:2],
                "shards": lambda: [(mod.out.weight.grad, ref[2][:, mine_h])],
                "grids": {"attention in_proj [Wq; Wk; Wv]": (mod.qkv, mha.in_proj_weight, 0),
                          "attention out_proj": (mod.out, mha.out_proj.weight, 1)}}
    if name == "SequenceParallelMLP":
        mod = cls(norm, fc1, fc2)
        ref = dense_grads(lambda t: D.sequence_mlp(norm, fc1, fc2, t), x, [norm.weight, fc1.weight], parts["upstream"])
        return {"mod": mod, "inp": x[:, chunk], "up": parts["upstream"][:, chunk],
                "ref": (ref[0][:, chunk], ref[1][:, chunk]),
                "shards": lambda: [(mod.norm.weight.grad, ref[2]), (mod.fc1.weight.grad, ref[3][mine_f])], "grids": {}}
    if name in ("VocabParallelEmbedding", "ColumnParallelEmbedding"):
        mod = cls(emb)
        ref = dense_grads(emb, ids, [emb.weight], parts["upstream"])
        mine = (lambda g: g[mine_v]) if name.startswith("Vocab") else (lambda g: g[:, mine_h])
        title = "embedding · vocab split" if name.startswith("Vocab") else "embedding · column split"
        return {"mod": mod, "inp": ids, "up": parts["upstream"], "ref": ref[:2],
                "shards": lambda: [(mod.weight.grad, mine(ref[2]))],
                "grids": {title: (mod, emb.weight, 0 if name.startswith("Vocab") else 1)}}
    logits = D.seeded(4, *x.shape[:-1], vocab, dtype=x.dtype, scale=3.0).to(dev)
    target = D.seeded_ids(5, vocab, *x.shape[:-1]).to(dev)
    ref = dense_grads(lambda t: F.cross_entropy(t.transpose(1, -1), target, reduction="none"), logits, [],
                      torch.ones(x.shape[:-1], dtype=x.dtype, device=dev))
    return {"mod": lambda t: cls(t, target), "inp": logits[..., mine_v], "up": torch.ones_like(ref[0]),
            "ref": (ref[0], ref[1][..., mine_v]), "shards": lambda: [], "grids": {}}


def layer(student: Any, name: str, parts: dict) -> dict:
    """One layer built from the dense parts; its comm, its error vs dense, where its weights live."""
    run = _experiment(student, name, parts)
    inp = run["inp"]
    leaf = inp.detach().clone().requires_grad_(inp.is_floating_point())
    y, fwd, bwd = fwd_bwd(run["mod"], leaf, run["up"])
    diffs = {"output": diff(y, run["ref"][0])}
    if leaf.requires_grad:
        diffs["input grad"] = diff(leaf.grad, run["ref"][1])
    shards = run["shards"]()
    if shards:
        diffs["weight-shard grad"] = max(diff(g, w) for g, w in shards)
    grids = {}
    for title, (mod, dense, axis) in run["grids"].items():
        shard = getattr(mod, "weight", mod)
        grids[title] = {"shape": list(dense.shape if hasattr(dense, "shape") else dense.weight.shape), "axis": axis,
                        "owned": owned(shard, getattr(dense, "weight", dense), axis)}
    module = run["mod"]
    weight = getattr(module, "weight", None)
    return {"fwd": comm_summary(fwd), "bwd": comm_summary(bwd), "diffs": diffs, "grids": grids,
            "weight_bytes": int(weight.numel() * weight.element_size()) if weight is not None else None}


def student_block(student: Any, parts: dict) -> dict:
    """x + attention(x), then + MLP, from the student's ParallelAttention and ParallelMLP."""
    attn = student.get("ParallelAttention")(parts["mha"])
    mlp = student.get("ParallelMLP")(parts["fc1"], parts["fc2"])

    def block(t):
        t = t + attn(t, causal=True)
        return t + mlp(t)

    x = parts["x"].detach().clone().requires_grad_()
    y, fwd, bwd = fwd_bwd(block, x, parts["upstream"])
    return {"out": y.detach().cpu(), "x_grad": x.grad.cpu(), "fwd": comm_summary(fwd), "bwd": comm_summary(bwd),
            "shards": {"attn.qkv": attn.qkv.weight.detach().cpu(), "attn.out": attn.out.weight.detach().cpu(),
                       "mlp.fc1": mlp.fc1.weight.detach().cpu(), "mlp.fc2": mlp.fc2.weight.detach().cpu()}}


def _torch_summary(log) -> dict:
    """torch's logged collectives in the demo's format (kinds, and bytes by the ring model)."""
    from aisys.parallel.tensor_parallel.demo_ranks import comm_summary as summary

    return summary([{"op": op, "bytes": size, "reduce_op": "sum" if op == "all_reduce" else None}
                    for op, size in log.records])


def torch_block(parts: dict) -> dict:
    """The same block through torch: DenseBlock + parallelize_module on a 1-D DeviceMesh."""
    from aisys.parallel.tensor_parallel import torch_tp as T
    from aisys.parallel.tensor_parallel.dense import DenseBlock

    world, _, _ = _where()
    dense = DenseBlock(parts["mha"], parts["fc1"], parts["fc2"])
    ref_x = parts["x"].detach().clone().requires_grad_()
    ref = dense(ref_x)
    ref.backward(parts["upstream"])
    block = T.torch_parallelize(DenseBlock(parts["mha"], parts["fc1"], parts["fc2"]), T.tp_mesh(world))
    x = parts["x"].detach().clone().requires_grad_()
    with T.TorchCollectives() as fwd:
        y = T.local(block(x))
    with T.TorchCollectives() as bwd:
        y.backward(parts["upstream"])
    shard = lambda p: T.local_shard(p).detach().cpu()  # noqa: E731 - a one-line helper
    return {"dense_out": ref.detach().cpu(), "dense_x_grad": ref_x.grad.cpu(), "out": y.detach().cpu(),
            "x_grad": x.grad.cpu(), "fwd": _torch_summary(fwd), "bwd": _torch_summary(bwd),
            "shards": {"attn.qkv": shard(block.attn.qkv.weight), "attn.out": shard(block.attn.out.weight),
                       "mlp.fc1": shard(block.mlp.fc1.weight), "mlp.fc2": shard(block.mlp.fc2.weight)}}


def loss_logits(size: dict):
    import torch

    from aisys.parallel.tensor_parallel import dense as D

    tokens = size["batch"] * size["seq"]
    return (D.seeded(6, tokens, size["vocab"], dtype=torch.float32, scale=3.0),
            D.seeded_ids(7, size["vocab"], tokens))


def student_loss(student: Any, size: dict) -> dict:
    import torch

    world, rank, dev = _where()
    logits, target = loss_logits(size)
    shard = logits[:, _block(size["vocab"], world, rank)].to(dev).requires_grad_()
    loss, fwd, bwd = fwd_bwd(lambda t: student.get("vocab_parallel_cross_entropy")(t, target.to(dev)),
                             shard, torch.ones(target.shape, device=dev))
    return {"loss": loss.detach().cpu(), "fwd": comm_summary(fwd), "bwd": comm_summary(bwd)}


def torch_loss(size: dict) -> dict:
    """torch's vocabulary-parallel cross entropy: `loss_parallel()` on a Shard(-1) DTensor."""
    import torch.nn.functional as F
    from torch.distributed.tensor import Shard, distribute_tensor
    from torch.distributed.tensor.parallel import loss_parallel

    from aisys.parallel.tensor_parallel import torch_tp as T

    world, _, dev = _where()
    logits, target = loss_logits(size)
    with T.TorchCollectives() as log:
        dl = distribute_tensor(logits.to(dev), T.tp_mesh(world), [Shard(-1)])
        first = len(log.records)       # distribute_tensor itself may talk: count only the loss
        with loss_parallel():
            loss = F.cross_entropy(dl, target.to(dev), reduction="none")
    log.records = log.records[first:]
    return {"loss": T.local(loss).detach().cpu(), "dense": F.cross_entropy(logits, target, reduction="none"),
            "fwd": _torch_summary(log)}


def volume(student: Any, size: dict, world: int) -> dict:
    from aisys.grading.shapes import require

    fn = student.get("tp_comm_volume")
    return {"formula": require(fn(size["batch"], size["seq"], size["hidden"], 1, world), dict, "tp_comm_volume",
                               "a dict with keys all_reduces, bytes, ring_bytes_per_rank")}
