"""A lab suite whose cases run on real ranks, launched once for all of them.

Same `ExerciseCheck` classes as a single-process lab: `run(case, student)` now runs on every
rank of the case's world (`case.inputs["world"]`, 2 or 4), and `judge(case, output)` gets
`output` = the list of per-rank outputs in rank order. The grading child launches
max(world) ranks; a world-2 case runs on ranks 0-1 inside `context.scope(2)` while the
others wait. After each case the ranks compare notes through the rendezvous store (not
through a collective, which a broken case may have left out of step): if any rank raised or
timed out, every rank rebuilds the process group before the next case. A rank that dies or
hangs gets the launch killed; that case is reported as an error naming the rank, and the
remaining cases run on a fresh launch.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aisys.grading.spec import Case, LabSuite
from aisys.parallel import context, ranks
from aisys.parallel.commlog import comm_log
from aisys.parallel.sections import exchange

MAX_LAUNCHES = 3   # each launch forks max(world) ranks; the grading guard allows 16 starts
_HEALTHY = ({"ok"}, {"not_implemented"})


class DistributedSuite(LabSuite):
    """Override `group_timeout` (seconds per collective) or `backend`/`device` if needed."""

    group_timeout = 10.0
    backend = "auto"
    device = "auto"

    def run_cases(self, cases: list[Case], student: Any, emit) -> None:
        remaining = list(cases)
        for _ in range(MAX_LAUNCHES):
            if not remaining:
                return
            done = self._launch_once(remaining, student, emit)
            remaining = [c for c in remaining if c.key not in done]
        from aisys.grading.execute import record

        for case in remaining:
            emit(record(case, "error", message="not run: the ranks kept failing on earlier cases"))

    def _launch_once(self, cases: list[Case], student: Any, emit) -> set[str]:
        """Run `cases` on one set of ranks; the keys of the cases that got a record."""
        from aisys.grading.execute import record
        from aisys.parallel.launch import spawn_ranks
        from aisys.parallel.policy import choose_backend

        world = max(world_of(c) for c in cases)
        backend, device_type = choose_backend(world, self.backend, self.device)
        slowest = max(self.checks[c.exercise].case_timeout for c in cases)
        idle_limit = slowest + self.group_timeout + 10.0
        args = (self, student.lab.slug, str(student.labs_dir), [c.to_json() for c in cases], slowest)
        got: dict[int, dict[int, dict]] = {}
        done: set[str] = set()
        with spawn_ranks(run_cases_on_rank, args, world, backend, device_type, self.group_timeout) as rs:
            while len(rs.finished) < world:
                event = rs.next_event(idle_limit)
                current = next((i for i, c in enumerate(cases) if c.key not in done), None)
                if event is None or event[1] in ("error", "died"):
                    if current is not None:
                        why = (f"no rank reported for {idle_limit:g} s (a hang or a deadlocked collective);"
                               " killed" if event is None else f"rank {event[0]} failed:\n{event[2]}")
                        emit(record(cases[current], "timeout" if event is None else "error",
                                    message=why[-3000:]))
                        done.add(cases[current].key)
                    rs.kill()
                    break
                r, kind, payload = event
                if kind != "msg":
                    continue
                index, rec = payload
                got.setdefault(index, {})[r] = rec
                case = cases[index]
                members = got[index]
                if len(members) == world_of(case) and case.key not in done:
                    emit(merge_records(case, [members[k] for k in range(world_of(case))]))
                    done.add(case.key)
        return done


def world_of(case: Case) -> int:
    return int(case.inputs.get("world", 2))


# words that mark a rank failing only because a peer did (its collective broke under it)
_ECHOES = ("gloo", "glhf", "connection closed by peer", "connection reset by peer", "processgroup",
           "distbackenderror", "nccl", "timed out waiting", "application timeout", "broken pipe")


def _echo(message: str) -> bool:
    low = message.lower()
    return any(word in low for word in _ECHOES)


def merge_records(case: Case, recs: list[dict]) -> dict:
    """One record for the case from its ranks' records (all ok → output = list by rank).

    A failure is told once, by its cause: the first rank whose own code raised, not the
    peers whose collectives then broke ("Connection closed by peer … GLHF") — they are
    named in one line, so the same bug reads the same in every case and ranks agree."""
    from aisys.grading.execute import record

    stdout = "".join(f"[rank {r}] {rec['stdout']}" for r, rec in enumerate(recs) if rec.get("stdout"))
    for status in ("error", "timeout"):
        bad = [(r, rec) for r, rec in enumerate(recs) if rec["status"] == status]
        if not bad:
            continue
        cause_rank, cause = min(bad, key=lambda item: (_echo(item[1]["message"]), item[0]))
        others = [r for r, _ in bad if r != cause_rank]
        same = all(rec["message"] == cause["message"] for _, rec in bad)
        if others and same:
            message = f"every failing rank ({', '.join(str(r) for r, _ in bad)}): {cause['message']}"
        else:
            message = f"rank {cause_rank}: {cause['message']}"
            echoes = [r for r in others if _echo(recs[r]["message"])]
            distinct = [r for r in others if r not in echoes]
            if echoes:
                message += (f"\n(rank {', '.join(map(str, echoes))} then failed too, in a collective with rank "
                            f"{cause_rank})")
            for r in distinct[:1]:
                message += f"\nrank {r}: {recs[r]['message'][:600]}"
        finished = [r for r, rec in enumerate(recs) if rec["status"] == "ok"]
        if finished and (status == "timeout" or _echo(cause["message"])):   # a collective out of step
            message += (f"\n(rank {', '.join(map(str, finished))} finished without error: do all ranks make "
                        "the same collectives in the same order?)")
        return record(case, status, message=message, stdout=stdout)
    if any(rec["status"] == "not_implemented" for rec in recs):
        return record(case, "not_implemented", message="not started", stdout=stdout)
    return record(case, "ok", output=[rec["output"] for rec in recs], stdout=stdout)


def run_cases_on_rank(suite: DistributedSuite, slug: str, labs_dir: str, case_dicts: list[dict],
                      case_timeout: float) -> str:
    """In every rank: load the student's code afresh, run each case, stream its record.

    A rank whose case failed destroys its process group at once, so peers blocked on it fail
    fast instead of waiting for the group timeout; then every rank rebuilds the group. An
    exercise whose cases hang until the timeout twice has its remaining cases skipped, so one
    deadlock cannot eat the whole lab's time.
    """
    from aisys.catalog import find_lab
    from aisys.grading.execute import execute_case, record
    from aisys.workspace import Student

    student = Student(find_lab(slug), Path(labs_dir))
    me, world = context.rank(), ranks.world_of_launch()
    stalls: dict[str, int] = {}
    for index, data in enumerate(case_dicts):
        case = Case(**data)
        if stalls.get(case.exercise, 0) >= 2:          # every rank knows: the counts come from the store
            if me < world_of(case):
                ranks.send_to_parent((index, record(case, "timeout", message=(
                    "skipped: two earlier cases of this exercise waited until the group timeout "
                    "(a deadlocked collective?)"))))
            continue
        started = time.monotonic()
        with context.scope(world_of(case)) as member:
            status = "skip"
            if member:
                comm_log().clear()
                rec = execute_case(suite.checks[case.exercise], case, student)
                status = rec["status"]
                if status in ("error", "timeout"):
                    ranks.abandon_group()
                ranks.send_to_parent((index, rec))
        note = f"{status} {time.monotonic() - started:.3f}"
        notes = exchange(f"case-{index}", me, world, note, case_timeout + suite.group_timeout + 5.0) or [note]
        statuses = {note.split()[0] for note in notes} - {"skip"}
        if statuses in _HEALTHY:
            continue
        if max(float(note.split()[1]) for note in notes) >= 0.8 * suite.group_timeout:
            stalls[case.exercise] = stalls.get(case.exercise, 0) + 1
        if not ranks.rebuild_group():
            for later_index, later in enumerate(case_dicts[index + 1:], start=index + 1):
                if me < world_of(Case(**later)):
                    ranks.send_to_parent((later_index, record(
                        Case(**later), "error", message="the process group broke on an earlier case")))
            break
    return "finished"
