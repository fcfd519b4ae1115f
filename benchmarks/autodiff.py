"""Labs 02 and 03: the reference autodiff next to torch, and checkpointing next to its theory.

Lab 02. One seeded straight-line program of about 1,000 scalar steps (the labs' own
generator, `aisys.autodiff.programs.random_program`: + − × ÷ **, sin/cos/exp/log/tanh,
constants on both sides, heavy fan-out) runs twice: on the reference `Variable` (Python
objects on a tape, numpy float64 scalars) and on 0-d float64 torch tensors with
`requires_grad`. Same program, same inputs, same machine, same run:

- forward + `grad` (one reverse sweep for all 8 inputs) vs `torch.autograd.grad`;
- second order, d²y/dx1²: `grad(grad(y, [x1])[0], [x1])` vs torch with `create_graph=True`;
- second- vs first-order cost of the reference itself, and how many tape entries the
  backward sweep records (it is written with Variable ops, so it grows the tape: that is
  what makes the second derivative possible, and what it costs);
- a (256×256)² matrix layer, sum(tanh(A @ B)): forward + grad next to torch, and the peak
  memory of the backward sweep next to the bytes of the operands (a VJP, never the Jacobian).

Gradients are compared with torch's (largest difference in the note), so a fast wrong
answer cannot pass for a result.

Lab 03 (checkpointing, 64-layer chain of `tanh(h·w + b)`): store-all (one segment), the
reference `checkpoint_plan` √n plan run by the reference `checkpointed_forward_backward`, and
store-nothing (`aisys.autodiff.memory.store_nothing_backward`). Peak live activations and
recomputed forward ops come from the lab's own `ActivationMeter`; the theory next to them is
n, k + ⌈n/k⌉ and O(1) for memory, 0, n − (last segment) and n(n−1)/2 for recompute. Gradients
are compared with a plain autograd run. Without lab 03's reference the row says so.
"""
from __future__ import annotations

import gc
import sys
from typing import Any, Callable

import numpy as np

from benchmarks.common import REPO, Timing, error_row, make_row, measure_interleaved

TARGET_STEPS = 1000
CHAIN_LAYERS = 64
INPUTS = tuple(f"x{i}" for i in range(1, 9))


def program(target: int = TARGET_STEPS, seed: int = 0) -> tuple[list, str, dict[str, float]]:
    """(steps, output name, input values): the first seeded program with >= `target` steps."""
    from aisys.autodiff.programs import random_program

    n_macros = max(1, target // 2)
    while True:
        steps, outs = random_program(np.random.default_rng(seed), n_macros, inputs=INPUTS)
        if len(steps) >= target:
            break
        n_macros += 10
    values = {name: float(v) for name, v in zip(INPUTS, np.random.default_rng(seed + 1).uniform(-1.5, 1.5,
                                                                                            len(INPUTS)))}
    return steps, outs[-1], values


def reference_autodiff() -> tuple[Any, Any, Any]:
    """(Variable, Tape, grad) from the lab 02 reference, loaded by path."""
    from aisys.catalog import find_lab
    from aisys.workspace import Student

    student = Student(find_lab("autodiff"), REPO / "solutions")
    return student.get("Variable"), student.get("Tape"), student.get("grad")


def runners(steps: list, out: str, values: dict[str, float]) -> dict[str, Callable[[], Any]]:
    """Zero-argument callables, one per measured thing; each returns what it computed."""
    import torch

    from aisys.autodiff.programs import evaluate

    Variable, Tape, grad = reference_autodiff()

    def ref(order: int):
        with Tape() as tape:
            leaves = {n: Variable(v, name=n) for n, v in values.items()}
            y = evaluate(steps, leaves)[out]
            if order == 0:
                return y, tape
            grads = grad(y, list(leaves.values()))
            if order == 1:
                return [float(g.value) for g in grads], tape
            return float(grad(grads[0], [leaves["x1"]])[0].value), tape

    def ref_forward_entries() -> int:
        return len(ref(0)[1].entries)

    def torch_run(order: int):
        leaves = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in values.items()}
        y = evaluate(steps, leaves)[out]
        if order == 0:
            return y
        grads = torch.autograd.grad(y, list(leaves.values()), create_graph=order == 2, allow_unused=True,
                                    materialize_grads=True)   # an input the program never reads: 0
        if order == 1:
            return [float(g) for g in grads]
        return float(torch.autograd.grad(grads[0], leaves["x1"])[0])

    return {"ref0": lambda: ref(0), "ref1": lambda: ref(1), "ref2": lambda: ref(2),
            "torch0": lambda: torch_run(0), "torch1": lambda: torch_run(1), "torch2": lambda: torch_run(2),
            "ref_forward_entries": ref_forward_entries}


