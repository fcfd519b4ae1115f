"""`aisys lab run`: the options a demo may use, and the call into a lab's demo module."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from aisys.catalog import Lab
from aisys.workspace import Student


@dataclass(frozen=True)
class DemoOptions:
    solution: bool = False
    dot: Path | None = None        # lab 01: write the forward graph as Graphviz DOT
    trace: Path | None = None      # lab 06: write timelines as Chrome trace JSON
    nproc: int = 2                 # labs 07-08: ranks to spawn
    backend: str = "auto"          # auto | gloo | nccl
    device: str = "auto"           # auto | cpu | cuda


def run_demo(lab: Lab, student: Student, console: Console, options: DemoOptions) -> None:
    """Each lab's `demo.run(student, console, options)` draws what the student's code does."""
    importlib.import_module(lab.demo_module).run(student, console, options)
