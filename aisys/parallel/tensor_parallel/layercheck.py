"""What every lab 08 layer check shares: build from a seeded dense module, run, judge.

Each rank builds its layer from the same seeded dense module(s), runs forward and backward,
and reports its output, input gradient, weight-shard gradients, the collectives it made,
and whether it left its input and the dense module alone. The parent recomputes the dense
forward/backward and checks that each rank holds exactly its slice of the dense gradients.
A case on a (2 × 2) grid builds the layer on this rank's 2-rank tensor-parallel group and a
second layer, of other sizes, on the whole world — both in flight before one backward (so a
group or a shard kept on the class, or a global rank used as the group's, shows).
"""
from __future__ import annotations

from aisys.grading.shapes import Shape, array, dict_of, expect, list_of, per_rank
from aisys.grading.spec import Case, ExerciseCheck, first_failure
from aisys.parallel.tensor_parallel import casekit as kit
from aisys.parallel.tensor_parallel.casekit import NAMES, PHASES, REFUSAL


def draw_seed(rng) -> int:
    return int(rng.integers(2**30))


def batch_shape(rng, dims: int) -> list[int]:
    return [int(s) for s in rng.integers(2, 4, size=dims - 1)]


def block(size: int, world: int, rank: int) -> slice:
    n = size // world
    return slice(rank * n, (rank + 1) * n)


def grid_case(rng, first: dict, second: dict) -> Case:
    """The (2 × 2) grid case: `first` on the rank's tp group, `second` on the whole world."""
    return Case("w4-tp2-grid", {"world": 4, "calls": [{**first, "tp": 2}, second]})


