"""`aisys lab run autodiff`: traces of f, dual numbers, the tape, gradients vs torch, Jacobian cost."""
from __future__ import annotations

import time

import numpy as np
from rich.columns import Columns
from rich.console import Console
from rich.table import Table

from aisys.autodiff.counting import counting_code_runs
from aisys.autodiff.modes.demo_graphs import static_graph, visiting_order
from aisys.autodiff.programs import F_STEPS, MATMUL_SHAPES, MATMUL_STEPS, NONLEAF_REUSE_STEPS, evaluate, random_program
from aisys.autodiff.truth import torch_grad, torch_jacobian
from aisys.labrun import DemoOptions
from aisys.ui.attempt import attempt
from aisys.ui.safe import escape
from aisys.workspace import Student

X = (2.0, 5.0)
EXPRESSIONS = {"v-1": "x1", "v0": "x2", "v1": "ln v-1", "v2": "v-1 × v0", "v3": "sin v0",
               "v4": "v1 + v2", "v5": "v4 − v3"}
ADJOINTS = {"v5": "1", "v4": "v̄5", "v3": "−v̄5", "v2": "v̄4", "v1": "v̄4",
            "v0": "v̄2·v-1 + v̄3·cos v0", "v-1": "v̄2·v0 + v̄1/v-1"}


def run(student: Student, console: Console, options: DemoOptions) -> None:
    console.print("[bold]f(x1, x2) = ln(x1) + x1·x2 − sin(x2)[/] at (2, 5): "
                  "f = 11.652071455223084, ∂f/∂x1 = 5.5, ∂f/∂x2 = 1.7163378145367738")
    traces(student, console)
    forward(student, console)
    reverse(student, console)
    jacobian_cost(student, console)
    accumulation(student, console)
    static_graph(student, console)
    visiting_order(console)


def traces(student: Student, console: Console) -> None:
    console.rule("1 · evaluation trace (forward) and adjoint trace (backward)")
    tables = []
    values = attempt(console, student, "evaluation_trace", lambda fn: fn(*X))
    if values is not None:
        table = Table(title="evaluation trace  (top to bottom)")
        for col in ("v", "=", "value"):
            table.add_column(col, justify="right" if col == "value" else "left")
        for key, expr in EXPRESSIONS.items():
            table.add_row(key, expr, _num(values.get(key)))
        tables.append(table)
    bars = attempt(console, student, "adjoint_trace", lambda fn: fn(*X))
    if bars is not None:
        table = Table(title="adjoint trace  v̄ = ∂f/∂v  (bottom to top)")
        for col in ("v̄", "=", "value"):
            table.add_column(col, justify="right" if col == "value" else "left")
        for key, expr in ADJOINTS.items():
            table.add_row(f"v̄{key[1:]}" if key != "v-1" else "v̄-1", expr, _num(bars.get(key)))
        tables.append(table)
    if tables:
        console.print(Columns(tables, padding=(0, 4)))
        console.print("v-1 and v0 are each read by two lines, so their adjoints are [bold]sums[/] over both paths.")


def forward(student: Student, console: Console) -> None:
    console.rule("2 · forward mode: one dual-number pass per input direction")

    def show(jvp):
        f = lambda a, b: evaluate(F_STEPS, {"x1": a, "x2": b})["v5"]  # noqa: E731
        table = Table("tangent (ẋ1, ẋ2)", "f", "J·ẋ", "meaning")
        for tangent, meaning in (((1.0, 0.0), "∂f/∂x1"), ((0.0, 1.0), "∂f/∂x2"), ((1.0, 1.0), "∂f/∂x1 + ∂f/∂x2")):
            value, dot = jvp(f, list(X), list(tangent))
            table.add_row(str(tangent), _num(value), _num(dot), meaning)
        return table

    table = attempt(console, student, "jvp", show)
    if table is not None:
        console.print(table)


