"""A lab brief (README.md / README.zh.md) rendered in the terminal."""
from __future__ import annotations

from pathlib import Path

from rich.markdown import Markdown


def brief(path: Path) -> Markdown:
    return Markdown(path.read_text(encoding="utf-8"), code_theme="monokai")