def lab02_rows(quick: bool) -> list[dict]:
    import torch

    torch.set_num_threads(1)   # scalar ops: threads only add overhead, and the machine is shared
    steps, out, values = program()
    run = runners(steps, out, values)
    repeats = 3 if quick else 9
    keys = ("ref0", "torch0", "ref1", "torch1", "ref2", "torch2")
    t: dict[str, Timing] = measure_interleaved({k: run[k] for k in keys}, repeats, setup=gc.collect)
    ref_grads, tape = run["ref1"]()
    first_diff = float(np.max(np.abs(np.array(ref_grads) - np.array(run["torch1"]()))))
    second_diff = abs(run["ref2"]()[0] - run["torch2"]())
    forward_entries = run["ref_forward_entries"]()
    n = len(steps)
    torch_ratio = t["torch2"].median / t["torch1"].median
    return [
        make_row(f"lab 02 forward only, {n}-step scalar program", None, t["torch0"].median, "s",
                 timing=t["ref0"], reference_name="torch, 0-d float64 tensors with requires_grad",
                 note=f"reference Variable; {forward_entries} tape entries recorded"),
        make_row(f"lab 02 forward + grad (all {len(INPUTS)} inputs)", None, t["torch1"].median, "s",
                 timing=t["ref1"], reference_name="torch.autograd.grad, same program",
                 note=f"largest gradient difference from torch {first_diff:.1e}"),
        make_row("lab 02 second order d²y/dx1²", None, t["torch2"].median, "s", timing=t["ref2"],
                 reference_name="torch, create_graph=True then grad",
                 note=f"difference from torch {second_diff:.1e}"),
        make_row("lab 02 second- vs first-order cost (reference)", None, t["ref1"].median, "s",
                 timing=t["ref2"], reference_name="forward + grad, reference",
                 note=f"torch's own ratio on this program: {torch_ratio:.2f}×"),
        make_row("lab 02 tape entries recorded by one grad", len(tape.entries) - forward_entries,
                 forward_entries, "entries", reference_name="forward entries",
                 note="the backward rules are Variable ops, so the sweep is itself on the tape"),
    ]


MATMUL = 256   # (256×256) @ (256×256): J of the product wrt one factor would hold 256⁴ ≈ 4.3e9 numbers


def matmul_rows(quick: bool) -> list[dict]:
    """The reference Variable's matrix product, forward + grad of sum(tanh(A @ B)), next to
    torch; and the peak memory its backward sweep allocates (tracemalloc) next to the bytes of
    the operands and the upstream gradient — a VJP rule stays that size, a Jacobian would not."""
    import tracemalloc

    import torch

    Variable, Tape, grad = reference_autodiff()
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, size=(MATMUL, MATMUL)) / 16 for _ in range(2))

    def ref():
        with Tape():
            va, vb = Variable(a, name="A"), Variable(b, name="B")
            y = (va @ vb).tanh().sum()
            return [g.value for g in grad(y, [va, vb])]

    def torch_run():
        ta, tb = (torch.tensor(m, requires_grad=True) for m in (a, b))
        return [g.numpy() for g in torch.autograd.grad((ta @ tb).tanh().sum(), [ta, tb])]

    t = measure_interleaved({"ref": ref, "torch": torch_run}, 3 if quick else 9, setup=gc.collect)
    diff = max(float(np.max(np.abs(x - y))) for x, y in zip(ref(), torch_run()))
    with Tape():
        va, vb = Variable(a, name="A"), Variable(b, name="B")
        y = (va @ vb).tanh().sum()
        tracemalloc.start()
        grad(y, [va, vb])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    operands = 3 * a.nbytes   # A, B and the (256×256) upstream gradient of the product
    return [
        make_row(f"lab 02 matmul layer forward + grad, ({MATMUL}×{MATMUL})²", None, t["torch"].median, "s",
                 timing=t["ref"], reference_name="torch.autograd.grad, same layer (float64)",
                 note=f"reference Variable; largest gradient difference from torch {diff:.1e}"),
        make_row("lab 02 matmul backward sweep: peak memory", peak, operands, "bytes",
                 reference_name="bytes of A, B and the upstream gradient",
                 note=f"a Jacobian of A @ B wrt A alone would need {MATMUL ** 4 * 8 / 1e9:.0f} GB"),
    ]


