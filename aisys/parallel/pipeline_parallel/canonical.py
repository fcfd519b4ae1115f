"""The bench's own schedules: inputs for the PipelineRunner checks and the demo's torch side.

The runner is graded on schedules the grader builds (never the student's own, so a broken
schedule exercise cannot sink the runner), including legal orders other than the textbook
ones: GPipe with its backwards in reverse or in forward order, and 1F1B.
"""
from __future__ import annotations

Step = tuple[str, int]


def gpipe(n_stages: int, n_micro: int, reverse_backward: bool = False) -> list[list[Step]]:
    """All forwards, then all backwards (in micro-batch order, or reversed)."""
    order = range(n_micro - 1, -1, -1) if reverse_backward else range(n_micro)
    return [[("F", i) for i in range(n_micro)] + [("B", i) for i in order] for _ in range(n_stages)]


def one_f_one_b(n_stages: int, n_micro: int) -> list[list[Step]]:
    """Warm up with p − s − 1 forwards, then alternate one forward and one backward, then drain."""
    schedule = []
    for s in range(n_stages):
        warmup = min(n_stages - s - 1, n_micro)
        steps: list[Step] = [("F", i) for i in range(warmup)]
        for k in range(n_micro - warmup):
            steps += [("F", warmup + k), ("B", k)]
        steps += [("B", k) for k in range(n_micro - warmup, n_micro)]
        schedule.append(steps)
    return schedule


def naive(n_stages: int) -> list[list[Step]]:
    """Naive model parallelism is the one-micro-batch pipeline."""
    return gpipe(n_stages, 1)


BUILDERS = {"gpipe": gpipe, "gpipe-reversed": lambda p, m: gpipe(p, m, reverse_backward=True),
            "1f1b": one_f_one_b}
