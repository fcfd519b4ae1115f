"""`aisys lab run control-flow`: firing rules, the wiring of a cond and a while, execution
traces with frames and iteration ids, results against Python and torch, three approaches."""
from __future__ import annotations

import contextlib
from functools import partial
from types import SimpleNamespace

from rich.console import Console
from rich.table import Table

from aisys.controlflow import programs as P
from aisys.controlflow.dataflow import DataflowGraph
from aisys.controlflow.interpreter import execute, frame_iterations
from aisys.controlflow.loop_grad_checks import torch_loop_grad
from aisys.controlflow.student_code import RULE_NAMES, checked_cond, checked_while_loop, require_values
from aisys.controlflow.tokens import Token, show_tag
from aisys.graph.dot import to_dot
from aisys.grading.shapes import describe, require
from aisys.labrun import DemoOptions
from aisys.quiet import quiet_torch
from aisys.ui.attempt import attempt
from aisys.ui.safe import escape
from aisys.ui.controlflow_tables import stack_table, trace_table, wiring_table
from aisys.ui.graph_tree import graph_tree
from aisys.workspace import Student

LOOP_FEEDS = {"sum_to": {"n": 10, "i": 0, "s": 0}, "factorial": {"n": 6, "i": 1, "acc": 1},
              "collatz": {"n": 27, "steps": 0}, "nested_loops": {"n": 4, "i": 0, "total": 0}}
BRANCH_FEEDS = {"piecewise": [{"x": 3.0}, {"x": -2.0}], "two_operands": [{"x": 1.0, "y": 4.0}],
                "nested_cond": [{"x": 12.0}, {"x": 5.0}, {"x": -3.0}]}


def run(student: Student, console: Console, options: DemoOptions) -> None:
    rules = firing_rules(student, console)
    lowering = Lowering(student, console)
    if rules is None:
        console.print("[yellow]the graphs below need all five firing rules; showing the wiring only[/]")
    wiring(console, lowering, rules, options)
    compared_with_torch = results(console, lowering, rules)
    gradients(student, console)
    unrolling(student, console)
    torch_side_by_side(console, compared_with_torch)
    approaches(console)


def firing_rules(student: Student, console: Console):
    console.rule("1 · firing rules: tokens in, tokens out")
    live = Token(3.0, (("main", 0), ("while_0", 2)))
    dead = Token(None, live.tag, True)   # every input in the table carries the tag in the title
    pred_t, pred_f = Token(True, live.tag), Token(False, live.tag)
    examples = {
        "switch": [("data=3.0, pred=True", lambda f: f(live, pred_t)),
                   ("data=3.0, pred=False", lambda f: f(live, pred_f))],
        "merge": [("[live, not arrived]", lambda f: f([live, None])),
                  ("[dead, not arrived]", lambda f: f([dead, None])),
                  ("[dead, dead]", lambda f: f([dead, dead]))],
        "enter": [("live, frame 'while_1'", lambda f: f(live, "while_1"))],
        "exit_": [("live", lambda f: f(live)), ("dead", lambda f: f(dead))],
        "next_iteration": [("live", lambda f: f(live)), ("dead", lambda f: f(dead))],
    }
    table = Table("rule", "input", "output", title=f"input token tag: {show_tag(live.tag)}", title_justify="left")
    for name, cases in examples.items():
        rows = attempt(console, student, name, lambda f: [(label, _show(call(f))) for label, call in cases])
        for label, shown in rows or []:
            table.add_row(name, escape(label), escape(shown))
    if table.row_count:
        console.print(table)
    got = [attempt(console, student, name, lambda f: f) for name in RULE_NAMES]
    return SimpleNamespace(**dict(zip(RULE_NAMES, got))) if all(got) else None


def _show(out) -> str:
    if isinstance(out, Token):
        return "dead @ " + show_tag(out.tag) if out.dead else f"{out.value!r} @ {show_tag(out.tag)}"
    if isinstance(out, (tuple, list)):
        return "F: " + _show(out[0]) + ", T: " + _show(out[1])
    return "None (wait / drop)" if out is None else repr(out)


