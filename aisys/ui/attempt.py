"""Run one student exercise inside a demo without letting a stub or a bug end the demo."""
from __future__ import annotations

import traceback
from typing import Any, Callable, TypeVar

from rich.console import Console
from rich.panel import Panel

from aisys.errors import StudentCodeError
from aisys.ui.safe import escape, safe_text
from aisys.workspace import stub_note

T = TypeVar("T")


def attempt(console: Console, student: Any, name: str, action: Callable[[Any], T]) -> T | None:
    """`action(student_object)`, or a one-line note and None when it is a stub or it fails.

    A stub shows "not implemented yet — edit labs/01_graph/graphs.py: topo_sort"; an
    exception shows the student's own frames; the rest of the demo still runs.
    """
    student.__dict__["_current"] = name
    try:
        return action(student.get(name))
    except NotImplementedError as err:
        other = stub_note(err, student, name)
        where = f"{other} (used by {name})" if other else student.where(name)
        _print_once(console, student, f"[yellow]not implemented yet — edit {escape(where)}[/]")
    except StudentCodeError as err:
        student.__dict__["_broken"] = True
        _print_once(console, student, f"[red]{escape(err)}[/]")
    except Exception as err:  # the student's bug: show it, keep the demo going
        from aisys.grading.execute import student_traceback

        console.print(Panel(safe_text(student_traceback(err, student) or traceback.format_exc(limit=-3)),
                            title=f"[red]{escape(name)} raised", border_style="red"))
    return None


def current_exercise(student: Any) -> str:
    """The exercise the demo was running last (for a timeout message)."""
    return student.__dict__.get("_current", "")


def had_broken_file(student: Any) -> bool:
    """Whether a student file failed to load (syntax or import error) during the demo."""
    return bool(student.__dict__.get("_broken"))


def mark_broken(student: Any) -> None:
    """Demos call this when student code failed where `attempt` could not see it (a rank)."""
    student.__dict__["_broken"] = True


def _print_once(console: Console, student: Any, text: str) -> None:
    """Say each thing once per demo: a broken file breaks every exercise in it, and a stub
    used by several sections needs one pointer, not one per section."""
    said = student.__dict__.setdefault("_said", set())
    if text not in said:
        said.add(text)
        console.print(text)
