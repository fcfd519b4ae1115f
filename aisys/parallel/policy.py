"""Which torch.distributed backend and which device a run uses: one pure function.

The rule (ARCHITECTURE.md):

- CUDA present and ranks <= GPUs → `nccl`, one GPU per rank (the fast path);
- CUDA present but more ranks than GPUs → `gloo` with CUDA tensors (NCCL refuses two ranks
  on one GPU: "Duplicate GPU detected"; gloo can share it);
- no CUDA → `gloo` on CPU.

`--backend` and `--device` override the rule; combinations that cannot work (nccl on CPU
tensors, nccl with more ranks than GPUs, cuda without a GPU) are refused with a clear error.
"""
from __future__ import annotations

from aisys.errors import UserError

BACKENDS = ("auto", "gloo", "nccl")
DEVICES = ("auto", "cpu", "cuda")


def visible_gpus() -> int:
    """CUDA devices this process can use (0 without CUDA or without torch's CUDA build)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def choose_backend(nproc: int, backend: str = "auto", device: str = "auto",
                   gpus: int | None = None) -> tuple[str, str]:
    """(backend, device type) for `nproc` ranks on a machine with `gpus` GPUs.

    `gpus=None` asks torch; pass a number to test the rule without a GPU.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if nproc < 1:
        raise UserError(f"need at least one rank, got nproc={nproc}")
    gpus = visible_gpus() if gpus is None else int(gpus)
    if device == "auto":
        device = "cuda" if gpus > 0 else "cpu"
    if device == "cuda" and gpus == 0:
        raise UserError("--device cuda asked for, but no CUDA device is visible")
    if backend == "auto":
        backend = "nccl" if device == "cuda" and nproc <= gpus else "gloo"
    elif backend == "nccl":
        if device == "cpu":
            raise UserError("nccl works on CUDA tensors only; use --backend gloo for --device cpu")
        if nproc > gpus:
            raise UserError(f"nccl needs one GPU per rank: {nproc} ranks but {gpus} GPU(s); "
                            "use --backend gloo to share a GPU")
    return backend, device
