"""Lab 09, part 3 — pipeline schedules: who runs what, in which order.

Naive model parallelism sends one batch through p stages and back: at any moment one device
works and p − 1 wait. Split the batch into m **micro-batches** and a stage can start micro-batch
i + 1 while the next stage works on i. A schedule says, for every stage, the order in which it
runs its 2m steps: F(i), the forward of micro-batch i, and B(i), its backward. Here a schedule
is a list with one list per stage: `schedule[s] == [("F", 0), ("F", 1), ..., ("B", 0), ...]`.

A stage can run F(i) only after the previous stage ran F(i) (it needs that activation), and
B(i) only after its own F(i) and the next stage's B(i) (it needs that gradient). With forward
time t_F and backward time t_B per stage, the best any such synchronous schedule can do is

    step time = (m + p − 1) · (t_F + t_B)        (m micro-batches, p stages)

of which m · (t_F + t_B) is work and (p − 1) · (t_F + t_B) is the **bubble** — the fill and
drain of the pipe — so the idle share is (p − 1) / (m + p − 1): more micro-batches, less bubble.

- **GPipe** (Huang et al., 2019): every stage runs all m forwards, then all m backwards. Simple,
  and bubble-optimal — but a stage must keep the activations of all m micro-batches until their
  backward: memory ∝ m, which is exactly what grows when you raise m to shrink the bubble.
- **1F1B** (PipeDream-Flush, Narayanan et al., 2021; what Megatron-LM and DeepSpeed run): stage s
  runs a *warm-up* of p − s − 1 forwards, then alternates one forward, one backward, then drains
  the remaining backwards. Same bubble, same gradients — but a micro-batch's activations are
  freed as soon as its backward runs, so stage s never holds more than p − s micro-batches
  (stage 0 the most: p; the last stage 1), however large m is.

Other orders are legal too (GPipe may run its backwards in reverse); what matters is the
dependencies, each step exactly once, the step time, and (for 1F1B) the memory bound.
"""
from __future__ import annotations

Step = tuple[str, int]


def gpipe_schedule(n_stages: int, n_micro: int) -> list[list[Step]]:
    """GPipe: each of the `n_stages` stages runs F(0) … F(m−1), then the m backwards.

    Returns one list of steps per stage; a step is ("F", i) or ("B", i). Raise ValueError when
    `n_stages` or `n_micro` is below 1.

    Hint: the same list for every stage; the backwards may run in either order.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")


def one_f_one_b_schedule(n_stages: int, n_micro: int) -> list[list[Step]]:
    """1F1B: stage s warms up with min(p − s − 1, m) forwards, then alternates F and B, then
    runs the backwards still owed. At no point does stage s have more than p − s micro-batches
    forwarded but not yet backwarded, and the step time is GPipe's.

    Returns one list of steps per stage (("F", i) or ("B", i)). Raise ValueError when
    `n_stages` or `n_micro` is below 1.

    Hint: after the warm-up, step k of the steady phase is F(warmup + k) then B(k); the last
    stage has no warm-up (it can start a backward as soon as its forward is done).
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
