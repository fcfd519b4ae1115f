"""The demo's per-rank experiments: each operator, each layer, a whole block (the student's and
torch's `parallelize_module`), the loss (the student's and torch's `loss_parallel`).

Every function returns plain data (numbers, lists, small CPU tensors) for the parent to draw.
"""
from __future__ import annotations

from typing import Any

from aisys.parallel.tensor_parallel.demo_ranks import comm_summary, diff, fwd_bwd, owned

LAYERS = ("ColumnParallelLinear", "RowParallelLinear", "ParallelMLP", "ParallelAttention",
          "VocabParallelEmbedding", "vocab_parallel_cross_entropy")


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
    """One conjugate operator on a small tensor: did it do its forward, its backward, and talk when?"""
    world, rank, _ = _where()
    fn = student.get(name)
    triangle = world * (world + 1) / 2
    if name == "copy_to_tp":
        inp, up = x, x * (rank + 1)
        want_y, want_g = x, x * triangle
    elif name == "reduce_from_tp":
        inp, up = x * (rank + 1), x
        want_y, want_g = x * triangle, x
    else:
        cols = _block(x.shape[-1], world, rank)
        inp, up = x[..., cols], x
        want_y, want_g = x, x[..., cols]
    leaf = inp.detach().clone().requires_grad_()
    y, fwd, bwd = fwd_bwd(fn, leaf, up)
    return {"fwd": comm_summary(fwd), "bwd": comm_summary(bwd),
            "forward_diff": diff(y, want_y), "backward_diff": diff(leaf.grad, want_g)}


def layer(student: Any, name: str, parts: dict) -> dict:
    """One layer built from the dense parts; its comm, its error vs dense, where its weights live."""
    import torch
    import torch.nn.functional as F

    from aisys.parallel.tensor_parallel import dense as D

    world, rank, dev = _where()
    cls = student.get(name)
    mha, fc1, fc2, emb, x = (parts[k] for k in ("mha", "fc1", "fc2", "emb", "x"))
    hidden, ffn = fc1.in_features, fc1.out_features
    grids: dict = {}
    if name == "ColumnParallelLinear":
        mod, full_up = cls(fc1), D.seeded(1, *x.shape[:-1], ffn, dtype=x.dtype).to(dev)
        inp, up, params = x, full_up[..., _block(ffn, world, rank)], [fc1.weight]
        ref = dense_grads(fc1, x, params, full_up)
        ref = (ref[0][..., _block(ffn, world, rank)], ref[1], ref[2])
        shard_grads = lambda: [mod.weight.grad]  # noqa: E731 - read after backward
        want = [ref[2][_block(ffn, world, rank)]]
        grids["fc1 · column split"] = (mod.weight, fc1.weight, 0)
    elif name == "RowParallelLinear":
        mod, full_x = cls(fc2), D.seeded(2, *x.shape[:-1], ffn, dtype=x.dtype).to(dev)
        cols = _block(ffn, world, rank)
        inp, up, params = full_x[..., cols], parts["upstream"], [fc2.weight]
        ref = dense_grads(fc2, full_x, params, up)
        ref = (ref[0], ref[1][..., cols], ref[2])
        shard_grads, want = (lambda: [mod.weight.grad]), [ref[2][:, cols]]
        grids["fc2 · row split"] = (mod.weight, fc2.weight, 1)
    elif name == "ParallelMLP":
        mod = cls(fc1, fc2)
        inp, up, params = x, parts["upstream"], [fc1.weight, fc2.weight]
        ref = dense_grads(D.DenseMLP(fc1, fc2), x, params, up)
        shard_grads = lambda: [mod.fc1.weight.grad, mod.fc2.weight.grad]  # noqa: E731
        want = [ref[2][_block(ffn, world, rank)], ref[3][:, _block(ffn, world, rank)]]
        grids["mlp.fc1"] = (mod.fc1.weight, fc1.weight, 0)
        grids["mlp.fc2"] = (mod.fc2.weight, fc2.weight, 1)
    elif name == "ParallelAttention":
        mod = cls(mha)
        inp, up, params = x, parts["upstream"], [mha.out_proj.weight]
        ref = dense_grads(lambda t: D.mha_forward(mha, t, causal=True), x, params, up)
        shard_grads, want = (lambda: [mod.out.weight.grad]), [ref[2][:, _block(hidden, world, rank)]]
        grids["attention in_proj [Wq; Wk; Wv]"] = (mod.qkv.weight, mha.in_proj_weight, 0)
        grids["attention out_proj"] = (mod.out.weight, mha.out_proj.weight, 1)
    elif name == "VocabParallelEmbedding":
        mod = cls(emb)
        inp, up, params = D.seeded_ids(3, emb.num_embeddings, *x.shape[:-1]).to(dev), parts["upstream"], [emb.weight]
        ref = dense_grads(emb, inp, params, up)
        shard_grads = lambda: [mod.weight.grad]  # noqa: E731
        want = [ref[2][_block(emb.num_embeddings, world, rank)]]
        grids["embedding · vocab split"] = (mod.weight, emb.weight, 0)
    else:
        vocab = emb.num_embeddings
        logits = D.seeded(4, *x.shape[:-1], vocab, dtype=x.dtype, scale=3.0).to(dev)
        target = D.seeded_ids(5, vocab, *x.shape[:-1]).to(dev)
        up, vb = torch.ones(x.shape[:-1], dtype=x.dtype, device=dev), _block(vocab, world, rank)
        inp, params = logits[..., vb], []
        ref = dense_grads(lambda t: F.cross_entropy(t.transpose(1, -1), target, reduction="none"), logits, [], up)
        ref = (ref[0], ref[1][..., vb])
        mod, shard_grads, want = (lambda t: cls(t, target)), (lambda: []), []
    leaf = inp.detach().clone().requires_grad_(inp.is_floating_point())
    call = (lambda t: mod(t, causal=True)) if name == "ParallelAttention" else mod
    y, fwd, bwd = fwd_bwd(call, leaf, up)
    diffs = {"output": diff(y, ref[0])}
    if leaf.requires_grad:
        diffs["input grad"] = diff(leaf.grad, ref[1])
    if want:
        diffs["weight-shard grad"] = max(diff(g, w) for g, w in zip(shard_grads(), want))
    return {"fwd": comm_summary(fwd), "bwd": comm_summary(bwd), "diffs": diffs,
            "grids": {title: {"shape": list(d.shape), "axis": axis, "owned": owned(s, d, axis)}
                      for title, (s, d, axis) in grids.items()}}


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


