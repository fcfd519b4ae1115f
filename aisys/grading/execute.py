"""Running one case of student code in the child, and turning whatever happens into a record.

A record is plain data: {"case", "status", "output", "message", "stdout"}. Status is `ok`
(the parent still has to judge it), `not_implemented`, `error` or `timeout`.
"""
from __future__ import annotations

import contextlib
import io
import signal
import threading
import traceback
from pathlib import Path
from typing import Any, Iterator

from aisys.errors import StudentCodeError
from aisys.grading import guard
from aisys.grading.plain import NotPlainData, to_plain
from aisys.grading.spec import Case, ExerciseCheck
from aisys.workspace import stub_note

MAX_STDOUT = 2000


class CaseTimeout(BaseException):
    """Raised in the child when one case runs past its time (BaseException: `except
    Exception` in student code can't swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float, error: type[BaseException] = CaseTimeout) -> Iterator[None]:
    """Raise `error` in the main thread after `seconds` (no limit elsewhere, or for 0)."""
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "SIGALRM"):
        yield
        return

    def _expire(signum, frame):
        raise error()

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def record(case: Case, status: str, output: Any = None, message: str = "", stdout: str = "") -> dict:
    return {"case": case.key, "status": status, "output": output, "message": message,
            "stdout": stdout[:MAX_STDOUT]}


_case_time_cap: float | None = None


def cap_case_time(seconds: float | None) -> None:
    """The grading worker caps every case's time below the lab's, so one endless loop can't
    use up the whole lab's time (ranks forked from the worker inherit the cap)."""
    global _case_time_cap
    _case_time_cap = seconds


def execute_case(check: ExerciseCheck, case: Case, student: Any, *, timeout: float | None = None) -> dict:
    """Run `check.run` on student code with stdout captured and a time limit."""
    guard.arm()   # a no-op outside grading; in a rank process the first case arms it
    buffer = io.StringIO()
    limit = check.case_timeout if timeout is None else timeout
    if _case_time_cap:
        limit = min(limit, _case_time_cap)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), time_limit(limit):
            output = check.run(case, student)
            plain = to_plain(output)
    except NotImplementedError as err:
        other = stub_note(err, student, case.exercise) if hasattr(student, "labs_dir") else ""
        message = f"not started: {other} still raises NotImplementedError" if other else "not started"
        return record(case, "not_implemented", message=message, stdout=buffer.getvalue())
    except CaseTimeout:
        return record(case, "timeout", message=f"took longer than {limit:g} s", stdout=buffer.getvalue())
    except StudentCodeError as err:
        return record(case, "error", message=str(err), stdout=buffer.getvalue())
    except NotPlainData as err:
        return record(case, "error", message=str(err), stdout=buffer.getvalue())
    except SystemExit as err:
        return record(case, "error", message=f"the code called sys.exit({err.code!r}) during the check",
                      stdout=buffer.getvalue())
    except Exception as err:
        return record(case, "error", message=student_traceback(err, student), stdout=buffer.getvalue())
    return record(case, "ok", output=plain, stdout=buffer.getvalue())


def student_traceback(err: BaseException, student: Any) -> str:
    """The exception with only the student's own frames (files under the labs directory)."""
    root = Path(getattr(student, "labs_dir", "/nonexistent")).resolve()
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if _is_under(Path(f.filename), root)]
    lines = traceback.format_list(frames[-6:]) if frames else []
    return ("".join(lines) + f"{type(err).__name__}: {err}").strip()


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (ValueError, OSError):
        return False
