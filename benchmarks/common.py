"""Timing helpers shared by every benchmark: medians with spread, one row type, the table, JSON.

A benchmark row is a plain dict, so topic scripts written by anyone can produce one:

    {"name": "aisys lab list", "value": 0.21, "reference": 0.05, "ratio": 4.2, "unit": "s",
     "reference_name": "python -c pass", "spread": [0.19, 0.25], "runs": 5, "note": "..."}

`value` is what was measured, `reference` what it is compared against *in the same run on the
same machine* (another program, a bound, a formula, a goal — `reference_name` says which),
`ratio = value / reference`. `spread` is [min, max] of the runs behind the median `value`.
A row with `error` set says why a number is missing; the runner never crashes on one.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ("name", "value", "reference", "ratio", "unit")


@dataclass
class Timing:
    """Wall times (seconds) of several runs of one thing."""
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> list[float]:
        return [min(self.runs), max(self.runs)]


def measure(fn: Callable[[], Any], repeats: int, warmup: int = 1,
            setup: Callable[[], Any] | None = None) -> Timing:
    """Call `fn` `warmup` times untimed, then `repeats` times timed (perf_counter);
    `setup` (e.g. `gc.collect`) runs before each timed call, outside the timing."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return Timing(runs)


def measure_interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1,
                        setup: Callable[[], Any] | None = None) -> dict[str, Timing]:
    """Like `measure` for several things at once, taking turns (a, b, c, a, b, c, ...), so a
    burst of load from other users of a shared machine hits every side of a ratio alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    runs: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(max(1, repeats)):
        for key, fn in fns.items():
            if setup is not None:
                setup()
            start = time.perf_counter()
            fn()
            runs[key].append(time.perf_counter() - start)
    return {key: Timing(values) for key, values in runs.items()}


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for timed child processes: a fixed width so rich lays out the same."""
    return {**os.environ, "COLUMNS": "120", "PYTHONDONTWRITEBYTECODE": "0", **extra}


def command(argv: Sequence[str], cwd: Path = REPO, timeout: float = 600.0) -> Callable[[], None]:
    """A callable that runs one whole process (output discarded) and raises if it fails."""
    def once() -> None:
        proc = subprocess.run(list(argv), cwd=cwd, env=bench_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace')[-500:]}")
    return once


def time_command(argv: Sequence[str], repeats: int, warmup: int = 1, cwd: Path = REPO,
                 timeout: float = 600.0) -> Timing:
    """Wall time of a whole process, start to exit."""
    return measure(command(argv, cwd, timeout), repeats, warmup)


def make_row(name: str, value: float | None, reference: float | None, unit: str, *,
             reference_name: str = "", timing: Timing | None = None, note: str = "",
             **extra: Any) -> dict:
    """One row; the ratio is computed here so every topic computes it the same way."""
    if timing is not None and value is None:
        value = timing.median
    ratio = (value / reference) if value is not None and reference not in (None, 0) else None
    row = {"name": name, "value": value, "reference": reference, "ratio": ratio, "unit": unit,
           "reference_name": reference_name, "note": note}
    if timing is not None:
        row.update(spread=timing.spread, runs=len(timing.runs))
    row.update(extra)
    return row


def error_row(name: str, error: str) -> dict:
    """A row that says why a number is missing (a module that failed, a lab not built yet)."""
    return {"name": name, "value": None, "reference": None, "ratio": None, "unit": "",
            "reference_name": "", "note": "", "error": error}


def normalize(raw: Any, topic: str) -> dict:
    """Check a row from any topic script against the schema; a bad row becomes an error row."""
    if not isinstance(raw, dict) or any(key not in raw for key in REQUIRED):
        return error_row(f"{topic}: malformed row", f"expected a dict with {REQUIRED}, got {raw!r:.200}")
    row = {**raw, "topic": topic}
    value, reference = row.get("value"), row.get("reference")
    if row.get("ratio") is None and isinstance(value, (int, float)) and isinstance(reference, (int, float)) \
            and reference:
        row["ratio"] = value / reference
    row.setdefault("reference_name", "")
    row.setdefault("note", "")
    return row


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict:
    """What the numbers were measured on (the JSON keeps it next to the rows)."""
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "executable": sys.executable}


def write_json(path: Path, rows: list[dict], meta: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def fmt(value: Any, unit: str = "") -> str:
    """Human units: seconds as s/ms/µs, bytes as MB, plain numbers to 3 significant digits."""
    if not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    if unit == "s":
        if abs(value) >= 1:
            return f"{value:.2f} s"
        if abs(value) >= 1e-3:
            return f"{value * 1e3:.1f} ms"
        return f"{value * 1e6:.0f} µs"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value)}{(' ' + unit) if unit else ''}"
    return f"{value:.3g}{(' ' + unit) if unit else ''}"


def status(row: dict) -> str:
    """'skipped' for a row that could not apply here (no GPU, lab not built), else 'error'."""
    error = row.get("error", "")
    return "skipped" if error.startswith(("skipped", "lab not available")) else "error"


def table(rows: list[dict], title: str = "aisys benchmarks"):
    """The rich table the runner prints (and RESULTS.md is made from)."""
    from rich.table import Table

    out = Table(title=title, title_justify="left", show_lines=False)
    for column in ("topic", "row", "measured", "spread", "reference", "vs", "ratio", "note"):
        out.add_column(column, overflow="fold", no_wrap=column in ("measured", "reference", "ratio"))
    for row in rows:
        if row.get("error"):
            color = "yellow" if status(row) == "skipped" else "red"
            out.add_row(row.get("topic", ""), row["name"], f"[{color}]{status(row)}[/]", "", "", "", "—",
                        f"[{color}]{row['error'][:200]}[/]")
            continue
        out.add_row(*_cells(row))
    return out


def _cells(row: dict) -> list[str]:
    """A measured row's cells, in the column order both the rich and the markdown table use."""
    unit = row.get("unit", "")
    spread = row.get("spread")
    spread_text = f"{fmt(spread[0], unit)}–{fmt(spread[1], unit)} (n={row.get('runs', '?')})" if spread else ""
    ratio = row.get("ratio")
    return [row.get("topic", ""), row["name"], fmt(row["value"], unit), spread_text,
            fmt(row["reference"], unit), row.get("reference_name", ""),
            "—" if ratio is None else f"{ratio:.3g}×", row.get("note", "")]


def markdown(rows: list[dict]) -> str:
    """The same table as GitHub markdown (for RESULTS.md / the README)."""
    lines = ["| topic | row | measured | spread (min–max, n) | reference | vs | ratio | note |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.get("error"):
            lines.append(f"| {row.get('topic', '')} | {row['name']} | {status(row)} | | | | — | {row['error'][:160]} |")
            continue
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in _cells(row)) + " |")
    return "\n".join(lines) + "\n"
