"""Lab 05, part 3 — static single assignment (SSA).

A compiler that turns Python into a graph first makes every variable name mean exactly one
value: each name is assigned once. Straight-line code just gets fresh names
(`x = x + 1` → `x_1 = x + 1`). Where two paths join (after an `if`), a variable may hold
either branch's version, so SSA inserts a **φ (phi) function** that picks the one from the
path actually taken:

    def f(a, b):                 def f(a, b):
        x = a * 2                    x_1 = a * 2
        if a > b:                    cond_1 = a > b
            x = x - b                if cond_1:
        else:                            x_2 = x_1 - b
            x = x + b                else:
        return x                         x_3 = x_1 + b
                                     x_4 = x_2 if cond_1 else x_3     # φ(x_2, x_3)
                                     return x_4

Writing φ as `a if cond else b` on a saved condition keeps the code runnable: Python only
reads the version of the branch that ran (this "gated" φ is how graph compilers lower a
join to a select or a cond output). In a static graph every SSA name becomes an edge, and
each φ becomes a Merge (lab 04) or the output of a cond.
"""
from __future__ import annotations

import ast


def to_ssa(source: str) -> str:
    """Rewrite one function (assignments, augmented assignments, if/elif/else, one final
    `return`) into SSA; return its source — the same function name and parameters.

    Rules: every name is assigned exactly once in the result (a parameter counts as
    assigned); each `if` test is first saved in a fresh variable, and the φ reads that saved
    test (the branch may have reassigned what the test read); after each `if`, every
    variable whose version differs between the two branches — also one first assigned in
    both branches — gets a φ assignment `new = then_version if cond else else_version`;
    reads use the current version. A fresh name must never collide with a name the source
    already uses: a parameter may well be called `c_1` or `cond_1`.

    Hint: walk the statements with a dict name → current SSA name; process each branch with a
    copy of it; collect every name in the source first, and skip those when counting up
    `x_1, x_2, ...`.
    """
    # BEGIN SOLUTION
    tree = ast.parse(source)
    func = next(node for node in tree.body if isinstance(node, ast.FunctionDef))
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {a.arg for a in func.args.args}
    counters: dict[str, int] = {}

    def fresh(base: str) -> str:
        while True:
            counters[base] = counters.get(base, 0) + 1
            name = f"{base}_{counters[base]}"
            if name not in taken:
                taken.add(name)
                return name

    class Reads(ast.NodeTransformer):
        def __init__(self, env):
            self.env = env

        def visit_Name(self, node):
            return ast.Name(self.env.get(node.id, node.id), node.ctx) if isinstance(node.ctx, ast.Load) else node

    def block(stmts, env):
        out = []
        for stmt in stmts:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                value = Reads(env).visit(stmt.value)
                name = stmt.targets[0].id
                env[name] = fresh(name)
                out.append(ast.Assign([ast.Name(env[name], ast.Store())], value))
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                name = stmt.target.id
                value = ast.BinOp(ast.Name(env.get(name, name), ast.Load()), stmt.op, Reads(env).visit(stmt.value))
                env[name] = fresh(name)
                out.append(ast.Assign([ast.Name(env[name], ast.Store())], value))
            elif isinstance(stmt, ast.If):
                cond = fresh("cond")
                out.append(ast.Assign([ast.Name(cond, ast.Store())], Reads(env).visit(stmt.test)))
                then_env, else_env = dict(env), dict(env)
                then_body, else_body = block(stmt.body, then_env), block(stmt.orelse, else_env)
                out.append(ast.If(ast.Name(cond, ast.Load()), then_body or [ast.Pass()], else_body))
                for name in sorted(set(then_env) & set(else_env)):
                    if then_env[name] != else_env[name]:
                        env[name] = fresh(name)
                        phi = ast.IfExp(ast.Name(cond, ast.Load()), ast.Name(then_env[name], ast.Load()),
                                        ast.Name(else_env[name], ast.Load()))
                        out.append(ast.Assign([ast.Name(env[name], ast.Store())], phi))
            elif isinstance(stmt, (ast.Return, ast.Expr)):
                out.append(Reads(env).visit(stmt))
            else:
                raise SyntaxError(f"line {stmt.lineno}: {type(stmt).__name__} is not supported by to_ssa")
        return out

    func.body = block(func.body, {a.arg: a.arg for a in func.args.args})
    return ast.unparse(ast.fix_missing_locations(tree))
    # END SOLUTION
