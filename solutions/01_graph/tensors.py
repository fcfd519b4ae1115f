"""Lab 01, part 1 — how a tensor sits in memory.

A tensor is a flat block of memory (its *storage*) plus a recipe for reading it as an
n-dimensional array: a shape, a dtype, and **strides** — how many elements to skip to move
one step along each dimension. For a contiguous (row-major, "C order") tensor of shape
(2, 3, 4) the strides are (12, 4, 1): the last index moves fastest.

Views share storage and only change the recipe: `t.T` swaps strides, `t[:, 1:]` adds a
storage offset, `t.expand(...)` uses stride 0 to repeat data without copying. That is why
`t.T.is_contiguous()` is False and why `.view()` sometimes needs `.contiguous()` first.
"""
from __future__ import annotations

from typing import Sequence


def row_major_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """The strides (in elements) of a contiguous row-major tensor of this shape.

    The last dimension has stride 1; each earlier one skips over a whole block of the
    dimensions after it: stride[i] = shape[i+1] * shape[i+2] * ... A scalar (shape ()) has
    strides (). A dimension of size 0 counts as size 1 in that product (an empty tensor
    holds no elements, so any stride would do; this is the choice torch makes). torch is the
    judge: `torch.empty(shape).stride()`. `shape` may be a tuple or a list: leave it as it
    is (no in-place `.reverse()`), and keep nothing between calls.

    Hint: walk the shape from the right, keeping a running product.
    """
    # BEGIN SOLUTION
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(int(size), 1)
    return tuple(reversed(strides))
    # END SOLUTION


def flat_offset(shape: Sequence[int], index: Sequence[int],
                strides: Sequence[int] | None = None, offset: int = 0) -> int:
    """Where element `t[index]` lives in the flat storage.

    position = offset + sum(index[i] * strides[i]). With `strides=None` the tensor is
    contiguous (use your `row_major_strides`; `offset` still counts). With a view's strides
    and storage offset the same formula finds elements of a transpose, a slice or an
    expand — no copy needed. A scalar (shape (), index ()) sits at `offset`.

    Raise IndexError when the index has the wrong number of entries or an entry is out of
    range for its dimension: 0 <= index[i] < shape[i] — no Python-style wrap-around, so -1
    is out of range here (and every index is, for a dimension of size 0). Leave the
    sequences you are given as they are.

    Hint: check 0 <= index[i] < shape[i] first; then it is one dot product.
    """
    # BEGIN SOLUTION
    if len(index) != len(shape):
        raise IndexError(f"index has {len(index)} dims, tensor has {len(shape)}")
    for i, (idx, size) in enumerate(zip(index, shape)):
        if not 0 <= idx < size:
            raise IndexError(f"index {idx} out of range for dim {i} of size {size}")
    steps = row_major_strides(shape) if strides is None else strides
    return int(offset + sum(i * s for i, s in zip(index, steps)))
    # END SOLUTION


def tensor_info(t) -> dict:
    """Describe a torch tensor the way a framework's runtime sees it.

    Return a dict with exactly these keys:
      shape (list of int), strides (list of int), storage_offset (int),
      dtype (str, e.g. "float32" — no "torch." prefix), element_size (bytes per element),
      numel (int), nbytes (numel * element_size), device (str, e.g. "cpu"),
      is_contiguous (bool — decide it yourself by comparing the strides with
      `row_major_strides(shape)`, ignoring dimensions of size 1; a tensor with no
      elements counts as contiguous, as in torch).

    Only read the tensor: it must come back unchanged.

    Hint: `t.shape`, `t.stride()`, `t.storage_offset()`, `t.dtype`, `t.element_size()`.
    """
    # BEGIN SOLUTION
    shape = list(t.shape)
    strides = list(t.stride())
    expected = row_major_strides(shape)
    contiguous = all(size == 1 or s == e for size, s, e in zip(shape, strides, expected))
    return {
        "shape": shape,
        "strides": strides,
        "storage_offset": int(t.storage_offset()),
        "dtype": str(t.dtype).replace("torch.", ""),
        "element_size": int(t.element_size()),
        "numel": int(t.numel()),
        "nbytes": int(t.numel() * t.element_size()),
        "device": str(t.device),
        "is_contiguous": bool(contiguous or t.numel() == 0),
    }
    # END SOLUTION
