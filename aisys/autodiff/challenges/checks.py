"""Lab 03 checks. Ground truth: torch on the same loop, formula, tree and layer chain;
an op-counting number for the fused derivative; measured activations for checkpointing."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from aisys.autodiff.counting import counting_calls
from aisys.autodiff.memory import ActivationMeter, make_chain, plan_bound, segments, sqrt_bound
from aisys.autodiff.opcount import Counted
from aisys.autodiff.pytrees import (Layer, Optimizer, build, compare_tagged, make_fn, paths, random_fn_spec,
                                    random_spec, tag, torch_struct_grad)
from aisys.autodiff.truth import close_list, tensors
from aisys.grading.compare import close, equal
from aisys.grading.spec import PASS, Case, ExerciseCheck, LabSuite, fail, first_failure
from aisys.workspace import sibling

TOL = {"rtol": 1e-7, "atol": 1e-9}


def torch_logistic(x: float, n: int | None) -> list[float]:
    """(l_n, dl_n/dx) by torch: the loop when n is given, the article's closed form for l₄."""
    import torch

    v = tensors([x], requires_grad=True)[0]
    if n is None:
        y = 64 * v * (1 - v) * (1 - 2 * v) ** 2 * (1 - 8 * v + 8 * v * v) ** 2
    else:
        y = v
        for _ in range(n - 1):
            y = 4 * y * (1 - y)
    (g,) = torch.autograd.grad(y, [v], allow_unused=True)
    return [y.item(), 0.0 if g is None else g.item()]


class _LogisticCheck(ExerciseCheck):
    closed = False

    def cases(self, rng):
        xs = [0.3] + [float(np.round(rng.uniform(0.02, 0.98), 4)) for _ in range(4)]
        if self.closed:
            xs[-1] = float(np.round(rng.uniform(-0.5, 1.5), 4))   # the polynomial holds outside [0, 1] too
            return [Case("x=0.3" if i == 0 else f"random-{i}", {"x": x}, 2 if i == 0 else 1) for i, x in enumerate(xs)]
        ns = [4, 1, int(rng.integers(2, 6)), int(rng.integers(6, 10)), int(rng.integers(10, 14))]
        return [Case("x=0.3,n=4" if i == 0 else f"n={n}", {"x": x, "n": n}, 2 if i == 0 else 1)
                for i, (x, n) in enumerate(zip(xs, ns))]

    def run(self, case, student):
        fn = student.get(self.exercise)
        args = (case.inputs["x"],) if self.closed else (case.inputs["x"], case.inputs["n"])
        module = student.module("control_flow.py")
        reverse_mode = sibling(module.__file__, "autodiff", "reverse_mode.py")   # the same module object theirs is
        # how the derivative was made: lab 02's grad, once; the closed form must not run the loop
        with counting_calls(reverse_mode, "grad", module) as grads, counting_calls(module, "logistic_loop") as loops:
            result = list(fn(*args))
        return {"result": result, "grad_calls": grads["calls"], "loop_calls": loops["calls"]}

    def judge(self, case, output):
        want = torch_logistic(case.inputs["x"], None if self.closed else case.inputs["n"])
        names = ["l₄ (the first result)", "dl₄/dx (the second result)"] if self.closed else \
            ["l_n (the first result)", "dl_n/dx (the second result)"]
        verdict = close_list(output["result"], want, names, **TOL)
        if not verdict.passed:
            return verdict
        if self.closed and output["loop_calls"]:
            return fail("the values are right, but logistic_closed called logistic_loop: evaluate the closed-form "
                        "polynomial itself")
        if output["grad_calls"] != 1:
            return fail(f"the values are right, but reverse_mode.grad was called {output['grad_calls']} times: the "
                        "derivative must come from one grad call of your lab-02 reverse mode, not from a hand-written "
                        "formula")
        return PASS


