"""Seeded random nested structures ("pytrees") for the structs exercise, and their checks.

A tree is described by a JSON spec (so parent and child build the same one), built into
real dicts, lists, tuples and dataclass instances with float, int, str, bool and None
leaves. `make_fn` turns a spec into a differentiable function of the tree: a random
program over its float leaves, scaled by its int fields and squared when its `activation`
string says so — ints and strings steer the computation but have no derivative.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from aisys.autodiff.programs import evaluate, random_program
from aisys.grading.compare import off_by
from aisys.grading.spec import PASS, Verdict, fail


@dataclasses.dataclass(frozen=True)
class Layer:
    weight: float
    bias: float
    activation: str
    units: int


@dataclasses.dataclass
class Optimizer:
    lr: float
    steps: int
    nesterov: bool
    state: Any = None


DATACLASSES = {"Layer": Layer, "Optimizer": Optimizer}


def _leaf(rng, kinds=("float", "float", "int", "str", "bool", "none")) -> dict:
    kind = str(rng.choice(kinds))
    value = {"float": lambda: float(np.round(rng.uniform(-1.5, 1.5), 3)), "int": lambda: int(rng.integers(0, 4)),
             "str": lambda: str(rng.choice(["relu", "square", "gelu"])), "bool": lambda: bool(rng.random() < 0.5),
             "none": lambda: None}[kind]()
    return {"kind": kind, "value": value}


def random_spec(rng: np.random.Generator, depth: int = 0) -> dict:
    """A random tree spec: containers down to depth 2, at least one float leaf somewhere."""
    kind = "dict" if depth == 0 else str(rng.choice(["dict", "list", "tuple", "Layer", "Optimizer", "leaf", "leaf"]))
    if depth >= 2 or kind == "leaf":
        return _leaf(rng)
    if kind == "Layer":
        return {"kind": "Layer", "fields": {"weight": _leaf(rng, ("float",)), "bias": _leaf(rng, ("float",)),
                                            "activation": _leaf(rng, ("str",)), "units": _leaf(rng, ("int",))}}
    if kind == "Optimizer":
        return {"kind": "Optimizer", "fields": {"lr": _leaf(rng, ("float",)), "steps": _leaf(rng, ("int",)),
                                                "nesterov": _leaf(rng, ("bool",)),
                                                "state": random_spec(rng, depth + 1)}}
    children = [random_spec(rng, depth + 1) for _ in range(int(rng.integers(2, 5)))]
    if kind == "dict":
        return {"kind": "dict", "items": {f"k{i}": c for i, c in enumerate(children)}}
    return {"kind": kind, "items": children}


def build(spec: dict, float_leaf: Callable[[float], Any] | None = None, _shared: dict | None = None) -> Any:
    """The tree a spec describes; `float_leaf` (if given) replaces each float, in `paths` order.

    A `{"kind": "shared", "id": ..., "spec": ...}` node is one object that appears at several
    positions of the tree (aliasing). Each position is a leaf of its own — JAX's rule: a
    pytree's leaves are positions — so with `float_leaf` every position is rebuilt apart.
    """
    kind = spec["kind"]
    if kind == "shared":
        if float_leaf is not None:
            return build(spec["spec"], float_leaf)
        memo = {} if _shared is None else _shared
        if spec["id"] not in memo:
            memo[spec["id"]] = build(spec["spec"], None, memo)
        return memo[spec["id"]]
    if _shared is None and float_leaf is None:
        _shared = {}
    if kind == "float" and float_leaf is not None:
        return float_leaf(spec["value"])
    if kind in ("float", "int", "str", "bool", "none"):
        return spec["value"]
    if kind in DATACLASSES:
        return DATACLASSES[kind](**{k: build(v, float_leaf, _shared) for k, v in spec["fields"].items()})
    if kind == "dict":
        return {k: build(v, float_leaf, _shared) for k, v in spec["items"].items()}
    items = [build(v, float_leaf, _shared) for v in spec["items"]]
    return items if kind == "list" else tuple(items)


def torch_struct_grad(tree_spec: dict, fn_spec: dict | Callable[[Any], Any]) -> Any:
    """Ground truth: the tree with each float replaced by torch's gradient (0.0 if unused);
    `fn_spec` is a program spec (see `make_fn`) or a function of the tree itself."""
    import torch

    leaves: list = []

    def lift(value: float):
        leaves.append(torch.tensor(value, dtype=torch.float64, requires_grad=True))
        return leaves[-1]

    fn = fn_spec if callable(fn_spec) else make_fn(tree_spec, fn_spec)
    y = fn(build(tree_spec, lift))
    grads = iter(torch.autograd.grad(y, leaves, allow_unused=True) if leaves else ())
    return build(tree_spec, lambda _: float(g) if (g := next(grads)) is not None else 0.0)


def paths(spec: dict, kind: str, prefix: tuple = ()) -> list[tuple]:
    """Paths (keys, indices, field names) to every leaf of one kind, in a fixed order."""
    if spec["kind"] == kind:
        return [prefix]
    if spec["kind"] == "shared":
        return paths(spec["spec"], kind, prefix)
    children = spec.get("fields") or spec.get("items") or {}
    pairs = children.items() if isinstance(children, dict) else enumerate(children)
    return [p for key, child in pairs for p in paths(child, kind, prefix + (key,))]


def leaves(spec: dict, where: str = "") -> list[tuple[tuple, str, str, Any]]:
    """(path, shown path, kind, value) of every leaf in order: ("encoder", "weight") is shown
    'encoder.weight', a list item 'scales[0]'."""
    kind = spec["kind"]
    if kind == "shared":
        return leaves(spec["spec"], where)
    if kind in ("float", "int", "str", "bool", "none"):
        return [((), where or "tree", kind, spec["value"])]
    if kind in DATACLASSES:
        pairs = [(k, f"{where}.{k}" if where else k, c) for k, c in spec["fields"].items()]
    elif kind == "dict":
        pairs = [(k, f"{where}[{k!r}]" if where else k, c) for k, c in spec["items"].items()]
    else:
        pairs = [(i, f"{where}[{i}]", c) for i, c in enumerate(spec["items"])]
    return [((key, *path), shown, kind_, value) for key, name, child in pairs
            for path, shown, kind_, value in leaves(child, name)]


def get(tree: Any, path: tuple) -> Any:
    for key in path:
        tree = getattr(tree, key) if dataclasses.is_dataclass(tree) else tree[key]
    return tree


def random_fn_spec(rng: np.random.Generator, tree_spec: dict) -> dict:
    """The program a case's function runs over the tree's float leaves (some left unused)."""
    n_floats = len(paths(tree_spec, "float"))
    used = max(1, n_floats - int(rng.integers(0, 2)))
    steps, outs = random_program(rng, int(rng.integers(3, 8)), inputs=[f"p{i}" for i in range(used)])
    return {"steps": [list(s) for s in steps], "output": outs[-1], "used": used}


def weighted_fn_spec(n_floats: int, used: int | None = None) -> dict:
    """A fixed program whose gradient is nonzero at every used leaf whatever its value
    (0.0 included): Σ (i + 2)·p_i + p_0·p_last (|p| ≤ 1.5, so ∂/∂p_i ≥ 0.5 in size)."""
    used = n_floats if used is None else used
    if used == 0:
        return {"steps": [], "output": None, "used": 0}
    steps = [[f"w{i}", "mul", [f"p{i}", float(i + 2)]] for i in range(used)]
    steps.append(["cross", "mul", ["p0", f"p{used - 1}"]])
    total = "cross"
    for i in range(used):
        steps.append([f"s{i}", "add", [total, f"w{i}"]])
        total = f"s{i}"
    return {"steps": steps, "output": total, "used": used}


def make_fn(tree_spec: dict, fn_spec: dict) -> Callable[[Any], Any]:
    """fn(tree): the program over float leaves, × (1 + sum of int fields), squared if any
    string field says "square" — non-float fields steer but are never differentiated. With
    no float leaf used it returns a constant float64 tensor."""
    float_paths = paths(tree_spec, "float")[: fn_spec["used"]]
    int_paths, str_paths = paths(tree_spec, "int"), paths(tree_spec, "str")

    def fn(tree):
        import torch

        env = {f"p{i}": get(tree, p) for i, p in enumerate(float_paths)}
        y = evaluate(fn_spec["steps"], env)[fn_spec["output"]] if float_paths else \
            torch.tensor(1.0, dtype=torch.float64)
        y = y * (1 + sum(int(get(tree, p)) for p in int_paths))
        return y * y if any(get(tree, p) == "square" for p in str_paths) else y

    return fn


def tag(obj: Any, depth: int = 0) -> Any:
    """A tree as plain data that keeps its container types: {"tuple": [...]}, {"Layer": {...}}."""
    if depth > 32:
        return {"other": "too deep"}
    if obj is None or isinstance(obj, (bool, str)):
        return {type(obj).__name__: obj}
    if isinstance(obj, int):
        return {"int": obj}
    if isinstance(obj, float) or isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, dict):
        return {"dict": {str(k): tag(v, depth + 1) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__ if type(obj) in (list, tuple) else "tuple-subclass":
                [tag(v, depth + 1) for v in obj]}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {type(obj).__name__: {f.name: tag(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj)}}
    return {"other": type(obj).__name__}


def compare_tagged(got: Any, want: Any, path: str = "tree", rtol: float = 1e-7, atol: float = 1e-9) -> Verdict:
    """Same containers, same non-float fields, floats close; the message names the path."""
    if isinstance(want, float):
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return fail(f"the gradient at {path} should be a float, not {_kind(got)}")
        if got != got and want == want:
            return fail(f"the gradient at {path} is NaN (a float leaf holding NaN is a leaf like any other)")
        diff = abs(got - want)
        return PASS if diff <= atol + rtol * abs(want) else fail(off_by(got, want, f"the gradient at {path}"))
    (kind, inner), = want.items()
    if not isinstance(got, dict) or kind not in got:
        return fail(f"{path} should come back as {_article(kind)}, not {_kind(got)}")
    mine = got[kind]
    if kind in ("int", "str", "bool", "NoneType"):
        return PASS if mine == inner and type(mine) is type(inner) else fail(
            f"{path} is a non-differentiable {kind} field: it should come back unchanged")
    if isinstance(inner, list):
        if not isinstance(mine, list) or len(mine) != len(inner):
            return fail(f"{path} is {_article(kind)} of the wrong length")
        pairs = [(f"{path}[{i}]", a, b) for i, (a, b) in enumerate(zip(mine, inner))]
    else:
        if not isinstance(mine, dict) or set(mine) != set(inner):
            return fail(f"{path} is {_article(kind)} with different keys or fields")
        sep = "." if kind in DATACLASSES else ""
        pairs = [(f"{path}{sep}{k}" if sep else f"{path}[{k!r}]", mine[k], inner[k]) for k in inner]
    for where, a, b in pairs:
        verdict = compare_tagged(a, b, where, rtol, atol)
        if not verdict.passed:
            return verdict
    return PASS


def _kind(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        kind, inner = next(iter(value.items()))
        return _article(str(inner) if kind == "other" else kind)
    return _article("float" if isinstance(value, float) else type(value).__name__)


def _article(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
