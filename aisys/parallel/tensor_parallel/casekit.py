"""Shared pieces of lab 08's checks: what a rank records, and how the parent judges it.

Rank side (inside `run`): the process group a call uses (the whole case world, or this
rank's tensor-parallel group of a (dp × tp) grid), tensors on this rank's device, the
collectives made during a phase (read from the CommLog), a refused construction.
Parent side (inside `judge`): the shape of what came back first (one entry per rank, every
field present and of the right type), then per-rank values with messages that name the rank
and the quantity, communication structure, inputs left alone, and refusals of uneven splits.
"""
from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator

from aisys.grading.compare import close
from aisys.grading.shapes import INT, STR, Shape, array, dict_of, list_of, mapping, optional
from aisys.grading.spec import PASS, Verdict, fail

RTOL, ATOL = 1e-7, 1e-9          # float64 checks: a real bug is orders of magnitude away
CANONICAL = {"all_gather_into_tensor": "all_gather", "reduce_scatter_tensor": "reduce_scatter"}

# ------------------------------------------------------------------ groups (both sides)


def members(spec: dict, world: int, rank: int) -> tuple[list[int], int]:
    """(the global ranks of the group a call uses, this rank's index in it).

    `spec["tp"]` set: the tensor-parallel group of a (world/tp × tp) grid — consecutive
    ranks, as `aisys.parallel.grid` lays them out; otherwise the whole world of the case."""
    tp = int(spec.get("tp") or world)
    first = rank // tp * tp
    return list(range(first, first + tp)), rank - first


def group_for(spec: dict):
    """Rank side: the process group to pass as `group=` (None = the default, the world)."""
    from aisys.parallel import context
    from aisys.parallel.grid import grid_for

    return grid_for(context.world_size(), int(spec["tp"])).tp_group() if spec.get("tp") else None


# ------------------------------------------------------------------ rank side


def world_and_rank() -> tuple[int, int]:
    """The case's world (the suite narrowed it with a scope) and this rank."""
    from aisys.parallel import context

    return context.world_size(), context.rank()


def on_device(t):
    """Move a tensor (or module) to this rank's device (cuda under nccl/gloo-on-GPU)."""
    from aisys.parallel import context

    return t.to(context.device())


def leaf(t):
    """A fresh leaf on this rank's device that records its gradient."""
    return on_device(t.detach().clone()).requires_grad_()


def tensor_from(value: Any, who: str):
    """What student code returned, if it is a tensor; else the student reads what came back."""
    import torch

    from aisys.grading.shapes import require

    return require(value, torch.Tensor, who, "a tensor")


@contextlib.contextmanager
def comm_phase() -> Iterator[list[dict]]:
    """`with comm_phase() as recs:` — the CommLog records made inside the block."""
    from aisys.parallel.commlog import comm_log

    with comm_log().capture() as recs:
        yield recs


def comm_summary(recs: list[dict]) -> dict[str, dict[str, int]]:
    """{'all_reduce(sum)': {'calls': 2, 'bytes': 96}, 'all_gather': {...}}: one entry per kind
    of collective (gather and reduce-scatter flavours merged, reductions named by their op)."""
    out: dict[str, dict[str, int]] = {}
    for r in recs:
        name = CANONICAL.get(str(r["op"]), str(r["op"]))
        if r.get("reduce_op"):
            name += f"({r['reduce_op']})"
        entry = out.setdefault(name, {"calls": 0, "bytes": 0})
        entry["calls"] += 1
        entry["bytes"] += int(r["bytes"])
    return out


@contextlib.contextmanager
def saving() -> Iterator[list]:
    """`with saving() as saved:` — the tensors autograd keeps for backward inside the block
    (each once), measured with saved-tensor hooks: the activation memory of a forward pass."""
    from torch.autograd.graph import saved_tensors_hooks

    saved: list = []
    seen: set = set()

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        if key not in seen:
            seen.add(key)
            saved.append(t)
        return t

    with saved_tensors_hooks(pack, lambda t: t):
        yield saved


def activation_bytes(saved: list, params=(), *, numel: int | None = None, lead: tuple | None = None) -> int:
    """Bytes of the saved tensors that are activations (no storage shared with `params`),
    optionally only those of `numel` elements (whatever their view's shape: a linear layer
    saves its 3-d input as a 2-d view) or whose shape starts with `lead`."""
    weights = {p.untyped_storage().data_ptr() for p in params if p is not None}
    return sum(t.numel() * t.element_size() for t in saved
               if t.untyped_storage().data_ptr() not in weights
               and (numel is None or t.numel() == numel)
               and (lead is None or tuple(t.shape[:len(lead)]) == tuple(lead)))


def grad_or_none(t) -> Any:
    return None if t is None or t.grad is None else t.grad


def shard_views(params: dict) -> list[str]:
    """Result keys of the parameters that are views into a bigger tensor (the dense one)."""
    return [name for name, p in params.items()
            if p is not None and p.untyped_storage().nbytes() > p.numel() * p.element_size()]


def changed(modules: list, fresh: list) -> list[str]:
    """Parameters of the caller's dense modules that the layer changed, or gave a gradient."""
    import torch

    out = []
    for i, (used, new) in enumerate(zip(modules, fresh)):
        mine = dict(new.named_parameters())
        for name, p in used.named_parameters():
            ref = mine.get(name)
            if p.grad is not None or ref is None or p.shape != ref.shape or \
                    not torch.equal(p.detach().cpu(), ref.detach().cpu()):
                out.append(f"{i}.{name}")
    return out