def lab03_rows(quick: bool) -> list[dict]:
    path = REPO / "solutions" / "03_ad_challenges" / "checkpointing.py"
    if not path.is_file():
        return [error_row("lab 03 checkpointing: store-all / √n / none, 64 layers",
                          "lab not available: solutions/03_ad_challenges/checkpointing.py is not written yet")]
    return checkpoint_rows(quick)


def checkpoint_strategies(n: int) -> dict[str, Callable[[list, Any], tuple]]:
    """{name: run(layers, x) -> (output, grad_x)} for store-all, √n and store-nothing."""
    from aisys.autodiff.memory import store_nothing_backward
    from aisys.catalog import find_lab
    from aisys.workspace import Student

    student = Student(find_lab("ad-challenges"), REPO / "solutions")
    plan_of, forward_backward = student.get("checkpoint_plan"), student.get("checkpointed_forward_backward")
    sqrt_plan = plan_of(n)
    return {"store-all": lambda layers, x: forward_backward(layers, x, [0]),
            "√n": lambda layers, x: forward_backward(layers, x, sqrt_plan),
            "none": store_nothing_backward, "_plan": sqrt_plan}


def checkpoint_rows(quick: bool) -> list[dict]:
    """Peak live activations and recomputed forward ops, measured with the lab's own meter
    (`aisys.autodiff.memory.ActivationMeter`) on a 64-layer chain, next to the theory."""
    import torch

    from aisys.autodiff.memory import ActivationMeter, make_chain, plan_bound

    n = CHAIN_LAYERS
    strategies = checkpoint_strategies(n)
    plan = strategies.pop("_plan")
    x = torch.randn(16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    plain = make_chain(n)
    h = x.clone().requires_grad_()
    out = h
    for layer in plain:
        out = layer(out)
    out.sum().backward()
    measured = {}
    for name, run in strategies.items():
        meter = ActivationMeter()
        with meter:
            _, grad_x = run(make_chain(n, meter=meter), x)
        measured[name] = (meter.peak_alive, meter.peak_saved, meter.forward_ops - n,
                          float((grad_x - h.grad).abs().max()))
    chains = {name: make_chain(n) for name in strategies}
    times = measure_interleaved({name: (lambda r=run, c=chains[name]: r(c, x)) for name, run in strategies.items()},
                                3 if quick else 9, setup=gc.collect)
    theory_peak = {"store-all": (n, "theory: n, every layer's output"),
                   "√n": (plan_bound(plan, n), f"theory: k + ⌈n/k⌉ for the plan {plan[:3]}…, k={len(plan)}"),
                   "none": (2, "theory: O(1), one layer's input and output")}
    theory_recompute = {"√n": (n - (n - plan[-1]), "theory: n − the last segment (it runs with autograd)"),
                        "none": (n * (n - 1) // 2, "theory: n(n−1)/2")}
    rows = []
    for name in strategies:
        peak, saved, recomputed, diff = measured[name]
        bound, why = theory_peak[name]
        rows.append(make_row(f"lab 03 {name}: peak live activations, {n} layers", peak, bound, "activations",
                             reference_name=why, note=f"peak saved tensors {saved}; recomputed {recomputed} "
                             f"forward ops; grad_x vs plain autograd {diff:.1e}"))
        if name in theory_recompute:
            expected, why = theory_recompute[name]
            rows.append(make_row(f"lab 03 {name}: recomputed forward ops", recomputed, expected, "ops",
                                 reference_name=why))
            rows.append(make_row(f"lab 03 {name}: wall time", None, times["store-all"].median, "s",
                                 timing=times[name], reference_name="store-all, same chain",
                                 note=f"forward ops {(n + recomputed) / n:.3g}× store-all's; backward is the same"))
    return rows


def main(quick: bool = False) -> list[dict]:
    rows = []
    for part in (lab02_rows, matmul_rows, lab03_rows):
        try:
            rows.extend(part(quick))
        except Exception as err:  # one lab's failure must not lose the other's rows
            rows.append(error_row(part.__name__, f"{type(err).__name__}: {err}"))
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import run_standalone

    run_standalone("autodiff", quick="--quick" in sys.argv)
