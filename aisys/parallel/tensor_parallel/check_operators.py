"""Checks of the seven mappings: values, gradients, where they communicate, inputs left alone.

Ground truth is arithmetic on seeded inputs that the parent rebuilds for every rank: a sum
over the group (f backward, g forward, reduce-scatter), a concatenation in rank order
(gathers), a slice at the rank's index in its group (scatters). Every exercise gets fixed
corner cases on every seed — 2 and 4 ranks, 1-d to 4-d tensors, a batch of one — and one
case on a (2 × 2) grid: the call uses this rank's 2-rank tensor-parallel group (so global
rank 3 is index 1 there), and a second call on the whole world is in flight before the one
backward (state kept outside `ctx` shows). The scatters refuse uneven sizes.
"""
from __future__ import annotations

from aisys.grading.shapes import array, dict_of, expect, list_of, per_rank
from aisys.grading.spec import Case, ExerciseCheck, first_failure
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.casekit import PHASES, REFUSAL


def _seed(rng) -> int:
    return int(rng.integers(2**30))


class MappingCheck(ExerciseCheck):
    """One mapping. `split_dim`: the dim it splits (-1 or the sequence, 1; None: f and g);
    `x_full`: whether x is full along it; `x_replicated` / `g_replicated`: whether every
    rank of the group holds the same input / upstream gradient (as in the layers)."""

    split_dim: int | None = None
    x_full = False
    x_replicated = False
    g_replicated = False
    forward_comm: dict[str, int] = {}
    backward_comm: dict[str, int] = {}
    comm_reason = ""
    corners: tuple[tuple[str, int, list[int], dict], ...] = ()   # (name, world, base shape, extra)

    def cases(self, rng):
        dims = (2, 3) if self.split_dim == 1 else (1, 2, 3)
        cases = []
        for world in (2, 4):
            shape = [int(s) for s in rng.integers(2, 4, size=int(rng.choice(dims)) + (self.split_dim == 1))]
            cases.append(Case(f"w{world}-{len(shape)}d", {"world": world, "calls": [
                {"seed": _seed(rng), "shape": shape}]}))
        for name, world, shape, extra in self.corners:
            cases.append(Case(name, {"world": world, "calls": [{"seed": _seed(rng), "shape": shape, **extra}]},
                              weight=0.5 if extra.get("reject") else 1.0))
        grid = [int(s) for s in rng.integers(2, 4, size=3)]
        cases.append(Case("w4-tp2-grid", {"world": 4, "calls": [
            {"seed": _seed(rng), "shape": grid, "tp": 2}, {"seed": _seed(rng), "shape": [grid[0] + 1, *grid[1:]]}]}))
        return cases

    # -------------------------------------------------------------- inputs (both sides)
    def x_shape(self, spec: dict, size: int) -> list[int]:
        shape = list(spec["shape"])
        if self.split_dim is not None and self.x_full:
            shape[self.split_dim] *= size
        if spec.get("reject"):
            shape[self.split_dim] += 1
        return shape

    def g_shape(self, spec: dict, size: int) -> list[int]:
        shape = list(spec["shape"])
        if self.split_dim is not None and not self.x_full:
            shape[self.split_dim] *= size
        return shape

    def x_for(self, spec: dict, world: int, rank: int):
        from aisys.parallel.tensor_parallel.dense import seeded

        group, _ = kit.members(spec, world, rank)
        key = 7 + 50 * group[0] if self.x_replicated else 1 + rank
        return seeded(spec["seed"] + key, *self.x_shape(spec, len(group)))

    def g_for(self, spec: dict, world: int, rank: int):
        from aisys.parallel.tensor_parallel.dense import seeded

        group, _ = kit.members(spec, world, rank)
        key = 1000 + 50 * group[0] if self.g_replicated else 2000 + rank
        shape = self.g_shape(spec, len(group))
        if spec.get("noncontig"):      # the gradient of a transpose: a non-contiguous view
            return seeded(spec["seed"] + key, *shape[:-2], shape[-1], shape[-2]).transpose(-1, -2)
        return seeded(spec["seed"] + key, *shape)

    # -------------------------------------------------------------- rank side
    def run(self, case, student):
        import torch

        world, rank = kit.world_and_rank()
        fn = student.get(self.exercise)
        specs = case.inputs["calls"]
        if specs[0].get("reject"):
            x = kit.leaf(self.x_for(specs[0], world, rank))
            return kit.refusal(lambda: fn(x, kit.group_for(specs[0])) if specs[0].get("tp") else fn(x))
        xs = [kit.leaf(self.x_for(spec, world, rank)) for spec in specs]
        ys = []
        with kit.comm_phase() as fwd:
            for spec, x in zip(specs, xs):
                y = fn(x, kit.group_for(spec)) if spec.get("tp") else fn(x)
                ys.append(kit.tensor_from(y, self.exercise))
        ups = [kit.on_device(self.g_for(spec, world, rank)) for spec in specs]
        with kit.comm_phase() as bwd:
            torch.autograd.backward(ys, ups)
        return {"calls": [{"out": y, "x_grad": kit.grad_or_none(x), "x_after": x.detach(), "g_after": g}
                          for y, x, g in zip(ys, xs, ups)],
                "comm": {"forward": kit.comm_summary(fwd), "backward": kit.comm_summary(bwd)}}

    # -------------------------------------------------------------- parent side
    def expected(self, spec: dict, world: int, rank: int) -> dict:
        group, me = kit.members(spec, world, rank)
        xs = [self.x_for(spec, world, m) for m in group]
        gs = [self.g_for(spec, world, m) for m in group]
        return {"out": kit.numpy(self.forward(xs, me)), "x_grad": kit.numpy(self.backward(gs, me))}

    def forward(self, xs: list, me: int):
        raise NotImplementedError

    def backward(self, gs: list, me: int):
        raise NotImplementedError

    def judge(self, case, output):
        world, specs = case.inputs["world"], case.inputs["calls"]
        if specs[0].get("reject"):
            shape = self.x_shape(specs[0], len(kit.members(specs[0], world, 0)[0]))
            verdict = expect(output, per_rank(REFUSAL, world), self.exercise)
            return verdict if not verdict.passed else kit.judge_refusal(
                output, "the last dim" if self.split_dim == -1 else "seq (dim 1)", shape[self.split_dim], world)
        one = dict_of({"out": array(), "x_grad": kit.grad_shape(), "x_after": array(), "g_after": array()})
        verdict = expect(output, per_rank(dict_of({"calls": list_of(one, len(specs)), "comm": PHASES}), world),
                         f"{self.exercise}'s results")
        if not verdict.passed:
            return verdict
        for r, c, got in kit.calls_of(output, world):
            spec, label = specs[c], kit.who(r, c, len(specs))
            verdict = kit.judge_values(got, self.expected(spec, world, r), label)
            if not verdict.passed:
                return verdict
            x, g = self.x_for(spec, world, r), self.g_for(spec, world, r)
            verdict = kit.judge_values(got, {"x_after": kit.numpy(x), "g_after": kit.numpy(g)}, label, rtol=0, atol=0)
            if not verdict.passed:
                return kit.untouched(verdict.message)
        n = len(specs)
        return first_failure(
            kit.judge_comm(output, "forward", {k: v * n for k, v in self.forward_comm.items()}, self.comm_reason),
            kit.judge_comm(output, "backward", {k: v * n for k, v in self.backward_comm.items()}, self.comm_reason))


