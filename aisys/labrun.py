"""`aisys lab run`: the options a demo may use, and the call into a lab's demo module.

A demo runs the student's own code in this process (it is their machine and their code), so
it gets a wall-clock limit: an endless loop in an exercise ends the demo with a line that
names the exercise, instead of hanging. The exit code says whether the student's files
could be used: 1 when one did not import or the demo ran out of time, else 0 (stubs are fine).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from aisys.catalog import Lab
from aisys.grading.execute import time_limit
from aisys.ui.attempt import current_exercise, had_broken_file
from aisys.ui.safe import escape
from aisys.workspace import Student

DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class DemoOptions:
    solution: bool = False
    dot: Path | None = None        # lab 01: write the forward graph as Graphviz DOT
    trace: Path | None = None      # lab 06: write timelines as Chrome trace JSON
    nproc: int = 2                 # labs 07-09: ranks to spawn
    backend: str = "auto"          # auto | gloo | nccl
    device: str = "auto"           # auto | cpu | cuda
    timeout: float = DEFAULT_TIMEOUT


class DemoTimeout(BaseException):
    """Raised in the demo when its time is up (BaseException: `except Exception` can't eat it)."""


def run_demo(lab: Lab, student: Student, console: Console, options: DemoOptions) -> int:
    """Each lab's `demo.run(student, console, options)` draws what the student's code does.
    Returns the exit code (see the module docstring)."""
    demo = importlib.import_module(lab.demo_module)
    try:
        with time_limit(options.timeout, DemoTimeout):
            demo.run(student, console, options)
    except DemoTimeout:
        where = current_exercise(student)
        suspect = f" — is there an endless loop in {escape(student.where(where))}?" if where else ""
        console.print(f"[red]the demo ran past {options.timeout:g} s and was stopped{suspect}[/]")
        return 1
    return 1 if had_broken_file(student) else 0