def torch_block(parts: dict) -> dict:
    """The same block through torch: DenseBlock + parallelize_module on a 1-D DeviceMesh."""
    from collections import Counter

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
    summary = [{"ops": dict(Counter(op for op, _ in log.records)), "bytes": log.total_bytes()} for log in (fwd, bwd)]
    shard = lambda p: T.local_shard(p).detach().cpu()  # noqa: E731 - a one-line helper
    return {"dense_out": ref.detach().cpu(), "dense_x_grad": ref_x.grad.cpu(), "out": y.detach().cpu(),
            "x_grad": x.grad.cpu(), "fwd": summary[0], "bwd": summary[1],
            "shards": {"attn.qkv": shard(block.attn.qkv.weight), "attn.out": shard(block.attn.out.weight),
                       "mlp.fc1": shard(block.mlp.fc1.weight), "mlp.fc2": shard(block.mlp.fc2.weight)}}


def loss_logits(size: dict):
    import torch

    from aisys.parallel.tensor_parallel import dense as D

    tokens = size["batch"] * size["seq"]
    return (D.seeded(6, tokens, size["vocab"], dtype=torch.float32, scale=3.0),
            D.seeded_ids(7, size["vocab"], tokens))


def student_loss(student: Any, size: dict) -> dict:
    world, rank, dev = _where()
    logits, target = loss_logits(size)
    shard = logits[:, _block(size["vocab"], world, rank)].to(dev).requires_grad_()
    loss, fwd, bwd = fwd_bwd(lambda t: student.get("vocab_parallel_cross_entropy")(t, target.to(dev)),
                             shard, __import__("torch").ones(target.shape, device=dev))
    return {"loss": loss.detach().cpu(), "fwd": comm_summary(fwd), "bwd": comm_summary(bwd)}


def torch_loss(size: dict) -> dict:
    """torch's vocabulary-parallel cross entropy: `loss_parallel()` on a Shard(-1) DTensor."""
    from collections import Counter

    import torch
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
    ops = Counter(op for op, _ in log.records[first:])
    dense = F.cross_entropy(logits, target, reduction="none")
    return {"loss": T.local(loss).detach().cpu(), "dense": dense, "fwd": {"ops": dict(ops)},
            "dtype": str(torch.float32)}


def volume(student: Any, size: dict, world: int) -> dict:
    fn = student.get("tp_comm_volume")
    return {"formula": fn(size["batch"], size["seq"], size["hidden"], 1, world)}
