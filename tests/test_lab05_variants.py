"""Lab 05: the contract of each check. Correct answers written another way keep full marks;
the bugs students write — at the corners of each input domain (tensors in lists and keyword
arguments, dict outputs, baked numbers, names that look like SSA versions, elif, defaults),
in side effects and in state kept between calls — lose points in their own exercise on every
seed. Graded in-process (labs56_inprocess)."""
from __future__ import annotations

import functools

import numpy as np
import pytest

from aisys.dy2static.checks import SUITE
from aisys.dy2static.trace_checks import TraceCheck
from conftest import workspace
from inprocess import failures, grade as grade_lab, lost_on_every_seed

FOLDER = "05_dy2static"
SEEDS = (0, 1, 2, 3)
grade = functools.partial(grade_lab, "dy2static", SUITE)


# ---------------------------------------------------------------- correct answers, written another way

CORRECT = {
    # trace: tensors looked up in a dict id → (tensor, ref), arguments rebuilt by hand
    "by-hand": {"tracing.py": [
        ("    refs: dict[int, Ref] = {}\n    alive: list[torch.Tensor] = []\n",
         "    seen: dict = {}\n"),
        ("        refs[id(tensor)] = ref\n        alive.append(tensor)\n",
         "        seen[id(tensor)] = (tensor, ref)\n"),
        ("        return refs.get(id(x), x) if isinstance(x, torch.Tensor) else x\n",
         "        if isinstance(x, torch.Tensor):\n"
         "            hit = seen.get(id(x))\n"
         "            return hit[1] if hit is not None and hit[0] is x else x\n"
         "        if isinstance(x, (list, tuple)):\n            return type(x)(as_ref(v) for v in x)\n"
         "        if isinstance(x, dict):\n            return {k: as_ref(v) for k, v in x.items()}\n"
         "        return x\n"),
        ("graph.call(func, tree_map(as_ref, args), tree_map(as_ref, kwargs))", "graph.call(func, as_ref(args), as_ref(kwargs))"),
        ("graph.set_output(tree_map(as_ref, output))", "graph.set_output(as_ref(output))"),
        ('f"a tensor became the Python bool {result}: "', '"data-dependent branch baked in; "')],
        # to_static: "Break statement on line 5" (the wording), other helper names, sorted operands
        "convert.py": [
            ('word = type(node).__name__.lower()\n                raise SyntaxError(f"line {node.lineno}: `{word}` inside '
             'a converted {where} is not supported")',
             'raise SyntaxError(f"{type(node).__name__} statement on line {node.lineno} is not supported '
             'in a converted {where}")'),
            ('f"_jst_true_{k}"', 'f"_jst_then_{k}"'), ('f"_jst_false_{k}"', 'f"_jst_else_{k}"'),
            ("params = [n for n in outputs if n in defined]", "params = sorted(n for n in outputs if n in defined)"),
            ("loop_vars = [n for n in _assigned(node.body) if n in defined]",
             "loop_vars = sorted((n for n in _assigned(node.body) if n in defined), reverse=True)")],
        # to_ssa: counters start after the largest suffix in the source; φs in another order
        "ssa.py": [("    counters: dict[str, int] = {}\n",
                    "    counters: dict[str, int] = {}\n    for known in list(taken):\n"
                    "        base, _, k = known.rpartition('_')\n"
                    "        if base and k.isdigit():\n            counters[base] = max(counters.get(base, 0), int(k))\n"),
                   ("for name in sorted(set(then_env) & set(else_env)):",
                    "for name in sorted(set(then_env) & set(else_env), reverse=True):")],
        # capture_report: FX ops counted by exclusion, export nodes by find_nodes
        "capture.py": [
            ('return sum(n.op in ("call_function", "call_method", "call_module") for n in gm.graph.nodes)',
             'return sum(n.op not in ("placeholder", "output", "get_attr") for n in gm.graph.nodes)'),
            ('return sum(n.kind().startswith("aten::") for n in traced.inlined_graph.nodes())',
             'return len([n for n in traced.inlined_graph.nodes() if n.kind().split("::")[0] == "aten"])'),
            ('return sum(n.op == "call_function" for n in exported.graph.nodes)',
             'return sum(1 for n in exported.graph_module.graph.nodes if n.op == "call_function")')]},
    # trace: a weak id-keyed dictionary (no list keeping tensors alive); to_static: a SyntaxError
    # carrying (file, line, column, text); to_ssa: `x__1` names and a `test_k` condition
    "weak-ids": {"tracing.py": [
        ("    refs: dict[int, Ref] = {}\n    alive: list[torch.Tensor] = []\n",
         "    from torch.utils.weak import WeakIdKeyDictionary\n    refs = WeakIdKeyDictionary()\n"),
        ("        refs[id(tensor)] = ref\n        alive.append(tensor)\n", "        refs[tensor] = ref\n"),
        ("return refs.get(id(x), x) if isinstance(x, torch.Tensor) else x",
         "return refs.get(x, x) if isinstance(x, torch.Tensor) else x")],
        "convert.py": [
            ('raise SyntaxError(f"line {node.lineno}: `{word}` inside a converted {where} is not supported")',
             'raise SyntaxError(f"`{word}` has no functional form", '
             '("<to_static>", node.lineno, node.col_offset + 1, ""))')],
        "ssa.py": [('name = f"{base}_{counters[base]}"', 'name = f"{base}__{counters[base]}"'),
                   ('cond = fresh("cond")', 'cond = fresh("test")')],
        "capture.py": [("ops, error = None, type(err).__name__", "ops, error = None, err.__class__.__name__"),
                       ("warned = any(issubclass(w.category, torch.jit.TracerWarning) for w in caught)",
                        "warned = any(w.category is torch.jit.TracerWarning for w in caught)")]},
}