def wiring(console: Console, lowering, rules, options: DemoOptions) -> None:
    console.rule("2 · cond lowered to Switch/Merge: only the taken branch runs")
    if lowering.cond:
        g, outs = lowering.build(P.piecewise, ["x"])
        if g is not None:
            console.print(graph_tree(g.ir, "piecewise(x) = 2x + 1 if x > 0 else -x"))
            console.print(wiring_table(g, "wiring (Switch out: F = false, T = true)"))
            for feeds in BRANCH_FEEDS["piecewise"]:
                _trace(console, g, outs, rules, feeds,
                       f"execution log, x = {feeds['x']} (dead rows: the untaken branch)")
    console.rule("3 · while_loop lowered to Enter/Merge/Switch/NextIteration/Exit")
    if lowering.while_loop:
        g, outs = lowering.build(P.sum_to, ["n", "i", "s"])
        if g is not None:
            console.print(graph_tree(g.ir, "sum_to: s = 0 + 1 + ... + n  (a cycle: Merge ← NextIteration)"))
            console.print(wiring_table(g, "wiring of the loop"))
            if options.dot:
                options.dot.write_text(to_dot(g.ir, "sum_to"))
                console.print(f"DOT written to {options.dot}")
            _trace(console, g, outs, rules, {"n": 2, "i": 0, "s": 0},
                   "execution log, n = 2: frame while_0, iterations 0..3")
            nested_frames(console, lowering, rules)


def nested_frames(console: Console, lowering, rules) -> None:
    """How many iterations each frame instance of a nested loop ran."""
    g, _ = lowering.build(P.nested_loops, ["n", "i", "total"])
    run = attempt_run(console, g, rules, LOOP_FEEDS["nested_loops"]) if g is not None and rules else None
    if run is not None:
        table = Table("frame instance", "iterations (incl. the final test)", title="nested loops, n = 4",
                      title_justify="left")
        for key, count in frame_iterations(run.log).items():
            table.add_row(show_tag(key[:-1]) + "/" + key[-1], str(count))
        console.print(table)


class Lowering:
    """The student's `cond` and `while_loop`, and graph building through `attempt`, so a stub
    or a bug prints the usual one-line note naming the exercise and the demo goes on."""

    def __init__(self, student: Student, console: Console) -> None:
        self.student, self.console = student, console
        self.cond = attempt(console, student, "cond", checked_cond)
        self.while_loop = attempt(console, student, "while_loop", checked_while_loop)

    def build(self, program, names: list[str]):
        """(graph, outputs) of `program` lowered by the student's code, or (None, None)."""
        exercise = "cond" if program.__name__ in P.BRANCH_PROGRAMS else "while_loop"
        built = attempt(self.console, self.student, exercise, lambda _: P.build(program, self, names))
        return built or (None, None)


def attempt_run(console: Console, g, rules, feeds):
    try:
        return execute(g, rules, feeds)
    except Exception as err:
        console.print(f"[red]running the graph failed: {type(err).__name__}: {err}[/]")
        return None


def _trace(console, g, outs, rules, feeds, title) -> None:
    if rules is None:
        return
    run = attempt_run(console, g, rules, feeds)
    if run is not None:
        console.print(trace_table(run.log, title))


def results(console: Console, lowering: Lowering, rules) -> bool:
    """Table 4; True when it was drawn with a torch.cond / torch.while_loop column."""
    console.rule("4 · your graphs against plain Python")
    if rules is None or not (lowering.cond and lowering.while_loop):
        console.print("[yellow]needs the firing rules, cond and while_loop[/]")
        return False
    import torch

    torch_ready = hasattr(torch, "cond")
    table = Table("program", "inputs", "graph", "python", "same", "firings",
                  "torch.cond / torch.while_loop" if torch_ready else f"(torch {torch.__version__}: no torch.cond)")
    cases = [(n, f) for n, fs in BRANCH_FEEDS.items() for f in fs] + list(LOOP_FEEDS.items())
    programs = P.BRANCH_PROGRAMS | P.LOOP_PROGRAMS
    for name, feeds in cases:
        g, outs = lowering.build(programs[name], list(feeds))
        if g is None:
            console.print("table 4 needs your firing rules, cond and while_loop (see the notes above)")
            return False
        run = attempt_run(console, g, rules, feeds)
        mine = [run.value(o) for o in outs] if run is not None else None
        truth = list(programs[name](P.PY, *feeds.values()))
        mark = "[green]✓[/]" if mine == truth else "[red]✗[/]" if mine is not None else ""
        table.add_row(name, ", ".join(f"{k}={v}" for k, v in feeds.items()), escape(str(mine)), str(truth), mark,
                      str(len(run.log)) if run else "",
                      _torch_result(programs[name], feeds) if torch_ready else "")
    console.print(table)
    return torch_ready


def _torch_result(program, feeds: dict) -> str:
    import torch

    try:
        with quiet_torch():
            out = program(P.torch_ns(), *[torch.tensor(v) for v in feeds.values()])
        return str([o.item() for o in out])
    except Exception as err:  # show torch's refusal in the cell
        return f"[red]{type(err).__name__}[/]"


