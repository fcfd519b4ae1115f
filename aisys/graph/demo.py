"""`aisys lab run graph`: tensor layout, the graph of f, its backward graph, retain_graph."""
from __future__ import annotations

from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from aisys.graph.demo_training import training_step
from aisys.graph.dot import to_dot
from aisys.graph.expressions import F_STEPS, graph_of, run_torch
from aisys.graph.plain import graph_output, rebuild
from aisys.labrun import DemoOptions
from aisys.ui.attempt import attempt
from aisys.ui.graph_tree import graph_tree
from aisys.ui.safe import escape, safe_text
from aisys.workspace import Student

SHAPE = (2, 3, 4)


def run(student: Student, console: Console, options: DemoOptions) -> None:
    layout(student, console)
    functions(student, console)
    graphs(student, console, options)
    retain_graph(console)
    training_step(student, console)


def layout(student: Student, console: Console) -> None:
    console.rule("1 · how a tensor sits in memory")
    strides = attempt(console, student, "row_major_strides", lambda fn: tuple(fn(SHAPE)))
    if strides is not None:
        console.print(f"shape {SHAPE} → strides {escape(strides)}  (torch: {_torch_strides(SHAPE)})")
    grid = attempt(console, student, "flat_offset", lambda fn: _offset_grid(fn))
    if grid is not None:
        console.print("storage position of each element (t.T = t.transpose(0, 2): same storage, new strides)")
        console.print(Columns(grid, padding=(0, 3)))
    info = attempt(console, student, "tensor_info", lambda fn: _info_table(fn))
    if info is not None:
        console.print(info)


def _torch_strides(shape):
    import torch

    return tuple(torch.empty(shape).stride())


def _offset_grid(flat_offset) -> list[Table]:
    import torch

    base = torch.arange(24.0).reshape(SHAPE)
    views = {"t": base, "t.T": base.transpose(0, 2)}
    tables = []
    for title, view in views.items():
        for i in range(min(view.shape[0], 2)):
            table = Table(title=f"{title}[{i}]", show_header=False, box=None)
            for j in range(view.shape[1]):
                table.add_row(*(escape(flat_offset(tuple(view.shape), (i, j, k), tuple(view.stride()),
                                                   view.storage_offset())) for k in range(view.shape[2])))
            tables.append(table)
    return tables


def _info_table(tensor_info) -> Table:
    import torch

    base = torch.arange(24.0).reshape(SHAPE)
    samples = {"t": base, "t.T (transpose 0,2)": base.transpose(0, 2), "t[:, 1:]": base[:, 1:],
               "t[:1].expand(3,3,4)": base[:1].expand(3, 3, 4), "t.half()": base.half()}
    table = Table(title="tensor_info: the runtime's view of a tensor")
    keys = {"shape": "shape", "strides": "strides", "storage_offset": "offset", "dtype": "dtype",
            "nbytes": "nbytes", "device": "device", "is_contiguous": "contiguous"}
    table.add_column("tensor")
    for header in keys.values():
        table.add_column(header)
    for name, t in samples.items():
        info = tensor_info(t)
        if not isinstance(info, dict):
            raise TypeError(f"tensor_info returned {type(info).__name__}; expected a dict")
        table.add_row(name, *(escape(info.get(k)) for k in keys))
    return table


def functions(student: Student, console: Console) -> None:
    console.rule("2 · an operator is forward + backward (torch.autograd.Function)")
    import torch

    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=torch.float64)
    table = Table("x", *(f"{v:g}" for v in x.tolist()), "= torch?", title="yours vs torch")
    for name, op in (("MyReLU", torch.relu), ("MySigmoid", torch.sigmoid)):
        def row(cls, op=op, name=name):
            xs = x.clone().requires_grad_()
            y = cls.apply(xs)
            y.sum().backward()
            xt = x.clone().requires_grad_()
            op(xt).sum().backward()
            ok = torch.allclose(y, op(x)) and torch.allclose(xs.grad, xt.grad)
            table.add_row(f"{name} y", *(f"{v:.3f}" for v in y.tolist()), "")
            table.add_row(f"{name} dy/dx", *(f"{v:.3f}" for v in xs.grad.tolist()), "✓ yes" if ok else "✗ no",
                          end_section=True, style=None if ok else "red")
            return ok
        attempt(console, student, name, row)
    if table.rows:
        console.print(table)


def graphs(student: Student, console: Console, options: DemoOptions) -> None:
    console.rule("3 · the graph of f(x1, x2) = ln(x1) + x1·x2 − sin(x2)")
    forward = graph_of(F_STEPS)
    trees = [graph_tree(forward, "forward graph (nodes = ops, edges = tensors)")]
    order = attempt(console, student, "topo_sort", lambda fn: fn(forward))
    if order is not None:
        console.print(f"your topological order: {escape(' → '.join(map(str, order)))}")
    dual = attempt(console, student, "backward_graph",
                   lambda fn: rebuild(graph_output(fn(forward), "backward_graph")))
    if dual is not None:
        trees.append(graph_tree(dual, "your backward graph (saved = a forward value the gradient reads)"))
    import torch

    values = run_torch(F_STEPS, {"x1": torch.tensor(2.0, dtype=torch.float64, requires_grad=True),
                                 "x2": torch.tensor(5.0, dtype=torch.float64, requires_grad=True)})
    captured = attempt(console, student, "graph_from_torch",
                       lambda fn: rebuild(graph_output(fn(values["v5"]), "graph_from_torch")))
    if captured is not None:
        trees.append(graph_tree(captured, "torch's grad_fn graph, as you captured it"))
    console.print(Columns([Panel(t) for t in trees]))
    console.print(f"f(2, 5) = {values['v5'].item():.15g}; torch's grad_fn at the root: "
                  f"{type(values['v5'].grad_fn).__name__}")
    if options.dot:
        options.dot.write_text(to_dot(forward, "f"))
        console.print(f"wrote the forward graph as DOT to {options.dot} (render: dot -Tsvg {options.dot})")
    else:
        console.print("[dim]--dot FILE writes this graph as Graphviz DOT[/]")


def retain_graph(console: Console) -> None:
    console.rule("4 · the dynamic graph is freed after backward")
    import torch

    x = torch.tensor(2.0, requires_grad=True)
    y = torch.log(x) * x
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    lines = ["y = x·ln(x) at x = 2, so dy/dx = ln(x) + 1 = 1.69315",
             f"backward(retain_graph=True) then backward(): x.grad accumulates {first:g} → {x.grad.item():g}",
             "(retain_graph goes on the *first* call: it keeps the saved tensors for the next one)"]
    try:
        y.backward()
        lines.append("a third backward worked (unexpected)")
    except RuntimeError as err:
        lines.append(f"a third backward fails: RuntimeError: {str(err).splitlines()[0][:46]}…")
    console.print(Panel(safe_text("\n".join(lines)), title="retain_graph", expand=False))
