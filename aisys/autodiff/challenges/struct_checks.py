"""Lab 03 check of `grad_of_struct`: gradients through nested structures, against torch.

Every seed has the same corner trees (their float values drawn from the seed): dataclasses
(one frozen), falsy leaves (0.0 as a float leaf, 0, False, None, empty containers, an unused
float), a bare float, a tree with no float at all, one list object at two positions (a
pytree's leaves are positions: each gets its own gradient), keys that collide when paths
are flattened to strings ('a.b' beside a → b) and equal values at unrelated leaves, NaN
leaves (a float like any other: a NaN used linearly still has a finite gradient, an unused
one gets 0.0), and two calls in a row on different trees.
Two more trees are drawn at random.
"""
from __future__ import annotations

import math

import numpy as np

from aisys.autodiff.pytrees import (build, compare_tagged, make_fn, paths, random_fn_spec, random_spec, tag,
                                    torch_struct_grad, weighted_fn_spec)
from aisys.errors import StudentCodeError
from aisys.grading.compare import equal
from aisys.grading.shapes import ANY, describe, dict_of, expect, list_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail


def _f(value: float) -> dict:
    return {"kind": "float", "value": value}


def _leaf(kind: str, value) -> dict:
    return {"kind": kind, "value": value}


def _dict(**items) -> dict:
    return {"kind": "dict", "items": items}


def corner_trees(rng: np.random.Generator) -> dict[str, dict]:
    """The fixed corner trees of one seed (structure fixed, float values drawn)."""
    r = lambda: _f(float(np.round(rng.uniform(-1.5, 1.5), 3)))  # noqa: E731
    twin = r()   # one value at two unrelated leaves: repeated values are still two leaves
    shared = {"kind": "shared", "id": "pair", "spec": {"kind": "list", "items": [r(), r()]}}
    return {
        "flat-dict": _dict(a=r(), b=r(), n=_leaf("int", 2), name=_leaf("str", "relu")),
        "dataclasses": _dict(
            layer={"kind": "Layer", "fields": {"weight": r(), "bias": r(), "activation": _leaf("str", "square"),
                                               "units": _leaf("int", 3)}},
            opt={"kind": "Optimizer", "fields": {"lr": r(), "steps": _leaf("int", 1), "nesterov": _leaf("bool", True),
                                                 "state": {"kind": "tuple", "items": [r(), r()]}}}),
        "falsy-leaves": _dict(zero=_f(0.0), neg=_f(-float(np.round(rng.uniform(0.1, 1.5), 3))),
                              off=_leaf("bool", False), count=_leaf("int", 0), nothing=_leaf("none", None),
                              empty_list={"kind": "list", "items": []}, empty_dict=_dict(),
                              empty_tuple={"kind": "tuple", "items": []}, unused=r()),
        "bare-float": r(),
        "no-floats": _dict(n=_leaf("int", 3), name=_leaf("str", "square"),
                           flags={"kind": "tuple", "items": [_leaf("bool", True), _leaf("none", None)]}),
        "same-list-twice": _dict(first=shared, second=shared, w=r()),
        # a NaN is a float leaf: the middle of three used floats (∂/∂ = 3.0 whatever its value) and an unused one
        "nan-leaves": _dict(a=r(), nan=_f(math.nan), c=r(), skipped=_f(math.nan)),
        "colliding-keys": {"kind": "dict", "items": {"a.b": twin, "a": _dict(b=r()), "0": twin,
                                                     "items": {"kind": "list", "items": [r()]}}},
    }


def _fn_for(cid: str, spec: dict) -> dict:
    n = len(paths(spec, "float"))
    # falsy-leaves and nan-leaves: the last float unused
    return weighted_fn_spec(n, n - 1 if cid in ("falsy-leaves", "nan-leaves") else n)


def _without_nan(tagged, fill):
    """A tagged tree with each NaN float replaced by `fill` (NaN equals nothing, itself included)."""
    if isinstance(tagged, float):
        return fill if math.isnan(tagged) else tagged
    if isinstance(tagged, dict):
        return {k: _without_nan(v, fill) for k, v in tagged.items()}
    if isinstance(tagged, list):
        return [_without_nan(v, fill) for v in tagged]
    return tagged


class GradOfStruct(ExerciseCheck):
    exercise = "grad_of_struct"
    hint = ("map floats only (bool is an int, leave it; 0.0 is a float); rebuild each container and dataclass, "
            "one leaf per position; each gradient a Python float (float(g)), 0.0 for unused leaves; no state "
            "between calls; lift leaves to float64 tensors (the tolerance is 1e-12)")

    def cases(self, rng):
        cases = [Case(cid, {"calls": [{"tree": spec, "fn": _fn_for(cid, spec)}]})
                 for cid, spec in corner_trees(rng).items()]
        drawn = []
        while len(drawn) < 3:
            spec = random_spec(rng)
            if len(paths(spec, "float")) >= 2:
                drawn.append({"tree": spec, "fn": random_fn_spec(rng, spec)})
        cases += [Case(f"nested-{i + 1}", {"calls": [call]}, 2) for i, call in enumerate(drawn[:2])]
        flat = cases[0].inputs["calls"][0]
        cases.append(Case("two-calls", {"calls": [drawn[2], flat]}))
        return cases

    def run(self, case, student):
        fn, grads, inputs_after = student.get("grad_of_struct"), [], []
        for call in case.inputs["calls"]:
            tree = build(call["tree"])
            out = fn(make_fn(call["tree"], call["fn"]), tree)
            if type(out) is not type(tree):
                raise StudentCodeError(f"grad_of_struct returned {describe(out)}; expected "
                                       f"{describe(tree) if isinstance(tree, float) else 'a ' + type(tree).__name__}"
                                       " shaped like the tree")
            grads.append(tag(out))
            inputs_after.append(tag(tree))
        return {"grads": grads, "inputs_after": inputs_after}

    def judge(self, case, output):
        calls = case.inputs["calls"]
        shaped = expect(output, dict_of({"grads": list_of(ANY, len(calls)), "inputs_after": list_of(ANY, len(calls))}),
                        "the result")
        if not shaped.passed:
            return shaped
        for k, call in enumerate(calls):
            label = f"call {k + 1} of {len(calls)}: " if len(calls) > 1 else ""
            given = tag(build(call["tree"]))
            # shape first: the same containers and fields, a float at every float leaf (values later)
            verdict = equal(_without_nan(output["inputs_after"][k], {"NaN": True}), _without_nan(given, {"NaN": True}),
                            what="grad_of_struct must not modify its input tree")
            if verdict.passed:
                verdict = compare_tagged(output["grads"][k], _without_nan(given, 0.0), rtol=0.0, atol=math.inf)
            if verdict.passed:
                # torch on the same function gives the same bits: 1e-12 lets exact AD through, not finite differences
                want = tag(torch_struct_grad(call["tree"], call["fn"]))
                verdict = compare_tagged(output["grads"][k], want, rtol=1e-12, atol=1e-12)
            if not verdict.passed:
                return fail(label + verdict.message)
        return PASS
