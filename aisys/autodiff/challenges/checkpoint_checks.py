"""Lab 03 checks of gradient checkpointing: the plan by its properties, the executor on real
torch modules against plain autograd, with activations and layer calls *measured*.

Corners in every seed. Plans: one layer, two layers, a budget exactly at the smallest cost
and one below it, budget 0 (falsy, not None), n = 0, and a run of calls whose results the
caller then edits (a cached list handed out twice shows there). Executor: one layer, one
segment, one segment per layer, a last segment of one layer, two chains run one after the
other, parameters whose .grad already holds values (backward adds to them); every run
checks the caller's x and plan are left as they were.
"""
from __future__ import annotations

import math

import numpy as np

from aisys.autodiff.memory import ActivationMeter, make_chain, plan_bound, segments, sqrt_bound
from aisys.autodiff.truth import tensors
from aisys.errors import StudentCodeError
from aisys.grading.compare import close
from aisys.grading.shapes import BOOL, INT, Shape, array, describe, dict_of, expect, list_of, one_of, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail, first_failure

TOL = {"rtol": 1e-7, "atol": 1e-9}


def _cost(n: int, k: int) -> int:
    """The cheapest plan with k segments: k checkpoints + a longest segment of ⌈n/k⌉."""
    return k + math.ceil(n / k)


def _min_cost(n: int) -> int:
    return min(_cost(n, k) for k in range(1, n + 1))


def either(*shapes: Shape) -> Shape:
    """Any one of several shapes (a plan, or the record of a ValueError)."""
    text = " or ".join(s.text for s in shapes)

    def problem(value, path):
        wrongs = [s.problem(value, path) for s in shapes]
        return None if any(w is None for w in wrongs) else f"{path} should be {text}, got {describe(value)}"
    return Shape(text, problem)


class CheckpointPlan(ExerciseCheck):
    exercise = "checkpoint_plan"
    hint = ("k segments cost k + ⌈n/k⌉; √n: k = ⌈√n⌉; a budget (0 is a budget, not None): the smallest k whose "
            "cost fits, else ValueError; n_layers < 1: ValueError; return a new list each call")

    def cases(self, rng):
        n = int(rng.integers(20, 200))
        m = int(rng.integers(10, 120))
        calls = {
            "sqrt-64": ([[64, None]], 2), "sqrt-100": ([[100, None]], 1), "sqrt-1": ([[1, None]], 1),
            "sqrt-2": ([[2, None]], 1), f"sqrt-random-{n}": ([[n, None]], 1),
            "budget-64-in-20": ([[64, 20]], 2), "budget-fits-all": ([[30, 31]], 1),
            "budget-exactly-enough": ([[m, _min_cost(m)]], 1), "budget-one-short": ([[m, _min_cost(m) - 1]], 1),
            "budget-zero": ([[int(rng.integers(1, 50)), 0]], 1), "no-layers": ([[0, None]], 1),
            "budget-random": ([[n, int(sqrt_bound(n) + rng.integers(0, 12))]], 1),
            "budget-31-in-13": ([[31, 13]], 1),   # 3 + ⌊31/3⌋ fits, 3 + ⌈31/3⌉ does not
            "calls-in-a-row": ([[64, None], [64, 20], [64, None], [n, None]], 1),
        }
        return [Case(cid, {"calls": c}, w) for cid, (c, w) in calls.items()]

    def run(self, case, student):
        fn, results = student.get("checkpoint_plan"), []
        for n, budget in case.inputs["calls"]:
            try:
                plan = fn(n, budget)
            except ValueError:
                results.append({"raised": "ValueError"})
                continue
            require(plan, list_of(INT), "checkpoint_plan", "a list of layer indices (segment starts)")
            results.append({"plan": [int(p) for p in plan]})
            if isinstance(plan, list):
                plan.append(-1)   # the caller owns the list it got: a cached one shows up edited next time
        return {"results": results}

    def judge(self, case, output):
        calls = case.inputs["calls"]
        result = either(dict_of({"plan": list_of(INT)}), dict_of({"raised": one_of("ValueError")}))
        shaped = expect(output, dict_of({"results": list_of(result, len(calls))}), "the result")
        if not shaped.passed:
            return shaped
        for k, ((n, budget), got) in enumerate(zip(calls, output["results"])):
            label = f"call {k + 1} of {len(calls)} (n={n}, budget={budget}): " if len(calls) > 1 else ""
            verdict = self._judge_one(n, budget, got)
            if not verdict.passed:
                return fail(label + verdict.message)
        return PASS

    @staticmethod
    def _judge_one(n: int, budget: int | None, got: dict) -> Verdict:
        if n < 1:
            return PASS if "raised" in got else fail("a chain of 0 layers has no plan: it should raise ValueError")
        if budget is not None and _min_cost(n) > budget:
            return PASS if "raised" in got else fail(
                f"no plan of {n} layers fits a budget of {budget}: it should raise ValueError")
        if "raised" in got:
            return fail("checkpoint_plan raised ValueError, but a plan fits this budget")
        plan = got["plan"]
        if not plan or plan[0] != 0 or any(b <= a for a, b in zip(plan, plan[1:])) or plan[-1] >= n:
            return fail("the plan should be a strictly increasing list of layer indices that starts at 0, "
                        "all below n_layers")
        bound = plan_bound(plan, n)
        if budget is None:
            k = math.ceil(math.sqrt(n))
            if len(plan) != k:
                return fail(f"the √n plan for {n} layers has ⌈√{n}⌉ segments; this one has {len(plan)}")
            return PASS if bound <= sqrt_bound(n) else fail(
                f"the plan keeps up to {bound} activations alive; a √n plan for {n} layers needs at most "
                f"{sqrt_bound(n)} (about 2√n): make the segments near-equal")
        if bound > budget:
            return fail(f"the plan keeps up to {bound} activations alive (segments + longest segment), "
                        f"over the budget of {budget}")
        fewer = [k for k in range(1, len(plan)) if _cost(n, k) <= budget]
        return fail(f"the plan has {len(plan)} segments, but fewer segments also fit the budget: checkpoint less") \
            if fewer else PASS


