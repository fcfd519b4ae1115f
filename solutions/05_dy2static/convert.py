"""Lab 05, part 2 — source conversion: rewrite the program, keep its control flow.

Instead of running the function, read it: `inspect.getsource` → `ast.parse` → an abstract
syntax tree (AST) → rewrite every `if` and `while` into calls of functional control flow →
`ast.unparse` → compile. This is what MindSpore, Paddle's dy2static and TorchScript do:
the branch and the loop survive into the static program, whatever the example input was.

    if x.sum() > 0:                     def _jst_true_0(y):
        y = relu(x)                         y = relu(x)
    else:                     ──→           return (y,)
        y = x * x                       def _jst_false_0(y):
                                            y = x * x
                                            return (y,)
                                        (y,) = _jst.convert_cond(x.sum() > 0, _jst_true_0,
                                                                 _jst_false_0, (y,))

The runtime (`aisys.dy2static.runtime`, imported as `_jst`) decides at run time: a tensor
condition becomes `torch.cond` / `torch.while_loop` (one graph op with subgraphs), a Python
value stays a Python `if`/`while`. Variables *assigned* in a branch or loop body become the
outputs (and, if they existed before, the inputs) of the generated functions; variables
only *read* are closures. `break`, `continue` and `return` inside a converted block have no
functional form here: refuse them with a `SyntaxError` that names the construct and its
line (in the function's source, counting its `def` as line 1, or in its file).
"""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from typing import Callable

from aisys.dy2static import runtime


def to_static(fn: Callable) -> Callable:
    """A converted copy of `fn`: every `if`/`while` rewritten to `_jst.convert_cond` /
    `_jst.convert_while`, everything else unchanged. The result has `.source` (str), the
    generated Python source, and returns what `fn` returns. `fn` itself stays as it was
    (build a new function; do not set attributes on `fn`). An `elif` is an `if` nested in
    the `else` branch; default argument values and closure variables keep working.

    Steps: parse `inspect.getsource(fn)` (dedented); in the FunctionDef, walk each block in
    order, keeping the set of names defined so far (the parameters, then every assignment);
    replace each `If` and `While` as in the module docstring (convert nested blocks first);
    drop decorators; `ast.unparse` for `.source`. To run it, wrap the function in a factory
    `def _jst_factory(_jst, *closure_names): <function>; return <name>`, `compile` + `exec`
    that in a copy of `fn.__globals__`, and call the factory with the runtime and the closure
    values (torch's compiler looks globals up by module name, so `_jst` must not be a global).

    Hint: the names a block assigns are the `ast.Name` nodes with `ast.Store` context found
    by `ast.walk` (skip the generated `_jst_*` helpers); the generated functions must
    `return (a, b,)` even when there is one name, and the call site assigns a tuple target.
    """
    # BEGIN SOLUTION
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef):
        raise SyntaxError(f"to_static needs a plain function, got {type(func).__name__}")
    func.decorator_list = []
    params = {a.arg for a in func.args.args + func.args.kwonlyargs}
    func.body = _Converter().block(func.body, params)
    # a factory makes _jst and fn's closure variables closures of the new function: torch's
    # compiler guards on globals by module name, so extra names must not be globals
    free = list(fn.__code__.co_freevars)
    factory = _function("_jst_factory", ["_jst", *free], [func], [])
    factory.body[-1] = ast.Return(ast.Name(func.name, ast.Load()))
    module = ast.fix_missing_locations(ast.Module([factory], type_ignores=[]))
    namespace = dict(fn.__globals__)
    exec(compile(module, f"<to_static {fn.__name__}>", "exec"), namespace)
    cells = [c.cell_contents for c in fn.__closure__ or ()]
    converted = functools.wraps(fn)(namespace["_jst_factory"](runtime, *cells))
    converted.source = ast.unparse(func)
    return converted
    # END SOLUTION


# BEGIN SOLUTION: # (your helper functions for to_static may go here)
def _assigned(stmts: list[ast.stmt]) -> list[str]:
    names: dict[str, None] = {}
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and not node.id.startswith("_jst"):
                names[node.id] = None
    return list(names)


def _refuse(stmts: list[ast.stmt], kinds: tuple, where: str) -> None:
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, kinds):
                word = type(node).__name__.lower()
                raise SyntaxError(f"line {node.lineno}: `{word}` inside a converted {where} is not supported")


def _names(names: list[str], ctx) -> ast.Tuple:
    return ast.Tuple([ast.Name(n, ctx()) for n in names], ctx())


def _function(name: str, params: list[str], body: list[ast.stmt], returns: list[str]) -> ast.FunctionDef:
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[], kw_defaults=[],
                         defaults=[])
    return ast.FunctionDef(name, args, body + [ast.Return(_names(returns, ast.Load))], [], None, type_params=[])


class _Converter:
    def __init__(self) -> None:
        self.count = 0

    def block(self, stmts: list[ast.stmt], defined: set[str]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, ast.If):
                out += self.convert_if(stmt, set(defined))
            elif isinstance(stmt, ast.While):
                out += self.convert_while(stmt, set(defined))
            else:
                out.append(stmt)
            defined |= set(_assigned([stmt]))
        return out

    def convert_if(self, node: ast.If, defined: set[str]) -> list[ast.stmt]:
        _refuse(node.body + node.orelse, (ast.Return, ast.Break, ast.Continue), "if")
        k, self.count = self.count, self.count + 1
        outputs = _assigned(node.body + node.orelse)
        one_sided = [n for n in outputs if n not in defined and
                     (n not in _assigned(node.body) or n not in _assigned(node.orelse))]
        if one_sided:
            raise SyntaxError(f"line {node.lineno}: {one_sided[0]!r} is assigned in only one branch")
        params = [n for n in outputs if n in defined]
        true_fn = _function(f"_jst_true_{k}", params, self.block(node.body, set(defined)), outputs)
        false_fn = _function(f"_jst_false_{k}", params, self.block(node.orelse, set(defined)) or [ast.Pass()],
                             outputs)
        call = ast.Call(ast.Attribute(ast.Name("_jst", ast.Load()), "convert_cond", ast.Load()),
                        [node.test, ast.Name(true_fn.name, ast.Load()), ast.Name(false_fn.name, ast.Load()),
                         _names(params, ast.Load)], [])
        return [true_fn, false_fn, ast.Assign([_names(outputs, ast.Store)], call)]

    def convert_while(self, node: ast.While, defined: set[str]) -> list[ast.stmt]:
        if node.orelse:
            raise SyntaxError(f"line {node.lineno}: `while ... else` is not supported")
        _refuse(node.body, (ast.Return, ast.Break, ast.Continue), "while loop")
        k, self.count = self.count, self.count + 1
        loop_vars = [n for n in _assigned(node.body) if n in defined]
        cond_fn = _function(f"_jst_cond_{k}", loop_vars, [], [])
        cond_fn.body = [ast.Return(node.test)]
        body_fn = _function(f"_jst_body_{k}", loop_vars, self.block(node.body, set(defined)), loop_vars)
        call = ast.Call(ast.Attribute(ast.Name("_jst", ast.Load()), "convert_while", ast.Load()),
                        [ast.Name(cond_fn.name, ast.Load()), ast.Name(body_fn.name, ast.Load()),
                         _names(loop_vars, ast.Load)], [])
        return [cond_fn, body_fn, ast.Assign([_names(loop_vars, ast.Store)], call)]
# END SOLUTION