def _cat(parts: list, dim: int):
    import torch

    return torch.cat(parts, dim=dim)


def _chunk(t, dim: int, size: int, me: int):
    n = t.shape[dim] // size
    return t.narrow(dim, me * n, n)


class CopyToTP(MappingCheck):
    exercise = "copy_to_tp"
    hint = ("f: forward returns x unchanged (no collective); backward all-reduces (sums) a contiguous copy "
            "of the gradient over `group`")
    x_replicated = True
    backward_comm = {"all_reduce(sum)": 1}
    comm_reason = "f communicates only in backward"
    corners = (("w2-noncontiguous-grad", 2, [3, 2, 4], {"noncontig": True}),)

    def forward(self, xs, me):
        return xs[me]

    def backward(self, gs, me):
        return sum(g.contiguous() for g in gs)


class ReduceFromTP(MappingCheck):
    exercise = "reduce_from_tp"
    hint = "g: forward sums x over the ranks (all-reduce a copy); backward passes the gradient through"
    forward_comm = {"all_reduce(sum)": 1}
    comm_reason = "g communicates only in forward"
    corners = (("w4-vector", 4, [5], {}),)

    def forward(self, xs, me):
        return sum(xs)

    def backward(self, gs, me):
        return gs[me]


class GatherFromTP(MappingCheck):
    exercise = "gather_from_tp"
    hint = ("forward: concatenate every rank's block on the last dim (comm.all_gather); backward: the slice "
            "at your index in the group")
    split_dim, g_replicated = -1, True
    forward_comm = {"all_gather": 1}
    comm_reason = "one all-gather forward, nothing backward"
    corners = (("w2-vector", 2, [3], {}),)

    def forward(self, xs, me):
        return _cat(xs, -1)

    def backward(self, gs, me):
        return _chunk(gs[me], -1, len(gs), me)


