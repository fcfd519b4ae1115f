"""Lab 04, part 1 — the five firing rules that give a dataflow graph control flow.

A dataflow graph has no program counter: an op runs when its inputs are there. TensorFlow
(and the article 计算图的控制流实现) builds `if` and `while` from five small primitives
whose *firing rules* differ from ordinary ops:

    Switch(data, pred)  → data on the true side or the false side; a dead token on the other
    Merge(a, b, ...)    → fires on the FIRST live input (it does not wait for the others)
    Enter(x, frame)     → moves x into a child execution frame, iteration 0
    Exit(x)             → moves x back out to the parent frame
    NextIteration(x)    → passes x to iteration i+1 of the same frame

Every value travels as a `Token(value, tag, dead)` (`aisys.controlflow.tokens`). The tag is
a stack of (frame, iteration) pairs: `(("main", 0),)` at the top level,
`(("main", 0), ("while_0", 3))` in iteration 3 of a loop. Dead tokens mark the untaken side
of a Switch; ordinary ops turn dead inputs into dead outputs without computing, so dead
tokens flow through a whole untaken branch until a Merge discards them.

The interpreter (`aisys.controlflow.interpreter.execute`) calls these functions; they only
look at tokens and return tokens.
"""
from __future__ import annotations

from aisys.controlflow.tokens import Token


def switch(data: Token, pred: Token) -> tuple[Token, Token]:
    """Route `data` by `pred`: return `(false_side, true_side)`.

    The chosen side carries `data` (same value, same tag); the other side carries a dead
    token with the same tag and no value (`Token(None, tag, dead=True)`). If `data` or `pred`
    is dead, *both* sides are dead — that is how deadness spreads into a nested branch.
    Deadness is the `dead` flag, never the value: a live 0, 0.0 or False is routed like any
    other value.

    Hint: `Token(None, data.tag, dead=True)`; test `bool(pred.value)`.
    """
    # BEGIN SOLUTION
    dead = Token(None, data.tag, True)
    if data.dead or pred.dead:
        return dead, dead
    return (dead, data) if bool(pred.value) else (data, dead)
    # END SOLUTION


def merge(inputs: list[Token | None]) -> Token | None:
    """Decide whether a Merge fires, given what has arrived so far for one tag.

    `inputs[k]` is the token on input k, or None if nothing has arrived there yet. Fire (return
    a token) as soon as any arrived input is live — live means `not token.dead`, whatever
    its value (0 and False are live values): forward the first live one unchanged. If every
    input has arrived and all are dead, return a dead token with their tag and no value
    (the whole join was untaken). Otherwise return None: wait. Leave the `inputs` list as
    it is.

    Waiting for *all* inputs would be wrong: a loop's Merge joins the value entering the loop
    with the value coming back from NextIteration, and the back edge only exists after the
    Merge has fired — it would wait forever.

    Hint: scan for the first live token; then check whether any input is still None.
    """
    # BEGIN SOLUTION
    arrived = [t for t in inputs if t is not None]
    for token in arrived:
        if not token.dead:
            return token
    if arrived and len(arrived) == len(inputs):
        return Token(None, arrived[0].tag, True)
    return None
    # END SOLUTION


def enter(token: Token, frame: str) -> Token:
    """Move `token` into the child frame `frame`: push `(frame, 0)` onto its tag.

    The value and deadness are unchanged. Because the new tag keeps the parent's tag
    underneath, the inner loop of outer iteration 2 is a different frame instance from the
    inner loop of outer iteration 3, and their tokens never meet. A frame name may already
    be on the tag (a loop inside a loop built by the same code): push it again anyway.

    Hint: `token.tag + ((frame, 0),)`.
    """
    # BEGIN SOLUTION
    return Token(token.value, token.tag + ((frame, 0),), token.dead)
    # END SOLUTION


def exit_(token: Token) -> Token | None:
    """Leave the innermost frame: pop it off the tag.

    A live token (any value, 0 included) leaves with the parent's tag: only the innermost
    (frame, iteration) pair goes, even when an outer frame has the same name. A dead token
    does not leave at all (return None): in every iteration where the loop goes on, the
    Switch sends a dead token towards Exit, and only the final, live one may reach the code
    after the loop.

    Hint: `token.tag[:-1]`.
    """
    # BEGIN SOLUTION
    if token.dead:
        return None
    return Token(token.value, token.tag[:-1])
    # END SOLUTION


def next_iteration(token: Token) -> Token | None:
    """Send a live token to the next iteration: bump the innermost iteration id by one
    (only the innermost pair, even when an outer frame has the same name).

    A dead token (the body of the last iteration, after the predicate said stop) is
    dropped: return None. Sending it round again would run the loop forever on dead tokens.

    Hint: `frame, i = token.tag[-1]`, then `token.tag[:-1] + ((frame, i + 1),)`.
    """
    # BEGIN SOLUTION
    if token.dead:
        return None
    frame, i = token.tag[-1]
    return Token(token.value, token.tag[:-1] + ((frame, i + 1),))
    # END SOLUTION