# torch.cond and torch.while_loop compile their branches on every call (~0.5 s): the variants run
# the cases their edits can change, the solutions run all of them through the CLI above
STATIC_CASES = ("break-is-refused", "continue-is-refused", "return-in-branch-is-refused", "return-in-while-is-refused",
                "if-assigns-different-names", "if-in-while", "while-with-temporary-and-default")
CAPTURE_CASES = ("method_chain", "tiny_net", "relu_or_square")


@pytest.mark.parametrize("style", sorted(CORRECT))
def test_correct_answers_written_another_way_keep_full_marks(tmp_path, style):
    labs = workspace(tmp_path, FOLDER, CORRECT[style])
    for name, seeds, only in (("trace", (0, 1), None), ("to_static", (0,), STATIC_CASES), ("to_ssa", SEEDS, None),
                              ("capture_report", (1,), CAPTURE_CASES)):
        assert not failures(grade(labs, name, seeds, only)), (style, name)


# ---------------------------------------------------------------- bugs at the corners, in side effects


def test_trace_corner_bugs_each_lose_their_case_on_every_seed(tmp_path):
    """Tensors mapped only at the top level of args (not in lists or kwargs); a note for every
    baked value (also float()/.item()); a dict output left unmapped."""
    labs = workspace(tmp_path, FOLDER, {"tracing.py": [
        ("graph.call(func, tree_map(as_ref, args), tree_map(as_ref, kwargs))",
         "graph.call(func, tuple(as_ref(a) for a in args), kwargs)"),
        ("if func is torch.Tensor.__bool__:", "if True:"),
        ("graph.set_output(tree_map(as_ref, output))",
         "graph.set_output(tuple(as_ref(o) for o in output) if isinstance(output, tuple) else as_ref(output))")]})
    results = grade(labs, "trace", SEEDS)
    assert {case for _, case in failures(results)} == {
        "tensors-in-lists-and-keywords", "notes-none-for-baked-numbers", "dict-output-with-an-input"}
    lost_on_every_seed(results, "notes-none-for-baked-numbers", "float()/.item()")
    lost_on_every_seed(results, "tensors-in-lists-and-keywords", "replay")


def test_trace_with_one_graph_for_all_calls_loses_points(tmp_path):
    """State shared between calls: one module-level graph that every trace appends to."""
    labs = workspace(tmp_path, FOLDER, {"tracing.py": [
        ("    graph = StaticGraph()\n    refs", "    graph = _GRAPH\n    refs"),
        ("from aisys.dy2static.static_graph import Ref, StaticGraph",
         "from aisys.dy2static.static_graph import Ref, StaticGraph\n_GRAPH = StaticGraph()")]})
    lost_on_every_seed(grade(labs, "trace", SEEDS[:2], only=("same-branch", "second-trace-leaves-the-first-alone")),
                       "second-trace-leaves-the-first-alone")


