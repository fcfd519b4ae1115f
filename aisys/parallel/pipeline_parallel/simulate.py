"""A pipeline schedule replayed on paper: is it complete, can it run, how long, how much memory.

A schedule is one ordered list of steps per stage; a step is ("F", i) or ("B", i) — the
forward or the backward of micro-batch i on that stage. A stage runs its list in order, each
step as soon as the stage is free and the step's inputs exist:

- F(s, i) needs stage s−1's F(s−1, i) (the activation it sends);
- B(s, i) needs F(s, i) on the same stage and, below the last stage, B(s+1, i) (the gradient).

With every forward taking `t_f` and every backward `t_b` (communication free), that is a
longest-path computation over a DAG; a cycle means the schedule deadlocks. Two schedules
with the same steps can differ in time (bubbles) and in memory: the number of micro-batches
a stage has run forward but not yet backward ("in flight") is how many activations it holds.

Used by the checks (in the grading parent, on a student's schedule) and by the demo.
"""
from __future__ import annotations

from typing import Sequence

from aisys.scheduling.timeline import Timeline

Step = tuple[str, int]


class ScheduleProblem(ValueError):
    """A schedule that is incomplete, repeats a step, or cannot run; the text is for the student."""


def steps_of(schedule: Sequence[Sequence[Sequence]]) -> list[list[Step]]:
    """Plain (kind, micro-batch) tuples from lists or tuples (shape already checked)."""
    return [[(str(step[0]), int(step[1])) for step in stage] for stage in schedule]


def completeness(schedule: list[list[Step]], n_micro: int) -> str | None:
    """None, or what is wrong: every stage runs F(i) and B(i) exactly once for i < n_micro."""
    for s, stage in enumerate(schedule):
        seen: dict[Step, int] = {}
        for kind, i in stage:
            if not 0 <= i < n_micro:
                return f"stage {s} has a step for micro-batch {i}, but there are {n_micro} (0..{n_micro - 1})"
            seen[(kind, i)] = seen.get((kind, i), 0) + 1
        for i in range(n_micro):
            for kind, word in (("F", "forward"), ("B", "backward")):
                count = seen.get((kind, i), 0)
                if count != 1:
                    times = "never runs" if count == 0 else f"runs {count} times"
                    return (f"stage {s} {times} the {word} of micro-batch {i}; "
                            "each stage runs each micro-batch's forward and backward exactly once")
    return None


def in_flight(stage: list[Step]) -> int:
    """The most micro-batches a stage holds at once: forwards run minus backwards run, at its peak."""
    live = peak = 0
    for kind, _ in stage:
        live += 1 if kind == "F" else -1
        peak = max(peak, live)
    return peak


def simulate(schedule: list[list[Step]], t_f: float = 1.0, t_b: float = 1.0) -> Timeline:
    """Run a complete schedule ASAP; ScheduleProblem names the first stage that waits forever."""
    n_stages = len(schedule)
    done: dict[tuple[str, int, int], float] = {}    # (kind, stage, micro) → end time
    position = [0] * n_stages
    clock = [0.0] * n_stages
    timeline = Timeline(workers=[f"stage {s}" for s in range(n_stages)])
    progress = True
    while progress:
        progress = False
        for s in range(n_stages):
            while position[s] < len(schedule[s]):
                kind, i = schedule[s][position[s]]
                needs = _needs(kind, s, i, n_stages)
                if any(need not in done for need in needs):
                    break
                start = max([clock[s]] + [done[need] for need in needs])
                end = start + (t_f if kind == "F" else t_b)
                timeline.add(f"{kind}{i}", f"stage {s}", start, end)
                done[(kind, s, i)] = end
                clock[s] = end
                position[s] += 1
                progress = True
    stuck = [s for s in range(n_stages) if position[s] < len(schedule[s])]
    if stuck:
        raise ScheduleProblem(_deadlock(schedule, position, stuck, n_stages))
    return timeline


def _needs(kind: str, s: int, i: int, n_stages: int) -> list[tuple[str, int, int]]:
    if kind == "F":
        return [("F", s - 1, i)] if s > 0 else []
    needs = [("F", s, i)]
    if s < n_stages - 1:
        needs.append(("B", s + 1, i))
    return needs


def _deadlock(schedule: list[list[Step]], position: list[int], stuck: list[int], n_stages: int) -> str:
    s = stuck[0]
    kind, i = schedule[s][position[s]]
    if kind == "B" and ("F", i) in schedule[s][position[s]:]:
        return f"stage {s} runs B{i} before F{i}: a backward needs its own forward first"
    if kind == "F":
        wait = f"stage {s - 1}'s F{i} (the activation it receives)"
    else:
        wait = f"stage {s + 1}'s B{i} (the gradient it receives)"
    return (f"the schedule deadlocks: stage {s} waits forever at step {position[s]} ({kind}{i}) for {wait}, "
            "which comes after steps that are themselves waiting")


def makespan_law(n_stages: int, n_micro: int, t_f: float, t_b: float) -> float:
    """Step time of a bubble-optimal synchronous pipeline: (m + p − 1)(t_f + t_b)."""
    return (n_micro + n_stages - 1) * (t_f + t_b)


def bubble_law(n_stages: int, n_micro: int) -> float:
    """The idle share of that step: (p − 1) / (m + p − 1) (GPipe, Huang et al. 2019)."""
    return (n_stages - 1) / (n_micro + n_stages - 1)


def memory_law(n_stages: int, n_micro: int, schedule: str) -> list[int]:
    """Micro-batches in flight at the peak, per stage: GPipe m everywhere; 1F1B min(p − s, m)
    (Narayanan et al. 2021, PipeDream-Flush)."""
    if schedule == "gpipe":
        return [n_micro] * n_stages
    return [min(n_stages - s, n_micro) for s in range(n_stages)]