def reverse(student: Student, console: Console) -> None:
    console.rule("3 · reverse mode: the tape, replayed backwards")
    mod = _module(student, console, "Tape")
    if mod is None:
        return

    def tape_log(_):
        with mod.Tape() as tape:
            x1, x2 = mod.Variable(X[0], name="v-1"), mod.Variable(X[1], name="v0")
            y = evaluate(F_STEPS, {"x1": x1, "x2": x2})["v5"]
            forward_lines = list(tape.log())
        return tape, forward_lines, (x1, x2, y)

    logged = attempt(console, student, "Tape", tape_log)
    if logged is None:
        return
    tape, lines, (x1, x2, y) = logged
    console.print("the tape after f(2, 5), in the article's style:")
    console.print(Columns([f"[cyan]{escape(line)}[/]" for line in lines], padding=(0, 4)))
    grads = attempt(console, student, "grad", lambda grad: grad(y, [x1, x2]))
    if grads is None:
        return
    backward = list(tape.log())[len(lines):]
    console.print(f"grad() replayed {len(lines)} entries backwards and recorded {len(backward)} new ones on the same "
                  "tape — the backward pass is a program too, so it can be differentiated again:")
    console.print(Columns([escape(line) for line in backward], padding=(0, 4)))
    console.print(f"∂f/∂x1 = {_num(grads[0].value)} is {escape(grads[0].name)}, ∂f/∂x2 = {_num(grads[1].value)} is "
                  f"{escape(grads[1].name)} (the article prints dx 5.5, dy 1.7163378145367738)")
    table = attempt(console, student, "grad", lambda grad: _grad_table(mod, grad))
    if table is not None:
        console.print(table)
    matrix = attempt(console, student, "grad", lambda grad: _matrix_panel(mod, grad))
    if matrix is not None:
        console.print(matrix)


def _grad_table(mod, grad) -> Table:
    table = Table("program", "quantity", "yours", "torch", "match")
    rows = [("f", F_STEPS, "v5", X), ("t0 = x1·x2 reused 3×", NONLEAF_REUSE_STEPS, "t4", (0.7, 1.3))]
    steps, outs = random_program(np.random.default_rng(2), 8)
    rows.append(("random program", steps, outs[-1], (1.1, 0.6)))
    for label, prog, out, point in rows:
        leaves = [mod.Variable(v, name=n) for v, n in zip(point, ("x1", "x2"))]
        yv = evaluate(prog, dict(zip(("x1", "x2"), leaves)))[out]
        first = grad(yv, leaves)
        second = grad(first[0], leaves)
        for order, mine in ((1, first), (2, second)):
            truth = torch_grad(prog, out, point, order=order)
            for k, (g, t) in enumerate(zip(mine, truth)):
                name = f"∂y/∂x{k + 1}" if order == 1 else f"∂²y/∂x1∂x{k + 1}"
                ok = np.allclose(g.value, t, rtol=1e-7, atol=1e-9)
                table.add_row(label, name, _num(g.value), _num(t), "[green]✓[/]" if ok else "[red]✗[/]")
                label = ""
        table.add_section()
    return table


