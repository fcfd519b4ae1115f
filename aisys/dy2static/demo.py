"""`aisys lab run dy2static`: one function four ways — eager, traced, converted, exported —
and where tracing silently goes wrong; SSA with φ; what torch's capture tools make of it."""
from __future__ import annotations

import inspect
import warnings

from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from aisys.dy2static import programs as P
from aisys.dy2static.capture_checks import CAPTURE_INPUTS
from aisys.dy2static.convert_checks import exported_targets
from aisys.quiet import quiet_torch
from aisys.dy2static.ssa_programs import ARTICLE
from aisys.labrun import DemoOptions
from aisys.ui.attempt import attempt
from aisys.workspace import Student


def _code(source: str, title: str) -> Panel:
    return Panel(Syntax(source.rstrip(), "python", theme="ansi_dark", line_numbers=False), title=title,
                 expand=False)


def run(student: Student, console: Console, options: DemoOptions) -> None:
    import torch

    torch.manual_seed(0)
    console.rule("1 · the eager function (the article's example, with a scalar condition)")
    console.print(_code(inspect.getsource(P.relu_or_square), "eager"))
    example = torch.tensor([0.5, -0.2, 1.0, 0.3])
    traced = attempt(console, student, "trace", lambda f: f(P.relu_or_square, example))
    if traced is not None:
        console.rule("2 · trace: one run recorded — the `if` is gone")
        console.print(_code(str(traced), f"trace(relu_or_square, {_short(example)})"))
        for note in traced.notes:
            console.print(f"[yellow]note:[/] {note}")
    converted = attempt(console, student, "to_static", lambda f: f(P.relu_or_square))
    if converted is not None:
        console.rule("3 · to_static: the `if` became a functional cond")
        console.print(_code(getattr(converted, "source", "<no .source>"), "to_static(relu_or_square)"))
        exported = attempt(console, student, "to_static", lambda f: exported_targets(converted, (example,)))
        if exported is not None:
            console.print("torch.export of the converted function: " + " → ".join(exported)
                          + "  (the eager one raises GuardOnDataDependentSymNode)")
    compare_table(console, traced, converted, example)
    loops(student, console)
    ssa(student, console)
    capture(student, console)


def compare_table(console: Console, traced, converted, example) -> None:
    import torch

    if traced is None and converted is None:
        return
    console.rule("4 · inputs → eager / traced / converted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jit = torch.jit.trace(P.relu_or_square, (example,))
    table = Table("input", "h.sum() > 0", "eager", "your trace", "jit.trace", "to_static")
    for x in (example, torch.tensor([1.0, 2.0, -0.5, 0.1]), torch.tensor([-1.0, 0.3, -0.4, 0.2]),
              torch.tensor([-2.0, -1.0, 0.5, 0.1])):
        eager = P.relu_or_square(x)
        cells = []
        for impl in (traced, jit, converted):
            if impl is None:
                cells.append("—")
                continue
            try:
                y = impl(x)
                ok = torch.allclose(y, eager)
                cells.append(f"{'[green]' if ok else '[bold red]'}{_short(y)}{'' if ok else '  ✗ silently wrong'}[/]")
            except Exception as err:  # show the student's failure in the cell
                cells.append(f"[red]{type(err).__name__}[/]")
        table.add_row(_short(x), str(bool((x * 2).sum() > 0)), _short(eager), *cells)
    console.print(table)
    console.print("tracing recorded the branch of the example only; converted code keeps both branches.")


def _short(t) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in t.reshape(-1).tolist()) + "]"


def loops(student: Student, console: Console) -> None:
    import torch

    console.rule("5 · a data-dependent loop: tracing unrolls it, conversion keeps it")
    x = torch.tensor([3.0, -4.0])
    traced = attempt(console, student, "trace", lambda f: f(P.halve_until_small, x))
    converted = attempt(console, student, "to_static", lambda f: f(P.branch_in_loop))
    if traced is not None:
        console.print(f"trace(halve_until_small, {x.tolist()}) has {len(traced)} ops: the loop ran 3 times "
                      "and is now 3 copies of its body")
        table = Table("input", "eager (x, steps)", "trace replay (x, steps)")
        for v in (x, torch.tensor([0.3, 0.1]), torch.tensor([40.0, 30.0])):
            e, r = P.halve_until_small(v), traced(v)
            table.add_row(_short(v), f"{_short(e[0])}, {e[1].item():.0f}", f"{_short(r[0])}, {r[1].item():.0f}")
        console.print(table)
    if converted is not None:
        console.print(_code(getattr(converted, "source", ""), "to_static(branch_in_loop): while → convert_while"))
        v, n = torch.tensor([0.4, -0.9, 0.3]), torch.tensor(4)
        console.print(f"branch_in_loop(x, n=4): eager {_short(P.branch_in_loop(v, n))}   "
                      f"converted {_short(converted(v, n))}")


def ssa(student: Student, console: Console) -> None:
    console.rule("6 · SSA: one assignment per name, φ where the paths join")
    out = attempt(console, student, "to_ssa", lambda f: f(ARTICLE))
    if out is not None:
        console.print(Columns([_code(ARTICLE, "source"), _code(out, "to_ssa(source)")]))


def capture(student: Student, console: Console) -> None:
    import torch

    console.rule("7 · what torch's capture tools make of each function")
    def ask_all(capture_report):
        with quiet_torch():
            return {name: capture_report(getattr(P, name), (torch.randn(*shape),))
                    for name, shape in CAPTURE_INPUTS.items()}
    reports = attempt(console, student, "capture_report", ask_all)
    if reports is None:
        return
    table = Table("function", "fx.symbolic_trace", "jit.trace", "torch.export")
    for name, report in reports.items():
        report = report if isinstance(report, dict) else {}
        table.add_row(name, *(_cell(report.get(tool, {})) for tool in ("symbolic_trace", "jit_trace", "export")))
    console.print(table)
    console.print("fx runs Python on proxies (no truth value); jit.trace runs once and warns; export (Dynamo) "
                  "refuses a data-dependent branch unless it is written as torch.cond.")


def _cell(r: dict) -> str:
    if r.get("ok"):
        return f"[green]graph, {r.get('ops')} ops[/]" + (" [yellow](TracerWarning)[/]" if r.get("warned") else "")
    return f"[red]{r.get('error')}[/]"
