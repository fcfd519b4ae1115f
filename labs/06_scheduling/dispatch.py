"""Lab 06, part 3 — two-level dispatch: how `torch.add(x, y)` finds its kernel.

An operator such as `add` is one name with many kernels. PyTorch picks one in two steps:

1. the **dispatcher** looks at the tensors' dispatch keys — which device (CPU, CUDA, ...)
   and which layout (strided, sparse) — and jumps to that backend's kernel
   (operators are declared once in `native_functions.yaml`, with a `dispatch:` section per
   backend; their derivatives in `derivatives.yaml`);
2. inside that kernel, a **dtype switch** (`AT_DISPATCH_FLOATING_TYPES(...)`) picks the
   code specialised for float32, float64, ...

So a missing kernel fails in one of two distinct ways: no kernel for this backend at all
("could not run 'aten::add' with arguments from the 'SparseMeta' backend"), or the backend
exists but not for this dtype ("not implemented for 'Int'"). Your `Dispatcher` models both.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable


def dispatch_keys(tensor: Any) -> tuple[str, str, str]:
    """(device type, layout, dtype) of a torch tensor, e.g. ("cpu", "strided", "float32")."""
    strip = lambda value: str(value).replace("torch.", "")  # noqa: E731
    return tensor.device.type, strip(tensor.layout), strip(tensor.dtype)


class Dispatcher:
    """Kernels by op → (device, layout) → dtype.

    `register(op, device, layout, dtypes, kernel)` files `kernel` under every dtype given
    (a later registration of the same key replaces the earlier one). `dispatch(op, tensor)`
    returns the kernel for that tensor's keys; `dispatcher(op, *args)` dispatches on the
    first tensor among args and calls the kernel with all the arguments.

    Missing kernels raise `LookupError` (KeyError is one) with a message that names the op
    and the missing key: the device and layout when that backend has no kernel for the op
    at all, the dtype when the backend exists but not for this dtype.

    Hint: check the first level before the second — the two errors must differ.
    """

    def __init__(self) -> None:
        self.kernels: dict[str, dict[tuple[str, str], dict[str, Callable]]] = {}

    def register(self, op: str, device: str, layout: str, dtypes: Iterable[str], kernel: Callable) -> None:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def dispatch(self, op: str, tensor: Any) -> Callable:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def __call__(self, op: str, *args: Any) -> Any:
        raise NotImplementedError("not implemented yet: read the docstring and its hint")

    def table(self) -> list[tuple[str, str, str, str, str]]:
        """(op, device, layout, dtype, kernel name) rows — the demo prints them."""
        return [(op, device, layout, dtype, getattr(kernel, "__name__", repr(kernel)))
                for op, backends in self.kernels.items()
                for (device, layout), by_dtype in backends.items()
                for dtype, kernel in by_dtype.items()]
