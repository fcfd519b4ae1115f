"""Plain data across the process boundary: what a child may send back, and how it is read.

Only numbers (an exact `Fraction` arrives as the float nearest it), strings, None, lists,
str-keyed dicts, numpy arrays and tensors (as arrays) cross. Subclasses are flattened to their base value (`float.__float__`), so an object whose
`__eq__` always says yes, or a float that lies about itself, arrives as what it really holds.
"""
from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import numpy as np

_MAX_DEPTH = 64
_ARRAY = "__ndarray__"


class NotPlainData(TypeError):
    pass


def to_plain(value: Any, _depth: int = 0) -> Any:
    """Convert a student's return value into JSON-able plain data (raises NotPlainData)."""
    if _depth > _MAX_DEPTH:
        raise NotPlainData("output is nested too deeply")
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, bool):
        return bool(int.__int__(value))
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, np.generic):
        return to_plain(value.item(), _depth + 1)
    if type(value) is Fraction:        # the exact type only: a subclass could lie in __float__
        return float(value)
    if type(value).__module__ == "torch" and type(value).__name__ in ("Tensor", "Parameter") \
            or _is_tensor(value):
        value = value.detach().cpu()
        if value.dtype.is_complex:
            raise NotPlainData("complex tensors cannot be graded")
        value = value.float().numpy() if str(value.dtype) == "torch.bfloat16" else value.numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise NotPlainData(f"arrays of dtype {value.dtype} cannot be graded")
        return {_ARRAY: np.asarray(value).tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, (list, tuple)):
        items = list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)
        return [to_plain(v, _depth + 1) for v in items]
    if isinstance(value, dict):
        out = {}
        for key, item in dict.items(value):
            if not isinstance(key, (str, int)):
                raise NotPlainData(f"dict keys must be str or int, got {type(key).__name__}")
            out[str(key) if isinstance(key, str) else str(int.__int__(key))] = to_plain(item, _depth + 1)
        return out
    raise NotPlainData(
        f"returned a {type(value).__name__}; the grader takes numbers, lists, dicts, arrays or tensors")


def _is_tensor(value: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def from_plain(value: Any) -> Any:
    """Turn decoded JSON back into Python values with numpy arrays."""
    if isinstance(value, dict):
        if _ARRAY in value:
            dtype = np.dtype(str(value["dtype"]))
            if dtype.kind not in "biuf":   # what to_plain sends; anything else was forged
                raise NotPlainData(f"arrays of dtype {dtype} cannot be graded")
            return np.array(value[_ARRAY], dtype=dtype).reshape(value["shape"])
        return {k: from_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    return value


def dumps(record: dict) -> str:
    return json.dumps(record, allow_nan=True)


def loads(line: str) -> dict:
    return json.loads(line)