def gradients(student: Student, console: Console) -> None:
    console.rule("5 · gradients through a loop: push each iteration's inputs, pop them in reverse")
    vars0, grads = [0.5, -0.3, 0.0, 4.0], [1.0, 1.0, 0.0, 0.0]
    runs, vjps = [], []

    def call(fn):
        module = student.module("loop_grad.py")
        with _recording(module, "execute", runs), _recording(module, "vjp", vjps):
            got = fn(partial(P.grad_cond, P.GRAPH_MATH), partial(P.grad_body_spiral, P.GRAPH_MATH), vars0, grads)
        return require(got, lambda o: isinstance(o, (tuple, list)) and len(o) == 2 and isinstance(o[1], (tuple, list)),
                       "while_loop_grad", "(final_vars, grads)")

    got = attempt(console, student, "while_loop_grad", call)
    if got is None:
        return
    console.print("spiral loop, 4 iterations: x ← 0.9·sin x + 0.3·y,  y ← 0.8·y − 0.1·x²,  i ← i + 1\n"
                  "gradient of x + y at the end: the backward loop starts from the cotangent (x̄, ȳ) = (1, 1)")
    stacks = [stack for _, run in runs for stack in run.stacks.values() if stack]
    if len(stacks) == 1 and vjps:
        console.print(stack_table(stacks[0], [(args[1], out) for args, out in vjps]))
    else:
        console.print("(your while_loop_grad did not push one stack through execute() and pop it into vjp(), "
                      "so there is no stack to show)")
    _, truth = torch_loop_grad("spiral", vars0, grads)
    table = Table("", "∂/∂x₀", "∂/∂y₀")
    table.add_row("while_loop_grad (yours)", *(f"{g:.10f}" if isinstance(g, (int, float)) else escape(describe(g))
                                               for g in list(got[1])[:2]))
    table.add_row("torch autograd", *(f"{g:.10f}" for g in truth[:2]))
    console.print(table)


@contextlib.contextmanager
def _recording(module, name: str, calls: list):
    """Record (args, result) of every call of `module.name` while inside (if the module has it)."""
    original = getattr(module, name, None)
    if not callable(original):
        yield
        return

    def recorded(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append((args, out))
        return out
    setattr(module, name, recorded)
    try:
        yield
    finally:
        setattr(module, name, original)


def unrolling(student: Student, console: Console) -> None:
    console.rule("6 · unroll: no primitives, n × the body")
    table = Table("n", "ops in graph", "Switch/Merge/…", "x, y after n steps")

    def grow(unroll):
        for n in (1, 2, 4, 8):
            g = DataflowGraph()
            outs = require_values(unroll(partial(P.unroll_body, P.GRAPH_MATH), n, [g.placeholder("x"),
                                  g.placeholder("y")]), "unroll", 2, "the loop variables after n steps")
            counts = g.op_counts()
            run = execute(g, None, {"x": 1.0, "y": 0.5})
            prims = sum(counts.get(p, 0) for p in ("Switch", "Merge", "Enter", "Exit", "NextIteration"))
            table.add_row(str(n), str(len(g) - 2), str(prims), ", ".join(f"{run.value(o):.5f}" for o in outs))
        return table
    if attempt(console, student, "unroll", grow) is not None:
        console.print(table)


def torch_side_by_side(console: Console, compared_in_table_4: bool) -> None:
    console.rule("7 · torch's own functional control flow")
    import torch

    if not hasattr(torch, "cond"):
        console.print(f"torch {torch.__version__} has no torch.cond")
        return
    where = ("The last column of table 4 ran" if compared_in_table_4 else
             "Once your firing rules, cond and while_loop work, the last column of table 4 runs")
    console.print(f"{where} the very same program functions with torch.cond and torch.while_loop instead of "
                  "your lowering: the functional interface is the same, only the implementation differs. "
                  "torch.export keeps each as one node holding its subgraphs, and refuses a branch or body "
                  "that returns an input unchanged (we clone the outputs).")


def approaches(console: Console) -> None:
    console.rule("8 · three ways a framework handles control flow")
    table = Table("approach", "who", "how", "cost")
    table.add_row("host language", "PyTorch eager, JAX outside jit", "Python's own if/while run the ops",
                  "easy to write; no whole graph to optimise or export")
    table.add_row("control-flow primitives", "TensorFlow 1.x (tf.cond, tf.while_loop)",
                  "Switch, Merge, Enter, Exit, NextIteration in the graph",
                  "one graph, any trip count; hard to read and debug")
    table.add_row("source parsing", "MindSpore, Paddle dy2static, TorchScript",
                  "parse the Python AST, emit graph control flow", "Python-looking code; only a subset of Python")
    console.print(table)