class LogisticLoop(_LogisticCheck):
    exercise = "logistic_loop"
    hint = ("l₁ = x, so n − 1 updates l = 4·l·(1 − l) on a lab-02 Variable; then grad(l, [v]) "
            "(erratum: 1 − l_n, not 1 − l₁)")


class LogisticClosed(_LogisticCheck):
    exercise, closed = "logistic_closed", True
    hint = "64·v·(1 − v)·(1 − 2v)**2·(1 − 8v + 8v²)**2 on a lab-02 Variable, then grad"


class FusedCube(ExerciseCheck):
    """Two kinds of case, so correct-but-unfused code earns part of the points:
    `values-*` judge (x³, 3x²) against torch; `op-count-*` also count the multiplications."""
    exercise = "fused_cube"
    hint = ("x³ and 3x² share a factor: compute it once, keep it in a variable and build both results "
            "from it; avoid ** (a power hides multiplications)")
    MAX_MULS = 3

    def cases(self, rng):
        draw = lambda: float(np.round(rng.uniform(-4, 4), 3))  # noqa: E731
        values = [Case(f"values-x={x:g}", {"x": x}) for x in (2.0, -1.5, draw(), draw())]
        counts = [Case(f"op-count-x={x:g}", {"x": x, "count": True}, 2) for x in (1.5, draw())]
        return values + counts

    def run(self, case, student):
        counter = Counter()
        out = student.get("fused_cube")(Counted(case.inputs["x"], counter))
        pair = list(out) if isinstance(out, (tuple, list)) else [out]
        return {"values": [o.value if isinstance(o, Counted) else None for o in pair],
                "counted": [isinstance(o, Counted) for o in pair], "ops": dict(counter)}

    def judge(self, case, output):
        import torch

        v = tensors([case.inputs["x"]], requires_grad=True)[0]
        cube = v ** 3
        (deriv,) = torch.autograd.grad(cube, [v])
        if output["counted"] != [True, True]:
            return fail("fused_cube should return two values computed from x with arithmetic "
                        "(a float(x), a math function or a constant escapes the op counter)")
        verdict = close_list(output["values"], [cube.item(), deriv.item()],
                             ["x³ (the first result)", "3x² (the second result)"], **TOL)
        if not case.inputs.get("count"):
            return verdict
        if not verdict.passed:
            return fail("the multiplications are only counted once x³ and 3x² are right "
                        "(see the values-* cases)")
        ops = output["ops"]
        if ops.get("pow", 0):
            return fail(f"x³ and 3x² are right, but ** was used {ops['pow']} time(s): a power hides "
                        "multiplications, so compute the shared factor once instead")
        if ops.get("mul", 0) > self.MAX_MULS:
            return fail(f"x³ and 3x² are right, but they took {ops['mul']} multiplications; sharing "
                        f"work between them needs only {self.MAX_MULS}")
        return PASS


class GradOfStruct(ExerciseCheck):
    exercise = "grad_of_struct"
    hint = ("map floats only (bool is an int, leave it); rebuild each container and dataclass; each gradient a "
            "Python float (float(g)), 0.0 for unused leaves; lift leaves to float64 tensors (the tolerance is 1e-12)")

    def cases(self, rng):
        fixed = {
            "flat-dict": {"kind": "dict", "items": {"a": _f(rng), "b": _f(rng), "n": {"kind": "int", "value": 2},
                                                    "name": {"kind": "str", "value": "relu"}}},
            "dataclasses": {"kind": "dict", "items": {
                "layer": {"kind": "Layer", "fields": {"weight": _f(rng), "bias": _f(rng),
                                                      "activation": {"kind": "str", "value": "square"},
                                                      "units": {"kind": "int", "value": 3}}},
                "opt": {"kind": "Optimizer", "fields": {"lr": _f(rng), "steps": {"kind": "int", "value": 1},
                                                        "nesterov": {"kind": "bool", "value": True},
                                                        "state": {"kind": "tuple", "items": [_f(rng), _f(rng)]}}}}},
        }
        cases = [Case(cid, {"tree": spec, "fn": random_fn_spec(rng, spec)}) for cid, spec in fixed.items()]
        while len(cases) < 6:
            spec = random_spec(rng)
            if len(paths(spec, "float")) >= 2:
                cases.append(Case(f"nested-{len(cases) - 1}", {"tree": spec, "fn": random_fn_spec(rng, spec)}, 2))
        return cases

    def run(self, case, student):
        tree = build(case.inputs["tree"])
        out = student.get("grad_of_struct")(make_fn(case.inputs["tree"], case.inputs["fn"]), tree)
        return {"grads": tag(out), "input_after": tag(tree)}

    def judge(self, case, output):
        want = tag(torch_struct_grad(case.inputs["tree"], case.inputs["fn"]))
        # torch on the same function gives the same bits: 1e-12 lets through exact AD, not finite differences
        return first_failure(compare_tagged(output["grads"], want, rtol=1e-12, atol=1e-12),
                             equal(output["input_after"], tag(build(case.inputs["tree"])),
                                   what="grad_of_struct must not modify its input tree"))