def _matrix_panel(mod, grad) -> Table:
    """A matrix meets reverse mode: y = sum(tanh(X @ W)²), X (3×4), W (4×2). The VJPs are
    matrices shaped like X and W; the Jacobians they stand for are never built."""
    rng = np.random.default_rng(5)
    values = [rng.uniform(-1, 1, size=s).round(2) for s in MATMUL_SHAPES]
    xs = [mod.Variable(v, name=n) for v, n in zip(values, ("X", "W"))]
    y = evaluate(MATMUL_STEPS, dict(zip(("x1", "x2"), xs)))["t3"]
    grads = grad(y, xs)
    truth = torch_grad(MATMUL_STEPS, "t3", [v.tolist() for v in values])
    table = Table("gradient", "shape", "= torch?", "its VJP stores", "J would store",
                  title="y = sum(tanh(X @ W)²): the matmul rule is g @ Wᵀ and Xᵀ @ g, never J")
    n, k, m = MATMUL_SHAPES[0][0], MATMUL_SHAPES[0][1], MATMUL_SHAPES[1][1]
    for name, g, t, j in (("∂y/∂X", grads[0], truth[0], (n * m, n * k)), ("∂y/∂W", grads[1], truth[1], (n * m, k * m))):
        ok = np.shape(g.value) == t.shape and np.allclose(g.value, t, rtol=1e-7, atol=1e-9)
        table.add_row(name, str(np.shape(g.value)), "✓ yes" if ok else "✗ no", f"{t.size} numbers",
                      f"{j[0]}×{j[1]} = {j[0] * j[1]} numbers")
    table.caption = "a 4096² layer: the VJP holds 1.7e7 numbers, J would hold 2.8e14"
    return table


def jacobian_cost(student: Student, console: Console) -> None:
    console.rule("4 · whole Jacobians: forward mode costs n passes, reverse mode m sweeps")
    rng = np.random.default_rng(7)
    table = Table("function", "n → m", "mode", "passes", "time", "J matches torch")
    broken: set[str] = set()   # say "not implemented" once per exercise
    for label, n, m in (("wide (a loss)", 24, 1), ("tall", 1, 24)):
        inputs = [f"x{k}" for k in range(n)]
        steps, outs = random_program(rng, 30 + m, inputs=inputs, outputs=m)
        x = list(np.round(rng.uniform(0.5, 2.0, size=n), 3))
        truth = torch_jacobian(steps, outs, inputs, x)

        def f(*xs, steps=steps, outs=outs, inputs=inputs):
            env = evaluate(steps, dict(zip(inputs, xs)))
            return [env[o] for o in outs]

        for name, file, counted in (("jacobian_forward", "forward_mode.py", "jvp"),
                                    ("jacobian_reverse", "reverse_mode.py", "grad")):
            def measure(fn, file=file, counted=counted):
                with counting_code_runs(getattr(student.module(file), counted, None)) as calls:
                    start = time.perf_counter()
                    jac = np.asarray(fn(f, x), dtype=float)
                    return jac, calls["calls"], time.perf_counter() - start

            result = None if name in broken else attempt(console, student, name, measure)
            if result is None:
                broken.add(name)
            else:
                jac, calls, seconds = result
                ok = jac.shape == truth.shape and np.allclose(jac, truth, rtol=1e-7, atol=1e-9)
                table.add_row(label, f"{n} → {m}", name.split("_")[1], f"{calls} {counted}",
                              f"{seconds * 1e3:.1f} ms", "[green]✓[/]" if ok else "[red]✗[/]")
            label = ""
    if table.row_count:
        console.print(table)
        console.print("A loss is wide (millions of parameters → 1 number): that is why training uses reverse mode.")


def accumulation(student: Student, console: Console) -> None:
    console.rule("5 · x.grad accumulates until you zero it")
    out = attempt(console, student, "accumulation_demo", lambda fn: fn(3.0))
    if out is not None:
        table = Table("x = 3, loss = (x + 1 − 2x)²", "value")
        for key, label in (("loss", "loss"), ("grad_first", "x.grad after backward()"),
                           ("grad_second", "after a second backward()"),
                           ("grad_after_zero", "after x.grad.zero_() and backward()")):
            table.add_row(label, _num(out.get(key)))
        console.print(table)


def _module(student: Student, console: Console, name: str):
    """The student's reverse_mode module, or None (with a note) when it does not load."""
    return attempt(console, student, name, lambda _: student.module("reverse_mode.py"))


def _num(value) -> str:
    if value is None:
        return "—"
    arr = np.asarray(value, dtype=float)
    return f"{float(arr):.10g}" if arr.ndim == 0 else np.array2string(arr, precision=4)
