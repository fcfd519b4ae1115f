"""Lab 09, part 5 — the two numbers that decide a pipeline: its bubble and its memory.

**Bubble.** With p stages and m micro-batches, a synchronous pipeline step lasts
(m + p − 1) · (t_F + t_B) although each stage works only m · (t_F + t_B): the first stage must
wait for the last before backwards can come back, and the last idles while the pipe fills.
The idle share of the step,

    bubble = (p − 1) / (m + p − 1),

is the same for GPipe and 1F1B. p = 1 has no bubble; m = 1 (naive model parallelism) idles
(p − 1)/p of the time: four devices are busy a quarter of the time each. (Megatron-LM's paper
writes the bubble as (p − 1)/m — bubble time divided by *work* time; here it is divided by the
step time, a share between 0 and 1.)

**Memory.** A stage must keep a micro-batch's activations from its forward to its backward.
GPipe runs all m forwards first, so every stage holds m micro-batches' activations at its
peak. 1F1B frees them as it goes: stage s holds at most min(p − s, m) — p on the first stage,
1 on the last — independent of m. That is why 1F1B can raise m (less bubble) and GPipe cannot.
"""
from __future__ import annotations

SCHEDULES = ("gpipe", "1f1b")


def pipeline_bubble(n_stages: int, n_micro: int) -> float:
    """The idle share of a synchronous pipeline step: (p − 1) / (m + p − 1).

    Raise ValueError when `n_stages` or `n_micro` is below 1.

    Hint: the step lasts m + p − 1 slots of (t_F + t_B); p − 1 of them are idle on every stage.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def pipeline_memory(n_stages: int, n_micro: int, schedule: str, act_bytes: int) -> list[int]:
    """Peak bytes of stored activations on each stage, stage 0 first, when one micro-batch's
    activations on one stage take `act_bytes` bytes.

    `schedule` is "gpipe" (every stage holds all m micro-batches) or "1f1b" (stage s holds at
    most min(p − s, m)). Raise ValueError for another schedule name, or when `n_stages` or
    `n_micro` is below 1.

    Hint: count micro-batches in flight at the peak, times act_bytes; stage 0 is the first stage.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
