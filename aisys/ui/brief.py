"""A lab brief (README.md / README.zh.md) rendered in the terminal.

Rich wraps text only at spaces, which suits English and fails Chinese: a run of CJK
characters glued to a Latin term ("死令牌（dead token）") has one break opportunity — the space
inside the term — so the term gets split across lines. While a brief is printed, lines
may break between any two CJK characters instead, and a short term in full-width brackets
is kept whole.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Iterator

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import Markdown

_CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CLOSE = "，。、；：！？）」』】》〉”’…"     # never starts a line: glued to what precedes it
_OPEN = "（「『【《〈“‘"                   # never ends a line: glued to what follows it
# a bracketed short term, one CJK character, or a run of anything else — each with its spaces
# and the punctuation that must stay beside it
_WORD = re.compile(rf"\s*(?:[（【「『《][^（）【】「」『』《》\n]{{1,28}}[）】」』》][{_CLOSE}]*"
                   rf"|[{_OPEN}]*[{_CJK}][{_CLOSE}]*|[{_OPEN}]*[^\s{_CJK}{_OPEN}{_CLOSE}]+[{_CLOSE}]*|[{_OPEN}{_CLOSE}]+)\s*")


class Brief:
    """Markdown that wraps CJK text per character when rendered."""

    def __init__(self, text: str):
        self.markdown = Markdown(text, code_theme="monokai")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        with cjk_wrapping():
            yield from console.render(self.markdown, options)


def brief(path: Path) -> Brief:
    return Brief(path.read_text(encoding="utf-8"))


def _words(text: str) -> Iterator[tuple[int, int, str]]:
    position = 0
    match = _WORD.match(text, position)
    while match is not None and match.end() > position:
        yield match.start(), match.end(), match.group(0)
        position = match.end()
        match = _WORD.match(text, position)


@contextlib.contextmanager
def cjk_wrapping() -> Iterator[None]:
    """Let rich's line breaker see CJK break opportunities (restored afterwards)."""
    try:
        from rich import _wrap
    except ImportError:      # a rich without this module: plain wrapping
        yield
        return
    original = getattr(_wrap, "words", None)
    if original is None:
        yield
        return
    _wrap.words = _words
    try:
        yield
    finally:
        _wrap.words = original
