"""Strings from student code or torch are an adversary's data: make them safe to show.

`clean` is applied once, where a student-provided string enters a report (messages, captured
output): terminal escapes (ANSI CSI, OSC title changes, …) and other control characters are
removed, lone surrogates become U+FFFD, so no format — terminal, text, JSON, XML — can be
hijacked or crash. Rich never parses such a string as markup: it is always wrapped in
`rich.text.Text` (see `aisys.ui.safe`).
"""
from __future__ import annotations

import re

# ESC [ ... final byte | ESC ] ... (BEL or ESC \) | ESC P/X/^/_ ... ESC \ | a lone ESC + one char
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                      r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b.?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean(text: object, limit: int | None = None) -> str:
    """`text` as a str without escapes, control characters (tabs and newlines stay) or
    unpaired surrogates; cut to `limit` characters when given."""
    if not isinstance(text, str):
        text = str(text)
    text = _SURROGATES.sub("\ufffd", text)
    text = _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))
    return text if limit is None or len(text) <= limit else text[:limit] + "…"