def test_a_replay_that_reruns_the_python_loses_every_case(tmp_path):
    labs = workspace(tmp_path, FOLDER, {"tracing.py": [(
        "    graph.set_output(tree_map(as_ref, output))\n    return graph",
        "    graph.set_output(tree_map(as_ref, output))\n"
        "    graph.__class__ = type('Rerun', (StaticGraph,), {'__call__': lambda self, *xs: fn(*xs)})\n"
        "    return graph")]})
    bad = failures(grade(labs, "trace", (0,)))
    assert len(bad) == len(TraceCheck().cases(np.random.default_rng(0)))
    assert all("ran the Python function again" in message for message in bad.values())


def test_conversion_bugs_lose_their_cases(tmp_path):
    """Nested blocks left unconverted (the if inside the while, the elif); default argument
    values dropped. Then: an if's outputs from the true branch only; a body temporary carried
    as a loop variable; a SyntaxError without the line; closure variables dropped. Then: the
    eager function handed back with `.source` set on it."""
    labs = workspace(tmp_path, FOLDER, {"convert.py": [
        ("_function(f\"_jst_true_{k}\", params, self.block(node.body, set(defined)), outputs)",
         "_function(f\"_jst_true_{k}\", params, node.body, outputs)"),
        ("self.block(node.orelse, set(defined)) or [ast.Pass()]", "node.orelse or [ast.Pass()]"),
        ("_function(f\"_jst_body_{k}\", loop_vars, self.block(node.body, set(defined)), loop_vars)",
         "_function(f\"_jst_body_{k}\", loop_vars, node.body, loop_vars)"),
        ("    func.decorator_list = []\n", "    func.decorator_list = []\n    func.args.defaults = []\n")]})
    nested = ("if-true", "if-in-while", "elif-chain-every-branch", "while-with-temporary-and-default")
    bad = failures(grade(labs, "to_static", (0,), nested))
    assert {case for _, case in bad} == set(nested[1:]), bad

    labs = workspace(tmp_path / "scoping", FOLDER, {"convert.py": [
        ("outputs = _assigned(node.body + node.orelse)", "outputs = _assigned(node.body)"),
        ("loop_vars = [n for n in _assigned(node.body) if n in defined]", "loop_vars = _assigned(node.body)"),
        ('raise SyntaxError(f"line {node.lineno}: `{word}` inside', 'raise SyntaxError(f"`{word}` inside'),
        ("free = list(fn.__code__.co_freevars)", "free = []"),
        ("cells = [c.cell_contents for c in fn.__closure__ or ()]", "cells = []")]})
    scoping = ("if-true", "if-assigns-different-names", "while-with-temporary-and-default",
               "return-in-branch-is-refused", "closure-indented-source")
    bad = {case: message for (_, case), message in failures(grade(labs, "to_static", (1,), scoping)).items()}
    assert set(bad) == set(scoping[1:]), bad
    assert "limit" in bad["closure-indented-source"]   # the closure variable it lost
    assert "not the line" in bad["return-in-branch-is-refused"]

    labs = workspace(tmp_path / "eager", FOLDER, {"convert.py": [(
        "    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))",
        "    fn.source = inspect.getsource(fn)\n    return fn\n    tree = None")]})
    bad = failures(grade(labs, "to_static", (0,), ("if-true", "python-bool-stays-python")))
    assert "changed the function it was given" in bad[(0, "if-true")]
    assert len(bad) == 2


def test_a_return_left_in_a_while_body_loses_its_case_on_every_seed(tmp_path):
    """break and continue refused inside a while, `return` let through (converted away)."""
    labs = workspace(tmp_path, FOLDER, {"convert.py": [(
        '_refuse(node.body, (ast.Return, ast.Break, ast.Continue), "while loop")',
        '_refuse(node.body, (ast.Break, ast.Continue), "while loop")')]})
    results = grade(labs, "to_static", SEEDS, ("return-in-branch-is-refused", "return-in-while-is-refused"))
    lost_on_every_seed(results, "return-in-while-is-refused", "should raise SyntaxError")


