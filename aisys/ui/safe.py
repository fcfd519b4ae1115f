"""Showing strings that came from student code or torch: never as rich markup.

A gloo error (`[/pytorch/…/pair.cc:553]`) or a student's message with `[red]` or an escape
sequence in it would otherwise be parsed by rich — crashing the demo (MarkupError) or
rewriting the terminal. Every such string goes through `safe_text` (or `escape` where
it must sit inside a markup string of ours).
"""
from __future__ import annotations

from rich.markup import escape as _escape
from rich.text import Text

from aisys.grading.sanitize import clean


def safe_text(value: object, style: str = "") -> Text:
    """A rich Text holding `value` as plain characters (escapes and control bytes removed)."""
    return Text(clean(value), style=style)


def escape(value: object) -> str:
    """`value` cleaned and markup-escaped, to embed in a markup string."""
    return _escape(clean(value))
