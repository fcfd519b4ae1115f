"""Checks of the three conjugate operators: values, gradients, and where they communicate.

Ground truth is arithmetic on the seeded inputs every rank holds: f is the identity forward
and sums the ranks' upstream gradients backward; g sums the ranks' inputs forward and passes
the gradient through; the gather concatenates forward and slices backward.
"""
from __future__ import annotations

from aisys.grading.spec import Case, ExerciseCheck, fail, first_failure
from aisys.parallel.tensor_parallel import casekit as kit


def _shape_cases(rng, extra: dict | None = None) -> list[Case]:
    cases = []
    for i, (world, dims) in enumerate(((2, 2), (4, 2), (2, 3), (4, 3))):
        shape = [int(s) for s in rng.integers(2, 5, size=dims)]
        cases.append(Case(f"w{world}-{dims}d", {"world": world, "seed": int(rng.integers(2**30)),
                                                "shape": shape, **(extra or {})}))
    return cases


class _OperatorCheck(ExerciseCheck):
    """run(): forward on this rank's input, backward with this rank's upstream gradient."""

    forward_comm: dict[str, int] = {}
    backward_comm: dict[str, int] = {}

    def cases(self, rng):
        return _shape_cases(rng)

    def inputs(self, case: Case, rank: int):
        """(x for this rank, upstream gradient for this rank) — rebuilt identically in the parent."""
        raise NotImplementedError

    def run(self, case, student):
        world, rank = kit.world_and_rank()
        fn = student.get(self.exercise)
        x_in, g_in = self.inputs(case, rank)
        x = kit.leaf(x_in)
        with kit.comm_phase() as fwd:
            y = fn(x)
        upstream = kit.on_device(g_in.clone())
        with kit.comm_phase() as bwd:
            y.backward(upstream)
        return {"out": y, "x_grad": kit.grad_or_none(x), "x_after": x.detach(), "g_after": upstream,
                "comm_forward": kit.op_counts(fwd), "comm_backward": kit.op_counts(bwd)}

    def expected(self, case: Case, rank: int) -> dict:
        raise NotImplementedError

    def forward_allowed(self, output: list) -> dict[str, int]:
        return self.forward_comm

    def judge(self, case, output):
        world = case.inputs["world"]
        values = kit.judge_ranks(output, world, lambda r: self.expected(case, r))
        untouched = kit.judge_ranks(output, world, lambda r: {"x_after": kit.numpy(self.inputs(case, r)[0]),
                                                              "g_after": kit.numpy(self.inputs(case, r)[1])},
                                    rtol=0, atol=0) if values.passed else values
        if not untouched.passed:
            untouched = fail(f"{untouched.message} — the operator overwrote a tensor it was handed (autograd and "
                             "the caller own them); work on a copy")
        return first_failure(
            values, untouched,
            kit.judge_comm(output, "forward", self.forward_allowed(output), self.comm_reason),
            kit.judge_comm(output, "backward", self.backward_comm, self.comm_reason))

    comm_reason = ""


class CopyToTP(_OperatorCheck):
    exercise = "copy_to_tp"
    hint = "f: forward returns x unchanged (no collective); backward all-reduces (sums) the gradient"
    backward_comm = {"all_reduce": 1}
    comm_reason = "f communicates only in backward"

    def inputs(self, case, rank):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(case.inputs["seed"], *case.inputs["shape"]), \
            seeded(case.inputs["seed"] + 1 + rank, *case.inputs["shape"])

    def expected(self, case, rank):
        world = case.inputs["world"]
        x, _ = self.inputs(case, rank)
        total = sum(self.inputs(case, r)[1] for r in range(world))
        return {"out": kit.numpy(x), "x_grad": kit.numpy(total)}


class ReduceFromTP(_OperatorCheck):
    exercise = "reduce_from_tp"
    hint = "g: forward sums x over the ranks (all-reduce a copy); backward passes the gradient through"
    forward_comm = {"all_reduce": 1}
    comm_reason = "g communicates only in forward"

    def inputs(self, case, rank):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(case.inputs["seed"] + 1 + rank, *case.inputs["shape"]), \
            seeded(case.inputs["seed"], *case.inputs["shape"])

    def expected(self, case, rank):
        world = case.inputs["world"]
        total = sum(self.inputs(case, r)[0] for r in range(world))
        return {"out": kit.numpy(total), "x_grad": kit.numpy(self.inputs(case, rank)[1])}


class GatherFromTP(_OperatorCheck):
    exercise = "gather_from_tp"
    hint = "forward: concatenate every rank's block on the last dim (comm.all_gather); backward: this rank's slice"
    comm_reason = "one all-gather forward, nothing backward"

    def forward_allowed(self, output: list) -> dict[str, int]:
        """One gather of either flavour (list all_gather or all_gather_into_tensor)."""
        used = [k for o in output if isinstance(o, dict) for k in (o.get("comm_forward") or {})]
        return {next((k for k in used if k in kit.GATHERS), "all_gather"): 1}

    def inputs(self, case, rank):
        from aisys.parallel.tensor_parallel.dense import seeded

        shape = case.inputs["shape"]
        full_grad = seeded(case.inputs["seed"], *shape[:-1], shape[-1] * case.inputs["world"])
        return seeded(case.inputs["seed"] + 1 + rank, *shape), full_grad

    def expected(self, case, rank):
        import torch

        world, width = case.inputs["world"], case.inputs["shape"][-1]
        blocks = [self.inputs(case, r)[0] for r in range(world)]
        _, full_grad = self.inputs(case, rank)
        return {"out": kit.numpy(torch.cat(blocks, dim=-1)),
                "x_grad": kit.numpy(full_grad[..., rank * width:(rank + 1) * width])}


CHECKS = [CopyToTP(), ReduceFromTP(), GatherFromTP()]