def test_exec_in_the_functions_own_globals_loses_points_on_every_seed_and_is_undone(tmp_path):
    """The factory exec'd into fn.__globals__ itself (not a copy): `_jst_factory` lands in the
    bench's module. Every case catches it — the check puts the module back each time."""
    from aisys.dy2static import programs

    labs = workspace(tmp_path, FOLDER, {"convert.py": [
        ("    namespace = dict(fn.__globals__)\n", "    namespace = fn.__globals__\n")]})
    before = dict(vars(programs))
    results = grade(labs, "to_static", SEEDS, ("if-true", "break-is-refused"))
    lost_on_every_seed(results, "if-true", "changed the globals")
    assert "_jst_factory" in failures(results)[(0, "if-true")]
    assert vars(programs) == before


@pytest.mark.parametrize("bug, case_id", [
    # fresh names that collide with names the source already uses (a parameter `c_1`)
    ([("if name not in taken:", "if True:")], "names-that-look-like-ssa"),
    # a φ only for names that existed before the if
    ([("for name in sorted(set(then_env) & set(else_env)):",
       "for name in sorted(set(then_env) & set(else_env) & set(env)):")], "new-name-in-both-branches"),
    # the φ re-evaluates the test with the then-branch's versions instead of reading the saved test
    ([('cond = fresh("cond")', 'cond = fresh("cond")\n                raw_test = __import__("copy").deepcopy(stmt.test)'),
      ("phi = ast.IfExp(ast.Name(cond, ast.Load()),",
       "phi = ast.IfExp(Reads(then_env).visit(__import__('copy').deepcopy(raw_test)),")], "test-reassigned-in-branch"),
    # no φ at all: straight-line code still passes, every join fails
    ([("for name in sorted(set(then_env) & set(else_env)):", "for name in []:")], "article"),
], ids=["name-collision", "phi-for-old-names-only", "phi-re-evaluates-test", "no-phi"])
def test_ssa_bugs_lose_their_case_on_every_seed(tmp_path, bug, case_id):
    lost_on_every_seed(grade(workspace(tmp_path, FOLDER, {"ssa.py": bug}), "to_ssa", SEEDS), case_id)


def test_capture_counting_bugs_lose_their_cases(tmp_path):
    """FX ops counted as call_function only; jit ops counted in the top graph of a traced Module
    (its submodules stay calls) instead of the inlined graph."""
    fx_only = workspace(tmp_path / "fx", FOLDER, {"capture.py": [
        ('return sum(n.op in ("call_function", "call_method", "call_module") for n in gm.graph.nodes)',
         'return sum(n.op == "call_function" for n in gm.graph.nodes)')]})
    top_graph = workspace(tmp_path / "jit", FOLDER, {"capture.py": [("traced.inlined_graph.nodes()", "traced.graph.nodes()")]})
    only = ("method_chain", "tiny_net", "straight")
    assert {case for _, case in failures(grade(fx_only, "capture_report", (0,), only))} == {"method_chain", "tiny_net"}
    assert {case for _, case in failures(grade(top_graph, "capture_report", (0,), only))} == {"tiny_net"}


def test_a_note_where_nothing_was_baked_in_fails():
    """The judge alone: a tracer that always writes a note is caught where nothing branched."""
    check = TraceCheck()
    cases = {c.id: c for c in check.cases(np.random.default_rng(0))}
    output = {"outputs": [[0.0] * 4], "python_calls": 0, "ops": 3, "notes": ["maybe a branch"]}
    for case_id in ("notes-none-without-branch", "notes-none-for-baked-numbers"):
        case = cases[case_id]
        output["outputs"] = [jit_replay(case, k) for k in range(len(case.inputs["replay"]))]
        verdict = check.judge(case, output)
        assert not verdict.passed and "graph.notes" in verdict.message, verdict


def jit_replay(case, k):   # what torch.jit.trace replays, as plain numbers
    from aisys.dy2static.check_tools import flat, tensors
    from aisys.dy2static.trace_checks import jit_trace

    return flat(jit_trace(case)[0](*tensors(case.inputs["replay"][k])), "jit")