class ScatterToTP(MappingCheck):
    exercise = "scatter_to_tp"
    hint = "forward: keep the last-dim block at your index (refuse uneven sizes); backward: all-gather the blocks"
    split_dim, x_full, x_replicated = -1, True, True
    backward_comm = {"all_gather": 1}
    comm_reason = "nothing forward, one all-gather backward"
    corners = (("w2-vector", 2, [3], {}), ("w4-uneven", 4, [2, 3], {"reject": True}))

    def forward(self, xs, me):
        return _chunk(xs[me], -1, len(xs), me)

    def backward(self, gs, me):
        return _cat(gs, -1)


class ScatterToSP(MappingCheck):
    exercise = "scatter_to_sp"
    hint = "forward: keep your chunk of dim 1, the sequence (refuse uneven lengths); backward: all-gather on dim 1"
    split_dim, x_full, x_replicated = 1, True, True
    backward_comm = {"all_gather": 1}
    comm_reason = "nothing forward, one all-gather backward"
    corners = (("w4-batch1-4d", 4, [1, 2, 3, 2], {}), ("w2-uneven-seq", 2, [2, 3, 2], {"reject": True}))

    def forward(self, xs, me):
        return _chunk(xs[me], 1, len(xs), me)

    def backward(self, gs, me):
        return _cat(gs, 1)


class GatherFromSP(MappingCheck):
    exercise = "gather_from_sp"
    hint = ("forward: all-gather on dim 1; backward: reduce-scatter on dim 1 — the gradients differ per rank "
            "and must be summed (movedim(1, 0) for comm.reduce_scatter_tensor)")
    split_dim = 1
    forward_comm = {"all_gather": 1}
    backward_comm = {"reduce_scatter(sum)": 1}
    comm_reason = "SP's f: an all-gather forward, a reduce-scatter backward"
    corners = (("w2-batch1-4d", 2, [1, 3, 2, 2], {}),)

    def forward(self, xs, me):
        return _cat(xs, 1)

    def backward(self, gs, me):
        return _chunk(sum(gs), 1, len(gs), me)


class ReduceScatterToSP(MappingCheck):
    exercise = "reduce_scatter_to_sp"
    hint = ("forward: reduce-scatter on dim 1 (refuse uneven lengths; leave x alone); backward: all-gather "
            "on dim 1")
    split_dim, x_full = 1, True
    forward_comm = {"reduce_scatter(sum)": 1}
    backward_comm = {"all_gather": 1}
    comm_reason = "SP's g: a reduce-scatter forward, an all-gather backward"
    corners = (("w4-batch1-4d", 4, [1, 2, 2, 3], {}), ("w4-uneven-seq", 4, [2, 2, 3], {"reject": True}))

    def forward(self, xs, me):
        return _chunk(sum(xs), 1, len(xs), me)

    def backward(self, gs, me):
        return _cat(gs, 1)


CHECKS = [CopyToTP(), ReduceFromTP(), GatherFromTP(), ScatterToTP(), ScatterToSP(), GatherFromSP(),
          ReduceScatterToSP()]
