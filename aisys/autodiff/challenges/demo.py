"""`aisys lab run ad-challenges`: a loop vs its formula, fused derivatives, structs, checkpointing."""
from __future__ import annotations

from collections import Counter

import numpy as np
from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel
from rich.pretty import Pretty
from rich.table import Table

from aisys.autodiff.challenges.checks import torch_logistic
from aisys.autodiff.memory import ActivationMeter, make_chain, plan_bound, store_nothing_backward
from aisys.autodiff.opcount import Counted
from aisys.autodiff.pytrees import Layer, Optimizer
from aisys.catalog import find_lab
from aisys.labrun import DemoOptions
from aisys.ui.attempt import attempt
from aisys.ui.autodiff_bars import bar_chart
from aisys.workspace import Student

N_LAYERS, WIDTH = 64, 16


def run(student: Student, console: Console, options: DemoOptions) -> None:
    control_flow(student, console)
    fused(student, console)
    structs(student, console)
    checkpointing(student, console)


def control_flow(student: Student, console: Console) -> None:
    console.rule("1 · a loop is differentiated as it runs: the logistic map l_{k+1} = 4·l_k·(1 − l_k)")
    console.print("(the article prints 4·l_n·(1 − l_1); the map is 4·l_n·(1 − l_n))")
    lab02 = Student(find_lab("autodiff"), student.labs_dir)
    if not _lab02_ready(console, lab02):
        console.print("[yellow]logistic_loop and logistic_closed run on your lab-02 reverse mode: finish it first[/]")
        return

    def table(loop):
        out = Table("n", "l_n (yours)", "dl_n/dx (yours)", "torch", "tape entries (fwd+bwd)", "formula degree")
        for n in range(1, 8):
            with lab02.module("reverse_mode.py").Tape() as tape:
                value, deriv = loop(0.3, n)
            truth = torch_logistic(0.3, n)
            ok = np.allclose([value, deriv], truth, rtol=1e-7, atol=1e-9)
            out.add_row(str(n), f"{value:.10g}", f"{deriv:.10g}", "[green]✓[/]" if ok else "[red]✗[/]",
                        str(len(tape.entries)), str(2 ** (n - 1)))
        return out

    shown = attempt(console, student, "logistic_loop", table)
    if shown is not None:
        console.print(shown)
        console.print("The tape grows by a few entries per iteration; the expanded formula doubles its degree.")
    closed = attempt(console, student, "logistic_closed", lambda fn: fn(0.3))
    loop = attempt(console, student, "logistic_loop", lambda fn: fn(0.3, 4)) if closed is not None else None
    if closed is not None and loop is not None:
        console.print(f"x = 0.3:  loop l₄ = {loop[0]:.8f}, dl₄/dx = {loop[1]:.8f}   ·   closed form "
                      f"64x(1−x)(1−2x)²(1−8x+8x²)² = {closed[0]:.8f}, derivative {closed[1]:.8f}")


def _lab02_ready(console: Console, lab02: Student) -> bool:
    """Tape, Variable and grad of lab 02 work on a one-line program (else say which one to edit)."""
    def probe(tape_cls):
        with tape_cls():
            x = lab02.get("Variable")(3.0)
            return lab02.get("grad")(x * x, [x])[0].value

    return attempt(console, lab02, "Tape", probe) is not None


def fused(student: Student, console: Console) -> None:
    console.rule("2 · fused derivative code: (x³, 3x²) sharing a subexpression")

    def count(fn):
        counter = Counter()
        cube, slope = fn(Counted(1.5, counter))
        return dict(counter), cube.value, slope.value

    result = attempt(console, student, "fused_cube", count)
    if result is None:
        return
    naive = Counter()
    x = Counted(1.5, naive)
    x * x * x, 3 * x * x   # noqa: B018 — the separate versions, counted
    ops, cube, slope = result
    table = Table("x = 1.5", "x³", "3x²", "multiplications", "other ops")
    table.add_row("separately: x·x·x and 3·x·x", "3.375", "6.75", str(naive["mul"]), "")
    table.add_row("fused_cube (yours)", f"{cube:g}", f"{slope:g}", str(ops.get("mul", 0)),
                  ", ".join(f"{k} {v}" for k, v in ops.items() if k != "mul") or "—")
    console.print(table)