def _f(rng) -> dict:
    return {"kind": "float", "value": float(np.round(rng.uniform(-1.5, 1.5), 3))}


class CheckpointPlan(ExerciseCheck):
    exercise = "checkpoint_plan"
    hint = "k segments cost k + ⌈n/k⌉; √n: k = ⌈√n⌉; a budget: the smallest k whose cost fits, else ValueError"

    def cases(self, rng):
        n = int(rng.integers(20, 200))
        return [Case("sqrt-64", {"n": 64, "budget": None}, 2), Case("sqrt-100", {"n": 100, "budget": None}),
                Case(f"sqrt-random-{n}", {"n": n, "budget": None}),
                Case("budget-64-in-20", {"n": 64, "budget": 20}, 2),
                Case("budget-fits-all", {"n": 30, "budget": 31}),
                Case("budget-too-small", {"n": 50, "budget": 10}),
                Case("budget-random", {"n": n, "budget": int(sqrt_bound(n) + rng.integers(0, 12))}),
                Case("budget-31-in-13", {"n": 31, "budget": 13})]   # 3 + ⌊31/3⌋ fits, 3 + ⌈31/3⌉ does not

    def run(self, case, student):
        try:
            return {"plan": list(student.get("checkpoint_plan")(case.inputs["n"], case.inputs["budget"]))}
        except ValueError as err:
            return {"raised": "ValueError", "message": str(err)[:200]}

    def judge(self, case, output):
        n, budget = case.inputs["n"], case.inputs["budget"]
        cost = lambda k: k + math.ceil(n / k)  # noqa: E731
        possible = budget is None or min(cost(k) for k in range(1, n + 1)) <= budget
        if not possible:
            return PASS if output.get("raised") == "ValueError" else fail(
                f"no plan of {n} layers fits a budget of {budget}: it should raise ValueError")
        plan = output.get("plan")
        if plan is None:
            return fail("checkpoint_plan raised ValueError, but a plan fits this budget")
        if not plan or plan[0] != 0 or any(b <= a for a, b in zip(plan, plan[1:])) or plan[-1] >= n \
                or not all(isinstance(p, int) for p in plan):
            return fail("the plan should be a strictly increasing list of layer indices that starts at 0, "
                        "all below n_layers")
        bound = plan_bound(plan, n)
        if budget is None:
            return PASS if bound <= sqrt_bound(n) else fail(
                f"the plan keeps up to {bound} activations alive; a √n plan for {n} layers needs at most "
                f"{sqrt_bound(n)} (about 2√n)")
        if bound > budget:
            return fail(f"the plan keeps up to {bound} activations alive (segments + longest segment), "
                        f"over the budget of {budget}")
        fewer = [k for k in range(1, len(plan)) if cost(k) <= budget]
        return fail(f"the plan has {len(plan)} segments, but fewer segments also fit the budget: checkpoint less") \
            if fewer else PASS