def refusal(build: Callable[[], Any]) -> dict:
    """Try a construction that must be refused; report what was raised (plain data)."""
    try:
        build()
    except NotImplementedError:
        raise
    except Exception as err:  # the student's choice of exception is judged in the parent
        return {"raised": type(err).__name__, "message": str(err)[:300]}
    return {"raised": None, "message": ""}


# ------------------------------------------------------------------ parent side: shapes

NONE = Shape("None", lambda value, path: None if value is None else f"{path} should be None")
COMM = mapping(dict_of({"calls": INT, "bytes": INT}))
PHASES = dict_of({"forward": COMM, "backward": COMM})
REFUSAL = dict_of({"raised": optional(STR), "message": STR})
NAMES = list_of(STR)


def grad_shape(present: bool = True, ndim: int | None = None) -> Shape:
    """A gradient: an array where the case has one (None there is the student's missing
    gradient, told by `judge_values`), and None where it has none (a layer without bias)."""
    return optional(array(ndim=ndim)) if present else NONE


# ------------------------------------------------------------------ parent side: judges


_NAMES = {"out": "forward output", "x_grad": "input gradient", "x_after": "input after the call",
          "g_after": "upstream gradient after backward", "ids_after": "ids after the call",
          "w_grad": "weight gradient", "b_grad": "bias gradient", "loss": "per-token loss",
          "logits_grad": "gradient of its logits shard"}


def describe(key: str) -> str:
    """A result key in words: 'out' → 'forward output', 'fc1_w_grad' → 'fc1.weight gradient'."""
    if key in _NAMES:
        return _NAMES[key]
    owner, _, rest = key.partition("_")
    return f"{owner}.{'weight' if rest == 'w_grad' else 'bias'} gradient" if rest in ("w_grad", "b_grad") else key


def judge_values(got: dict, want: dict, who: str, *, rtol: float = RTOL, atol: float = ATOL) -> Verdict:
    """One rank's (shape-checked) results against `want` (key → array; None = must be None)."""
    for key, expected in want.items():
        value, name = got.get(key), describe(key)
        if expected is None:
            if value is not None:
                return fail(f"{who}'s {name} should be None")
            continue
        if value is None:
            return fail(f"{who} has no {name} (a gradient that never arrived, or a missing attribute)")
        verdict = close(value, expected, rtol=rtol, atol=atol, what=f"{who}'s {name}")
        if not verdict.passed:
            return verdict
    return PASS


def calls_of(output: list, world: int) -> Iterator[tuple[int, int, dict]]:
    """(rank, call index, that call's results) over every rank of a shape-checked output."""
    for r in range(world):
        for c, got in enumerate(output[r]["calls"]):
            yield r, c, got


def who(rank: int, call: int, calls: int) -> str:
    return f"rank {rank}" + (f" (call {call + 1} of {calls})" if calls > 1 else "")


def untouched(message: str) -> Verdict:
    return fail(f"{message} — the call overwrote a tensor it was handed (autograd and the caller own "
                "them); work on a copy")


def judge_views(output: list, key: str = "views") -> Verdict:
    """No rank's shard may be a view of the whole dense weight (that keeps all of it alive)."""
    for r, c, got in calls_of(output, len(output)):
        if got[key]:
            name = describe(got[key][0]).replace(" gradient", "")
            return fail(f"rank {r}'s {name} is a view into the dense layer's whole tensor: this rank still holds "
                        "every shard's memory (and shares it with the dense layer) — .clone() your slice")
    return PASS


def judge_dense_kept(output: list) -> Verdict:
    """The dense modules a layer is built from are the caller's: neither changed nor given gradients."""
    for r, c, got in calls_of(output, len(output)):
        if got["dense_changed"]:
            return fail(f"rank {r}: building and running the layer changed the dense module it was built from "
                        f"({got['dense_changed'][0]} changed or got a gradient) — copy what you keep")
    return PASS


def counts(summary: dict) -> dict[str, int]:
    return {op: int(entry["calls"]) for op, entry in summary.items()}


def judge_comm(output: list, phase: str, allowed: dict[str, int], why: str) -> Verdict:
    """Every rank made exactly `allowed` collectives (kind → count) in `phase`."""
    for r, got in enumerate(output):
        seen_counts = counts(got["comm"][phase])
        if seen_counts != allowed:
            seen = ", ".join(f"{n}× {op}" for op, n in sorted(seen_counts.items())) or "no collective"
            want = ", ".join(f"{n}× {op}" for op, n in sorted(allowed.items())) or "no collective"
            return fail(f"rank {r}: {phase} made {seen} through aisys.parallel.comm; expected {want} ({why})")
    return PASS


def judge_refusal(output: list, size_name: str, size: int, world: int) -> Verdict:
    """Every rank refused the uneven split with a ValueError naming the size and the ranks."""
    for r, got in enumerate(output):
        raised = got.get("raised") if isinstance(got, dict) else None
        if raised is None:
            return fail(f"rank {r}: {size_name}={size} on {world} ranks was accepted; "
                        "an uneven split must raise ValueError")
        if raised != "ValueError":
            return fail(f"rank {r}: {size_name}={size} on {world} ranks raised {raised}, expected ValueError")
        numbers = set(re.findall(r"\d+", str(got.get("message", ""))))
        if not {str(size), str(world)} <= numbers:
            return fail(f"rank {r}: the ValueError should name the size ({size_name}) and the number of ranks")
    return PASS


def numpy(t) -> Any:
    """A torch tensor as a float64 numpy array (None stays None)."""
    return None if t is None else t.detach().double().cpu().numpy()
