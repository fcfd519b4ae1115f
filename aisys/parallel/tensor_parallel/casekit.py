"""Shared pieces of lab 08's checks: what a rank records, and how the parent judges it.

Rank side (inside `run`): tensors on this rank's device, the collectives made during a
phase (read from the CommLog), a layer construction that is expected to be refused.
Parent side (inside `judge`): per-rank comparisons with messages that name the rank and
the quantity, communication structure, and the refusal of uneven splits.
"""
from __future__ import annotations

import contextlib
import re
from collections import Counter
from typing import Any, Callable, Iterator

from aisys.grading.compare import close
from aisys.grading.spec import PASS, Verdict, fail

RTOL, ATOL = 1e-7, 1e-9          # float64 checks: a real bug is orders of magnitude away
GATHERS = ("all_gather", "all_gather_into_tensor")

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


@contextlib.contextmanager
def comm_phase() -> Iterator[list[dict]]:
    """`with comm_phase() as recs:` — the CommLog records made inside the block."""
    from aisys.parallel.commlog import comm_log

    with comm_log().capture() as recs:
        yield recs


def op_counts(recs: list[dict]) -> dict[str, int]:
    return dict(Counter(str(r["op"]) for r in recs))


def grad_or_none(t) -> Any:
    return None if t is None or t.grad is None else t.grad


def shard_views(params: dict) -> list[str]:
    """Result keys of the parameters that are views into a bigger tensor (the dense one)."""
    return [name for name, p in params.items()
            if p is not None and p.untyped_storage().nbytes() > p.numel() * p.element_size()]


def refusal(build: Callable[[], Any]) -> dict:
    """Try a construction that must be refused; report what was raised (plain data)."""
    try:
        build()
    except NotImplementedError:
        raise
    except Exception as err:  # the student's choice of exception is judged in the parent
        return {"raised": type(err).__name__, "message": str(err)[:300]}
    return {"raised": None, "message": ""}


# ------------------------------------------------------------------ parent side


_NAMES = {"out": "forward output", "x_grad": "input gradient", "x_after": "input after the call",
          "g_after": "upstream gradient after backward",
          "w_grad": "weight gradient", "b_grad": "bias gradient", "loss": "per-token loss",
          "logits_grad": "gradient of its logits shard"}


def describe(key: str) -> str:
    """A result key in words: 'out' → 'forward output', 'fc1_w_grad' → 'fc1.weight gradient'."""
    if key in _NAMES:
        return _NAMES[key]
    owner, _, rest = key.partition("_")
    return f"{owner}.{'weight' if rest == 'w_grad' else 'bias'} gradient" if rest in ("w_grad", "b_grad") else key


def judge_ranks(output: Any, world: int, expected: Callable[[int], dict], *, rtol: float = RTOL,
                atol: float = ATOL) -> Verdict:
    """Each rank's output dict against `expected(rank)` (key → array; None = must be absent)."""
    if not isinstance(output, list) or len(output) != world:
        return fail(f"expected one result per rank ({world} ranks)")
    for r, got in enumerate(output):
        if not isinstance(got, dict):
            return fail(f"rank {r}: expected a dict of results")
        for key, want in expected(r).items():
            value, name = got.get(key), describe(key)
            if want is None:
                if value is not None:
                    return fail(f"rank {r}'s {name} should be None")
                continue
            if value is None:
                return fail(f"rank {r} has no {name} (a gradient that never arrived, or a missing attribute)")
            verdict = close(value, want, rtol=rtol, atol=atol, what=f"rank {r}'s {name}")
            if not verdict.passed:
                return verdict
    return PASS


def judge_views(output: list) -> Verdict:
    """No rank's shard may be a view of the whole dense weight (that keeps all of it alive)."""
    for r, got in enumerate(output):
        views = got.get("views") if isinstance(got, dict) else None
        if views:
            name = describe(views[0]).replace(" gradient", "")
            return fail(f"rank {r}'s {name} is a view into the dense layer's whole tensor: this rank still holds "
                        "every shard's memory (and shares it with the dense layer) — .clone() your slice")
    return PASS


def judge_comm(output: list, phase: str, allowed: dict[str, int], why: str) -> Verdict:
    """Every rank made exactly `allowed` collectives (op → count) in `phase`."""
    for r, got in enumerate(output):
        counts = got.get(f"comm_{phase}") if isinstance(got, dict) else None
        if not isinstance(counts, dict):
            return fail(f"rank {r}: no communication record for {phase}")
        if counts != allowed:
            seen = ", ".join(f"{n}× {op}" for op, n in sorted(counts.items())) or "no collective"
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
