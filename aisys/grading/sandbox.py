"""Grade one lab in a fresh session: the short way to run a lab's cases in isolation.

`run_child(lab, labs_dir, cases, timeout)` starts a grading session (the fork server,
sandboxed when this machine can), grades the one lab and closes it. `aisys check` keeps one
session for all the labs it grades (see `runner`); tests and tools use this.
"""
from __future__ import annotations

from pathlib import Path

from aisys.catalog import Lab
from aisys.grading.isolation import Isolation, choose
from aisys.grading.session import ChildRun, GradingSession, SessionError, address_limit
from aisys.grading.spec import Case

__all__ = ["ChildRun", "run_child", "address_limit"]


def run_child(lab: Lab, labs_dir: Path, cases: list[Case], timeout: float,
              isolation: Isolation | None = None) -> ChildRun:
    """Run `cases` of `lab` on the code in `labs_dir`; what came back, and how it ended."""
    try:
        with GradingSession(Path(labs_dir), isolation or choose("auto"), [lab]) as session:
            return session.run_lab(lab, cases, timeout)
    except SessionError as err:
        return ChildRun(killed_because=str(err))
