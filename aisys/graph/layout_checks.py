"""Lab 01 checks, tensor layout: torch's own strides, storage offsets and element sizes.

Every case also watches for side effects: shapes and indices are handed over as lists (so
an in-place `shape.reverse()` shows), the tensor given to `tensor_info` must come back
untouched, and a repeated call must give the same answer (no state kept between calls).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from aisys.grading.compare import equal
from aisys.grading.shapes import BOOL, INT, STR, Shape, describe, dict_of, expect, list_of, require
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail, first_failure

CHANGED = list_of(STR)   # what a function changed among its arguments (empty: nothing)


def _random_shape(rng, max_dims=5, max_size=5, zero_ok=False):
    low = 0 if zero_ok else 1
    return [int(s) for s in rng.integers(low, max_size + 1, size=int(rng.integers(0, max_dims + 1)))]


_VIEWS = {"none": "a contiguous tensor", "transpose": "a transposed view", "slice": "a sliced view",
          "step": "a strided view (every other row)", "expand": "an expanded view (stride 0)"}


def _view(spec: dict):
    """The tensor a layout case describes: arange over its storage, then one view op.

    Elements hold their own storage position, so `t[index].item()` is the truth for
    `flat_offset`. `lead` skips that many storage elements first (a storage offset)."""
    import torch

    lead = int(spec.get("lead", 0))
    base = torch.arange(lead + int(np.prod(spec["shape"]))).to(getattr(torch, spec.get("dtype", "float32")))
    t = base[lead:].reshape(spec["shape"])
    view = spec.get("view", "none")
    if view == "transpose":
        t = t.transpose(0, -1)
    elif view == "slice":
        t = t[..., 1:]
    elif view == "step":
        t = t[::2]
    elif view == "expand":
        t = t[:1].expand(3, *t.shape[1:])
    return t


def _unchanged(before: Any, after: Any, what: str) -> list[str]:
    return [] if before == after else [what]


def _no_changes(changed: list, who: str) -> Verdict:
    return fail(f"{who} changed its argument ({changed[0]}); a function like this must leave its inputs as they "
                "were") if changed else PASS


class RowMajorStrides(ExerciseCheck):
    exercise = "row_major_strides"
    hint = "stride[i] is the product of all sizes after dimension i (a size of 0 counts as 1, as torch does)"

    def cases(self, rng):
        # a scalar's strides are () — paired with a vector so that returning () always fails
        fixed = [("scalar-and-vector", [[], [7]]), ("matrix", [[2, 3]]), ("article", [[2, 3, 4]]),
                 ("zero-size", [[2, 0, 3], [0, 4], [3, 0]]), ("size-one-dims", [[1, 5, 1], [4, 1]])]
        return [Case(name, {"shapes": shapes}) for name, shapes in fixed] + [
            Case(f"random-{i}", {"shapes": [[int(rng.integers(1, 6))] + _random_shape(rng, 4)]})
            for i in range(5)]

    def run(self, case, student):
        fn = student.get("row_major_strides")

        def call(shape: list) -> list:
            given = list(shape)
            got = require(fn(given), list_of(INT), "row_major_strides", "a tuple of ints")
            changed.extend(_unchanged(shape, given, f"the shape list {shape} was modified"))
            return [int(s) for s in got]

        changed: list[str] = []
        strides = [call(shape) for shape in case.inputs["shapes"]]
        return {"strides": strides, "again": call(case.inputs["shapes"][0]), "changed": changed}

    def judge(self, case, output):
        import torch

        shapes = case.inputs["shapes"]
        verdict = expect(output, dict_of({"strides": list_of(list_of(INT), len(shapes)), "again": list_of(INT),
                                          "changed": CHANGED}), "row_major_strides' results")
        if not verdict.passed:
            return verdict
        truth = [list(torch.empty(shape).stride()) for shape in shapes]
        wrong = next((i for i, (got, want) in enumerate(zip(output["strides"], truth)) if got != want), None)
        return first_failure(
            _no_changes(output["changed"], "row_major_strides"),
            PASS if wrong is None else equal(output["strides"][wrong], truth[wrong],
                                             what=f"row_major_strides({tuple(shapes[wrong])})"),
            fail(f"a second call with shape {tuple(shapes[0])} gave a different answer: keep no state between calls")
            if output["again"] != output["strides"][0] else PASS)


def _position_problem(value: Any, path: str) -> str | None:
    ok = (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))) or value == "IndexError"
    return None if ok else f"{path} should be an int (or IndexError raised), got {describe(value)}"


POSITION = Shape("an int or 'IndexError'", _position_problem)


class FlatOffset(ExerciseCheck):
    exercise = "flat_offset"
    hint = ("offset + sum(index[i] * strides[i]); strides=None means row-major (the offset still counts); "
            "a wrong number of indices, a negative or a too-large index → IndexError")

    def cases(self, rng):
        cases = []
        for i, view in enumerate(("none", "none", "transpose", "slice", "step", "expand")):
            shape = [int(s) for s in rng.integers(2, 6, size=int(rng.integers(2, 4)))]
            spec = {"shape": shape, "view": view}
            t = _view(spec)
            indices = [[int(rng.integers(0, s)) for s in t.shape] for _ in range(5)]
            cases.append(Case(f"{view}-{i}", {"spec": spec, "indices": indices, "strides": view != "none"}))
        shape = [int(s) for s in rng.integers(2, 5, size=2)]
        cases += [
            # strides=None with an offset: row-major positions, shifted
            Case("offset-without-strides", {"spec": {"shape": shape, "lead": 5}, "indices": [[0, 0], [1, 1]],
                                            "strides": False, "offset": 5}),
            Case("scalar", {"spec": {"shape": [], "lead": 3}, "indices": [[]], "strides": True}),
            Case("past-the-end", {"spec": {"shape": [2, 3]}, "indices": [[2, 0], [0, 3]], "strides": False,
                                  "errors": True}),
            Case("negative-index", {"spec": {"shape": [2, 3]}, "indices": [[-1, 0], [0, -1]], "strides": True,
                                    "errors": True}),
            Case("wrong-ndim", {"spec": {"shape": [2, 3]}, "indices": [[0], [0, 0, 0]], "strides": False,
                                "errors": True}),
            Case("zero-size", {"spec": {"shape": [2, 0, 3]}, "indices": [[0, 0, 0]], "strides": False,
                               "errors": True}),
        ]
        return cases

    def run(self, case, student):
        fn = student.get("flat_offset")
        t = _view(case.inputs["spec"])
        shape, strides, changed = list(t.shape), list(t.stride()), []
        out = []
        for index in case.inputs["indices"]:
            args = (list(shape), list(index))
            if case.inputs["strides"]:
                args += (list(strides), t.storage_offset())
            elif "offset" in case.inputs:
                args += (None, case.inputs["offset"])
            try:
                out.append(int(require(fn(*args), INT, "flat_offset", "an int")))
            except IndexError:
                out.append("IndexError")
            given = [shape, list(index)] + ([strides] if case.inputs["strides"] else [])
            changed += [f"the {name} list was modified" for name, a, b in zip(("shape", "index", "strides"), args, given)
                        if list(a) != b]
        return {"positions": out, "changed": sorted(set(changed))}

    def judge(self, case, output):
        n = len(case.inputs["indices"])
        verdict = expect(output, dict_of({"positions": list_of(POSITION, n), "changed": CHANGED}),
                         "flat_offset's results")
        if not verdict.passed:
            return verdict
        if case.inputs.get("errors"):
            wrong = [tuple(i) for i, got in zip(case.inputs["indices"], output["positions"]) if got != "IndexError"]
            return fail(f"index {wrong[0]} is out of range for shape {tuple(case.inputs['spec']['shape'])}: "
                        "flat_offset should raise IndexError") if wrong else _no_changes(output["changed"],
                                                                                       "flat_offset")
        t = _view(case.inputs["spec"])   # arange storage: an element's value is its storage position
        raised = [tuple(i) for i, got in zip(case.inputs["indices"], output["positions"]) if got == "IndexError"]
        if raised:
            return fail(f"flat_offset raised IndexError for the valid index {raised[0]} of shape {tuple(t.shape)}")
        expected = [int(t[tuple(index)].item()) for index in case.inputs["indices"]]
        spec = case.inputs["spec"]
        call = (f"flat_offset(shape={tuple(t.shape)}, index=…" + (", strides=…" if case.inputs.get("strides") else "")
                + (f", offset={case.inputs['offset']}" if case.inputs.get("offset") else "") + ")")
        wrong = next((i for i, (got, want) in enumerate(zip(output["positions"], expected)) if got != want), None)
        return first_failure(PASS if wrong is None else
                             fail(f"{call} for index {tuple(case.inputs['indices'][wrong])} gave a wrong storage "
                                  f"position ({_VIEWS.get(spec.get('view', 'none'), 'a view')})"),
                             _no_changes(output["changed"], "flat_offset"))


INFO = dict_of({"shape": list_of(INT), "strides": list_of(INT), "storage_offset": INT, "dtype": STR,
                "element_size": INT, "numel": INT, "nbytes": INT, "device": STR, "is_contiguous": BOOL})


def _tensor_state(t) -> list:
    return [list(t.shape), list(t.stride()), t.storage_offset(), str(t.dtype), t.float().reshape(-1).tolist()]


class TensorInfo(ExerciseCheck):
    exercise = "tensor_info"
    hint = "compare the strides with row_major_strides(shape), skipping size-1 dims; dtype without 'torch.'"

    def cases(self, rng):
        dtypes = ["float32", "float64", "int64", "int8", "float16", "bool"]
        views = ["none", "transpose", "slice", "step", "expand", "none"]
        cases = [Case(f"{view}-{dtype}", {"shape": [int(s) for s in rng.integers(2, 5, size=3)],
                                          "view": view, "dtype": dtype})
                 for view, dtype in zip(views, dtypes)]
        # (k, 1) transposed is (1, k) with strides (1, 1): contiguous, since a size-1 dim's stride
        # never matters — a plain strides == row_major_strides(shape) test says otherwise
        cases += [Case("size-one-dim", {"shape": [int(rng.integers(2, 6)), 1], "view": "transpose",
                                        "dtype": "float32"}),
                  Case("scalar", {"shape": [], "view": "none", "dtype": "float64", "lead": 2}),
                  Case("empty", {"shape": [2, 0, 3], "view": "transpose", "dtype": "int32"})]
        return cases

    def run(self, case, student):
        t = _view(case.inputs)
        before = _tensor_state(t)
        info = require(student.get("tensor_info")(t), dict, "tensor_info", "a dict")
        return {"info": info, "changed": _unchanged(before, _tensor_state(t), "the tensor was modified")}

    def judge(self, case, output):
        verdict = expect(output, dict_of({"info": INFO, "changed": CHANGED}), "tensor_info's result")
        if not verdict.passed:
            return verdict
        t = _view(case.inputs)
        expected = {"shape": list(t.shape), "strides": list(t.stride()), "storage_offset": t.storage_offset(),
                    "dtype": str(t.dtype).replace("torch.", ""), "element_size": t.element_size(),
                    "numel": t.numel(), "nbytes": t.numel() * t.element_size(), "device": str(t.device),
                    "is_contiguous": t.is_contiguous()}
        return first_failure(equal(output["info"], expected, what="tensor_info"),
                             _no_changes(output["changed"], "tensor_info"))
