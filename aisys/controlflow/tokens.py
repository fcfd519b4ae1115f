"""What flows along an edge of a dataflow graph: a token.

A token carries a value and a *tag*: the stack of execution frames it lives in, each with
its iteration id. Outside any loop the tag is `ROOT = (("main", 0),)`. Entering a loop
frame pushes `(frame, 0)`; NextIteration bumps the innermost id; Exit pops it. Two tokens
meet at an op only when their tags are equal, so iteration 3 of a loop never mixes with
iteration 4, and the inner loop of outer iteration 2 never mixes with that of iteration 5.

A *dead* token says "this edge will carry nothing in this tag": the output of the side of
a Switch that was not taken. Ops that receive a dead input emit dead outputs without
computing, so an untaken branch is walked but never executed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Tag = tuple[tuple[str, int], ...]
ROOT: Tag = (("main", 0),)


def frame_of(tag: Tag) -> str:
    """The frame path of a tag, e.g. 'main/while_0/while_1'."""
    return "/".join(name for name, _ in tag)


def iteration_of(tag: Tag) -> int:
    """The iteration id in a tag's innermost frame."""
    return tag[-1][1]


@dataclass(frozen=True)
class Token:
    value: Any
    tag: Tag = ROOT
    dead: bool = False

    @property
    def frame(self) -> str:
        return frame_of(self.tag)

    @property
    def iteration(self) -> int:
        return iteration_of(self.tag)

    def to_plain(self) -> dict:
        return {"value": self.value, "tag": [[f, i] for f, i in self.tag], "dead": self.dead}

    @classmethod
    def from_plain(cls, data: dict) -> "Token":
        return cls(data["value"], tuple((str(f), int(i)) for f, i in data["tag"]), bool(data["dead"]))


def show_tag(tag: Tag) -> str:
    """'main:0/while_0:3' — each frame with its iteration id."""
    return "/".join(f"{name}:{i}" for name, i in tag)


def dead(tag: Tag = ROOT) -> Token:
    return Token(None, tag, True)
