"""`--format json`: the report model as JSON (GRADING.md's schema); timings live in *duration_s."""
from __future__ import annotations

import json

from aisys.grading.report import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
