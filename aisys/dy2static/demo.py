"""`aisys lab run dy2static`: one function four ways — eager, traced, converted, exported —
and where tracing silently goes wrong; SSA with φ; Dynamo's graph breaks and guards beside
to_static; what torch's capture tools make of each function."""
from __future__ import annotations

import ast
import inspect
import warnings

from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from aisys.dy2static import programs as P
from aisys.dy2static.capture_checks import CAPTURE_INPUTS, TOOLS
from aisys.dy2static.convert_checks import exported_targets
from aisys.dy2static.ssa_programs import ARTICLE
from aisys.labrun import DemoOptions
from aisys.quiet import quiet_torch
from aisys.ui.attempt import attempt
from aisys.ui.safe import escape
from aisys.workspace import Student


def _code(source: object, title: str) -> Panel:
    text = source.rstrip() if isinstance(source, str) else f"<not a str: {type(source).__name__}>"
    return Panel(Syntax(text, "python", theme="ansi_dark", line_numbers=False), title=escape(title), expand=False)


def _short(t) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in t.reshape(-1).tolist()) + "]"


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
        for note in getattr(traced, "notes", None) or []:
            console.print(f"note: {escape(note)}")
    converted = attempt(console, student, "to_static", lambda f: f(P.relu_or_square))
    if converted is not None:
        console.rule("3 · to_static: the `if` became a functional cond")
        console.print(_code(getattr(converted, "source", "<no .source>"), "to_static(relu_or_square)"))
        exported = attempt(console, student, "to_static", lambda f: exported_targets(converted, (example,)))
        if exported is not None:
            console.print("torch.export of the converted function: " + escape(" → ".join(exported))
                          + "  (the eager one raises GuardOnDataDependentSymNode)")
    compare_table(console, traced, converted, example)
    loops(student, console)
    ssa(student, console)
    graph_breaks(console, converted, example)
    capture(student, console)


def compare_table(console: Console, traced, converted, example) -> None:
    import torch

    if traced is None and converted is None:
        return
    console.rule("4 · inputs → eager / traced / converted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jit = torch.jit.trace(P.relu_or_square, (example,))
    table = Table("input", "h.sum()>0", "eager", "your trace", "jit.trace", "to_static")
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
                ok = isinstance(y, torch.Tensor) and y.shape == eager.shape and torch.allclose(y, eager)
                shown = _short(y) if isinstance(y, torch.Tensor) else escape(type(y).__name__)
                cells.append(f"[green]{shown}[/]" if ok else f"[bold red]{shown} ✗[/]")
            except Exception as err:  # show the student's failure in the cell
                cells.append(f"[red]{escape(type(err).__name__)}[/]")
        table.add_row(_short(x), str(bool((x * 2).sum() > 0)), _short(eager), *cells)
    console.print(table)
    console.print("✗ = silently wrong (no error). Tracing recorded the branch of the example only; "
                  "converted code keeps both branches.")


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
            e = P.halve_until_small(v)
            try:
                r = traced(v)
                replay = f"{_short(r[0])}, {r[1].item():.0f}"
            except Exception as err:  # the student's graph: show, don't stop
                replay = escape(type(err).__name__)
            table.add_row(_short(v), f"{_short(e[0])}, {e[1].item():.0f}", replay)
        console.print(table)
    if converted is not None:
        console.print(_code(getattr(converted, "source", ""), "to_static(branch_in_loop): while → convert_while"))
        v, n = torch.tensor([0.4, -0.9, 0.3]), torch.tensor(4)
        try:
            mine = _short(converted(v, n))
        except Exception as err:  # the student's conversion: show, don't stop
            mine = f"raises {escape(type(err).__name__)}"
        console.print(f"branch_in_loop(x, n=4): eager {_short(P.branch_in_loop(v, n))}   converted {mine}")


def mark_phi(source: str) -> str:
    """`x_4 = x_2 if cond_1 else x_3` gets a `# φ(x_2, x_3)` comment: the join, named."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    lines = source.splitlines()
    for node in ast.walk(tree):
        value = getattr(node, "value", None)
        if isinstance(node, ast.Assign) and isinstance(value, ast.IfExp) and \
                all(isinstance(v, ast.Name) for v in (value.body, value.orelse)) and node.lineno <= len(lines):
            lines[node.lineno - 1] += f"  # φ({value.body.id}, {value.orelse.id})"
    return "\n".join(lines)


def ssa(student: Student, console: Console) -> None:
    console.rule("6 · SSA: one assignment per name, φ where the paths join")
    out = attempt(console, student, "to_ssa", lambda f: f(ARTICLE))
    if out is None:
        return
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_row(_code(ARTICLE, "source"), _code(mark_phi(out) if isinstance(out, str) else out, "to_ssa(source)"))
    console.print(table)
    console.print("φ(a, b) picks the version of the path that ran; written `a if cond else b` on the saved "
                  "test, it stays runnable Python. In a graph each φ is a Merge (lab 04) or a cond output.")


def graph_breaks(console: Console, converted, example) -> None:
    from aisys.dy2static.dynamo_view import explain

    console.rule("7 · Dynamo (torch.compile): graph breaks, fallback and guards")
    try:
        eager = explain(P.relu_or_square, example)
        mine = explain(converted, example) if converted is not None else None
    except Exception as err:  # an older torch without explain, or a converted function Dynamo rejects
        console.print(f"torch._dynamo.explain is not available here: {escape(type(err).__name__)}")
        return
    table = Table("torch._dynamo.explain", "relu_or_square (eager)", "to_static(relu_or_square)")
    other = mine or {"graphs": [], "breaks": [], "guards": []}
    table.add_row("FX graphs", str(len(eager["graphs"])), str(len(other["graphs"])) if mine else "—")
    table.add_row("graph breaks", _breaks(eager), _breaks(other) if mine else "—")
    table.add_row("ops per graph", _graphs(eager), _graphs(other) if mine else "—")
    console.print(table)
    console.print("guards (checked before reusing the graphs; a miss recompiles): "
                  + escape("; ".join(eager["guards"])))
    console.print("At the break Dynamo falls back to Python for the jump, then resumes in a new graph for the "
                  "branch taken. to_static left no data-dependent jump: one graph, the branch is a cond.")


def _breaks(report: dict) -> str:
    if not report["breaks"]:
        return "0"
    return "\n".join(f"line {line}: {escape(text)} ({escape(reason)})" for line, text, reason in report["breaks"])


def _graphs(report: dict) -> str:
    return "\n".join(f"{k + 1}: {escape(', '.join(ops))}" for k, ops in enumerate(report["graphs"])) or "—"


def capture(student: Student, console: Console) -> None:
    import torch

    console.rule("8 · what torch's capture tools make of each function")

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
        table.add_row(name, *(_cell(report.get(tool)) for tool in TOOLS))
    console.print(table)
    console.print("fx runs Python on proxies (no truth value); jit.trace runs once and warns; export (Dynamo) "
                  "refuses a data-dependent branch unless it is written as torch.cond.")


def _cell(r: object) -> str:
    if not isinstance(r, dict):
        return f"[red]?[/] {escape(type(r).__name__)}"
    if r.get("ok"):
        return f"[green]graph, {escape(r.get('ops'))} ops[/]" + (" [yellow]+ TracerWarning[/]" if r.get("warned")
                                                                  else "")
    return f"[red]raises {escape(r.get('error'))}[/]"