class CheckpointedForwardBackward(ExerciseCheck):
    exercise = "checkpointed_forward_backward"
    hint = ("forward: no_grad except the last segment, keep only segment inputs; backward: last to first, "
            "recompute one segment from its checkpoint, .backward(g), free it")
    WIDTH = 16

    def cases(self, rng):
        cases = [Case("sqrt-64", {"n": 64, "plan": list(range(0, 64, 8))}, 2),
                 Case("store-all-12", {"n": 12, "plan": [0]}),
                 Case("uneven-30", {"n": 30, "plan": [0, 4, 13, 22]}),
                 Case("every-layer-10", {"n": 10, "plan": list(range(10))})]
        n = int(rng.integers(20, 60))
        cuts = sorted({0, *(int(c) for c in rng.choice(np.arange(1, n), size=int(rng.integers(2, 7)), replace=False))})
        cases.append(Case("random-plan", {"n": n, "plan": cuts}))
        for case in cases:
            case.inputs["seed"] = int(rng.integers(1 << 30))
        return cases

    def _chain_and_input(self, case, meter=None):
        layers = make_chain(case.inputs["n"], self.WIDTH, seed=case.inputs["seed"], meter=meter)
        x = tensors([np.random.default_rng(case.inputs["seed"]).normal(size=self.WIDTH)])[0]
        return layers, x

    def run(self, case, student):
        meter = ActivationMeter()
        layers, x = self._chain_and_input(case, meter)
        plan = list(case.inputs["plan"])
        with meter:
            out, grad_x = student.get(self.exercise)(layers, x, plan)
        return {"out": out, "grad_x": grad_x, "plan_kept": plan == case.inputs["plan"],
                "grad_w": [l.w.grad for l in layers], "grad_b": [l.b.grad for l in layers],
                "peak_alive": meter.peak_alive, "forward_ops": meter.forward_ops}

    def judge(self, case, output):
        layers, x = self._chain_and_input(case)
        x.requires_grad_()
        h = x
        for layer in layers:
            h = layer(h)
        h.sum().backward()
        n, plan = case.inputs["n"], case.inputs["plan"]
        grads = [output.get(k) for k in ("out", "grad_x")]
        if any(g is None for g in grads) or any(w is None for w in output.get("grad_w", [None])):
            return fail("the output, the input gradient or a parameter's .grad is None")
        verdict = first_failure(close(output["out"], h.detach().numpy(), what="the chain's output", **TOL),
                                close(output["grad_x"], x.grad.numpy(), what="the input gradient ∂loss/∂x", **TOL),
                                close(np.stack(output["grad_w"]), np.stack([l.w.grad.numpy() for l in layers]),
                                      what="the weight gradients (index = layer, unit)", **TOL),
                                close(np.stack(output["grad_b"]), np.stack([l.b.grad.numpy() for l in layers]),
                                      what="the bias gradients (index = layer, unit)", **TOL))
        if not verdict.passed:
            return verdict
        if not output.get("plan_kept"):
            return fail("the gradients are right, but the plan list passed in was modified: work on a copy")
        bound, peak = plan_bound(plan, n), output["peak_alive"]
        if peak > bound:
            return fail(f"{peak} activations were alive at the peak (measured); this plan allows {bound} "
                        f"({len(plan)} checkpoints + its longest segment)")
        last = segments(plan, n)[-1]
        allowed = n - (last[1] - last[0])
        recomputed = output["forward_ops"] - n
        if recomputed > allowed:
            return fail(f"{recomputed} layer calls were recomputed; the plan needs at most {allowed} "
                        "(each segment but the last, once)")
        return PASS


SUITE = LabSuite("ad-challenges", [LogisticLoop(), LogisticClosed(), FusedCube(), GradOfStruct(), CheckpointPlan(),
                                   CheckpointedForwardBackward()])

__all__ = ["SUITE", "Layer", "Optimizer", "torch_logistic"]
