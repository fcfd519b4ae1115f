"""The benchmark runner: `python -m benchmarks [--quick] [--only NAME] [--json FILE]`.

Every topic script (`benchmarks/<topic>.py`, with `main(quick=False) -> list[row dict]`)
runs in its own child process with a time limit, so a topic that crashes, hangs or leaves
torch.distributed state behind costs its own rows only: a missing or failing module becomes
an error row and the runner goes on. The rows are printed as one rich table and written as
JSON (`--json FILE`) together with the machine and its load average —
on a shared machine the load says how much to trust a number.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (REPO, error_row, load_average, machine, markdown, normalize, table,
                               write_json)

TOPICS = ("cli_startup", "grading", "classroom", "autodiff", "scheduling", "data_parallel", "tensor_parallel",
          "pipeline_parallel")
EXTRA_TOPICS = ("gpu",)          # run only when named: it skips itself without CUDA
TOPIC_LIMIT_S = {False: 300.0, True: 90.0}   # per topic, full / --quick
SLOW_TOPIC_LIMIT_S = {"grading": 400.0, "classroom": 500.0}       # full mode: 2-3 whole `aisys check` runs
RUN_BUDGET_S = {False: 1500.0, True: 240.0}   # the whole runner: under 25 min / 4 min


def call_topic(name: str, quick: bool) -> list[dict]:
    """Import benchmarks.<name> and call its main(), passing quick= if it takes it."""
    module = importlib.import_module(f"benchmarks.{name}")
    main = getattr(module, "main")
    params = inspect.signature(main).parameters
    rows = main(quick=quick) if "quick" in params else main()
    return [normalize(row, name) for row in rows or []]


def run_topic(name: str, quick: bool, limit: float) -> list[dict]:
    """Run one topic in a child process; its rows, or one error row saying what went wrong."""
    if not (REPO / "benchmarks" / f"{name}.py").is_file():
        return [normalize(error_row(f"{name}", f"benchmarks/{name}.py is missing (not written yet)"), name)]
    with tempfile.TemporaryDirectory(prefix="aisys-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        argv = [sys.executable, "-m", "benchmarks", "--child", name, "--json", str(out)]
        try:
            proc = subprocess.run(argv + (["--quick"] if quick else []), cwd=REPO, capture_output=True,
                                  text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return [normalize(error_row(name, f"did not finish within {limit:.0f} s; killed"), name)]
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return [normalize(error_row(name, f"exit {proc.returncode}: {' / '.join(tail)[:400]}"), name)]
        return json.loads(out.read_text())["rows"]


def run_child(name: str, quick: bool, json_path: Path) -> None:
    """Inside the child: run the topic in this process and write its rows."""
    try:
        rows = call_topic(name, quick)
    except Exception as err:  # the parent shows it as an error row
        rows = [normalize(error_row(name, f"{type(err).__name__}: {err}"), name)]
    write_json(json_path, rows, {"topic": name})


def run_standalone(name: str, quick: bool = False) -> list[dict]:
    """`python -m benchmarks.<topic>`: run one topic in this process and print its table."""
    rows = call_topic(name, quick)
    wide_console().print(table(rows, title=f"aisys benchmarks: {name}"))
    return rows


def wide_console():
    """A rich console; when writing to a file or pipe, wide enough for the table's notes."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def run_all(names: list[str], quick: bool, console) -> tuple[list[dict], dict]:
    start, started = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    rows: list[dict] = []
    topics_meta = {}
    for name in names:
        spent = time.perf_counter() - start
        left = RUN_BUDGET_S[quick] - spent
        if left < 8:
            rows.append(normalize(error_row(name, f"skipped: the runner's {RUN_BUDGET_S[quick]:.0f} s budget is spent"),
                                  name))
            continue
        load_before = load_average()
        t0 = time.perf_counter()
        with console.status(f"benchmark {name} …"):
            limit = TOPIC_LIMIT_S[quick] if quick else SLOW_TOPIC_LIMIT_S.get(name, TOPIC_LIMIT_S[quick])
            got = run_topic(name, quick, min(limit, left))
        took = time.perf_counter() - t0
        topics_meta[name] = {"wall_s": round(took, 2), "load_before": load_before, "load_after": load_average()}
        console.print(f"  {name}: {len(got)} row(s) in {took:.1f} s (load {load_before} → {load_average()})")
        rows.extend(got)
    meta = {**machine(), "quick": quick, "started": started,
            "wall_s": round(time.perf_counter() - start, 2), "topics": topics_meta}
    return rows, meta


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: the whole run under 2 minutes")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only this topic (repeatable): {', '.join(TOPICS + EXTRA_TOPICS)}")
    parser.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "aisys-benchmarks.json",
                        help="where to write the rows (default: aisys-benchmarks.json in the temp dir)")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        run_child(args.child, args.quick, args.json)
        return 0
    console = wide_console()
    names = args.only or list(TOPICS)
    unknown = [n for n in names if n not in TOPICS + EXTRA_TOPICS]
    if unknown:
        console.print(f"[red]unknown topic(s): {', '.join(unknown)}[/] — choose from "
                      f"{', '.join(TOPICS + EXTRA_TOPICS)}")
        return 2
    rows, meta = run_all(names, args.quick, console)
    console.print(table(rows))
    console.print(f"[dim]{meta['wall_s']:.0f} s in all on {meta['cpus']} CPU(s), load now {load_average()}; "
                  f"rows written to {args.json}[/]")
    write_json(args.json, rows, meta)
    if args.markdown:
        args.markdown.write_text(markdown(rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
