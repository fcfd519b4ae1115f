"""Running a distributed demo section by section without letting one bug end it.

On each rank a section runs `guarded`: a stub reports `not_implemented`, a bug reports the
student's own frames as `message`, anything else is the section's data (`status: ok`). A
bug can also leave the ranks out of step — one raises while its peers wait in a collective —
so after a section the ranks `agree` through the rendezvous store (never a collective): an
error anywhere is an error everywhere, told by its cause rather than its echoes, and the
process group is rebuilt for the next section. In the parent, `from_rank` replays a rank's
outcome inside `aisys.ui.attempt.attempt`, which prints it like any other failure.

`exchange` is the raw store exchange the grading suite uses between cases too.
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Callable

AGREE_TIMEOUT_S = 60.0


class RankFailure(RuntimeError):
    """An exercise raised on a rank; the message is the student's own traceback."""


def guarded(student: Any, action: Callable[[], dict]) -> dict:
    """`action()`'s data with `status: ok`, or what went wrong as plain data."""
    from aisys.errors import StudentCodeError
    from aisys.grading.execute import student_traceback

    try:
        return {"status": "ok", **action()}
    except NotImplementedError:
        return {"status": "not_implemented"}
    except StudentCodeError as err:
        return {"status": "error", "message": str(err)}
    except Exception as err:  # the student's bug: report it, keep going
        message = student_traceback(err, student)
        if "timed out" in str(err).lower() or "timeout" in str(err).lower():
            message += ("\n(a collective waited until the group timeout: a deadlock? every rank must make the "
                        "same sends, receives and collectives in a matching order)")
        return {"status": "error", "message": message}


def exchange(tag: str, me: int, world: int, note: str, timeout: float) -> list[str] | None:
    """Every rank's note for one step, through the rendezvous store (None under torchrun,
    where there is no side channel)."""
    from aisys.parallel import ranks

    store = ranks.base_store()
    if store is None:
        return None
    store.set(f"notes/{tag}/{me}", note)
    keys = [f"notes/{tag}/{r}" for r in range(world)]
    store.wait(keys, timedelta(seconds=timeout))
    return [store.get(k).decode() for k in keys]


def agree(tag: str, outcome: dict, timeout: float = AGREE_TIMEOUT_S) -> dict:
    """This section's outcome as every rank saw it: an error anywhere is an error everywhere
    (the first rank whose own code raised, not the peers whose collectives broke), and then
    the process group is rebuilt so the next section starts in step."""
    from aisys.parallel import ranks
    from aisys.parallel.suite import _echo

    me = ranks.rank_of_launch()
    if outcome["status"] == "error":
        ranks.abandon_group()        # peers waiting on this rank in a collective fail now
    note = json.dumps([outcome["status"], str(outcome.get("message", ""))[-3000:]])
    notes = exchange(tag, me, ranks.world_of_launch(), note, timeout)
    if notes is None:
        return outcome
    failed = sorted(((r, msg) for r, (status, msg) in enumerate(map(json.loads, notes)) if status == "error"),
                    key=lambda item: (_echo(item[1]), item[0]))
    if not failed:
        return outcome
    if outcome["status"] != "error":
        ranks.abandon_group()
    ranks.rebuild_group()
    r, message = failed[0]
    return {"status": "error", "message": f"on rank {r}:\n{message}"}


def from_rank(section: dict) -> Callable[[Any], dict]:
    """An `attempt` action that replays a rank's outcome in the parent."""
    def action(_student_object: Any) -> dict:
        if section["status"] == "not_implemented":
            raise NotImplementedError
        if section["status"] == "error":
            raise RankFailure(section.get("message", "failed on a rank"))
        return section
    return action
