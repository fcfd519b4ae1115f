"""The GPU section: the distributed labs' checks and the DDP/TP benchmarks with CUDA tensors.

    python -m benchmarks --only gpu        # or: python -m benchmarks.gpu

Without CUDA it prints one clear line and exits 0 (the runner shows a 'skipped' row). With
CUDA, the same commands students run pick the device themselves (ARCHITECTURE.md's policy:
NCCL for one rank per GPU; gloo with CUDA tensors when there are more ranks than GPUs, as
with 2 or 4 ranks on one GPU), so this script changes nothing in them. Rows:

- `aisys check data-parallel tensor-parallel --solutions` on the GPU vs the same command on
  the same machine with the GPU hidden (`CUDA_VISIBLE_DEVICES=`), scores in the note;
- the `data_parallel` and `tensor_parallel` benchmark topics, asked for `device="cuda"`
  when their `main` takes a device (otherwise run as they are, and the note says so).

Put the table in the README with the machine named (the first row's note names the GPU).
"""
from __future__ import annotations

import inspect
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, Timing, bench_env, error_row, make_row, normalize

SKIP = "skipped: no CUDA device on this machine (the GPU section needs one)"
DISTRIBUTED = ("data-parallel", "tensor-parallel")


def cuda_device() -> str | None:
    """'NVIDIA H100 80GB HBM3 ×1, torch 2.11, CUDA 13.0' — or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return (f"{torch.cuda.get_device_name(0)} ×{torch.cuda.device_count()}, torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}")


def timed_check(hide_gpu: bool, repeats: int) -> tuple[Timing, dict]:
    """Wall time of grading the distributed labs' reference answers, and the last report."""
    env = bench_env(**({"CUDA_VISIBLE_DEVICES": ""} if hide_gpu else {}))
    runs, report = [], {}
    with tempfile.TemporaryDirectory(prefix="aisys-bench-gpu-") as tmp:
        out = Path(tmp) / "report.json"
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "aisys", "check", *DISTRIBUTED, "--solutions", "--format",
                            "json", "--output", str(out)], cwd=REPO, env=env, capture_output=True, timeout=600)
            runs.append(time.perf_counter() - start)
            report = json.loads(out.read_text()) if out.is_file() else {}
    return Timing(runs), report


def topic_rows(name: str, quick: bool) -> list[dict]:
    """Another topic's rows with CUDA tensors, if its main() takes a device."""
    try:
        main = importlib.import_module(f"benchmarks.{name}").main
    except Exception as err:
        return [error_row(f"gpu: {name}", f"could not import benchmarks.{name}: {type(err).__name__}: {err}")]
    params = inspect.signature(main).parameters
    kwargs = {"quick": quick} if "quick" in params else {}
    on_cuda = "device" in params
    if on_cuda:
        kwargs["device"] = "cuda"
    try:
        rows = [normalize(r, f"gpu/{name}") for r in main(**kwargs) or []]
    except Exception as err:
        return [error_row(f"gpu: {name}", f"{type(err).__name__}: {err}")]
    for row in rows:
        row["note"] = (row.get("note", "") + ("" if on_cuda else " (main() takes no device: ran as is)")).strip()
    return rows


def main(quick: bool = False) -> list[dict]:
    device = cuda_device()
    if device is None:
        return [error_row("gpu section", SKIP)]
    repeats = 1 if quick else 3
    gpu, report = timed_check(hide_gpu=False, repeats=repeats)
    cpu, cpu_report = timed_check(hide_gpu=True, repeats=repeats)
    scores = {lab["slug"]: f"{lab['score']:g}/{lab['max_score']:g}" for lab in report.get("labs", [])}
    cpu_scores = {lab["slug"]: f"{lab['score']:g}/{lab['max_score']:g}" for lab in cpu_report.get("labs", [])}
    rows = [make_row("check data-parallel + tensor-parallel on the GPU", None, cpu.median, "s", timing=gpu,
                     reference_name="same command, GPU hidden (CUDA_VISIBLE_DEVICES=)",
                     note=f"{device}; scores on GPU {scores}, on CPU {cpu_scores}")]
    for name in ("data_parallel", "tensor_parallel"):
        rows.extend(topic_rows(name, quick))
    return rows


if __name__ == "__main__":
    if cuda_device() is None:
        print(f"GPU section {SKIP}.")
        sys.exit(0)
    from benchmarks.__main__ import run_standalone

    run_standalone("gpu", quick="--quick" in sys.argv)
