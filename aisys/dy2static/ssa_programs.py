"""Programs for `to_ssa`: the article-style example, fixed corner cases, and a seeded
generator of straight-line / if-else programs. Integers only, so "same results" means
exactly the same. The corners every seed grades:

- names that already look like SSA versions (`c_1`, `cond_1`, `d_2` as parameters or
  locals): a fresh name must not collide with one the source already uses;
- a name first assigned inside both branches (it needs a φ though nothing came before);
- an `if` whose test reads a name the branch reassigns (the φ must use the saved test);
- an elif chain (an `if` nested in an `else`).
"""
from __future__ import annotations

import numpy as np

ARTICLE = '''def f(a, b):
    c = a * 2
    d = b
    if a > b:
        c = c - b
        d = d + 1
    else:
        c = c + b
    d = d * 3 + c
    return (a, b, c, d)
'''

FIXED = {
    "new-name-in-both-branches": '''def f(a, b):
    if a > b:
        m = a - b
        a = a * 2
    else:
        m = b - a
    if m > 3:
        m += 1
    return (a, b, m)
''',
    "test-reassigned-in-branch": '''def f(a, b):
    c = a
    if a > b:
        a = b - 1
        c = a * 2
    else:
        c = a - b
    return (a, b, c)
''',
    "elif-chain": '''def f(a, b):
    s = a + b
    if s > 4:
        t = s * 2
    elif s < -4:
        t = s - 7
        s -= 1
    else:
        t = 0
        s *= 3
    return (a, b, s, t)
''',
}

PLAIN = (("a", "b"), ("c", "d"))
LOOKALIKES = (("a", "c_1", "cond_1"), ("c", "d", "d_2"))


def random_program(rng: np.random.Generator, statements: int = 6, max_depth: int = 2,
                   branches: bool = True, names: tuple = PLAIN) -> str:
    """`def f(*params)` that first defines its locals, then random assignments, augmented
    assignments and if/else (at least one `if` when `branches`); returns every name."""
    params, local = names
    every = params + local
    lines = [f"def f({', '.join(params)}):"]
    for k, name in enumerate(local):
        lines.append(f"    {name} = {params[k % len(params)]} + {params[(k + 1) % len(params)]} - {k}")

    def expr() -> str:
        u, w = rng.choice(every, size=2)
        k = int(rng.integers(1, 6))
        return [f"{u} + {w}", f"{u} - {w}", f"{u} * {k % 3 + 1}", f"{u} - {k}"][int(rng.integers(0, 4))]

    def test() -> str:
        u, w = rng.choice(every, size=2)
        return f"{u} > {w}" if rng.random() < 0.5 else f"{u} < {int(rng.integers(-5, 6))}"

    def block(indent: str, n: int, depth: int) -> None:
        for _ in range(n):
            roll, target = rng.random(), str(rng.choice(every))
            if branches and depth < max_depth and roll < 0.3:
                lines.append(f"{indent}if {test()}:")
                block(indent + "    ", int(rng.integers(1, 4)), depth + 1)
                if rng.random() < 0.75:
                    lines.append(f"{indent}else:")
                    block(indent + "    ", int(rng.integers(1, 4)), depth + 1)
            elif roll < 0.45:
                lines.append(f"{indent}{target} {rng.choice(['+=', '-=', '*='])} {rng.choice(every)}")
            else:
                lines.append(f"{indent}{target} = {expr()}")

    block("    ", statements, 0)
    if branches and not any(line.lstrip().startswith("if ") for line in lines):
        target = str(rng.choice(local))
        lines += [f"    if {test()}:", f"        {target} = {expr()}", "    else:", f"        {target} -= 1"]
    lines.append(f"    return ({', '.join(every)})")
    return "\n".join(lines) + "\n"


def arity(source: str) -> int:
    """How many parameters `def f` of a program takes."""
    head = source.split("(", 1)[1].split(")", 1)[0]
    return len([p for p in head.split(",") if p.strip()])


def run_source(source: str, inputs: list[list[int]]) -> list:
    """Execute `def f` from `source` on each argument list (in the grading child for a
    student's result; in the parent for our own programs only)."""
    namespace: dict = {}
    exec(compile(source, "<program>", "exec"), namespace)
    return [list(namespace["f"](*args)) for args in inputs]
