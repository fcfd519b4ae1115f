"""Report formatters: each turns a Report into the text of one file format."""
from __future__ import annotations

from typing import Callable

from aisys.grading.formats.gradescope import render_gradescope
from aisys.grading.formats.json_report import render_json
from aisys.grading.formats.junit import render_junit
from aisys.grading.formats.text import render_text
from aisys.grading.report import Report

FORMATS: dict[str, Callable[[Report], str]] = {"text": render_text, "json": render_json,
                                                "junit": render_junit, "gradescope": render_gradescope}