def structs(student: Student, console: Console) -> None:
    console.rule("3 · gradients through structures: floats are leaves, ints/strings/flags ride along")
    import torch

    tree = {"encoder": Layer(weight=0.8, bias=-0.2, activation="tanh", units=4),
            "optim": Optimizer(lr=0.5, steps=3, nesterov=True, state=(1.5, -0.5)),
            "scales": [2.0, 3]}

    def loss(t):
        enc, opt = t["encoder"], t["optim"]
        y = torch.tanh(enc.weight * opt.state[0] + enc.bias) * t["scales"][0] * t["scales"][1]
        return y * opt.lr * opt.steps + opt.state[1] ** 2

    grads = attempt(console, student, "grad_of_struct", lambda fn: fn(loss, tree))
    if grads is not None:
        console.print(Columns([Panel(Pretty(tree), title="tree"), Panel(Pretty(grads), title="grad_of_struct")]))


def checkpointing(student: Student, console: Console) -> None:
    console.rule(f"4 · memory vs recompute on a {N_LAYERS}-layer chain (measured with saved-tensor hooks)")
    extra = attempt(console, student, "checkpoint_plan",
                    lambda fn: [("√n plan", list(fn(N_LAYERS))), ("budget 24", list(fn(N_LAYERS, 24)))])
    run_fn = student.get("checkpointed_forward_backward") if _loads(student) else None
    reference = _reference_grad()
    rows = []
    for label, plan in [("store all [0]", [0])] + (extra or []) if run_fn is not None else []:
        row = _measure(console, student, label, plan, lambda layers, x, plan=plan: run_fn(layers, x, plan), reference)
        if row is None:
            break   # said once why; the bench rows still show
        rows.append(row)
    rows.append(_measure(console, None, "store nothing*", [0], store_nothing_backward, reference))
    rows.append(_measure(console, None, "torch ckpt ×8", None, _torch_checkpoint, reference))
    rows = [r for r in rows if r is not None]
    table = Table("plan", "ckpts", "k + n/k", "peak alive", "peak saved", "recomputed", "grads ok",
                  caption="* bench reference: recompute each layer's input from x (O(1) memory, n(n−1)/2 ops); "
                          "torch ckpt = torch.utils.checkpoint.checkpoint_sequential")
    for r in rows:
        table.add_row(r["label"], r["checkpoints"], r["bound"], str(r["alive"]), str(r["saved"]), str(r["recomputed"]),
                      "[green]✓[/]" if r["ok"] else "[red]✗[/]")
    console.print(table)
    console.print(bar_chart("peak activations alive (memory)", [(r["label"], r["alive"]) for r in rows]))
    console.print(bar_chart("recomputed forward ops (time)", [(r["label"], r["recomputed"]) for r in rows],
                            style="magenta"))


def _measure(console, student, label, plan, fn, reference):
    """Run one strategy on a fresh metered chain; student=None for the bench's own strategies."""
    meter = ActivationMeter()
    layers = make_chain(N_LAYERS, WIDTH, seed=0, meter=meter)
    x = _input()

    def go(_):
        with meter:
            return fn(layers, x)[1]

    grad_x = go(None) if student is None else attempt(console, student, "checkpointed_forward_backward", go)
    if grad_x is None:
        return None
    ok = np.allclose(np.asarray(grad_x.detach()), reference, rtol=1e-7, atol=1e-9)
    return {"label": label, "checkpoints": "1" if plan is None and student is None and "ckpt" not in label
            else str(len(plan)) if plan is not None else "8",
            "bound": str(plan_bound(plan, N_LAYERS)) if plan is not None and student is not None else "—",
            "alive": meter.peak_alive, "saved": meter.peak_saved, "recomputed": meter.forward_ops - N_LAYERS, "ok": ok}


def _loads(student: Student) -> bool:
    return attempt(Console(quiet=True), student, "checkpointed_forward_backward", lambda fn: True) is not None


def _input():
    import torch

    return torch.linspace(-1, 1, WIDTH, dtype=torch.float64)


def _reference_grad() -> np.ndarray:
    layers, x = make_chain(N_LAYERS, WIDTH, seed=0), _input().requires_grad_()
    h = x
    for layer in layers:
        h = layer(h)
    h.sum().backward()
    return x.grad.numpy()


def _torch_checkpoint(layers, x):
    import torch
    from torch.utils.checkpoint import checkpoint_sequential

    x = x.detach().requires_grad_()
    out = checkpoint_sequential(torch.nn.Sequential(*layers), 8, x, use_reentrant=False)
    out.sum().backward()
    return out.detach(), x.grad
