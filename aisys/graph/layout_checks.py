"""Lab 01 checks, tensor layout: torch's own strides, storage offsets and element sizes."""
from __future__ import annotations

import numpy as np

from aisys.grading.compare import equal
from aisys.grading.spec import Case, ExerciseCheck, fail



def _random_shape(rng, max_dims=5, max_size=5, zero_ok=False):
    low = 0 if zero_ok else 1
    return [int(s) for s in rng.integers(low, max_size + 1, size=int(rng.integers(0, max_dims + 1)))]


def _view(spec: dict):
    """The tensor a layout case describes: arange(shape) then one view op."""
    import torch

    base = torch.arange(int(np.prod(spec["shape"]))).to(getattr(torch, spec.get("dtype", "float32")))
    t = base.reshape(spec["shape"])
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


class RowMajorStrides(ExerciseCheck):
    exercise = "row_major_strides"
    hint = "stride[i] is the product of all sizes after dimension i (a size of 0 counts as 1, as torch does)"

    def cases(self, rng):
        # a scalar's strides are () — paired with a vector so that returning () always fails
        fixed = [("scalar-and-vector", [[], [7]]), ("matrix", [[2, 3]]), ("article", [[2, 3, 4]]),
                 ("zero-size", [[2, 0, 3], [0, 4]])]
        return [Case(name, {"shapes": shapes}) for name, shapes in fixed] + [
            Case(f"random-{i}", {"shapes": [[int(rng.integers(1, 6))] + _random_shape(rng, 4)]})
            for i in range(6)]

    def run(self, case, student):
        return [list(student.get("row_major_strides")(tuple(shape))) for shape in case.inputs["shapes"]]

    def judge(self, case, output):
        import torch

        return equal(output, [list(torch.empty(shape).stride()) for shape in case.inputs["shapes"]],
                     what="strides")


class FlatOffset(ExerciseCheck):
    exercise = "flat_offset"
    hint = "offset + sum(index[i] * strides[i]); strides=None means row-major; out of range → IndexError"

    def cases(self, rng):
        cases = []
        for i, view in enumerate(("none", "none", "transpose", "slice", "step", "expand")):
            shape = [int(s) for s in rng.integers(2, 6, size=int(rng.integers(2, 4)))]
            spec = {"shape": shape, "view": view}
            t = _view(spec)
            indices = [[int(rng.integers(0, s)) for s in t.shape] for _ in range(5)]
            cases.append(Case(f"{view}-{i}", {"spec": spec, "indices": indices, "given_strides": view != "none"}))
        cases.append(Case("out-of-range", {"spec": {"shape": [2, 3]}, "indices": [[2, 0]], "given_strides": False,
                                           "expect_error": True}))
        return cases

    def run(self, case, student):
        fn = student.get("flat_offset")
        t = _view(case.inputs["spec"])
        out = []
        for index in case.inputs["indices"]:
            try:
                if case.inputs["given_strides"]:
                    out.append(fn(tuple(t.shape), tuple(index), tuple(t.stride()), t.storage_offset()))
                else:
                    out.append(fn(tuple(t.shape), tuple(index)))
            except IndexError:
                out.append("IndexError")
        return out

    def judge(self, case, output):
        if case.inputs.get("expect_error"):
            return equal(output, ["IndexError"], what="out-of-range index (should raise IndexError)")
        # the base tensor is arange, so an element's value is its position in storage
        t = _view(case.inputs["spec"])
        expected = [int(t[tuple(index)].item()) for index in case.inputs["indices"]]
        return equal(output, expected, what="storage positions")


class TensorInfo(ExerciseCheck):
    exercise = "tensor_info"
    hint = "compare the strides with row_major_strides(shape), skipping size-1 dims; dtype without 'torch.'"
    KEYS = ("shape", "strides", "storage_offset", "dtype", "element_size", "numel", "nbytes", "device",
            "is_contiguous")

    def cases(self, rng):
        dtypes = ["float32", "float64", "int64", "int8", "float16", "bool"]
        views = ["none", "transpose", "slice", "step", "expand", "none"]
        cases = [Case(f"{view}-{dtype}", {"shape": [int(s) for s in rng.integers(2, 5, size=3)],
                                          "view": view, "dtype": dtype})
                 for view, dtype in zip(views, dtypes)]
        # (k, 1) transposed is (1, k) with strides (1, 1): contiguous, since a size-1 dim's stride
        # never matters — a plain strides == row_major_strides(shape) test says otherwise
        cases.append(Case("size-one-dim", {"shape": [int(rng.integers(2, 6)), 1], "view": "transpose",
                                           "dtype": "float32"}))
        return cases

    def run(self, case, student):
        return student.get("tensor_info")(_view(case.inputs))

    def judge(self, case, output):
        t = _view(case.inputs)
        expected = {"shape": list(t.shape), "strides": list(t.stride()), "storage_offset": t.storage_offset(),
                    "dtype": str(t.dtype).replace("torch.", ""), "element_size": t.element_size(),
                    "numel": t.numel(), "nbytes": t.numel() * t.element_size(), "device": str(t.device),
                    "is_contiguous": t.is_contiguous()}
        if not isinstance(output, dict):
            return fail(f"expected a dict with keys {', '.join(self.KEYS)}")
        return equal({k: output.get(k) for k in self.KEYS if k in output} | {
            k: "<missing>" for k in self.KEYS if k not in output}, expected, what="tensor_info")