class LayerCheck(ExerciseCheck):
    """Shared run/judge: subclasses say how to build dense + parallel, and what each rank holds."""

    comm_reason = ""

    # -------------------------------------------------------------- rank side
    def run(self, case, student):
        import torch

        world, rank = kit.world_and_rank()
        specs = case.inputs["calls"]
        if specs[0].get("reject"):
            return kit.refusal(lambda: self.build(student, self.dense(specs[0]), specs[0], None))
        built, xs, ys = [], [], []
        for spec in specs:
            dense = [kit.on_device(m) for m in self.dense(spec)]
            group, me = kit.members(spec, world, rank)
            layer = self.build(student, dense, spec, kit.group_for(spec))
            built.append((spec, dense, layer))
            given = self.rank_input(spec, len(group), me)
            xs.append(kit.leaf(given) if given.is_floating_point() else kit.on_device(given.clone()))
        with kit.comm_phase() as fwd:
            for (spec, _, layer), x in zip(built, xs):
                ys.append(kit.tensor_from(self.call(layer, x, spec), f"{self.exercise}.forward"))
        ups = []
        for spec, _, _ in built:
            group, me = kit.members(spec, world, rank)
            ups.append(kit.on_device(self.rank_upstream(spec, len(group), me)))
        with kit.comm_phase() as bwd:
            torch.autograd.backward(ys, ups)
        calls = []
        for (spec, dense, layer), x, y in zip(built, xs, ys):
            params = self.parameters(layer)
            out = {"out": y, "x_grad": kit.grad_or_none(x), "x_after": x.detach()}
            out.update({name: kit.grad_or_none(p) for name, p in params.items()})
            out.update(self.extras(layer))
            out["views"] = kit.shard_views(params)
            out["dense_changed"] = kit.changed(dense, self.dense(spec))
            calls.append(out)
        return {"calls": calls, "comm": {"forward": kit.comm_summary(fwd), "backward": kit.comm_summary(bwd)}}

    # -------------------------------------------------------------- parent side
    def call_shape(self, spec: dict) -> Shape:
        fields = {"out": array(), "x_grad": kit.grad_shape(self.input_has_grad), "x_after": array(), "views": NAMES,
                  "dense_changed": NAMES}
        fields.update(self.param_shapes(spec))
        fields.update(self.extra_shapes(spec))
        return dict_of(fields)

    def judge(self, case, output):
        world, specs = case.inputs["world"], case.inputs["calls"]
        if specs[0].get("reject"):
            verdict = expect(output, per_rank(REFUSAL, world), self.exercise)
            return verdict if not verdict.passed else \
                kit.judge_refusal(output, specs[0]["reject"], specs[0]["bad_size"], world)
        shape = dict_of({"calls": _calls_shape([self.call_shape(s) for s in specs]), "comm": PHASES})
        verdict = expect(output, per_rank(shape, world), f"{self.exercise}'s results")
        if not verdict.passed:
            return verdict
        truths = [self.truth(spec) for spec in specs]
        for r, c, got in kit.calls_of(output, world):
            spec, label = specs[c], kit.who(r, c, len(specs))
            group, me = kit.members(spec, world, r)
            verdict = kit.judge_values(got, self.expected(spec, truths[c], len(group), me), label)
            if not verdict.passed:
                return verdict
            verdict = kit.judge_values(got, {"x_after": kit.numpy(self.rank_input(spec, len(group), me))}, label,
                                       rtol=0, atol=0)
            if not verdict.passed:
                return kit.untouched(verdict.message)
        forward, backward = _sum_counts(self.forward_comm(s) for s in specs), \
            _sum_counts(self.backward_comm(s) for s in specs)
        return first_failure(kit.judge_views(output), kit.judge_dense_kept(output),
                             kit.judge_comm(output, "forward", forward, self.comm_reason),
                             kit.judge_comm(output, "backward", backward, self.comm_reason))

    def truth(self, spec: dict) -> dict:
        """Dense forward + backward in the parent: output, input grad, each parameter's grad."""
        dense = self.dense(spec)
        x = self.full_input(spec)
        x.requires_grad_(x.is_floating_point())
        y = self.dense_forward(dense, x, spec)
        y.backward(self.full_upstream(spec))
        grads = {f"{i}.{name}": p.grad for i, m in enumerate(dense) for name, p in m.named_parameters()}
        return {"out": y.detach(), "x_grad": x.grad, **grads}

    # -------------------------------------------------------------- what subclasses change
    input_has_grad = True

    def extras(self, layer) -> dict:
        """Attributes the brief promises beside the parameters (plain data)."""
        return {}

    def extra_shapes(self, spec) -> dict[str, Shape]:
        return {}

    def full_input(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(spec["seed"] + 5, *spec["batch"], spec["in"])

    def full_upstream(self, spec):
        from aisys.parallel.tensor_parallel.dense import seeded

        return seeded(spec["seed"] + 6, *spec["batch"], spec["out"])

    def rank_input(self, spec, size: int, me: int):
        return self.full_input(spec)

    def rank_upstream(self, spec, size: int, me: int):
        return self.full_upstream(spec)

    def dense_forward(self, dense, x, spec):
        return dense[0](x)

    def call(self, layer, x, spec):
        return layer(x)

    def forward_comm(self, spec) -> dict[str, int]:
        return {}

    def backward_comm(self, spec) -> dict[str, int]:
        return {"all_reduce(sum)": 1}

    def param_shapes(self, spec) -> dict[str, Shape]:
        return {"w_grad": kit.grad_shape(True, 2), "b_grad": kit.grad_shape(spec.get("bias", True), 1)}

    def parameters(self, layer) -> dict:
        return {"w_grad": layer.weight, "b_grad": layer.bias}


def _calls_shape(shapes: list[Shape]) -> Shape:
    """A list with one entry per call, each of its own shape."""
    from aisys.grading.shapes import tuple_of

    return tuple_of(*shapes) if len(shapes) > 1 else list_of(shapes[0], 1)


def _sum_counts(parts) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for op, n in part.items():
            total[op] = total.get(op, 0) + n
    return total


def dense_linear(spec):
    from aisys.parallel.tensor_parallel.dense import seeded_linear

    return [seeded_linear(spec["seed"], spec["in"], spec["out"], bias=spec["bias"])]