class CheckpointedForwardBackward(ExerciseCheck):
    exercise = "checkpointed_forward_backward"
    hint = ("forward under no_grad keeping only segment inputs; backward last to first: recompute one segment "
            "from its checkpoint, .backward(g), free it — no segment twice; work on x.detach(), return a "
            "detached output; .grad accumulates (never zero it)")
    WIDTH = 16

    def cases(self, rng):
        n = int(rng.integers(20, 60))
        cuts = sorted({0, *(int(c) for c in rng.choice(np.arange(1, n), size=int(rng.integers(2, 7)), replace=False))})
        m = int(rng.integers(12, 30))
        short_last = sorted({0, int(rng.integers(2, m - 2)), m - 1})
        runs = {"sqrt-64": ([(64, list(range(0, 64, 8)))], 2), "store-all-12": ([(12, [0])], 1),
                "uneven-30": ([(30, [0, 4, 13, 22])], 1), "every-layer-10": ([(10, list(range(10)))], 1),
                "one-layer": ([(1, [0])], 1), "last-segment-of-one": ([(m, short_last)], 1),
                "random-plan": ([(n, cuts)], 1), "two-chains": ([(24, [0, 6, 12, 18]), (n, cuts)], 1)}
        cases = [Case(cid, {"runs": [{"n": k, "plan": p, "seed": int(rng.integers(1 << 30))} for k, p in rs]}, w)
                 for cid, (rs, w) in runs.items()]
        # .grad already holds values (an earlier micro-batch): backward adds to them, as plain autograd does
        return cases + [Case("grads-accumulate", {"runs": [{"n": 16, "plan": [0, 4, 8, 12],
                                                            "seed": int(rng.integers(1 << 30)), "prefilled": True}]})]

    def _chain_and_input(self, spec: dict, meter=None):
        """The case's chain and x; with "prefilled", every parameter's .grad already holds seeded values."""
        import torch

        layers = make_chain(spec["n"], self.WIDTH, seed=spec["seed"], meter=meter)
        x = tensors([np.random.default_rng(spec["seed"]).normal(size=self.WIDTH)])[0]
        if spec.get("prefilled"):
            earlier = np.random.default_rng(spec["seed"] + 1).normal(size=(spec["n"], 2, self.WIDTH))
            for layer, (gw, gb) in zip(layers, earlier):
                layer.w.grad, layer.b.grad = torch.tensor(gw), torch.tensor(gb)
        return layers, x

    def run(self, case, student):
        import torch

        fn, runs = student.get(self.exercise), []
        for spec in case.inputs["runs"]:
            meter = ActivationMeter()
            layers, x = self._chain_and_input(spec, meter)
            x_before, plan = x.clone(), list(spec["plan"])
            with meter:
                result = fn(layers, x, plan)
            require(result, lambda r: isinstance(r, (tuple, list)) and len(r) == 2, self.exercise,
                    "a pair (output, grad_x) of tensors")
            out, grad_x = result
            for value, name in ((out, "the output"), (grad_x, "grad_x")):
                if not isinstance(value, torch.Tensor):
                    raise StudentCodeError(f"{self.exercise} returned {describe(value)} as {name}; expected a tensor")
            for i, layer in enumerate(layers):
                if layer.w.grad is None or layer.b.grad is None:
                    raise StudentCodeError(f"after {self.exercise}, layer {i}'s parameters have no .grad: backward "
                                           "must reach every layer's parameters")
            runs.append({"out": out, "grad_x": grad_x, "out_detached": not out.requires_grad,
                         "grad_w": torch.stack([layer.w.grad for layer in layers]),
                         "grad_b": torch.stack([layer.b.grad for layer in layers]),
                         "plan_kept": plan == spec["plan"],
                         "x_kept": bool(torch.equal(x, x_before)) and not x.requires_grad and x.grad is None,
                         "peak_alive": meter.peak_alive,
                         "layer_calls": [meter.layer_calls.get(i, 0) for i in range(spec["n"])]})
        return {"runs": runs}

    def judge(self, case, output):
        specs, w = case.inputs["runs"], self.WIDTH
        shape = dict_of({"runs": list_of(dict_of({
            "out": array((w,)), "grad_x": array((w,)), "out_detached": BOOL, "plan_kept": BOOL, "x_kept": BOOL,
            "grad_w": array((None, w)), "grad_b": array((None, w)), "peak_alive": INT, "layer_calls": list_of(INT)}),
            len(specs))})
        shaped = expect(output, shape, "the result")
        for spec, got in zip(specs, output["runs"] if shaped.passed else []):
            n = spec["n"]
            shaped = first_failure(expect(got["grad_w"], array((n, w)), "the weight gradients"),
                                   expect(got["grad_b"], array((n, w)), "the bias gradients"),
                                   expect(got["layer_calls"], list_of(INT, n), "the layer calls"))
            if not shaped.passed:
                break
        if not shaped.passed:
            return shaped
        for k, (spec, got) in enumerate(zip(specs, output["runs"])):
            label = f"chain {k + 1} of {len(specs)}: " if len(specs) > 1 else ""
            verdict = self._judge_one(spec, got)
            if not verdict.passed:
                return fail(label + verdict.message)
        return PASS

    def _judge_one(self, spec: dict, got: dict) -> Verdict:
        layers, x = self._chain_and_input(spec)
        x.requires_grad_()
        h = x
        for layer in layers:
            h = layer(h)
        h.sum().backward()
        n, plan = spec["n"], spec["plan"]
        held = ("; .grad already held values before the call, and backward adds to them, as loss.backward() does"
                if spec.get("prefilled") else "")
        verdict = first_failure(close(got["out"], h.detach().numpy(), what="the chain's output", **TOL),
                                close(got["grad_x"], x.grad.numpy(), what="the input gradient ∂loss/∂x", **TOL),
                                close(got["grad_w"], np.stack([l.w.grad.numpy() for l in layers]),
                                      what=f"the weight gradients (index = layer, unit{held})", **TOL),
                                close(got["grad_b"], np.stack([l.b.grad.numpy() for l in layers]),
                                      what=f"the bias gradients (index = layer, unit{held})", **TOL))
        if not verdict.passed:
            return verdict
        if not got["plan_kept"]:
            return fail("the gradients are right, but the plan list passed in was modified: work on a copy")
        if not got["x_kept"]:
            return fail("the gradients are right, but the caller's x was changed (its values, requires_grad or "
                        ".grad): work on x.detach()")
        if not got["out_detached"]:
            return fail("the gradients are right, but the output still requires grad: return it detached "
                        "(an attached output keeps the last segment's graph alive)")
        bound, peak = plan_bound(plan, n), got["peak_alive"]
        if peak > bound:
            return fail(f"{peak} activations were alive at the peak (measured); this plan allows {bound} "
                        f"({len(plan)} checkpoints + its longest segment)")
        twice = [i for i, c in enumerate(got["layer_calls"]) if c > 2]
        if twice:
            seg = next(s for s in segments(plan, n) if s[0] <= twice[0] < s[1])
            return fail(f"layer {twice[0]} ran {got['layer_calls'][twice[0]]} times: the segment of layers "
                        f"{seg[0]}..{seg[1] - 1} was recomputed more than once (each segment: its forward, then "
                        "at most one recompute in backward)")
        return PASS
